#!/bin/sh
# bench/embed/run.sh: chunks/s of the built-in embedder on one core.
# Usage: bench/embed/run.sh [runs] [dim]   (builds build/debug/libllmemory.a first if needed)
#        bench/embed/run.sh local [MODEL_DIR] [runs] [chunks]: the local encoder (local.sh)
set -eu
cd "$(dirname "$0")/../.."
if [ "${1:-}" = local ]; then
    shift
    exec sh bench/embed/local.sh "$@"
fi
make --no-print-directory build/debug/libllmemory.a >/dev/null
out=build/bench/embed
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Iinclude bench/embed/builtin_bench.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/builtin_bench"
pin=""
if command -v taskset >/dev/null 2>&1; then
    pin="taskset -c 0"
fi
$pin "$out/builtin_bench" "${1:-5}" "${2:-0}"

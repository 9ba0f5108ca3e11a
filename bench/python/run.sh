#!/bin/sh
# bench/python/run.sh: the Python binding's benchmarks, against a throwaway PostgreSQL cluster.
#   bench/python/run.sh overhead     per-call overhead against the same calls from C
#   bench/python/run.sh compare      side by side with the Python original (compare.py)
# Results and method: docs/python.md.
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory -j2 build/debug/libllmemory.so >/dev/null
mkdir -p build/bench/python
# shellcheck disable=SC2046
cc -std=c11 -O2 -fPIC -shared -Wall -Wextra -Iinclude bench/python/cbench.c \
    -Lbuild/debug -lllmemory -Wl,-rpath,"$(pwd)/build/debug" -o build/bench/python/cbench.so
py=$(sh scripts/python-env.sh)
eval "$(sh scripts/pg-test-cluster.sh start)"
trap 'sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"' EXIT INT TERM
export LLMEMORY_DATABASE_URL="$LLMEMORY_TEST_DATABASE_URL"
export LLMEMORY_LIBRARY="$(pwd)/build/debug/libllmemory.so"
case "${1:-overhead}" in
overhead) "$py" bench/python/overhead.py ;;
compare)
    sh bench/python/original-env.sh >/dev/null
    "$py" bench/python/compare.py
    ;;
*) echo "usage: $0 overhead|compare" >&2; exit 2 ;;
esac

#!/bin/sh
# bench/lifecycle/run.sh: export and import throughput of a large tenant, and erasing one while
# another tenant searches (bench/lifecycle/lifecycle_bench.c). Starts a throwaway PostgreSQL 15
# cluster (scripts/pg-test-cluster.sh), runs, prints the figures, stops the cluster.
#   bench/lifecycle/run.sh                                 100,000 chunks
#   LIFECYCLE_BENCH_CHUNKS=20000 bench/lifecycle/run.sh    smaller
#   LIFECYCLE_BENCH_ERASE_ONLY=1 bench/lifecycle/run.sh    erasure only (tenants copied with SQL)
# The built-in embedder unless LLMEMORY_EMBEDDER says otherwise.
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory build/debug/libllmemory.a >/dev/null
out=build/bench/lifecycle
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude $(pkg-config --cflags libpq jansson) \
    bench/lifecycle/lifecycle_bench.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/lifecycle_bench"
export LLMEMORY_EMBEDDER="${LLMEMORY_EMBEDDER:-builtin}"
eval "$(scripts/pg-test-cluster.sh start)"
trap 'sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"' EXIT INT TERM
"$out/lifecycle_bench" "$LLMEMORY_TEST_DATABASE_URL" lifecycle_bench

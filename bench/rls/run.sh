#!/bin/sh
# bench/rls/run.sh: search latency with row-level security on and off, same data, same run
# (rls_bench.c says how). Builds the library and the driver, starts a throwaway PostgreSQL
# cluster (scripts/pg-test-cluster.sh), loads, measures, prints a Markdown table, stops it.
#   bench/rls/run.sh                        default scale (3,120 documents, a few minutes)
#   RLS_BENCH_SCALE=0.2 bench/rls/run.sh    smoke run
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory build/debug/libllmemory.a >/dev/null
out=build/bench/rls
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude $(pkg-config --cflags libpq jansson) \
    bench/rls/rls_bench.c bench/common/bench.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/rls_bench"
eval "$(scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"' EXIT INT TERM
export LLMEMORY_TEST_DATABASE_URL
"$out/rls_bench"

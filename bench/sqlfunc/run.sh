#!/bin/sh
# bench/sqlfunc/run.sh: each operation through the tenant functions of 060_tenant_functions.sql
# against the statement path (LLMEMORY_SQL_FUNCTIONS=off), same data, same run; the results of
# both paths must be equal (sqlfunc_bench.c says how). Builds the library and the driver, starts
# a throwaway PostgreSQL cluster (scripts/pg-test-cluster.sh), loads, measures, prints a Markdown
# table, stops it.
#   bench/sqlfunc/run.sh                            default scale (3,120 documents, minutes)
#   SQLFUNC_BENCH_SCALE=0.2 bench/sqlfunc/run.sh    smoke run
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory build/debug/libllmemory.a >/dev/null
out=build/bench/sqlfunc
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude $(pkg-config --cflags libpq jansson) \
    bench/sqlfunc/sqlfunc_bench.c bench/common/bench.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/sqlfunc_bench"
eval "$(scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"' EXIT INT TERM
export LLMEMORY_TEST_DATABASE_URL LLMEMORY_TEST_PG_DIR
export LLMEMORY_EMBEDDER="${LLMEMORY_EMBEDDER:-builtin}"
"$out/sqlfunc_bench"

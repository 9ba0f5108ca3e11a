#!/bin/sh
# bench/vector/run.sh: recall@10 and p50/p95 latency of vector search per tenant-size class,
# this library's layout ("ours": exact per-tenant scan, partial HNSW per large tenant) side by
# side with the original llmemory's (one global HNSW + WHERE owner_id = $1), at 200,000 x 384-d,
# then ours again right after a burst of 20,000 inserts. One run: builds the library and the
# driver, starts a throwaway PostgreSQL 15 cluster (scripts/pg-test-cluster.sh, then
# shared_buffers = 4GB), loads through lm_doc_add, measures, prints the tables and PASS/FAIL
# lines, and stops the cluster. 18-32 minutes on 2 shared cores (loading is most of it).
#   bench/vector/run.sh                          full run
#   VECTOR_BENCH_SCALE=0.05 bench/vector/run.sh  smoke run (10,000 vectors, about a minute)
#   KEEP=1 bench/vector/run.sh                   leave the cluster running afterwards
#   REUSE=/tmp/dir bench/vector/run.sh           measure only, on the final state a KEEP=1 run
#                                                left (same VECTOR_BENCH_SCALE and _SEED)
# Other knobs (see vector_bench.c): VECTOR_BENCH_QUERIES, VECTOR_BENCH_EFC, VECTOR_BENCH_BASELINE,
# VECTOR_BENCH_THRESHOLD, VECTOR_BENCH_EF_SEARCH, VECTOR_BENCH_SEED. Exit status 0 only when every
# check passes. Method and results: docs/vector-search.md.
set -eu
cd "$(dirname "$0")/../.."
bindir=${LLMEMORY_PG_BINDIR:-/usr/lib/postgresql/15/bin}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

make --no-print-directory build/debug/libllmemory.a >/dev/null
out=build/bench/vector
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude -Isrc/lib -Isrc/lib/core $(pkg-config --cflags libpq jansson) \
    bench/vector/vector_bench.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/vector_bench"

if [ -n "${REUSE:-}" ]; then
    # Measure the database a KEEP=1 run left in REUSE (same scale and seed), without loading.
    dir=$REUSE
    user=$(stat -c %U "$dir/data")
    LLMEMORY_TEST_DATABASE_URL="host=$dir port=5432 dbname=postgres user=$user"
    export VECTOR_BENCH_REUSE=1
else
    eval "$(scripts/pg-test-cluster.sh start)"
    dir=$LLMEMORY_TEST_PG_DIR
    cleanup() {
        if [ "${KEEP:-0}" = 1 ]; then
            echo "cluster left running: psql \"$LLMEMORY_TEST_DATABASE_URL\";" \
                "stop with scripts/pg-test-cluster.sh stop $dir"
        else
            scripts/pg-test-cluster.sh stop "$dir"
        fi
    }
    trap cleanup EXIT INT TERM
    # Room for everything in memory (the measurements are of a fully cached database), and no
    # checkpoints in the middle of the run. The later setting of a name wins.
    cat >>"$dir/data/postgresql.conf" <<CONF
shared_buffers = 4GB
max_wal_size = 16GB
checkpoint_timeout = 1h
CONF
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 restart >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
fi

echo "PostgreSQL $(as_owner "$bindir/postgres" --version | awk '{print $3}'), pgvector" \
    "$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$("$bindir/pg_config" --sharedir)/extension/vector.control")," \
    "$(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)"
start=$(date +%s)
rc=0
VECTOR_BENCH_DB=$LLMEMORY_TEST_DATABASE_URL "$out/vector_bench" || rc=$?
echo "run time: $(($(date +%s) - start)) s (driver), exit $rc"
exit $rc

#!/bin/sh
# bench/bm25/run.sh: BM25 top-10 latency, pure SQL vs the llmemory_bm25 extension, on SciFact.
# One run: builds and installs pgext/, starts a throwaway PostgreSQL 15 cluster (unix socket only),
# loads SciFact through our own migration (triggers fill postings and statistics), builds tenants
# of 1k, 10k and 100k chunks, runs the 300 SciFact test claims against each with the SQL path and
# the extension (bench.sql), as loaded and again after the optimize step (lm_memory_optimize()),
# prints p50/p95 server-side latency and the number of top-10 disagreements, and stops the cluster.
#   bench/bm25/run.sh                 full run (about 8-12 minutes on a 2-core machine)
#   RUNS=n bench/bm25/run.sh          timed passes over the claims (default 3)
#   SIZES="10000 100000" ...          tenants to time (default "1000 10000 100000")
#   KEEP=1 bench/bm25/run.sh          leave the cluster running (prints how to reach and stop it)
#   REUSE=/tmp/dir bench/bm25/run.sh  skip loading: reuse a cluster left by KEEP=1
#   LOAD_ONLY=1 ...                   stop after loading
#   SKIP_LOADED=1 ...                 measure only after the optimize step
#   METHODS="..." METHODS_OPTIMIZED="..."  statements per phase (see bench.sql)
# Does not measure quality (see /work/shared/reference/bm25-in-postgres.md) or concurrency.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bindir=${LLMEMORY_PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_CONFIG=${PG_CONFIG:-$bindir/pg_config}
data=${SCIFACT_DIR:-/work/shared/data/scifact}
sizes=${SIZES:-"1000 10000 100000"}
runs=${RUNS:-3}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
now() { date +%s; }
t0=$(now)
say() { echo "[$(($(now) - t0))s] $*"; }

if [ "${LOAD_ONLY:-0}" != 1 ]; then
say "building and installing pgext/"
make -s -C "$root/pgext" PG_CONFIG="$PG_CONFIG" >/dev/null
if [ "$(id -u)" -eq 0 ]; then
    make -s -C "$root/pgext" install PG_CONFIG="$PG_CONFIG" >/dev/null
else
    sudo make -s -C "$root/pgext" install PG_CONFIG="$PG_CONFIG" >/dev/null
fi
fi

if [ -n "${REUSE:-}" ]; then
    dir=$REUSE
    fresh=0
else
    dir=$(mktemp -d /tmp/llmemory-bm25-bench.XXXXXX)
    chmod 755 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; user=postgres; else user=$(id -un); fi
    say "initdb in $dir"
    as_owner "$bindir/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 2GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
autovacuum = off
shared_preload_libraries = 'pg_prewarm'
pg_prewarm.autoprewarm = off
CONF
    fresh=1
fi
stop_cluster() {
    if [ "${KEEP:-0}" = 1 ] || [ -n "${REUSE:-}" ]; then
        echo "cluster left running: psql -h $dir -d postgres -U postgres;" \
             "stop: runuser -u postgres -- $bindir/pg_ctl -D $dir/data stop && rm -rf $dir"
        return
    fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
if ! as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
fi
trap stop_cluster EXIT
trap 'exit 1' INT TERM

psql() { command "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -U postgres -d postgres "$@"; }

if [ "$fresh" = 1 ]; then
    say "loading SciFact and the llmemory schema"
    psql -c "CREATE SCHEMA bench" \
         -c "CREATE TABLE bench.raw_corpus (line text)" \
         -c "CREATE TABLE bench.raw_queries (line text)" \
         -c "CREATE TABLE bench.raw_qrels (query_id text, corpus_id text, score int)"
    # Raw JSON lines: CSV mode with quote and delimiter bytes that never occur in the data.
    psql -c "\\copy bench.raw_corpus FROM '$data/corpus.jsonl' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
    psql -c "\\copy bench.raw_queries FROM '$data/queries.jsonl' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
    psql -c "\\copy bench.raw_qrels FROM '$data/qrels/test.tsv' WITH (FORMAT csv, DELIMITER E'\\t', HEADER true)"
    sed 's/{{schema}}/bench/g' "$root/src/lib/db/sql/001_schema.sql" | psql
    psql -f "$here/load.sql"
    for n in $sizes; do
        say "building tenant t$n ($n chunks) through the chunk triggers"
        psql -At -c "SELECT bench.build_tenant('t$n', $n)" >/dev/null
    done
    say "VACUUM ANALYZE"
    psql -c "VACUUM (ANALYZE) bench.postings" -c "VACUUM (ANALYZE) bench.term_stats" \
         -c "VACUUM (ANALYZE) bench.tenant_stats" -c "VACUUM (ANALYZE) bench.chunks" \
         -c "VACUUM (ANALYZE) bench.documents"
fi

[ "${LOAD_ONLY:-0}" = 1 ] && exit 0
psql -c "DROP EXTENSION IF EXISTS llmemory_bm25" -c "CREATE EXTENSION llmemory_bm25" \
     -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm"
prewarm() {
    say "prewarming"
    psql -At -c "SELECT c.relname || ' ' || pg_size_pretty(pg_relation_size(c.oid)) || ' ' || pg_prewarm(c.oid)
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'bench' AND c.relkind IN ('r', 'i', 't')
                    AND c.relname NOT LIKE 'raw%' AND c.relname NOT LIKE 'corpus%'
                  ORDER BY pg_relation_size(c.oid) DESC" | sed 's/^/    /'
}
leaf_density() {
    psql -At -c "SELECT 'postings_pkey: ' || pg_relation_size('bench.postings_pkey') / 8192
                        || ' pages for ' || (SELECT count(*) FROM bench.postings) || ' postings'"
}

if [ "${SKIP_LOADED:-0}" != 1 ]; then
    prewarm
    leaf_density
    say "phase 'loaded' (index as the triggers built it): the 300 SciFact test claims (k=10)" \
        "per tenant, $runs timed passes"
    psql -f "$here/bench.sql" -v sizes="$sizes" -v runs="$runs" -v phase=loaded \
         -v methods="${METHODS:-sql lib lib_prep ext_all}"
fi

# What lm_memory_optimize() (`llmemory optimize`) runs after a bulk load, on this schema.
say "optimizing: REINDEX INDEX CONCURRENTLY bench.postings_pkey, VACUUM (ANALYZE)"
psql -c "REINDEX INDEX CONCURRENTLY bench.postings_pkey"
for t in postings term_stats tenant_stats chunks documents; do
    psql -c "VACUUM (ANALYZE) bench.$t"
done
prewarm
leaf_density
say "phase 'optimized': the same claims, extension methods only"
psql -f "$here/bench.sql" -v sizes="$sizes" -v runs="$runs" -v phase=optimized \
     -v methods="${METHODS_OPTIMIZED:-lib lib_prep ext_all}"
say "done"

#!/usr/bin/env bash
# bench/cluster/run.sh: sharded mode (docs/cluster.md). Three throwaway clusters (a proxy, two
# shards, unix sockets); per tenant operation the latency direct on the owning shard and through
# the proxy (pgbench, one client, the same statement), then online moves of tenants of each size
# given, with vectors and their HNSW index like the library builds them, under a writer that
# adds notes to the moving tenant through the proxy without pause (one session, retrying what
# the fence refuses). Per move: the copy, the index build on the target, the pause the mover
# measured (fence to switch) and the pause the writer saw (the longest gap between two of its
# writes that landed); per size the medians.
#   bench/cluster/run.sh PATH/TO/llmemory [CHUNKS...]      (default sizes: 1000 10000 100000)
# Environment: RUNS (moves per size, default 3; sizes of 100,000 chunks and more move once),
# SECONDS_PER_OP (pgbench seconds per latency, default 5; 0 skips the latencies), VECTORS=0
# (no vectors, no index). Wall times: run it on an otherwise idle machine.
set -u
bin=${1:?usage: $0 PATH/TO/llmemory [CHUNKS...]}
shift
sizes=${*:-1000 10000 100000}
secs=${SECONDS_PER_OP:-5}
runs=${RUNS:-3}
vectors=${VECTORS:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
dirs=()
trap 'for d in "${dirs[@]}"; do sh "$root/scripts/pg-test-cluster.sh" stop "$d"; done' EXIT INT TERM
start() {
    eval "$(LLMEMORY_TEST_PG_SETTINGS="wal_level = logical" sh "$root/scripts/pg-test-cluster.sh" start)"
    dirs+=("$LLMEMORY_TEST_PG_DIR")
    eval "$1=\$LLMEMORY_TEST_DATABASE_URL"
}
start proxy; start s0; start s1
export LLMEMORY_EMBEDDER=builtin
"$bin" cluster init --proxy "$proxy" --shard "$s0" --shard "$s1" >/dev/null || exit 1
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
load() { # url owner chunks: documents of one chunk each, with the statistics triggers
    q "$1" "SELECT set_config('llmemory.owner_id', '$2', false);
      INSERT INTO llmemory.documents (owner_id, document_id, id_at_origin, document_type, document_name)
      SELECT '$2', md5('$2' || g)::uuid, 'd' || g, 'text', 'doc ' || g FROM generate_series(1, $3) g;
      INSERT INTO llmemory.chunks (owner_id, chunk_id, document_id, chunk_index, chunk_level, searchable,
                                   content, content_hash, token_count, search_vector, doc_len)
      SELECT '$2', md5('c' || '$2' || g)::uuid, md5('$2' || g)::uuid, 0, 0, true, t, md5(t), 12,
             to_tsvector('english', t), length(to_tsvector('english', t))
        FROM generate_series(1, $3) g,
             LATERAL (SELECT 'note ' || g || ' about fox ' || (g % 97) || ' and dog ' || (g % 13)
                             || ' river stone ' || (g % 7)) x(t)" >/dev/null
}
owner=bench
home=$("$bin" cluster shard-of $owner --proxy "$proxy")
[ "$home" = 0 ] && shard=$s0 || shard=$s1
load "$shard" $owner 1000
lat() { # url sql -> median latency ms (pgbench's per-transaction log)
    local d; d=$(mktemp -d); echo "$2" >"$d/script.sql"
    (cd "$d" && pgbench -n -c 1 -T "$secs" -l --log-prefix=lat -f script.sql -d "$1" >/dev/null 2>&1)
    cat "$d"/lat.* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {printf "%.3f", v[int((NR+1)/2)]/1000}'
    rm -rf "$d"
}
if [ "$secs" != 0 ]; then
echo "latency of the placement lookup alone (proxy): $(lat "$proxy" "SELECT llmemory.cluster_shard_of('$owner');") ms"
for op in "lm_history('$owner', 10)" "lm_list('$owner', 20, 0, 'created_at', true, false, NULL, NULL)"; do
    d=$(lat "$shard" "SELECT * FROM llmemory.$op;")
    p=$(lat "$proxy" "SELECT * FROM llmemory.$op;")
    echo "latency ${op%%(*} p50: direct $d ms, proxy $p ms, added $(awk -v a="$p" -v b="$d" 'BEGIN {printf "%.3f", a - b}') ms"
done
fi

# The writer's operation: one note (a document and its chunk) of a tenant, routed by the proxy.
note_sql="CREATE FUNCTION llmemory.lm_bench_note(p_owner text) RETURNS void LANGUAGE plpgsql AS \$fn\$
DECLARE d uuid := gen_random_uuid(); t text := 'writer note ' || d::text || ' about foxes';
        v tsvector := to_tsvector('english', t);
BEGIN
    PERFORM set_config('llmemory.owner_id', p_owner, true);
    INSERT INTO llmemory.documents (owner_id, document_id, id_at_origin, document_type,
                                    document_name, content_bytes, chunk_count)
    VALUES (p_owner, d, 'w' || d::text, 'text', 'note', length(t), 1);
    INSERT INTO llmemory.chunks (owner_id, chunk_id, document_id, chunk_index, chunk_level,
                                 searchable, content, content_hash, token_count, search_vector, doc_len)
    VALUES (p_owner, gen_random_uuid(), d, 0, 0, true, t, md5(t), 8, v, length(v));
END \$fn\$"
q "$s0" "$note_sql" >/dev/null && q "$s1" "$note_sql" >/dev/null &&
    "$bin" cluster sync --proxy "$proxy" >/dev/null || exit 1
provider=$(q "$s0" "SELECT provider_id FROM llmemory.embedding_providers WHERE is_default")
vtable=llmemory.$(q "$s0" "SELECT vector_table FROM llmemory.embedding_providers WHERE is_default")
dim=${vtable##*_}
vload() { # url owner chunks: a vector per chunk and the tenant's HNSW index (the library's kind)
    q "$1" "SET llmemory.maintenance = on;
      INSERT INTO $vtable (owner_id, provider_id, chunk_id, embedding)
      SELECT '$2', '$provider', md5('c' || '$2' || g)::uuid,
             array(SELECT random()::real FROM generate_series(1, $dim) WHERE g > 0)::vector($dim)
        FROM generate_series(1, $3) g;
      SET maintenance_work_mem = '256MB';
      CREATE INDEX vidx_bench_$2 ON $vtable USING hnsw ((embedding::halfvec($dim)) halfvec_cosine_ops)
        WITH (m = 16, ef_construction = 64) WHERE owner_id = '$2' AND provider_id = '$provider';
      INSERT INTO llmemory.vector_indexes (owner_id, provider_id, index_name, rows_at_build, element_type)
      VALUES ('$2', '$provider', 'vidx_bench_$2', $3, 'halfvec')" >/dev/null
}
median() { sort -n | awk '{v[NR]=$1} END {if (NR) printf "%.3f", (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
shard_url() { [ "$1" = 0 ] && echo "$s0" || echo "$s1"; }
tmp=$(mktemp -d)
for n in $sizes; do
    t=move$n
    s=$("$bin" cluster shard-of $t --proxy "$proxy")
    u=$(shard_url "$s")
    t0=$(date +%s.%N)
    load "$u" $t "$n"
    [ "$vectors" = 1 ] && vload "$u" $t "$n"
    echo "load $n chunks$([ "$vectors" = 1 ] && echo " with vectors and their index"): $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
    r=$runs
    [ "$n" -ge 100000 ] && r=1
    : >"$tmp/copy"; : >"$tmp/index"; : >"$tmp/pause"; : >"$tmp/seen"
    for i in $(seq 1 "$r"); do
        # the writer: one session, one note after the other; refused ones are just errors
        awk -v o="$t" 'BEGIN {for (i = 0; i < 10000000; i++) printf "SELECT llmemory.lm_bench_note(%c%s%c);\n", 39, o, 39, 39}' |
            psql -qAtX -d "$proxy" >/dev/null 2>"$tmp/err" &
        writer=$!
        sleep 1
        m0=$(date +%s.%N)
        out=$("$bin" cluster move-tenant $t --to $((1 - s)) --proxy "$proxy" --json) || { echo "move failed: $out"; kill $writer; exit 1; }
        m1=$(date +%s.%N)
        sleep 1
        kill $writer 2>/dev/null
        wait $writer 2>/dev/null
        s=$((1 - s))
        u=$(shard_url "$s")
        copy=$(echo "$out" | sed -n 's/.*"copy_ms": \([0-9.]*\).*/\1/p')
        index=$(echo "$out" | sed -n 's/.*"index_ms": \([0-9.]*\).*/\1/p')
        pause=$(echo "$out" | sed -n 's/.*"pause_ms": \([0-9.]*\).*/\1/p')
        rows=$(echo "$out" | sed -n 's/.*"rows": \([0-9]*\).*/\1/p')
        # the writer's longest gap while the move ran: between two landed notes (on the target)
        seen=$(q "$u" "SET llmemory.maintenance = on;
            SELECT round(coalesce(max(g), 0)::numeric, 1), count(*) FROM (
              SELECT 1000 * extract(epoch FROM created_at - lag(created_at) OVER (ORDER BY created_at)) g
                FROM llmemory.documents WHERE owner_id = '$t' AND id_at_origin LIKE 'w%'
                 AND created_at BETWEEN to_timestamp($m0) AND to_timestamp($m1)) x")
        refused=$(grep -c 'moved to shard' "$tmp/err")
        echo "move $n chunks #$i: $rows rows, copy $(awk -v c="$copy" 'BEGIN {printf "%.2f", c / 1000}') s, index build $(awk -v c="$index" 'BEGIN {printf "%.2f", c / 1000}') s, pause (fence to switch) $pause ms, writer's longest gap ${seen%|*} ms over ${seen#*|} notes, $refused refused"
        echo "$copy" >>"$tmp/copy"; echo "$index" >>"$tmp/index"; echo "$pause" >>"$tmp/pause"; echo "${seen%|*}" >>"$tmp/seen"
    done
    echo "move $n chunks, median of $r: copy $(median <"$tmp/copy" | awk '{printf "%.2f", $1 / 1000}') s, index $(median <"$tmp/index" | awk '{printf "%.2f", $1 / 1000}') s, pause $(median <"$tmp/pause") ms, writer's longest gap $(median <"$tmp/seen") ms (max $(sort -n "$tmp/seen" | tail -1) ms)"
done
rm -rf "$tmp"

#!/usr/bin/env bash
# bench/cluster/run.sh: sharded mode (docs/cluster.md). Three throwaway clusters (a proxy, two
# shards, unix sockets); per tenant operation the latency direct on the owning shard and through
# the proxy (pgbench, one client, the same statement), then the time of online moves of tenants
# of each size given and their write pause (fence to switch).
#   bench/cluster/run.sh PATH/TO/llmemory [CHUNKS...]      (default sizes: 1000 10000)
# Prints one line per measurement; latencies are medians of pgbench runs of SECONDS_PER_OP seconds
# each (default 5), wall time: run it on an otherwise idle machine.
set -u
bin=${1:?usage: $0 PATH/TO/llmemory [CHUNKS...]}
shift
sizes=${*:-1000 10000}
secs=${SECONDS_PER_OP:-5}
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
echo "latency of the placement lookup alone (proxy): $(lat "$proxy" "SELECT llmemory.cluster_shard_of('$owner');") ms"
for op in "lm_history('$owner', 10)" "lm_list('$owner', 20, 0, 'created_at', true, false, NULL, NULL)"; do
    d=$(lat "$shard" "SELECT * FROM llmemory.$op;")
    p=$(lat "$proxy" "SELECT * FROM llmemory.$op;")
    echo "latency ${op%%(*} p50: direct $d ms, proxy $p ms, added $(awk -v a="$p" -v b="$d" 'BEGIN {printf "%.3f", a - b}') ms"
done
for n in $sizes; do
    t=move$n
    s=$("$bin" cluster shard-of $t --proxy "$proxy")
    [ "$s" = 0 ] && u=$s0 || u=$s1
    load "$u" $t "$n"
    echo "move $n chunks: $("$bin" cluster move-tenant $t --to $((1 - s)) --proxy "$proxy")"
done

#!/usr/bin/env bash
# tests/cluster/move.sh: what a cluster does on the shards' data beyond routed calls
# (docs/cluster.md), with three throwaway PostgreSQL clusters (a proxy and two shards, unix
# sockets, wal_level = logical) like tests/cluster/run.sh:
#   index     a tenant that grows past the vector index threshold through the proxy gets its
#             HNSW index on its shard (and nowhere else); vector search through the proxy uses
#             it and returns what the shard returns
#   move      a moved tenant's index is on the target, valid, when the move returns; searches
#             through the proxy use it there
#   worker    the embedding worker through the proxy claims and writes on the shards
#   fence     maintenance writes of a moved tenant (vectors of jobs claimed before the move,
#             the usage meter) fail retryably on the old shard and never land; the jobs are
#             redone on the new shard; a worker and queued adds running through a move leave
#             exactly one vector per chunk, all on the target
#
# Usage: tests/cluster/move.sh PATH/TO/llmemory
# Prints TAP lines and "cluster-moves: N passed, N failed, N skipped".
set -u
bin=${1:?usage: $0 PATH/TO/llmemory}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
label=cluster-moves
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
P() { L --database-url "$proxy_url" "$@"; }

check "cluster init" L cluster init --proxy "$proxy_url" --shard "$s0_url" --shard "$s1_url"
shard_of() { L cluster shard-of "$1" --proxy "$proxy_url"; }
provider=$(q "$s0_url" "SELECT provider_id FROM llmemory.embedding_providers WHERE is_default")
vtable=llmemory.$(q "$s0_url" "SELECT vector_table FROM llmemory.embedding_providers WHERE is_default")
# A queued note (a document of one chunk and its embedding job, as a queued add writes them), a
# tenant operation this test defines on the shards; the proxy routes it.
note_sql="CREATE FUNCTION llmemory.lm_test_queued(p_owner text, p_origin text, p_text text)
RETURNS void LANGUAGE plpgsql AS \$fn\$
DECLARE d uuid := gen_random_uuid(); c uuid := gen_random_uuid();
        v tsvector := to_tsvector('english', p_text);
BEGIN
    PERFORM set_config('llmemory.owner_id', p_owner, true);
    INSERT INTO llmemory.documents (owner_id, document_id, id_at_origin, document_type,
                                    document_name, content_bytes, chunk_count)
    VALUES (p_owner, d, p_origin, 'text', p_origin, length(p_text), 1);
    INSERT INTO llmemory.chunks (owner_id, chunk_id, document_id, chunk_index, chunk_level,
                                 searchable, content, content_hash, token_count, search_vector,
                                 doc_len)
    VALUES (p_owner, c, d, 0, 0, true, p_text, md5(p_text), 8, v, length(v));
    INSERT INTO llmemory.embedding_queue (owner_id, provider_id, chunk_id)
    VALUES (p_owner, '$provider', c);
END \$fn\$"
for u in "$s0_url" "$s1_url"; do q "$u" "$note_sql" >/dev/null; done
check "sync routes the test's queued note" L cluster sync --proxy "$proxy_url"

# ---- index: a tenant grown past the threshold through the proxy ------------------------------
# One document of more chunks than the default threshold (500), added through the proxy.
big=$(mktemp)
awk 'BEGIN { for (i = 1; i <= 1000; i++) {
        printf "Section %d. The river stone %d lies near the old mill %d, where foxes %d and herons %d", i, i % 37, i % 11, i % 53, i % 7
        for (w = 0; w < 60; w++) printf " word%d", (i * 31 + w * 7) % 997
        printf ".\n\n" } }' >"$big"
t=grower
gs=$(shard_of $t)
go=$((1 - gs))
check "a large document through the proxy" P add -o $t --origin big "$big"
rm -f "$big"
vectors=$(q "${shard_url[$gs]}" "SET llmemory.maintenance = on; SELECT count(*) FROM $vtable WHERE owner_id = '$t'")
check "its vectors are on the tenant's shard ($vectors, more than the threshold)" test "$vectors" -gt 500
idx() { # url owner -> the tenant's valid HNSW index names
    q "$1" "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_am a ON a.oid = c.relam
             WHERE a.amname = 'hnsw' AND i.indisvalid AND pg_get_expr(i.indpred, i.indrelid) LIKE '%''$2''%'"
}
index=$(idx "${shard_url[$gs]}" $t)
check "the tenant's HNSW index is built on its shard ($index)" test -n "$index"
check "and recorded there" test -n "$index" -a "$(q "${shard_url[$gs]}" "SET llmemory.maintenance = on; SELECT index_name FROM llmemory.vector_indexes WHERE owner_id = '$t'")" = "$index"
check "and on no other shard" test -z "$(idx "${shard_url[$go]}" $t)"
scans() { q "$1" "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE indexrelname = '$2'"; }
before=$(scans "${shard_url[$gs]}" "$index")
a=$(P search -o $t "river stone near the old mill with herons" -t vector --json | grep -Ev "latency|elapsed_ms|search_id")
sleep 0.6 # (the statistics collector)
after=$(scans "${shard_url[$gs]}" "$index")
check "vector search through the proxy uses the index ($before -> $after scans)" test "$after" -gt "$before"
b=$(L --database-url "${shard_url[$gs]}" search -o $t "river stone near the old mill with herons" -t vector --json | grep -Ev "latency|elapsed_ms|search_id")
check "and returns what the owning shard returns" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$a" "$b"

# ---- move: the index is on the target when the move returns ---------------------------------
check "move the indexed tenant" L cluster move-tenant $t --to $go --proxy "$proxy_url"
moved=$(idx "${shard_url[$go]}" $t)
check "its index is on the target, valid, under the same name ($moved)" test -n "$moved" -a "$moved" = "$index"
check "and gone from the source" test -z "$(idx "${shard_url[$gs]}" $t)"
before=$(scans "${shard_url[$go]}" "$index")
a2=$(P search -o $t "river stone near the old mill with herons" -t vector --json | grep -Ev "latency|elapsed_ms|search_id")
sleep 0.6
after=$(scans "${shard_url[$go]}" "$index")
check "vector search through the proxy uses it on the target ($before -> $after scans)" test "$after" -gt "$before"
check "and returns the same results as before the move" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$a" "$a2"

# ---- worker and fence ---------------------------------------------------------------------
t=queued
qs=$(shard_of $t)
qo=$((1 - qs))
q "$proxy_url" "SELECT llmemory.lm_test_queued('$t', 'q' || g, 'queued note ' || g || ' about rivers')
                  FROM generate_series(1, 40) g" >/dev/null
check "queued notes through the proxy wait on the tenant's shard" \
    test "$(q "${shard_url[$qs]}" "SET llmemory.maintenance = on; SELECT count(*) FROM llmemory.embedding_queue WHERE owner_id = '$t' AND status = 'pending'")" = 40
# A worker on the source claims jobs before the move and writes their vectors after it.
token=$(q "$proxy_url" "SELECT gen_random_uuid()")
claimed=$(q "${shard_url[$qs]}" "SELECT count(*) FROM llmemory.lm_all_queue_claim('$provider', 10, 600, '$token')")
check "a worker claims 10 jobs on the source" test "$claimed" = 10
check "move the tenant with jobs claimed" L cluster move-tenant $t --to $qo --proxy "$proxy_url"
dim=${vtable##*_}
late=$(psql -qAtX -v VERBOSITY=verbose -d "${shard_url[$qs]}" -c "SET llmemory.maintenance = on;
    INSERT INTO $vtable (owner_id, provider_id, chunk_id, embedding)
    SELECT '$t', '$provider', gen_random_uuid(), array_fill(0.1, ARRAY[$dim])::vector" 2>&1)
check "the worker's late vector write on the old shard fails with 40001" sh -c 'echo "$1" | grep -q 40001' _ "$late"
meter=$(psql -qAtX -v VERBOSITY=verbose -d "${shard_url[$qs]}" -c "SELECT llmemory.lm_usage_add('$t', ARRAY[current_date], ARRAY[1::bigint], ARRAY[1::bigint])" 2>&1)
check "the usage meter's write on the old shard fails with 40001" sh -c 'echo "$1" | grep -q 40001' _ "$meter"
check "neither landed" test "$(q "${shard_url[$qs]}" "SELECT sum(row_count) FROM llmemory.lm_tenant_digest('$t')")" = 0
check "the claimed jobs' leases ended on the target" \
    test "$(q "${shard_url[$qo]}" "SET llmemory.maintenance = on; SELECT count(*) FROM llmemory.embedding_queue WHERE owner_id = '$t' AND status = 'processing' AND lease_until <= now()")" = 10
check "the embedding worker through the proxy" P embed
check "redid every job on the new shard: one vector per chunk, no job left" \
    test "$(q "${shard_url[$qo]}" "SET llmemory.maintenance = on; SELECT (SELECT count(*) FROM $vtable WHERE owner_id = '$t') || '|' || (SELECT count(*) FROM llmemory.chunks WHERE owner_id = '$t') || '|' || (SELECT count(*) FROM llmemory.embedding_queue WHERE owner_id = '$t')")" = "40|40|0"

# A worker and queued adds through the proxy, running while the tenant moves back.
log=$(mktemp)
(
    for i in $(seq 1 120); do
        for try in $(seq 1 200); do
            q "$proxy_url" "SELECT llmemory.lm_test_queued('$t', 'w$i', 'concurrent queued note $i')" >/dev/null 2>>"$log.err" && break
            sleep 0.01
        done
    done
) &
writer=$!
(
    while [ ! -e "$log.stop" ]; do P embed --batch 8 >/dev/null 2>>"$log.werr"; done
) &
worker=$!
sleep 0.5
check "move the tenant back under a worker and queued adds" L cluster move-tenant $t --to $qs --proxy "$proxy_url"
wait "$writer"
touch "$log.stop"
wait "$worker"
P embed >/dev/null
check "every chunk has one vector, on the target; no job left" \
    test "$(q "${shard_url[$qs]}" "SET llmemory.maintenance = on; SELECT (SELECT count(*) FROM $vtable WHERE owner_id = '$t') || '|' || (SELECT count(*) FROM llmemory.chunks WHERE owner_id = '$t') || '|' || (SELECT count(*) FROM llmemory.embedding_queue WHERE owner_id = '$t')")" = "160|160|0"
check "the old shard holds no row of the tenant" \
    test "$(q "${shard_url[$qo]}" "SELECT sum(row_count) FROM llmemory.lm_tenant_digest('$t')")" = 0
echo "# worker failures during the move: $(cat "$log.werr" 2>/dev/null | grep -c . || true)"
rm -f "$log" "$log.err" "$log.werr" "$log.stop"

# A tenant fenced on a shard (one arriving there by a move) is not claimed there.
q "${shard_url[$qs]}" "SELECT llmemory.lm_test_queued('ghost', 'g1', 'a ghost note')" >/dev/null
q "${shard_url[$qs]}" "SET llmemory.maintenance = on; INSERT INTO llmemory.tenant_fence (owner_id, moved_to) VALUES ('ghost', 'shard 9')" >/dev/null
token=$(q "$proxy_url" "SELECT gen_random_uuid()")
check "a fenced tenant's jobs are not claimed" \
    test "$(q "${shard_url[$qs]}" "SELECT count(*) FROM llmemory.lm_all_queue_claim('$provider', 100, 60, '$token') WHERE owner_id = 'ghost'")" = 0
finish

#!/usr/bin/env bash
# tests/cluster/run.sh: sharded mode end to end (docs/cluster.md). Starts three throwaway
# PostgreSQL clusters (a proxy and two shards, unix sockets, wal_level = logical) with
# scripts/pg-test-cluster.sh, makes the cluster with `llmemory cluster init`, and checks:
#   routing   every routed operation through the proxy equals the same call on the owning shard
#             (bulk ingest, searches with variants, rerank or parent context, and reembed
#             included: run on the shard directly); a search including sub-tenants and the keys
#             of a tenant with its sub-tenants find a sub-tenant placed on the other shard;
#             operations over all tenants return every shard's rows; identity ranges per shard
#   move      a move under concurrent writes (and bulk ingest batches) through the proxy loses
#             and duplicates no write,
#             leaves the BM25 statistics exact and nothing on the source; a move without
#             writes leaves every row (statistics and postings included) and the keyword search
#             results identical
#   fence     a write that reaches the old shard after the move fails retryably and never lands
#   failure   with one shard stopped, its tenants fail (unavailable) and the others' work
#             (their keys verified on the shard that holds them; the usage meter counts once)
# Writes through the proxy use lm_test_note, a tenant operation this test defines on the shards
# (the proxy routes it like every lm_ function whose first argument is p_owner).
#
# Usage: tests/cluster/run.sh PATH/TO/llmemory
# Prints TAP lines and "cluster: N passed, N failed, N skipped".
set -u
bin=${1:?usage: $0 PATH/TO/llmemory}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
label=cluster
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check "cluster init" L cluster init --proxy "$proxy_url" --shard "$s0_url" --shard "$s1_url"
check "init twice is refused" sh -c "! '$bin' cluster init --proxy '$proxy_url' --shard '$s0_url'"

# The test's write operation, on both shards, then routed.
note_sql="CREATE FUNCTION llmemory.lm_test_note(p_owner text, p_origin text, p_text text)
RETURNS bigint LANGUAGE plpgsql AS \$fn\$
DECLARE d uuid := gen_random_uuid(); v tsvector := to_tsvector('english', p_text); c bigint;
BEGIN
    PERFORM set_config('llmemory.owner_id', p_owner, true);
    INSERT INTO llmemory.documents (owner_id, document_id, id_at_origin, document_type,
                                    document_name, content_bytes, chunk_count)
    VALUES (p_owner, d, p_origin, 'text', p_origin, length(p_text), 1);
    INSERT INTO llmemory.chunks (owner_id, chunk_id, document_id, chunk_index, chunk_level,
                                 searchable, content, content_hash, token_count, search_vector,
                                 doc_len)
    VALUES (p_owner, gen_random_uuid(), d, 0, 0, true, p_text, md5(p_text), 8, v, length(v))
    RETURNING chunk_no INTO c;
    RETURN c;
END \$fn\$"
# and an operation over all tenants that returns one number (the proxy adds the shards' up)
count_sql="CREATE FUNCTION llmemory.lm_all_test_documents() RETURNS bigint LANGUAGE sql
AS 'SELECT count(*) FROM llmemory.documents'"
for u in "$s0_url" "$s1_url"; do q "$u" "$note_sql" >/dev/null; q "$u" "$count_sql" >/dev/null; done
routed=$(L cluster sync --proxy "$proxy_url")
check "sync routes the shards' tenant operations ($routed)" test "${routed%% *}" -ge 3

if [ "$(q "$s0_url" "SELECT count(*) FROM pg_available_extensions WHERE name = 'llmemory_bm25'")" = 1 ]; then
    check "the proxy records the shards' BM25 extension for keyword search" \
        test "$(q "$proxy_url" "SELECT count(*) FROM llmemory.cluster_settings WHERE key = 'bm25_build_id'")" = 1
fi
shard_of() { L cluster shard-of "$1" --proxy "$proxy_url"; }
# Tenants with a few documents each, added with the CLI on their shard.
tenants="alice bob carol dave erin"
for t in $tenants; do
    s=$(shard_of "$t")
    for i in 1 2 3; do
        printf 'tenant %s writes about the quick brown fox %s and lazy dogs %s\n' "$t" "$i" "$t$i" |
            L --database-url "${shard_url[$s]}" add -o "$t" --origin "doc$i" --name "doc $i" - >/dev/null ||
            not_ok "add to $t"
    done
done
placed=$(for t in $tenants; do shard_of "$t"; done | sort -u | wc -l)
check "the hash spreads the tenants over both shards" test "$placed" -eq 2

stats_exact() { # url, owner: stored BM25 statistics and postings equal a recount
    q "$1" "SELECT (SELECT row(chunk_count, total_len)::text FROM llmemory.tenant_stats WHERE owner_id = '$2')
              = (SELECT row(count(*), sum(doc_len))::text FROM llmemory.chunks WHERE owner_id = '$2' AND searchable)
        AND NOT EXISTS (
            (SELECT lexeme, df FROM llmemory.term_stats WHERE owner_id = '$2'
             EXCEPT SELECT l, count(*) FROM llmemory.chunks c, unnest(tsvector_to_array(c.search_vector)) l
                     WHERE c.owner_id = '$2' AND c.searchable GROUP BY l)
            UNION ALL
            (SELECT l, count(*) FROM llmemory.chunks c, unnest(tsvector_to_array(c.search_vector)) l
              WHERE c.owner_id = '$2' AND c.searchable GROUP BY l
             EXCEPT SELECT lexeme, df FROM llmemory.term_stats WHERE owner_id = '$2'))
        AND (SELECT count(*) FROM llmemory.postings WHERE owner_id = '$2')
          = (SELECT count(*) FROM llmemory.chunks c, unnest(c.search_vector) WHERE c.owner_id = '$2' AND c.searchable)"
}
# ---- routing --------------------------------------------------------------------------------
same=1
for t in $tenants; do
    s=$(shard_of "$t")
    a=$(q "$proxy_url" "SELECT * FROM llmemory.lm_tenant_digest('$t')")
    b=$(q "${shard_url[$s]}" "SELECT * FROM llmemory.lm_tenant_digest('$t')")
    [ "$a" = "$b" ] && echo "$a" | grep -q '^chunks|3|' || same=0
done
check "every tenant's rows through the proxy equal those on its shard" test "$same" -eq 1
all_p=$(q "$proxy_url" "SELECT * FROM llmemory.lm_all_tenant_sizes() ORDER BY 1")
all_s=$( (q "$s0_url" "SELECT * FROM llmemory.lm_all_tenant_sizes()"
    q "$s1_url" "SELECT * FROM llmemory.lm_all_tenant_sizes()") | sort)
check "an operation over all tenants returns every shard's rows" test "$all_p" = "$all_s"
sum=$(( $(q "$s0_url" "SELECT llmemory.lm_all_test_documents()") + $(q "$s1_url" "SELECT llmemory.lm_all_test_documents()") ))
check "a single-number operation over all tenants returns the shards' sum ($sum)" \
    test "$(q "$proxy_url" "SELECT llmemory.lm_all_test_documents()")" = "$sum" -a "$sum" -eq 15
check "shard 0 numbers chunks from 1" test "$(q "$s0_url" "SELECT min(chunk_no) < 1099511627777 FROM llmemory.chunks")" = t
check "shard 1 numbers chunks from 2^40 + 1" \
    test "$(q "$s1_url" "SELECT min(chunk_no) >= 1099511627777 FROM llmemory.chunks")" = t

# The library against the proxy: the operations the shards define as functions run through it.
for t in $tenants; do
    s=$(shard_of "$t")
    for kind in text vector hybrid; do
        a=$(L --database-url "$proxy_url" search -o "$t" "quick brown fox" -t $kind --json | grep -Ev "latency|elapsed_ms|search_id")
        b=$(L --database-url "${shard_url[$s]}" search -o "$t" "quick brown fox" -t $kind --json | grep -Ev "latency|elapsed_ms|search_id")
        [ -n "$a" ] && [ "$a" = "$b" ] || { same=0; echo "# $t $kind: proxy and shard differ"; diff <(echo "$a") <(echo "$b") | head -5 | sed 's/^/# /'; }
    done
done
check "search of every type through the proxy equals search on the owning shard" test "$same" -eq 1
same=1
for t in $tenants; do
    s=$(shard_of "$t")
    for cmd in "list -o $t --json" "stats -o $t --json" "get -o $t --origin doc2 --json" "history -o $t --json"; do
        a=$(L --database-url "$proxy_url" $cmd 2>&1)
        b=$(L --database-url "${shard_url[$s]}" $cmd 2>&1)
        [ -n "$a" ] && [ "$a" = "$b" ] || { same=0; echo "# $t $cmd: proxy and shard differ"; }
    done
done
check "list, stats, get and history through the proxy equal the owning shard's" test "$same" -eq 1

# Bulk ingest (lm_doc_add_batch: COPY, which PL/Proxy cannot carry) through the proxy: written on
# the owner's shard in one transaction (every document of the batch has the same xmin there; the
# CLI's fallback of one add per document would not), and equal to the same ingest made directly
# on a shard for another owner.
jsonl=$(mktemp)
for i in 1 2 3 4 5 6; do
    printf '{"id_at_origin":"bulk%s","content":"bulk note %s about the quick brown fox and the %s river stones"}\n' \
        "$i" "$i" "$(printf 'red\ngreen\nblue\ngrey\nwhite\nblack' | sed -n "${i}p")"
done >"$jsonl"
bi="" bd=""
for t in ingrid igor ilse ines ivo iris; do
    [ -z "$bi" ] && bi=$t && continue
    [ -z "$bd" ] && [ "$(shard_of "$t")" != "$(shard_of "$bi")" ] && bd=$t
done
si=$(shard_of "$bi")
sd=$(shard_of "$bd")
check "ingest --jsonl through the proxy ($bi, shard $si)" L --database-url "$proxy_url" ingest -o "$bi" --jsonl "$jsonl"
L --database-url "${shard_url[$sd]}" ingest -o "$bd" --jsonl "$jsonl" >/dev/null
check "the batch is on $bi's shard, in one transaction, and nothing on the other shard" \
    test "$(q "${shard_url[$si]}" "SELECT count(*), count(DISTINCT xmin::text) FROM llmemory.documents WHERE owner_id = '$bi'")/$(
        q "${shard_url[$((1 - si))]}" "SELECT count(*) FROM llmemory.documents WHERE owner_id = '$bi'")" = "6|1/0"
check "its rows (statistics and postings included) through the proxy equal its shard's" \
    test "$(q "$proxy_url" "SELECT * FROM llmemory.lm_tenant_digest('$bi')" | grep -v '^chunks')" = \
    "$(q "${shard_url[$si]}" "SELECT * FROM llmemory.lm_tenant_digest('$bi')" | grep -v '^chunks')"
check "and BM25 statistics of the ingested tenant are exact" test "$(stats_exact "${shard_url[$si]}" "$bi")" = t
same=1
for kind in text vector hybrid; do
    a=$(L --database-url "$proxy_url" search -o "$bi" "quick fox river" -t $kind --no-history --json | jq -c '[.results[] | [.id_at_origin, .chunk_index, .score]]')
    b=$(L --database-url "${shard_url[$si]}" search -o "$bi" "quick fox river" -t $kind --no-history --json | jq -c '[.results[] | [.id_at_origin, .chunk_index, .score]]')
    c=$(L --database-url "${shard_url[$sd]}" search -o "$bd" "quick fox river" -t $kind --no-history --json | jq -c '[.results[] | [.id_at_origin, .chunk_index, .score]]')
    [ "$a" != "[]" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] || { same=0; echo "# $kind: proxy $a shard $b direct ingest $c"; }
done
check "search after ingest through the proxy equals its shard's and a direct ingest's (3 types)" test "$same" -eq 1
check "cross-tenant: ingest through the proxy adds nothing to other tenants ($bd keeps 6)" \
    test "$(L --database-url "$proxy_url" search -o "$bd" "quick fox river" -t text --no-history --json | jq '[.results[] | select(.owner_id != "'"$bd"'")] | length')/$(
        L --database-url "$proxy_url" stats -o "$bd" --json | jq .document_count)" = "0/6"
# Searches that run the library's statements (query variants, rerank, parent context): on the
# proxy they run on the owner's shard directly; results equal the shard's.
long=$(for i in $(seq 1 200); do printf 'Sentence %s tells of grey stones number %s by the river bank. ' "$i" "$i"; done)
printf '{"id_at_origin":"guide","content":"%s"}\n' "$long" >"$jsonl"
L --database-url "$proxy_url" ingest -o "$bi" --jsonl "$jsonl" >/dev/null
same=1
for kind in text vector hybrid; do
    for opt in "--expand" "--rerank" "--context 2" "--expand --rerank --context 1"; do
        a=$(L --database-url "$proxy_url" search -o "$bi" "quick fox river" -t $kind $opt --no-history --json | jq -c '[.results[] | [.id_at_origin, .chunk_index, .score, ([.parent_context[]?.chunk_index])]]')
        b=$(L --database-url "${shard_url[$si]}" search -o "$bi" "quick fox river" -t $kind $opt --no-history --json | jq -c '[.results[] | [.id_at_origin, .chunk_index, .score, ([.parent_context[]?.chunk_index])]]')
        [ -n "$a" ] && [ "$a" != "[]" ] && [ "$a" = "$b" ] || { same=0; echo "# $kind $opt: proxy $a shard $b"; }
    done
done
check "search with variants, rerank and parent context through the proxy equals the shard's (3 types)" test "$same" -eq 1
ctx=$(L --database-url "$proxy_url" search -o "$bi" "grey stones" -t text --context 2 --no-history --json | jq '[.results[] | select(.id_at_origin == "guide") | .parent_context | length] | max')
check "parent context through the proxy holds the hit's parents ($ctx)" test "${ctx:-0}" -ge 1
h1=$(q "${shard_url[$si]}" "SELECT count(*) FROM llmemory.search_history WHERE owner_id = '$bi'")
L --database-url "$proxy_url" search -o "$bi" "quick fox" --rerank >/dev/null
h2=$(q "${shard_url[$si]}" "SELECT count(*) FROM llmemory.search_history WHERE owner_id = '$bi'")
check "a reranked search through the proxy is recorded in the history on the shard ($h1, then $h2)" test "$h2" -eq $((h1 + 1))
x=$(L --database-url "$proxy_url" search -o "$bd" "quick fox river" --rerank --expand --context 1 --no-history --json | jq -c '[.results[] | .owner_id] | unique')
check "cross-tenant: $bd's reranked search through the proxy finds only $bd's rows" test "$x" = "[\"$bd\"]"
# Re-embedding one owner through the proxy (lm_reembed): on its shard, in its transaction.
vt=$(q "${shard_url[$si]}" "SELECT relname FROM pg_class WHERE relname ~ '^vectors_[0-9]+$' AND relkind = 'r' LIMIT 1")
vn() { q "$1" "SELECT count(*) FROM llmemory.$vt WHERE owner_id = '$2'"; }
vi0=$(vn "${shard_url[$si]}" "$bi")
vd0=$(vn "${shard_url[$sd]}" "$bd")
q "${shard_url[$si]}" "DELETE FROM llmemory.$vt WHERE ctid IN (SELECT ctid FROM llmemory.$vt WHERE owner_id = '$bi' LIMIT 2)" >/dev/null
q "${shard_url[$sd]}" "DELETE FROM llmemory.$vt WHERE ctid IN (SELECT ctid FROM llmemory.$vt WHERE owner_id = '$bd' LIMIT 1)" >/dev/null
r=$(L --database-url "$proxy_url" reembed -o "$bi" --json | jq .to_embed)
check "reembed of one owner through the proxy queues its 2 chunks without a vector on its shard" \
    test "$r/$(q "${shard_url[$si]}" "SELECT count(*) FROM llmemory.embedding_queue WHERE owner_id = '$bi' AND status = 'pending'")" = 2/2
check "cross-tenant: and nothing of $bd (on shard $sd)" \
    test "$(q "${shard_url[$sd]}" "SELECT count(*) FROM llmemory.embedding_queue WHERE owner_id = '$bd'")" = 0
L --database-url "$proxy_url" embed >/dev/null 2>&1
check "the embedding worker through the proxy restores $bi's vectors ($vi0), not $bd's" \
    test "$(vn "${shard_url[$si]}" "$bi")/$(vn "${shard_url[$sd]}" "$bd")" = "$vi0/$((vd0 - 1))"
L --database-url "$proxy_url" reembed -o "$bd" >/dev/null && L --database-url "$proxy_url" embed >/dev/null 2>&1
rm -f "$jsonl"

# ---- the library, the CLI and the HTTP server on the proxy URL -----------------------------------
# Two tenants on different shards, each with an admin key made through the proxy; one server on
# the proxy URL and one on A's shard directly: what both answer must be the same.
ta="" tb=""
for t in frank grace heidi ivan judy mallory; do
    case "$(shard_of "$t")" in 0) [ -z "$ta" ] && ta=$t ;; 1) [ -z "$tb" ] && tb=$t ;; esac
done
sa=$(shard_of "$ta")
sb=$(shard_of "$tb")
P() { L --database-url "$proxy_url" "$@"; }
q "$proxy_url" "CREATE ROLE lm_cluster_test_reader" >/dev/null
denied=$(psql -qAtX -d "$proxy_url" -c "SET ROLE lm_cluster_test_reader" -c "SELECT * FROM llmemory.lm_all_key_lookup('0123456789abcdef')" 2>&1)
check "a shard function closed to PUBLIC (key lookup) is closed on the proxy too" \
    sh -c "echo '$denied' | grep -q 'permission denied'"
ka=$(P keys create -o "$ta" --scope admin 2>/dev/null)
kb=$(P keys create -o "$tb" --scope admin 2>/dev/null)
check "keys created through the proxy live on their owner's shard ($ta: $sa, $tb: $sb)" \
    test "$(q "${shard_url[$sa]}" "SELECT count(*) FROM llmemory.api_keys WHERE owner_id = '$ta'")$(
        q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.api_keys WHERE owner_id = '$tb'")$(
        q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.api_keys WHERE owner_id = '$ta'")" = 110
work=$(mktemp -d)
serve() { # url portfile; called in $(...), so the server's pid goes to a file, not a variable
    "$bin" --database-url "$1" serve --port 0 --port-file "$2" --threads 2 >"$2.log" 2>&1 &
    echo $! >>"$work/pids"
    for _ in $(seq 1 100); do [ -s "$2" ] && break; sleep 0.1; done
    [ -s "$2" ] && echo "http://127.0.0.1:$(cat "$2")"
}
U=$(serve "$proxy_url" "$work/proxy.port")
D=$(serve "${shard_url[$sa]}" "$work/direct.port")
check "llmemory serve starts on the proxy URL" test -n "$U" -a -n "$D"
check "/readyz on the proxy's server: every shard migrated (200)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "$U/readyz")" = 200
H() { # key method url path [body]: prints the body, then the status on a line of its own
    curl -sS -w '\n%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
        ${5:+-H 'Content-Type: application/json' --data-binary "$5"} "$3$4"
}
status() { tail -n 1 <<<"$1"; }
body() { sed '$d' <<<"$1"; }
strip() { jq -S 'del(.. | .elapsed_ms?, .request_id?, .last_used_at?)' 2>/dev/null; }
ok_all=1
for k in "$ka:$ta" "$kb:$tb"; do
    for i in 1 2; do
        r=$(H "${k%%:*}" POST "$U" /v1/documents "{\"id_at_origin\":\"h$i\",\"content\":\"${k##*:} keeps note $i about the quick brown fox and a river stone\"}")
        [ "$(status "$r")" = 201 ] || { ok_all=0; echo "# add ${k##*:} h$i: $r"; }
    done
done
check "documents added over HTTP through the proxy (201)" test "$ok_all" = 1
check "and they are on each tenant's shard" \
    test "$(q "${shard_url[$sa]}" "SELECT count(*) FROM llmemory.documents WHERE owner_id = '$ta'")$(
        q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.documents WHERE owner_id = '$tb'")" = 22
same=1
for path in "/v1/search?q=quick+fox&type=text&no_history=true" "/v1/search?q=quick+fox&type=vector&no_history=true" \
    "/v1/search?q=quick+fox&type=hybrid&no_history=true" /v1/documents /v1/keys "/v1/audit?limit=50"; do
    a=$(H "$ka" GET "$U" "$path")
    b=$(H "$ka" GET "$D" "$path")
    if [ "$(status "$a")" != 200 ] || [ "$(body "$a" | strip)" != "$(body "$b" | strip)" ]; then
        same=0
        echo "# $path: proxy $(status "$a"), direct $(status "$b")"
        diff <(body "$a" | strip) <(body "$b" | strip) | head -6 | sed 's/^/# /'
    fi
done
check "search (all three types), list, keys and audit over HTTP: the proxy's server equals the shard's" test "$same" = 1
doc_a=$(body "$(H "$ka" GET "$U" /v1/documents)" | jq -r '.documents[0].document_id')
doc_b=$(body "$(H "$kb" GET "$U" /v1/documents)" | jq -r '.documents[0].document_id')
a=$(H "$ka" GET "$U" "/v1/documents/$doc_a")
b=$(H "$ka" GET "$D" "/v1/documents/$doc_a")
check "get over HTTP through the proxy equals the shard's" \
    test "$(status "$a")" = 200 -a "$(body "$a" | strip)" = "$(body "$b" | strip)"
x=$(H "$ka" GET "$U" "/v1/documents/$doc_b")
m=$(H "$ka" GET "$U" "/v1/documents/00000000-0000-4000-8000-000000000000")
check "cross-tenant: $ta's key gets $tb's document as 404, the same as a missing one" \
    test "$(status "$x")" = 404 -a "$(status "$m")" = 404 -a \
    "$(body "$x" | jq -c '.error | del(.request_id)' | sed "s/$doc_b/ID/")" = "$(body "$m" | jq -c '.error | del(.request_id)' | sed 's/00000000-0000-4000-8000-000000000000/ID/')"
x=$(H "$ka" GET "$U" "/v1/search?q=$tb+keeps&type=text")
check "cross-tenant: $ta's search through the proxy finds nothing of $tb" \
    test "$(status "$x")" = 200 -a "$(body "$x" | jq '[.results[] | select(.owner_id != "'"$ta"'")] | length')" = 0
# Search including sub-tenants: a sub-tenant hashes on its own name, so take one on the other
# shard; the proxy asks every shard for the sub-tenants and searches each routed.
sub=""
for i in 1 2 3 4 5 6 7 8 9; do [ "$(shard_of "$ta/s$i")" = "$sb" ] && { sub="$ta/s$i"; break; }; done
echo "the sub-tenant keeps a quick brown fox note" | P add -o "$sub" --origin subnote - >/dev/null
ks=$(P keys create -o "$ta" --scope admin --subtenants 2>/dev/null)
x=$(H "$ks" GET "$U" "/v1/search?q=quick+fox&type=text&include_subtenants=true&no_history=true")
owners=$(body "$x" | jq -c '[.results[].owner_id] | unique')
[ "$owners" = "[\"$ta\",\"$sub\"]" ] || { echo "# $(echo "$x" | head -c 300)"; tail -5 "$work/proxy.port.log" | sed "s/^/# /"; }
check "search including sub-tenants through the proxy finds $ta's and $sub's (shard $sb) rows" \
    test "$(status "$x")/$owners" = "200/[\"$ta\",\"$sub\"]"
y=$(H "$ks" GET "$U" "/v1/search?q=quick+fox&type=text&no_history=true")
sub_hits=$(L --database-url "${shard_url[$sb]}" search -o "$sub" "quick fox" -t text --no-history --json | jq -c '[.results[] | [.id_at_origin, .chunk_index]]')
check "its hits are $ta's own search and $sub's search on its shard, fused" \
    test "$(body "$x" | jq -c '[.results[] | select(.owner_id == "'"$ta"'") | [.id_at_origin, .chunk_index]]')" = \
    "$(body "$y" | jq -c '[.results[] | [.id_at_origin, .chunk_index]]')" -a \
    "$(body "$x" | jq -c '[.results[] | select(.owner_id != "'"$ta"'") | [.id_at_origin, .chunk_index]]')" = "$sub_hits"
x=$(H "$kb" GET "$U" "/v1/search?q=quick+fox&type=text&no_history=true")
check "cross-tenant: $tb's search through the proxy finds nothing of $ta's sub-tenant" \
    test "$(body "$x" | jq '[.results[] | select(.owner_id != "'"$tb"'")] | length')" = 0
# Keys of a tenant and its sub-tenants (a key allowing sub-tenants): on every shard (073).
P keys create -o "$sub" >/dev/null 2>&1
kl=$(H "$ks" GET "$U" /v1/keys)
want=$( (L --database-url "${shard_url[$sa]}" keys list -o "$ta" --subtenants --json
    L --database-url "${shard_url[$sb]}" keys list -o "$sub" --json) | jq -r '.. | objects | select(has("key_id")) | .key_id' | sort -u)
got=$(body "$kl" | jq -r '.. | objects | select(has("key_id")) | .key_id' | sort -u)
check "keys with sub-tenants through the proxy: $ta's shard's and $sub's shard's ($(echo "$got" | wc -l))" \
    test "$(status "$kl")" = 200 -a -n "$want" -a "$got" = "$want" -a "$(echo "$want" | wc -l)" -eq 3
subkey=$(q "${shard_url[$sb]}" "SELECT key_id FROM llmemory.api_keys WHERE owner_id = '$sub' LIMIT 1")
r=$(H "$ks" DELETE "$U" "/v1/keys/$subkey")
check "revoke of $sub's key (shard $sb) with $ta's key allowing sub-tenants, through the proxy" \
    test "$(status "$r")/$(q "${shard_url[$sb]}" "SELECT revoked_at IS NOT NULL FROM llmemory.api_keys WHERE key_id = '$subkey'")" = "200/t"
tbkey=$(q "${shard_url[$sb]}" "SELECT key_id FROM llmemory.api_keys WHERE owner_id = '$tb' LIMIT 1")
r=$(H "$ks" DELETE "$U" "/v1/keys/$tbkey")
check "cross-tenant: $ta's key cannot revoke $tb's key (404) nor list it" \
    test "$(status "$r")/$(q "${shard_url[$sb]}" "SELECT revoked_at IS NULL FROM llmemory.api_keys WHERE key_id = '$tbkey'")" = "404/t" -a \
    "$(echo "$got" | grep -cx "$tbkey")" = 0
P erase -o "$sub" --yes >/dev/null
a=$(H "$ka" GET "$U" /v1/statistics)
b=$(H "$ka" GET "$D" /v1/statistics)
check "statistics over HTTP through the proxy equal the shard's" \
    test "$(body "$a" | jq -c 'del(.usage, .elapsed_ms)')" = "$(body "$b" | jq -c 'del(.usage, .elapsed_ms)')" -a \
    "$(body "$a" | jq .document_count)" = 2
P quota set -o "$ta" --documents 3 >/dev/null
r1=$(H "$ka" POST "$U" /v1/documents '{"id_at_origin":"h3","content":"third note"}')
r2=$(H "$ka" POST "$U" /v1/documents '{"id_at_origin":"h4","content":"fourth note"}')
check "a quota set through the proxy refuses the add that would pass it (201, then 413 documents)" \
    test "$(status "$r1")/$(status "$r2")/$(body "$r2" | jq -r .error.field)" = "201/413/documents"
check "quota get through the proxy equals the shard's" \
    test "$(P quota get -o "$ta" --json)" = "$(L --database-url "${shard_url[$sa]}" quota get -o "$ta" --json)"
r=$(H "$ka" POST "$U" /v1/documents/delete '{"ids_at_origin":["h3"]}')
[ "$(status "$r")" = 200 ] || r=$(H "$ka" DELETE "$U" "/v1/documents/$(body "$(H "$ka" GET "$U" "/v1/documents")" | jq -r '.documents[] | select(.id_at_origin == "h3") | .document_id')")
g=$(H "$ka" GET "$U" /v1/documents)
check "delete over HTTP through the proxy" \
    test "$(status "$r")" = 200 -a "$(body "$g" | jq '[.documents[] | select(.id_at_origin == "h3")] | length')" = 0
curl -sS -H "Authorization: Bearer $ka" "$U/v1/export?vectors=true" >"$work/a.jsonl"
curl -sS -H "Authorization: Bearer $ka" "$D/v1/export?vectors=true" >"$work/a-direct.jsonl"
n_a=$(body "$(H "$ka" GET "$U" /v1/statistics)" | jq .document_count)
check "export over HTTP through the proxy: the same records as the shard's ($n_a documents)" \
    test "$(wc -l <"$work/a.jsonl")" -eq $((2 + 2 * n_a)) -a \
    "$(sed '1d;$d' "$work/a.jsonl")" = "$(sed '1d;$d' "$work/a-direct.jsonl")"
tc=""
for t in oscar peggy rupert sybil trent victor; do [ "$(shard_of "$t")" = "$sb" ] && { tc=$t; break; }; done
kc=$(P keys create -o "$tc" 2>/dev/null)
r=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $kc" -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$work/a.jsonl" "$U/v1/import")
sa_=$(body "$(H "$ka" GET "$U" "/v1/search?q=quick+fox&type=hybrid&no_history=true")" | jq -c '[.results[] | [.id_at_origin, .score]]')
sc_=$(body "$(H "$kc" GET "$U" "/v1/search?q=quick+fox&type=hybrid&no_history=true")" | jq -c '[.results[] | [.id_at_origin, .score]]')
check "import over HTTP through the proxy into $tc (shard $sb): same search results as $ta" \
    test "$(status "$r")/$(body "$r" | jq .documents_created)" = "200/$n_a" -a "$sa_" = "$sc_" -a "$sa_" != "[]"
head -c 300 "$work/a.jsonl" >"$work/trunc.jsonl"
r=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $kc" -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$work/trunc.jsonl" "$U/v1/import")
check "a truncated import through the proxy is refused (400) and stages nothing" \
    test "$(status "$r")/$(q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.import_staging")" = "400/0"
a=$(H "$ka" GET "$U" "/v1/audit?limit=50")
check "the audit log over HTTP through the proxy lists key.create, quota.set, tenant.export" \
    sh -c "echo '$(body "$a" | jq -r '[.entries[]?.action, .records[]?.action, .[]?[]?.action?] | unique | join(" ")' 2>/dev/null)' | grep -q 'key.create' &&
           echo '$(body "$a")' | grep -q 'quota.set' && echo '$(body "$a")' | grep -q 'tenant.export'"
same=1
for cmd in "keys list -o $ta --json" "audit -o $ta --json" "export -o $ta"; do
    a=$(P $cmd 2>&1 | grep -v '"exported_at"\|"type":"trailer"')
    b=$(L --database-url "${shard_url[$sa]}" $cmd 2>&1 | grep -v '"exported_at"\|"type":"trailer"')
    [ -n "$a" ] && [ "$a" = "$b" ] || { same=0; echo "# $cmd: proxy and shard differ"; }
done
check "keys list, audit and export with the CLI through the proxy equal the shard's" test "$same" = 1
r=$(H "$kb" DELETE "$U" /v1/tenant)
check "erase over HTTP through the proxy ($tb)" test "$(status "$r")" = 200
for _ in $(seq 1 100); do
    [ "$(q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.tenant_erasures")" = 0 ] && break
    sleep 0.1
done
check "the erasure's background cleanup leaves no row of $tb on its shard" \
    test "$(q "${shard_url[$sb]}" "SELECT sum(row_count) FILTER (WHERE table_name <> 'audit_log') FROM llmemory.lm_tenant_digest('$tb')")" = 0
check "and $tb's key is refused afterwards (401)" test "$(status "$(H "$kb" GET "$U" /v1/statistics)")" = 401
check "$ta is untouched" test "$(body "$(H "$ka" GET "$U" /v1/statistics)" | jq .document_count)" = 2
P keys create -o "$tb" >/dev/null 2>&1 && echo "fresh note" | P add -o "$tb" --origin n1 - >/dev/null
check "the erased owner id can be used again through the proxy" \
    test "$(q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.documents WHERE owner_id = '$tb'")" = 1
P erase -o "$tb" --yes >/dev/null
check "erase with the CLI through the proxy finishes at once" \
    test "$(q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.documents WHERE owner_id = '$tb'")$(
        q "${shard_url[$sb]}" "SELECT count(*) FROM llmemory.tenant_erasures")" = 00
check "optimize through the proxy optimizes every shard" sh -c "'$bin' --database-url '$proxy_url' optimize >/dev/null"
P erase -o "$ta" --yes >/dev/null && P erase -o "$tc" --yes >/dev/null
check "erase with the CLI through the proxy of $ta and $tc" \
    test "$(P stats -o "$ta" --json | jq .document_count)$(P stats -o "$tc" --json | jq .document_count)" = 00
srv_pids=$(cat "$work/pids")
for p in $srv_pids; do kill "$p" 2>/dev/null; done
for p in $srv_pids; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
rm -rf "$work"

# ---- move under concurrent writes -----------------------------------------------------------
from=$(shard_of alice)
to=$((1 - from))
writes=200
log=$(mktemp)
(
    for i in $(seq 1 $writes); do
        for try in $(seq 1 200); do
            if q "$proxy_url" "SELECT llmemory.lm_test_note('alice', 'w$i', 'concurrent note $i about foxes')" >/dev/null 2>>"$log.err"; then
                echo "w$i" >>"$log"
                break
            fi
            sleep 0.01
        done
    done
) &
writer=$!
# and the library's own add through the proxy (retried like an HTTP client retries a 503)
(
    for i in $(seq 1 40); do
        for try in $(seq 1 100); do
            if echo "library note $i about foxes and rivers" |
                L --database-url "$proxy_url" add -o alice --origin "lib$i" - >/dev/null 2>>"$log.err"; then
                echo "lib$i" >>"$log.lib"
                break
            fi
            sleep 0.01
        done
    done
) &
libwriter=$!
# and bulk ingest through the proxy, batches of 3 (written on the shard directly: a batch that
# meets the fence on the old shard is tried again where the placement then points)
(
    for i in $(seq 1 15); do
        for j in 1 2 3; do printf '{"id_at_origin":"bat%s-%s","content":"batch %s note %s about foxes"}\n' "$i" "$j" "$i" "$j"; done >"$log.b$i"
        for try in $(seq 1 50); do
            if L --database-url "$proxy_url" ingest -o alice --jsonl "$log.b$i" >/dev/null 2>>"$log.err"; then
                echo "bat$i" >>"$log.bat"
                break
            fi
            sleep 0.01
        done
        rm -f "$log.b$i"
    done
) &
batwriter=$!
sleep 0.5
move=$(L cluster move-tenant alice --to "$to" --proxy "$proxy_url" --json)
move_rc=$?
wait "$writer" "$libwriter" "$batwriter"
check "move-tenant under concurrent writes succeeds" test "$move_rc" -eq 0
echo "# move: $move"
check "alice is on shard $to now" test "$(shard_of alice)" = "$to"
acked=$(sort -u "$log" | wc -l)
landed=$(q "${shard_url[$to]}" "SELECT count(DISTINCT id_at_origin), count(*) FROM llmemory.documents WHERE owner_id = 'alice' AND id_at_origin LIKE 'w%'")
check "every acknowledged write is on the target, once ($acked acknowledged, $landed)" test "$landed" = "$acked|$acked"
check "every write was acknowledged" test "$acked" -eq "$writes"
lib_acked=$(sort -u "$log.lib" | wc -l)
lib_landed=$(q "${shard_url[$to]}" "SELECT count(DISTINCT id_at_origin), count(*), sum(chunk_count) FROM llmemory.documents WHERE owner_id = 'alice' AND id_at_origin LIKE 'lib%'")
check "every library add through the proxy is on the target, once ($lib_acked acknowledged, $lib_landed)" \
    test "$lib_landed" = "$lib_acked|$lib_acked|$lib_acked" -a "$lib_acked" -eq 40
bat_acked=$(sort -u "$log.bat" | wc -l)
bat_landed=$(q "${shard_url[$to]}" "SELECT count(DISTINCT id_at_origin), count(*), sum(chunk_count) FROM llmemory.documents WHERE owner_id = 'alice' AND id_at_origin LIKE 'bat%'")
check "every batch ingested through the proxy during the move is on the target, once ($bat_acked acknowledged, $bat_landed)" \
    test "$bat_landed" = "$((3 * bat_acked))|$((3 * bat_acked))|$((3 * bat_acked))" -a "$bat_acked" -eq 15
retried=$(grep -c "moved to shard" "$log.err" || true)
echo "# writes retried after the fence: $retried"
check "the source holds no row of alice" \
    test "$(q "${shard_url[$from]}" "SELECT sum(row_count) FROM llmemory.lm_tenant_digest('alice')")" = 0
check "BM25 statistics and postings on the target are exact" test "$(stats_exact "${shard_url[$to]}" alice)" = t
check "chunk numbers stay unique" test "$(q "${shard_url[$to]}" "SELECT count(*) = count(DISTINCT chunk_no) FROM llmemory.chunks WHERE owner_id = 'alice'")" = t
rm -f "$log" "$log.err" "$log.lib" "$log.bat"

# ---- fence ----------------------------------------------------------------------------------
late=$(q "${shard_url[$from]}" "SELECT llmemory.lm_test_note('alice', 'late', 'a late write')" 2>&1)
has_moved() { grep -q 'has moved to shard' <<<"$late"; }
check "a late write to the old shard fails" has_moved
late_state=$(psql -qAtX -d "${shard_url[$from]}" -v VERBOSITY=verbose -c "SELECT llmemory.lm_test_note('alice', 'late', 'x')" 2>&1 | grep -o '40001' | head -1)
check "with the retryable SQLSTATE 40001" test "$late_state" = 40001
check "and never lands" test "$(q "${shard_url[$from]}" "SELECT count(*) FROM llmemory.documents WHERE owner_id = 'alice'")" = 0

# ---- move without writes: identical rows and search results ---------------------------------
s=$(shard_of bob)
# (a search writes its history row: the digest is taken after it, and before the later one)
before_search=$(L --database-url "${shard_url[$s]}" search -o bob "quick brown fox lazy" --json | grep -Ev "latency|elapsed_ms")
before_rows=$(q "${shard_url[$s]}" "SELECT * FROM llmemory.lm_tenant_digest('bob')")
check "move bob back and forth" sh -c "'$bin' cluster move-tenant bob --to $((1 - s)) --proxy '$proxy_url' >/dev/null &&
    '$bin' cluster move-tenant bob --to $s --proxy '$proxy_url' >/dev/null"
L cluster move-tenant bob --to $((1 - s)) --proxy "$proxy_url" >/dev/null
after_rows=$(q "${shard_url[$((1 - s))]}" "SELECT * FROM llmemory.lm_tenant_digest('bob')")
after_search=$(L --database-url "${shard_url[$((1 - s))]}" search -o bob "quick brown fox lazy" --json | grep -Ev "latency|elapsed_ms")
check "every row of bob is identical after the move (statistics, postings, numbers)" \
    test "$before_rows" = "$after_rows"
check "keyword search results are identical after the move" test "$before_search" = "$after_search"
[ "$before_search" = "$after_search" ] || diff <(echo "$before_search") <(echo "$after_search") | head -20 | sed "s/^/# /"

# ---- rebalance ------------------------------------------------------------------------------
check "rebalance --dry-run" L cluster rebalance --proxy "$proxy_url" --dry-run
check "status lists both shards" sh -c "'$bin' cluster status --proxy '$proxy_url' | grep -c '^[01] .*yes' | grep -qx 2"

# ---- a third shard (a second database on shard 1's server) --------------------------------
hashed_before=$(for t in carol dave; do shard_of $t; done)
q "$s1_url" "CREATE DATABASE shard2" >/dev/null
s2_url="${s1_url/dbname=postgres/dbname=shard2}"
check "add-shard" sh -c "'$bin' cluster add-shard --proxy '$proxy_url' --shard '$s2_url' | grep -qx 'added shard 2'"
check "shard 2 numbers chunks from 2^41 + 1" \
    test "$(q "$s2_url" "SELECT seqstart FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence('llmemory.chunks', 'chunk_no')::regclass")" = 2199023255553
e_from=$(shard_of erin)
check "move erin to shard 2" L cluster move-tenant erin --to 2 --proxy "$proxy_url"
a=$(q "$proxy_url" "SELECT * FROM llmemory.lm_tenant_digest('erin')")
b=$(q "$s2_url" "SELECT * FROM llmemory.lm_tenant_digest('erin')")
check "erin's rows through the proxy are shard 2's" sh -c "[ '$a' = '$b' ] && echo '$a' | grep -q '^chunks|3|'"
all_p=$(q "$proxy_url" "SELECT * FROM llmemory.lm_all_tenant_sizes() ORDER BY 1")
all_s=$( (for u in "$s0_url" "$s1_url" "$s2_url"; do q "$u" "SELECT * FROM llmemory.lm_all_tenant_sizes()"; done) | sort)
check "with 3 shards (4 partitions) an operation over all tenants returns each shard's rows once" \
    test "$all_p" = "$all_s" -a "$(echo "$all_p" | wc -l)" -eq 7
check "sync migrates every shard and routes again" L cluster sync --proxy "$proxy_url"
check "a new shard leaves the unplaced tenants where they hash" \
    test "$(for t in carol dave; do shard_of $t; done)" = "$hashed_before"

# ---- failure: one shard stopped -------------------------------------------------------------
down=$(shard_of carol)
up=$((1 - down))
other=""
for t in $tenants; do [ "$(shard_of "$t")" = "$up" ] && other=$t; done
# A server on the proxy URL keeps counting usage while a shard is down: its meter writes each
# tenant's counts on the tenant's shard, one call per tenant, so the down shard's rows wait for
# a later flush and the others' are written once (they were written again with every retry).
work=$(mktemp -d)
M=$(serve "$proxy_url" "$work/meter.port")
# The key is on the shard that stays up; the searches of its sub-tenant on the other shard are
# counted, then fail: that tenant's counts cannot be written while its shard is down.
k_up=$(P keys create -o "$other" --scope read --subtenants 2>/dev/null)
k_down=$(P keys create -o carol --scope read 2>/dev/null)
dsub=""
for i in $(seq 1 40); do [ "$(shard_of "$other/s$i")" = "$down" ] && { dsub="$other/s$i"; break; }; done
searches_today() { H "$1" GET "$M" /v1/statistics | sed '$d' | jq '.usage.searches_today'; }
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "${shard_dir[$down]}/data" -m immediate -w stop >/dev/null 2>&1 ||
    /usr/lib/postgresql/15/bin/pg_ctl -D "${shard_dir[$down]}/data" -m immediate -w stop >/dev/null 2>&1
err=$(q "$proxy_url" "SELECT count(*) FROM llmemory.lm_tenant_digest('carol')" 2>&1)
check "a tenant of the stopped shard fails" sh -c "echo '$err' | grep -q 'PL/Proxy'"
check "a tenant of the other shard ($other) works" \
    test "$(q "$proxy_url" "SELECT count(*) FROM llmemory.lm_tenant_digest('$other')")" -gt 0
L --database-url "$proxy_url" search -o carol "quick brown fox" >/dev/null 2>"$proxy_dir/err"
st=$?
check "the library's search for carol fails as unavailable (exit 4; HTTP 503), saying so" \
    sh -c "[ $st -eq 4 ] && grep -q \"shard cannot be reached\" '$proxy_dir/err'"
check "the library's search for $other works" \
    sh -c "'$bin' --database-url '$proxy_url' search -o '$other' 'quick brown fox' | grep -q '^1\\.'"
check "status marks the stopped shard unreachable" sh -c "'$bin' cluster status --proxy '$proxy_url' | grep -q '^$down .*NO'"
meter_before=$(searches_today "$k_up")
meter_ok=1
for i in 1 2 3; do
    r=$(H "$k_up" GET "$M" "/v1/search?q=quick+fox&type=text")
    [ "$(status "$r")" = 200 ] || { meter_ok=0; echo "# $r"; }
    [ "$(status "$(H "$k_up" GET "$M" "/v1/search?q=quick+fox&type=text&owner_id=$dsub")")" = 503 ] ||
        meter_ok=0
    sleep 1.1 # past the meter's flush interval: the next count flushes, the down shard's row fails
done
check "the meter through the proxy with a shard down: searches answered (503 for $dsub on it)" \
    test "$meter_ok" = 1
meter_after=$(searches_today "$k_up")
check "a key on the shard that is down is unavailable (503), not invalid (401)" \
    test "$(status "$(H "$k_down" GET "$M" /v1/whoami)")" = 503
check "a key on no shard that answers is 503 too while a shard is down (it may be there)" \
    test "$(status "$(H "lmk_0123456789abcdef_$(printf '%064d' 0)" GET "$M" /v1/whoami)")" = 503
check "and the other shard's tenant is counted once per search ($meter_before + 3 = $meter_after)" \
    test "$((meter_before + 3))" = "$meter_after"
for p in $(cat "$work/pids"); do kill "$p" 2>/dev/null; done
rm -rf "$work"
finish

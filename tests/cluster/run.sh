#!/usr/bin/env bash
# tests/cluster/run.sh: sharded mode end to end (docs/cluster.md). Starts three throwaway
# PostgreSQL clusters (a proxy and two shards, unix sockets, wal_level = logical) with
# scripts/pg-test-cluster.sh, makes the cluster with `llmemory cluster init`, and checks:
#   routing   every routed operation through the proxy equals the same call on the owning shard;
#             operations over all tenants return every shard's rows; identity ranges per shard
#   move      a move under concurrent writes through the proxy loses and duplicates no write,
#             leaves the BM25 statistics exact and nothing on the source; a move without
#             writes leaves every row (statistics and postings included) and the keyword search
#             results identical
#   fence     a write that reaches the old shard after the move fails retryably and never lands
#   failure   with one shard stopped, its tenants fail (unavailable) and the others' work
# Writes through the proxy use lm_test_note, a tenant operation this test defines on the shards
# (the proxy routes it like every lm_ function whose first argument is p_owner).
#
# Usage: tests/cluster/run.sh PATH/TO/llmemory
# Prints TAP lines and "cluster: N passed, N failed, N skipped".
set -u
bin=${1:?usage: $0 PATH/TO/llmemory}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { # description, command...
    local d=$1
    shift
    if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "$(echo "$out" | head -5)"; fi
}
finish() {
    echo "cluster: $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
    exit
}
if [ ! -f /usr/share/postgresql/15/extension/plproxy.control ]; then
    echo "# plproxy is not installed (scripts/deps.sh installs it)"
    skip=1
    finish
fi

dirs=()
cleanup() { for d in "${dirs[@]}"; do sh "$root/scripts/pg-test-cluster.sh" stop "$d"; done; }
trap cleanup EXIT INT TERM
start() { # name -> sets <name>_dir, <name>_url
    local env
    env=$(LLMEMORY_TEST_PG_SETTINGS="wal_level = logical" sh "$root/scripts/pg-test-cluster.sh" start) ||
        { not_ok "start cluster $1"; finish; }
    eval "$env"
    dirs+=("$LLMEMORY_TEST_PG_DIR")
    eval "${1}_dir=\$LLMEMORY_TEST_PG_DIR ${1}_url=\$LLMEMORY_TEST_DATABASE_URL"
}
start proxy
start s0
start s1
shard_url=("$s0_url" "$s1_url")
shard_dir=("$s0_dir" "$s1_dir")
export LLMEMORY_EMBEDDER=builtin
unset LLMEMORY_DATABASE_URL DATABASE_URL LLMEMORY_SCHEMA
L() { "$bin" "$@"; }
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$1" -c "$2"; } # url, sql

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

# ---- move under concurrent writes -----------------------------------------------------------
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
sleep 0.5
move=$(L cluster move-tenant alice --to "$to" --proxy "$proxy_url" --json)
move_rc=$?
wait "$writer" "$libwriter"
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
retried=$(grep -c "moved to shard" "$log.err" || true)
echo "# writes retried after the fence: $retried"
check "the source holds no row of alice" \
    test "$(q "${shard_url[$from]}" "SELECT sum(row_count) FROM llmemory.lm_tenant_digest('alice')")" = 0
check "BM25 statistics and postings on the target are exact" test "$(stats_exact "${shard_url[$to]}" alice)" = t
check "chunk numbers stay unique" test "$(q "${shard_url[$to]}" "SELECT count(*) = count(DISTINCT chunk_no) FROM llmemory.chunks WHERE owner_id = 'alice'")" = t
rm -f "$log" "$log.err" "$log.lib"

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
    test "$all_p" = "$all_s" -a "$(echo "$all_p" | wc -l)" -eq 5
check "sync migrates every shard and routes again" L cluster sync --proxy "$proxy_url"
check "a new shard leaves the unplaced tenants where they hash" \
    test "$(for t in carol dave; do shard_of $t; done)" = "$hashed_before"

# ---- failure: one shard stopped -------------------------------------------------------------
down=$(shard_of carol)
up=$((1 - down))
other=""
for t in $tenants; do [ "$(shard_of "$t")" = "$up" ] && other=$t; done
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
finish

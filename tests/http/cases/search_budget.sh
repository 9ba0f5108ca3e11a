# The server-wide search budget (--search-slots): all tenants' searches together hold at most
# that many slots (each its lm_search_cost weight, --search-slot-cost). When it is full, the
# tenant holding least of it goes next, not the search that came first: a victim's search passes
# a noisy tenant's earlier one. A one-slot search of a tenant holding none does not wait.
# Searches are held in the database by locking the search history from outside: a search that
# records its history waits there, holding its budget; one with no_history=true runs through.
command -v psql >/dev/null 2>&1 || skip "psql is needed to hold the search history"
ka=$(new_key "$P-a")
kb=$(new_key "$P-b")
kc=$(new_key "$P-c")
printf 'search-budget-operator-token\n' >"$HTTP_TMP/op"
start_server "$HTTP_TMP/srv" --threads 8 --tenant-requests 4 --tenant-queue 1 \
    --search-slot-cost 100 --search-slots 4 --operator-token-file "$HTTP_TMP/op"
budget() { # the search budget's gauges from /metrics
    curl -s --max-time 5 -H "Authorization: Bearer search-budget-operator-token" "$SURL/metrics" |
        sed -n 's/^llmemory_http_search_budget_slots{state="\(used\|max\)"} /\1=/p' | tr '\n' ' '
}
[ "$(budget)" = "used=0 max=4 " ] || fail "quiet budget: $(budget)"
blocked() { # N: at least N searches wait on the history lock
    [ "$(psql "$HTTP_DB" -qAt -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (query LIKE '%lm_search(%' OR query LIKE '%search_history%') AND pid <> pg_backend_pid()")" -ge "$1" ]
}
search() { # KEY QUERY-STRING OUTFILE: in the background; OUTFILE gets the status when done
    curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $1" \
        "$SURL/v1/search?q=budget&$2" >"$3.tmp" 2>/dev/null
    mv "$3.tmp" "$3"
}
psql "$HTTP_DB" -qAt -c "BEGIN; LOCK TABLE $HTTP_SCHEMA.search_history IN EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
lockpid=$!
echo $lockpid >>"$HTTP_TMP/pids"
wait_until "the history lock" sh -c "[ \"\$(psql '$HTTP_DB' -qAt -c \"SELECT count(*) FROM pg_locks WHERE relation = '$HTTP_SCHEMA.search_history'::regclass AND mode = 'ExclusiveLock' AND granted\")\" -ge 1 ]"
# A and C each run a search of cost 200 (two slots): the budget of 4 is full.
search "$ka" candidates=200 "$HTTP_TMP/a1" &
wait_until "A's search to hold the budget" blocked 1
search "$kc" candidates=200 "$HTTP_TMP/c1" &
wait_until "C's search to hold the budget" blocked 2
# /metrics is rendered at most every METRICS_REUSE_MS (handler_health.c): wait for the gauges.
budget_is() { [ "$(budget)" = "$1" ]; }
wait_until "the full budget in /metrics (now $(budget))" budget_is "used=4 max=4 "
# A's second costly search waits for the budget (its own share, 4, has room).
search "$ka" "candidates=200&no_history=true" "$HTTP_TMP/a2" &
sleep 0.5
[ ! -e "$HTTP_TMP/a2" ] || fail "A's search ran past the full budget: $(cat "$HTTP_TMP/a2")"
# Past A's queue (1): 429 with Retry-After.
curl -s -D "$HTTP_TMP/h" -o /dev/null --max-time 5 -H "Authorization: Bearer $ka" \
    "$SURL/v1/search?q=budget&candidates=200&no_history=true" >/dev/null
grep -q '^HTTP/1.1 429' "$HTTP_TMP/h" || fail "A past its queue: $(head -1 "$HTTP_TMP/h")"
grep -qi '^Retry-After: [0-9]' "$HTTP_TMP/h" || fail "429 without Retry-After"
# B holds nothing: its cheap search (cost 50, one slot) is served at once.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $kb" \
    "$SURL/v1/search?q=budget&no_history=true")
[ "$code" = 200 ] || fail "B's cheap search with the budget full got $code"
# B's costly search (recording its history) waits behind A's, which came first...
search "$kb" candidates=200 "$HTTP_TMP/b1" &
sleep 0.5
[ ! -e "$HTTP_TMP/b1" ] && ! blocked 3 || fail "B's costly search ran past the full budget"
# ...until C's search ends (cancelled): the two slots go to B (holding none), whose search then
# waits on the history lock, not to A (holding two), whose search would run through.
psql "$HTTP_DB" -qAt -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (query LIKE '%lm_search(%' OR query LIKE '%search_history%') AND pid <> pg_backend_pid() ORDER BY query_start DESC LIMIT 1" >/dev/null
wait_until "C's search to end" test -e "$HTTP_TMP/c1"
sleep 0.5
[ ! -e "$HTTP_TMP/a2" ] || fail "A's second search was served before B's (first come, first served)"
wait_until "B's search to hold the budget" blocked 2
# When the lock goes (its holder's sleep cancelled), A's first search ends and its second runs.
psql "$HTTP_DB" -qAt -c "SELECT pg_cancel_backend(pid) FROM pg_locks WHERE relation = '$HTTP_SCHEMA.search_history'::regclass AND mode = 'ExclusiveLock' AND granted" >/dev/null
wait $lockpid
wait_until "A's searches to be served" test -e "$HTTP_TMP/a2"
wait_until "B's search to be served" test -e "$HTTP_TMP/b1"
[ "$(cat "$HTTP_TMP/b1")" = 200 ] || fail "B's costly search got $(cat "$HTTP_TMP/b1")"
[ "$(cat "$HTTP_TMP/a1")" = 200 ] || fail "A's first search got $(cat "$HTTP_TMP/a1")"
[ "$(cat "$HTTP_TMP/a2")" = 200 ] || fail "A's second search got $(cat "$HTTP_TMP/a2")"
wait_until "the budget to be given back" sh -c "[ \"\$(curl -s -H 'Authorization: Bearer search-budget-operator-token' '$SURL/metrics' | grep -c 'search_budget_slots{state=\"used\"} 0')\" = 1 ]"
stop_server "$SPID"

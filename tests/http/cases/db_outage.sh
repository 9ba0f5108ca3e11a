# The database goes away and comes back: /readyz (within its one-second refresh) and data calls
# answer 503 (never crash or hang),
# /healthz stays 200, and everything works again once the database is back. Uses a throwaway
# cluster of its own.
bindir=${LLMEMORY_PG_BINDIR:-/usr/lib/postgresql/15/bin}
[ -x "$bindir/pg_ctl" ] || skip "no PostgreSQL binaries in $bindir"
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
eval "$(sh "$HTTP_ROOT/scripts/pg-test-cluster.sh" start)" || fail "could not start a cluster"
pgdir=$LLMEMORY_TEST_PG_DIR
trap 'sh "$HTTP_ROOT/scripts/pg-test-cluster.sh" stop "$pgdir"' EXIT
HTTP_DB=$LLMEMORY_TEST_DATABASE_URL
k=$(new_key "$P-acme")
[ -n "$k" ] || fail "no key"
start_server "$HTTP_TMP/srv"
call() { STATUS=$(curl -s -o "$HTTP_TMP/b" -w '%{http_code}' --max-time 30 "$@"); BODY=$(cat "$HTTP_TMP/b"); }

call "$SURL/readyz"
[ "$STATUS" = 200 ] || fail "readyz: $STATUS"
call -H "Authorization: Bearer $k" "$SURL/v1/statistics"
[ "$STATUS" = 200 ] || fail "statistics: $STATUS"

as_owner "$bindir/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null || fail "could not stop the cluster"
# /readyz reports the server's last check of the database, made at most a second ago.
readyz_is() { call "$SURL/readyz"; [ "$STATUS" = "$1" ]; }
wait_until "readyz to answer 503 without a database" readyz_is 503
expect_json error.code unavailable
call -H "Authorization: Bearer $k" "$SURL/v1/search?q=x"
[ "$STATUS" = 503 ] || fail "search without a database: $STATUS"
printf '%s\n' "$BODY" | grep -q '"detail"' || fail "no error body"
call "$SURL/healthz"
[ "$STATUS" = 200 ] || fail "healthz without a database: $STATUS"

as_owner "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w start >/dev/null ||
    fail "could not restart the cluster"
wait_until "readyz to answer 200 after the restart" readyz_is 200
call -H "Authorization: Bearer $k" "$SURL/v1/statistics"
[ "$STATUS" = 200 ] || fail "statistics after the restart: $STATUS"
stop_server "$SPID"

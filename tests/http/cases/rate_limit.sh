# Optional per-tenant rate limit (token bucket): beyond the burst, 429 with Retry-After; other
# tenants are not affected. Off by default (the shared server has none).
ka=$(new_key "$P-a")
kb=$(new_key "$P-b")
# One token per 1000 s: however slow the machine, no token comes back while the case runs.
start_server "$HTTP_TMP/srv" --rate-limit 0.001 --rate-burst 3
code() { curl -s -o "$HTTP_TMP/b" -D "$HTTP_TMP/h" -w '%{http_code}' -H "Authorization: Bearer $1" "$SURL/v1/statistics"; }
for i in 1 2 3; do
    c=$(code "$ka")
    [ "$c" = 200 ] || fail "request $i of the burst got $c"
done
c=$(code "$ka")
[ "$c" = 429 ] || fail "request beyond the burst got $c"
grep -qi '^retry-after: [1-9]' "$HTTP_TMP/h" || fail "no Retry-After"
grep -q '"code":"rate_limited"' "$HTTP_TMP/b" || fail "error code"
c=$(code "$kb")
[ "$c" = 200 ] || fail "another tenant got $c"
# Health endpoints are not limited.
for i in 1 2 3 4 5; do
    c=$(curl -s -o /dev/null -w '%{http_code}' "$SURL/healthz")
    [ "$c" = 200 ] || fail "healthz got $c"
done
curl -s -H "Authorization: Bearer $LLMEMORY_OPERATOR_TOKEN" "$SURL/metrics" |
    grep -q '^llmemory_rate_limited_total 1$' || fail "metric"
stop_server "$SPID"
# The shared server has no limit.
k=$(new_key "$P-c")
for i in 1 2 3 4 5 6 7 8; do
    get "$k" /v1/whoami
    expect_status 200
done

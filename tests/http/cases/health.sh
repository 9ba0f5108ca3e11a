# /healthz, /readyz and /metrics answer without credentials, in JSON (health) and Prometheus text.
req GET /healthz
expect_status 200
expect_json status ok
expect_header "content-type: application/json"
expect_header "x-request-id:"

req GET /readyz
expect_status 200
expect_json status ready
expect_json schema "$HTTP_SCHEMA"

# A request id the client chose comes back; an unusable one is replaced.
req GET /healthz -H "X-Request-Id: trace-42.a"
expect_header "x-request-id: trace-42.a"
req GET /healthz -H "X-Request-Id: bad id with spaces"
expect_status 200
printf '%s\n' "$HDRS" | grep -qi "x-request-id: bad" && fail "kept an unusable request id"

# Metrics: counters, per-route and per-search-type histograms, pool usage, queue depth.
k=$(new_key "$P-m")
get "$k" "/v1/search?q=metrics"
expect_status 200
req GET /metrics -H "Authorization: Bearer $LLMEMORY_OPERATOR_TOKEN"
expect_status 200
expect_header "content-type: text/plain; version=0.0.4"
for m in 'llmemory_http_requests_total{method="GET",route="/healthz",status="200"}' \
    'llmemory_http_request_duration_seconds_bucket{method="GET",route="/v1/search",le="+Inf"}' \
    'llmemory_search_duration_seconds_count{type="text"}' \
    'llmemory_search_duration_seconds_bucket{type="hybrid",le="0.001"}' \
    'llmemory_http_errors_total{code="unauthenticated"}' \
    'llmemory_db_pool_connections{state="max"} 4' \
    'llmemory_http_in_flight_requests' \
    'llmemory_http_queued_requests' \
    'llmemory_embedding_queue_depth{state="pending"}' \
    'llmemory_embedding_queue_depth{state="dead"}' \
    '# TYPE llmemory_http_request_duration_seconds histogram'; do
    expect_body "$m"
done
# Labels never carry tenants or keys.
expect_no_body "$P-m"
expect_no_body "$k"
# Every sample line is "name{labels} value" or "name value".
printf '%s\n' "$BODY" | grep -v '^#' | grep -vE '^[a-z_]+(\{.*\})? [0-9.e+-]+$' | head -n 3 |
    grep -q . && fail "malformed metric lines"

# Without the operator token (none, a tenant's key, a wrong token): nothing that moves with
# any tenant's activity, only the build, the start time and readiness.
for auth in "" "Authorization: Bearer $k" "Authorization: Bearer ${LLMEMORY_OPERATOR_TOKEN}x" \
    "Authorization: Bearer ${LLMEMORY_OPERATOR_TOKEN%?}"; do
    req GET /metrics ${auth:+-H "$auth"}
    expect_status 200
    expect_body 'llmemory_build_info{version="'
    expect_body 'llmemory_ready 1'
    expect_body 'llmemory_process_start_time_seconds'
    for m in llmemory_http_requests_total llmemory_search_duration llmemory_http_errors_total \
        llmemory_db_pool_connections llmemory_embedding_queue_depth llmemory_http_in_flight; do
        expect_no_body "$m"
    done
    printf '%s\n' "$BODY" | grep -v '^#' | grep -vE '^[a-z_]+(\{.*\})? [0-9.e+-]+$' | head -n 3 |
        grep -q . && fail "malformed metric lines"
done
true

# Tenants near their quotas: 12 series (kind x threshold) whatever the number of tenants, no
# tenant named; a tenant at its document limit is counted within a few seconds (the counts are
# cached for 5 s off the request path). Operator information: only with the operator token.
near() {
    req GET /metrics -H "Authorization: Bearer $LLMEMORY_OPERATOR_TOKEN"
    printf '%s\n' "$BODY" | sed -n "s/^llmemory_tenants_near_quota{kind=\"documents\",threshold=\"1\"} //p"
}
before=$(near)
[ -n "$before" ] || fail "no near-quota gauge"
req GET /metrics -H "Authorization: Bearer $LLMEMORY_OPERATOR_TOKEN"
[ "$(printf '%s\n' "$BODY" | grep -c '^llmemory_tenants_near_quota{')" -eq 12 ] || fail "12 series expected"
expect_body 'llmemory_tenants_near_quota{kind="bytes",threshold="0.8"}'
expect_body '# TYPE llmemory_tenants_near_quota gauge'
"$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" quota set --owner "$P-full" \
    --documents 1 >/dev/null 2>&1 </dev/null || fail "quota set"
kf=$(new_key "$P-full")
add_doc "$kf" one "The only document allowed." >/dev/null
after=$before
for _ in $(seq 60); do
    after=$(near)
    [ "$after" -gt "$before" ] && break
    sleep 0.25
done
[ "$after" -gt "$before" ] || fail "near-quota gauge did not count the full tenant ($before -> $after)"
req GET /metrics -H "Authorization: Bearer $LLMEMORY_OPERATOR_TOKEN"
expect_no_body "$P-full"

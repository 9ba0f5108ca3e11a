# Searches weigh their tenant's share by estimated cost (--search-slot-cost): a costly search
# waits, holding no worker, until the tenant has room for its weight; a cheap one still runs
# beside the tenant's other requests; another tenant is served meanwhile. A's writer is held by
# holding A's write lock from outside, so it keeps one of A's two slots.
command -v psql >/dev/null 2>&1 || skip "psql is needed to hold a tenant's lock"
ka=$(new_key "$P-a" --scope write)
kb=$(new_key "$P-b")
start_server "$HTTP_TMP/srv" --threads 4 --tenant-requests 2 --tenant-queue 1 \
    --search-slot-cost 100
code_of() { # KEY PATH [BODY]: the status of one request, within 5 s
    if [ $# -ge 3 ]; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $1" \
            -H 'Content-Type: application/json' --data-binary "$3" "$SURL$2"
    else
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $1" "$SURL$2"
    fi
}
for how in get post; do
    rm -f "$HTTP_TMP/add"
    tenant_lock_hold "$P-a"
    curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $ka" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"id_at_origin\":\"c-$how\",\"name\":\"c\",\"content\":\"cost words\"}" \
        "$SURL/v1/documents" >"$HTTP_TMP/add" &
    addpid=$!
    wait_until "A's writer to wait on its lock" tenant_lock_writer_waits "$P-a" "$HTTP_TMP/add"
    # Cost 100 (candidates=100, text): one slot, beside the writer.
    code=$(code_of "$ka" "/v1/search?q=cost&candidates=100")
    [ "$code" = 200 ] || fail "$how: A's cheap search beside its writer got $code"
    # Cost 500: five slots, so the whole share: it waits for the writer.
    if [ $how = get ]; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $ka" \
            "$SURL/v1/search?q=cost&candidates=500" >"$HTTP_TMP/heavy" &
    else
        curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $ka" \
            -H 'Content-Type: application/json' \
            --data-binary '{"query":"cost","candidates":500}' \
            "$SURL/v1/search" >"$HTTP_TMP/heavy" &
    fi
    heavypid=$!
    sleep 0.5
    [ ! -s "$HTTP_TMP/heavy" ] || fail "$how: A's costly search ran beside its writer"
    # The costly search fills A's queue: a cheap one does not pass it and gets 429 at once.
    curl -s -D "$HTTP_TMP/h" -o /dev/null --max-time 5 -H "Authorization: Bearer $ka" \
        "$SURL/v1/search?q=cost" >/dev/null
    grep -q '^HTTP/1.1 429' "$HTTP_TMP/h" || fail "$how: A's request over its share: $(head -1 "$HTTP_TMP/h")"
    grep -qi '^Retry-After: [0-9]' "$HTTP_TMP/h" || fail "$how: 429 without Retry-After"
    # B is served at once.
    code=$(code_of "$kb" "/v1/search?q=cost&candidates=500")
    [ "$code" = 200 ] || fail "$how: tenant B got $code"
    tenant_lock_release "$P-a"
    wait $addpid $heavypid
    [ "$(cat "$HTTP_TMP/add")" = 201 ] || fail "$how: A's add got $(cat "$HTTP_TMP/add")"
    [ "$(cat "$HTTP_TMP/heavy")" = 200 ] || fail "$how: A's costly search got $(cat "$HTTP_TMP/heavy")"
done
stop_server "$SPID"

# Searches through POST /mcp weigh their tenant's share like /v1/search (--search-slot-cost,
# lm_search_cost of the tool's mode and limit): a costly MCP search waits, holding no worker,
# until its tenant has room; over the share the answer is 429 with Retry-After and a JSON-RPC
# error (-32000, data.code tenant_busy) for the request's id; another tenant is served meanwhile.
# A's writer is held by holding A's write lock from outside, so it keeps one of A's two slots.
command -v psql >/dev/null 2>&1 || skip "psql is needed to hold a tenant's lock"
ka=$(new_key "$P-a" --scope write)
kb=$(new_key "$P-b")
start_server "$HTTP_TMP/srv" --threads 4 --tenant-requests 2 --tenant-queue 1 \
    --search-slot-cost 100 --search-slots 8
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
session() { # KEY: a new MCP session's id
    curl -s -D "$HTTP_TMP/sh" -o /dev/null --max-time 5 -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        --data-binary "$init" "$SURL/mcp"
    sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p' "$HTTP_TMP/sh" | tr -d '\r'
}
mcp() { # KEY SESSION ID ARGS [curl options]: a search tool call
    local k=$1 s=$2 id=$3 args=$4
    shift 4
    curl -s --max-time 60 -H "Authorization: Bearer $k" -H "Mcp-Session-Id: $s" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        --data-binary "{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"tools/call\",\"params\":{\"name\":\"search\",\"arguments\":$args}}" \
        "$@" "$SURL/mcp"
}
sa=$(session "$ka")
sb=$(session "$kb")
[ -n "$sa" ] && [ -n "$sb" ] || fail "no MCP session"
rm -f "$HTTP_TMP/add"
tenant_lock_hold "$P-a"
curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $ka" \
    -H 'Content-Type: application/json' \
    --data-binary '{"id_at_origin":"c-mcp","name":"c","content":"cost words"}' \
    "$SURL/v1/documents" >"$HTTP_TMP/add" &
addpid=$!
wait_until "A's writer to wait on its lock" tenant_lock_writer_waits "$P-a" "$HTTP_TMP/add"
# The default search tool call (text, limit 10: cost 50): one slot, beside the writer.
out=$(mcp "$ka" "$sa" 2 '{"query":"cost"}' -w ' %{http_code}')
case $out in *' 200') ;; *) fail "A's cheap MCP search beside its writer: $out" ;; esac
# limit 100 (cost 200): two slots, the whole share: it waits for the writer.
mcp "$ka" "$sa" 3 '{"query":"cost","limit":100}' -o "$HTTP_TMP/heavy" -w '%{http_code}' \
    >"$HTTP_TMP/heavy.code" &
heavypid=$!
sleep 0.5
[ ! -s "$HTTP_TMP/heavy.code" ] || fail "A's costly MCP search ran beside its writer"
# It fills A's queue: the next call gets 429, Retry-After and the JSON-RPC error for its id.
mcp "$ka" "$sa" 4 '{"query":"cost"}' -D "$HTTP_TMP/h" -o "$HTTP_TMP/busy" >/dev/null
grep -q '^HTTP/1.1 429' "$HTTP_TMP/h" || fail "A's MCP call over its share: $(head -1 "$HTTP_TMP/h")"
grep -qi '^Retry-After: [0-9]' "$HTTP_TMP/h" || fail "429 without Retry-After"
grep -q '"id":4' "$HTTP_TMP/busy" || fail "the 429 does not answer id 4: $(cat "$HTTP_TMP/busy")"
grep -q '"code":-32000' "$HTTP_TMP/busy" || fail "no JSON-RPC error: $(cat "$HTTP_TMP/busy")"
grep -q '"tenant_busy"' "$HTTP_TMP/busy" || fail "no tenant_busy: $(cat "$HTTP_TMP/busy")"
grep -q '"retry_after":1' "$HTTP_TMP/busy" || fail "no retry_after: $(cat "$HTTP_TMP/busy")"
# B is served at once, its costly search included.
out=$(mcp "$kb" "$sb" 5 '{"query":"cost","limit":100}' -w ' %{http_code}')
case $out in *'"isError":true'*) fail "tenant B's MCP search: $out" ;; *'"result"'*' 200') ;; *) fail "tenant B's MCP search: $out" ;; esac
tenant_lock_release "$P-a"
wait $addpid $heavypid
[ "$(cat "$HTTP_TMP/add")" = 201 ] || fail "A's add got $(cat "$HTTP_TMP/add")"
[ "$(cat "$HTTP_TMP/heavy.code")" = 200 ] || fail "A's costly MCP search got $(cat "$HTTP_TMP/heavy.code")"
grep -q '"result"' "$HTTP_TMP/heavy" && ! grep -q '"isError":true' "$HTTP_TMP/heavy" || fail "A's costly MCP search: $(cat "$HTTP_TMP/heavy")"
# The refusal is counted with the other 429s.
grep -q '"tenant_busy"' "$HTTP_TMP/srv/log" || grep -q 'tenant_busy' "$HTTP_TMP/srv/log" ||
    fail "the 429 is not in the access log"
stop_server "$SPID"

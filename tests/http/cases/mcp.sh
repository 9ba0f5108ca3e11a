# POST and DELETE /mcp: the Model Context Protocol's HTTP rules as the REST suite sees them
# (sessions, Origin, credentials). tests/mcp drives the protocol itself with the MCP SDK.
k=$(new_key "$P-acme")
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
req POST /mcp -H 'Content-Type: application/json' --data-binary "$init"
expect_status 401
post "$k" /mcp "$init" -H 'Origin: http://attacker.example'
expect_status 403
post "$k" /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
expect_status 400
expect_body '"code":-32600'
post "$k" /mcp '{"jsonrpc":"2.0",'
expect_status 400
expect_body '"code":-32700'
post "$k" /mcp "$init" -H 'Accept: text/html'
expect_status 406
post "$k" /mcp "$init"
expect_status 200
expect_json result.protocolVersion 2025-11-25
sid=$(printf '%s\n' "$HDRS" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p')
[ -n "$sid" ] || fail "no Mcp-Session-Id"
post "$k" /mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "Mcp-Session-Id: $sid"
expect_status 202
post "$k" /mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"stats"}}' \
    -H "Mcp-Session-Id: $sid"
expect_status 200
expect_json result.structuredContent.document_count 0
# Another tenant's credential does not find the session.
k2=$(new_key "$P-other")
post "$k2" /mcp '{"jsonrpc":"2.0","id":4,"method":"ping"}' -H "Mcp-Session-Id: $sid"
expect_status 404
req GET /mcp -H "Authorization: Bearer $k"
expect_status 405
del "$k" /mcp -H "Mcp-Session-Id: $sid"
expect_status 204
del "$k" /mcp -H "Mcp-Session-Id: $sid"
expect_status 404
del "$k" /mcp
expect_status 400

# A JWT works as an API key does: its tenant and scope. A read-scope token cannot remember.
now=$(date +%s)
t=$(perl "$HTTP_JWT" hs256 "$HTTP_JWT_SECRET" "{\"owner_id\":\"$P-acme\",\"exp\":$((now + 600)),\"scope\":\"read\"}")
post "$t" /mcp "$init"
expect_status 200
tsid=$(printf '%s\n' "$HDRS" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *//p')
post "$t" /mcp '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"remember","arguments":{"text":"x"}}}' \
    -H "Mcp-Session-Id: $tsid"
expect_status 200
expect_json result.isError true
expect_body 'permission denied'
# The token's session is the tenant's: the API key of the same tenant may use it.
post "$k" /mcp '{"jsonrpc":"2.0","id":6,"method":"ping"}' -H "Mcp-Session-Id: $tsid"
expect_status 200

# A key bound to one origin sees one document; MCP works on the whole tenant: refused.
ko=$(new_key "$P-acme" --origin doc-1)
post "$ko" /mcp "$init"
expect_status 403

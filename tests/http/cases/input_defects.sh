# Small input defects from the abuse review: an empty ?owner_id= is 422 (not 403), an owner_id
# with a NUL is 422 (not the prefix before it), blank content is refused as the CLI refuses it,
# and a JWT whose origin claim the library would refuse is no credential (401, not 422 later).
k=$(new_key "$P-acme" --scope write)
get "$k" "/v1/documents?owner_id="
expect_status 422
expect_error invalid_argument
expect_json error.field owner_id
post "$k" /v1/documents "{\"owner_id\":\"$P-acme\\u0000x\",\"id_at_origin\":\"n\",\"content\":\"nul owner\"}"
expect_status 422
expect_json error.field owner_id
for c in '' '   ' '\n\t '; do
    post "$k" /v1/documents "{\"id_at_origin\":\"blank\",\"content\":\"$c\"}"
    expect_status 422
    expect_error invalid_argument
    expect_json error.field content
done
get "$k" /v1/documents
expect_status 200
expect_json total 0

# JWT origin claim: a server bound to an origin claim refuses a token whose origin is invalid.
start_server "$HTTP_TMP/srv" --jwt-secret-file "$HTTP_JWT_SECRET" --jwt-origin-claim origin \
    --access-log off
exp=$(($(date +%s) + 3600))
bad=$(perl "$HTTP_JWT" hs256 "$HTTP_JWT_SECRET" "{\"owner_id\":\"$P-acme\",\"exp\":$exp,\"origin\":\"has space\"}")
STATUS=$(curl -s -o "$HTTP_TMP/b" -w '%{http_code}' -H "Authorization: Bearer $bad" "$SURL/v1/whoami")
BODY=$(cat "$HTTP_TMP/b")
[ "$STATUS" = 401 ] || fail "token with an invalid origin claim got $STATUS"
expect_error unauthenticated
good=$(perl "$HTTP_JWT" hs256 "$HTTP_JWT_SECRET" "{\"owner_id\":\"$P-acme\",\"exp\":$exp,\"origin\":\"user-1\"}")
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $good" "$SURL/v1/whoami")
[ "$STATUS" = 200 ] || fail "token with a valid origin claim got $STATUS"
stop_server "$SPID"

# Metadata numbers beyond 64-bit integers: refused, so the tenant's list stays readable.
post "$k" /v1/documents '{"id_at_origin":"big","content":"big number","metadata":{"a":1e19}}'
expect_status 422
expect_json error.field metadata

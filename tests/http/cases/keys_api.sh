# Scopes (read < write < admin) and key management over HTTP: an admin manages its own tenant's
# keys and cannot hand out more than it has.
kr=$(new_key "$P-acme" --scope read)
kw=$(new_key "$P-acme" --scope write)
ka=$(new_key "$P-acme" --scope admin --name "admin key")

# read: get, list, search, statistics; not add or delete.
d=$(add_doc "$kw" doc1 "Readable text.")
get "$kr" /v1/documents
expect_status 200
get "$kr" "/v1/documents/$d"
expect_status 200
get "$kr" "/v1/search?q=readable"
expect_status 200
post "$kr" /v1/search '{"query":"readable"}'
expect_status 200
get "$kr" /v1/statistics
expect_status 200
post "$kr" /v1/documents '{"id_at_origin":"x","content":"no"}'
expect_status 403
expect_error permission_denied
del "$kr" "/v1/documents/$d"
expect_status 403
post "$kr" /v1/documents/delete "{\"document_ids\":[\"$d\"]}"
expect_status 403
get "$kw" /v1/keys
expect_status 403
post "$kw" /v1/keys '{}'
expect_status 403
del "$kw" /v1/keys/0123456789abcdef
expect_status 403

# admin: list, create, revoke.
get "$ka" /v1/keys
expect_status 200
expect_json owner_id "$P-acme"
expect_json count 3
json keys.*.scope | sort | tr '\n' ' ' | grep -qx "admin read write " || fail "scopes listed: $(json keys.*.scope)"
expect_no_body "$(printf '%s' "$kw" | cut -c22-)"
json keys.*.name | grep -qx "admin key" || fail "name not listed"

post "$ka" /v1/keys '{"scope":"read","name":"ci","expires_at":"2099-01-01T00:00:00Z"}'
expect_status 201
expect_json owner_id "$P-acme"
expect_json scope read
expect_json name ci
new=$(json key)
newid=$(json key_id)
case $new in lmk_"$newid"_*) ;; *) fail "key $new does not carry its id $newid" ;; esac
[ "$(json expires_at | cut -c1-10)" = 2099-01-01 ] || fail "expires_at"
get "$new" /v1/whoami
expect_status 200
expect_json scope read
expect_json key_id "$newid"
post "$ka" /v1/keys '{"scope":"write","origin":"user-7"}'
expect_status 201
expect_json origin user-7

# Never more than the creator has.
post "$ka" /v1/keys '{"allow_subtenants":true}'
expect_status 403
expect_json error.field allow_subtenants
post "$ka" /v1/keys '{"scope":"root"}'
expect_status 422
post "$ka" /v1/keys '{"expires_at":"2001-01-01T00:00:00Z"}'
expect_status 422
expect_json error.field expires_at
post "$ka" /v1/keys '{"secret":"mine"}'
expect_status 422
post "$ka" /v1/keys "{\"owner_id\":\"$P-other\"}"
expect_status 403

# Revoke: effective at once; unknown or malformed ids are 404.
del "$ka" "/v1/keys/$newid"
expect_status 200
expect_json revoked true
get "$new" /v1/whoami
expect_status 401
del "$ka" "/v1/keys/$newid"
expect_status 200
del "$ka" /v1/keys/0123456789abcdef
expect_status 404
del "$ka" /v1/keys/nothex
expect_status 404
get "$ka" /v1/keys
json keys.*.revoked_at | grep -qv null || fail "revoked key shows no revoked_at"

# An admin allowed sub-tenants manages their keys too.
kas=$(new_key "$P-acme" --scope admin --subtenants)
post "$kas" /v1/keys "{\"owner_id\":\"$P-acme/team\",\"scope\":\"write\",\"allow_subtenants\":true}"
expect_status 201
expect_json owner_id "$P-acme/team"
tid=$(json key_id)
get "$ka" /v1/keys
expect_no_body "$tid"
get "$kas" /v1/keys
expect_body "$tid"
del "$ka" "/v1/keys/$tid"
expect_status 404
del "$kas" "/v1/keys/$tid"
expect_status 200

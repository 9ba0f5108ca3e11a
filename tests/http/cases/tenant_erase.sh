# DELETE /v1/tenant (admin scope) erases every trace of the tenant, its keys included, and
# reports counts per kind; another tenant (and a sub-tenant) keep everything.
ka=$(new_key "$P-acme" --scope admin --subtenants)
kw=$(new_key "$P-acme")
kb=$(new_key "$P-globex" --scope admin)
add_doc "$kw" a "Alpha report about quarterly expenses." >/dev/null
add_doc "$kw" b "Beta memo about parking." >/dev/null
add_doc "$kb" g "Globex plan about expenses too." >/dev/null
post "$ka" "/v1/documents?owner_id=$P-acme/sub" '{"id_at_origin":"s","content":"Sub-tenant note."}'
expect_status 201
get "$kw" "/v1/search?q=expenses"
get "$kb" "/v1/search?q=expenses&no_history=true"
before="$(json results.*.id_at_origin) $(json results.*.score)"

del "$kw" /v1/tenant
expect_status 403
del "$ka" "/v1/tenant?owner_id=$P-globex"
expect_status 403
del "$ka" /v1/tenant
expect_status 200
expect_json owner_id "$P-acme"
expect_json deleted.documents 2
expect_json deleted.history 1
expect_json deleted.api_keys 2
[ "$(json deleted.chunks)" -ge 2 ] || fail "chunks"
[ "$(json deleted.postings)" -gt 0 ] || fail "postings"
# The tenant's keys are gone with it.
get "$kw" /v1/statistics
expect_status 401
# Globex and the sub-tenant are untouched.
get "$kb" "/v1/search?q=expenses&no_history=true"
[ "$(json results.*.id_at_origin) $(json results.*.score)" = "$before" ] || fail "globex changed"
get "$kb" /v1/statistics
expect_json document_count 1
ks=$(new_key "$P-acme/sub")
get "$ks" /v1/statistics
expect_json document_count 1
# ?wait=false: 202 as soon as the tenant is invisible; the server deletes the rows in the
# background, and only then may the owner id be used again (a key for it is refused until then).
kx=$(new_key "$P-initech" --scope admin)
add_doc "$kx" i "Initech memo about staplers." >/dev/null
del "$kx" "/v1/tenant?wait=false"
expect_status 202
expect_json cleanup pending
expect_json deleted.documents 1
expect_json deleted.api_keys 1
get "$kx" /v1/statistics
expect_status 401
ky=""
for _ in $(seq 100); do
    ky=$(new_key "$P-initech") && break
    sleep 0.1
done
[ -n "$ky" ] || fail "owner id not free after the background cleanup"
get "$ky" /v1/statistics
expect_status 200
expect_json document_count 0
get "$kb" /v1/statistics
expect_json document_count 1

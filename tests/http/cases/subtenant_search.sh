# One search over a tenant and its sub-tenants (include_subtenants): only with a key that allows
# sub-tenants; hits carry their owner_id; nothing of a sibling prefix ("<org>x") or of another
# tenant; the sub-tenant's own key sees only its subtree.
k=$(new_key "$P-org")
ks=$(new_key "$P-org" --subtenants)
add_doc "$k" d1 "Org pineapple plan." >/dev/null
post "$ks" /v1/documents "{\"owner_id\":\"$P-org/a\",\"id_at_origin\":\"d1\",\"content\":\"Team a pineapple.\"}"
expect_status 201
post "$ks" /v1/documents "{\"owner_id\":\"$P-org/b\",\"id_at_origin\":\"d1\",\"content\":\"Team b pineapple.\"}"
expect_status 201
kx=$(new_key "$P-orgx")
add_doc "$kx" d1 "Orgx pineapple secret." >/dev/null

get "$k" "/v1/search?q=pineapple&include_subtenants=true"
expect_status 403
expect_error permission_denied
expect_json error.field include_subtenants
post "$k" /v1/search '{"query":"pineapple","include_subtenants":true}'
expect_status 403

get "$ks" "/v1/search?q=pineapple&include_subtenants=true"
expect_status 200
expect_json count 3
expect_json results.0.owner_id "$P-org"
expect_json results.1.owner_id "$P-org/a"
expect_json results.2.owner_id "$P-org/b"
post "$ks" /v1/search '{"query":"pineapple","include_subtenants":true,"type":"hybrid"}'
expect_status 200
expect_json count 3
case $BODY in *"$P-orgx"*) fail "a sibling prefix leaked: $BODY" ;; esac
# Without the option: the tenant alone.
get "$ks" "/v1/search?q=pineapple"
expect_json count 1
# From a sub-tenant: its subtree only, never the parent.
get "$ks" "/v1/search?q=pineapple&include_subtenants=true&owner_id=$P-org/a"
expect_status 200
expect_json count 1
expect_json results.0.owner_id "$P-org/a"
get "$ks" "/v1/search?q=pineapple&include_subtenants=maybe"
expect_status 422
# Listing the subtree: the same rule, one page in one order, owner_id on each document.
get "$k" "/v1/documents?include_subtenants=true"
expect_status 403
get "$ks" "/v1/documents?include_subtenants=true&order_by=name&order=asc"
expect_status 200
expect_json total 3
case $BODY in *"$P-orgx"*) fail "a sibling prefix leaked: $BODY" ;; esac
get "$ks" "/v1/documents?include_subtenants=true&limit=1&offset=2&order_by=created_at&order=asc"
expect_json documents.0.owner_id "$P-org/b"

# The tenant is the credential's: an owner_id in the query string or body that differs is
# refused with 403; the same owner_id is accepted; a key that allows sub-tenants may act on
# "<owner>/..." (and only those).
k=$(new_key "$P-org")
other=$P-evil
d=$(add_doc "$k" doc1 "Org text about budgets.")

get "$k" "/v1/documents?owner_id=$other"
expect_status 403
expect_error permission_denied
expect_json error.field owner_id
for path in "/v1/documents/$d" "/v1/search?q=budgets" /v1/statistics; do
    sep='?'
    case $path in *\?*) sep='&' ;; esac
    get "$k" "$path${sep}owner_id=$other"
    expect_status 403
done
del "$k" "/v1/documents/$d?owner_id=$other"
expect_status 403
post "$k" /v1/documents "{\"owner_id\":\"$other\",\"id_at_origin\":\"x\",\"content\":\"forged\"}"
expect_status 403
expect_error permission_denied
post "$k" /v1/search "{\"owner_id\":\"$other\",\"query\":\"budgets\"}"
expect_status 403
post "$k" /v1/documents/delete "{\"owner_id\":\"$other\",\"document_ids\":[\"$d\"]}"
expect_status 403
post "$k" "/v1/documents?owner_id=$other" '{"id_at_origin":"x","content":"forged"}'
expect_status 403
post "$k" /v1/documents "{\"owner_id\":7,\"id_at_origin\":\"x\",\"content\":\"forged\"}"
expect_status 422
# Nothing was written for the forged tenant.
cli stats --owner "$other" --json
[ "$RC" = 0 ] || fail "stats: $ERR"
printf '%s' "$OUT" | grep -q '"document_count": 0' || fail "forged tenant has documents: $OUT"
get "$k" "/v1/documents/$d"
expect_status 200

# The same owner_id is fine, in the query string and in the body.
get "$k" "/v1/documents?owner_id=$P-org"
expect_status 200
expect_json total 1
post "$k" /v1/search "{\"owner_id\":\"$P-org\",\"query\":\"budgets\"}"
expect_status 200
expect_json count 1
post "$k" "/v1/search?owner_id=$P-org" "{\"owner_id\":\"$P-evil\",\"query\":\"budgets\"}"
expect_status 403

# Sub-tenants: only with a key that allows them.
get "$k" "/v1/documents?owner_id=$P-org/team-a"
expect_status 403
ks=$(new_key "$P-org" --subtenants)
post "$ks" /v1/documents "{\"owner_id\":\"$P-org/team-a\",\"id_at_origin\":\"t1\",\"content\":\"Team A budget plan.\"}"
expect_status 201
expect_json owner_id "$P-org/team-a"
t1=$(json document_id)
get "$ks" "/v1/documents?owner_id=$P-org/team-a"
expect_json total 1
expect_json documents.0.owner_id "$P-org/team-a"
get "$ks" "/v1/search?q=budget&owner_id=$P-org/team-a/deeper"
expect_status 200
expect_json count 0
# The parent tenant's own view does not include the sub-tenant's documents.
get "$ks" /v1/documents
expect_json total 1
expect_json documents.0.document_id "$d"
get "$ks" "/v1/documents/$t1"
expect_status 404
# Prefixes that are not sub-tenants, and malformed ones, are refused.
for bad in "$P-org2" "$P-orgX/team" "$P-org/../x" "$P-org/" "$P-org//x"; do
    get "$ks" "/v1/documents?owner_id=$bad"
    expect_status 403
done
# A sub-tenant's own key cannot reach its parent.
kt=$(new_key "$P-org/team-a" --subtenants)
get "$kt" "/v1/documents?owner_id=$P-org"
expect_status 403
get "$kt" /v1/documents
expect_json total 1
expect_json documents.0.document_id "$t1"

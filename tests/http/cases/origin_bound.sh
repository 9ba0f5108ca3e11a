# A key bound to an origin (id_at_origin) sees and changes only documents with that origin.
kw=$(new_key "$P-acme")
ko=$(new_key "$P-acme" --origin user-1)
other=$(add_doc "$kw" user-2 "Document of user two about vacation.")

post "$ko" /v1/documents '{"content":"Notes of user one about vacation."}'
expect_status 201
expect_json id_at_origin user-1
mine=$(json document_id)
post "$ko" /v1/documents '{"id_at_origin":"user-1","content":"Notes of user one about vacation, again."}'
expect_status 200
post "$ko" /v1/documents '{"id_at_origin":"user-2","content":"overwrite"}'
expect_status 403

get "$ko" "/v1/search?q=vacation"
expect_json count 1
expect_json results.0.document_id "$mine"
get "$ko" "/v1/search?q=vacation&origin=user-2"
expect_status 403
post "$ko" /v1/search '{"query":"vacation","id_at_origins":["user-1","user-2"]}'
expect_status 403
post "$ko" /v1/search '{"query":"vacation","id_at_origin":"user-1"}'
expect_json count 1

get "$ko" "/v1/documents/$mine"
expect_status 200
get "$ko" "/v1/documents/$other"
expect_status 404
del "$ko" "/v1/documents/$other"
expect_status 404
post "$ko" /v1/documents/delete "{\"document_ids\":[\"$other\"]}"
expect_json deleted "[]"
get "$kw" "/v1/documents/$other"
expect_status 200
# Many ids at once (one statement): only the key's own origin is deleted, the rest is not_found.
post "$ko" /v1/documents '{"id_at_origin":"user-1","content":"Notes of user one, third."}'
mine=$(json document_id)
python3 -c 'import sys; print("{\"document_ids\":[\"%s\",%s,\"%s\"]}" % (sys.argv[1], ",".join(
    "\"00000000-0000-4000-8000-%012d\"" % i for i in range(9998)), sys.argv[2]))' \
    "$other" "$mine" >"$HTTP_TMP/many.json"
post "$ko" /v1/documents/delete "@$HTTP_TMP/many.json"
expect_status 200
expect_json deleted "[\"$mine\"]"
[ "$(json not_found | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 9999 ] ||
    fail "not_found should list the 9,999 other ids"
get "$kw" "/v1/documents/$other"
expect_status 200
post "$ko" /v1/documents '{"id_at_origin":"user-1","content":"Notes of user one about vacation."}'
mine=$(json document_id)

# Calls that span the whole tenant are refused.
get "$ko" /v1/documents
expect_status 403
get "$ko" /v1/statistics
expect_status 403
post "$ko" /v1/documents/delete '{"metadata":{"a":1}}'
expect_status 403
get "$ko" /v1/whoami
expect_json origin user-1

del "$ko" "/v1/documents/$mine"
expect_status 200

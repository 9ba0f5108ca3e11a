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

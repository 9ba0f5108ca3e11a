# For every endpoint, a request with another tenant's key never sees, counts, changes or
# deletes the first tenant's data; another tenant's object looks exactly like a missing one.
ka=$(new_key "$P-a")
kb=$(new_key "$P-b")
kba=$(new_key "$P-b" --scope admin)
kaa=$(new_key "$P-a" --scope admin)
marker=zanzibarmarker
a1=$(add_doc "$ka" shared-name "Alpha secret $marker vacation policy text." '"metadata":{"team":"x"}')
a2=$(add_doc "$ka" second "Second alpha $marker document about vacation." '"metadata":{"team":"x"}')
get "$ka" /v1/statistics
before=$BODY

# B adds a document with the same id at origin: a different document, A's is unchanged.
b1=$(add_doc "$kb" shared-name "Beta text about vacation." '"metadata":{"team":"x"}')
[ "$b1" != "$a1" ] || fail "B's document took A's id"

# list / statistics: B sees and counts only its own.
get "$kb" "/v1/documents?limit=100"
expect_json total 1
expect_json documents.0.document_id "$b1"
expect_no_body "$a1"
expect_no_body "$a2"
get "$kb" "/v1/documents?metadata=%7B%22team%22%3A%22x%22%7D"
expect_json total 1
get "$kb" /v1/statistics
expect_json document_count 1
expect_json owner_id "$P-b"

# get: A's document is "not found" for B, with or without chunks, worded like a missing one.
get "$kb" "/v1/documents/$a1"
expect_status 404
expect_error not_found
expect_no_body "$marker"
notfound_a=$(json error.message | sed "s/$a1/ID/")
get "$kb" "/v1/documents/00000000-0000-4000-8000-000000000000"
notfound_none=$(json error.message | sed "s/00000000-0000-4000-8000-000000000000/ID/")
[ "$notfound_a" = "$notfound_none" ] || fail "another tenant's document is not worded like a missing one"
get "$kb" "/v1/documents/$a1?chunks=true"
expect_status 404

# search (GET and POST): nothing of A's, even for A's own words and A's id at origin.
get "$kb" "/v1/search?q=$marker"
expect_status 200
expect_json count 0
get "$kb" "/v1/search?q=vacation&limit=100"
expect_no_body "$marker"
expect_no_body "$a1"
for id in $(json results.*.document_id); do [ "$id" = "$b1" ] || fail "B's search returned $id"; done
post "$kb" /v1/search "{\"query\":\"$marker alpha\",\"id_at_origins\":[\"shared-name\",\"second\"],\"with_documents\":true}"
expect_status 200
expect_json count 0
expect_no_body "$a1"
expect_no_body "$a2"

# delete: B cannot delete A's documents, one by one, by ids or by metadata.
del "$kb" "/v1/documents/$a1"
expect_status 404
post "$kb" /v1/documents/delete "{\"document_ids\":[\"$a1\",\"$a2\"]}"
expect_status 200
expect_json deleted "[]"
post "$kb" /v1/documents/delete '{"metadata":{"team":"x"}}'
expect_status 200
expect_json deleted.0 "$b1"
expect_no_body "$a1"

# keys: B's admin neither lists nor revokes A's keys.
ka_id=$(printf '%s' "$ka" | cut -c5-20)
get "$kba" /v1/keys
expect_status 200
expect_no_body "$ka_id"
del "$kba" "/v1/keys/$ka_id"
expect_status 404
get "$ka" /v1/whoami
expect_status 200
get "$kaa" /v1/keys
expect_body "$ka_id"

# A's data is exactly as before.
get "$ka" /v1/statistics
[ "$BODY" = "$before" ] || fail "A's statistics changed: $BODY vs $before"
get "$ka" "/v1/documents/$a1?chunks=true"
expect_status 200
expect_body "$marker"
get "$ka" "/v1/search?q=$marker"
expect_json count 2

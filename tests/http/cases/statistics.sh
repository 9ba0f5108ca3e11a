# GET /v1/statistics: the tenant's counts, bytes, documents per type, first/last added.
k=$(new_key "$P-acme")
get "$k" /v1/statistics
expect_status 200
expect_json owner_id "$P-acme"
expect_json document_count 0
expect_json first_created null
add_doc "$k" a "Alpha beta gamma." '"type":"markdown"' >/dev/null
add_doc "$k" b "Delta epsilon." >/dev/null
get "$k" /v1/statistics
expect_status 200
expect_json document_count 2
expect_json by_type.markdown 1
expect_json by_type.text 1
expect_json total_bytes 31
[ "$(json chunk_count)" -ge 2 ] || fail "chunk_count"
[ "$(json first_created)" != null ] || fail "first_created"

# whoami reports what the server made of the key (never the key itself).
get "$k" /v1/whoami
expect_status 200
expect_json owner_id "$P-acme"
expect_json auth key
expect_json scope write
expect_json origin null
expect_json allow_subtenants false
expect_no_body "$k"
get "$k" "/v1/statistics?since=yesterday"
expect_status 422

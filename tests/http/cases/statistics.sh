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
# Usage per day (the meter): this tenant's adds and searches, today first; another tenant's are
# its own.
get "$k" "/v1/search?q=alpha"
expect_status 200
get "$k" /v1/statistics
expect_status 200
expect_json usage.adds_today 2
expect_json usage.searches_today 1
expect_json usage.days.0.day "$(date -u +%F)"
expect_json usage.days.0.adds 2
[ "$(json 'usage.days.*.day' | wc -l)" -eq 7 ] || fail "seven days expected"
k2=$(new_key "$P-initech")
get "$k2" /v1/statistics
expect_json usage.adds_today 0
expect_json usage.searches_today 0

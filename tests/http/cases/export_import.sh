# GET /v1/export streams the tenant's export; POST /v1/import restores it into the caller's
# tenant with the same search results, idempotently; bad streams answer 400 and write nothing;
# one tenant's export never holds another's data.
k=$(new_key "$P-acme")
kb=$(new_key "$P-globex")
kr=$(new_key "$P-acme" --scope read)
ko=$(new_key "$P-acme" --origin user-1)
add_doc "$k" a "Alpha report about quarterly expenses and travel." >/dev/null
add_doc "$k" b "Beta memo about the office move and parking." >/dev/null
add_doc "$kb" secret "Globex secret plan about volcano lairs." >/dev/null

get "$kr" "/v1/export?vectors=true"
expect_status 200
expect_header "content-type: application/x-ndjson"
printf '%s\n' "$BODY" >"$HTTP_TMP/acme.jsonl"
head -n 1 "$HTTP_TMP/acme.jsonl" | grep -q '"format":"llmemory-export"' || fail "no header"
tail -n 1 "$HTTP_TMP/acme.jsonl" | grep -q '"type":"trailer"' || fail "no trailer"
expect_no_body "volcano"
expect_body '"embedding"'
get "$kr" "/v1/export?vectors=maybe"
expect_status 422
get "$ko" /v1/export
expect_status 403

imp() { # KEY FILE [CONTENT-TYPE]
    req POST /v1/import -H "Authorization: Bearer $1" \
        -H "Content-Type: ${3:-application/x-ndjson}" --data-binary "@$2"
}
kn=$(new_key "$P-newco")
imp "$kn" "$HTTP_TMP/acme.jsonl"
expect_status 200
expect_json documents 2
expect_json documents_created 2
expect_json chunks_queued 0
get "$k" "/v1/search?q=expenses&type=hybrid"
a=$(json results.0.score)
get "$kn" "/v1/search?q=expenses&type=hybrid"
expect_json results.0.id_at_origin a
expect_json results.0.score "$a"
imp "$kn" "$HTTP_TMP/acme.jsonl"
expect_status 200
expect_json documents_created 0
imp "$kr" "$HTTP_TMP/acme.jsonl"
expect_status 403
imp "$kn" "$HTTP_TMP/acme.jsonl" application/json
expect_status 415

# Truncated and corrupt streams: 400, and the tenant stays empty.
ke=$(new_key "$P-empty")
head -c 700 "$HTTP_TMP/acme.jsonl" >"$HTTP_TMP/trunc.jsonl"
imp "$ke" "$HTTP_TMP/trunc.jsonl"
expect_status 400
expect_error parse_error
sed 's/quarterly/quarterlY/' "$HTTP_TMP/acme.jsonl" >"$HTTP_TMP/corrupt.jsonl"
imp "$ke" "$HTTP_TMP/corrupt.jsonl"
expect_status 400
expect_body "checksum"
get "$ke" /v1/statistics
expect_json document_count 0
# Globex was not touched by any of it.
get "$kb" /v1/statistics
expect_json document_count 1

# Add, re-index, get (with chunks), list (limit, offset, order, type and metadata filters, total),
# delete one and delete many.
k=$(new_key "$P-acme")
[ -n "$k" ] || fail "no key"

post "$k" /v1/documents '{"id_at_origin":"handbook","name":"Handbook","type":"markdown","content":"# Handbook\n\nEmployees get 25 vacation days.\n\n## Travel\n\nBook trains early.","metadata":{"dept":"hr","year":2024},"document_date":"2024-05-01"}'
expect_status 201
expect_json created true
expect_json owner_id "$P-acme"
expect_json id_at_origin handbook
expect_json type markdown
expect_header "location: /v1/documents/"
h=$(json document_id)
[ "$(json chunk_count)" -ge 1 ] || fail "no chunks"

# The same id at origin re-indexes the same document.
post "$k" /v1/documents '{"id_at_origin":"handbook","document_name":"Handbook v2","document_type":"markdown","content":"# Handbook\n\nEmployees get 30 vacation days.","metadata":{"dept":"hr","year":2025}}'
expect_status 200
expect_json created false
expect_json document_id "$h"
expect_json name "Handbook v2"

# Name defaults to the id at origin; type to text.
post "$k" /v1/documents '{"id_at_origin":"notes-1","content":"Quarterly notes about revenue."}'
expect_status 201
expect_json name notes-1
expect_json type text
n1=$(json document_id)
sleep 0.01
post "$k" /v1/documents '{"id_at_origin":"email-1","type":"email","content":"From: a@b.c\nTo: d@e.f\nSubject: hi\n\nHello there, revenue is up.","metadata":{"dept":"sales"}}'
expect_status 201
e1=$(json document_id)

get "$k" "/v1/documents/$h"
expect_status 200
expect_json document_id "$h"
expect_json owner_id "$P-acme"
expect_json metadata.year 2025
expect_json document_date null
[ "$(json chunks)" = null ] || fail "chunks without ?chunks=true"
get "$k" "/v1/documents/$h?chunks=true"
expect_status 200
expect_body '"chunks":['
json chunks.*.content | grep -q "30 vacation days" || fail "chunk content missing"
get "$k" "/v1/documents/$h?chunks"
expect_body '"chunks":['
get "$k" "/v1/documents/$h?chunks=perhaps"
expect_status 422
expect_error invalid_argument

get "$k" /v1/documents
expect_status 200
expect_json total 3
expect_json count 3
expect_json limit 20
expect_json offset 0
# Newest first by default.
[ "$(json documents.0.document_id)" = "$e1" ] || fail "default order is not newest first"
get "$k" "/v1/documents?limit=1&offset=1&order_by=created_at&order=asc"
expect_json total 3
expect_json count 1
[ "$(json documents.0.document_id)" = "$n1" ] || fail "limit/offset/order wrong"
get "$k" "/v1/documents?order_by=name&order=asc&limit=0"
expect_status 200
expect_json count 0
expect_json total 3
get "$k" "/v1/documents?type=email"
expect_json total 1
expect_json documents.0.document_id "$e1"
get "$k" "/v1/documents?metadata=%7B%22dept%22%3A%22hr%22%7D"
expect_json total 1
expect_json documents.0.document_id "$h"
get "$k" "/v1/documents?order_by=size"
expect_status 422
expect_error invalid_argument
expect_json error.field order_by
get "$k" "/v1/documents?limit=abc"
expect_status 422
get "$k" "/v1/documents?type=novel"
expect_status 422
expect_json error.field document_type
get "$k" "/v1/documents?metadata=not-json"
expect_status 422

# Delete one.
del "$k" "/v1/documents/$n1"
expect_status 200
expect_json deleted.0 "$n1"
expect_json owner_id "$P-acme"
get "$k" "/v1/documents/$n1"
expect_status 404
expect_error not_found
del "$k" "/v1/documents/$n1"
expect_status 404
expect_error not_found
del "$k" /v1/documents/not-a-uuid
expect_status 404
get "$k" /v1/documents/not-a-uuid
expect_status 404

# Delete many by ids: missing and malformed ids are reported, the rest deleted.
post "$k" /v1/documents/delete "{\"document_ids\":[\"$e1\",\"$n1\",\"nope\"]}"
expect_status 200
expect_json deleted.0 "$e1"
[ "$(json not_found | tr -d '\n')" = "[\"$n1\",\"nope\"]" ] || fail "not_found is $(json not_found)"
# Delete by metadata.
post "$k" /v1/documents/delete '{"metadata":{"dept":"hr"}}'
expect_status 200
expect_json deleted.0 "$h"
get "$k" /v1/documents
expect_json total 0
post "$k" /v1/documents/delete '{"metadata":{}}'
expect_status 422
post "$k" /v1/documents/delete '{}'
expect_status 422
post "$k" /v1/documents/delete '{"document_ids":"x"}'
expect_status 422

# Validation errors name the field.
post "$k" /v1/documents '{"id_at_origin":"x"}'
expect_status 422
expect_json error.field content
post "$k" /v1/documents '{"content":"x"}'
expect_status 422
expect_json error.field id_at_origin
post "$k" /v1/documents '{"id_at_origin":"bad origin!","content":"x"}'
expect_status 422
expect_json error.field id_at_origin
post "$k" /v1/documents '{"id_at_origin":"x","content":"x","type":"novel"}'
expect_status 422
expect_json error.field document_type
post "$k" /v1/documents '{"id_at_origin":"x","content":"x","name":"a","document_name":"b"}'
expect_status 422
post "$k" /v1/documents '{"id_at_origin":"x","content":42}'
expect_status 422
post "$k" /v1/documents '{"id_at_origin":"x","content":"x","metadata":[1]}'
expect_status 422
expect_json error.field metadata
post "$k" /v1/documents '{"id_at_origin":"x","content":"x","document_date":"yesterday"}'
expect_status 422
expect_json error.field document_date
# A BC instant (year 1 with a positive offset) is refused rather than stored with the wrong
# year; year 1 itself comes back as year 1.
post "$k" /v1/documents '{"id_at_origin":"bc","content":"x","document_date":"0001-01-01T00:30:00+01:00"}'
expect_status 422
expect_json error.field document_date
json error.message | grep -q "out of range" || fail "BC date: $(cat "$HTTP_TMP/body")"
post "$k" /v1/documents '{"id_at_origin":"year-1","content":"x","document_date":"0001-01-01T01:00:00+01:00"}'
expect_status 201
y1=$(json document_id)
get "$k" "/v1/documents/$y1"
expect_json document_date "0001-01-01T00:00:00.000000Z"
del "$k" "/v1/documents/$y1"
expect_status 200
post "$k" /v1/documents '{"id_at_origin":"x","content":"x","chunking_strategy":"random"}'
expect_status 422
post "$k" /v1/documents '{"id_at_origin":"x","content":"x","user_id":"u"}'
expect_status 422
expect_json error.field user_id
post "$k" /v1/documents '{"id_at_origin":"sem","content":"# A\n\nText.\n\n# B\n\nMore.","type":"markdown","chunking_strategy":"semantic","text_config":"simple"}'
expect_status 201

# The list and search limits are checked in one place, the library (lm_memory_opts.max_limit,
# 100 by default, as docs/openapi.yaml says): past it, the same clear 422 whatever the value.
get "$k" "/v1/documents?limit=100"
expect_status 200
for v in 101 100000 1000000 -1; do
    get "$k" "/v1/documents?limit=$v"
    expect_error invalid_argument
    expect_json error.field limit
    expect_json error.message "limit must be between 0 and 100"
done
get "$k" "/v1/documents?limit=ten"
expect_error invalid_argument
expect_json error.field limit
for v in 0 101 100000 1000000; do
    get "$k" "/v1/search?q=vacation&limit=$v"
    expect_error invalid_argument
    expect_json error.field limit
    expect_json error.message "limit must be between 1 and 100"
    post "$k" /v1/search "{\"query\":\"vacation\",\"limit\":$v}"
    expect_error invalid_argument
    expect_json error.message "limit must be between 1 and 100"
done

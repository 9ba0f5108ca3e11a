# GET and POST /v1/search: query, type, limit, alpha, filters, with_documents, parent context.
k=$(new_key "$P-acme")
add_doc "$k" "policy" "Employees get 25 vacation days a year. Vacation requests need approval." \
    '"type":"text","metadata":{"dept":"hr"},"document_date":"2024-05-01"' >/dev/null
add_doc "$k" "travel" "Travel policy: book trains early. Vacation travel is not reimbursed." \
    '"type":"markdown","metadata":{"dept":"finance"},"document_date":"2023-01-10"' >/dev/null
add_doc "$k" "other" "Nothing about holidays here, only quarterly revenue." >/dev/null

get "$k" "/v1/search?q=vacation"
expect_status 200
expect_json owner_id "$P-acme"
expect_json query vacation
expect_json mode text
expect_json count 2
expect_json results.0.rank 1
[ "$(json results.0.text_rank)" = 1 ] || fail "text_rank missing"
get "$k" "/v1/search?q=vacation+days&limit=1"
expect_json count 1
expect_json results.0.id_at_origin policy
get "$k" "/v1/search?q=vacation&origin=travel"
expect_json count 1
expect_json results.0.id_at_origin travel
get "$k" "/v1/search?q=vacation&origin=travel&origin=policy"
expect_json count 2
get "$k" "/v1/search?q=vacation&document_type=markdown"
expect_json count 1
expect_json results.0.id_at_origin travel
get "$k" "/v1/search?q=vacation&metadata=%7B%22dept%22%3A%22hr%22%7D"
expect_json count 1
expect_json results.0.id_at_origin policy
get "$k" "/v1/search?q=vacation&date_from=2024-01-01&date_to=2024-12-31"
expect_json count 1
expect_json results.0.id_at_origin policy
get "$k" "/v1/search?q=vacation&with_documents=true&parent_context=true&context_window=2&no_history=true&text_config=english"
expect_status 200
expect_body '"document_metadata":{"dept":'
get "$k" "/v1/search?q=vacation+-travel"
expect_json count 1

# Vector and hybrid are passed through; without an embedder the library may refuse them, but
# never with a server error.
for t in vector hybrid; do
    get "$k" "/v1/search?q=vacation&type=$t&alpha=0.5&rrf_k=60&candidates=50"
    expect_status 200 422
done

get "$k" /v1/search
expect_status 422
expect_json error.field q
get "$k" "/v1/search?q=x&type=fuzzy"
expect_status 422
get "$k" "/v1/search?q=x&limit=0"
expect_status 422
get "$k" "/v1/search?q=x&limit=100001"
expect_status 422
get "$k" "/v1/search?q=x&alpha=2"
expect_status 422
get "$k" "/v1/search?q=x&query=y"
expect_status 422
expect_json error.field query
long=$(head -c 1100 /dev/zero | tr '\0' 'a')
get "$k" "/v1/search?q=$long"
expect_status 422
expect_json error.field query

post "$k" /v1/search '{"query":"vacation","limit":5,"type":"text","id_at_origins":["policy","travel"],"document_type":"text","metadata":{"dept":"hr"},"with_documents":true,"include_parent_context":true,"context_window":1,"no_history":true}'
expect_status 200
expect_json count 1
expect_json results.0.id_at_origin policy
expect_json results.0.document_metadata.dept hr
post "$k" /v1/search '{"query":"vacation","search_type":"text","metadata_filter":{"dept":"finance"},"id_at_origin":"travel","date_from":"2023-01-01","date_to":"2023-12-31","alpha":0.3,"rrf_k":60,"candidates":20,"expand":false,"rerank":false}'
expect_status 200
expect_json count 1
expect_json results.0.id_at_origin travel
post "$k" /v1/search '{"limit":5}'
expect_status 422
expect_json error.field query
post "$k" /v1/search '{"query":"x","type":"text","search_type":"text"}'
expect_status 422
post "$k" /v1/search '{"query":"x","limit":"5"}'
expect_status 422
expect_json error.field limit
post "$k" /v1/search '{"query":"x","id_at_origins":"policy"}'
expect_status 422
post "$k" /v1/search '{"query":"x","with_documents":"yes"}'
expect_status 422
for t in vector hybrid; do
    post "$k" /v1/search "{\"query\":\"vacation\",\"type\":\"$t\",\"alpha\":0.7}"
    expect_status 200 422
done

# syntax: web (default) reads quotes and a leading "-" as operators; plain reads only text.
get "$k" "/v1/search?q=vacation+-travel&syntax=plain"
expect_status 200
expect_json syntax plain
expect_json count 2
get "$k" "/v1/search?q=%22days+vacation%22"
expect_json syntax web
expect_json count 0
get "$k" "/v1/search?q=%22days+vacation%22&syntax=plain"
expect_json count 2
expect_json results.0.id_at_origin policy
post "$k" /v1/search '{"query":"\"reimbursed vacation\" -days","syntax":"plain"}'
expect_status 200
expect_json syntax plain
expect_json count 2
post "$k" /v1/search '{"query":"\"reimbursed vacation\" -days"}'
expect_json count 0
get "$k" "/v1/search?q=x&syntax=lucene"
expect_status 422
expect_json error.field syntax
post "$k" /v1/search '{"query":"x","syntax":7}'
expect_status 422
# Another tenant's key, plain syntax: the same words find none of acme's documents.
kb=$(new_key "$P-beta")
get "$kb" "/v1/search?q=%22days+vacation%22+-travel&syntax=plain"
expect_status 200
expect_json count 0

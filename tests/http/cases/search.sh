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

# Parent context: a long document is split into children under one parent; a hit on a child
# carries its parent (nearest first), which contains the child's text.
long=$(perl -e 'my @p = map { "Paragraph $_ is about budget planning and quarterly numbers. " x 12
    . ($_ == 7 ? "The sabbatical rule is special." : "") } 1 .. 12; print join("\\n\\n", @p)')
add_doc "$k" "long" "$long" >/dev/null
check_parent() {
    expect_status 200
    expect_json count 1
    expect_json results.0.id_at_origin long
    expect_json results.0.metadata.chunk_type child
    [ "$(json 'results.0.parent_context.*.chunk_id' | wc -l)" -ge 1 ] || fail "no parent context"
    expect_json results.0.parent_context.0.metadata.chunk_type parent
    [ "$(json results.0.parent_context.0.chunk_level)" -gt "$(json results.0.chunk_level)" ] ||
        fail "the context is not a parent of the hit"
    json results.0.parent_context.0.content | grep -q "The sabbatical rule is special" ||
        fail "the parent does not contain the hit's text"
}
get "$k" "/v1/search?q=sabbatical&parent_context=true&context_window=2&no_history=true"
check_parent
post "$k" /v1/search '{"query":"sabbatical","include_parent_context":true,"context_window":1,"no_history":true}'
check_parent
# Without it, no context.
get "$k" "/v1/search?q=sabbatical&no_history=true"
[ "$(json results.0.parent_context)" = null ] || fail "parent context without asking"

# Vector and hybrid search work over HTTP (the shared server has the default embedder), within
# the tenant: another tenant's matching document never appears.
kg=$(new_key "$P-globex")
add_doc "$kg" "foreign" "Vacation vacation vacation days for vacation." >/dev/null
check_legs() { # type
    expect_status 200
    expect_json mode "$1"
    [ "$(json count)" -ge 1 ] || fail "$1 search found nothing"
    case $(json results.0.id_at_origin) in policy | travel) ;; *) fail "$1: top hit $(json results.0.id_at_origin)" ;; esac
    json 'results.*.id_at_origin' | grep -q foreign && fail "$1 search shows another tenant's document"
    expect_json results.0.vector_rank 1
    perl -e 'exit !($ARGV[0] > 0)' "$(json results.0.vector_score)" || fail "$1: no vector score"
    if [ "$1" = hybrid ]; then
        [ "$(json results.0.text_rank)" -ge 1 ] || fail "hybrid: the keyword leg is missing"
    else
        expect_json results.0.text_rank 0
    fi
}
for t in vector hybrid; do
    get "$k" "/v1/search?q=vacation&type=$t&alpha=0.5&rrf_k=60&candidates=50"
    check_legs $t
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
    check_legs $t
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

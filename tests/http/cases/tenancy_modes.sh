# The schema- and database-per-tenant modes behind the same HTTP API: a server started with
# LLMEMORY_TENANCY keeps each tenant in a schema (or database) of its own; keys stay in the
# server's schema; one tenant's key never reaches another's documents; the CLI with the same
# setting sees what the server wrote, and without it (shared mode) does not.
ka=$(new_key "$P-a")
kb=$(new_key "$P-b")
tpl=$(printf '%s' "$HTTP_DB" | sed -E 's/dbname=[^ ]*/dbname={schema}_{owner}/')
case $tpl in *'{owner}'*) ;; *) tpl="$tpl dbname={schema}_{owner}" ;; esac
export LLMEMORY_TENANT_URL=$tpl
for mode in schema database; do
    export LLMEMORY_TENANCY=$mode
    start_server "$HTTP_TMP/srv-$mode"
    unset LLMEMORY_TENANCY
    shared_url=$HTTP_URL
    HTTP_URL=$SURL
    d=$(add_doc "$ka" "doc-$mode" "Tenant A keeps the $mode launch plan here.")
    get "$ka" "/v1/documents/$d"
    expect_status 200
    get "$kb" "/v1/documents/$d"
    expect_status 404
    get "$kb" "/v1/search?q=launch+plan"
    expect_status 200
    expect_json count 0
    get "$ka" "/v1/search?q=launch+plan"
    expect_status 200
    expect_json results.0.document_id "$d"
    del "$kb" "/v1/documents/$d"
    expect_status 404
    HTTP_URL=$shared_url
    LLMEMORY_TENANCY=$mode cli stats --owner "$P-a" --json
    [ "$RC" = 0 ] || fail "stats in $mode mode: $ERR"
    printf '%s' "$OUT" | grep -q '"document_count": 1' || fail "$mode mode: CLI does not see the document: $OUT"
    stop_server "$SPID"
done
unset LLMEMORY_TENANT_URL
# Nothing of it is in the server's own schema: the shared-mode CLI sees no document.
cli stats --owner "$P-a" --json
printf '%s' "$OUT" | grep -q '"document_count": 0' || fail "shared schema holds tenant rows: $OUT"

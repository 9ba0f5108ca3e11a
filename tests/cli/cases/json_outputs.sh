# --json on every command that reads prints one valid JSON document with the documented keys.
requires_db
owner=${CASE_OWNER_PREFIX}
run init --json
expect_status 0
expect_json
[ "$(json schema)" = "$CLI_SCHEMA" ] || fail "init schema"

run ingest --owner "$owner" --no-progress --json "$CLI_ROOT/samples/acme"
expect_status 0
expect_json
[ "$(json failed)" = "0" ] || fail "ingest failed files"
[ "$(json files)" = "$(json ingested)" ] || fail "files != ingested"
json results.*.ok | grep -qv true && fail "a result is not ok"

run search --owner "$owner" vacation --json
expect_status 0
expect_json
for k in rank score chunk_id document_id id_at_origin document_name document_type content metadata; do
    [ -n "$(json "results.0.$k")" ] || fail "search result lacks $k"
done
id=$(json results.0.document_id)

run list --owner "$owner" --json --limit 2
expect_status 0
expect_json
[ "$(json count)" = "2" ] || fail "list count"
[ "$(json total)" = "6" ] || fail "list total"
for k in document_id owner_id id_at_origin name type metadata created_at updated_at; do
    [ -n "$(json "documents.0.$k")" ] || fail "document lacks $k"
done

run get --owner "$owner" "$id" --chunks --json
expect_status 0
expect_json
[ -n "$(json chunks.0.content)" ] || fail "get --chunks has no chunk content"

run stats --owner "$owner" --json
expect_status 0
expect_json
[ "$(json document_count)" = "6" ] || fail "stats document_count"
[ "$(json by_type.markdown)" = "3" ] || fail "stats by_type.markdown"

run history --owner "$owner" --json
expect_status 0
expect_json
[ "$(json searches.0.query)" = "vacation" ] || fail "history query"

run delete --owner "$owner" "$id" --json
expect_status 0
expect_json
[ "$(json deleted.0)" = "$id" ] || fail "delete json"

run erase --owner "$owner" --yes --json
expect_status 0
expect_json
[ "$(json documents_deleted)" = "5" ] || fail "erase count"

# get and delete accept --origin ID (the key a document was added with, e.g. its path); a
# document id that is not a UUID gets a hint pointing there; another owner's origin is "not
# found" (3) like a missing one.
requires_db
owner=${CASE_OWNER_PREFIX}
other=${CASE_OWNER_PREFIX}-other
ingest_samples "$owner" acme
ingest_samples "$other" acme
run get --owner "$owner" --origin handbook/vacation.md --json
expect_status 0
expect_json
[ "$(json id_at_origin)" = "handbook/vacation.md" ] || fail "got $(json id_at_origin)"
[ "$(json owner_id)" = "$owner" ] || fail "owner $(json owner_id)"
id=$(json document_id)
run get --owner "$owner" --origin handbook/vacation.md --chunks
expect_status 0
expect_out "document_id    $id"
expect_out "--- chunk 0"
run get --owner "$owner" --origin handbook/nothing.md
expect_status 3
expect_err 'document with id at origin "handbook/nothing.md" does not exist'
run get --owner "$owner" handbook/vacation.md
expect_status 2
expect_err 'invalid document_id "handbook/vacation.md"'
expect_err 'hint: To name a document by its id at origin'
expect_err '"llmemory get --origin handbook/vacation.md"'
run get --owner "$owner" "$id" --origin handbook/vacation.md
expect_status 2
expect_err "cannot combine"
run get --owner "$owner"
expect_status 2
expect_err "no document given"
# Another owner's document with the same origin is its own; a third owner sees nothing.
run get --owner "$other" --origin handbook/vacation.md --json
expect_status 0
[ "$(json document_id)" != "$id" ] || fail "other owner got the same document"
run get --owner "${CASE_OWNER_PREFIX}-nobody" --origin handbook/vacation.md
expect_status 3
expect_err 'document with id at origin "handbook/vacation.md" does not exist'

run delete --owner "$owner" vacation.md
expect_status 2
expect_err '"llmemory delete --origin vacation.md"'
run delete --owner "$owner" --origin handbook/vacation.md --origin missing.md --json
expect_status 3
expect_json
[ "$(json deleted.0)" = "$id" ] || fail "deleted $(json deleted.0)"
[ "$(json not_found_origins.0)" = "missing.md" ] || fail "not_found_origins: $(json not_found_origins.0)"
expect_err 'document with id at origin "missing.md" does not exist'
run get --owner "$owner" "$id"
expect_status 3
run get --owner "$other" --origin handbook/vacation.md
expect_status 0
run delete --owner "$owner" --origin security.html
expect_status 0
expect_out "1 document deleted"
run delete --owner "$owner" --origin roadmap.pdf -m a=b
expect_status 2

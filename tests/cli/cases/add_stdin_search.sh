# A document added from standard input is found by search; adding it again re-indexes it under
# the same document id; global options work after the command too.
requires_db
owner=${CASE_OWNER_PREFIX}
printf 'Quarterly zebrafish husbandry notes: feed twice daily.\n' >"$CLI_TMP/doc.txt"
run_in "$CLI_TMP/doc.txt" add - --owner "$owner" --origin notes-1 --name "Fish notes" \
    --meta team=biology --meta year:=2024 --date 2024-05-01 --json
expect_status 0
expect_json
id=$(json document_id)
[ "$(json created)" = "true" ] || fail "created should be true"
[ "$(json id_at_origin)" = "notes-1" ] || fail "wrong id_at_origin"

run get --owner "$owner" "$id" --json
expect_status 0
expect_json
[ "$(json metadata.team)" = "biology" ] || fail "metadata.team"
[ "$(json name)" = "Fish notes" ] || fail "name"
case $(json document_date) in 2024-05-01*) ;; *) fail "document_date" ;; esac
[ "$(json metadata.year)" = "2024" ] || fail "metadata.year should be the number 2024"

run search --owner "$owner" zebrafish
expect_status 0
expect_out "1. ["
expect_out "Fish notes (notes-1)"
expect_out "zebrafish husbandry"

run_in "$CLI_TMP/doc.txt" add - --owner "$owner" --origin notes-1 --json
expect_status 0
[ "$(json document_id)" = "$id" ] || fail "re-index changed the document id"
[ "$(json created)" = "false" ] || fail "created should be false on re-index"

# Adding again replaces name and metadata too.
run get --owner "$owner" "$id" --json
[ "$(json name)" = "notes-1" ] || fail "name after re-index"
[ "$(json metadata)" = "{}" ] || fail "metadata after re-index"

# Global options after the command.
_run /dev/null search zebrafish --owner "$owner" --schema "$CLI_SCHEMA" --json
expect_status 0
expect_json
[ "$(json count)" = "1" ] || fail "expected one result"
[ "$(json results.0.document_id)" = "$id" ] || fail "wrong document"


# LLMEMORY_OWNER stands in for --owner.
LLMEMORY_OWNER=$owner run search zebrafish
expect_status 0
expect_out "notes-1 (notes-1)"

run search --owner "$owner" nonexistentword
expect_status 0
expect_out "no results"

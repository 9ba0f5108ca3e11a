# quota set/get: limits per owner, "none" and "default", usage; an add past a limit fails and
# writes nothing.
requires_db
a=${CASE_OWNER_PREFIX}-a
run quota get --owner "$a" --json
expect_status 0
[ "$(json documents.limit)" = "null" ] || fail "no default limit expected"
[ "$(json documents.setting)" = "default" ] || fail "setting"
run quota set --owner "$a" --documents 1 --bytes none
expect_status 0
expect_out "documents                0               1  1"
printf 'One document.\n' >"$CLI_TMP/one.txt"
printf 'Two documents.\n' >"$CLI_TMP/two.txt"
run add --owner "$a" "$CLI_TMP/one.txt"
expect_status 0
run add --owner "$a" "$CLI_TMP/two.txt"
expect_err "documents quota exceeded"
expect_err "The limit is 1 documents"
run stats --owner "$a" --json
[ "$(json document_count)" = "1" ] || fail "the refused add wrote a document"
run quota set --owner "$a" --documents default
expect_status 0
run add --owner "$a" "$CLI_TMP/two.txt"
expect_status 0
run quota set --owner "$a"
expect_status 2
run quota set --owner "$a" --documents -3
expect_status 2
run quota frob --owner "$a"
expect_status 2
# The operator's view: every owner, sorted, with the owners near a quota flagged.
b=${CASE_OWNER_PREFIX}-b
run quota set --owner "$b" --documents 1
run add --owner "$b" "$CLI_TMP/one.txt"
expect_status 0
run stats --all --sort documents --json
expect_status 0
run stats --all --sort documents --limit 100000
expect_status 0
expect_out "near the limit of documents"
run stats --all --sort nonsense
expect_status 2
run stats --all --owner "$b"
expect_status 2

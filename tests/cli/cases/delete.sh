# delete by id prints the ids deleted; a missing id exits 3; delete by metadata.
requires_db
owner=${CASE_OWNER_PREFIX}
printf 'alpha document about kiwis\n' >"$CLI_TMP/a.txt"
printf 'beta document about mangos\n' >"$CLI_TMP/b.txt"
printf 'gamma document about papayas\n' >"$CLI_TMP/c.txt"
run add --owner "$owner" "$CLI_TMP/a.txt" --meta batch=one --json
a=$(json document_id)
run add --owner "$owner" "$CLI_TMP/b.txt" --meta batch=two --json
b=$(json document_id)
run add --owner "$owner" "$CLI_TMP/c.txt" --meta batch=two --json
expect_status 0

run delete --owner "$owner" "$a"
expect_status 0
expect_out "deleted $a"
expect_out "1 document deleted"
run get --owner "$owner" "$a"
expect_status 3

run delete --owner "$owner" "$a"
expect_status 3
expect_out "0 documents deleted"
expect_err "\"$a\""

run delete --owner "$owner" --meta batch=two --json
expect_status 0
expect_json
[ "$(json deleted | grep -c .)" -ge 1 ] || fail "nothing deleted"
json deleted.* | grep -qx "$b" || fail "b was not deleted"
run stats --owner "$owner" --json
[ "$(json document_count)" = "0" ] || fail "documents left"

# Metadata numbers beyond the 64-bit integers are refused by the library on every path (here the
# local CLI), so no tenant is left with a document that a client cannot read back ("too big
# integer"); the same value as a string is stored and read back as it was.
requires_db
owner=${CASE_OWNER_PREFIX}
printf "big number\n" >"$CLI_TMP/t.txt"
run_in "$CLI_TMP/t.txt" add - --owner "$owner" --origin big -m 'a:=1e19'
expect_status 2
expect_err "out of range"
run_in "$CLI_TMP/t.txt" add - --owner "$owner" --origin big -m 'a:=-1e19'
expect_status 2
run_in "$CLI_TMP/t.txt" add - --owner "$owner" --origin big -m 'a=1e19' --json
expect_status 0
run list --owner "$owner" --json
expect_status 0
[ "$(json total)" = "1" ] || fail "list total"
[ "$(json documents.0.metadata.a)" = "1e19" ] || fail "metadata a: $(json documents.0.metadata.a)"

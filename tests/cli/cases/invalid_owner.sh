# A malformed owner is rejected by the library as an invalid argument: exit 2, message on stderr.
requires_db
run search --owner "' OR 1=1 --" vacation
expect_status 2
[ -z "$OUT" ] || fail "stdout is not empty"
expect_err "llmemory: "
expect_err "owner"
printf "some text\n" >"$CLI_TMP/t.txt"
run_in "$CLI_TMP/t.txt" add - --owner "../etc" --origin x
expect_status 2

# An unknown command is a usage error (exit 2) with a hint, in the PostgreSQL message style.
run_raw frobnicate
expect_status 2
[ -z "$OUT" ] || fail "stdout is not empty"
expect_err_is <<'X'
llmemory: unrecognized command "frobnicate"
hint: Try "llmemory --help" for the list of commands.
X
run_raw
expect_status 2
expect_err_is <<'X'
llmemory: no command given
hint: Try "llmemory --help" for the list of commands.
X

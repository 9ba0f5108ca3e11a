# Command-line mistakes exit 2 with "llmemory: <message>" and a hint, before any database work.
run_raw search --frob x
expect_status 2
expect_err_is <<'X'
llmemory: unrecognized option "--frob"
hint: Try "llmemory search --help".
X
run_raw search -Z x
expect_status 2
expect_err 'unrecognized option "-Z"'
run_raw search --owner
expect_status 2
expect_err 'option "--owner" requires a value'
run_raw list --json=yes
expect_status 2
expect_err 'option "--json" does not take a value'
run_raw search --owner acme
expect_status 2
expect_err "no query given"
run_raw search --owner acme --limit abc vacation
expect_status 2
expect_err 'invalid value "abc" for option "--limit"'
expect_err "detail: "
run_raw search vacation
expect_status 2
expect_err_is <<'X'
llmemory: no owner given
detail: Every document belongs to one owner (tenant).
hint: Pass --owner NAME or set LLMEMORY_OWNER.
X
run_raw add --owner acme -
expect_status 2
expect_err 'option "--origin" is required'
run_raw add --owner acme
expect_status 2
expect_err "no file given"
run_raw search --owner acme --doc-type novel x
expect_status 2
expect_err 'invalid document type "novel"'
run_raw search --owner acme --type novel x
expect_status 2
expect_err 'invalid search type "novel"'
run_raw list --owner acme --order size
expect_status 2
expect_err 'invalid order "size"'
run_raw add --owner acme --meta novalue x.txt
expect_status 2
expect_err 'invalid metadata "novalue"'
run_raw erase --owner acme
expect_status 2
expect_err "erase needs confirmation"
expect_err "hint: Add --yes"
run_raw delete --owner acme
expect_status 2
expect_err "no documents given"
run_raw db restart
expect_status 2
expect_err 'unrecognized action "restart"'
run_raw --home
expect_status 2
expect_err 'option "--home" requires a value'
run_raw ingest --owner acme "$CLI_ROOT/samples/acme/onboarding.txt"
expect_status 2
expect_err "is not a directory"
run_raw add --owner acme "$CLI_TMP/missing.txt"
expect_status 3
expect_err "could not open file"

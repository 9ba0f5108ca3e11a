# "db status" describes the embedded cluster without starting it (LLMEMORY_HOME points at an
# empty scratch directory here), as text and as JSON.
run_raw db status --json
expect_status 0
expect_json
[ "$(json initialized)" = "false" ] || fail "initialized should be false"
[ "$(json running)" = "false" ] || fail "running should be false"
run_raw db status
expect_status 0
expect_out "initialized     no"
run_raw --home "$CLI_TMP/other" db status --json
expect_status 0
case $(json home) in *"/other"*) ;; *) fail "--home was not used" ;; esac

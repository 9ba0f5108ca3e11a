# One rule for paths named on the command line, in every command: a path that does not exist is
# "not found" (exit status 3); a path of the wrong kind (a file for ingest, a directory for add)
# is a usage error (2); a path that exists but cannot be read is an error (1).
run_raw ingest --owner acme "$CLI_TMP/nonexistent"
expect_status 3
expect_err 'could not open directory'
run_raw ingest --owner acme "$CLI_TMP/nonexistent/sub"
expect_status 3
run_raw add --owner acme "$CLI_TMP/nonexistent.txt"
expect_status 3
expect_err 'could not open file'
run_raw serve --jwt-secret-file "$CLI_TMP/nonexistent.key"
expect_status 3
expect_err 'could not open file'
run_raw ingest --owner acme "$CLI_ROOT/samples/acme/onboarding.txt"
expect_status 2
expect_err 'is not a directory'
run_raw add --owner acme "$CLI_ROOT/samples/acme"
expect_status 2
expect_err 'is a directory'
expect_err 'hint: Use "llmemory ingest" for a directory.'
if [ "$(id -u)" != 0 ]; then
    printf 'secret\n' >"$CLI_TMP/unreadable.txt"
    chmod 000 "$CLI_TMP/unreadable.txt"
    run_raw add --owner acme "$CLI_TMP/unreadable.txt"
    expect_status 1
    expect_err 'Permission denied'
fi

# `llmemory mcp`: usage errors in the house style; without an owner it refuses before reading
# anything; remote mode is refused with a pointer to /mcp; with standard input at its end it
# writes nothing to standard output and exits 0. (tests/mcp drives the protocol itself.)
run mcp --help
expect_status 0
expect_out "Model Context Protocol"
expect_out "--read-only"
run mcp --owner
expect_status 2
run mcp extra
expect_status 2
LLMEMORY_OWNER= run mcp
expect_status 2
LLMEMORY_URL=http://127.0.0.1:9 run mcp --owner acme
expect_status 2
expect_err "mcp does not work in remote mode"
expect_err "/mcp"
requires_db
run mcp --owner "${CASE_OWNER_PREFIX}"
expect_status 0
[ -z "$OUT" ] || fail "stdout should be empty"

# After "llmemory db stop", the next command that needs the database starts the embedded
# cluster again, and says so on standard error instead of doing it silently.
# A home of its own under /tmp, searchable by "postgres" when run as root (the server then runs as
# that user and could not reach the 0700 scratch directory).
base=$(mktemp -d /tmp/llmemory-cli-db.XXXXXX) || fail "mktemp"
chmod 0711 "$base"
home=$base/home
stop_it() {
    LLMEMORY_DATABASE_URL= "$CLI_BIN" --home "$home" db stop >/dev/null 2>&1
    rm -rf "$base"
}
trap stop_it EXIT
export LLMEMORY_DATABASE_URL=
run_raw --home "$home" db start --json
expect_status 0
[ "$(json running)" = "true" ] || fail "db start did not start it"
run_raw --home "$home" stats --owner acme
expect_status 0
expect_no_err "starting the embedded database"
run_raw --home "$home" db stop
expect_status 0
expect_out "stopped"
run_raw --home "$home" stats --owner acme
expect_status 0
expect_err "llmemory: note: starting the embedded database in "
expect_err "(it was not running)"
run_raw --home "$home" db status --json
[ "$(json running)" = "true" ] || fail "not running after the restart"

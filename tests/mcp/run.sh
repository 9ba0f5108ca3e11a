#!/usr/bin/env bash
# tests/mcp/run.sh: the MCP server end to end, driven by the official Python MCP SDK (pinned in
# tests/mcp/requirements.txt; build/mcp-venv from scripts/python-env.sh mcp) over stdio
# (`llmemory mcp`) and Streamable HTTP (/mcp of a real `llmemory serve` on a free port), against the test
# database in a schema of its own. Keys come from `llmemory keys create`.
#
# Usage: tests/mcp/run.sh PATH/TO/llmemory
# Needs LLMEMORY_TEST_DATABASE_URL (tests/run.sh sets it); without one the suite is skipped.
# Prints TAP and ends with "mcp: N passed, N failed[, N skipped]"; exit status 1 on failure.
# The server must stop cleanly on SIGTERM afterwards (under ASan: no leaks).
set -u
bin=$1
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

db=${LLMEMORY_TEST_DATABASE_URL:-}
if [ -z "$db" ]; then
    echo "1..1"
    echo "ok 1 - mcp # SKIP no database (LLMEMORY_TEST_DATABASE_URL is not set)"
    echo "mcp: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
py=$(sh "$root/scripts/python-env.sh" mcp) || {
    echo "# could not set up the MCP SDK environment (scripts/python-env.sh mcp)"
    echo "mcp: 0 passed, 1 failed"
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/llmemory-mcp.XXXXXX")
schema=mcp_test_$$
server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null
    fi
    psql "$db" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# Every sanitizer report of any program started here (the server, each stdio server) lands in
# $work/sanitizer; any report fails the suite, whatever the cases said.
mkdir -p "$work/sanitizer"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:log_path=$work/sanitizer/report"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86:print_stacktrace=1:log_path=$work/sanitizer/report"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=86:log_path=$work/sanitizer/report"
unset LLMEMORY_URL LLMEMORY_API_KEY LLMEMORY_OWNER LLMEMORY_SCHEMA DATABASE_URL LLMEMORY_DATABASE_URL
export LLMEMORY_HOME=$work/home LC_ALL=C.UTF-8

"$bin" --database-url "$db" --schema "$schema" serve --port 0 --port-file "$work/port" \
    --max-body 2M --threads 4 --access-log off >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
    [ -s "$work/port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$work/port" ]; then
    echo "# the server did not start:"
    sed 's/^/# /' "$work/server.log"
    echo "mcp: 0 passed, 1 failed"
    exit 1
fi
key() { "$bin" --database-url "$db" --schema "$schema" keys create --owner "$1" "${@:2}" </dev/null 2>/dev/null; }
tenant_a=mcp-a-$$ tenant_b=mcp-b-$$
MCP_KEY_A=$(key "$tenant_a") MCP_KEY_A_READ=$(key "$tenant_a" --scope read) MCP_KEY_B=$(key "$tenant_b")
export MCP_KEY_A MCP_KEY_A_READ MCP_KEY_B
export MCP_BIN=$bin MCP_DB=$db MCP_SCHEMA=$schema MCP_WORK=$work
export MCP_URL=http://127.0.0.1:$(cat "$work/port")

"$py" "$here/test_mcp.py"
status=$?

# The server survived everything and stops cleanly.
kill -TERM "$server_pid"
wait "$server_pid"
server_status=$?
server_pid=
if [ "$server_status" -ne 0 ]; then
    echo "# the server exited with status $server_status:"
    tail -n 40 "$work/server.log" | sed 's/^/# /'
    echo "mcp: 0 passed, 1 failed"
    exit 1
fi
for f in "$work"/sanitizer/report*; do
    [ -f "$f" ] || continue
    echo "# sanitizer report ($(basename "$f")):"
    sed 's/^/# /' "$f"
    echo "mcp: 0 passed, 1 failed"
    exit 1
done
exit $status

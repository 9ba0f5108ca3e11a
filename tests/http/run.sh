#!/usr/bin/env bash
# tests/http/run.sh: the HTTP API server, end to end. Starts the real `llmemory serve` on a free
# port against the test database (its own schema), creates API keys with `llmemory keys`, and
# runs every tests/http/cases/*.sh against it with real HTTP requests (curl). The cases share
# the server; the ones that need other settings (rate limits, shutdown) start their own.
#
# Usage: tests/http/run.sh PATH/TO/llmemory [CASE_NAME_SUBSTRING]
# Each case may run for HTTP_CASE_TIMEOUT seconds (default 300; long runs of the random walk and
# the OpenAPI fuzz raise it).
#
# Needs LLMEMORY_TEST_DATABASE_URL (set by tests/run.sh) or LLMEMORY_DATABASE_URL; without one
# every case is skipped. Prints TAP lines and ends with "http: N passed, N failed, N skipped";
# exit status 1 on failure. After the cases, the server must still answer and must stop cleanly
# on SIGTERM (exit status 0: under ASan that includes no leaks).
set -u
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

if [ $# -lt 1 ]; then
    echo "usage: $0 PATH/TO/llmemory [CASE]" >&2
    exit 2
fi
bin=$1
filter=${2:-}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ ! -x "$bin" ]; then
    echo "http: $bin is not an executable" >&2
    echo "http: 0 passed, 1 failed, 0 skipped"
    exit 1
fi

cases=
for c in "$here"/cases/*.sh; do
    name=$(basename "$c" .sh)
    [ -n "$filter" ] && [ "${name#*"$filter"}" = "$name" ] && continue
    cases="$cases $c"
done
ncases=$(echo $cases | wc -w)

db=${LLMEMORY_TEST_DATABASE_URL:-${LLMEMORY_DATABASE_URL:-}}
if [ -z "$db" ]; then
    echo "1..$ncases"
    n=0
    for c in $cases; do
        n=$((n + 1))
        echo "ok $n - $(basename "$c" .sh) # SKIP no database (LLMEMORY_TEST_DATABASE_URL is not set)"
    done
    echo "http: 0 passed, 0 failed, $ncases skipped"
    exit 0
fi
for tool in curl perl openssl; do
    command -v $tool >/dev/null 2>&1 || {
        echo "http: $tool is required" >&2
        echo "http: 0 passed, 1 failed, 0 skipped"
        exit 1
    }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/llmemory-http.XXXXXX")
schema=http_test_$$
server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null
    fi
    if command -v psql >/dev/null 2>&1; then
        psql "$db" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# Sanitizer errors exit with 86 (tests/harness/runner.h: LM_TEST_SANITIZER_EXIT), and every
# report, from any program a case starts (servers included), lands in $work/sanitizer: a case
# after which a report appears fails, whatever its own checks said.
mkdir -p "$work/sanitizer"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:log_path=$work/sanitizer/report"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86:print_stacktrace=1:log_path=$work/sanitizer/report"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=86:log_path=$work/sanitizer/report"
# sanitizer_reports LOG: appends the reports written since the last call to LOG; status 1 if any.
sanitizer_reports() {
    local found=0 f
    for f in "$work"/sanitizer/report*; do
        [ -f "$f" ] || continue
        found=1
        { echo "sanitizer report ($(basename "$f")):"; cat "$f"; } >>"$1"
        rm -f "$f"
    done
    [ "$found" -eq 0 ]
}

# Nothing from the caller's environment may redirect the commands under test.
unset LLMEMORY_URL LLMEMORY_API_KEY LLMEMORY_OWNER LLMEMORY_SCHEMA DATABASE_URL LLMEMORY_DATABASE_URL
unset LLMEMORY_JWT_SECRET
export LLMEMORY_HOME=$work/home LC_ALL=C.UTF-8
export LLMEMORY_EMBEDDER="${LLMEMORY_EMBEDDER:-builtin}" # see tests/run.sh

# JWT material: an HS256 secret and an RSA key pair.
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/jwt-secret"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa.pem" 2>/dev/null &&
    openssl pkey -in "$work/rsa.pem" -pubout -out "$work/rsa.pub" 2>/dev/null || {
    echo "http: could not make an RSA key with openssl" >&2
    echo "http: 0 passed, 1 failed, 0 skipped"
    exit 1
}

# The operator token (full /metrics): every server the cases start gets it from the environment.
export LLMEMORY_OPERATOR_TOKEN=op-$(openssl rand -hex 16)
# The shared server: small limits so the limit cases stay quick.
"$bin" --database-url "$db" --schema "$schema" serve --port 0 --port-file "$work/port" \
    --max-body 2M --max-content 1M --threads 4 --access-log "$work/access.log" \
    --jwt-secret-file "$work/jwt-secret" --jwt-public-key "$work/rsa.pub" \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
    [ -s "$work/port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$work/port" ]; then
    echo "http: the server did not start:" >&2
    sed 's/^/# /' "$work/server.log"
    echo "http: 0 passed, 1 failed, 0 skipped"
    exit 1
fi

export HTTP_BIN=$bin HTTP_DB=$db HTTP_SCHEMA=$schema HTTP_ROOT=$root HTTP_LIB=$here/lib.sh
export HTTP_URL=http://127.0.0.1:$(cat "$work/port") HTTP_WORK=$work
export HTTP_TRACE=$work/trace HTTP_ACCESS_LOG=$work/access.log HTTP_SERVER_LOG=$work/server.log
export HTTP_JWT_SECRET=$work/jwt-secret HTTP_RSA_KEY=$work/rsa.pem HTTP_RSA_PUB=$work/rsa.pub
export HTTP_JWT=$here/jwt.pl HTTP_SERVER_PID=$server_pid
: >"$HTTP_TRACE"

pass=0 fail=0 skip=0 n=0
echo "1..$((ncases + 2))"
report() { # name, exit status, log [, seconds]
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then
        echo "ok $n - $1${4:+ # ${4}s}"
        pass=$((pass + 1))
    elif [ "$2" -eq 77 ]; then
        echo "ok $n - $1 # SKIP $(tail -n 1 "$3" | sed 's/^# //')"
        skip=$((skip + 1))
    else
        echo "not ok $n - $1"
        [ "$2" -eq 124 ] && echo "# timed out"
        sed 's/^/# /' "$3"
        fail=$((fail + 1))
    fi
}
for c in $cases; do
    name=$(basename "$c" .sh)
    dir=$work/cases/$name
    mkdir -p "$dir"
    t0=$(date +%s)
    (cd "$dir" && HTTP_CASE=$name HTTP_TMP=$dir timeout "${HTTP_CASE_TIMEOUT:-300}" bash -c 'set -u; . "$HTTP_LIB"; . "$0"' "$c") \
        >"$dir/log" 2>&1
    rc=$?
    if [ -f "$dir/pids" ]; then
        for pid in $(cat "$dir/pids"); do
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        done
    fi
    sanitizer_reports "$dir/log" || { [ $rc -ne 0 ] && [ $rc -ne 77 ] || rc=1; }
    report "$name" $rc "$dir/log" $(($(date +%s) - t0))
    # The folder goes at the end: a failing case shows the end of its own servers' logs here.
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        for f in "$dir"/*/log; do
            [ -f "$f" ] || continue
            echo "# -- the end of ${f#"$dir"/}:"
            tail -n 15 "$f" | sed 's/^/#   /'
        done
    fi
done

# The server survived everything above...
log=$work/final.log
{
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HTTP_URL/healthz")
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "# the server is gone"
        exit 1
    fi
    [ "$code" = 200 ] || { echo "# /healthz answered $code"; exit 1; }
} >"$log" 2>&1
report "server_still_up" $? "$log"

# ...and stops cleanly: SIGTERM, exit status 0 (no sanitizer report, no leak).
{
    kill -TERM "$server_pid"
    for _ in $(seq 1 600); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "# the server did not stop within 60 s"
        exit 1
    fi
    wait "$server_pid"
    rc=$?
    server_pid=
    if [ "$rc" -ne 0 ]; then
        echo "# the server exited with status $rc"
        tail -n 40 "$work/server.log" | sed 's/^/# /'
        exit 1
    fi
    grep -q 'msg=stopped' "$work/server.log" || { echo "# no \"stopped\" line in the log"; exit 1; }
    sanitizer_reports /dev/stdout || exit 1
} >"$log" 2>&1
report "server_stops_cleanly" $? "$log"

echo "http: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]

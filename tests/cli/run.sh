#!/usr/bin/env bash
# tests/cli/run.sh: golden-style cases for the `llmemory` program.
#
# Usage: tests/cli/run.sh PATH/TO/llmemory [CASE_NAME_SUBSTRING]
#
# Each tests/cli/cases/*.sh is one case: it runs the program (helpers in lib.sh) and checks
# exit status, stdout and stderr. Cases that need a database call `requires_db` and are skipped
# when neither LLMEMORY_DATABASE_URL nor LLMEMORY_TEST_DATABASE_URL (set by tests/run.sh for its
# throwaway cluster) is set.
# Every run uses its own schema (cli_test_<pid>) and drops it at the end when psql exists.
# Prints TAP lines and ends with "cli: N passed, N failed, N skipped"; exit status 1 on failure.
set -u
# tests/run.sh starts this with sh; the cases need bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

if [ $# -lt 1 ]; then
    echo "usage: $0 PATH/TO/llmemory [CASE]" >&2
    exit 2
fi
bin=$1
filter=${2:-}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
if [ ! -x "$bin" ]; then
    echo "cli: $bin is not an executable" >&2
    echo "cli: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/llmemory-cli.XXXXXX")
schema=cli_test_$$
cleanup() {
    if [ -n "${LLMEMORY_DATABASE_URL:-}" ] && command -v psql >/dev/null 2>&1; then
        psql "$LLMEMORY_DATABASE_URL" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" \
            >/dev/null 2>&1 || true
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

# What every case sees. LLMEMORY_HOME points into the scratch directory so that no case can
# touch (or start) the user's own embedded database.
export CLI_BIN=$bin CLI_ROOT=$root CLI_SCHEMA=$schema CLI_LIB=$here/lib.sh
export LLMEMORY_HOME=$work/home
unset LLMEMORY_OWNER LLMEMORY_SCHEMA DATABASE_URL
export LLMEMORY_DATABASE_URL=${LLMEMORY_DATABASE_URL:-${LLMEMORY_TEST_DATABASE_URL:-}}
export LC_ALL=C.UTF-8
export LLMEMORY_EMBEDDER="${LLMEMORY_EMBEDDER:-builtin}" # see tests/run.sh

pass=0 fail=0 skip=0 n=0
cases=
for c in "$here"/cases/*.sh; do
    name=$(basename "$c" .sh)
    [ -n "$filter" ] && [ "${name#*"$filter"}" = "$name" ] && continue
    cases="$cases $c"
done
echo "1..$(echo $cases | wc -w)"
for c in $cases; do
    name=$(basename "$c" .sh)
    n=$((n + 1))
    dir=$work/$name
    mkdir -p "$dir"
    log=$dir/log
    ( cd "$dir" && CLI_CASE=$name CLI_TMP=$dir timeout 300 bash -c 'set -u; . "$CLI_LIB"; . "$0"' "$c" ) \
        >"$log" 2>&1
    rc=$?
    sanitizer_reports "$log" || { [ $rc -ne 0 ] && [ $rc -ne 77 ] || rc=1; }
    if [ $rc -eq 0 ]; then
        echo "ok $n - $name"
        pass=$((pass + 1))
    elif [ $rc -eq 77 ]; then
        echo "ok $n - $name # SKIP $(tail -n 1 "$log" | sed 's/^# //')"
        skip=$((skip + 1))
    else
        echo "not ok $n - $name"
        [ $rc -eq 124 ] && echo "# timed out"
        sed 's/^/# /' "$log"
        fail=$((fail + 1))
    fi
done
echo "cli: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]

#!/bin/sh
# Runs every test suite (unit, integration, CLI, HTTP, MCP, fuzz corpora, cluster) of each build
# directory given, against one throwaway PostgreSQL cluster, then the checks of the shell
# scripts (tests/scripts), and ends with the plain line "N passed, N failed, N skipped".
#   tests/run.sh build/debug [build/asan ...]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Sanitizer errors (ASan, UBSan, LSan) exit with a status of their own, 86, which no program or
# test uses on purpose (tests/harness/runner.h: LM_TEST_SANITIZER_EXIT): a memory error can never
# pass for an expected failure. The CLI and HTTP suites also collect every report (log_path).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86:print_stacktrace=1"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=86"

eval "$(sh scripts/pg-test-cluster.sh start)" || { echo "could not start the test database" >&2; exit 1; }
export LLMEMORY_TEST_DATABASE_URL
# On SIGINT or SIGTERM the running suite is stopped too, and the EXIT trap stops the cluster:
# the suite runs in the background and the shell waits for it, since a trap only runs once a
# foreground command has finished.
child=
trap 'sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"' EXIT
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 130' INT
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 143' TERM
exec 3<&0

# The suites expect the built-in embedder unless a test asks for another: with the default model
# installed, the automatic choice would be the local encoder (docs/embeddings.md). Tests of the
# local encoder and of the automatic choice set LLMEMORY_EMBEDDER themselves.
export LLMEMORY_EMBEDDER="${LLMEMORY_EMBEDDER:-builtin}"
# The real-model checks of the local encoder run when the default model is installed
# (scripts/models.sh), and are reported as skipped otherwise.
if [ -z "${LLMEMORY_TEST_MODEL_DIR:-}" ] && d=$("$1/llmemory" models path 2>/dev/null); then
    export LLMEMORY_TEST_MODEL_DIR="$d"
fi

passed=0 failed=0 skipped=0
log=$(mktemp)
run_suite() { # label, command...
    label=$1
    shift
    echo "== $label"
    "$@" <&3 >"$log" 2>&1 &
    child=$!
    wait "$child"
    status=$?
    child=
    cat "$log"
    line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "# $label: no summary line (exit status $status)"
        failed=$((failed + 1))
        return
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + ${s:-0}))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "# $label: exit status $status"
        failed=$((failed + 1))
    fi
}

# The tenant-facing integration tests run again in the schema- and database-per-tenant modes
# (LLMEMORY_TEST_TENANCY, read by tests/integration/support.c), on the first build only. Left
# out there: tests that look past the API into the routing memory's own schema (raw SQL, row-level
# security, index and queue internals, a second plain memory on the same schema) and the
# cross-tenant maintenance calls, which cover the routing memory and its open tenants only.
tenancy_tests="test_isolation,test_doc__,test_search__,test_search_api,test_subtenants,test_adversarial"
tenancy_tests="$tenancy_tests,test_lifecycle__cross_tenant,test_lifecycle__export,test_lifecycle__import"
tenancy_tests="$tenancy_tests,test_quota__"
tenancy_skip="prepared_statements_optional,usage_of_every_tenant,usage_metered_per_day"
# Operator views over every tenant (the usage list, the near-quota counts) read the routing
# schema only in the schema and database modes (docs/operations.md, "Tenancy modes").
tenancy_skip="$tenancy_skip,near_quota_alerts"

for b in "$@"; do
    v=$(basename "$b")
    run_suite "unit ($v)" "$b/tests/unit-tests"
    run_suite "integration ($v)" "$b/tests/integration-tests"
    if [ "$b" = "$1" ]; then
        for mode in schema database; do
            run_suite "integration, $mode per tenant ($v)" env LLMEMORY_TEST_TENANCY=$mode \
                "$b/tests/integration-tests" -s "$tenancy_tests" -x "$tenancy_skip"
        done
    fi
    if [ -f tests/cli/run.sh ]; then
        run_suite "cli ($v)" sh tests/cli/run.sh "$b/llmemory"
    fi
    run_suite "http ($v)" sh tests/http/run.sh "$b/llmemory"
    run_suite "lint ($v)" sh tests/lint/run.sh "$b"
    run_suite "fuzz corpora ($v)" sh tests/fuzz/run.sh "$b"
    run_suite "mcp protocol ($v)" "$b/tests/mcp-unit-tests"
    run_suite "mcp ($v)" bash tests/mcp/run.sh "$b/llmemory"
    # Sharded mode starts three clusters of its own (a proxy and two shards).
    run_suite "cluster ($v)" bash tests/cluster/run.sh "$b/llmemory"
    # Index builds, the embedding worker and the maintenance fence through a cluster (its own).
    run_suite "cluster moves ($v)" bash tests/cluster/move.sh "$b/llmemory"
    # The Python package runs against the debug build only (an ASan library needs LD_PRELOAD
    # inside CPython; python/tests/run.sh explains).
    if [ "$v" = debug ]; then
        run_suite "python ($v)" sh python/tests/run.sh "$b"
    fi
done
run_suite "scripts" bash tests/scripts/run.sh
run_suite "smoke (bench/scale --small)" sh tests/smoke/scale.sh "$1"
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

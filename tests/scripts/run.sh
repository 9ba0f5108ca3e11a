#!/usr/bin/env bash
# tests/scripts/run.sh: checks of the project's shell scripts (scripts/*.sh) that need neither a
# build nor a database: each tests/scripts/cases/*.sh runs a script against a temporary tree.
# A case exits 0 (pass), 77 (skip) or anything else (fail), printing why on stdout.
# Prints TAP and ends with "scripts: N passed, N failed, N skipped".
#   tests/scripts/run.sh [CASE_NAME_SUBSTRING]
set -u
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SCRIPTS_ROOT=$(cd "$here/../.." && pwd)
filter=${1:-}
cases=()
for c in "$here"/cases/*.sh; do
    name=$(basename "$c" .sh)
    [ -n "$filter" ] && [ "${name#*"$filter"}" = "$name" ] && continue
    cases+=("$c")
done
echo "1..${#cases[@]}"
pass=0 fail=0 skip=0 n=0
for c in "${cases[@]}"; do
    n=$((n + 1))
    name=$(basename "$c" .sh)
    out=$(bash "$c" 2>&1)
    status=$?
    if [ "$status" -eq 0 ]; then
        echo "ok $n - $name"
        pass=$((pass + 1))
    elif [ "$status" -eq 77 ]; then
        echo "ok $n - $name # SKIP ${out##*$'\n'}"
        skip=$((skip + 1))
    else
        printf '%s\n' "$out" | sed 's/^/# /'
        echo "not ok $n - $name (exit status $status)"
        fail=$((fail + 1))
    fi
done
echo "scripts: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

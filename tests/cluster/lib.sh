# shellcheck shell=bash
# tests/cluster/lib.sh: what tests/cluster/run.sh and tests/cluster/move.sh share, sourced by
# both after they set `label` (the name in their closing line) and `bin`: TAP counters and
# check(), finish(), the plproxy check, and three throwaway PostgreSQL clusters (a proxy and two
# shards, unix sockets, wal_level = logical) stopped on exit.
# Sets: root, proxy_url, s0_url, s1_url, s0_dir, s1_dir, shard_url[], shard_dir[]; defines
# L (the llmemory binary) and q (psql: url, sql).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { # description, command...
    local d=$1
    shift
    if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "$(echo "$out" | head -5)"; fi
}
finish() {
    echo "$label: $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
    exit
}
if [ ! -f /usr/share/postgresql/15/extension/plproxy.control ]; then
    echo "# plproxy is not installed (scripts/deps.sh installs it)"
    skip=1
    finish
fi

dirs=()
cleanup() { for d in "${dirs[@]}"; do sh "$root/scripts/pg-test-cluster.sh" stop "$d"; done; }
trap cleanup EXIT INT TERM
start() { # name -> sets <name>_dir, <name>_url
    local env
    env=$(LLMEMORY_TEST_PG_SETTINGS="wal_level = logical" sh "$root/scripts/pg-test-cluster.sh" start) ||
        { not_ok "start cluster $1"; finish; }
    eval "$env"
    dirs+=("$LLMEMORY_TEST_PG_DIR")
    eval "${1}_dir=\$LLMEMORY_TEST_PG_DIR ${1}_url=\$LLMEMORY_TEST_DATABASE_URL"
}
start proxy
start s0
start s1
# shellcheck disable=SC2034 # used by the scripts that source this file
shard_url=("$s0_url" "$s1_url")
# shellcheck disable=SC2034
shard_dir=("$s0_dir" "$s1_dir")
export LLMEMORY_EMBEDDER=builtin
unset LLMEMORY_DATABASE_URL DATABASE_URL LLMEMORY_SCHEMA
L() { "$bin" "$@"; }
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$1" -c "$2"; } # url, sql

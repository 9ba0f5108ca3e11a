#!/usr/bin/env bash
# bench/cluster/ops.sh: the latency a cluster proxy adds to each library operation: keyword,
# vector and hybrid search, get, add and API key verification, direct on the tenant's shard and
# through the proxy in one run (ops_bench.c says how). Starts three throwaway clusters (a proxy
# and two shards, unix sockets), builds the driver against build/debug, prints a Markdown table.
#   bench/cluster/ops.sh            (OPS_BENCH_N operations per side and kind, default 300)
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
make --no-print-directory build/debug/libllmemory.a build/debug/llmemory >/dev/null
out=build/bench/cluster
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude $(pkg-config --cflags libpq jansson) \
    bench/cluster/ops_bench.c bench/common/bench.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/ops_bench"
dirs=()
trap 'for d in "${dirs[@]}"; do sh "$root/scripts/pg-test-cluster.sh" stop "$d"; done' EXIT INT TERM
pms=""
start() {
    eval "$(LLMEMORY_TEST_PG_SETTINGS="wal_level = logical" sh scripts/pg-test-cluster.sh start)"
    dirs+=("$LLMEMORY_TEST_PG_DIR")
    eval "$1=\$LLMEMORY_TEST_DATABASE_URL"
    pms="$pms $(head -1 "$LLMEMORY_TEST_PG_DIR/data/postmaster.pid")"
}
start proxy
start s0
start s1
export LLMEMORY_EMBEDDER=builtin
build/debug/llmemory cluster init --proxy "$proxy" --shard "$s0" --shard "$s1" >/dev/null
owner=bench
[ "$(build/debug/llmemory cluster shard-of $owner --proxy "$proxy")" = 0 ] && shard=$s0 || shard=$s1
OPS_BENCH_POSTMASTERS=$pms "$out/ops_bench" "$shard" "$proxy" "$owner"

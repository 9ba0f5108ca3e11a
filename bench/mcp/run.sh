#!/bin/sh
# bench/mcp/run.sh: the latency the Model Context Protocol adds to a search, over stdio
# (`llmemory mcp`) and Streamable HTTP (/mcp of `llmemory serve`), against the same search
# through the library, in one run with the calls interleaved (bench/mcp/latency.c). Target: at
# most 1 ms added at the median.
#   bench/mcp/run.sh                 2000 calls per path, 300 documents
#   CALLS=500 DOCS=100 SERVER_THREADS=N bench/mcp/run.sh (default: the server's own default)
# Uses the release-like debug build (-O2). Starts and stops its own throwaway PostgreSQL cluster
# (scripts/pg-test-cluster.sh); binds only 127.0.0.1.
set -eu
cd "$(dirname "$0")/../.."
calls=${CALLS:-2000}
docs=${DOCS:-300}

make --no-print-directory build/debug/libllmemory.a build/debug/llmemory >/dev/null
out=build/bench/mcp
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude $(pkg-config --cflags libpq jansson libcurl) \
    bench/mcp/latency.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/latency"
bin=build/debug/llmemory

eval "$(sh scripts/pg-test-cluster.sh start)"
db=$LLMEMORY_TEST_DATABASE_URL
schema=bench_mcp
owner=bench-mcp
spid=
cleanup() {
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"
}
trap cleanup EXIT INT TERM

"$out/latency" load "$db" "$schema" "$owner" "$docs"
key=$("$bin" --database-url "$db" --schema "$schema" keys create --owner "$owner" --scope read \
    2>/dev/null)
rm -f "$out/port"
"$bin" --database-url "$db" --schema "$schema" serve --port 0 --port-file "$out/port" \
    --access-log off ${SERVER_THREADS:+--threads $SERVER_THREADS} >"$out/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || { cat "$out/server.log"; exit 1; }

echo "$(nproc) CPUs; $docs documents of 250 words; text search, limit 10, with documents"
SERVER_PID=$spid "$out/latency" run "$db" "$schema" "$owner" "$bin" \
    "http://127.0.0.1:$(cat "$out/port")" "$key" "$calls" 2>"$out/stderr.log" | tee "$out/result.txt"

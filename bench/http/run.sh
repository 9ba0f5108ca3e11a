#!/bin/sh
# bench/http/run.sh: load test of `llmemory serve`. Four tenants (one API key each, a marker
# word in every document) and CONCURRENCY client threads run mixed search/add traffic over
# loopback for SECONDS; then the same mix is issued directly through the library (one lm_memory,
# one connection per thread). Prints both tables side by side, the server's overhead as ratios,
# and fails on any 5xx, transport error or cross-tenant result.
#   bench/http/run.sh                       60 s per mode, concurrency 16, 10% adds
#   SECONDS_PER_MODE=10 bench/http/run.sh   shorter
#   CONCURRENCY=16 ADD_PCT=10 DOCS=500 SERVER_THREADS=N (default: the server's own default)
# Starts and stops its own throwaway PostgreSQL cluster (scripts/pg-test-cluster.sh); binds only
# 127.0.0.1. Results and method: docs/http.md.
set -eu
cd "$(dirname "$0")/../.."
secs=${SECONDS_PER_MODE:-60}
conc=${CONCURRENCY:-16}
add=${ADD_PCT:-10}
docs=${DOCS:-500}

make --no-print-directory build/debug/libllmemory.a build/debug/llmemory >/dev/null
out=build/bench/http
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude $(pkg-config --cflags libpq jansson libcurl) \
    bench/http/loadgen.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/loadgen"
bin=build/debug/llmemory

eval "$(sh scripts/pg-test-cluster.sh start)"
db=$LLMEMORY_TEST_DATABASE_URL
schema=bench_http
spid=
cleanup() {
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"
}
trap cleanup EXIT INT TERM

echo "$(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo);" \
    "$conc clients, $add% adds, $secs s per mode, $docs documents per tenant"
"$out/loadgen" load "$db" "$schema" "$docs"
: >"$out/keys"
for t in 0 1 2 3; do
    "$bin" --database-url "$db" --schema "$schema" keys create --owner "bench-t$t" 2>/dev/null \
        >>"$out/keys"
done

rm -f "$out/port"
# shellcheck disable=SC2086
"$bin" --database-url "$db" --schema "$schema" serve --listen 127.0.0.1 --port 0 \
    --port-file "$out/port" --access-log off ${SERVER_THREADS:+--threads $SERVER_THREADS} \
    >"$out/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || { cat "$out/server.log"; exit 1; }
sed -n 's/.*msg=listening/server:/p' "$out/server.log"
url=http://127.0.0.1:$(cat "$out/port")

rc=0
"$out/loadgen" http "$url" "$out/keys" "$secs" "$conc" "$add" | tee "$out/http.txt" || rc=1
"$out/loadgen" lib "$db" "$schema" "$secs" "$conc" "$add" | tee "$out/lib.txt" || rc=1
kill -TERM "$spid"
wait "$spid" || rc=1
spid=

# Side by side, and the server's overhead (http / lib).
awk '
    FNR == 1 { next }
    $1 == "http" || $1 == "lib" { if ($2 != "" && $3 ~ /^[0-9]+$/) { v[$1, $2, "n"] = $4; v[$1, $2, "p50"] = $5; v[$1, $2, "p99"] = $7 } }
    END {
        printf "\n%-7s %12s %12s %12s %12s %12s %12s\n", "op", "http req/s", "lib op/s", "http p50", "lib p50", "http p99", "lib p99"
        split("search add all", ops, " ")
        for (i = 1; i <= 3; i++) {
            o = ops[i]
            printf "%-7s %12.1f %12.1f %12.2f %12.2f %12.2f %12.2f\n", o, v["http", o, "n"], v["lib", o, "n"], v["http", o, "p50"], v["lib", o, "p50"], v["http", o, "p99"], v["lib", o, "p99"]
        }
        for (i = 1; i <= 3; i++) {
            o = ops[i]
            if (v["lib", o, "n"] > 0 && v["lib", o, "p50"] > 0 && v["lib", o, "p99"] > 0)
                printf "overhead %-6s throughput %.2fx  p50 %.2fx  p99 %.2fx (http / lib)\n", o, v["http", o, "n"] / v["lib", o, "n"], v["http", o, "p50"] / v["lib", o, "p50"], v["http", o, "p99"] / v["lib", o, "p99"]
        }
    }' "$out/http.txt" "$out/lib.txt"
grep -h 'cross_tenant' "$out/http.txt" "$out/lib.txt"
if [ $rc = 0 ]; then echo "PASS: no 5xx, no errors, no cross-tenant results"; else echo "FAIL"; fi
exit $rc

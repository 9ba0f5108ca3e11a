#!/bin/sh
# bench/http/throughput.sh: search throughput through `llmemory serve` against the library at 1,
# 2, 4 and 8 clients, side by side in one run: one cluster and one corpus (bench/http's four
# tenants), and for each client count and each of RUNS rounds (default 3) SECONDS_PER_MODE
# (default 5) of searches through the library, then the same through HTTP, back to back. Prints
# the medians and HTTP / library. With BASE_BIN=path/to/other/llmemory, a second server (another
# build) runs in the same rounds, so a change can be compared on the same machine state.
#   bench/http/throughput.sh
#   RUNS=3 SECONDS_PER_MODE=5 DOCS=200 BASE_BIN=build/old/llmemory bench/http/throughput.sh
set -eu
cd "$(dirname "$0")/../.."
secs=${SECONDS_PER_MODE:-5}
runs=${RUNS:-3}
docs=${DOCS:-200}
base=${BASE_BIN:-}

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
schema=bench_http_tp
pids=
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"
}
trap cleanup EXIT INT TERM

"$out/loadgen" load "$db" "$schema" "$docs"
: >"$out/keys"
for t in 0 1 2 3; do
    "$bin" --database-url "$db" --schema "$schema" keys create --owner "bench-t$t" 2>/dev/null \
        >>"$out/keys"
done
psql -q -X "$db" -c "VACUUM ANALYZE" >/dev/null

start_server() { # BIN NAME -> url in $out/NAME.url
    rm -f "$out/$2.port"
    "$1" --database-url "$db" --schema "$schema" serve --listen 127.0.0.1 --port 0 \
        --port-file "$out/$2.port" --access-log off >"$out/$2.log" 2>&1 &
    pids="$pids $!"
    for _ in $(seq 1 300); do [ -s "$out/$2.port" ] && break; sleep 0.1; done
    [ -s "$out/$2.port" ] || { cat "$out/$2.log"; exit 1; }
    echo "http://127.0.0.1:$(cat "$out/$2.port")" >"$out/$2.url"
}
start_server "$bin" http
modes="lib http"
if [ -n "$base" ]; then
    start_server "$base" base
    modes="lib base http"
fi
echo "$(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); $runs rounds of $secs s per" \
    "mode and client count; searches only; $docs documents per tenant"

: >"$out/tp.txt"
for c in 1 2 4 8; do
    for r in $(seq 1 "$runs"); do
        for m in $modes; do
            if [ "$m" = lib ]; then
                "$out/loadgen" lib "$db" "$schema" "$secs" "$c" 0 >"$out/tp.one"
            else
                "$out/loadgen" http "$(cat "$out/$m.url")" "$out/keys" "$secs" "$c" 0 >"$out/tp.one"
            fi
            awk -v m="$m" -v c="$c" '$2 == "search" && $3 ~ /^[0-9]+$/ { print m, c, $4 }' \
                "$out/tp.one" >>"$out/tp.txt"
        done
    done
done

# Medians per mode and client count, and the ratios.
sort -k1,1 -k2,2n -k3,3n "$out/tp.txt" | awk -v base="$base" '
    { v[$1, $2, ++n[$1, $2]] = $3 }
    function med(m, c,   k) { k = n[m, c]; return k % 2 ? v[m, c, (k + 1) / 2] : (v[m, c, k / 2] + v[m, c, k / 2 + 1]) / 2 }
    END {
        if (base != "") {
            printf "| clients | library searches/s | HTTP (base) | HTTP | base / library | HTTP / library |\n|---:|---:|---:|---:|---:|---:|\n"
            for (c = 1; c <= 8; c *= 2)
                printf "| %d | %.1f | %.1f | %.1f | %.2f | %.2f |\n", c, med("lib", c), med("base", c), med("http", c), med("base", c) / med("lib", c), med("http", c) / med("lib", c)
        } else {
            printf "| clients | library searches/s | HTTP searches/s | HTTP / library |\n|---:|---:|---:|---:|\n"
            for (c = 1; c <= 8; c *= 2)
                printf "| %d | %.1f | %.1f | %.2f |\n", c, med("lib", c), med("http", c), med("http", c) / med("lib", c)
        }
    }'

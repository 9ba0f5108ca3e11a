#!/bin/sh
# bench/http/throughput.sh: search throughput through `llmemory serve` against the library at 1,
# 2, 4 and 8 clients, side by side in one run: one cluster and one corpus (bench/http's four
# tenants), and for each client count and each of RUNS rounds (default 3) SECONDS_PER_MODE
# (default 5) of searches through the library, then the same through HTTP with the verified-key
# cache on (the default) and through a second server with it off (--key-cache 0, the baseline),
# back to back. The HTTP client is loadgen's raw keep-alive sockets (CLIENT=curl: libcurl and a
# JSON parse of every reply). Besides searches per second it reads the CPU time each run cost
# (/proc): the process doing the work (the server; for the library, the client process that
# is the library), PostgreSQL (the cluster's processes, exited backends included) and the HTTP
# client, per search, which is the fairest figure on a small shared machine where the client
# competes with the server for the same cores. Prints the medians and HTTP / library.
# With BASE_BIN=path/to/other/llmemory, a third server (another build) runs in the same rounds.
#   bench/http/throughput.sh
#   RUNS=3 SECONDS_PER_MODE=5 DOCS=200 CLIENT=raw BASE_BIN=build/old/llmemory bench/http/throughput.sh
set -eu
cd "$(dirname "$0")/../.."
secs=${SECONDS_PER_MODE:-5}
runs=${RUNS:-3}
docs=${DOCS:-200}
base=${BASE_BIN:-}
client=${CLIENT:-raw}

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

start_server() { # BIN NAME [ARGS] -> url in $out/NAME.url, pid in $out/NAME.pid
    b=$1 name=$2
    shift 2
    rm -f "$out/$name.port"
    "$b" --database-url "$db" --schema "$schema" serve --listen 127.0.0.1 --port 0 \
        --port-file "$out/$name.port" --access-log off "$@" >"$out/$name.log" 2>&1 &
    pids="$pids $!"
    echo $! >"$out/$name.pid"
    for _ in $(seq 1 300); do [ -s "$out/$name.port" ] && break; sleep 0.1; done
    [ -s "$out/$name.port" ] || { cat "$out/$name.log"; exit 1; }
    echo "http://127.0.0.1:$(cat "$out/$name.port")" >"$out/$name.url"
}
start_server "$bin" http
start_server "$bin" nocache --key-cache 0
modes="lib http nocache"
if [ -n "$base" ]; then
    start_server "$base" base
    modes="lib base http nocache"
fi

# CPU ticks of the test cluster: the postmaster with its reaped children (backends that have
# exited) and its live children; of one process.
pg_ticks() {
    pm=$(head -1 "$LLMEMORY_TEST_PG_DIR"/data/postmaster.pid 2>/dev/null ||
        head -1 "$LLMEMORY_TEST_PG_DIR"/*/postmaster.pid)
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
    for p in $(pgrep -P "$pm"); do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "$(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); $runs rounds of $secs s per" \
    "mode and client count; searches only; $docs documents per tenant; HTTP client $client"

# Warm-up: plans, pools, and each server's key cache.
for m in $modes; do
    [ "$m" = lib ] && continue
    "$out/loadgen" raw "$(cat "$out/$m.url")" "$out/keys" 1 4 >/dev/null
done
"$out/loadgen" lib "$db" "$schema" 1 4 0 >/dev/null

# One line per run: mode clients searches/s worker_ms pg_ms client_ms (CPU ms per search)
: >"$out/tp.txt"
for c in 1 2 4 8; do
    for r in $(seq 1 "$runs"); do
        for m in $modes; do
            p0=$(pg_ticks)
            if [ "$m" = lib ]; then
                "$out/loadgen" lib "$db" "$schema" "$secs" "$c" 0 >"$out/tp.one"
                s0=0 s1=0
            else
                spid=$(cat "$out/$m.pid")
                s0=$(proc_ticks "$spid")
                if [ "$client" = curl ]; then
                    "$out/loadgen" http "$(cat "$out/$m.url")" "$out/keys" "$secs" "$c" 0 >"$out/tp.one"
                else
                    "$out/loadgen" raw "$(cat "$out/$m.url")" "$out/keys" "$secs" "$c" >"$out/tp.one"
                fi
                s1=$(proc_ticks "$spid")
            fi
            # The library's backends exit with it: counted once the postmaster has reaped them.
            sleep 0.5
            p1=$(pg_ticks)
            awk -v m="$m" -v c="$c" -v pg=$((p1 - p0)) -v srv=$((s1 - s0)) -v hz="$hz" '
                $2 == "search" && $3 ~ /^[0-9]+$/ { n = $3; rate = $4 }
                / client_cpu_s / { for (i = 1; i < NF; i++) if ($i == "client_cpu_s") cl = $(i + 1) }
                END {
                    if (n == 0) exit 1
                    work = m == "lib" ? cl * 1000 : srv * 1000 / hz
                    client = m == "lib" ? 0 : cl * 1000
                    printf "%s %d %.1f %.4f %.4f %.4f\n", m, c, rate, work / n, pg * 1000 / hz / n, client / n
                }' "$out/tp.one" >>"$out/tp.txt"
        done
    done
done

# Medians per mode and client count, and the ratios.
awk -v modes="$modes" '
    { k = $1 SUBSEP $2; n[k]++; for (f = 3; f <= 6; f++) v[k, f, n[k]] = $f }
    function med(m, c, f,   k, i, j, t, a, cnt) {
        k = m SUBSEP c; cnt = n[k]
        for (i = 1; i <= cnt; i++) a[i] = v[k, f, i]
        for (i = 2; i <= cnt; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return cnt % 2 ? a[(cnt + 1) / 2] : (a[cnt / 2] + a[cnt / 2 + 1]) / 2
    }
    END {
        nm = split(modes, M, " ")
        printf "Searches per second (medians)\n\n| clients |"
        for (i = 1; i <= nm; i++) printf " %s |", M[i]
        for (i = 2; i <= nm; i++) printf " %s / lib |", M[i]
        printf "\n|---:|"
        for (i = 2; i <= 2 * nm; i++) printf "---:|"
        printf "\n"
        for (c = 1; c <= 8; c *= 2) {
            printf "| %d |", c
            for (i = 1; i <= nm; i++) printf " %.1f |", med(M[i], c, 3)
            for (i = 2; i <= nm; i++) printf " %.2f |", med(M[i], c, 3) / med("lib", c, 3)
            printf "\n"
        }
        printf "\nCPU ms per search (medians): the working process (library client / server) + PostgreSQL = total; HTTP client apart\n\n| clients |"
        for (i = 1; i <= nm; i++) printf " %s |", M[i]
        for (i = 2; i <= nm; i++) printf " %s client |", M[i]
        printf "\n|---:|"
        for (i = 2; i <= 2 * nm; i++) printf "---:|"
        printf "\n"
        for (c = 1; c <= 8; c *= 2) {
            printf "| %d |", c
            for (i = 1; i <= nm; i++) printf " %.3f + %.3f = %.3f |", med(M[i], c, 4), med(M[i], c, 5), med(M[i], c, 4) + med(M[i], c, 5)
            for (i = 2; i <= nm; i++) printf " %.3f |", med(M[i], c, 6)
            printf "\n"
        }
    }' "$out/tp.txt"

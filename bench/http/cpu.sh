#!/bin/sh
# bench/http/cpu.sh: the CPU cost of one search through `llmemory serve`, against the same
# search through the library, counted so that the machine's load does not change the figure.
# One client thread runs bench/http's searches (no adds) for SECONDS_PER_MODE (default 20) in
# each mode, and the process doing the work runs under valgrind --tool=callgrind: the server with
# instrumentation switched on for the measured window only (after a warm-up), the library client
# twice (2 s, and SECONDS_PER_MODE + 2 s) so that the difference leaves startup out. PostgreSQL's
# CPU time (the cluster's processes, exited backends included) is read from /proc around each
# window. Prints instructions per search (server process / library client process), their ratio,
# and PostgreSQL CPU ms per search. Needs valgrind. Same corpus as bench/http/run.sh.
#   bench/http/cpu.sh                      LLMEMORY_EMBEDDER as set (builtin: hybrid searches)
#   SECONDS_PER_MODE=30 DOCS=200 LLMEMORY_BIN=path/to/llmemory bench/http/cpu.sh
set -eu
cd "$(dirname "$0")/../.."
secs=${SECONDS_PER_MODE:-20}
docs=${DOCS:-200}

make --no-print-directory build/debug/libllmemory.a build/debug/llmemory >/dev/null
out=build/bench/http
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Iinclude $(pkg-config --cflags libpq jansson libcurl) \
    bench/http/loadgen.c build/debug/libllmemory.a \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/loadgen"
bin=${LLMEMORY_BIN:-build/debug/llmemory}

eval "$(sh scripts/pg-test-cluster.sh start)"
db=$LLMEMORY_TEST_DATABASE_URL
schema=bench_http_cpu
spid=
cleanup() {
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"
}
trap cleanup EXIT INT TERM

# CPU ticks of the test cluster: the postmaster with its reaped children (backends that have
# exited) and its live children.
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
hz=$(getconf CLK_TCK)
# Total instructions (Ir) of a callgrind output file.
ir() { awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 } END { print t ? t : s }' "$1"; }

"$out/loadgen" load "$db" "$schema" "$docs"
: >"$out/keys"
for t in 0 1 2 3; do
    "$bin" --database-url "$db" --schema "$schema" keys create --owner "bench-t$t" 2>/dev/null \
        >>"$out/keys"
done

# Settle the cluster (no autovacuum of the fresh data inside a window), then its idle CPU rate,
# subtracted from each window: the background processes' ticks are no search's work.
psql -q -X "$db" -c "VACUUM ANALYZE" >/dev/null
i0=$(pg_ticks)
sleep 10
idle=$(($(pg_ticks) - i0)) # ticks per 10 s

# HTTP: the server under callgrind, instrumented for the load window only.
rm -f "$out/port" "$out"/cg.http.* "$out"/cg.lib.*
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.http.%p" \
    "$bin" --database-url "$db" --schema "$schema" serve --listen 127.0.0.1 --port 0 \
    --port-file "$out/port" --access-log off --threads 2 >"$out/cpu-server.log" 2>&1 &
spid=$!
for _ in $(seq 1 600); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || { cat "$out/cpu-server.log"; exit 1; }
url=http://127.0.0.1:$(cat "$out/port")
"$out/loadgen" http "$url" "$out/keys" 2 1 0 >/dev/null # warm up (plans, pool, model)
callgrind_control -i on "$spid" >/dev/null
p0=$(pg_ticks)
w0=$(date +%s.%N)
"$out/loadgen" http "$url" "$out/keys" "$secs" 1 0 >"$out/cpu-http.txt"
p1=$(pg_ticks)
w1=$(date +%s.%N)
callgrind_control -i off "$spid" >/dev/null
kill -TERM "$spid"
wait "$spid" || true
spid=
p1=$(echo "$p1 $w0 $w1 $idle" | awk '{ printf "%d", $1 - ($3 - $2) * $4 / 10 }')
n_http=$(awk '$1 == "http" && $2 == "search" { print $3 }' "$out/cpu-http.txt")
ir_http=$(ir "$(ls "$out"/cg.http.* | head -1)")

# Library: the client process under callgrind, a run of 2 s and a run of SECONDS + 2 s; the
# difference between the two is the searches' own cost (startup and model loading cancel out).
lib_run() { # SECONDS TAG -> "searches Ir pg_ticks"
    q0=$(pg_ticks)
    v0=$(date +%s.%N)
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.lib.$2" \
        "$out/loadgen" lib "$db" "$schema" "$1" 1 0 >"$out/cpu-lib.$2.txt" 2>/dev/null
    q1=$(pg_ticks)
    q1=$(echo "$q1 $q0 $v0 $(date +%s.%N) $idle" | awk '{ printf "%d", $1 - ($4 - $3) * $5 / 10 }')
    echo "$(awk '$1 == "lib" && $2 == "search" { print $3 }' "$out/cpu-lib.$2.txt")" \
        "$(ir "$out/cg.lib.$2")" $((q1 - q0))
}
set -- $(lib_run 2 short) $(lib_run $((secs + 2)) long)
n_lib=$(($4 - $1))
ir_lib=$(($5 - $2))
p2=0
p3=$(($6 - $3))

echo "$n_http $ir_http $((p1 - p0)) $n_lib $ir_lib $((p3 - p2)) $hz $idle" | awk '{
    printf "searches counted: http %d, library %d (1 client, %s)\n", $1, $4, ENVIRON["LLMEMORY_EMBEDDER"] != "" ? "embedder " ENVIRON["LLMEMORY_EMBEDDER"] : "default embedder"
    printf "instructions per search: http server %.0f, library client %.0f, ratio %.2f\n", $2 / $1, $5 / $4, ($2 / $1) / ($5 / $4)
    printf "PostgreSQL CPU ms per search (idle rate %d ticks/10 s subtracted): http %.2f, library %.2f\n", $8, 1000 * $3 / $7 / $1, 1000 * $6 / $7 / $4
}' | tee "$out/cpu.txt"

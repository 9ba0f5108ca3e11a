#!/bin/sh
# bench/abuse/run.sh: availability of `llmemory serve` under abuse (issue scenarios: connection
# limit, slowloris, unauthenticated uploads, /metrics floods, a noisy tenant's searches, several
# noisy tenants' searches and large adds). A victim tenant's keyword search p50/p95 is measured
# during each scenario beside a quiet baseline taken just before it, in the same run; see
# abuse.py for each scenario.
#   bench/abuse/run.sh                      10 s per scenario, full scale (1,088 connections...)
#   SECONDS_PER_SCENARIO=3 SCALE=0.2 MAX_CONNECTIONS=256 ONLY=conn_limit,slowloris bench/abuse/run.sh
#   SERVE_ARGS='--search-slot-cost 1000000' ONLY=noisy_search bench/abuse/run.sh   (unweighted)
#   SERVE_ARGS='--search-slots 1000' ONLY=many_noisy bench/abuse/run.sh   (no server-wide budget)
#   LLMEMORY_BACKGROUND_NICE=0 ONLY=noisy_search,big_adds bench/abuse/run.sh   (costly and
#       background work at the same CPU priority as the victim's; default 10: lower)
#   LLMEMORY_BIN=path/to/another/llmemory ...   (compare two builds)
# Starts and stops its own throwaway PostgreSQL cluster and server; binds only loopback
# addresses (attackers use 127.0.0.2 and up). Every loop is bounded; the run stops by itself.
set -eu
cd "$(dirname "$0")/../.."
secs=${SECONDS_PER_SCENARIO:-10}
scale=${SCALE:-1}
maxc=${MAX_CONNECTIONS:-1024}
bin=${LLMEMORY_BIN:-build/debug/llmemory}
out=build/bench/abuse
mkdir -p "$out"
[ -x "$bin" ] || make --no-print-directory "$bin" >/dev/null
ulimit -n 8192 2>/dev/null || true

eval "$(sh scripts/pg-test-cluster.sh start)"
db=$LLMEMORY_TEST_DATABASE_URL
schema=bench_abuse
spid=
cleanup() {
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"
}
trap cleanup EXIT INT TERM

vkey=$("$bin" --database-url "$db" --schema "$schema" keys create --owner abuse-victim 2>/dev/null)
akey=$("$bin" --database-url "$db" --schema "$schema" keys create --owner abuse-noisy \
    --scope write 2>/dev/null)
# Several more tenants for many_noisy (NOISY_TENANTS, default 4).
nkeys=
for i in $(seq 1 "${NOISY_TENANTS:-4}"); do
    k=$("$bin" --database-url "$db" --schema "$schema" keys create --owner "abuse-noisy-$i" \
        --scope write 2>/dev/null)
    nkeys=${nkeys:+$nkeys,}$k
done
rm -f "$out/port"
"$bin" --database-url "$db" --schema "$schema" serve --listen 127.0.0.1 --port 0 \
    --port-file "$out/port" --access-log off --max-connections "$maxc" \
    ${HEAD_TIMEOUT:+--head-timeout $HEAD_TIMEOUT} ${SERVE_ARGS:-} >"$out/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || { cat "$out/server.log"; exit 1; }
url=http://127.0.0.1:$(cat "$out/port")

# shellcheck disable=SC2046
python3 bench/abuse/seed.py "$url" "$vkey" "$akey" "${DOCS:-200}" $(echo "$nkeys" | tr ',' ' ')
echo "$(nproc) CPUs; $secs s per scenario, scale $scale, max-connections $maxc"
python3 bench/abuse/abuse.py --url "$url" --pid "$spid" --victim-key "$vkey" \
    --attacker-key "$akey" --noisy-keys "$nkeys" --seconds "$secs" --scale "$scale" --max-connections "$maxc" \
    --head-timeout "${HEAD_TIMEOUT:-10}" ${ONLY:+--only "$ONLY"} ${CHECK:+--check}

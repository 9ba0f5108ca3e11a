#!/bin/sh
# bench/relay/run.sh: the cost of relaying every byte of every connection through the server
# (the only way libmicrohttpd 0.9.75 would let later request heads and chunked bodies be checked
# before it parses them; docs/http.md). Sends the same keep-alive requests to `llmemory serve`
# directly and through relay.c, alternating rounds in one run, and reports the client's median
# latency and the CPU time per request of the server and of the relay.
#   bench/relay/run.sh            ROUNDS=3 REQUESTS=3000 CONNS=4
set -eu
cd "$(dirname "$0")/../.."
bin=${LLMEMORY_BIN:-build/debug/llmemory}
out=build/bench/relay
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/relay" bench/relay/relay.c
eval "$(sh scripts/pg-test-cluster.sh start)"
db=$LLMEMORY_TEST_DATABASE_URL
schema=bench_relay
spid=
rpid=
cleanup() {
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    sh scripts/pg-test-cluster.sh stop "$LLMEMORY_TEST_PG_DIR"
}
trap cleanup EXIT INT TERM
key=$("$bin" --database-url "$db" --schema "$schema" keys create --owner relay 2>/dev/null)
rm -f "$out/port"
"$bin" --database-url "$db" --schema "$schema" serve --listen 127.0.0.1 --port 0 \
    --port-file "$out/port" --access-log off --public-rate-limit 1000000 >"$out/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do [ -s "$out/port" ] && break; sleep 0.1; done
port=$(cat "$out/port")
rport=$((port + 1))
"$out/relay" "$rport" "$port" &
rpid=$!
sleep 0.3
python3 - "$port" "$rport" "$spid" "$rpid" "$key" "${ROUNDS:-3}" "${REQUESTS:-3000}" "${CONNS:-4}" <<'PY'
import http.client, json, os, statistics, sys, threading, time
port, rport, spid, rpid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
key, rounds, nreq, nconn = sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(50):
    c.request("POST", "/v1/documents", body=json.dumps({"id_at_origin": "d%d" % i, "content":
              "relay harbor granite meadow copper document %d" % i}),
              headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    c.getresponse().read()
paths = {"healthz": ("/healthz", {}),
         "search": ("/v1/search?q=harbor&limit=5", {"Authorization": "Bearer " + key})}
def load(p, path, hdrs):
    lat = []
    def one():
        c = http.client.HTTPConnection("127.0.0.1", p)
        for _ in range(nreq // nconn):
            t0 = time.perf_counter()
            c.request("GET", path, headers=hdrs)
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
            lat.append((time.perf_counter() - t0) * 1000)
        c.close()
    th = [threading.Thread(target=one) for _ in range(nconn)]
    s0, r0 = cpu(spid), cpu(rpid)
    for t in th: t.start()
    for t in th: t.join()
    return statistics.median(lat), (cpu(spid) - s0) / len(lat) * 1e6, (cpu(rpid) - r0) / len(lat) * 1e6
print("%-8s %-8s %10s %14s %14s" % ("route", "path", "p50_ms", "server_us/req", "relay_us/req"))
for name, (path, hdrs) in paths.items():
    res = {"direct": [], "relayed": []}
    for _ in range(rounds):
        res["direct"].append(load(port, path, hdrs))
        res["relayed"].append(load(rport, path, hdrs))
    for how in ("direct", "relayed"):
        m = [statistics.median(x[i] for x in res[how]) for i in range(3)]
        print("%-8s %-8s %10.3f %14.1f %14.1f" % (name, how, m[0], m[1], m[2]))
PY

# The connection layer under abuse (short versions of bench/abuse): no stall at or beyond the
# connection limit (a new authenticated request is answered within 1 s), request heads that
# trickle in are cut at their deadline, unauthenticated uploads get 401 before their body is read
# and leave no memory behind, and a chunked body is capped at --max-body exactly.
command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the abuse clients"
ulimit -n 4096 2>/dev/null || true
kv=$(new_key "$P-victim")
ka=$(new_key "$P-noisy" --scope write)
start_server "$HTTP_TMP/srv" --max-connections 256 --head-timeout 2 --max-body 1M \
    --max-content 1M --access-log off
python3 "$HTTP_ROOT/bench/abuse/seed.py" "$SURL" "$kv" "$ka" 10 || fail "seeding"
# AddressSanitizer holds freed memory in its quarantine: no memory target for that build.
mem=
grep -q __asan_init "$HTTP_BIN" && mem=--no-memory-target
# shellcheck disable=SC2086
python3 "$HTTP_ROOT/bench/abuse/abuse.py" --url "$SURL" --pid "$SPID" --victim-key "$kv" \
    --attacker-key "$ka" --seconds 3 --scale 0.1 --max-connections 256 --head-timeout 2 \
    --only conn_limit,slowloris,unauth_upload,metrics_flood --check $mem >"$HTTP_TMP/abuse.txt" 2>&1 ||
    { cat "$HTTP_TMP/abuse.txt"; fail "abuse scenarios missed a target"; }
cat "$HTTP_TMP/abuse.txt"

# 401 before the body: the head announces 1 MB, no byte of it is sent, the answer comes at once.
python3 - "$SURL" <<'PY' || fail "unauthenticated upload was not refused before its body"
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port), timeout=5)
s.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 1000000\r\n\r\n")
data = s.recv(4096)
assert data.startswith(b"HTTP/1.1 401"), data[:100]
assert b'"unauthenticated"' in data or b"\r\n\r\n" in data, data
PY
# Same with an API key that does not exist (checked by a worker, still before the body).
python3 - "$SURL" <<'PY' || fail "upload with an unknown key was not refused before its body"
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port), timeout=5)
s.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Authorization: Bearer lmk_0000000000000000_" + b"0" * 64 + b"\r\n"
          b"Content-Length: 1000000\r\n\r\n")
data = s.recv(4096)
assert data.startswith(b"HTTP/1.1 401"), data[:100]
PY

# A chunked body of exactly --max-body bytes is read; one byte more is 413.
chunked() { # SIZE -> status
    python3 - "$SURL" "$ka" "$1" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
size = int(sys.argv[3])
head = b'{"id_at_origin":"chunked-%d","name":"c","content":"' % size
body = head + b"a" * (size - len(head) - 2) + b'"}'
assert len(body) == size
def gen():
    for i in range(0, len(body), 65536):
        yield body[i:i + 65536]
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("POST", "/v1/documents", body=gen(), encode_chunked=True,
          headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json",
                   "Transfer-Encoding": "chunked"})
print(c.getresponse().status)
PY
}
c=$(chunked 1048576)
[ "$c" = 201 ] || [ "$c" = 422 ] || fail "chunked body of exactly --max-body got $c"
c=$(chunked 1048577)
[ "$c" = 413 ] || fail "chunked body one byte over --max-body got $c"
stop_server "$SPID"

# At the connection limit (16 here, with 16 reserve slots): a new client is served at once.
# Idle connections make room (the one idle longest is closed); when every slot, reserve
# included, is busy with a request, a new client gets an immediate 503 in the JSON error shape.
start_server "$HTTP_TMP/srv2" --max-connections 16 --max-connections-per-address 1000 \
    --head-timeout 30 --access-log off
python3 - "$SURL" "$ka" <<'PY' || fail "connection limit"
import http.client, json, socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
key = sys.argv[2]
def conn():
    return socket.create_connection((u.hostname, u.port), timeout=5)
def whoami():
    t0 = time.monotonic()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("GET", "/v1/whoami", headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, time.monotonic() - t0
# 16 idle connections fill every slot; 8 new clients are served at once, and each closes the
# connection that was idle longest.
idle = [conn() for _ in range(16)]
time.sleep(0.5)
kept = []
for _ in range(8):
    t0 = time.monotonic()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("GET", "/v1/whoami", headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    r.read()
    assert r.status == 200 and time.monotonic() - t0 < 1.0, (r.status, time.monotonic() - t0)
    kept.append(c)
closed = 0
for s in idle:
    s.settimeout(0.2)
    try:
        closed += s.recv(1) == b""
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
assert closed == 8, closed
for s in idle + kept:
    s.close()
time.sleep(0.5)
# 32 connections busy with a request (authenticated head, body still to come).
busy = []
for _ in range(32):
    s = conn()
    s.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100\r\n\r\n{")
    busy.append(s)
    time.sleep(0.01)
time.sleep(0.5)
s = conn()
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
t0 = time.monotonic()
while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
    d = s.recv(4096)
    if not d:
        break
    data += d
assert time.monotonic() - t0 < 1.0
assert data.startswith(b"HTTP/1.1 503"), data[:200]
assert b"retry-after: 1" in data.lower(), data
body = json.loads(data.split(b"\r\n\r\n", 1)[1])
assert body["error"]["code"] == "unavailable", body
for s in busy:
    s.close()
time.sleep(0.5)
st, dt = whoami()
assert st == 200, st
PY
stop_server "$SPID"

# A connection that closes after its reply frees its slot as the reply is queued, not when
# libmicrohttpd reports it closed a round later: at the limit, the clients whose connections were
# told to close to make room reconnect at once and are admitted. 76 clients on 64 slots and 16
# reserve slots, each re-sending /healthz and mostly waiting for a delayed 429 (so the ones told
# to close get their last reply together, at a sweep), and a probe client: no 503 for anyone.
# (At 16 slots the hard ceiling of all connections, leaving ones included, 2 x (16 + 16) - 16,
# is within reach of a slow build's libmicrohttpd loop: 64 keep that ceiling far away.)
start_server "$HTTP_TMP/srv-burst" --max-connections 64 --public-rate-limit 2 --access-log off
python3 - "$SURL" "$kv" 76 <<'PY' || fail "reconnects at the connection limit were refused"
import http.client, selectors, socket, sys, threading, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
key = sys.argv[2]
req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
stop = threading.Event()
seen = {"reconnects": 0, "503": 0, "answers": 0}
def connect(i):  # each client on an address of its own
    s = socket.socket()
    s.settimeout(2)
    s.bind(("127.0.0.%d" % (2 + i), 0))
    s.connect((u.hostname, u.port))
    s.setblocking(False)
    s.send(req)
    return s
def flood():
    sel = selectors.DefaultSelector()
    for i in range(int(sys.argv[3])):
        sel.register(connect(i), selectors.EVENT_READ, i)
    while not stop.is_set():
        for k, _ in sel.select(0.1):
            try:
                d = k.fileobj.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(k.fileobj)
                k.fileobj.close()
                sel.register(connect(k.data), selectors.EVENT_READ, k.data)
                seen["reconnects"] += 1
                continue
            seen["answers"] += d.count(b"HTTP/1.1 ")
            seen["503"] += d.count(b"HTTP/1.1 503")
            try:
                k.fileobj.send(req)
            except OSError:
                pass  # closed meanwhile: its end comes with the next read
    for k in list(sel.get_map().values()):
        k.fileobj.close()
def run_flood():
    try:
        flood()
    except Exception as e:  # a client that cannot connect fails the case, not only its thread
        seen["error"] = repr(e)
th = threading.Thread(target=run_flood, daemon=True)
th.start()
time.sleep(1.0)
probes = {}
for _ in range(100):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("GET", "/v1/whoami", headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    r.read()
    c.close()
    probes[r.status] = probes.get(r.status, 0) + 1
    time.sleep(0.05)
stop.set()
th.join(10)
print("# probes %s, flood %s" % (probes, seen))
assert probes == {200: 100}, probes
assert seen["reconnects"] >= 30, seen  # connections were closed to make room, and came back
assert seen["503"] == 0 and "error" not in seen, seen
PY
stop_server "$SPID"

# The public endpoints are limited per client address (here 1 a second, a burst of 2): beyond,
# 429 with Retry-After, answered late (the connection waits); the operator token is exempt, and
# the API is not affected.
start_server "$HTTP_TMP/srv3" --public-rate-limit 1 --access-log off
python3 - "$SURL" "$kv" "$LLMEMORY_OPERATOR_TOKEN" <<'PY' || fail "public rate limit"
import http.client, json, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
def get(path, auth=None):
    t0 = time.monotonic()
    c.request("GET", path, headers={"Authorization": "Bearer " + auth} if auth else {})
    r = c.getresponse()
    body = r.read()
    return r.status, time.monotonic() - t0, r.getheader("Retry-After"), body
statuses = [get(p)[0] for p in ("/healthz", "/readyz")]
assert statuses == [200, 200], statuses
st, dt, ra, body = get("/metrics")
assert st == 429 and ra is not None and int(ra) >= 1, (st, ra)
assert json.loads(body)["error"]["code"] == "rate_limited", body
assert dt >= 0.2, dt
for _ in range(3):
    st, dt, _, body = get("/metrics", sys.argv[3])
    assert st == 200 and b"llmemory_http_requests_total" in body, st
st, _, _, _ = get("/v1/whoami", sys.argv[2])
assert st == 200, st
PY
stop_server "$SPID"

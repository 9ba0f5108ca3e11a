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
python3 "$HTTP_ROOT/bench/abuse/abuse.py" --url "$SURL" --pid "$SPID" --victim-key "$kv" \
    --attacker-key "$ka" --seconds 3 --scale 0.1 --max-connections 256 --head-timeout 2 \
    --only conn_limit,slowloris,unauth_upload --check >"$HTTP_TMP/abuse.txt" 2>&1 ||
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

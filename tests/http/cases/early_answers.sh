# Answers given before any request was made are recorded like requests: the server's own early
# answers (414, 431, 400, 505 to a first request head; 503 at the connection limit) and the
# ones libmicrohttpd gives itself (a malformed later request on a kept-alive connection, a
# malformed chunked body) each get an access-log line (route=early, status, reason) and count in
# /metrics (llmemory_http_early_replies_total by status and reason, llmemory_http_errors_total).
command -v python3 >/dev/null 2>&1 || skip "python3 is needed for raw requests"
ka=$(new_key "$P-early" --scope write)
printf 'early-answers-operator-token\n' >"$HTTP_TMP/op"
start_server "$HTTP_TMP/srv" --max-connections 16 --max-connections-per-address 1000 \
    --head-timeout 30 --operator-token-file "$HTTP_TMP/op"
python3 - "$SURL" "$ka" <<'PY' || fail "early answers"
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
key = sys.argv[2].encode()
def conn():
    return socket.create_connection((u.hostname, u.port), timeout=5)
def read_all(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d
def raw(data):
    s = conn()
    s.sendall(data)
    out = read_all(s)
    s.close()
    return int(out.split(b" ")[1])
assert raw(b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n") == 414
assert raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n") == 431
assert raw(b"POST /v1/search HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 40000 + b"\r\n\r\n") == 431
assert raw(b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n") == 505
assert raw(b"GET /healthz HTTP/1.1\r\n\r\n") == 400
assert raw(b"DELETE /healthz HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n") == 400
# A malformed second request on a kept-alive connection, and a malformed chunked body:
# libmicrohttpd answers them itself.
s = conn()
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.3)
assert s.recv(65536).startswith(b"HTTP/1.1 200")
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n")
assert read_all(s).startswith(b"HTTP/1.1 400")
s.close()
s = conn()
s.sendall(b"POST /v1/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
          b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
assert read_all(s).startswith(b"HTTP/1.1 400")
s.close()
# 503 at the connection limit: 32 connections busy with a request (16 + 16 reserve).
busy = []
for _ in range(32):
    s = conn()
    s.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + key + b"\r\nContent-Length: 100\r\n\r\n{")
    busy.append(s)
    time.sleep(0.01)
time.sleep(0.5)
assert raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == 503
for s in busy:
    s.close()
time.sleep(0.5)
PY
log=$HTTP_TMP/srv/log
for want in 'method=GET route=early status=414 reason=uri_too_long' \
    'route=early status=431 reason=too_many_headers' \
    'method=POST route=early status=431 reason=headers_too_large' \
    'route=early status=505 reason=http_version' \
    'route=early status=400 reason=missing_host' \
    'method=DELETE route=early status=400 reason=malformed_header' \
    'route=early status=400 reason=malformed_request' \
    'route=early status=400 reason=malformed_body' \
    'route=early status=503 reason=connection_limit'; do
    grep "msg=access" "$log" | grep -q "$want" || fail "no access-log line with: $want"
done
grep 'route=early status=431 reason=headers_too_large' "$log" | grep -q 'client=127.0.0.1 in=' ||
    fail "the early line has no client address: $(grep 'route=early' "$log" | head -1)"
metrics=$(curl -s --max-time 5 -H "Authorization: Bearer early-answers-operator-token" "$SURL/metrics")
for want in 'status="414",reason="uri_too_long"} 1' 'status="431",reason="too_many_headers"} 1' \
    'status="431",reason="headers_too_large"} 1' 'status="505",reason="http_version"} 1' \
    'status="400",reason="missing_host"} 1' 'status="400",reason="malformed_header"} 1' \
    'status="400",reason="malformed_request"} 1' 'status="400",reason="malformed_body"} 1' \
    'status="503",reason="connection_limit"} 1'; do
    printf '%s\n' "$metrics" | grep -qF "llmemory_http_early_replies_total{$want" ||
        fail "/metrics lacks early_replies_total{$want"
done
printf '%s\n' "$metrics" | grep -q '^llmemory_http_errors_total{code="payload_too_large"} [1-9]' ||
    fail "the early answers are not in llmemory_http_errors_total"
stop_server "$SPID"

# Request limits and malformed requests: 413 for oversized bodies (by Content-Length and when
# streamed) and oversized content, 400 for malformed JSON, 415 for other content types, 422 for
# unknown fields and parameters, 404/405 for unknown paths and methods. The server stays up.
k=$(new_key "$P-acme")

head -c 2200000 /dev/zero | tr '\0' 'a' >"$HTTP_TMP/big"
req POST /v1/documents -H "Authorization: Bearer $k" -H 'Content-Type: application/json' \
    --data-binary @"$HTTP_TMP/big"
expect_status 413
expect_error payload_too_large
req POST /v1/documents -H "Authorization: Bearer $k" -H 'Content-Type: application/json' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$HTTP_TMP/big"
expect_status 413
# Unauthenticated oversized bodies are refused too (before anything is parsed).
req POST /v1/search -H 'Content-Type: application/json' --data-binary @"$HTTP_TMP/big"
expect_status 413
# Content above --max-content (1M) inside a body below --max-body (2M).
perl -e 'print "{\"id_at_origin\":\"big\",\"content\":\"", "word " x 220000, "\"}"' >"$HTTP_TMP/doc"
req POST /v1/documents -H "Authorization: Bearer $k" -H 'Content-Type: application/json' \
    --data-binary @"$HTTP_TMP/doc"
expect_status 413
expect_json error.field content
get "$k" /v1/statistics
expect_json document_count 0

for bad in '{bad' '{"query":' '[1,2]' '"text"' '{"query":"a","query":"b"}' 'nul'; do
    post "$k" /v1/search "$bad"
    expect_status 400
    expect_error parse_error
done
post "$k" /v1/search ''
expect_status 400
req POST /v1/search -H "Authorization: Bearer $k" -H 'Content-Type: text/plain' --data-binary '{"query":"x"}'
expect_status 415
expect_error unsupported_media_type
req POST /v1/search -H "Authorization: Bearer $k" --data-binary '{"query":"x"}'
expect_status 415
req POST /v1/search -H "Authorization: Bearer $k" -H 'Content-Type: application/json; charset=utf-8' --data-binary '{"query":"x"}'
expect_status 200
post "$k" /v1/search '{"query":"x","colour":"red"}'
expect_status 422
expect_json error.field colour
get "$k" "/v1/documents?colour=red"
expect_status 422
expect_json error.field colour
post "$k" /v1/documents '{"id_at_origin":"n","content":"nul \u0000 inside"}'
expect_status 201
post "$k" /v1/documents '{"id_at_origin":"n\u0000x","content":"x"}'
expect_status 422
post "$k" /v1/documents '{"id_at_origin":"u","content":"bad \udc00 surrogate"}'
expect_status 400 422

req GET /v1/nothing -H "Authorization: Bearer $k"
expect_status 404
expect_error not_found
req GET /
expect_status 404
req PUT /v1/documents -H "Authorization: Bearer $k"
expect_status 405
expect_error method_not_allowed
printf '%s\n' "$HDRS" | grep -i '^allow: ' | grep -q 'GET' || fail "Allow lacks GET"
printf '%s\n' "$HDRS" | grep -i '^allow: ' | grep -q 'POST' || fail "Allow lacks POST"
req PATCH /v1/search
expect_status 405
req POST /healthz
expect_status 405

# Oversized and malformed request heads are answered by the server before libmicrohttpd sees
# them, in the JSON error shape (not libmicrohttpd's HTML pages), and the connection closes.
# Raw sockets: curl would not send most of these. Not recorded for the OpenAPI check: no route.
long=$(head -c 40000 /dev/zero | tr '\0' 'a')
c=$(curl -s -o "$HTTP_TMP/b" -w '%{http_code}' -H "X-Long: $long" "$HTTP_URL/healthz")
[ "$c" = 431 ] || fail "oversized header answered $c"
grep -q '"code":"payload_too_large"' "$HTTP_TMP/b" || fail "431 body: $(cat "$HTTP_TMP/b")"
python3 - "$HTTP_URL" "$k" <<'PY' || fail "malformed request heads"
import json, socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
def raw(data):
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(data)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    hdrs = head.lower()
    return status, hdrs, body
cases = [
    (b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "payload_too_large"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 40000 + b"\r\n\r\n", 431,
     "payload_too_large"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n", 431,
     "payload_too_large"),
    (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "parse_error"),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "parse_error"),
    (b"GET /healthz\r\nHost: x\r\n\r\n", 400, "parse_error"),
    (b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "parse_error"),
    (b"G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "parse_error"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "parse_error"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400, "parse_error"),
    (b"GET /he\x01lthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "parse_error"),
]
for data, want, code in cases:
    st, hdrs, body = raw(data)
    assert st == want, (data[:60], st)
    assert b"content-type: application/json" in hdrs, hdrs
    assert b"connection: close" in hdrs, hdrs
    err = json.loads(body)["error"]
    assert err["code"] == code and err["message"] and "detail" in err, err
# What stays within the limits is served: a 31,000-byte header, 200 header lines, HTTP/1.0
# without Host, blank lines before the request line.
close = b"Connection: close\r\n"
for data in (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + close + b"X-Long: " + b"a" * 31000 +
             b"\r\n\r\n",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + close + b"X-A: b\r\n" * 200 + b"\r\n",
             b"GET /healthz HTTP/1.0\r\n\r\n",
             b"\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
    st, hdrs, body = raw(data)
    assert st == 200, (data[:60], st, body)
# At the boundary of the default --max-header (32K), on a route served by a worker with a
# credential: a head of exactly 32,768 bytes is answered in JSON (here 422 for the unknown
# parameter), on a first request and on a later one of a kept-alive connection; one byte more is
# 431 in JSON. (libmicrohttpd has room for a reply to a head that fills its whole limit.)
key = sys.argv[2].encode()
def head(n, close=True):
    base = b"GET /v1/documents?x="
    tail = (b" HTTP/1.1\r\nHost: x\r\n" + (b"Connection: close\r\n" if close else b"") +
            b"Authorization: Bearer " + key + b"\r\n\r\n")
    data = base + b"a" * (n - len(base) - len(tail)) + tail
    assert len(data) == n
    return data
for n, want in ((32767, 422), (32768, 422), (32769, 431)):
    st, hdrs, body = raw(head(n))
    assert st == want, (n, st, body[:200])
    assert b"content-type: application/json" in hdrs, (n, hdrs)
    json.loads(body)["error"]["code"]
s = socket.create_connection((u.hostname, u.port), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
first = b""
while b"\r\n\r\n" not in first:
    first += s.recv(65536)
s.sendall(head(32768))
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
s.close()
assert out.count(b"HTTP/1.1 ") == 1 and out.startswith(b"HTTP/1.1 422"), out[:300]
assert json.loads(out.split(b"\r\n\r\n", 1)[1])["error"]["field"] == "x", out[-300:]
PY

req GET /healthz
expect_status 200

#!/usr/bin/env python3
"""Writes the hand-made seeds of every fuzz target into tests/fuzz/corpus/<target>/seed-*.

Seeds are valid and near-valid inputs of each parser; libFuzzer's findings are added beside them
by `make fuzz` (named by their SHA-1), and regression inputs of fixed defects as regress-*.
Run from the repository root: python3 tests/fuzz/seeds.py
"""
import base64
import hashlib
import hmac
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SEP = b"\x1e"
SECRET = b"fuzz-secret-0123456789abcdef0123456789abcdef"  # the targets' HS256 secret


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def token(header, claims):
    h, c = b64(json.dumps(header).encode()), b64(json.dumps(claims).encode())
    sig = hmac.new(SECRET, h + b"." + c, hashlib.sha256).digest()
    return (h + b"." + c + b"." + b64(sig)).decode()


def sample(path):
    with open(os.path.join(os.path.dirname(ROOT), "..", "..", "samples", path), "rb") as f:
        return f.read()


# ---- search_query ---------------------------------------------------------------------------
for i, q in enumerate([
    "vacation policy", '"remote work" -travel', 'a "b c" -d -"e f" g', "-only", '""',
    '"unterminated phrase', "élan vital naïve café", "x" * 1000, "  \t ", "a-b -c- --d",
    'OR AND NOT "x" "y"', "\u65e5\u672c\u8a9e\u306e\u691c\u7d22", "foo:bar (baz) [qux]*",
]):
    put("search_query", "%02d" % i, q)

# ---- metadata_filter ------------------------------------------------------------------------
for i, fields in enumerate([
    ['{"team":"a"}'],
    ['{"a":{"b":[1,2,{"c":null}]}}', "2024-01-01", "2024-12-31T23:59:59Z", "english"],
    ['{"n":1e400}', "2024-02-30"],
    ['{"n":9223372036854775808}', "", "", "", "doc-1", "doc-2", "doc-3"],
    ['[1,2]'],
    ['{"a":"\\u0000"}'],
    ['{"a":1,"a":2}'],
    ['{' * 12 + '}' * 12],
    ['{"k":"v"}', "2024-01-01T00:00:00+05:30", "1999-12-31 23:59:59.123456", "simple", "o|1"],
    ['{}', "not a date", "", "pg_catalog.english", "a'b", "x;DROP TABLE documents"],
]):
    put("metadata_filter", "%02d" % i, SEP.join(f.encode() for f in fields))

# ---- validate -------------------------------------------------------------------------------
for i, s in enumerate([
    "acme", "org-123/team-a", "org/../x", "a//b", "/a", "a/", ".", "..", "a" * 256,
    "user@example.com", "id:1|2", "550e8400-e29b-41d4-a716-446655440000",
    "550E8400-E29B-41D4-A716-44665544000G", "2024-01-01T00:00:00Z", "markdown", "hybrid",
    "plain", "admin", "caf\u00e9", "a\tb", "\u202e", "org-1\x1eorg-1/x", "org-1/x\x1eorg-1",
]):
    put("validate", "%02d" % i, s)

# ---- chunk ----------------------------------------------------------------------------------
# First byte: lm_doc_type (1 markdown, 6 email, 8 chat, 3 text, 2 code), second: strategy.
put("chunk", "markdown", b"\x01\x01" + sample("acme/handbook/vacation.md"))
put("chunk", "markdown-hier", b"\x01\x00" + sample("acme/handbook/expenses.md"))
put("chunk", "setext", b"\x01\x01Title\n=====\n\nBody text.\n\nSub\n---\nmore\n# H1\n## H2\n```\n# not a heading\n```\n")
put("chunk", "email", b"\x06\x01From: a@example.com\nTo: b@example.com\nSubject: Re: plan\n\nHello,\n\nSee below.\n\n> quoted line\n> another\n\n-- \nAlice\nCEO\n")
put("chunk", "email-crlf", b"\x06\x00From: a\r\nSubject: x\r\n\r\nbody\r\n>> deep quote\r\nOn Mon, Bob wrote:\r\n> hi\r\n")
put("chunk", "chat", b"\x08\x01[10:00] alice: hi\n[10:01] bob: hello there\nalice: no time\n\nbob: multi\nline message\n")
put("chunk", "chat-json", b'\x08\x01{"messages":[{"role":"user","content":"hi"}]}\n')
put("chunk", "text", b"\x03\x00" + sample("acme/onboarding.txt"))
put("chunk", "code", b"\x02\x01int main(void) {\n    return 0;\n}\n\nstatic int f(int x) { return x; }\n")
put("chunk", "utf8", b"\x03\x01" + ("\u65e5\u672c\u8a9e\u3002" * 400 + "\n\n" + "\U0001F600" * 300).encode())
put("chunk", "long-word", b"\x0b\x00" + b"x" * 20000)

# ---- extract --------------------------------------------------------------------------------
# First byte: 0 HTML, 1 PDF, 2 Markdown, 3 text.
put("extract", "html", b"\x00" + sample("acme/security.html"))
put("extract", "html-report", b"\x00" + sample("globex/quarterly-report.html"))
put("extract", "html-broken", b"\x00<html><head><title>T &amp; <b>x</title><script>alert(1)</script><style>p{}</style></head><body><p>a<br>b<table><tr><td>c</td></tr></table>&#x1F600; &bogus; &#0; <!-- c --> <![CDATA[d]]>")
put("extract", "html-latin1", b"\x00<meta charset=\"iso-8859-1\"><p>caf\xe9</p>")
put("extract", "pdf", b"\x01" + sample("acme/roadmap.pdf"))
put("extract", "pdf-truncated", b"\x01" + sample("globex/supplier-code.pdf")[:700])
put("extract", "markdown", b"\x02# Title\n\nText\n")
put("extract", "text-bad-utf8", b"\x03abc\xff\xfe")

# ---- jwt ------------------------------------------------------------------------------------
now_claims = {"owner_id": "acme", "scope": "write", "iss": "fuzz-issuer", "aud": "llmemory",
              "exp": 4102444800, "nbf": 0, "iat": 0}
put("jwt", "raw-valid", b"\x00" + token({"alg": "HS256", "typ": "JWT"}, now_claims).encode())
put("jwt", "raw-none", b"\x00" + b64(b'{"alg":"none"}') + b"." + b64(json.dumps(now_claims).encode()) + b".")
put("jwt", "raw-junk", b"\x00a.b.c")
put("jwt", "raw-four", b"\x00a.b.c.d")
for i, (h, c) in enumerate([
    ({"alg": "HS256"}, now_claims),
    ({"alg": "HS256"}, dict(now_claims, aud=["x", "llmemory"], scope="read write admin")),
    ({"alg": "HS256"}, dict(now_claims, owner_id="org-1/../org-2")),
    ({"alg": "HS256"}, dict(now_claims, exp=1, scope=["admin"])),
    ({"alg": "HS256", "crit": ["b64"]}, now_claims),
    ({"alg": "RS256"}, now_claims),
    ({"alg": "HS256"}, dict(now_claims, origin="doc-1", exp=1e300, nbf=-1e300)),
    ({"alg": "HS256"}, dict(now_claims, owner_id=7, iss=None)),
]):
    put("jwt", "signed-%02d" % i, b"\x01" + json.dumps(h).encode() + SEP + json.dumps(c).encode())

# ---- mcp ------------------------------------------------------------------------------------
init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}}
inited = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def session(*msgs, write=1):
    lines = [json.dumps(m) if not isinstance(m, str) else m for m in (init, inited) + msgs]
    return bytes([write]) + "\n".join(lines).encode()


def call(i, name, args):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": args}}


put("mcp", "lists", session({"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                            {"jsonrpc": "2.0", "id": "r", "method": "resources/list"},
                            {"jsonrpc": "2.0", "id": 3, "method": "resources/templates/list"},
                            {"jsonrpc": "2.0", "id": 4, "method": "prompts/list"},
                            {"jsonrpc": "2.0", "id": 5, "method": "prompts/get", "params": {"name": "use-memory"}},
                            {"jsonrpc": "2.0", "id": 6, "method": "ping"}))
put("mcp", "tools", session(call(2, "remember", {"text": "hello", "name": "n", "type": "markdown", "metadata": {"a": 1}}),
                            call(3, "search", {"query": "hello", "type": "hybrid", "limit": 5, "metadata": {"a": 1}}),
                            call(4, "list", {"limit": 10}),
                            call(5, "get", {"id": "550e8400-e29b-41d4-a716-446655440000", "chunks": True}),
                            call(6, "forget", {"metadata": {"a": 1}}),
                            call(7, "stats", {}),
                            {"jsonrpc": "2.0", "id": 8, "method": "resources/read", "params": {"uri": "llmemory://documents/550e8400-e29b-41d4-a716-446655440000"}}))
put("mcp", "read-only", session(call(2, "remember", {"text": "x"}), call(3, "forget", {"id": "x"}), write=0))
put("mcp", "bad-args", session(call(2, "search", {"query": 5}), call(3, "search", {"query": "x", "limit": -1}),
                               call(4, "nope", {}), call(5, "list", "notanobject"), call(6, "remember", {"file": "/etc/passwd"})))
put("mcp", "malformed", session("{", "[]", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", "null", "42",
                                '{"jsonrpc":"1.0","id":1,"method":"ping"}', '{"jsonrpc":"2.0","id":{},"method":"ping"}',
                                '{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}', '{"jsonrpc":"2.0","id":1,"result":{}}',
                                '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
                                '{"jsonrpc":"2.0","id":1.5,"method":"unknown/method"}'))
put("mcp", "no-init", b"\x01" + json.dumps(call(1, "search", {"query": "x"})).encode())
put("mcp", "old-protocol", b"\x03" + json.dumps(dict(init, params=dict(init["params"], protocolVersion="2024-11-05"))).encode())

# ---- http_request ---------------------------------------------------------------------------
J = "Content-Type: application/json\n"
for i, req in enumerate([
    "GET /v1/search?q=vacation+policy&type=hybrid&limit=5&alpha=0.4&with_documents=true\n\n",
    "GET /v1/search?q=%22remote%20work%22%20-travel&metadata=%7B%22a%22%3A1%7D&origin=a&origin=b&date_from=2024-01-01\n\n",
    "GET /v1/search?q=x&limit=abc&alpha=nan&chunks\n\n",
    "GET /v1/search?q=x&owner_id=fuzz-org/team/sub&include_subtenants=1&syntax=plain&rrf_k=60\n\n",
    "GET /v1/search?q=x&owner_id=other\n\n",
    "GET /v1/search?q=x&unknown=1\n\n",
    "POST /v1/search\n" + J + "\n" + json.dumps({"query": "x", "type": "vector", "metadata": {"a": [1, 2]}, "id_at_origins": ["a", "b"], "limit": 3}),
    "POST /v1/search\n" + J + "\n" + json.dumps({"query": "x", "search_type": "text", "type": "text"}),
    "POST /v1/search\n" + J + "\n" + '{"query":"x","id_at_origins":[1]}',
    "POST /v1/search\n" + J + "\n" + '{"query":"x","owner_id":"fuzz-org/team","limit":1e9}',
    "POST /v1/documents\n" + J + "\n" + json.dumps({"id_at_origin": "o1", "name": "n", "type": "markdown", "content": "# Hi\n\ntext", "metadata": {"k": "v"}, "document_date": "2024-01-01"}),
    "POST /v1/documents\n" + J + "\n" + '{"id_at_origin":"o1","name":"n","content":"a\\u0000b","type":"nope"}',
    "POST /v1/documents\nContent-Type: text/plain\n\nhello",
    "POST /v1/documents\n" + J + "\n" + '{"a":1,"a":2}',
    "POST /v1/documents\n" + J + "\n" + "[1]",
    "POST /v1/documents\n" + J + "\n",
    "GET /v1/documents?limit=10&offset=5&order_by=created_at&order=desc&type=pdf&metadata=%7B%7D\n\n",
    "GET /v1/documents/550e8400-e29b-41d4-a716-446655440000?chunks=yes\n\n",
    "DELETE /v1/documents/not-a-uuid\n\n",
    "POST /v1/documents/delete\n" + J + "\n" + json.dumps({"document_ids": ["550e8400-e29b-41d4-a716-446655440000"], "metadata": {"a": 1}}),
    "GET /v1/statistics?owner_id=fuzz-org/team\n\n",
    "GET /v1/whoami\n\n",
    "GET /v1/keys\n\n",
    "POST /v1/keys\n" + J + "\n" + json.dumps({"scope": "read", "origin": "doc-1", "allow_subtenants": True, "expires_at": "2030-01-01", "name": "k"}),
    "DELETE /v1/keys/0123456789abcdef\n\n",
    "GET /v1/export?vectors=false\n\n",
    "POST /v1/import\nContent-Type: application/x-ndjson\n\n{\"kind\":\"header\"}\n",
    "DELETE /v1/tenant?owner_id=fuzz-org/team\n\n",
    "GET /v1/audit?limit=5\n\n",
    "PUT /v1/search\n\n",
    "GET /nope\n\n",
    "GET /v1/whoami\nAuthorization: Bearer " + token({"alg": "HS256"}, dict(now_claims, owner_id="fuzz-org/team")) + "\n\n",
    "GET /v1/whoami\nAuthorization: Bearer a.b.c\n\n",
    "GET /v1/whoami\nX-API-Key: lmk_0123456789abcdef_" + "0" * 64 + "\n\n",
    "GET /v1/whoami\nAuthorization: Basic abc\nX-API-Key: x\n\n",
]):
    put("http_request", "%02d" % i, req)

"""tests/mcp/test_mcp.py: the MCP server driven by the official Python MCP SDK over both
transports (`llmemory mcp` on stdio, /mcp of `llmemory serve`), in both of the SDK's modes: "auto"
(its default: server/discover, then the stateless revision 2026-07-28) and "legacy" (the
initialize handshake, 2025-11-25); plus raw JSON-RPC cases for input no SDK would send.

Conformance is checked, not assumed: every message the server sends in these cases (the SDK's
traffic is recorded on both transports: a tee on stdio, a recording HTTP transport) is validated
in pydantic strict mode against the wire models of the revision in use, which the SDK generates
from the protocol's schema.json (mcp_types._v2025_11_25, mcp_types._v2026_07_28): the JSON-RPC
envelope, and the result type of the method it answers.

Environment (set by tests/mcp/run.sh): MCP_BIN, MCP_DB, MCP_SCHEMA, MCP_URL, MCP_WORK and the
keys MCP_KEY_A (tenant A, write), MCP_KEY_A_READ (tenant A, read), MCP_KEY_B (tenant B, write).
Prints TAP and ends with "mcp: N passed, N failed".
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid
import warnings

import anyio
import httpx2
import jsonschema
import mcp_types
import mcp_types._v2025_11_25 as wire
import mcp_types._v2026_07_28 as wire_modern
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from pydantic import TypeAdapter

BIN = os.environ["MCP_BIN"]
DB = os.environ["MCP_DB"]
SCHEMA = os.environ["MCP_SCHEMA"]
URL = os.environ["MCP_URL"]
WORK = os.environ["MCP_WORK"]
KEY_A = os.environ["MCP_KEY_A"]
KEY_A_READ = os.environ["MCP_KEY_A_READ"]
KEY_B = os.environ["MCP_KEY_B"]
TOOLS = {"remember", "search", "list", "get", "forget", "stats"}
RUN = uuid.uuid4().hex[:8]  # owners of this run
MESSAGE = TypeAdapter(mcp_types.JSONRPCMessage)

MODERN = "2026-07-28"
PV_KEY = "io.modelcontextprotocol/protocolVersion"

results = []  # (function, SDK mode or None for the raw cases)
MODE = "auto"  # the SDK mode of the case running now


def case(fn):
    results.append((fn, None))
    return fn


def sdk_case(fn):
    """A case driven by the SDK: it runs once per SDK mode."""
    for mode in ("auto", "legacy"):
        results.append((fn, mode))
    return fn


def expected_version():
    return MODERN if MODE == "auto" else "2025-11-25"


# ==== conformance: every server message against the schema's wire models ====

RESULT_MODELS = {
    "initialize": "InitializeResult", "server/discover": "DiscoverResult", "ping": "EmptyResult",
    "tools/list": "ListToolsResult", "tools/call": "CallToolResult",
    "resources/list": "ListResourcesResult", "resources/templates/list": "ListResourceTemplatesResult",
    "resources/read": "ReadResourceResult", "prompts/list": "ListPromptsResult",
    "prompts/get": "GetPromptResult"}
CHECKED = {"messages": 0}


def conform(request, reply):
    """Validate server message @reply (parsed JSON), the answer to @request (parsed JSON or None),
    in strict mode against the wire models of the revision the request used."""
    MESSAGE.validate_python(reply)
    params = request.get("params") if isinstance(request, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    modern = isinstance(meta, dict) and PV_KEY in meta
    ns = wire_modern if modern else wire
    if "error" in reply:
        check(isinstance(reply["error"]["code"], int) and reply["error"]["message"], "error shape")
        if reply.get("id") is not None:
            ns.JSONRPCErrorResponse.model_validate(reply, strict=True)
    else:
        ns.JSONRPCResultResponse.model_validate(reply, strict=True)
        model = RESULT_MODELS.get(request.get("method")) if request else None
        check(model is not None, f"a result for an unknown request: {reply}")
        getattr(ns, model).model_validate(reply["result"], strict=True)
        if modern:
            check(reply["result"]["resultType"] == "complete", "resultType")
    CHECKED["messages"] += 1
    return reply


def conform_streams(sent, received):
    """Every line the server wrote (@received) answers a request among the lines it read (@sent);
    notifications from the server would be validated as messages too."""
    requests = {}
    for line in sent:
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if isinstance(m, dict) and "method" in m and "id" in m:
            requests[json.dumps(m["id"])] = m
    for line in received:
        m = json.loads(line)  # nothing but protocol messages on stdout
        if "method" in m:
            MESSAGE.validate_python(m)
            CHECKED["messages"] += 1
            continue
        conform(requests.get(json.dumps(m.get("id"))), m)


SESSIONS = []  # stdio: (stdin log, stdout log) per client; HTTP: recorded exchanges


def stdio(owner, *extra):
    """A client of `llmemory mcp`, whose standard input and output are copied to logs."""
    n = len(SESSIONS)
    sent, received = (os.path.join(WORK, f"stdio-{n}.{d}") for d in ("in", "out"))
    SESSIONS.append(("stdio", sent, received))
    args = ["--database-url", DB, "--schema", SCHEMA, "mcp", "--owner", owner, *extra]
    script = 'tee "$1" | "$3" "${@:4}" | tee "$2"; exit "${PIPESTATUS[1]}"'
    return Client(
        StdioServerParameters(
            command="bash", args=["-c", script, "tee", sent, received, BIN, *args],
            env={"LLMEMORY_HOME": os.path.join(WORK, "home")},
        ),
        mode=MODE,
        raise_exceptions=True,
    )


class Recorder(httpx2.AsyncBaseTransport):
    """An HTTP transport that keeps every POST to /mcp with its answer (JSON replies only: the
    server sends no event streams)."""

    def __init__(self):
        self.inner = httpx2.AsyncHTTPTransport()
        SESSIONS.append(("http", self))
        self.exchanges = []

    async def handle_async_request(self, request):
        resp = await self.inner.handle_async_request(request)
        body = await resp.aread()
        await resp.aclose()
        if request.method == "POST":
            self.exchanges.append((request.content, resp.status_code,
                                   resp.headers.get("content-type", ""), body))
        headers = [(k, v) for k, v in resp.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
        return httpx2.Response(resp.status_code, headers=headers, content=body, request=request)

    async def aclose(self):
        await self.inner.aclose()


def http(key):
    client = httpx2.AsyncClient(headers={"Authorization": "Bearer " + key},
                                timeout=httpx2.Timeout(30, read=300), transport=Recorder())
    return Client(streamable_http_client(URL + "/mcp", http_client=client), mode=MODE,
                  raise_exceptions=True)


def check_recorded():
    """Validate what the SDK cases' servers sent, then forget it."""
    for s in SESSIONS:
        if s[0] == "stdio":
            with open(s[1]) as f_in, open(s[2]) as f_out:
                conform_streams(f_in.read().splitlines(), f_out.read().splitlines())
        else:
            for body, status, ctype, reply in s[1].exchanges:
                request = json.loads(body)
                if status == 202:
                    check(not reply and "id" not in request, "202 answers a notification only")
                    continue
                check(ctype.startswith("application/json"), f"reply type {ctype}")
                conform(request, json.loads(reply))
    SESSIONS.clear()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


OUTPUT_SCHEMAS = {}


async def ok_call(c, name, args=None):
    if not OUTPUT_SCHEMAS:
        for t in (await c.list_tools()).tools:
            jsonschema.Draft202012Validator.check_schema(t.input_schema)
            jsonschema.Draft202012Validator.check_schema(t.output_schema)
            OUTPUT_SCHEMAS[t.name] = t.output_schema
    r = await c.call_tool(name, args or {})
    check(not r.is_error, f"{name} failed: {r.content}")
    check(r.structured_content is not None, f"{name}: no structuredContent")
    # The structured result conforms to the tool's declared output schema.
    jsonschema.validate(r.structured_content, OUTPUT_SCHEMAS[name])
    check(r.content and r.content[0].type == "text" and r.content[0].text, f"{name}: no text")
    return r.structured_content


async def err_call(c, name, args, needle):
    r = await c.call_tool(name, args)
    check(r.is_error, f"{name}{args} should fail")
    text = r.content[0].text
    check(needle in text, f"{name}: {text!r} lacks {needle!r}")


def not_found():
    """The code of a missing resource: -32002 until 2025-11-25, -32602 since 2026-07-28."""
    return -32602 if MODE == "auto" else -32002


async def expect_mcp_error(coro, code):
    try:
        await coro
    except MCPError as e:
        check(e.error.code == code, f"error code {e.error.code}, expected {code}")
        return
    raise AssertionError(f"no error {code}")


async def every_tool(c, tag):
    """remember, search, list, get, stats, forget on one connection."""
    doc = await ok_call(c, "remember", {
        "text": f"The quokka {tag} is a small marsupial from Rottnest Island.\n\nIt smiles.",
        "name": f"quokka {tag}", "type": "markdown", "metadata": {"animal": "quokka", "tag": tag}})
    check(doc["created"] is True and doc["chunk_count"] >= 1, f"remember: {doc}")
    again = await ok_call(c, "remember", {
        "text": f"The quokka {tag} is a small marsupial from Rottnest Island.\n\nIt smiles.",
        "name": f"quokka {tag}", "type": "markdown", "metadata": {"animal": "quokka", "tag": tag}})
    check(again["document_id"] == doc["document_id"] and again["created"] is False,
          "the same text again is the same document")
    found = await ok_call(c, "search", {"query": f"quokka {tag}", "limit": 5,
                                        "metadata": {"tag": tag}, "parent_context": True})
    check(found["count"] >= 1 and found["results"][0]["document_id"] == doc["document_id"],
          f"search: {found}")
    check(found["results"][0]["document_metadata"]["animal"] == "quokka", "with documents")
    for mode in ("vector", "hybrid"):
        # Over HTTP the server embeds in the background: the add returns once the document is
        # stored and keyword-searchable, and its vectors follow moments later.
        for _ in range(200):
            other = await ok_call(c, "search", {"query": f"quokka {tag}", "mode": mode,
                                                "metadata": {"tag": tag}})
            if other["count"] >= 1:
                break
            await asyncio.sleep(0.05)
        check(other["mode"] == mode and other["count"] >= 1 and
              other["results"][0]["document_id"] == doc["document_id"], f"{mode}: {other}")
    listed = await ok_call(c, "list", {"metadata": {"tag": tag}})
    check(listed["total"] == 1 and listed["documents"][0]["name"] == f"quokka {tag}",
          f"list: {listed}")
    got = await ok_call(c, "get", {"document_id": doc["document_id"], "chunks": True})
    check(got["document"]["type"] == "markdown" and got["chunks"], f"get: {got}")
    st = await ok_call(c, "stats")
    check(st["document_count"] >= 1 and st["by_type"]["markdown"] >= 1, f"stats: {st}")
    return doc


# ==== stdio, through the SDK ====

@sdk_case
async def stdio_initialize_and_lists():
    async with stdio(f"alice-{RUN}") as c:
        check(c.protocol_version == expected_version(), c.protocol_version)
        check(c.server_info.name == "llmemory", c.server_info)
        caps = c.server_capabilities
        check(caps.tools is not None and caps.resources is not None and caps.prompts is not None,
              "capabilities")
        tools = (await c.list_tools()).tools
        check({t.name for t in tools} == TOOLS, [t.name for t in tools])
        for t in tools:
            check(len(t.description) > 60 and t.input_schema["type"] == "object" and
                  t.output_schema["type"] == "object", f"tool {t.name} definition")
        templates = (await c.list_resource_templates()).resource_templates
        check(templates[0].uri_template == "llmemory://documents/{document_id}", templates)
        prompts = (await c.list_prompts()).prompts
        check([p.name for p in prompts] == ["use-memory"], prompts)
        p = await c.get_prompt("use-memory", {"task": "plan the trip"})
        check("search" in p.messages[0].content.text and "plan the trip" in
              p.messages[0].content.text, "prompt text")
        if MODE == "legacy":
            with warnings.catch_warnings():  # the SDK warns that 2026-07-28 dropped ping
                warnings.simplefilter("ignore")
                await c.send_ping()


@sdk_case
async def stdio_every_tool_and_resources():
    async with stdio(f"alice-{RUN}") as c:
        doc = await every_tool(c, "s1")
        res = (await c.list_resources()).resources
        check(any(str(r.uri) == doc["uri"] for r in res), "resource listed")
        read = await c.read_resource(doc["uri"])
        check("Rottnest" in read.contents[0].text, read)
        gone = await ok_call(c, "forget", {"document_ids": [doc["document_id"]]})
        check(gone["deleted"] == [doc["document_id"]], gone)
        await expect_mcp_error(c.read_resource(doc["uri"]), not_found())


@sdk_case
async def stdio_remember_file_and_forget_by_metadata():
    path = os.path.join(WORK, "notes.md")
    with open(path, "w") as f:
        f.write("# Trip notes\n\nThe ferry to Rottnest leaves at nine.\n")
    async with stdio(f"alice-{RUN}") as c:
        doc = await ok_call(c, "remember", {"file": path, "metadata": {"batch": "f1"}})
        check(doc["name"] == "Trip notes" and doc["id_at_origin"] == path, doc)
        got = await ok_call(c, "get", {"id_at_origin": path})
        check(got["document"]["type"] == "markdown", got)
        gone = await ok_call(c, "forget", {"metadata": {"batch": "f1"}})
        check(gone["count"] == 1, gone)
        await err_call(c, "remember", {"file": os.path.join(WORK, "missing.md")}, "missing.md")


@sdk_case
async def stdio_tool_errors():
    async with stdio(f"alice-{RUN}") as c:
        await err_call(c, "search", {"query": "x", "limit": "ten"}, "\"limit\" must be an integer")
        await err_call(c, "search", {"query": "x", "limit": 1000}, "from 1 to 100")
        await err_call(c, "search", {}, "\"query\" is required")
        await err_call(c, "search", {"query": "x", "mode": "psychic"}, "\"mode\"")
        await err_call(c, "search", {"query": "x", "owner_id": "bob"}, "unknown argument")
        await err_call(c, "remember", {"text": "a", "file": "b"}, "either")
        await err_call(c, "remember", {"text": 42}, "must be a string")
        await err_call(c, "get", {"document_id": "not-a-uuid"}, "document")
        await err_call(c, "get", {"document_id": str(uuid.uuid4())}, "does not exist")
        await err_call(c, "forget", {"metadata": {}}, "at least one key")
        await err_call(c, "forget", {}, "either")
        await err_call(c, "search", {"query": "x" * 5000}, "query")
        await expect_mcp_error(c.call_tool("teleport", {}), -32602)
        await expect_mcp_error(c.read_resource("file:///etc/passwd"), -32602)
        await expect_mcp_error(c.read_resource("llmemory://documents/nope"), not_found())
        await expect_mcp_error(c.get_prompt("nope"), -32602)


@sdk_case
async def stdio_cross_tenant():
    async with stdio(f"alice-{RUN}") as a:
        doc = await ok_call(a, "remember", {"text": f"alice secret wombat {RUN}"})
    async with stdio(f"bob-{RUN}") as b:
        found = await ok_call(b, "search", {"query": f"wombat {RUN}"})
        check(found["count"] == 0, "bob finds alice's memory")
        check((await ok_call(b, "list"))["total"] == 0, "bob lists alice's memory")
        await err_call(b, "get", {"document_id": doc["document_id"]}, "does not exist")
        await expect_mcp_error(b.read_resource(doc["uri"]), not_found())
        gone = await ok_call(b, "forget", {"document_ids": [doc["document_id"]]})
        check(gone["count"] == 0, "bob forgets alice's document")
    async with stdio(f"alice-{RUN}") as a:
        await ok_call(a, "get", {"document_id": doc["document_id"]})


@sdk_case
async def stdio_read_only():
    async with stdio(f"alice-{RUN}", "--read-only") as c:
        await err_call(c, "remember", {"text": "nope"}, "permission denied")
        await err_call(c, "forget", {"metadata": {"a": 1}}, "permission denied")
        await ok_call(c, "stats")


# ==== Streamable HTTP, through the SDK ====

@sdk_case
async def http_every_tool():
    async with http(KEY_A) as c:
        check(c.protocol_version == expected_version(), c.protocol_version)
        check({t.name for t in (await c.list_tools()).tools} == TOOLS, "tools")
        doc = await every_tool(c, "h1")
        read = await c.read_resource(doc["uri"])
        check("Rottnest" in read.contents[0].text, "read")
        check(len((await c.list_prompts()).prompts) == 1, "prompts")
        await err_call(c, "remember", {"file": "/etc/passwd"}, "not available over this transport")
        await expect_mcp_error(c.call_tool("teleport", {}), -32602)
        gone = await ok_call(c, "forget", {"metadata": {"tag": "h1"}})
        check(gone["count"] == 1, gone)


@sdk_case
async def http_read_scope():
    async with http(KEY_A) as c:
        doc = await ok_call(c, "remember", {"text": f"read scope echidna {RUN}"})
    async with http(KEY_A_READ) as c:
        await err_call(c, "remember", {"text": "x"}, "permission denied")
        await err_call(c, "forget", {"document_ids": [doc["document_id"]]}, "permission denied")
        found = await ok_call(c, "search", {"query": f"echidna {RUN}"})
        check(found["count"] == 1, "a read key searches")


@sdk_case
async def http_cross_tenant():
    async with http(KEY_A) as a:
        doc = await ok_call(a, "remember", {"text": f"tenant A platypus {RUN}"})
    async with http(KEY_B) as b:
        check((await ok_call(b, "search", {"query": f"platypus {RUN}"}))["count"] == 0, "B sees A")
        await err_call(b, "get", {"document_id": doc["document_id"]}, "does not exist")
        await expect_mcp_error(b.read_resource(doc["uri"]), not_found())
        check(all(str(r.uri) != doc["uri"] for r in (await b.list_resources()).resources), "B lists A")


# ==== cancellation: a slow search, stopped ====

def lock_documents():
    """Another session holds an ACCESS EXCLUSIVE lock on the documents table of the test schema:
    every search then waits in its statement (slow on purpose, with no hook in the server)."""
    p = subprocess.Popen(["psql", DB, "-qAtX", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.stdin.write(f"BEGIN;\nLOCK TABLE {SCHEMA}.documents IN ACCESS EXCLUSIVE MODE;\n"
                  "SELECT 'locked';\n")
    p.stdin.flush()
    check(p.stdout.readline().strip() == "locked", "could not take the lock")
    return p


def unlock(p):
    if p.poll() is None:
        p.stdin.write("ROLLBACK;\n")
        p.stdin.close()
        p.wait(timeout=30)


def waiting_searches():
    """Statements that wait for a lock on the documents table (the blocked searches: a plain
    statement, or the server-side search function that reads the table)."""
    out = subprocess.run(["psql", DB, "-qAtX", "-c",
                          "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                          "AND (query LIKE '%documents%' OR query LIKE '%lm\\_search(%') "
                          "AND pid <> pg_backend_pid()"],
                         capture_output=True, text=True, timeout=30)
    return int(out.stdout.strip())


async def wait_for(cond, what, seconds=15):
    for _ in range(int(seconds * 10)):
        if cond():
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


async def slow_search_cancelled(c):
    """A search blocked in its statement is cancelled by the client (the SDK sends
    notifications/cancelled on stdio and on the handshake era's HTTP, and closes the request's
    connection on 2026-07-28 HTTP): the statement stops while the lock is still held, and the
    server goes on serving."""
    await ok_call(c, "stats")
    check(waiting_searches() == 0, "a search waits already")
    locker = lock_documents()
    try:
        scope = anyio.CancelScope()

        async def call():
            with scope:
                await c.call_tool("search", {"query": "anything at all"})

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await wait_for(lambda: waiting_searches() == 1, "the search waits for the lock")
            scope.cancel()
        await wait_for(lambda: waiting_searches() == 0, "the cancelled search stopped", 10)
        check(locker.poll() is None, "the lock holder is gone")
        check({t.name for t in (await c.list_tools()).tools} == TOOLS, "tools after cancel")
    finally:
        unlock(locker)
    await ok_call(c, "search", {"query": "anything at all"})


@sdk_case
async def stdio_cancel_slow_search():
    async with stdio(f"alice-{RUN}") as c:
        await slow_search_cancelled(c)


@sdk_case
async def http_cancel_slow_search():
    async with http(KEY_A) as c:
        await slow_search_cancelled(c)


# ==== raw JSON-RPC ====

def validate(msg, result_model=None):
    """A server message must be a JSON-RPC message as the protocol schema defines it; with
    @result_model (a 2025-11-25 wire model name), its result must be that result type."""
    MESSAGE.validate_python(msg)
    if "error" in msg:
        if msg.get("id") is not None:
            wire.JSONRPCErrorResponse.model_validate(msg, strict=True)
        check(isinstance(msg["error"]["code"], int) and msg["error"]["message"], "error shape")
    elif result_model is not None:
        getattr(wire, result_model).model_validate(msg["result"], strict=True)
    return msg


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "1"}}}


def raw_stdio(lines, owner=None):
    """Send raw lines; return the parsed stdout lines (all must be JSON-RPC messages)."""
    data = b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines)
    p = subprocess.run([BIN, "--database-url", DB, "--schema", SCHEMA, "mcp", "--owner",
                        owner or f"raw-{RUN}"], input=data, capture_output=True, timeout=120,
                       env=dict(os.environ, LLMEMORY_HOME=os.path.join(WORK, "home")))
    check(p.returncode == 0, f"exit {p.returncode}: {p.stderr[-500:]!r}")
    out = [json.loads(l) for l in p.stdout.decode().splitlines()]  # nothing but protocol messages
    conform_streams([l if isinstance(l, str) else l.decode(errors="replace") for l in lines],
                    p.stdout.decode().splitlines())
    return out


@case
async def raw_stdio_malformed():
    init = json.dumps(INIT)
    out = raw_stdio([
        "this is not json",
        "[" + init + "]",
        '{"jsonrpc":"1.0","id":2,"method":"ping"}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/list"}',  # before initialize
        '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}',
        init,
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        '{"jsonrpc":"2.0","id":4,"method":"no/such/method"}',
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":[1,2]}',
        '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":7}}',
        '{"jsonrpc":"2.0","id":"s","method":"tools/call","params":{"name":"stats","arguments":"x"}}',
        '{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{}}',
        '{"jsonrpc":"2.0","id":8,"result":{}}',  # a response from the client: ignored
        '{"jsonrpc":"2.0","id":9,"method":"ping"}',
    ])
    codes = [(m.get("id"), m["error"]["code"] if "error" in m else "ok") for m in out]
    check(codes == [(None, -32700), (None, -32600), (2, -32600), (3, -32600), (None, -32600),
                    (1, "ok"), (4, -32601), (5, -32602), (6, -32602), ("s", -32602),
                    (7, -32602), (9, "ok")], codes)


@case
async def raw_stdio_huge_and_cancelled():
    big = b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search","arguments":{"query":"' + \
        b"x" * (17 * 1024 * 1024) + b'"}}}'
    out = raw_stdio([
        json.dumps(INIT),
        big,
        # A cancelled request gets no response: the cancellation is seen before it runs.
        '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"t"}}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"stats"}}',
        '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"search","arguments":{"query":"' +
        "y" * 100000 + '"}}}',
        '{"jsonrpc":"2.0","id":5,"method":"ping"}',
    ])
    ids = [(m.get("id"), m["error"]["code"] if "error" in m else m["result"].get("isError", "ok"))
           for m in out]
    check(ids == [(1, "ok"), (None, -32600), (4, True), (5, "ok")], ids)


META = {PV_KEY: MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


def modern_req(i, method, params=None, meta=META):
    p = dict(params or {})
    if meta is not None:
        p["_meta"] = meta
    return {"jsonrpc": "2.0", "id": i, "method": method, "params": p}


@case
async def raw_stdio_modern():
    """The stateless revision on stdio: no handshake, the envelope checked in order."""
    out = raw_stdio([json.dumps(m) for m in (
        modern_req(1, "server/discover"),
        modern_req(2, "tools/list", meta={PV_KEY: MODERN}),
        modern_req(3, "tools/list", meta={PV_KEY: "2099-01-01",
                                          "io.modelcontextprotocol/clientCapabilities": {}}),
        modern_req(4, "ping"),
        modern_req(5, "initialize"),
        modern_req(6, "resources/read", {"uri": "llmemory://documents/" + str(uuid.uuid4())}),
        modern_req(7, "tools/call", {"name": "stats"}),
        {"jsonrpc": "2.0", "id": 8, "method": "tools/list"},  # no envelope, no handshake
    )])
    codes = [(m.get("id"), m["error"]["code"] if "error" in m else "ok") for m in out]
    check(codes == [(1, "ok"), (2, -32602), (3, -32022), (4, -32601), (5, -32601), (6, -32602),
                    (7, "ok"), (8, -32600)], codes)
    d = out[0]["result"]
    check(d["supportedVersions"][-1] == MODERN and "2025-11-25" in d["supportedVersions"] and
          d["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "llmemory", d)
    check(out[2]["error"]["data"] == {"supported": d["supportedVersions"], "requested": "2099-01-01"},
          out[2])


@case
async def raw_stdio_cancel_running():
    """notifications/cancelled for the running request: its statement stops at once (the lock
    it waits for is held for a minute), it gets no response, and the next request is served."""
    locker = lock_documents()
    try:
        p = subprocess.Popen([BIN, "--database-url", DB, "--schema", SCHEMA, "mcp", "--owner",
                              f"raw-{RUN}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env=dict(os.environ, LLMEMORY_HOME=os.path.join(WORK, "home")))
        sent = [json.dumps(modern_req(1, "tools/call", {"name": "search",
                                                         "arguments": {"query": "slow"}}))]
        p.stdin.write((sent[0] + "\n").encode())
        p.stdin.flush()
        await wait_for(lambda: waiting_searches() == 1, "the search waits for the lock")
        for m in ({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 1, "reason": "test"}}, modern_req(2, "prompts/list")):
            sent.append(json.dumps(m))
            p.stdin.write((sent[-1] + "\n").encode())
        p.stdin.flush()
        t0 = time.monotonic()
        line = await anyio.to_thread.run_sync(p.stdout.readline)
        check(json.loads(line)["id"] == 2, f"the cancelled request was answered: {line[:200]}")
        # Long before the statement timeout (a minute) could have ended the search instead.
        check(time.monotonic() - t0 < 10, f"the next answer took {time.monotonic() - t0:.1f} s")
        await wait_for(lambda: waiting_searches() == 0, "the cancelled search stopped", 10)
        check(locker.poll() is None, "the lock holder is gone")
        p.stdin.close()
        rest = p.stdout.read()
        check(p.wait(timeout=30) == 0 and not rest, f"exit {p.returncode}, more output {rest[:200]}")
        conform_streams(sent, [line.decode()])
    finally:
        unlock(locker)


def post_raw(body, key=KEY_A, session=None, headers=None, method="POST"):
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if key:
        h["Authorization"] = "Bearer " + key
    if session:
        h["Mcp-Session-Id"] = session
    h.update(headers or {})
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + "/mcp", data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def post(body, key=KEY_A, session=None, headers=None, method="POST"):
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if key:
        h["Authorization"] = "Bearer " + key
    if session:
        h["Mcp-Session-Id"] = session
    h.update(headers or {})
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + "/mcp", data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, hdrs, text = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, text = e.code, e.headers, e.read()
    msg = json.loads(text) if text and hdrs.get("Content-Type", "").startswith("application/json") else None
    if msg is not None and "jsonrpc" in msg:
        try:
            request = json.loads(data) if data else None
        except ValueError:
            request = None
        conform(request if isinstance(request, dict) else None, msg)
    return status, hdrs, msg


@case
async def raw_http():
    st, h, m = post(INIT, key=None)
    check(st == 401, f"no credential: {st}")
    st, h, m = post(None, method="GET")
    check(st == 405, f"GET: {st}")
    st, h, m = post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    check(st == 400 and m["error"]["code"] == -32600, f"no session: {st} {m}")
    st, h, m = post(INIT, headers={"Origin": "http://evil.example"})
    check(st == 403, f"foreign origin: {st}")
    st, h, m = post(INIT, headers={"Origin": "http://localhost:3000"})
    check(st == 200, f"local origin: {st}")
    st, h, m = post(b"{oops")
    check(st == 400 and m["error"]["code"] == -32700, f"bad JSON: {st} {m}")
    st, h, m = post(INIT, headers={"MCP-Protocol-Version": "1999-01-01"})
    check(st == 400 and m["error"]["code"] == -32022, f"bad version header: {st} {m}")
    st, h, m = post(INIT, headers={"Accept": "text/html"})
    check(st == 406, f"Accept: {st}")
    # A client that accepts only an event stream gets the response as one "message" event.
    st, h, text = post_raw(INIT, headers={"Accept": "text/event-stream"})
    check(st == 200 and h.get("Content-Type") == "text/event-stream", f"SSE: {st} {h}")
    check(text.startswith(b"event: message\ndata: ") and text.endswith(b"\n\n"), text[:80])
    validate(json.loads(text[len(b"event: message\ndata: "):]), "InitializeResult")
    st, h, m = post(INIT)
    validate(m, "InitializeResult")
    sid = h.get("Mcp-Session-Id")
    check(st == 200 and sid and m["result"]["protocolVersion"] == "2025-11-25", f"init {st} {m}")
    st, h, m = post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session=sid)
    check(st == 202 and m is None, f"notification: {st}")
    st, h, m = post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session=sid)
    check(st == 200 and len(m["result"]["tools"]) == 6, f"tools/list {st}")
    validate(m, "ListToolsResult")
    for method, params, model in (
            ("tools/call", {"name": "stats"}, "CallToolResult"),
            ("tools/call", {"name": "search", "arguments": {"query": 5}}, "CallToolResult"),
            ("resources/list", {}, "ListResourcesResult"),
            ("resources/templates/list", {}, "ListResourceTemplatesResult"),
            ("prompts/list", {}, "ListPromptsResult"),
            ("prompts/get", {"name": "use-memory"}, "GetPromptResult"),
            ("ping", {}, "EmptyResult" if hasattr(wire, "EmptyResult") else None)):
        st, h, m = post({"jsonrpc": "2.0", "id": 9, "method": method, "params": params}, session=sid)
        check(st == 200 and "result" in m, f"{method}: {st} {m}")
        validate(m, model)
    st, h, m = post({"jsonrpc": "2.0", "id": 2, "method": "ping"}, session=sid,
                    headers={"MCP-Protocol-Version": "2025-06-18"})
    check(st == 400 and m["error"]["code"] == -32600, f"version header of another revision {st}")
    st, h, m = post({"jsonrpc": "2.0", "id": 2, "method": "ping"}, session=sid,
                    headers={"MCP-Protocol-Version": "2025-11-25"})
    check(st == 200 and "result" in m, f"the session's version header {st}")
    st, h, m = post({"jsonrpc": "2.0", "id": 3, "method": "nope"}, session=sid)
    check(st == 200 and m["error"]["code"] == -32601 and m["id"] == 3, f"unknown method {m}")
    # The session belongs to tenant A: for B it does not exist; A's read key is tenant A.
    st, h, m = post({"jsonrpc": "2.0", "id": 4, "method": "ping"}, key=KEY_B, session=sid)
    check(st == 404, f"B uses A's session: {st}")
    st, h, m = post({"jsonrpc": "2.0", "id": 5, "method": "ping"}, key=KEY_A_READ, session=sid)
    check(st == 200, f"A's read key: {st}")
    st, h, m = post(None, session=sid, key=KEY_B, method="DELETE")
    check(st == 404, f"B deletes A's session: {st}")
    st, h, m = post(None, session=sid, method="DELETE")
    check(st == 204, f"DELETE: {st}")
    st, h, m = post({"jsonrpc": "2.0", "id": 6, "method": "ping"}, session=sid)
    check(st == 404, f"after DELETE: {st}")
    # A body over the server's --max-body (2 MiB here) is refused before it is read.
    big = os.path.join(WORK, "big.json")
    with open(big, "wb") as f:
        f.write(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"q":"' + b"z" * (3 << 20) + b'"}}')
    st = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                         "-H", "Authorization: Bearer " + KEY_A, "-H", "Content-Type: application/json",
                         "--data-binary", "@" + big, URL + "/mcp"], capture_output=True, text=True).stdout
    check(st == "413", f"huge body: {st}")


@case
async def raw_http_modern():
    """The stateless revision over HTTP: no session, the headers repeat the body, the
    revision's statuses."""
    def h(method, name=None, version=MODERN):
        d = {"MCP-Protocol-Version": version, "Mcp-Method": method}
        if name is not None:
            d["Mcp-Name"] = name
        return d
    st, hd, m = post(modern_req(1, "server/discover"), headers=h("server/discover"))
    check(st == 200 and m["result"]["supportedVersions"][-1] == MODERN, f"discover {st} {m}")
    check(hd.get("Mcp-Session-Id") is None, "a session at 2026-07-28")
    st, hd, m = post(modern_req(2, "tools/call", {"name": "stats"}), headers=h("tools/call", "stats"))
    check(st == 200 and m["result"]["structuredContent"]["document_count"] >= 0, f"call {st} {m}")
    # A name in the header's base64 form.
    st, hd, m = post(modern_req(3, "tools/call", {"name": "stats"}),
                     headers=h("tools/call", "=?base64?c3RhdHM=?="))
    check(st == 200 and "result" in m, f"base64 Mcp-Name {st} {m}")
    for body, headers, code, status, what in (
            (modern_req(4, "tools/list"), {}, -32020, 400, "no headers"),
            (modern_req(5, "tools/list"), h("tools/call"), -32020, 400, "Mcp-Method differs"),
            (modern_req(6, "tools/call", {"name": "stats"}), h("tools/call", "list"), -32020, 400,
             "Mcp-Name differs"),
            (modern_req(7, "tools/list", meta={PV_KEY: MODERN}), h("tools/list"), -32602, 400,
             "no clientCapabilities"),
            (modern_req(8, "no/such"), h("no/such"), -32601, 404, "unknown method"),
            (modern_req(9, "ping"), h("ping"), -32601, 404, "ping"),
            (modern_req(10, "tools/call", {"name": "teleport"}), h("tools/call", "teleport"),
             -32602, 400, "unknown tool"),
            (modern_req(11, "tools/list"), h("tools/list", version="2099-01-01"), -32022, 400,
             "unknown revision"),
            ([modern_req(12, "tools/list")], h("tools/list"), -32600, 400, "batch"),
            (b"{oops", h("tools/list"), -32700, 400, "bad JSON")):
        st, hd, m = post(body, headers=headers)
        check(st == status and m["error"]["code"] == code, f"{what}: {st} {m}")
    check(m["id"] is None, "a parse error's id is null")
    st, hd, m = post(modern_req(13, "tools/list"), headers=h("tools/list", version="2099-01-01"))
    check("2025-11-25" in m["error"]["data"]["supported"] and
          m["error"]["data"]["requested"] == "2099-01-01", m)
    # A tool call that fails is a result with isError, not an HTTP error.
    st, hd, m = post(modern_req(14, "tools/call", {"name": "search", "arguments": {"query": 5}}),
                     headers=h("tools/call", "search"))
    check(st == 200 and m["result"]["isError"] is True, f"isError {st} {m}")
    st, hd, m = post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                      "params": {"requestId": 1}}, headers={"MCP-Protocol-Version": MODERN})
    check(st == 202 and m is None, f"notification {st}")
    st, hd, m = post(None, method="GET", headers={"MCP-Protocol-Version": MODERN})
    check(st == 405 and "POST" in hd.get("Allow", ""), f"GET {st}")
    # The credential still decides: another tenant's document is not there, a read key cannot write.
    st, hd, m = post(modern_req(15, "tools/call", {"name": "remember", "arguments": {"text": "x"}}),
                     key=KEY_A_READ, headers=h("tools/call", "remember"))
    check(st == 200 and m["result"]["isError"] and "permission denied" in
          m["result"]["content"][0]["text"], f"read key {m}")
    # The handshake still works beside it, and an initialize asking for 2026-07-28 is offered
    # the newest handshake revision.
    init = dict(INIT, params=dict(INIT["params"], protocolVersion=MODERN))
    st, hd, m = post(init)
    check(st == 200 and m["result"]["protocolVersion"] == "2025-11-25" and
          hd.get("Mcp-Session-Id"), f"initialize {st} {m}")


async def main():
    global MODE
    only = os.environ.get("MCP_ONLY")  # run the cases whose name contains this
    if only:
        results[:] = [r for r in results if only in r[0].__name__]
    print(f"1..{len(results)}", flush=True)
    passed = failed = 0
    for i, (fn, mode) in enumerate(results, 1):
        name = fn.__name__ + (f" ({mode})" if mode else "")
        try:
            MODE = mode or "auto"
            SESSIONS.clear()
            before = CHECKED["messages"]
            with anyio.fail_after(180):
                await fn()
            check_recorded()
            check(mode is None or CHECKED["messages"] > before, "no server message was validated")
            print(f"ok {i} - {name}", flush=True)
            passed += 1
        except BaseException as e:  # noqa: BLE001 - report every failure, go on
            if isinstance(e, KeyboardInterrupt):
                raise
            print(f"not ok {i} - {name}", flush=True)
            for line in traceback.format_exception(e):
                for l in line.rstrip().splitlines():
                    print("# " + l, flush=True)
            failed += 1
    print(f"# {CHECKED['messages']} server messages validated against the protocol's wire models",
          flush=True)
    print(f"mcp: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

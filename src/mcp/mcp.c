/*
 * mcp/mcp.c: the Model Context Protocol server logic: JSON-RPC 2.0 messages in, responses out,
 * for both transports. Requests are checked in the order the specification gives (JSON, then
 * the JSON-RPC envelope, then the method, then its params); protocol faults are JSON-RPC errors,
 * while a tool that fails (a bad argument, a library error) answers a result with isError, so
 * that the model can read what went wrong and correct itself.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "tools.h"

/* The handshake era's revisions, newest first (initialize negotiates among them). */
static const char *const protocols[] = {MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26",
                                        "2024-11-05", NULL};

static int handshake_version(const char *version)
{
    for (size_t i = 0; version != NULL && protocols[i] != NULL; i++)
        if (strcmp(protocols[i], version) == 0)
            return 1;
    return 0;
}

int mcp_protocol_modern(const char *version)
{
    return version != NULL && strcmp(version, MCP_PROTOCOL_MODERN) == 0;
}

int mcp_protocol_supported(const char *version)
{
    return handshake_version(version) || mcp_protocol_modern(version);
}

/* Every revision spoken, oldest first (server/discover, the -32022 error's data). */
static json_t *all_versions(void)
{
    return json_pack("[s,s,s,s,s]", protocols[3], protocols[2], protocols[1], protocols[0],
                     MCP_PROTOCOL_MODERN);
}

void mcp_session_init(mcp_session *s)
{
    memset(s, 0, sizeof(*s));
}

void mcp_outcome_init(mcp_outcome *o)
{
    memset(o, 0, sizeof(*o));
    lm_buf_init(&o->reply);
}

void mcp_outcome_dispose(mcp_outcome *o)
{
    lm_buf_dispose(&o->reply);
}

/* ==== replies ==== */

static void reply_head(lm_buf *out, const char *id_json)
{
    lm__buf_clear(out);
    lm__buf_puts(out, "{\"jsonrpc\":\"2.0\",\"id\":");
    lm__buf_puts(out, id_json != NULL && id_json[0] != '\0' ? id_json : "null");
}

void mcp_error_reply(lm_buf *out, const char *id_json, int code, const char *message)
{
    char *msg;
    json_t *m;

    reply_head(out, id_json);
    lm__buf_printf(out, ",\"error\":{\"code\":%d,\"message\":", code);
    m = json_string(message);
    msg = m != NULL ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
    lm__buf_puts(out, msg != NULL ? msg : "\"error\"");
    free(msg);
    json_decref(m);
    lm__buf_puts(out, "}}");
}

void mcp_busy_reply(lm_buf *out, const char *id_json, int retry_after_s)
{
    reply_head(out, id_json);
    lm__buf_printf(out,
                   ",\"error\":{\"code\":%d,\"message\":\"too many requests in progress for "
                   "this tenant\",\"data\":{\"code\":\"tenant_busy\",\"retry_after\":%d}}}",
                   MCP_SERVER_BUSY, retry_after_s);
}

void mcp_unsupported_reply(lm_buf *out, const char *id_json, const char *requested)
{
    json_t *data = json_pack("{s:o,s:s?}", "supported", all_versions(), "requested", requested);
    char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;

    json_decref(data);
    reply_head(out, id_json);
    lm__buf_printf(out, ",\"error\":{\"code\":%d,\"message\":\"unsupported protocol version\"",
                   MCP_UNSUPPORTED_VERSION);
    if (text != NULL) {
        lm__buf_puts(out, ",\"data\":");
        lm__buf_puts(out, text);
    }
    lm__buf_puts(out, "}}");
    free(text);
}

/* Error with a "data" member (taken). */
static void error_data(mcp_outcome *o, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message);
    char *text;

    o->error_code = code;
    if (err != NULL && data != NULL)
        json_object_set_new(err, "data", data);
    else
        json_decref(data);
    text = err != NULL ? json_dumps(err, JSON_COMPACT) : NULL;
    json_decref(err);
    if (text == NULL) {
        mcp_error_reply(&o->reply, o->id, MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    reply_head(&o->reply, o->id);
    lm__buf_puts(&o->reply, ",\"error\":");
    lm__buf_puts(&o->reply, text);
    lm__buf_putc(&o->reply, '}');
    free(text);
}

static void error_msg(mcp_outcome *o, int code, const char *message)
{
    o->error_code = code;
    mcp_error_reply(&o->reply, o->id, code, message);
}

/* Result (taken). */
static void result(mcp_outcome *o, json_t *res)
{
    char *text = res != NULL ? json_dumps(res, JSON_COMPACT) : NULL;

    json_decref(res);
    if (text == NULL) {
        error_msg(o, MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    reply_head(&o->reply, o->id);
    lm__buf_puts(&o->reply, ",\"result\":");
    lm__buf_puts(&o->reply, text);
    lm__buf_putc(&o->reply, '}');
    free(text);
}

/* Result from JSON text that is already compact. */
static void result_text(mcp_outcome *o, const char *text)
{
    reply_head(&o->reply, o->id);
    lm__buf_puts(&o->reply, ",\"result\":");
    lm__buf_puts(&o->reply, text);
    lm__buf_putc(&o->reply, '}');
}

/* How long a client may reuse a cacheable result of the stateless revision: the definitions
   (tools, templates, prompts, discover) change only with the server; documents at any time. */
#define TTL_DEFINITIONS_MS 3600000
#define SERVER_INFO_JSON                                                                           \
    "{\"" MCP_META_SERVER_INFO "\":{\"name\":\"llmemory\",\"title\":\"llmemory document memory\","     \
    "\"version\":\"" LM_VERSION_STRING "\"}}"

/* The fields every result of the stateless revision carries: resultType, the server's identity
   in _meta and, for a cacheable result (@p scope not NULL), its cache scope and lifetime. */
static void modern_fields(lm_buf *b, const char *scope, int ttl_ms)
{
    lm__buf_puts(b, "\"resultType\":\"complete\",\"_meta\":" SERVER_INFO_JSON);
    if (scope != NULL)
        lm__buf_printf(b, ",\"cacheScope\":\"%s\",\"ttlMs\":%d", scope, ttl_ms);
}

/* Result (taken) for either era: @p scope and @p ttl_ms only matter to the stateless one. */
static void reply_result(mcp_outcome *o, json_t *res, const char *scope, int ttl_ms)
{
    char *text;

    if (!o->modern || res == NULL) {
        result(o, res);
        return;
    }
    text = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    if (text == NULL || text[0] != '{') {
        free(text);
        error_msg(o, MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    reply_head(&o->reply, o->id);
    lm__buf_puts(&o->reply, ",\"result\":{");
    modern_fields(&o->reply, scope, ttl_ms);
    if (text[1] != '}')
        lm__buf_putc(&o->reply, ',');
    lm__buf_puts(&o->reply, text + 1);
    lm__buf_putc(&o->reply, '}');
    free(text);
}

/* Result from compact JSON object text, for either era. */
static void reply_text(mcp_outcome *o, const char *text, const char *scope, int ttl_ms)
{
    if (!o->modern) {
        result_text(o, text);
        return;
    }
    reply_head(&o->reply, o->id);
    lm__buf_puts(&o->reply, ",\"result\":{");
    modern_fields(&o->reply, scope, ttl_ms);
    if (text[1] != '}')
        lm__buf_putc(&o->reply, ',');
    lm__buf_puts(&o->reply, text + 1);
    lm__buf_putc(&o->reply, '}');
}

/* ==== the envelope ==== */

/* The id's JSON text into @p out: a string or an integer (JSON-RPC allows numbers; MCP says
   string or integer, never null). -1 when it is of another type or too long. */
static int id_text(char out[MCP_MAX_ID_BYTES], const json_t *id)
{
    char *t;
    size_t n;

    out[0] = '\0';
    if (!json_is_string(id) && !json_is_integer(id))
        return -1;
    t = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (t == NULL)
        return -1;
    n = strlen(t);
    if (n >= MCP_MAX_ID_BYTES) {
        free(t);
        return -1;
    }
    memcpy(out, t, n + 1);
    free(t);
    return 0;
}

/* Classify @p v (a parsed message): fills kind, id, cancel_id. On an envelope error the reply
   is set and the kind is MCP_MSG_INVALID. */
static int classify(mcp_outcome *o, const json_t *v)
{
    const json_t *id, *method, *jsonrpc;

    if (!json_is_object(v)) {
        error_msg(o, MCP_INVALID_REQUEST,
                  json_is_array(v) ? "batches are not supported: send one message at a time"
                                   : "message must be a JSON object");
        return o->kind = MCP_MSG_INVALID;
    }
    id = json_object_get(v, "id");
    method = json_object_get(v, "method");
    jsonrpc = json_object_get(v, "jsonrpc");
    if (id != NULL && id_text(o->id, id) < 0) {
        error_msg(o, MCP_INVALID_REQUEST, "\"id\" must be a string or an integer");
        return o->kind = MCP_MSG_INVALID;
    }
    if (!json_is_string(jsonrpc) || strcmp(json_string_value(jsonrpc), "2.0") != 0) {
        error_msg(o, MCP_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
        return o->kind = MCP_MSG_INVALID;
    }
    if (method == NULL) {
        if (id != NULL && (json_object_get(v, "result") != NULL ||
                           json_object_get(v, "error") != NULL))
            return o->kind = MCP_MSG_RESPONSE;
        error_msg(o, MCP_INVALID_REQUEST, "message has no \"method\"");
        return o->kind = MCP_MSG_INVALID;
    }
    if (!json_is_string(method)) {
        error_msg(o, MCP_INVALID_REQUEST, "\"method\" must be a string");
        return o->kind = MCP_MSG_INVALID;
    }
    if (id == NULL) {
        const json_t *params = json_object_get(v, "params");
        if (strcmp(json_string_value(method), "notifications/cancelled") == 0 &&
            json_is_object(params))
            (void)id_text(o->cancel_id, json_object_get(params, "requestId"));
        return o->kind = MCP_MSG_NOTIFICATION;
    }
    return o->kind = MCP_MSG_REQUEST;
}

void mcp_peek(mcp_outcome *out, const char *msg, size_t len)
{
    json_t *v = json_loadb(msg, len, JSON_DECODE_ANY, NULL);

    lm__buf_clear(&out->reply);
    out->id[0] = out->cancel_id[0] = '\0';
    out->kind = MCP_MSG_INVALID;
    if (v != NULL)
        classify(out, v);
    lm__buf_clear(&out->reply);
    json_decref(v);
}

/* ==== methods ==== */

static void m_initialize(mcp_outcome *o, mcp_session *s, const mcp_caller *who,
                         const json_t *params)
{
    const json_t *pv = json_object_get(params, "protocolVersion");
    const char *version;
    json_t *res;

    if (!json_is_string(pv)) {
        error_data(o, MCP_INVALID_PARAMS, "\"protocolVersion\" must be a string",
                   json_pack("{s:[s,s,s,s]}", "supported", protocols[0], protocols[1],
                             protocols[2], protocols[3]));
        return;
    }
    if (json_object_get(params, "capabilities") != NULL &&
        !json_is_object(json_object_get(params, "capabilities"))) {
        error_msg(o, MCP_INVALID_PARAMS, "\"capabilities\" must be an object");
        return;
    }
    /* The client's revision when this server speaks it, else the newest it speaks: the client
       then decides whether it can go on. */
    version = json_string_value(pv);
    if (!handshake_version(version))
        version = MCP_PROTOCOL_LATEST; /* also for 2026-07-28, which has no handshake */
    snprintf(s->protocol, sizeof(s->protocol), "%s", version);
    res = json_pack("{s:s,s:{s:{s:b},s:{s:b,s:b},s:{s:b}},s:{s:s,s:s,s:s},s:s}",
                    "protocolVersion", version, "capabilities", "tools", "listChanged", 0,
                    "resources", "subscribe", 0, "listChanged", 0, "prompts", "listChanged", 0,
                    "serverInfo", "name", "llmemory", "title", "llmemory document memory",
                    "version", LM_VERSION_STRING, "instructions", mcp__instructions(who));
    s->initialized = 1;
    o->initialize_ok = 1;
    result(o, res);
}

static void m_tools_call(mcp_outcome *o, const mcp_caller *who, const json_t *params)
{
    const json_t *name = json_object_get(params, "name");
    const json_t *args = json_object_get(params, "arguments");
    const mcp_tool *t;

    if (!json_is_string(name)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"name\" must be a string");
        return;
    }
    t = mcp__tool_lookup(json_string_value(name));
    if (t == NULL) {
        char msg[200];
        snprintf(msg, sizeof(msg), "unknown tool \"%.100s\"", json_string_value(name));
        error_msg(o, MCP_INVALID_PARAMS, msg);
        return;
    }
    if (args != NULL && !json_is_object(args) && !json_is_null(args)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"arguments\" must be an object");
        return;
    }
    reply_result(o, mcp__tool_call(t, who, json_is_object(args) ? args : NULL), NULL, 0);
}

static void m_resources_read(mcp_outcome *o, const mcp_caller *who, const json_t *params)
{
    const json_t *uri = json_object_get(params, "uri");
    json_t *res = NULL;
    int code;
    const char *msg;

    if (!json_is_string(uri)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"uri\" must be a string");
        return;
    }
    code = mcp__resource_read(&res, &msg, who, json_string_value(uri));
    if (code != 0) {
        /* 2026-07-28 retired -32002: a missing resource is an invalid parameter there. */
        if (o->modern && code == MCP_RESOURCE_NOT_FOUND)
            code = MCP_INVALID_PARAMS;
        error_data(o, code, msg, json_pack("{s:s}", "uri", json_string_value(uri)));
        return;
    }
    reply_result(o, res, "private", 0);
}

static void m_resources_list(mcp_outcome *o, const mcp_caller *who, const json_t *params)
{
    const json_t *cursor = json_object_get(params, "cursor");
    json_t *res = NULL;
    const char *msg;
    int code;

    if (cursor != NULL && !json_is_string(cursor)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"cursor\" must be a string");
        return;
    }
    code = mcp__resource_list(&res, &msg, who, json_string_value(cursor));
    if (code != 0) {
        error_msg(o, code, msg);
        return;
    }
    reply_result(o, res, "private", 0);
}

static void m_prompts_get(mcp_outcome *o, const mcp_caller *who, const json_t *params)
{
    const json_t *name = json_object_get(params, "name");
    const json_t *args = json_object_get(params, "arguments");
    json_t *res = NULL;
    const char *msg;
    int code;

    if (!json_is_string(name)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"name\" must be a string");
        return;
    }
    if (args != NULL && !json_is_object(args)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"arguments\" must be an object");
        return;
    }
    code = mcp__prompt_get(&res, &msg, who, json_string_value(name), args);
    if (code != 0) {
        error_msg(o, code, msg);
        return;
    }
    reply_result(o, res, NULL, 0);
}

/* The base64 form of a header value ("=?base64?...?=") decoded into @p out; other values as
   they are. 0, or -1 for a malformed one. */
static int header_value(char *out, size_t cap, const char *v)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(v), o = 0, bits = 0;
    unsigned long acc = 0;

    if (n < 12 || strncmp(v, "=?base64?", 9) != 0 || strcmp(v + n - 2, "?=") != 0) {
        snprintf(out, cap, "%s", v);
        return strlen(v) < cap ? 0 : -1;
    }
    for (size_t i = 9; i < n - 2; i++) {
        const char *p = v[i] != '\0' ? strchr(b64, v[i]) : NULL;
        if (v[i] == '=')
            break;
        if (p == NULL)
            return -1;
        acc = (acc << 6) | (unsigned long)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return strlen(out) == o ? 0 : -1; /* no NUL inside */
}

/* The checks a request of the stateless revision passes before it runs, in the order the
   revision gives: the envelope, then (over HTTP) the headers that repeat it, then the revision.
   0, or -1 with the error answered. */
static int modern_envelope(mcp_outcome *o, const mcp_caller *who, const char *method,
                           const json_t *params)
{
    const json_t *meta = json_object_get(params, "_meta");
    const json_t *pv = json_object_get(meta, MCP_META_PROTOCOL);

    if (!json_is_object(meta) || pv == NULL ||
        json_object_get(meta, MCP_META_CAPABILITIES) == NULL) {
        error_msg(o, MCP_INVALID_PARAMS,
                  "params._meta must carry \"" MCP_META_PROTOCOL "\" and \"" MCP_META_CAPABILITIES
                  "\"");
        return -1;
    }
    if (who->http_headers) {
        const char *name_key = strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0
                                   ? "name"
                                   : strcmp(method, "resources/read") == 0 ? "uri" : NULL;
        const json_t *name = name_key != NULL ? json_object_get(params, name_key) : NULL;
        char hv[1024];

        if (who->h_protocol == NULL || !json_is_string(pv) ||
            strcmp(who->h_protocol, json_string_value(pv)) != 0) {
            error_msg(o, MCP_HEADER_MISMATCH,
                      "header MCP-Protocol-Version does not match the request's protocol version");
            return -1;
        }
        if (who->h_method == NULL || strcmp(who->h_method, method) != 0) {
            error_msg(o, MCP_HEADER_MISMATCH, "header Mcp-Method does not match the request's method");
            return -1;
        }
        if (json_is_string(name) &&
            (who->h_name == NULL || header_value(hv, sizeof(hv), who->h_name) < 0 ||
             strcmp(hv, json_string_value(name)) != 0)) {
            char text[120];
            snprintf(text, sizeof(text), "header Mcp-Name does not match the request's \"%s\"",
                     name_key);
            error_msg(o, MCP_HEADER_MISMATCH, text);
            return -1;
        }
    }
    if (!json_is_string(pv)) {
        error_msg(o, MCP_INVALID_PARAMS, "the protocol version in params._meta must be a string");
        return -1;
    }
    if (!mcp_protocol_modern(json_string_value(pv))) {
        char text[160];
        snprintf(text, sizeof(text),
                 "protocol version \"%.40s\" is not supported%s", json_string_value(pv),
                 handshake_version(json_string_value(pv))
                     ? ": this revision starts with \"initialize\", without a per-request envelope"
                     : "");
        error_data(o, MCP_UNSUPPORTED_VERSION, text,
                   json_pack("{s:o,s:s}", "supported", all_versions(), "requested",
                             json_string_value(pv)));
        return -1;
    }
    return 0;
}

static void m_discover(mcp_outcome *o, const mcp_caller *who)
{
    json_t *res = json_pack("{s:o,s:{s:{s:b},s:{s:b,s:b},s:{s:b}},s:s}", "supportedVersions",
                            all_versions(), "capabilities", "tools", "listChanged", 0,
                            "resources", "subscribe", 0, "listChanged", 0, "prompts",
                            "listChanged", 0, "instructions", mcp__instructions(who));
    reply_result(o, res, "public", TTL_DEFINITIONS_MS);
}

/* A request of the stateless revision: everything it needs is in it. */
static void modern_request(mcp_outcome *o, const mcp_caller *who, const char *method,
                           const json_t *params)
{
    o->modern = 1;
    if (modern_envelope(o, who, method, params) < 0)
        return;
    if (strcmp(method, "server/discover") == 0)
        m_discover(o, who);
    else if (strcmp(method, "tools/list") == 0)
        reply_text(o, mcp__tools_list_json(), "public", TTL_DEFINITIONS_MS);
    else if (strcmp(method, "tools/call") == 0)
        m_tools_call(o, who, params);
    else if (strcmp(method, "resources/list") == 0)
        m_resources_list(o, who, params);
    else if (strcmp(method, "resources/templates/list") == 0)
        reply_text(o, mcp__templates_list_json(), "public", TTL_DEFINITIONS_MS);
    else if (strcmp(method, "resources/read") == 0)
        m_resources_read(o, who, params);
    else if (strcmp(method, "prompts/list") == 0)
        reply_text(o, mcp__prompts_list_json(), "public", TTL_DEFINITIONS_MS);
    else if (strcmp(method, "prompts/get") == 0)
        m_prompts_get(o, who, params);
    else {
        /* initialize and ping are gone from this revision. */
        char text[200];
        snprintf(text, sizeof(text), "method \"%.100s\" is not supported in protocol version %s",
                 method, MCP_PROTOCOL_MODERN);
        error_msg(o, MCP_METHOD_NOT_FOUND, text);
    }
}

void mcp_handle(mcp_outcome *o, mcp_session *s, const mcp_caller *who, const char *msg,
                size_t len)
{
    json_error_t jerr;
    json_t *v = NULL;
    const json_t *params;
    const char *method;

    lm__buf_clear(&o->reply);
    o->id[0] = o->cancel_id[0] = '\0';
    o->kind = MCP_MSG_INVALID;
    o->initialize_ok = 0;
    o->error_code = 0;
    o->modern = 0;
    if (len > MCP_MAX_MESSAGE) {
        error_msg(o, MCP_INVALID_REQUEST, "message is too large");
        return;
    }
    v = json_loadb(msg, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        char text[300];
        snprintf(text, sizeof(text), "invalid JSON: %s at line %d, column %d", jerr.text,
                 jerr.line, jerr.column);
        error_msg(o, MCP_PARSE_ERROR, text);
        return;
    }
    if (classify(o, v) != MCP_MSG_REQUEST)
        goto out; /* errors are answered; notifications and responses need nothing */

    method = json_string_value(json_object_get(v, "method"));
    params = json_object_get(v, "params");
    if (who->on_request != NULL)
        who->on_request(who->hook_payload, o->id);
    if (params != NULL && !json_is_object(params)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"params\" must be an object");
        goto out;
    }
    /* The stateless revision: a request with its own envelope, or one whose HTTP headers name
       that revision. It needs no session, and changes none. */
    if (json_object_get(json_object_get(params, "_meta"), MCP_META_PROTOCOL) != NULL ||
        (who->http_headers && mcp_protocol_modern(who->h_protocol))) {
        modern_request(o, who, method, params);
        goto out;
    }
    if (strcmp(method, "initialize") == 0) {
        m_initialize(o, s, who, params);
        goto out;
    }
    if (strcmp(method, "ping") == 0) {
        result_text(o, "{}");
        goto out;
    }
    if (!s->initialized) {
        error_msg(o, MCP_INVALID_REQUEST, "session is not initialized: send \"initialize\" first");
        goto out;
    }
    if (strcmp(method, "tools/list") == 0)
        result_text(o, mcp__tools_list_json());
    else if (strcmp(method, "tools/call") == 0)
        m_tools_call(o, who, params);
    else if (strcmp(method, "resources/list") == 0)
        m_resources_list(o, who, params);
    else if (strcmp(method, "resources/templates/list") == 0)
        result_text(o, mcp__templates_list_json());
    else if (strcmp(method, "resources/read") == 0)
        m_resources_read(o, who, params);
    else if (strcmp(method, "prompts/list") == 0)
        result_text(o, mcp__prompts_list_json());
    else if (strcmp(method, "prompts/get") == 0)
        m_prompts_get(o, who, params);
    else {
        char text[200];
        snprintf(text, sizeof(text), "method \"%.100s\" is not supported", method);
        error_msg(o, MCP_METHOD_NOT_FOUND, text);
    }
out:
    /* Notifications change nothing beyond the session's readiness: the transports handle
       notifications/cancelled themselves (o->cancel_id). */
    if (o->kind == MCP_MSG_NOTIFICATION &&
        strcmp(json_string_value(json_object_get(v, "method")), "notifications/initialized") ==
            0)
        s->client_ready = 1;
    json_decref(v);
}

int mcp_init(void)
{
    return mcp__tools_init();
}

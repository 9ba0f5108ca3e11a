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

static const char *const protocols[] = {MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26",
                                        "2024-11-05", NULL};

int mcp_protocol_supported(const char *version)
{
    for (size_t i = 0; version != NULL && protocols[i] != NULL; i++)
        if (strcmp(protocols[i], version) == 0)
            return 1;
    return 0;
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
    if (!mcp_protocol_supported(version))
        version = MCP_PROTOCOL_LATEST;
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
    result(o, mcp__tool_call(t, who, json_is_object(args) ? args : NULL));
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
        error_data(o, code, msg, json_pack("{s:s}", "uri", json_string_value(uri)));
        return;
    }
    result(o, res);
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
    result(o, res);
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
    result(o, res);
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
    if (params != NULL && !json_is_object(params)) {
        error_msg(o, MCP_INVALID_PARAMS, "\"params\" must be an object");
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

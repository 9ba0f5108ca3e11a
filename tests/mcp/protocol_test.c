/*
 * tests/mcp/protocol_test.c: the MCP protocol handling of src/mcp, without an SDK and without a
 * transport: JSON-RPC framing and errors, the session's initialisation, the lists, tool argument
 * checks, read-only callers, peeking for cancellation, and (against the test database) every
 * tool for two tenants that must not see each other's memories. tests/mcp/test_mcp.py drives the
 * same code through both transports with the official SDK.
 */
#include <jansson.h>
#include <string.h>

#include "../integration/support.h"
#include "mcp.h"
#include "runner.h"

typedef struct conv {
    mcp_session s;
    mcp_caller who;
    mcp_outcome out;
    json_t *reply; /* the last reply, parsed (NULL when there was none) */
} conv;

static void conv_init(conv *c, lm_memory *mem, const char *tenant, int can_write)
{
    ASSERT_EQ_INT(mcp_init(), 0);
    memset(c, 0, sizeof(*c));
    mcp_session_init(&c->s);
    mcp_outcome_init(&c->out);
    c->who.mem = mem;
    c->who.tenant = tenant;
    c->who.can_write = can_write;
    c->who.transport = "stdio";
}

static void conv_dispose(conv *c)
{
    json_decref(c->reply);
    mcp_outcome_dispose(&c->out);
}

/* Send one message; the reply (if any) must be a JSON-RPC 2.0 response. */
static json_t *rpc(conv *c, const char *msg)
{
    json_error_t err;

    json_decref(c->reply);
    c->reply = NULL;
    mcp_handle(&c->out, &c->s, &c->who, msg, strlen(msg));
    if (c->out.reply.size == 0)
        return NULL;
    c->reply = json_loadb(c->out.reply.ptr, c->out.reply.size, 0, &err);
    ASSERT(c->reply != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(c->reply, "jsonrpc")), "2.0");
    ASSERT(json_object_get(c->reply, "id") != NULL);
    ASSERT((json_object_get(c->reply, "result") == NULL) !=
           (json_object_get(c->reply, "error") == NULL));
    return c->reply;
}

static long long error_code(const json_t *reply)
{
    const json_t *e = json_object_get(reply, "error");
    ASSERT(json_is_object(e));
    ASSERT(json_is_string(json_object_get(e, "message")));
    return json_integer_value(json_object_get(e, "code"));
}

static void initialize(conv *c)
{
    json_t *r = rpc(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                        "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                        "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    ASSERT(r != NULL && json_object_get(r, "result") != NULL);
    ASSERT(c->out.initialize_ok);
    ASSERT(rpc(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}") == NULL);
    ASSERT(c->s.client_ready);
}

/* A tools/call; returns its result object. */
static json_t *call(conv *c, const char *tool, const char *args_json)
{
    char msg[4096];
    json_t *r;
    snprintf(msg, sizeof(msg),
             "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"%s\",\"arguments\":%s}}",
             tool, args_json);
    r = rpc(c, msg);
    ASSERT(r != NULL);
    ASSERT(json_is_object(json_object_get(r, "result")));
    return json_object_get(r, "result");
}

static int is_error(const json_t *res)
{
    return json_is_true(json_object_get(res, "isError"));
}

static const char *first_text(const json_t *res)
{
    const json_t *c = json_array_get(json_object_get(res, "content"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(c, "type")), "text");
    return json_string_value(json_object_get(c, "text"));
}

TEST(test_mcp_protocol__malformed_messages_get_json_rpc_errors)
{
    conv c;
    conv_init(&c, NULL, "t", 1);
    ASSERT_EQ_INT(error_code(rpc(&c, "{")), MCP_PARSE_ERROR);
    ASSERT(json_is_null(json_object_get(c.reply, "id")));
    ASSERT_EQ_INT(c.out.kind, MCP_MSG_INVALID);
    /* Duplicate keys are not valid JSON-RPC: which one would count? */
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}")),
                  MCP_PARSE_ERROR);
    ASSERT_EQ_INT(error_code(rpc(&c, "[]")), MCP_INVALID_REQUEST);
    ASSERT_EQ_INT(error_code(rpc(&c, "42")), MCP_INVALID_REQUEST);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}")),
                  MCP_INVALID_REQUEST);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}")),
                  MCP_INVALID_REQUEST);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}")),
                  MCP_INVALID_REQUEST);
    ASSERT_EQ_INT(
        error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}")),
        MCP_INVALID_PARAMS);
    /* Too large to read: answered without parsing. */
    {
        mcp_handle(&c.out, &c.s, &c.who, "{}", MCP_MAX_MESSAGE + 1);
        ASSERT(strstr(c.out.reply.ptr, "too large") != NULL);
        ASSERT_EQ_INT(c.out.error_code, MCP_INVALID_REQUEST);
    }
    conv_dispose(&c);
}

TEST(test_mcp_protocol__ids_are_echoed_and_ping_needs_no_session)
{
    conv c;
    conv_init(&c, NULL, "t", 1);
    rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\"}");
    ASSERT_EQ_STR(json_string_value(json_object_get(c.reply, "id")), "abc");
    ASSERT_EQ_STR(c.out.id, "\"abc\"");
    rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":-7,\"method\":\"ping\"}");
    ASSERT_EQ_INT(json_integer_value(json_object_get(c.reply, "id")), -7);
    ASSERT(json_is_object(json_object_get(c.reply, "result")));
    conv_dispose(&c);
}

TEST(test_mcp_protocol__requests_before_initialize_are_refused)
{
    conv c;
    conv_init(&c, NULL, "t", 1);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}")),
                  MCP_INVALID_REQUEST);
    ASSERT(strstr(json_string_value(json_object_get(json_object_get(c.reply, "error"), "message")),
                  "initialize") != NULL);
    conv_dispose(&c);
}

TEST(test_mcp_protocol__initialize_negotiates_the_revision)
{
    conv c;
    const json_t *res;
    conv_init(&c, NULL, "t", 1);
    res = json_object_get(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                                   "\"params\":{\"protocolVersion\":\"2024-11-05\"}}"),
                          "result");
    ASSERT_EQ_STR(json_string_value(json_object_get(res, "protocolVersion")), "2024-11-05");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")),
                  "llmemory");
    ASSERT(json_is_object(json_object_get(json_object_get(res, "capabilities"), "tools")));
    ASSERT(json_is_string(json_object_get(res, "instructions")));
    /* A revision it does not speak: it answers with its newest, and the client decides. */
    res = json_object_get(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\","
                                   "\"params\":{\"protocolVersion\":\"1999-01-01\"}}"),
                          "result");
    ASSERT_EQ_STR(json_string_value(json_object_get(res, "protocolVersion")), MCP_PROTOCOL_LATEST);
    ASSERT(mcp_protocol_supported(MCP_PROTOCOL_LATEST));
    ASSERT(!mcp_protocol_supported("1999-01-01"));
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\","
                                      "\"params\":{\"protocolVersion\":5}}")),
                  MCP_INVALID_PARAMS);
    conv_dispose(&c);
}

TEST(test_mcp_protocol__lists_describe_tools_resources_and_prompts)
{
    static const char *const tools[] = {"remember", "search", "list", "get", "forget", "stats"};
    conv c;
    const json_t *list;
    conv_init(&c, NULL, "t", 1);
    initialize(&c);
    list = json_object_get(json_object_get(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
                                                    "\"tools/list\"}"),
                                           "result"),
                           "tools");
    ASSERT_EQ_INT(json_array_size(list), 6);
    for (size_t i = 0; i < 6; i++) {
        const json_t *t = json_array_get(list, i);
        int found = 0;
        for (size_t k = 0; k < 6; k++)
            found |= strcmp(tools[k], json_string_value(json_object_get(t, "name"))) == 0;
        ASSERT(found);
        ASSERT(json_is_string(json_object_get(t, "description")));
        ASSERT_EQ_STR(json_string_value(
                          json_object_get(json_object_get(t, "inputSchema"), "type")),
                      "object");
    }
    rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/templates/list\"}");
    ASSERT(strstr(c.out.reply.ptr, "llmemory://documents/{document_id}") != NULL);
    rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"prompts/list\"}");
    ASSERT(json_array_size(json_object_get(json_object_get(c.reply, "result"), "prompts")) >= 1);
    conv_dispose(&c);
}

TEST(test_mcp_protocol__unknown_methods_tools_and_bad_arguments)
{
    conv c;
    json_t *res;
    conv_init(&c, NULL, "t", 1);
    initialize(&c);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope/nope\"}")),
                  MCP_METHOD_NOT_FOUND);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
                                      "\"params\":{\"name\":\"nope\"}}")),
                  MCP_INVALID_PARAMS);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
                                      "\"params\":{\"name\":\"search\",\"arguments\":[1]}}")),
                  MCP_INVALID_PARAMS);
    ASSERT_EQ_INT(error_code(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\","
                                      "\"params\":{\"uri\":7}}")),
                  MCP_INVALID_PARAMS);
    /* Wrong argument types and unknown arguments are tool errors (isError), not protocol ones. */
    res = call(&c, "search", "{\"query\":5}");
    ASSERT(is_error(res));
    ASSERT(strstr(first_text(res), "query") != NULL);
    res = call(&c, "search", "{\"query\":\"x\",\"bogus\":1}");
    ASSERT(is_error(res) && strstr(first_text(res), "bogus") != NULL);
    res = call(&c, "remember", "{\"text\":\"x\",\"file\":\"/etc/hostname\"}");
    ASSERT(is_error(res));
    conv_dispose(&c);
}

TEST(test_mcp_protocol__read_only_callers_cannot_write)
{
    conv c;
    json_t *res;
    conv_init(&c, NULL, "t", 0);
    initialize(&c);
    res = call(&c, "remember", "{\"text\":\"hello\"}");
    ASSERT(is_error(res));
    res = call(&c, "forget", "{\"document_ids\":[\"00000000-0000-4000-8000-000000000000\"]}");
    ASSERT(is_error(res));
    conv_dispose(&c);
}

TEST(test_mcp_protocol__notifications_and_responses_get_no_reply)
{
    conv c;
    mcp_outcome peek;
    conv_init(&c, NULL, "t", 1);
    ASSERT(rpc(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                    "\"params\":{\"requestId\":\"r-9\"}}") == NULL);
    ASSERT_EQ_INT(c.out.kind, MCP_MSG_NOTIFICATION);
    ASSERT_EQ_STR(c.out.cancel_id, "\"r-9\"");
    ASSERT(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}") == NULL);
    ASSERT_EQ_INT(c.out.kind, MCP_MSG_RESPONSE);
    /* Peeking classifies without running anything. */
    mcp_outcome_init(&peek);
    {
        const char *m = "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}";
        mcp_peek(&peek, m, strlen(m));
    }
    ASSERT_EQ_INT(peek.kind, MCP_MSG_REQUEST);
    ASSERT_EQ_STR(peek.id, "8");
    ASSERT_EQ_INT(peek.reply.size, 0);
    ASSERT(!c.s.initialized);
    mcp_outcome_dispose(&peek);
    conv_dispose(&c);
}

TEST(test_mcp_protocol__tools_keep_tenants_apart)
{
    lm_memory *mem = test_memory();
    conv a, b;
    json_t *res;
    char id[64], args[256];
    const json_t *sc;

    conv_init(&a, mem, "mcp-a", 1);
    conv_init(&b, mem, "mcp-b", 1);
    initialize(&a);
    initialize(&b);
    res = call(&a, "remember", "{\"text\":\"the zanzibarword vacation policy\",\"name\":\"Policy\","
                               "\"id_at_origin\":\"shared\",\"metadata\":{\"k\":\"v\"}}");
    ASSERT(!is_error(res));
    sc = json_object_get(res, "structuredContent");
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(sc, "document_id")));
    ASSERT_EQ_INT(strlen(id), 36);
    ASSERT(!is_error(call(&b, "remember", "{\"text\":\"b's own text\",\"id_at_origin\":\"shared\"}")));

    /* search: A finds its memory, B does not. */
    res = call(&a, "search", "{\"query\":\"zanzibarword\",\"type\":\"text\"}");
    ASSERT(!is_error(res));
    ASSERT(strstr(a.out.reply.ptr, id) != NULL);
    res = call(&b, "search", "{\"query\":\"zanzibarword\",\"type\":\"text\"}");
    ASSERT(!is_error(res));
    ASSERT(strstr(b.out.reply.ptr, id) == NULL);
    ASSERT(strstr(b.out.reply.ptr, "vacation policy") == NULL);

    /* get / resources/read: B's answer for A's id is the answer for a missing one. */
    snprintf(args, sizeof(args), "{\"document_id\":\"%s\",\"chunks\":true}", id);
    ASSERT(!is_error(call(&a, "get", args)));
    ASSERT(strstr(a.out.reply.ptr, "zanzibarword") != NULL);
    res = call(&b, "get", args);
    ASSERT(is_error(res));
    ASSERT(strstr(b.out.reply.ptr, "zanzibarword") == NULL);
    snprintf(args, sizeof(args),
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"resources/read\",\"params\":"
             "{\"uri\":\"llmemory://documents/%s\"}}",
             id);
    ASSERT_EQ_INT(error_code(rpc(&b, args)), MCP_RESOURCE_NOT_FOUND);
    rpc(&a, args);
    ASSERT(json_object_get(a.reply, "result") != NULL);

    /* list / stats count only the caller's. */
    ASSERT(!is_error(call(&b, "list", "{}")));
    ASSERT(strstr(b.out.reply.ptr, id) == NULL);
    res = call(&b, "stats", "{}");
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "structuredContent"),
                                                     "document_count")),
                  1);

    /* forget: B cannot delete A's memory, by id or by metadata. */
    snprintf(args, sizeof(args), "{\"document_ids\":[\"%s\"]}", id);
    call(&b, "forget", args);
    ASSERT(!is_error(call(&b, "forget", "{\"metadata\":{\"k\":\"v\"}}")));
    snprintf(args, sizeof(args), "{\"document_id\":\"%s\"}", id);
    ASSERT(!is_error(call(&a, "get", args)));
    /* A can. */
    snprintf(args, sizeof(args), "{\"document_ids\":[\"%s\"]}", id);
    ASSERT(!is_error(call(&a, "forget", args)));
    snprintf(args, sizeof(args), "{\"document_id\":\"%s\"}", id);
    ASSERT(is_error(call(&a, "get", args)));

    conv_dispose(&a);
    conv_dispose(&b);
    lm_memory_close(mem);
}

/* The cost of a message before it runs (the HTTP server weighs it): a search tool call costs
   lm_search_cost() of its mode and limit; anything else, malformed messages included, 0. */
TEST(test_mcp_protocol__message_cost_is_the_search_cost)
{
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    const char *m;
#define COST(s) mcp_message_cost((s), strlen(s))

    m = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\","
        "\"arguments\":{\"query\":\"x\"}}}";
    ASSERT_EQ_INT((int)COST(m), (int)lm_search_cost(&o));
    m = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\","
        "\"arguments\":{\"query\":\"x\",\"mode\":\"hybrid\",\"limit\":100}}}";
    o.type = LM_SEARCH_HYBRID;
    o.limit = 100;
    ASSERT_EQ_INT((int)COST(m), (int)lm_search_cost(&o));
    ASSERT(COST(m) > 50);
    /* An argument the tool would refuse is read as its default here. */
    m = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\","
        "\"arguments\":{\"query\":\"x\",\"limit\":100000,\"mode\":7}}}";
    o = (lm_search_opts)LM_SEARCH_OPTS_INIT;
    ASSERT_EQ_INT((int)COST(m), (int)lm_search_cost(&o));
    ASSERT_EQ_INT((int)COST("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                            "\"params\":{\"name\":\"list\",\"arguments\":{}}}"),
                  0);
    ASSERT_EQ_INT((int)COST("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"), 0);
    ASSERT_EQ_INT((int)COST("{\"jsonrpc\":"), 0);
    ASSERT_EQ_INT((int)COST("[1,2]"), 0);
    ASSERT_EQ_INT((int)mcp_message_cost("", 0), 0);
#undef COST
}

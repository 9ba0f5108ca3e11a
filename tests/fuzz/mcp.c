/*
 * tests/fuzz/mcp.c: MCP JSON-RPC message handling (src/mcp). The input is a session's messages,
 * one per line as on stdio; each is peeked at (as stdio's reader does) and handled in one
 * session, for a caller whose memory has no database behind it (so tools answer with errors, but
 * every argument check runs). The first byte says whether the caller may write. Every reply must
 * be one JSON-RPC 2.0 response object with an id or an error.
 */
#include <jansson.h>

#include "fuzz.h"
#include "mcp.h"

static void check_reply(const lm_buf *reply)
{
    json_t *v;
    json_error_t err;

    if (reply->size == 0)
        return;
    v = json_loadb(reply->ptr, reply->size, 0, &err);
    if (v == NULL || !json_is_object(v) ||
        !json_is_string(json_object_get(v, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(v, "jsonrpc")), "2.0") != 0 ||
        json_object_get(v, "id") == NULL ||
        (json_object_get(v, "result") == NULL) == (json_object_get(v, "error") == NULL))
        abort();
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    mcp_session s;
    mcp_caller who;
    size_t start = 1;

    if (!ready) {
        if (mcp_init() < 0)
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    memset(&who, 0, sizeof(who));
    who.mem = NULL;
    who.tenant = "fuzz-tenant";
    who.can_write = data[0] & 1;
    who.transport = (data[0] & 2) ? "stdio" : "http";
    mcp_session_init(&s);
    for (size_t i = 1; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            char *msg = fuzz_strndup(data + start, i - start);
            mcp_outcome peek, out;
            if (msg == NULL)
                abort();
            mcp_outcome_init(&peek);
            mcp_peek(&peek, msg, i - start);
            mcp_outcome_dispose(&peek);
            mcp_outcome_init(&out);
            mcp_handle(&out, &s, &who, msg, i - start);
            check_reply(&out.reply);
            mcp_outcome_dispose(&out);
            free(msg);
            start = i + 1;
        }
    }
    return 0;
}

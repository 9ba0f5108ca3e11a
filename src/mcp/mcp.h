/*
 * mcp/mcp.h: the Model Context Protocol server logic shared by both transports: JSON-RPC 2.0
 * framing and dispatch, the initialize handshake, and the tools, resources and prompt over one
 * tenant's memory. The stdio transport (`llmemory mcp`, src/cli/cmd_mcp.c) and the Streamable
 * HTTP transport (`/mcp` of `llmemory serve`, src/http/handler_mcp.c) only move messages and
 * say who is calling; the tenant always comes from them, never from a tool argument.
 * Like src/cli and src/http, this sees only the public API and src/lib/core helpers.
 */
#ifndef LM_MCP_MCP_H
#define LM_MCP_MCP_H

#include <stddef.h>

#include "buf.h"
#include "llmemory.h"

/* Protocol revisions. The newest, 2026-07-28, is stateless: no initialize handshake, every
   request carries its revision and the client's capabilities in params._meta, and
   server/discover says what the server speaks. MCP_PROTOCOL_LATEST is the newest revision of
   the handshake era (2024-11-05 to 2025-11-25), the one initialize answers when the client asks
   for one this server does not speak. */
#define MCP_PROTOCOL_MODERN "2026-07-28"
#define MCP_PROTOCOL_LATEST "2025-11-25"
/* The per-request envelope's keys (params._meta of a 2026-07-28 request). */
#define MCP_META_PROTOCOL "io.modelcontextprotocol/protocolVersion"
#define MCP_META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define MCP_META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
/* Largest message (one JSON-RPC line on stdio, one body over HTTP) read. */
#define MCP_MAX_MESSAGE ((size_t)16 * 1024 * 1024)
/* Largest id kept for cancellation and echoed in replies (its JSON text). */
#define MCP_MAX_ID_BYTES 256

/* JSON-RPC error codes. */
enum {
    MCP_PARSE_ERROR = -32700,
    MCP_INVALID_REQUEST = -32600,
    MCP_METHOD_NOT_FOUND = -32601,
    MCP_INVALID_PARAMS = -32602,
    MCP_INTERNAL_ERROR = -32603,
    MCP_SERVER_BUSY = -32000,        /* HTTP: over the tenant's share (data.retry_after, s) */
    MCP_RESOURCE_NOT_FOUND = -32002, /* handshake era; 2026-07-28 answers MCP_INVALID_PARAMS */
    MCP_HEADER_MISMATCH = -32020,    /* 2026-07-28 over HTTP: headers disagree with the body */
    MCP_UNSUPPORTED_VERSION = -32022, /* 2026-07-28: the request's revision is not spoken */
    MCP_REQUEST_CANCELLED = -32800   /* handshake-era HTTP: the answer to a cancelled request */
};

/* Reads a file for the remember tool (stdio only): its text into @p text, a title when it has
   one into @p title, its document type into *type. 0, or -1 with a message in @p err. */
typedef int (*mcp_load_fn)(void *payload,
                           const char *path,
                           lm_buf *text,
                           lm_buf *title,
                           lm_doc_type *type,
                           char *err,
                           size_t errlen);

/* Who is calling: fixed by the transport for each message. */
typedef struct mcp_caller {
    lm_memory *mem;
    const char *tenant; /* owner_id every tool acts on */
    int can_write;      /* 0: remember and forget are refused (a read-scope key) */
    mcp_load_fn load;   /* NULL: remember does not accept "file" (HTTP) */
    void *load_payload;
    const char *transport; /* "stdio" or "http", for the server's instructions */
    /* Streamable HTTP: the routing headers a 2026-07-28 request must repeat from its body
       (MCP-Protocol-Version, Mcp-Method, Mcp-Name; NULL when absent). 0 on stdio. */
    int http_headers;
    const char *h_protocol;
    const char *h_method;
    const char *h_name;
    /* Called (when not NULL) with a request's id once it is read and before it runs, so that
       the transport can tie a cancellation naming that id to the work (lm_cancel). */
    void (*on_request)(void *payload, const char *id_json);
    void *hook_payload;
} mcp_caller;

/* One session's protocol state (stdio: the process; HTTP: one Mcp-Session-Id). */
typedef struct mcp_session {
    int initialized;  /* initialize was answered */
    int client_ready; /* notifications/initialized arrived */
    char protocol[16];
} mcp_session;

/* What mcp_handle() made of a message. */
typedef struct mcp_outcome {
    lm_buf reply;            /* the JSON-RPC response (empty for notifications and responses) */
    int kind;                /* MCP_MSG_* */
    char id[MCP_MAX_ID_BYTES]; /* the request id's JSON text ("" when none) */
    char cancel_id[MCP_MAX_ID_BYTES]; /* notifications/cancelled: the request id it names */
    int initialize_ok;       /* 1: an initialize request that succeeded */
    int error_code;          /* the JSON-RPC error answered, or 0 */
    int modern;              /* 1: a request of the stateless revision (its own _meta envelope) */
} mcp_outcome;

enum {
    MCP_MSG_INVALID = 0, /* answered with an error and id null */
    MCP_MSG_REQUEST,
    MCP_MSG_NOTIFICATION,
    MCP_MSG_RESPONSE /* a response from the client (we send no requests: ignored) */
};

/* Load the tool, resource and prompt definitions (once, before the first message). 0 or -1. */
int mcp_init(void);
void mcp_session_init(mcp_session *s);
void mcp_outcome_init(mcp_outcome *o);
void mcp_outcome_dispose(mcp_outcome *o);

/* Peek at one message without running it: its kind, id and the id a notifications/cancelled
   names (stdio's reader uses it to cancel queued and running requests). */
void mcp_peek(mcp_outcome *out, const char *msg, size_t len);

/* Handle one JSON-RPC message of @p len bytes for @p who in session @p s. out->reply receives
   the response text (no trailing newline) unless the message was a notification or response.
   Never fails: bad input is answered with a JSON-RPC error, and failing tools with isError. */
void mcp_handle(mcp_outcome *out, mcp_session *s, const mcp_caller *who, const char *msg,
                size_t len);

/* The estimated cost (lm_search_cost()) of running message @p msg: what its search would
   cost for a tools/call of search, 0 for anything else. The HTTP server weighs it like its
   own searches before admitting the message. */
long mcp_message_cost(const char *msg, size_t len);

/* A JSON-RPC error response for a message that could not be read (too large, say). */
void mcp_error_reply(lm_buf *out, const char *id_json, int code, const char *message);

/* The MCP_SERVER_BUSY error: the request was not run; retry after @p retry_after_s seconds. */
void mcp_busy_reply(lm_buf *out, const char *id_json, int retry_after_s);

/* The -32022 error (with the revisions spoken) for a request of revision @p requested. */
void mcp_unsupported_reply(lm_buf *out, const char *id_json, const char *requested);

/* 1 when @p version is a protocol revision this server speaks (either era). */
int mcp_protocol_supported(const char *version);
/* 1 when @p version is a revision of the stateless era (per-request envelope, no handshake). */
int mcp_protocol_modern(const char *version);

#endif

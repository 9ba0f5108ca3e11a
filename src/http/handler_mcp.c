/*
 * http/handler_mcp.c: the Model Context Protocol over Streamable HTTP at /mcp. POST carries one
 * JSON-RPC message and gets one JSON response (no server-sent events: GET answers 405, which
 * the transport allows); DELETE ends a session. The protocol is src/mcp, shared with the stdio
 * transport; here are only the HTTP rules: Origin validation, the MCP-Protocol-Version header,
 * and sessions (Mcp-Session-Id, issued by initialize). The credential is the REST API's (API key
 * or JWT, checked by the router): it fixes the tenant, and a read-scope credential cannot call
 * the tools that write. A session belongs to the tenant that opened it: for any other it does not
 * exist.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mcp/mcp.h"
#include "hash.h"
#include "internal.h"

/* Sessions kept at once (the least recently used goes first) and how long an idle one lives. */
#define MCP_MAX_SESSIONS 1024
#define MCP_SESSION_IDLE_MS (3600.0 * 1000.0)
#define MCP_SESSION_HEADER "Mcp-Session-Id"
#define MCP_VERSION_HEADER "MCP-Protocol-Version"

typedef struct mcp_slot {
    char id[40];   /* "" when free */
    char *tenant;  /* the owner_id that opened it */
    mcp_session state;
    double last_ms;
} mcp_slot;

static pthread_mutex_t sessions_mu = PTHREAD_MUTEX_INITIALIZER;
static mcp_slot sessions[MCP_MAX_SESSIONS];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_defs(void)
{
    init_rc = mcp_init();
}

/* A JSON-RPC error as the whole HTTP reply (for faults before the protocol runs). */
static void reply_rpc_error(srv_request *r, int status, int code, const char *message)
{
    lm_buf b = LM_BUF_INIT;

    mcp_error_reply(&b, NULL, code, message);
    r->error_code = "mcp_error";
    srv_reply_buf(r, status, &b);
}

/* The slot of session @p id for @p tenant, or NULL (expired ones are freed). Lock held. */
static mcp_slot *slot_find(const char *id, const char *tenant, double now)
{
    for (int i = 0; i < MCP_MAX_SESSIONS; i++) {
        mcp_slot *s = &sessions[i];
        if (s->id[0] == '\0')
            continue;
        if (now - s->last_ms > MCP_SESSION_IDLE_MS) {
            free(s->tenant);
            memset(s, 0, sizeof(*s));
            continue;
        }
        if (strcmp(s->id, id) == 0)
            return strcmp(s->tenant, tenant) == 0 ? s : NULL;
    }
    return NULL;
}

/* A new session for @p tenant with @p state; its id into @p out. 0 or -1. */
static int slot_new(char out[40], const char *tenant, const mcp_session *state, double now)
{
    mcp_slot *free_slot = NULL, *oldest = NULL;
    char *t = strdup(tenant);

    if (t == NULL)
        return -1;
    lm__uuid_v4(out);
    pthread_mutex_lock(&sessions_mu);
    for (int i = 0; i < MCP_MAX_SESSIONS && free_slot == NULL; i++) {
        if (sessions[i].id[0] == '\0' || now - sessions[i].last_ms > MCP_SESSION_IDLE_MS)
            free_slot = &sessions[i];
        else if (oldest == NULL || sessions[i].last_ms < oldest->last_ms)
            oldest = &sessions[i];
    }
    if (free_slot == NULL)
        free_slot = oldest;
    free(free_slot->tenant);
    memset(free_slot, 0, sizeof(*free_slot));
    memcpy(free_slot->id, out, strlen(out) + 1);
    free_slot->tenant = t;
    free_slot->state = *state;
    free_slot->last_ms = now;
    pthread_mutex_unlock(&sessions_mu);
    return 0;
}

/* Host (with port) of an origin or Host header value: "https://a.example:8443" -> "a.example:8443". */
static void host_of(char *out, size_t len, const char *v, int skip_scheme)
{
    const char *p = skip_scheme ? strstr(v, "://") : NULL;
    size_t n;

    v = p != NULL ? p + 3 : v;
    n = strcspn(v, "/");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), v);
}

static int is_loopback(const char *host)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    for (size_t i = 0; names[i] != NULL; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(host, names[i], n) == 0 && (host[n] == '\0' || host[n] == ':'))
            return 1;
    }
    return 0;
}

/* DNS rebinding defence: a browser's request must come from this server's own origin or from
   the local machine. Requests without Origin (not from a browser) pass. */
static int origin_allowed(srv_request *r)
{
    const char *origin = srv_header(r, "Origin");
    const char *host = srv_header(r, MHD_HTTP_HEADER_HOST);
    char oh[256], hh[256];

    if (origin == NULL)
        return 1;
    host_of(oh, sizeof(oh), origin, 1);
    if (is_loopback(oh))
        return 1;
    if (host == NULL)
        return 0;
    host_of(hh, sizeof(hh), host, 0);
    return strcasecmp(oh, hh) == 0;
}

/* Steps common to POST and DELETE. -1 after replying. */
static int preflight(srv_request *r)
{
    const char *version = srv_header(r, MCP_VERSION_HEADER);

    if (pthread_once(&init_once, init_defs) != 0 || init_rc < 0) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return -1;
    }
    if (!origin_allowed(r)) {
        reply_rpc_error(r, MHD_HTTP_FORBIDDEN, MCP_INVALID_REQUEST, "origin is not allowed");
        return -1;
    }
    if (srv_origin_bound(r)) {
        reply_rpc_error(r, MHD_HTTP_FORBIDDEN, MCP_INVALID_REQUEST,
                        "credential is bound to one origin: MCP needs a tenant-wide credential");
        return -1;
    }
    if (version != NULL && !mcp_protocol_supported(version)) {
        reply_rpc_error(r, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                        "unsupported MCP-Protocol-Version");
        return -1;
    }
    return 0;
}

void srv_h_mcp_post(srv_request *r)
{
    const char *sid = srv_header(r, MCP_SESSION_HEADER);
    const char *accept = srv_header(r, MHD_HTTP_HEADER_ACCEPT);
    mcp_caller who = {.mem = r->srv->mem,
                      .tenant = r->tenant,
                      .can_write = r->who.scope >= LM_SCOPE_WRITE,
                      .transport = "http"};
    mcp_session state;
    mcp_outcome o;
    char new_id[40];
    double now = srv_now_ms();

    if (preflight(r) < 0)
        return;
    if (accept != NULL && strstr(accept, "application/json") == NULL &&
        strstr(accept, "*/*") == NULL && strstr(accept, "application/*") == NULL) {
        reply_rpc_error(r, MHD_HTTP_NOT_ACCEPTABLE, MCP_INVALID_REQUEST,
                        "the client must accept application/json");
        return;
    }
    mcp_session_init(&state);
    if (sid != NULL) {
        mcp_slot *s;
        pthread_mutex_lock(&sessions_mu);
        s = slot_find(sid, r->tenant, now);
        if (s != NULL) {
            s->last_ms = now;
            state = s->state;
        }
        pthread_mutex_unlock(&sessions_mu);
        if (s == NULL) {
            reply_rpc_error(r, MHD_HTTP_NOT_FOUND, MCP_INVALID_REQUEST,
                            "session not found: initialize a new one");
            return;
        }
    }
    mcp_outcome_init(&o);
    /* Without a session only initialize runs: anything else fails as "not initialized" in the
       protocol, and is answered 400 here. */
    mcp_handle(&o, &state, &who, r->body != NULL ? r->body : "", r->body_len);
    if (o.kind == MCP_MSG_INVALID) {
        r->error_code = "mcp_error";
        srv_reply_buf(r, MHD_HTTP_BAD_REQUEST, &o.reply);
        goto out;
    }
    if (sid == NULL && !o.initialize_ok) {
        if (o.kind == MCP_MSG_REQUEST && o.error_code != 0 && o.error_code != MCP_INVALID_REQUEST) {
            r->error_code = "mcp_error";
            srv_reply_buf(r, MHD_HTTP_BAD_REQUEST, &o.reply); /* initialize with bad params */
        } else {
            reply_rpc_error(r, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                            "header Mcp-Session-Id is required: send initialize first");
        }
        goto out;
    }
    if (o.initialize_ok && sid == NULL) {
        if (slot_new(new_id, r->tenant, &state, now) < 0) {
            srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
            goto out;
        }
        sid = new_id;
    } else {
        mcp_slot *s;
        pthread_mutex_lock(&sessions_mu);
        s = slot_find(sid, r->tenant, now);
        if (s != NULL) {
            s->state.initialized |= state.initialized;
            s->state.client_ready |= state.client_ready;
            if (state.protocol[0] != '\0')
                memcpy(s->state.protocol, state.protocol, sizeof(state.protocol));
        }
        pthread_mutex_unlock(&sessions_mu);
    }
    if (o.kind != MCP_MSG_REQUEST) {
        char *empty = malloc(1);
        srv_reply_text(r, MHD_HTTP_ACCEPTED, "application/json", empty, 0);
    } else {
        if (o.error_code != 0)
            r->error_code = "mcp_error";
        srv_reply_buf(r, MHD_HTTP_OK, &o.reply);
    }
    if (o.initialize_ok)
        srv_reply_header(r, MCP_SESSION_HEADER, sid);
out:
    mcp_outcome_dispose(&o);
}

void srv_h_mcp_delete(srv_request *r)
{
    const char *sid = srv_header(r, MCP_SESSION_HEADER);
    mcp_slot *s = NULL;
    char *empty;

    if (preflight(r) < 0)
        return;
    if (sid == NULL) {
        reply_rpc_error(r, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                        "header Mcp-Session-Id is required");
        return;
    }
    pthread_mutex_lock(&sessions_mu);
    s = slot_find(sid, r->tenant, srv_now_ms());
    if (s != NULL) {
        free(s->tenant);
        memset(s, 0, sizeof(*s));
    }
    pthread_mutex_unlock(&sessions_mu);
    if (s == NULL) {
        reply_rpc_error(r, MHD_HTTP_NOT_FOUND, MCP_INVALID_REQUEST, "session not found");
        return;
    }
    empty = malloc(1);
    srv_reply_text(r, MHD_HTTP_NO_CONTENT, "application/json", empty, 0);
}

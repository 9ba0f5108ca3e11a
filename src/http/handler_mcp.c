/*
 * http/handler_mcp.c: the Model Context Protocol over Streamable HTTP at /mcp. POST carries one
 * JSON-RPC message and gets one JSON response; the server never sends messages of its own, so
 * it opens no event streams (GET answers 405, which every revision allows). The protocol is
 * src/mcp, shared with the stdio transport; here are only the HTTP rules, per revision:
 *
 * - 2026-07-28 (MCP-Protocol-Version names it): stateless. Each POST is one request with its own
 *   envelope, repeated in the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers; no session.
 *   Errors carry the revision's HTTP statuses (400, 404 for an unknown method). Closing the
 *   connection cancels the request: a watcher thread polls the sockets of running requests and
 *   fires their lm_cancel, which stops the database statement.
 * - 2024-11-05 to 2025-11-25: sessions (Mcp-Session-Id, issued by initialize, ended by DELETE).
 *   A POSTed notifications/cancelled stops the named request of the same session (its answer
 *   is then error -32800); a closed connection is not a cancellation there.
 *
 * Both: Origin validation (DNS rebinding), and the credential is the REST API's (API key or
 * JWT, checked by the router): it fixes the tenant, and a read-scope credential cannot call the
 * tools that write. A session belongs to the tenant that opened it: for any other it does not
 * exist.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
#define MCP_METHOD_HEADER "Mcp-Method"
#define MCP_NAME_HEADER "Mcp-Name"
/* Requests running at once that can be cancelled (by a notification, or by a disconnect). */
#define MCP_MAX_INFLIGHT 256

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

/* ==== requests in flight: cancellation ==== */

typedef struct mcp_inflight {
    lm_cancel *cancel; /* NULL: free */
    const char *tenant;
    char sid[40];             /* the session (handshake era), "" when none */
    char id[MCP_MAX_ID_BYTES]; /* the request's id, once read */
    int fd;                   /* socket watched for a disconnect (stateless revision), or -1 */
    unsigned long gen;
} mcp_inflight;

static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cv = PTHREAD_COND_INITIALIZER;
static mcp_inflight inflight[MCP_MAX_INFLIGHT];
static int watched; /* entries with fd >= 0 */
static unsigned long next_gen;
static pthread_once_t watcher_once = PTHREAD_ONCE_INIT;

/* The disconnect watcher: while a request of the stateless revision runs, its connection is
   suspended in libmicrohttpd, so nothing else reads the socket. A peer that closes it (the
   revision's cancellation) shows as POLLRDHUP or POLLHUP; its request's lm_cancel fires. */
static void *watcher(void *arg)
{
    struct pollfd fds[MCP_MAX_INFLIGHT];
    unsigned long gens[MCP_MAX_INFLIGHT];

    (void)arg;
    for (;;) {
        int n = 0;

        pthread_mutex_lock(&inflight_mu);
        while (watched == 0)
            pthread_cond_wait(&inflight_cv, &inflight_mu);
        for (int i = 0; i < MCP_MAX_INFLIGHT; i++) {
            if (inflight[i].cancel == NULL || inflight[i].fd < 0)
                continue;
            fds[n] = (struct pollfd){.fd = inflight[i].fd, .events = POLLRDHUP};
            gens[n++] = inflight[i].gen;
        }
        pthread_mutex_unlock(&inflight_mu);
        if (poll(fds, (nfds_t)n, 20) <= 0)
            continue;
        pthread_mutex_lock(&inflight_mu);
        for (int k = 0; k < n; k++) {
            if (!(fds[k].revents & (POLLRDHUP | POLLHUP | POLLERR)))
                continue;
            for (int i = 0; i < MCP_MAX_INFLIGHT; i++) {
                if (inflight[i].cancel != NULL && inflight[i].gen == gens[k] &&
                    inflight[i].fd == fds[k].fd) {
                    lm_cancel_fire(inflight[i].cancel);
                    inflight[i].fd = -1; /* fired once is enough */
                    watched--;
                }
            }
        }
        pthread_mutex_unlock(&inflight_mu);
    }
    return NULL;
}

static void start_watcher(void)
{
    pthread_t th;
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&th, NULL, watcher, NULL) == 0)
        pthread_detach(th);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Register a request that may be cancelled: by a disconnect of @p fd (>= 0), or by a
   notification naming its id in session @p sid. The slot, or -1 when all are taken (the request
   then runs without being cancellable). */
static int inflight_add(lm_cancel *cancel, const char *tenant, const char *sid, int fd)
{
    int slot = -1;

    if (fd >= 0)
        pthread_once(&watcher_once, start_watcher);
    pthread_mutex_lock(&inflight_mu);
    for (int i = 0; i < MCP_MAX_INFLIGHT && slot < 0; i++) {
        if (inflight[i].cancel != NULL)
            continue;
        slot = i;
        inflight[i] = (mcp_inflight){.cancel = cancel, .tenant = tenant, .fd = fd,
                                     .gen = ++next_gen};
        snprintf(inflight[i].sid, sizeof(inflight[i].sid), "%s", sid != NULL ? sid : "");
        if (fd >= 0 && watched++ == 0)
            pthread_cond_signal(&inflight_cv);
    }
    pthread_mutex_unlock(&inflight_mu);
    return slot;
}

static void inflight_remove(int slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&inflight_mu);
    if (inflight[slot].fd >= 0)
        watched--;
    memset(&inflight[slot], 0, sizeof(inflight[slot]));
    pthread_mutex_unlock(&inflight_mu);
}

typedef struct hook_ctx {
    int slot;
} hook_ctx;

/* mcp_caller.on_request: the request's id, for a notification that names it. */
static void on_request(void *payload, const char *id)
{
    hook_ctx *h = payload;

    if (h->slot < 0)
        return;
    pthread_mutex_lock(&inflight_mu);
    snprintf(inflight[h->slot].id, sizeof(inflight[h->slot].id), "%s", id);
    pthread_mutex_unlock(&inflight_mu);
}

/* notifications/cancelled in session @p sid of @p tenant: stop the request it names. */
static void cancel_named(const char *tenant, const char *sid, const char *id)
{
    pthread_mutex_lock(&inflight_mu);
    for (int i = 0; i < MCP_MAX_INFLIGHT; i++) {
        mcp_inflight *f = &inflight[i];
        if (f->cancel != NULL && f->sid[0] != '\0' && strcmp(f->sid, sid) == 0 &&
            strcmp(f->tenant, tenant) == 0 && strcmp(f->id, id) == 0)
            lm_cancel_fire(f->cancel);
    }
    pthread_mutex_unlock(&inflight_mu);
}

/* The HTTP status of a JSON-RPC error in the stateless revision. */
static int modern_status(int code)
{
    switch (code) {
    case 0:
        return MHD_HTTP_OK;
    case MCP_METHOD_NOT_FOUND:
        return MHD_HTTP_NOT_FOUND;
    case MCP_PARSE_ERROR:
    case MCP_INVALID_REQUEST:
    case MCP_INVALID_PARAMS:
    case MCP_HEADER_MISMATCH:
    case -32021: /* a client capability the request needs is missing */
    case MCP_UNSUPPORTED_VERSION:
        return MHD_HTTP_BAD_REQUEST;
    default:
        return MHD_HTTP_OK;
    }
}

/* A response to a request as the reply: JSON, or, for a client that accepts only event streams
   (@p sse), a stream of one "message" event that ends with it. Errors with an HTTP error status
   stay JSON, as the transport asks. */
static void reply_message(srv_request *r, int status, lm_buf *b, int sse)
{
    lm_buf e = LM_BUF_INIT;
    size_t n;

    if (!sse || status != MHD_HTTP_OK) {
        srv_reply_buf(r, status, b);
        return;
    }
    lm__buf_puts(&e, "event: message\ndata: ");
    lm__buf_put(&e, b->ptr != NULL ? b->ptr : "", b->size);
    lm__buf_puts(&e, "\n\n");
    lm_buf_dispose(b);
    if (lm__buf_oom(&e)) {
        lm_buf_dispose(&e);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    n = e.size;
    srv_reply_text(r, status, "text/event-stream", lm__buf_detach(&e), n);
    srv_reply_header(r, "Cache-Control", "no-cache");
}

/* A JSON-RPC error as the whole HTTP reply (for faults before the protocol runs). */
static void reply_rpc_error(srv_request *r, int status, int code, const char *message)
{
    lm_buf b = LM_BUF_INIT;

    mcp_error_reply(&b, NULL, code, message);
    r->error_code = "mcp_error";
    srv_reply_buf(r, status, &b);
}

long srv_mcp_cost(srv_request *r)
{
    return r->body != NULL ? mcp_message_cost(r->body, r->body_len) : 0;
}

void srv_mcp_busy(srv_request *r)
{
    lm_buf b = LM_BUF_INIT;
    mcp_outcome o;

    mcp_outcome_init(&o);
    if (r->body != NULL)
        mcp_peek(&o, r->body, r->body_len);
    mcp_busy_reply(&b, o.id[0] != '\0' ? o.id : NULL, 1);
    mcp_outcome_dispose(&o);
    r->error_code = "tenant_busy";
    srv_reply_buf(r, MHD_HTTP_TOO_MANY_REQUESTS, &b);
    srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
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
        /* The revision's own error: its data names the revisions spoken. */
        lm_buf b = LM_BUF_INIT;
        mcp_unsupported_reply(&b, NULL, version);
        r->error_code = "mcp_error";
        srv_reply_buf(r, MHD_HTTP_BAD_REQUEST, &b);
        return -1;
    }
    return 0;
}

/* The stateless revision's POST: one request, no session. */
static void post_modern(srv_request *r, mcp_caller *who, lm_cancel *cancel, int sse)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    hook_ctx h = {.slot = inflight_add(cancel, r->tenant, NULL, ci != NULL ? ci->connect_fd : -1)};
    mcp_session state;
    mcp_outcome o;

    who->on_request = on_request;
    who->hook_payload = &h;
    mcp_session_init(&state);
    mcp_outcome_init(&o);
    lm_cancel_bind(cancel);
    mcp_handle(&o, &state, who, r->body != NULL ? r->body : "", r->body_len);
    lm_cancel_bind(NULL);
    inflight_remove(h.slot);
    if (o.kind == MCP_MSG_NOTIFICATION) {
        /* No client notification means anything at this revision (cancelling is closing the
           connection): accepted and dropped. */
        srv_reply_text(r, MHD_HTTP_ACCEPTED, "application/json", malloc(1), 0);
    } else if (o.kind == MCP_MSG_RESPONSE) {
        reply_rpc_error(r, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                        "the body must be one JSON-RPC request or notification");
    } else {
        if (o.error_code != 0)
            r->error_code = "mcp_error";
        reply_message(r, o.kind == MCP_MSG_INVALID ? MHD_HTTP_BAD_REQUEST
                                                   : modern_status(o.error_code),
                      &o.reply, sse);
    }
    mcp_outcome_dispose(&o);
}

void srv_h_mcp_post(srv_request *r)
{
    const char *sid = srv_header(r, MCP_SESSION_HEADER);
    const char *accept = srv_header(r, MHD_HTTP_HEADER_ACCEPT);
    mcp_caller who = {.mem = r->srv->mem,
                      .tenant = r->tenant,
                      .can_write = r->who.scope >= LM_SCOPE_WRITE,
                      .transport = "http",
                      .http_headers = 1,
                      .h_protocol = srv_header(r, MCP_VERSION_HEADER),
                      .h_method = srv_header(r, MCP_METHOD_HEADER),
                      .h_name = srv_header(r, MCP_NAME_HEADER)};
    mcp_session state;
    mcp_outcome o;
    hook_ctx h = {.slot = -1};
    lm_cancel *cancel = NULL;
    char new_id[40];
    double now = srv_now_ms();
    int json_ok = accept == NULL || strstr(accept, "application/json") != NULL ||
                  strstr(accept, "*/*") != NULL || strstr(accept, "application/*") != NULL;
    int sse = !json_ok && accept != NULL && strstr(accept, "text/event-stream") != NULL;

    if (preflight(r) < 0)
        return;
    if (!json_ok && !sse) {
        reply_rpc_error(r, MHD_HTTP_NOT_ACCEPTABLE, MCP_INVALID_REQUEST,
                        "the client must accept application/json or text/event-stream");
        return;
    }
    if (lm_cancel_new(&cancel) < 0) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    if (mcp_protocol_modern(who.h_protocol)) {
        post_modern(r, &who, cancel, sse);
        lm_cancel_free(cancel);
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
            lm_cancel_free(cancel);
            return;
        }
        if (who.h_protocol != NULL && state.protocol[0] != '\0' &&
            strcmp(who.h_protocol, state.protocol) != 0) {
            reply_rpc_error(r, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                            "header MCP-Protocol-Version does not match the session's revision");
            lm_cancel_free(cancel);
            return;
        }
        h.slot = inflight_add(cancel, r->tenant, sid, -1);
        who.on_request = on_request;
        who.hook_payload = &h;
    }
    mcp_outcome_init(&o);
    /* Without a session only initialize runs (or a request of the stateless revision, which
       brings its own envelope): anything else fails as "not initialized" in the protocol, and is
       answered 400 here. */
    lm_cancel_bind(cancel);
    mcp_handle(&o, &state, &who, r->body != NULL ? r->body : "", r->body_len);
    lm_cancel_bind(NULL);
    inflight_remove(h.slot);
    if (o.kind == MCP_MSG_INVALID) {
        r->error_code = "mcp_error";
        srv_reply_buf(r, MHD_HTTP_BAD_REQUEST, &o.reply);
        goto out;
    }
    if (o.modern) {
        /* An envelope without the revision's header: the header check answered it. */
        r->error_code = o.error_code != 0 ? "mcp_error" : NULL;
        reply_message(r, modern_status(o.error_code), &o.reply, sse);
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
    if (o.kind == MCP_MSG_NOTIFICATION && o.cancel_id[0] != '\0')
        cancel_named(r->tenant, sid, o.cancel_id);
    if (o.kind != MCP_MSG_REQUEST) {
        char *empty = malloc(1);
        srv_reply_text(r, MHD_HTTP_ACCEPTED, "application/json", empty, 0);
    } else if (lm_cancel_fired(cancel)) {
        /* Cancelled by the client's notification: this era ends a request's exchange only with
           an answer for its id, so the answer says so. */
        lm_buf b = LM_BUF_INIT;
        mcp_error_reply(&b, o.id, MCP_REQUEST_CANCELLED, "request cancelled");
        r->error_code = "mcp_error";
        reply_message(r, MHD_HTTP_OK, &b, sse);
    } else {
        if (o.error_code != 0)
            r->error_code = "mcp_error";
        reply_message(r, MHD_HTTP_OK, &o.reply, sse);
    }
    if (o.initialize_ok)
        srv_reply_header(r, MCP_SESSION_HEADER, sid);
out:
    mcp_outcome_dispose(&o);
    lm_cancel_free(cancel);
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

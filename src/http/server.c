/*
 * http/server.c: the connection layer on top of libmicrohttpd. Each request gets an srv_request
 * with its own arena on its first callback; the body is gathered (up to the configured cap, with
 * 413 beyond it) before the router runs; the reply is queued; and when MHD reports the request
 * complete, its metrics and its one access-log line are recorded and everything it allocated is
 * released. Handlers that use the database run on the worker pool (workers.c) while the
 * connection is suspended. While the server drains (shutdown), new requests get 503 and the
 * connection closes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"

/* Initial body buffer when the client sent no Content-Length (chunked uploads). */
#define BODY_START ((size_t)16384)
/* After a body passed the cap, this much more is read and dropped before the connection is cut
   (so ordinary clients still get their 413, and endless uploads do not run forever). */
#define DISCARD_MAX ((size_t)16 * 1024 * 1024)
/* Arena room besides the body (which is kept outside the arena): strings, small replies. */
#define ARENA_EXTRA ((size_t)8 * 1024 * 1024)
/* A request whose body buffer was at least this large asks the main thread for malloc_trim(). */
#define TRIM_AFTER ((size_t)1024 * 1024)

/* A client's X-Request-Id is kept when it is 1-64 bytes of [A-Za-z0-9._:-]. */
static int id_acceptable(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

static void assign_id(srv_request *r)
{
    const char *given = srv_header(r, "X-Request-Id");
    unsigned long n;

    if (id_acceptable(given)) {
        snprintf(r->id, sizeof(r->id), "%s", given);
        return;
    }
    n = atomic_fetch_add(&r->srv->next_id, 1);
    snprintf(r->id, sizeof(r->id), "%s-%06lx", r->srv->id_prefix, n);
}

static enum MHD_Result queue(srv_request *r)
{
    enum MHD_Result ret;

    if (r->resp == NULL) {
        /* Could not even build a reply: let MHD close the connection. */
        r->queued = 1;
        if (r->status == 0)
            r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return MHD_NO;
    }
    if (srv_conn_reply_closes(r->sc, r->close_after))
        MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(r->conn, (unsigned int)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    r->queued = 1;
    return ret;
}

/* Reply before the body is read (413 by Content-Length, 503 while draining): MHD closes the
   connection afterwards, since the rest of the request is never read. */
static enum MHD_Result reply_early(srv_request *r)
{
    r->close_after = 1;
    return queue(r);
}

static void reply_too_large(srv_request *r)
{
    char detail[160];
    snprintf(detail, sizeof(detail), "The largest request body this server accepts is %zu bytes.",
             r->srv->cfg.max_body);
    srv_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", "request body is too large",
                    detail, NULL, NULL);
}

/* The body lives outside the arena, in one buffer that grows by doubling up to the cap: a
   chunked upload never holds more than --max-body (plus the copy realloc may make). Nothing is
   allocated before the request is authenticated (the first upload call comes after that). */
static int append_body(srv_request *r, const char *data, size_t n)
{
    size_t cap = r->srv->cfg.max_body;

    if (r->body_too_large || n > cap - r->body_len) {
        r->body_too_large = 1;
        r->body_discarded += n;
        return r->body_discarded > DISCARD_MAX ? -1 : 0;
    }
    if (r->body_len + n > r->body_cap) {
        size_t ncap = r->body_cap ? r->body_cap : r->body_expect ? r->body_expect : BODY_START;
        char *nb;
        while (ncap < r->body_len + n)
            ncap = ncap > cap / 2 ? cap : ncap * 2;
        nb = realloc(r->body, ncap + 1);
        if (nb == NULL)
            return -1;
        r->body = nb;
        r->body_cap = ncap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* The public endpoints (/healthz, /readyz, /metrics) need no credential, so they are limited
   per client address (--public-rate-limit; the operator token is exempt). A client over its
   rate gets 429, and gets it late: its connection is suspended until a token would be there
   (at least a quarter second, at most two), so a flood of probes costs MHD's thread about one
   request per connection and interval instead of all it can send. 1: limited (the delayed
   reply is prepared). */
static int public_limited(srv_request *r)
{
    const union MHD_ConnectionInfo *ci;
    char addr[64], secs[16];
    double wait;

    if (r->route->scope != 0 || r->srv->public_rl == NULL || srv_operator(r))
        return 0;
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    addr[0] = '\0';
    if (ci != NULL && ci->client_addr != NULL)
        srv_addr_text(addr, sizeof(addr), ci->client_addr);
    wait = srv_ratelimit_take(r->srv->public_rl, addr);
    if (wait <= 0)
        return 0;
    srv_metrics_rate_limited();
    srv_reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                    "too many requests from this address",
                    "The public endpoints are limited per client address; retry after the time in "
                    "Retry-After.",
                    NULL, NULL);
    snprintf(secs, sizeof(secs), "%d", (int)(wait + 0.999) > 0 ? (int)(wait + 0.999) : 1);
    srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    wait *= 1000.0;
    srv_conn_delay(r, wait < 250 ? 250 : wait > 2000 ? 2000 : wait);
    return 1;
}

enum MHD_Result srv_access_cb(void *cls,
                              struct MHD_Connection *conn,
                              const char *url,
                              const char *method,
                              const char *version,
                              const char *upload_data,
                              size_t *upload_data_size,
                              void **con_cls)
{
    srv_server *s = cls;
    srv_request *r = *con_cls;

    (void)version;
    if (r == NULL) {
        const char *cl;
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return MHD_NO;
        r->srv = s;
        r->conn = conn;
        r->t0 = srv_now_ms();
        r->search_type = -1;
        r->method = method; /* MHD keeps both valid until the request completes */
        r->url = url;
        srv_arena_init(&r->arena, s->cfg.max_body + ARENA_EXTRA);
        assign_id(r);
        srv_route_match(r);
        atomic_fetch_add(&s->in_flight, 1);
        *con_cls = r;
        /* The head is complete: the body (if any) has its own deadline. */
        r->sc = srv_conn_of(conn);
        srv_conn_deadline(r->sc, s->cfg.body_timeout_s * 1000.0);
        if (atomic_load(&s->draining)) {
            srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                            "server is shutting down", "Retry on a new connection.", NULL, NULL);
            srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
            return reply_early(r);
        }
        cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char *end = NULL;
            unsigned long long v;
            errno = 0;
            v = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && *end == '\0') {
                if (v > s->cfg.max_body) {
                    reply_too_large(r);
                    return reply_early(r);
                }
                /* Known size: one allocation (on the first upload call), no copies. */
                r->body_expect = (size_t)v;
            }
        }
        /* Authenticate before any of the body is read: a client without a valid credential
           gets its 401 at once and costs no body buffer. API keys are checked against the
           database, so a worker does it; the rest (missing or malformed credentials, JWTs)
           needs no database. */
        if (r->route != NULL && r->route->body && r->route->scope != 0) {
            if (srv_credential_is_key(r)) {
                r->auth_early = 1;
                if (srv_workers_submit(s->workers, r) == 0)
                    return MHD_YES;
                r->auth_early = 0;
            } else if (srv_authenticate(r) < 0) {
                return reply_early(r);
            }
        }
        return MHD_YES;
    }
    if (r->auth_early == 1 && r->submitted) {
        /* Back from the worker that checked the API key; the body is still unread. */
        r->auth_early = 2;
        r->submitted = 0;
        r->handled = 0;
        if (!r->authenticated)
            return reply_early(r);
        /* MHD calls again, still before the body, when it resumes the connection. */
        if (*upload_data_size == 0)
            return MHD_YES;
    }
    if (r->queued) {
        /* Replied early: drop whatever body still arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (r->route == NULL || !r->route->body) {
            /* Nothing reads it: drop it (up to the same bound) rather than buffer it. */
            r->body_discarded += *upload_data_size;
            *upload_data_size = 0;
            if (r->body_discarded > s->cfg.max_body + DISCARD_MAX)
                return MHD_NO;
            return MHD_YES;
        }
        if (append_body(r, upload_data, *upload_data_size) < 0) {
            srv_log(SRV_LOG_WARN, r->id, "request body dropped", "reason",
                    r->body_too_large ? "too large" : "out of memory", (const char *)NULL);
            r->status =
                r->body_too_large ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_INTERNAL_SERVER_ERROR;
            r->queued = 1;
            return MHD_NO; /* closes the connection */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->submitted) {
        /* Resumed by the worker, which prepared the reply. */
        return r->handled ? queue(r) : MHD_NO;
    }
    /* The whole request is in: no deadline while it is handled. */
    srv_conn_deadline(r->sc, 0);
    if (r->body_too_large) {
        reply_too_large(r);
        return queue(r);
    }
    if (r->route == NULL || r->route->inline_run) {
        /* 404/405 and the database-free endpoints need no worker. */
        if (r->route != NULL && public_limited(r)) {
            r->submitted = 1;
            r->handled = 1;
            return MHD_YES;
        }
        srv_dispatch(r);
        return queue(r);
    }
    /* The handler will block on the database: suspend the connection and let a worker run it,
       so MHD's thread keeps serving the other connections. */
    if (srv_workers_submit(s->workers, r) < 0) {
        /* Shutting down and past the drain time. */
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "server is shutting down",
                        "Retry on a new connection.", NULL, NULL);
        srv_reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        return queue(r);
    }
    return MHD_YES;
}

static void access_line(srv_request *r, enum MHD_RequestTerminationCode toe, double ms)
{
    lm_buf line = LM_BUF_INIT;
    char num[64];

    srv_kv(&line, "level", "info");
    srv_kv(&line, "req", r->id);
    srv_kv(&line, "msg", "access");
    srv_kv(&line, "method", r->method);
    if (r->route != NULL) {
        srv_kv(&line, "route", r->route->pattern);
    } else {
        char path[104];
        snprintf(path, sizeof(path), "%.100s", r->url != NULL ? r->url : "");
        srv_kv(&line, "route", "unmatched");
        srv_kv(&line, "path", path);
    }
    snprintf(num, sizeof(num), "%d", r->status);
    srv_kv(&line, "status", num);
    snprintf(num, sizeof(num), "%.3f", ms);
    srv_kv(&line, "ms", num);
    if (r->authenticated) {
        srv_kv(&line, "tenant", r->tenant);
        srv_kv(&line, "auth", r->auth_kind);
        if (strcmp(r->auth_kind, "key") == 0)
            srv_kv(&line, "key", r->who.key_id);
    }
    snprintf(num, sizeof(num), "%zu", r->body_len + r->body_discarded);
    srv_kv(&line, "in", num);
    snprintf(num, sizeof(num), "%zu", r->bytes_out);
    srv_kv(&line, "out", num);
    if (r->search_type >= 0) {
        srv_kv(&line, "search", lm_search_type_name((lm_search_type)r->search_type));
        snprintf(num, sizeof(num), "%.3f", r->search_ms);
        srv_kv(&line, "search_ms", num);
    }
    if (r->status >= 400 && r->error_code != NULL)
        srv_kv(&line, "error", r->error_code);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        static const char *const why[] = {"ok",       "error",      "timeout",
                                          "shutdown", "read_error", "client_abort"};
        srv_kv(&line, "end", (unsigned)toe < 6 ? why[toe] : "other");
    }
    srv_access_write(&line);
    lm_buf_dispose(&line);
}

void srv_early_record(int status, const char *error_code, const char *reason, const char *method,
                      const struct sockaddr *sa, size_t bytes_in, size_t bytes_out)
{
    lm_buf line = LM_BUF_INIT;
    char num[64];

    srv_metrics_early(status, reason, error_code);
    srv_kv(&line, "level", "info");
    srv_kv(&line, "msg", "access");
    if (method != NULL && method[0] != '\0')
        srv_kv(&line, "method", method);
    srv_kv(&line, "route", "early");
    snprintf(num, sizeof(num), "%d", status);
    srv_kv(&line, "status", num);
    srv_kv(&line, "reason", reason);
    if (sa != NULL) {
        srv_addr_text(num, sizeof(num), sa);
        srv_kv(&line, "client", num);
    }
    snprintf(num, sizeof(num), "%zu", bytes_in);
    srv_kv(&line, "in", num);
    snprintf(num, sizeof(num), "%zu", bytes_out);
    srv_kv(&line, "out", num);
    if (error_code != NULL)
        srv_kv(&line, "error", error_code);
    srv_access_write(&line);
    lm_buf_dispose(&line);
}

void srv_completed_cb(void *cls,
                      struct MHD_Connection *conn,
                      void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    srv_server *s = cls;
    srv_request *r = *con_cls;
    double ms;

    (void)conn;
    if (r == NULL)
        return;
    ms = srv_now_ms() - r->t0;
    srv_metrics_request(r->route != NULL ? r->route->id : SRV_MAX_ROUTES, r->status, ms / 1000.0,
                        r->error_code);
    access_line(r, toe, ms);
    if (r->resp != NULL)
        MHD_destroy_response(r->resp);
    /* A kept-alive connection must bring its next request head within the idle timeout. */
    srv_conn_idle(r->sc, s->cfg.timeout_s * 1000.0);
    if (r->body_cap >= TRIM_AFTER)
        atomic_store(&s->trim_wanted, 1);
    free(r->body);
    srv_arena_dispose(&r->arena);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

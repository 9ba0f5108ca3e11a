/*
 * http/internal.h: what the parts of the server share: the per-request arena, the server and
 * request state, the route table, replies (JSON bodies, the one lm code -> HTTP status table),
 * authentication, JWT, metrics, rate limiting and logging. The server sees only the public API
 * (include/llmemory.h) and src/lib/core helpers, like the CLI.
 */
#ifndef LM_HTTP_INTERNAL_H
#define LM_HTTP_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "http.h"
#include "llmemory.h"

#define SRV_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* CLI exit statuses (cli/cmd.h), repeated here so the server does not depend on the CLI. */
enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 4 };

/* ==== per-request arena (arena.c) ============================================================ */

/* Bump allocator freed as a whole at the end of the request (h2o's pool). Cleanups registered
   with srv_arena_defer() run (last first) when it is disposed, so heap objects made for the
   request (jansson values, library results) live exactly as long as it. Capped: an allocation
   beyond the cap fails like out of memory. */
typedef struct srv_arena_block srv_arena_block;
typedef struct srv_arena_cleanup srv_arena_cleanup;
typedef struct srv_arena {
    srv_arena_block *blocks;
    srv_arena_cleanup *cleanups;
    size_t total; /* bytes allocated from the system */
    size_t cap;
} srv_arena;

void srv_arena_init(srv_arena *a, size_t cap);
/* @p n bytes aligned for any type, or NULL (cap reached or out of memory). */
void *srv_arena_alloc(srv_arena *a, size_t n);
/* NUL-terminated copy of @p len bytes of @p s. */
char *srv_arena_strndup(srv_arena *a, const char *s, size_t len);
char *srv_arena_printf(srv_arena *a, const char *fmt, ...) SRV_PRINTF(2, 3);
/* Run fn(p) when the arena is disposed. On failure fn(p) runs at once and -1 is returned. */
int srv_arena_defer(srv_arena *a, void (*fn)(void *), void *p);
/* Tie a jansson value to the arena; returns it, or NULL (and releases it) on failure. */
json_t *srv_arena_json(srv_arena *a, json_t *v);
void srv_arena_dispose(srv_arena *a);

/* A piece of a larger buffer (not NUL-terminated). */
typedef struct srv_slice {
    const char *ptr;
    size_t len;
} srv_slice;

/* ==== logging (log.c) ======================================================================== */

enum { SRV_LOG_ERROR = 0, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

/* @p level: the most verbose level written. @p access: the access log stream, or NULL for none. */
void srv_log_init(int level, FILE *access);
int srv_log_enabled(int level);
/* One key=value line on standard error: "ts=... level=... [req=...] msg=... k=v...". The
   variable arguments are (key, value) string pairs ending with NULL; NULL values are skipped. */
void srv_log(int level, const char *req_id, const char *msg, ...) __attribute__((sentinel));
/* Library log sink (lm_log_cb). */
void srv_log_lib(int level, const char *msg, void *payload);
/* Append " key=value" to @p b, quoting the value when it needs it. */
void srv_kv(lm_buf *b, const char *key, const char *value);
/* Write one access line (already formatted, without the timestamp) to the access stream. */
void srv_access_write(const lm_buf *line);
/* "2024-05-01T10:00:00.123Z" into @p out (at least 32 bytes). */
void srv_now_iso(char *out, size_t len);
double srv_now_ms(void);

/* ==== JWT (jwt.c) ============================================================================ */

typedef struct srv_jwt srv_jwt;
/* Load the JWT settings of @p cfg (secret, public key file). *out is NULL when JWT is off.
   Returns 0, or -1 with a message in @p err. */
int srv_jwt_new(srv_jwt **out, const srv_config *cfg, char *err, size_t errlen);
void srv_jwt_free(srv_jwt *j);
/* Verify a compact JWS of @p len bytes: alg (HS256/RS256 as configured, never "none"),
   signature, exp/nbf with leeway, iss/aud when configured, the tenant claim. Fills @p out (key_id
   is "jwt"). Returns 0, or -1 with the reason (no secrets) in @p why. */
int srv_jwt_verify(
    const srv_jwt *j, const char *token, size_t len, lm_principal *out, char *why, size_t whylen);

/* ==== rate limiting (ratelimit.c) ============================================================ */

typedef struct srv_ratelimit srv_ratelimit;
/* Token bucket per tenant: @p rate tokens a second, at most @p burst. */
int srv_ratelimit_new(srv_ratelimit **out, double rate, double burst);
void srv_ratelimit_free(srv_ratelimit *rl);
/* Take a token for @p tenant: 0 when allowed, else the seconds until one is available. */
double srv_ratelimit_take(srv_ratelimit *rl, const char *tenant);

/* ==== the worker pool (workers.c) ============================================================ */

struct srv_request;
typedef struct srv_workers srv_workers;
/* Start @p n workers (they inherit the caller's signal mask). 0 or -1. A tenant (the
   credential's owner) runs at most @p per_tenant requests at once; more of its requests wait,
   holding no worker, up to @p tenant_queue of them, and beyond that get 429. A request whose
   route estimates a cost (srv_route.cost) weighs ceil(cost / @p slot_cost) of those slots, at
   least 1 and at most @p per_tenant: a tenant runs one maximal search at a time. The same
   weights of all tenants' searches together stay within @p search_slots (the search budget),
   which goes to the tenant holding least of it first when it is full. */
int srv_workers_start(srv_workers **out, int n, int n_low, lm_memory *mem, int per_tenant,
                      int tenant_queue, long slot_cost, int search_slots);
/* Suspend the request's connection and queue it (call from the access handler); a worker runs
   srv_dispatch() on it and resumes the connection. -1 (nothing done) once srv_workers_abort()
   was called. */
int srv_workers_submit(srv_workers *w, struct srv_request *r);
/* Slots of the search budget taken now (a one-slot search of a tenant holding none may take it
   past *max, the budget). */
int srv_workers_search_budget(srv_workers *w, int *max);
/* Requests waiting for a worker. */
int srv_workers_queued(srv_workers *w);
/* Refuse new submissions; queued requests are answered 503 without running. */
void srv_workers_abort(srv_workers *w);
/* Wait until no request is queued or running. */
void srv_workers_wait_idle(srv_workers *w);
/* Join the workers and free the pool. NULL-safe. */
void srv_workers_stop(srv_workers *w);

/* ==== background embedding (embedworker.c) =================================================== */

typedef struct srv_embedder srv_embedder;
/* Start the worker that drains @p mem's embedding queue: a process of its own started from
   @p cfg's embed_worker_path and embed_worker_argv when they are set (a thread of the server
   when they are not, or when the process cannot be started). 0 or -1. */
int srv_embedder_start(srv_embedder **out, lm_memory *mem, const srv_config *cfg);
/* New chunks were queued: look at the queue now. NULL-safe. */
void srv_embedder_kick(srv_embedder *w);
/* Called from the server's main loop: a worker process that exited is logged and started again
   (at most every SRV_EMBED_RESTART_MS). NULL-safe. */
void srv_embedder_tend(srv_embedder *w);
/* "process" or "thread" (for the start-up log line). */
const char *srv_embedder_mode(const srv_embedder *w);
/* Stop the worker: the thread is joined, the process is told (its pipe closes) and waited for
   up to @p wait_s seconds, then killed. A batch in progress finishes first. NULL-safe. */
void srv_embedder_stop(srv_embedder *w, double wait_s);
/* Memory options for @p cfg's database (memory.c): what srv_run and the worker process open. */
void srv_memory_opts(lm_memory_opts *mo, const srv_config *cfg);

/* ==== the server ============================================================================= */

typedef struct srv_server {
    srv_config cfg; /* with defaults filled in */
    lm_memory *mem;
    struct MHD_Daemon *daemon;
    srv_jwt *jwt;
    srv_ratelimit *rl;
    srv_ratelimit *public_rl; /* per client address, for the public endpoints */
    srv_workers *workers;
    srv_embedder *embedder; /* background embedding worker, or NULL */
    atomic_int in_flight; /* requests between their first callback and completion */
    atomic_int open_connections;
    atomic_int admitted;    /* accepted and not closed yet (accept.c) */
    int listen_fd;          /* the listening socket; MHD does not listen (accept.c) */
    pthread_t acceptor;
    int acceptor_running;
    atomic_int accept_stop;
    atomic_int trim_wanted; /* a large body was freed: return memory to the system */
    atomic_int draining;  /* shutting down: refuse new requests */
    atomic_ulong next_id;
    char id_prefix[9];
    double started_at; /* Unix time, seconds */
    struct srv_health *health; /* database checks, refreshed in the background (handler_health.c) */
} srv_server;

struct srv_route;

typedef struct srv_request {
    struct srv_request *next; /* in the worker queue */
    srv_server *srv;
    struct MHD_Connection *conn;
    srv_arena arena;
    char id[72];
    const char *method;
    const char *url; /* path only (MHD strips the query string) */
    const struct srv_route *route;
    double t0; /* srv_now_ms() at the first callback */

    struct srv_conn *sc; /* the connection's deadlines (conns.c), or NULL */
    struct srv_request *delayed_next; /* in the list of delayed replies (conns.c) */
    double delayed_until;
    int close_after;     /* reply with "Connection: close" (body unread, or shutting down) */
    int auth_early;      /* authenticated by a worker before the body was read (1: pending) */
    struct srv_tenant *gate; /* the tenant slot the request holds (workers.c), or NULL */
    int weight;              /* slots of its tenant's share it holds or waits for (workers.c) */
    int budget;              /* slots of the server's search budget it holds or waits for */
    int low;                 /* costly: runs on a background worker (workers.c) */

    /* body (malloc'd, freed when the request completes) */
    char *body;
    size_t body_len, body_cap;
    size_t body_expect; /* Content-Length, when given */
    int body_too_large;
    size_t body_discarded; /* bytes dropped after the body grew past the cap */
    json_t *json;          /* parsed body (arena-owned), when the route takes one */

    /* credentials */
    int authenticated;
    const char *auth_kind; /* "key" or "jwt" */
    lm_principal who;
    const char *tenant; /* owner_id the request acts on: the credential's, or a sub-tenant */

    /* response */
    struct MHD_Response *resp; /* pending reply, until queued */
    int submitted;             /* handed to a worker (connection suspended) */
    int handled;               /* the worker is done: the reply is ready */
    int queued;                /* the reply went to MHD */
    int status;
    const char *error_code; /* symbolic code of an error reply */
    size_t bytes_out;
    int search_type; /* lm_search_type of a search, -1 otherwise */
    double search_ms;
} srv_request;

/* ==== routes (router.c) ====================================================================== */

typedef void (*srv_handler)(srv_request *r);

typedef struct srv_route {
    int id;
    const char *method;
    const char *pattern; /* "/v1/documents/{id}": a {name} is one non-empty segment */
    srv_handler fn;
    int scope;                 /* 0: public; else the lm_key_scope required */
    int inline_run;            /* 1: cheap and database-free: run on MHD's thread */
    int body;                  /* SRV_BODY_JSON: a JSON object body is required (parsed into
                                  r->json); SRV_BODY_RAW: the body is read and left to the
                                  handler (r->body); 0: the body is discarded unread */
    const char *const *params; /* query parameters accepted (NULL-terminated), or NULL */
    /* The request's estimated cost in lm_search_cost() units, read before it is admitted: a
       costly request weighs more of its tenant's share (workers.c). NULL: one share slot. */
    long (*cost)(srv_request *r);
} srv_route;

#define SRV_BODY_JSON 1
#define SRV_BODY_RAW 2
#define SRV_MAX_ROUTES 24
/* Route table size, and the route of @p id (NULL when out of range). */
int srv_route_count(void);
const srv_route *srv_route_at(int id);
/* Set r->route from the method and path (NULL when none matches). */
void srv_route_match(srv_request *r);
/* Find the route, authenticate, authorise, check limits and parse the body, then run the
   handler. Always leaves a reply in @p r. */
void srv_dispatch(srv_request *r);
/* srv_dispatch() in two steps: up to authentication, scope and rate limit (0, or -1 with the
   reply in @p r), and the rest. The worker pool admits the tenant in between. */
int srv_dispatch_begin(srv_request *r);
void srv_dispatch_finish(srv_request *r);

/* ==== request helpers (request.c) ============================================================ */

/* Query parameter @p name (decoded), or NULL. */
const char *srv_query(srv_request *r, const char *name);
/* Every value of a repeated query parameter; *out is arena-owned. 0, or -1 (out of memory). */
int srv_query_all(srv_request *r, const char *name, const char ***out, size_t *n);
/* The {…} segment of the route's pattern (the last segment of the path). */
const char *srv_path_param(srv_request *r);
/* Request header, or NULL. */
const char *srv_header(srv_request *r, const char *name);
/* Integer / boolean / number query parameters: 0 (absent: *present = 0), or -1 after replying
   422. A range of SRV_ANY_INT only checks that the value is an int: the library checks the
   range (its maximum is configurable: one place, one message). */
#define SRV_ANY_INT INT_MIN, INT_MAX
int srv_query_long(srv_request *r, const char *name, long min, long max, long *out, int *present);
int srv_query_bool(srv_request *r, const char *name, int *out, int *present);
int srv_query_double(
    srv_request *r, const char *name, double min, double max, double *out, int *present);

/* JSON body fields: each returns 0 (absent: default left alone), or -1 after replying 422 for a
   wrong type or range. Strings are borrowed from the arena-owned body. */
int srv_body_str(srv_request *r, const char *name, const char **out);
int srv_body_long(srv_request *r, const char *name, long min, long max, long *out);
int srv_body_double(srv_request *r, const char *name, double min, double max, double *out);
int srv_body_bool(srv_request *r, const char *name, int *out);
/* An object field as compact JSON text (arena-owned). */
int srv_body_object_text(srv_request *r, const char *name, const char **out);
/* Reply 422 when the body has a member not in @p allowed (NULL-terminated). 0 or -1. */
int srv_body_only(srv_request *r, const char *const *allowed);
/* Reply 422 when both alias members are present; pick whichever is. 0 or -1. */
int srv_body_alias(srv_request *r, const char *a, const char *b, const char **name_out);

/* ==== replies (json.c) ======================================================================= */

/* The one table: lm error code -> HTTP status. */
int srv_status_of(int lm_code);
/* Set the reply to @p body (taken) with @p status. */
void srv_reply_json(srv_request *r, int status, json_t *body);
/* Set the reply to @p text (malloc'd, taken) of @p len bytes with @p content_type. */
void srv_reply_text(srv_request *r, int status, const char *content_type, char *text, size_t len);
/* Set the reply to the streaming response @p resp (taken) with @p status. */
void srv_reply_stream(srv_request *r, int status, struct MHD_Response *resp, const char *content_type);
/* {"error":{"code","message","detail","hint"?,"field"?,"request_id"}}. */
void srv_reply_error(srv_request *r,
                     int status,
                     const char *code,
                     const char *message,
                     const char *detail,
                     const char *hint,
                     const char *field);
void srv_reply_errorf(srv_request *r, int status, const char *code, const char *fmt, ...)
    SRV_PRINTF(4, 5);
/* Reply with lm_error_last() for library code @p rc. Internal failures are logged with the
   request id and answered without their details. */
void srv_reply_lm(srv_request *r, int rc);
/* Add a response header to the pending reply (ignored when there is none). */
void srv_reply_header(srv_request *r, const char *name, const char *value);

/* JSON of library objects; keys mirror the CLI's --json output. NULL when out of memory. */
json_t *srv_jstr(const char *s);
json_t *srv_jstr_or_null(const char *s);
json_t *srv_jreal(double v);
json_t *srv_jparse(const char *text);
int srv_jset(json_t *obj, const char *key, json_t *value);
json_t *srv_json_key_info(const lm_key_info *k);

/* Fast JSON writing for large replies (json.c): strings (null for NULL) and "key":value members
   (a comma first unless the object was just opened); library objects with the same keys as the
   CLI's --json (srv_jw_document leaves the object open). Sticky-OOM like every lm_buf. */
void srv_jw_str(lm_buf *b, const char *s);
void srv_jw_kstr(lm_buf *b, const char *key, const char *s);
void srv_jw_kint(lm_buf *b, const char *key, long long v);
void srv_jw_kreal(lm_buf *b, const char *key, double v);
/* printf("%.10g", v) into @p out for 0 and 1e-4 <= |v| < 1e10, quickly; 0 (nothing written) when v is
   outside or too close to a rounding tie to be sure: use snprintf then. */
int srv_real10(char out[32], double v);
void srv_jw_document(lm_buf *b, const lm_document *d);
void srv_jw_chunk(lm_buf *b, const lm_chunk *c);
void srv_jw_hit(lm_buf *b, const lm_hit *h);
/* Reply with the JSON text in @p b (taken; @p b is left empty). */
void srv_reply_buf(srv_request *r, int status, lm_buf *b);

/* ==== authentication (auth.c) ================================================================ */

/* Authenticate from "Authorization: Bearer ..." or "X-API-Key"; 0, or -1 after replying 401
   (503/500 when the key store fails). */
int srv_authenticate(srv_request *r);
/* 1 when the request carries the configured operator token ("Authorization: Bearer TOKEN"). */
int srv_operator(srv_request *r);
/* 1 when the request's credential looks like an API key (checking it needs the database). */
int srv_credential_is_key(srv_request *r);
/* Choose the tenant: the credential's owner, or the owner_id of the query string / body when
   the credential covers it; -1 after replying 403. */
int srv_resolve_tenant(srv_request *r);
/* 1 when the credential is bound to one id_at_origin. */
int srv_origin_bound(const srv_request *r);

/* ==== metrics (metrics.c) ==================================================================== */

void srv_metrics_request(int route_id, int status, double seconds, const char *error_code);
void srv_metrics_search(int type, double seconds);
void srv_metrics_auth_failure(const char *reason);
void srv_metrics_rate_limited(void);
/* A request ran on a background worker (workers.c). */
void srv_metrics_background(void);
/* An answer given before any request was made (a refused head, the connection limit): status
   and reason (a fixed set: metrics.c), counted by both and by error code. */
void srv_metrics_early(int status, const char *reason, const char *error_code);
/* What the renderer reads from the layers that record into metrics.c: the route table (labels),
   the worker queue and the embedding queue (gauges). main.c registers them once they exist, so
   metrics.c depends on none of those files. Until then no route labels and queues of 0 show. */
void srv_metrics_register(int n_routes, const srv_route *(*route_at)(int id),
                          int (*queued)(srv_workers *w),
                          int (*queue_stats)(srv_server *s, lm_embed_queue_stats *out));
/* The search budget's gauges (srv_workers_search_budget), registered like the queue. */
void srv_metrics_register_budget(int (*budget)(srv_workers *w, int *max));
/* Prometheus text exposition (malloc'd), or NULL when out of memory. */
char *srv_metrics_render(srv_server *s, size_t *len);

/* ==== handlers (handler_*.c) ================================================================= */

void srv_h_healthz(srv_request *r);
/* The background refresh of what /readyz and /metrics report about the database (readiness,
   embedding queue), at most once a second, so those endpoints never query the database
   themselves and run on MHD's thread. 0 or -1. */
int srv_health_start(srv_server *s);
void srv_health_stop(srv_server *s);
/* The last embedding queue counts; 0, or -1 when none could be read. */
int srv_health_queue(srv_server *s, lm_embed_queue_stats *out);
/* Release the reused /metrics text (after the daemon stopped). */
void srv_metrics_cache_free(void);
void srv_h_readyz(srv_request *r);
void srv_h_metrics(srv_request *r);
void srv_h_doc_add(srv_request *r);
void srv_h_doc_list(srv_request *r);
void srv_h_doc_get(srv_request *r);
void srv_h_doc_delete(srv_request *r);
void srv_h_doc_delete_many(srv_request *r);
void srv_h_search_get(srv_request *r);
void srv_h_search_post(srv_request *r);
/* Estimated costs of the two search routes (srv_route.cost). */
long srv_search_cost_get(srv_request *r);
long srv_search_cost_post(srv_request *r);
void srv_h_statistics(srv_request *r);
void srv_h_whoami(srv_request *r);
void srv_h_keys_list(srv_request *r);
void srv_h_keys_create(srv_request *r);
void srv_h_keys_revoke(srv_request *r);
void srv_h_mcp_post(srv_request *r);
void srv_h_mcp_delete(srv_request *r);
/* The estimated cost of a POST /mcp message (a search tool call's; srv_route.cost), and its
   answer when the tenant is over its share: 429 with Retry-After and a JSON-RPC error. */
long srv_mcp_cost(srv_request *r);
void srv_mcp_busy(srv_request *r);
void srv_h_export(srv_request *r);
void srv_h_import(srv_request *r);
void srv_h_tenant_erase(srv_request *r);
void srv_h_audit(srv_request *r);
struct sockaddr;
/* A client address as text ("127.0.0.1", "::1", "unix") into @p out (handler_audit.c). */
void srv_addr_text(char *out, size_t n, const struct sockaddr *sa);
/* The audit actor ("key:ID", "jwt:OWNER") and source (client address, or "") of @p r. */
void srv_audit_who(srv_request *r, char *actor, size_t na, char *addr, size_t nb);
/* Wait (up to @p timeout_s) for the export threads still streaming (handler_export.c). */
void srv_export_wait(double timeout_s);

/* ==== the connection layer (server.c) ======================================================== */

/* MHD callbacks. */
enum MHD_Result srv_access_cb(void *cls,
                              struct MHD_Connection *conn,
                              const char *url,
                              const char *method,
                              const char *version,
                              const char *upload_data,
                              size_t *upload_data_size,
                              void **con_cls);
void srv_completed_cb(void *cls,
                      struct MHD_Connection *conn,
                      void **con_cls,
                      enum MHD_RequestTerminationCode toe);

/* ==== open connections and their deadlines (conns.c) ========================================= */

typedef struct srv_conn srv_conn;
/* MHD_OPTION_NOTIFY_CONNECTION: track the connection from accept to close. */
void srv_connection_cb(void *cls,
                       struct MHD_Connection *conn,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);
/* The tracking record of @p conn, or NULL. */
srv_conn *srv_conn_of(struct MHD_Connection *conn);
/* In a request: it must reach its next step within @p ms_from_now ms (<= 0: no deadline). */
void srv_conn_deadline(srv_conn *c, double ms_from_now);
/* Between requests: the next head must come within @p ms_from_now ms. Idle connections are the
   ones closed first to make room at the connection limit. */
void srv_conn_idle(srv_conn *c, double ms_from_now);
/* A reply is queued on @p c: 1 when the connection closes after it (@p close, or it was asked
   to close to make room for a new connection), and it then counts as leaving. */
int srv_conn_reply_closes(srv_conn *c, int close);
/* Answer @p r (its reply prepared) only after @p ms: the connection is suspended meanwhile and
   costs nothing. Flooding clients get their 429 late, so they cannot keep MHD's thread busy. */
void srv_conn_delay(srv_request *r, double ms);
/* Shut down the sockets of connections past their deadline and resume delayed replies that
   are due (all of them while the server drains); returns how many connections were cut. */
int srv_conns_sweep(srv_server *s);
/* A connection idle for less than this (ms) is never closed to make room: a new client is idle
   from accept until its head has been read. */
#define SRV_EVICT_MIN_IDLE_MS 250.0
/* At the connection limit: close the connection idle longest (at least SRV_EVICT_MIN_IDLE_MS),
   or mark one of the client address holding the most to close after its reply. 2: one was
   closed, 1: one was marked, 0: none. */
int srv_conns_make_room(void);
/* Open connections on their way out (shut down, or closing after a reply already queued): their
   slots are as good as free. */
int srv_conns_leaving(void);

/* Record an answer given before any request was made (accept.c, server.c): its access-log line
   (route=early, the reason, the client address, the method when the head has a readable one)
   and its metrics. */
void srv_early_record(int status, const char *error_code, const char *reason, const char *method,
                      const struct sockaddr *sa, size_t bytes_in, size_t bytes_out);

/* ==== accepting (accept.c) =================================================================== */

/* Accept on s->listen_fd in a thread of its own and hand the sockets to MHD. 0 or -1. */
int srv_acceptor_start(srv_server *s);
/* Stop accepting: the listening socket is shut down (new clients are refused), the thread
   joined. The socket itself stays open for the caller to close. Safe when not started. */
void srv_acceptor_stop(srv_server *s);
/* Connections accepted beyond max_connections while none is idle. */
int srv_conn_reserve(int max_connections);

#endif

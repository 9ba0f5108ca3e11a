/*
 * http/metrics.c: Prometheus metrics in the text exposition format (version 0.0.4). Counters and
 * histograms are fixed arrays of atomics indexed by route, status and search type, so recording
 * a request takes no lock. Labels never carry tenants, keys or paths with ids (bounded
 * cardinality, nothing sensitive). Rendering reads the embedding queue's counts from the
 * database, so /metrics runs on a worker like the other database calls.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "internal.h"

static const int tracked_status[] = {200, 201, 400, 401, 403, 404, 405,
                                     409, 413, 415, 422, 429, 500, 503};
#define N_STATUS (sizeof(tracked_status) / sizeof(tracked_status[0]) + 1) /* + "other" */

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* Error codes counted; anything else counts as "other". */
static const char *const error_codes[] = {"invalid_argument",
                                          "parse_error",
                                          "not_found",
                                          "already_exists",
                                          "conflict",
                                          "retry",
                                          "timeout",
                                          "connection_failure",
                                          "database_error",
                                          "limit_exceeded",
                                          "permission_denied",
                                          "out_of_memory",
                                          "io_error",
                                          "canceled",
                                          "error",
                                          "unauthenticated",
                                          "method_not_allowed",
                                          "payload_too_large",
                                          "unsupported_media_type",
                                          "rate_limited",
                                          "unavailable",
                                          "other"};
#define N_ERRORS (sizeof(error_codes) / sizeof(error_codes[0]))

static const char *const auth_reasons[] = {"missing", "malformed",    "invalid",     "revoked",
                                           "expired", "jwt_disabled", "jwt_invalid", "other"};
#define N_REASONS (sizeof(auth_reasons) / sizeof(auth_reasons[0]))

/* Answers the server gives without a request (accept.c, server.c): by status and reason. */
static const struct {
    int status;
    const char *reason;
} early_kinds[] = {{414, "uri_too_long"},        {431, "headers_too_large"},
                   {431, "too_many_headers"},    {400, "malformed_request_line"},
                   {400, "malformed_header"},    {400, "missing_host"},
                   {505, "http_version"},        {503, "connection_limit"},
                   {400, "malformed_request"},   {400, "malformed_body"},
                   {0, "other"}};
#define N_EARLY (sizeof(early_kinds) / sizeof(early_kinds[0]))

typedef struct hist {
    atomic_ullong buckets[N_BOUNDS]; /* non-cumulative; summed when rendered */
    atomic_ullong count;
    atomic_ullong sum_us;
} hist;

/* Route SRV_MAX_ROUTES is "no route matched". */
static struct {
    atomic_ullong requests[SRV_MAX_ROUTES + 1][N_STATUS];
    hist latency[SRV_MAX_ROUTES + 1];
    hist search[3];
    atomic_ullong errors[N_ERRORS];
    atomic_ullong auth_failures[N_REASONS];
    atomic_ullong rate_limited;
    atomic_ullong background;
    atomic_ullong early[N_EARLY];
} M;

/* Registered by srv_metrics_register() (set once before the server takes requests). */
static int n_routes_registered;
static const srv_route *(*route_at_fn)(int id);
static int (*queued_fn)(srv_workers *w);
static int (*budget_fn)(srv_workers *w, int *max);
static int (*queue_stats_fn)(srv_server *s, lm_embed_queue_stats *out);

void srv_metrics_register_budget(int (*budget)(srv_workers *w, int *max))
{
    budget_fn = budget;
}

void srv_metrics_register(int n_routes, const srv_route *(*route_at)(int id),
                          int (*queued)(srv_workers *w),
                          int (*queue_stats)(srv_server *s, lm_embed_queue_stats *out))
{
    n_routes_registered = n_routes;
    route_at_fn = route_at;
    queued_fn = queued;
    queue_stats_fn = queue_stats;
}

static void observe(hist *h, double seconds)
{
    size_t i = 0;

    while (i < N_BOUNDS && seconds > bounds[i])
        i++;
    if (i < N_BOUNDS)
        atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)(seconds > 0 ? seconds * 1e6 : 0),
                              memory_order_relaxed);
}

void srv_metrics_request(int route_id, int status, double seconds, const char *error_code)
{
    size_t s = N_STATUS - 1, e = N_ERRORS - 1;

    if (route_id < 0 || route_id > SRV_MAX_ROUTES)
        route_id = SRV_MAX_ROUTES;
    for (size_t i = 0; i < N_STATUS - 1; i++)
        if (tracked_status[i] == status)
            s = i;
    atomic_fetch_add_explicit(&M.requests[route_id][s], 1, memory_order_relaxed);
    observe(&M.latency[route_id], seconds);
    if (status >= 400) {
        for (size_t i = 0; error_code != NULL && i < N_ERRORS - 1; i++)
            if (strcmp(error_codes[i], error_code) == 0)
                e = i;
        atomic_fetch_add_explicit(&M.errors[e], 1, memory_order_relaxed);
    }
}

void srv_metrics_early(int status, const char *reason, const char *error_code)
{
    size_t k = N_EARLY - 1, e = N_ERRORS - 1;

    for (size_t i = 0; i < N_EARLY - 1; i++)
        if (early_kinds[i].status == status && strcmp(early_kinds[i].reason, reason) == 0)
            k = i;
    atomic_fetch_add_explicit(&M.early[k], 1, memory_order_relaxed);
    for (size_t i = 0; error_code != NULL && i < N_ERRORS - 1; i++)
        if (strcmp(error_codes[i], error_code) == 0)
            e = i;
    atomic_fetch_add_explicit(&M.errors[e], 1, memory_order_relaxed);
}

void srv_metrics_search(int type, double seconds)
{
    if (type >= 0 && type < 3)
        observe(&M.search[type], seconds);
}

void srv_metrics_auth_failure(const char *reason)
{
    size_t r = N_REASONS - 1;
    for (size_t i = 0; i < N_REASONS - 1; i++)
        if (strcmp(auth_reasons[i], reason) == 0)
            r = i;
    atomic_fetch_add_explicit(&M.auth_failures[r], 1, memory_order_relaxed);
}

void srv_metrics_rate_limited(void)
{
    atomic_fetch_add_explicit(&M.rate_limited, 1, memory_order_relaxed);
}

void srv_metrics_background(void)
{
    atomic_fetch_add_explicit(&M.background, 1, memory_order_relaxed);
}

static unsigned long long get(atomic_ullong *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void render_hist(lm_buf *b, const char *name, const char *labels, hist *h)
{
    unsigned long long cum = 0;

    for (size_t i = 0; i < N_BOUNDS; i++) {
        cum += get(&h->buckets[i]);
        lm__buf_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, bounds[i], cum);
    }
    lm__buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, get(&h->count));
    lm__buf_printf(b, "%s_sum{%s} %.6f\n", name, labels, (double)get(&h->sum_us) / 1e6);
    lm__buf_printf(b, "%s_count{%s} %llu\n", name, labels, get(&h->count));
}

static void route_labels(char *out, size_t len, int id)
{
    const srv_route *rt = route_at_fn != NULL ? route_at_fn(id) : NULL;
    if (rt != NULL)
        snprintf(out, len, "method=\"%s\",route=\"%s\"", rt->method, rt->pattern);
    else
        snprintf(out, len, "method=\"any\",route=\"unmatched\"");
}

char *srv_metrics_render(srv_server *s, size_t *len)
{
    lm_buf b = LM_BUF_INIT;
    lm_pool_usage pool;
    lm_embed_queue_stats queue;
    char labels[160];
    int n_routes = n_routes_registered;

    lm__buf_puts(&b, "# HELP llmemory_build_info Version of the running server.\n"
                     "# TYPE llmemory_build_info gauge\n");
    lm__buf_printf(&b, "llmemory_build_info{version=\"%s\"} 1\n", lm_version());
    lm__buf_puts(&b, "# HELP llmemory_process_start_time_seconds Start time of the server since "
                     "the Unix epoch.\n"
                     "# TYPE llmemory_process_start_time_seconds gauge\n");
    lm__buf_printf(&b, "llmemory_process_start_time_seconds %.3f\n", s->started_at);

    lm__buf_puts(&b, "# HELP llmemory_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE llmemory_http_requests_total counter\n");
    for (int r = 0; r <= SRV_MAX_ROUTES; r++) {
        if (r >= n_routes && r != SRV_MAX_ROUTES)
            continue;
        route_labels(labels, sizeof(labels), r);
        for (size_t i = 0; i < N_STATUS; i++) {
            unsigned long long v = get(&M.requests[r][i]);
            if (v == 0)
                continue;
            if (i < N_STATUS - 1)
                lm__buf_printf(&b, "llmemory_http_requests_total{%s,status=\"%d\"} %llu\n", labels,
                               tracked_status[i], v);
            else
                lm__buf_printf(&b, "llmemory_http_requests_total{%s,status=\"other\"} %llu\n",
                               labels, v);
        }
    }

    lm__buf_puts(&b, "# HELP llmemory_http_request_duration_seconds Time from the first byte "
                     "of a request to its completion, by route.\n"
                     "# TYPE llmemory_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= SRV_MAX_ROUTES; r++) {
        if (r >= n_routes && r != SRV_MAX_ROUTES)
            continue;
        route_labels(labels, sizeof(labels), r);
        render_hist(&b, "llmemory_http_request_duration_seconds", labels, &M.latency[r]);
    }

    lm__buf_puts(&b, "# HELP llmemory_search_duration_seconds Time the library took per "
                     "search, by search type.\n"
                     "# TYPE llmemory_search_duration_seconds histogram\n");
    for (int t = 0; t < 3; t++) {
        snprintf(labels, sizeof(labels), "type=\"%s\"", lm_search_type_name((lm_search_type)t));
        render_hist(&b, "llmemory_search_duration_seconds", labels, &M.search[t]);
    }

    lm__buf_puts(&b, "# HELP llmemory_http_errors_total Error replies by error code.\n"
                     "# TYPE llmemory_http_errors_total counter\n");
    for (size_t i = 0; i < N_ERRORS; i++)
        lm__buf_printf(&b, "llmemory_http_errors_total{code=\"%s\"} %llu\n", error_codes[i],
                       get(&M.errors[i]));

    lm__buf_puts(&b, "# HELP llmemory_auth_failures_total Requests refused with 401, by "
                     "reason.\n"
                     "# TYPE llmemory_auth_failures_total counter\n");
    for (size_t i = 0; i < N_REASONS; i++)
        lm__buf_printf(&b, "llmemory_auth_failures_total{reason=\"%s\"} %llu\n", auth_reasons[i],
                       get(&M.auth_failures[i]));

    lm__buf_puts(&b, "# HELP llmemory_rate_limited_total Requests refused with 429.\n"
                     "# TYPE llmemory_rate_limited_total counter\n");
    lm__buf_printf(&b, "llmemory_rate_limited_total %llu\n", get(&M.rate_limited));

    lm__buf_puts(&b, "# HELP llmemory_http_background_requests_total Costly requests run on a "
                     "background worker, at a lower CPU priority.\n"
                     "# TYPE llmemory_http_background_requests_total counter\n");
    lm__buf_printf(&b, "llmemory_http_background_requests_total %llu\n", get(&M.background));

    lm__buf_puts(&b, "# HELP llmemory_http_early_replies_total Answers given before any "
                     "request was made (a malformed or oversized request head, the connection "
                     "limit), by status and reason. They also count in "
                     "llmemory_http_errors_total.\n"
                     "# TYPE llmemory_http_early_replies_total counter\n");
    for (size_t i = 0; i < N_EARLY; i++) {
        if (early_kinds[i].status != 0)
            lm__buf_printf(&b, "llmemory_http_early_replies_total{status=\"%d\",reason=\"%s\"} %llu\n",
                           early_kinds[i].status, early_kinds[i].reason, get(&M.early[i]));
        else
            lm__buf_printf(&b, "llmemory_http_early_replies_total{status=\"other\",reason=\"other\"} "
                           "%llu\n", get(&M.early[i]));
    }

    lm__buf_puts(&b, "# HELP llmemory_http_in_flight_requests Requests being served.\n"
                     "# TYPE llmemory_http_in_flight_requests gauge\n");
    lm__buf_printf(&b, "llmemory_http_in_flight_requests %d\n", atomic_load(&s->in_flight));

    lm__buf_puts(&b, "# HELP llmemory_http_queued_requests Requests waiting for a worker.\n"
                     "# TYPE llmemory_http_queued_requests gauge\n");
    lm__buf_printf(&b, "llmemory_http_queued_requests %d\n",
                   s->workers != NULL && queued_fn != NULL ? queued_fn(s->workers) : 0);

    if (s->workers != NULL && budget_fn != NULL) {
        int max = 0, used = budget_fn(s->workers, &max);
        lm__buf_puts(&b, "# HELP llmemory_http_search_budget_slots The server's search budget "
                         "(--search-slots) and the slots searches hold now (all tenants).\n"
                         "# TYPE llmemory_http_search_budget_slots gauge\n");
        lm__buf_printf(&b, "llmemory_http_search_budget_slots{state=\"used\"} %d\n", used);
        lm__buf_printf(&b, "llmemory_http_search_budget_slots{state=\"max\"} %d\n", max);
    }

    lm_memory_pool_usage(&pool, s->mem);
    lm__buf_puts(&b, "# HELP llmemory_db_pool_connections Database connections of the pool.\n"
                     "# TYPE llmemory_db_pool_connections gauge\n");
    lm__buf_printf(&b, "llmemory_db_pool_connections{state=\"in_use\"} %d\n", pool.in_use);
    lm__buf_printf(&b, "llmemory_db_pool_connections{state=\"idle\"} %d\n",
                   pool.open - pool.in_use);
    lm__buf_printf(&b, "llmemory_db_pool_connections{state=\"max\"} %d\n", pool.size);

    /* The embedding queue, for the memory's embedder (all tenants). Omitted when it cannot be
       read (no embedder, database down): an absent series is not a misleading zero. */
    if (queue_stats_fn != NULL && queue_stats_fn(s, &queue) == 0) {
        lm__buf_puts(&b, "# HELP llmemory_embedding_queue_depth Embedding jobs by state (all "
                         "tenants).\n"
                         "# TYPE llmemory_embedding_queue_depth gauge\n");
        lm__buf_printf(&b, "llmemory_embedding_queue_depth{state=\"pending\"} %lld\n",
                       (long long)queue.pending);
        lm__buf_printf(&b, "llmemory_embedding_queue_depth{state=\"processing\"} %lld\n",
                       (long long)queue.processing);
        lm__buf_printf(&b, "llmemory_embedding_queue_depth{state=\"dead\"} %lld\n",
                       (long long)queue.dead);
    }

    /* Tenants near their storage quotas, per kind and threshold: counts only, never a label
       per tenant (bounded cardinality). From the library's cache, which the health thread
       refreshes at most every 5 s; absent until it has been computed once. */
    {
        lm_quota_alerts qa;
        static const char *const qk[4] = {"documents", "chunks", "bytes", "vectors"};
        if (lm_quota_alerts_get(&qa, s->mem, -1) == 0) {
            lm__buf_puts(&b, "# HELP llmemory_tenants Tenants that store anything.\n"
                             "# TYPE llmemory_tenants gauge\n");
            lm__buf_printf(&b, "llmemory_tenants %lld\n", (long long)qa.tenants);
            lm__buf_puts(&b, "# HELP llmemory_tenants_near_quota Tenants whose usage of a kind is "
                             "at the threshold share of their limit or more.\n"
                             "# TYPE llmemory_tenants_near_quota gauge\n");
            for (int k = 0; k < 4; k++) {
                lm__buf_printf(&b, "llmemory_tenants_near_quota{kind=\"%s\",threshold=\"0.8\"} %lld\n",
                               qk[k], (long long)qa.at_80[k]);
                lm__buf_printf(&b, "llmemory_tenants_near_quota{kind=\"%s\",threshold=\"0.95\"} %lld\n",
                               qk[k], (long long)qa.at_95[k]);
                lm__buf_printf(&b, "llmemory_tenants_near_quota{kind=\"%s\",threshold=\"1\"} %lld\n",
                               qk[k], (long long)qa.at_100[k]);
            }
        } else {
            lm_error_clear();
        }
    }

    if (lm__buf_oom(&b)) {
        lm_buf_dispose(&b);
        return NULL;
    }
    *len = b.size;
    /* lm_buf memory comes from the library's allocator; hand the caller a malloc'd copy so MHD
       can free() it. */
    {
        char *text = malloc(b.size + 1);
        if (text != NULL)
            memcpy(text, b.ptr, b.size + 1);
        lm_buf_dispose(&b);
        return text;
    }
}

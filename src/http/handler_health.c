/*
 * http/handler_health.c: the public operational endpoints: GET /healthz (the process answers),
 * GET /readyz (the database answers and every migration is applied) and GET /metrics
 * (Prometheus text). None of them needs credentials or says anything about a tenant: the full
 * metrics need the operator token, and all three are limited per client address. They run
 * on MHD's thread and never wait for the database: a background thread checks it once a second
 * and they report its last answer, so a flood of probes costs neither workers nor connections.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "internal.h"

void srv_h_healthz(srv_request *r)
{
    json_t *o = json_object();
    int bad = srv_jset(o, "status", json_string("ok"));
    srv_reply_json(r, MHD_HTTP_OK, bad ? NULL : o);
    if (bad)
        json_decref(o);
}

#define REFRESH_MS 1000

struct srv_health {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    int ready_rc; /* lm_memory_ready() */
    int queue_ok;
    lm_embed_queue_stats queue;
};

static void check(srv_server *s)
{
    lm_embed_queue_stats q;
    int rc = lm_memory_ready(s->mem), qok;

    if (rc < 0) {
        srv_log(SRV_LOG_WARN, NULL, "not ready", "code", lm_errname(rc), "error",
                lm_error_last()->message, (const char *)NULL);
        lm_error_clear();
    }
    qok = rc == 0 && lm_embed_queue_stats_get(&q, s->mem) == 0;
    if (!qok)
        lm_error_clear();
    {
        /* Near-quota counts for /metrics: recomputed at most every 5 s, cached in the memory. */
        lm_quota_alerts qa;
        if (rc < 0 || lm_quota_alerts_get(&qa, s->mem, 5) < 0)
            lm_error_clear();
    }
    pthread_mutex_lock(&s->health->mu);
    s->health->ready_rc = rc;
    s->health->queue_ok = qok;
    if (qok)
        s->health->queue = q;
    pthread_mutex_unlock(&s->health->mu);
}

static void *health_main(void *arg)
{
    srv_server *s = arg;
    struct srv_health *h = s->health;

    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec ts;
        pthread_mutex_unlock(&h->mu);
        check(s);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += REFRESH_MS / 1000;
        pthread_mutex_lock(&h->mu);
        if (!h->stop)
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int srv_health_start(srv_server *s)
{
    struct srv_health *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return -1;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    s->health = h;
    check(s); /* the first answer is there before the server listens */
    if (pthread_create(&h->thread, NULL, health_main, s) != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
        s->health = NULL;
        return -1;
    }
    return 0;
}

void srv_health_stop(srv_server *s)
{
    struct srv_health *h = s->health;

    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
    s->health = NULL;
}

int srv_health_queue(srv_server *s, lm_embed_queue_stats *out)
{
    int ok;

    if (s->health == NULL)
        return -1;
    pthread_mutex_lock(&s->health->mu);
    ok = s->health->queue_ok;
    if (ok)
        *out = s->health->queue;
    pthread_mutex_unlock(&s->health->mu);
    return ok ? 0 : -1;
}

void srv_h_readyz(srv_request *r)
{
    json_t *o;
    int rc = LM_ECONN, bad;

    if (r->srv->health != NULL) {
        pthread_mutex_lock(&r->srv->health->mu);
        rc = r->srv->health->ready_rc;
        pthread_mutex_unlock(&r->srv->health->mu);
    }
    if (rc < 0) {
        /* Not ready is 503 whatever the cause: a load balancer only needs "not now". */
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "not ready",
                        rc == LM_ECONN ? "The database cannot be reached."
                                       : "The database schema is not migrated.",
                        NULL, NULL);
        return;
    }
    o = json_object();
    bad = srv_jset(o, "status", json_string("ready"));
    bad |= srv_jset(o, "schema", srv_jstr(lm_memory_schema(r->srv->mem)));
    srv_reply_json(r, MHD_HTTP_OK, bad ? NULL : o);
    if (bad)
        json_decref(o);
}

/* The rendered text is reused for METRICS_REUSE_MS: a flood of scrapes costs a copy each, not a
   render each, on MHD's thread (the only thread that runs this handler). */
#define METRICS_REUSE_MS 250.0

static struct {
    char *text;
    size_t len;
    double at;
} last_metrics;

/* /metrics without the operator token: only what says nothing about any tenant's activity
   (request counters move when any tenant adds a document, so they are the operator's). */
static void public_metrics(srv_request *r)
{
    lm_buf b = LM_BUF_INIT;
    char *text;
    int ready = 0;

    if (r->srv->health != NULL) {
        pthread_mutex_lock(&r->srv->health->mu);
        ready = r->srv->health->ready_rc == 0;
        pthread_mutex_unlock(&r->srv->health->mu);
    }
    lm__buf_puts(&b, "# The request, latency, pool and queue metrics need the operator token "
                     "(serve --operator-token-file).\n"
                     "# HELP llmemory_build_info Version of the running server.\n"
                     "# TYPE llmemory_build_info gauge\n");
    lm__buf_printf(&b, "llmemory_build_info{version=\"%s\"} 1\n", lm_version());
    lm__buf_puts(&b, "# HELP llmemory_process_start_time_seconds Start time of the server since "
                     "the Unix epoch.\n# TYPE llmemory_process_start_time_seconds gauge\n");
    lm__buf_printf(&b, "llmemory_process_start_time_seconds %.3f\n", r->srv->started_at);
    lm__buf_puts(&b, "# HELP llmemory_ready 1 when the database answers and is migrated.\n"
                     "# TYPE llmemory_ready gauge\n");
    lm__buf_printf(&b, "llmemory_ready %d\n", ready);
    /* lm_buf memory comes from the library's allocator: MHD gets a malloc'd copy to free(). */
    text = lm__buf_oom(&b) ? NULL : malloc(b.size + 1);
    if (text != NULL)
        memcpy(text, b.ptr, b.size + 1);
    srv_reply_text(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
                   text != NULL ? b.size : 0);
    lm_buf_dispose(&b);
}

void srv_h_metrics(srv_request *r)
{
    double now = srv_now_ms();
    char *text;

    if (!srv_operator(r)) {
        public_metrics(r);
        return;
    }

    if (last_metrics.text == NULL || now - last_metrics.at >= METRICS_REUSE_MS) {
        size_t len = 0;
        char *fresh = srv_metrics_render(r->srv, &len);
        if (fresh != NULL) {
            free(last_metrics.text);
            last_metrics.text = fresh;
            last_metrics.len = len;
            last_metrics.at = now;
        }
    }
    text = last_metrics.text != NULL ? malloc(last_metrics.len + 1) : NULL;
    if (text != NULL)
        memcpy(text, last_metrics.text, last_metrics.len + 1);
    srv_reply_text(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
                   text != NULL ? last_metrics.len : 0);
}

void srv_metrics_cache_free(void)
{
    free(last_metrics.text);
    last_metrics.text = NULL;
}

/*
 * http/embedworker.c: the server's background embedding worker. With it, adds only store and
 * queue their chunks (LM_EMBED_QUEUE), so they return as soon as the document is stored and
 * keyword-searchable; this thread drains the embedding queue (lm_embed_run, one batch at a time)
 * and vector search finds each chunk once its vector is written. An add wakes it at once;
 * otherwise it looks at the queue every SRV_EMBED_POLL_MS (jobs queued by other processes, jobs
 * whose backoff has passed). Failures are logged and retried after a pause; they never stop the
 * server. It runs at the background CPU priority (lm_thread_background, workers.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define SRV_EMBED_POLL_MS  500
#define SRV_EMBED_ERROR_MS 5000
#define SRV_EMBED_BATCH    32

struct srv_embedder {
    lm_memory *mem;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int kicked;
};

static void wait_ms(srv_embedder *w, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->stop && !w->kicked)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
            break;
    w->kicked = 0;
    pthread_mutex_unlock(&w->lock);
}

static int stopping(srv_embedder *w)
{
    pthread_mutex_lock(&w->lock);
    int s = w->stop;
    pthread_mutex_unlock(&w->lock);
    return s;
}

static void *run(void *arg)
{
    srv_embedder *w = arg;
    lm_embed_run_opts o;
    /* Background work: a lower CPU priority, for this thread, the encoder's threads (which
       inherit it) and its database backend (the pool's background kind). */
    (void)lm_thread_background(w->mem);
    lm_embed_run_opts_init(&o, LM_EMBED_RUN_OPTS_VERSION);
    o.batch_size = SRV_EMBED_BATCH;
    o.max_batches = 1;
    while (!stopping(w)) {
        lm_embed_run_result rr;
        int rc = lm_embed_run(&rr, w->mem, &o);
        if (rc < 0) {
            const lm_error *e = lm_error_last();
            srv_log(SRV_LOG_WARN, NULL, "embedding worker failed", "code", lm_errname(rc),
                    "error", e->message, (const char *)NULL);
            wait_ms(w, SRV_EMBED_ERROR_MS);
            continue;
        }
        if (rr.embedded > 0 || rr.failed > 0 || rr.dead > 0) {
            char n[3][24];
            snprintf(n[0], sizeof(n[0]), "%lld", (long long)rr.embedded);
            snprintf(n[1], sizeof(n[1]), "%lld", (long long)rr.failed);
            snprintf(n[2], sizeof(n[2]), "%lld", (long long)rr.dead);
            srv_log(rr.failed || rr.dead ? SRV_LOG_WARN : SRV_LOG_DEBUG, NULL, "embedded",
                    "chunks", n[0], "failed", n[1], "dead", n[2], (const char *)NULL);
        }
        if (rr.claimed == 0)
            wait_ms(w, SRV_EMBED_POLL_MS);
    }
    return NULL;
}

int srv_embedder_start(srv_embedder **out, lm_memory *mem)
{
    srv_embedder *w = calloc(1, sizeof(*w));
    *out = NULL;
    if (w == NULL)
        return -1;
    w->mem = mem;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void srv_embedder_kick(srv_embedder *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->kicked = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void srv_embedder_stop(srv_embedder *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

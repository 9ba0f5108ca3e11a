/*
 * http/workers.c: the worker thread pool that runs handlers. libmicrohttpd's own thread does
 * only network I/O: when a request has arrived in full, server.c suspends its connection and
 * submits it here; a worker runs the router and handler (which block on PostgreSQL), prepares the
 * reply and resumes the connection, and MHD's thread then sends it. One FIFO queue for all
 * connections keeps waiting fair: with MHD's own thread pool, the thread that accepted a
 * connection serves it, and a busy thread's clients waited while others idled (bench/http).
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

struct srv_workers {
    pthread_mutex_t mu;
    pthread_cond_t work; /* an item was queued, or stop */
    pthread_cond_t idle; /* the queue emptied and no worker is busy */
    srv_request *head, *tail;
    int queued, busy;
    int stop, abort;
    int n;
    pthread_t *threads;
};

static void run_one(srv_workers *w, srv_request *r, int aborting)
{
    (void)w;
    if (aborting) {
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "server is shutting down",
                        "Retry on a new connection.", NULL, NULL);
        srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    } else if (r->auth_early == 1) {
        /* Only the credential, before the body is read (server.c). */
        (void)srv_authenticate(r);
    } else {
        srv_dispatch(r);
    }
    r->handled = 1;
    /* From here on the request belongs to MHD's thread again (it may be freed at any time). */
    MHD_resume_connection(r->conn);
}

static void *worker_main(void *arg)
{
    srv_workers *w = arg;

    for (;;) {
        srv_request *r;
        int aborting;

        pthread_mutex_lock(&w->mu);
        while (w->head == NULL && !w->stop)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->head == NULL) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        r = w->head;
        w->head = r->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        w->busy++;
        aborting = w->abort;
        pthread_mutex_unlock(&w->mu);

        run_one(w, r, aborting);

        pthread_mutex_lock(&w->mu);
        w->busy--;
        if (w->busy == 0 && w->head == NULL)
            pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

int srv_workers_start(srv_workers **out, int n)
{
    srv_workers *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL)
        return -1;
    w->threads = calloc((size_t)n, sizeof(*w->threads));
    if (w->threads == NULL) {
        free(w);
        return -1;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->idle, NULL);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
            break;
        w->n++;
    }
    if (w->n < n) {
        srv_workers_stop(w);
        return -1;
    }
    *out = w;
    return 0;
}

int srv_workers_submit(srv_workers *w, srv_request *r)
{
    pthread_mutex_lock(&w->mu);
    if (w->abort) {
        pthread_mutex_unlock(&w->mu);
        return -1;
    }
    /* Suspended before any worker can see it, so its resume always follows the suspend. */
    r->submitted = 1;
    MHD_suspend_connection(r->conn);
    r->next = NULL;
    if (w->tail != NULL)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    w->queued++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int srv_workers_queued(srv_workers *w)
{
    int n;
    pthread_mutex_lock(&w->mu);
    n = w->queued;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void srv_workers_abort(srv_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->abort = 1;
    pthread_mutex_unlock(&w->mu);
}

void srv_workers_wait_idle(srv_workers *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->busy > 0 || w->head != NULL)
        pthread_cond_wait(&w->idle, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void srv_workers_stop(srv_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->idle);
    free(w->threads);
    free(w);
}

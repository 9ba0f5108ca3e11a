/*
 * http/workers.c: the worker thread pool that runs handlers. libmicrohttpd's own thread does
 * only network I/O: when a request has arrived in full, server.c suspends its connection and
 * submits it here; a worker runs the router and handler (which block on PostgreSQL), prepares the
 * reply and resumes the connection, and MHD's thread then sends it. One FIFO queue for all
 * connections keeps waiting fair: with MHD's own thread pool, the thread that accepted a
 * connection serves it, and a busy thread's clients waited while others idled (bench/http).
 *
 * Fairness between tenants: once a request is authenticated, its tenant (the credential's owner,
 * so sub-tenants share their parent's share) must hold one of its per-tenant slots to go on. A
 * tenant at its limit parks the request (the worker moves on to other work; the parked request
 * holds no worker and no database connection) until one of its running requests ends; a tenant
 * with too many parked requests gets 429 with Retry-After. One tenant's writers waiting on their
 * own write lock, or its expensive searches, therefore hold at most its share of the workers.
 *
 * The slots are weighed by cost: a request whose route estimates one (the searches, by
 * lm_search_cost()) takes ceil(cost / slot_cost) slots, at most the whole share. A tenant's
 * costly searches then run one or two at a time, each on one CPU, instead of one per slot,
 * which on a small machine was every CPU (bench/abuse, noisy_search). Waiting is first come,
 * first served within a tenant: a cheap request does not pass a costly one that waits.
 *
 * The searches of all tenants together also hold at most the server's search budget
 * (--search-slots, in the same slots), so that many tenants (or one owner of many credentials)
 * cannot each run a maximal search at once (bench/abuse, many_noisy). When the budget is full,
 * it goes to the tenant holding least of it, not to whoever came first: a tenant with nothing
 * running is next, however many searches the others queued. A search of one slot from a tenant
 * that holds none of the budget does not wait for it.
 *
 * CPU priority: the slots bound how much costly work runs, not who gets a CPU first; on a small
 * machine a victim's 1 ms search still waited behind another tenant's costly one for a CPU (and
 * its PostgreSQL backend behind that one's). So costly requests (a weighed cost of more than
 * one slot, or a body of SRV_LOW_BODY bytes or more: large adds) run on a second set of workers,
 * the background workers, whose nice is raised once at start (lm_thread_background: by
 * $LLMEMORY_BACKGROUND_NICE, default 10), and whose database connections come from the pool's
 * background kind, with backends at the same nice (db/pool.c). A worker takes such a request
 * through authentication and admission, then hands it over with its slots. Background workers
 * still get every CPU that nothing else wants, so on an idle server costly work is as fast as
 * before. With the setting 0 there are no background workers and all of this is off.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A request with a body this large (bytes) runs on a background worker: chunking and indexing
   a large document costs as much CPU as a costly search (bench/abuse, big_adds). */
#define SRV_LOW_BODY (256 * 1024)

typedef struct srv_tenant {
    struct srv_tenant *next;
    char *owner;
    int running;         /* slots of its share held */
    int held;            /* slots of the server's search budget held */
    unsigned long last;  /* when it last took search budget (w->clock), 0: never */
    int parked;
    srv_request *park_head, *park_tail;
} srv_tenant;

struct srv_workers {
    pthread_mutex_t mu;
    srv_tenant *tenants; /* with running or parked requests */
    int per_tenant, tenant_queue;
    long slot_cost;
    int search_slots, search_used; /* the server-wide search budget, and what is taken */
    unsigned long clock;           /* counts grants of search budget */
    pthread_cond_t work; /* an item was queued, or stop */
    pthread_cond_t idle; /* the queue emptied and no worker is busy */
    srv_request *head, *tail;
    int queued, busy;
    int stop, abort;
    int n;
    pthread_t *threads;
    /* The background workers (n_low of them; 0: none) and their queue. */
    lm_memory *mem;
    pthread_cond_t low_work;
    srv_request *low_head, *low_tail;
    int n_low;
    pthread_t *low_threads;
};

typedef struct {
    srv_workers *w;
    int low;
} srv_worker_arg;

static void push(srv_workers *w, srv_request *r)
{
    r->next = NULL;
    if (r->low) {
        if (w->low_tail != NULL)
            w->low_tail->next = r;
        else
            w->low_head = r;
        w->low_tail = r;
        w->queued++;
        pthread_cond_signal(&w->low_work);
        return;
    }
    if (w->tail != NULL)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    w->queued++;
    pthread_cond_signal(&w->work);
}

enum { ADMIT_RUN, ADMIT_PARKED, ADMIT_FULL, ADMIT_OOM };

/* Drop a tenant with nothing running or parked. Called with w->mu held. */
static void forget(srv_workers *w, srv_tenant *t)
{
    srv_tenant **pp;

    for (pp = &w->tenants; *pp != t; pp = &(*pp)->next)
        ;
    *pp = t->next;
    free(t->owner);
    free(t);
}

/* The slots @p r takes: its route's estimated cost over the cost of one slot, rounded up, at
   least 1 and at most the whole share (r->weight); and of the server's search budget, the same
   (at most the whole budget) when the route estimated a cost, else none (r->budget). */
static void weigh(const srv_workers *w, srv_request *r)
{
    long cost, n;

    r->weight = 1;
    r->budget = 0;
    r->low = w->n_low > 0 && r->body_len >= SRV_LOW_BODY;
    if (r->route == NULL || r->route->cost == NULL || (cost = r->route->cost(r)) <= 0)
        return;
    n = (cost + w->slot_cost - 1) / w->slot_cost;
    if (n > 1 && w->n_low > 0)
        r->low = 1;
    r->weight = n < 1 ? 1 : n > w->per_tenant ? w->per_tenant : (int)n;
    r->budget = n < 1 ? 1 : n > w->search_slots ? w->search_slots : (int)n;
}

/* Whether @p t's next request fits its share. */
static int fits_share(const srv_workers *w, const srv_tenant *t, const srv_request *r)
{
    return t->running + r->weight <= w->per_tenant;
}

/* Whether @p r may go without waiting for the search budget: it takes none, or it is a search
   of one slot from a tenant that holds none (the budget bounds costly work; one cheap search
   per tenant crowds nobody). */
static int budget_free(const srv_tenant *t, const srv_request *r)
{
    return r->budget == 0 || (r->budget == 1 && t->held == 0);
}

/* Give the head of @p t's queue its slots; it is @p self (the caller runs it) or queued for a
   worker. Called with w->mu held. */
static void grant(srv_workers *w, srv_tenant *t, srv_request *self, int *self_ran)
{
    srv_request *r = t->park_head;

    t->park_head = r->next;
    if (t->park_head == NULL)
        t->park_tail = NULL;
    t->parked--;
    t->running += r->weight;
    if (r->budget > 0) {
        t->held += r->budget;
        w->search_used += r->budget;
        t->last = ++w->clock;
    }
    r->gate = t;
    if (r == self)
        *self_ran = 1;
    else
        push(w, r);
}

/* Start every parked request that may start. Within a tenant, first come first served: a
   request waits while an earlier one of its tenant does. Across tenants, the search budget goes
   to the tenant holding least of it (then to the one that got some longest ago), not to the
   request that came first: a tenant with nothing running goes before one already running
   searches, however many that one queued. When that tenant's next search does not fit the
   budget yet, no other search passes it (the budget is kept for it, so a costly search is not
   starved by cheap ones). Called with w->mu held; 1 when @p self was started. */
static int schedule(srv_workers *w, srv_request *self)
{
    int self_ran = 0, progress = 1;

    while (progress) {
        srv_tenant *best = NULL;
        progress = 0;
        for (srv_tenant *t = w->tenants; t != NULL; t = t->next) {
            while (t->park_head != NULL && fits_share(w, t, t->park_head) &&
                   budget_free(t, t->park_head)) {
                grant(w, t, self, &self_ran);
                progress = 1;
            }
            if (t->park_head != NULL && fits_share(w, t, t->park_head) &&
                (best == NULL || t->held < best->held ||
                 (t->held == best->held && t->last < best->last)))
                best = t;
        }
        if (best != NULL && w->search_used + best->park_head->budget <= w->search_slots) {
            grant(w, best, self, &self_ran);
            progress = 1;
        }
    }
    return self_ran;
}

/* Queue @p r behind its tenant's waiting requests and start what may start: it runs now
   (ADMIT_RUN), or waits (ADMIT_PARKED); ADMIT_FULL when its tenant already has as many waiting
   as allowed. Called with w->mu held. */
static int admit(srv_workers *w, srv_request *r)
{
    const char *owner = r->who.owner_id;
    srv_tenant *t;

    for (t = w->tenants; t != NULL && strcmp(t->owner, owner) != 0; t = t->next)
        ;
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL || (t->owner = strdup(owner)) == NULL) {
            free(t);
            return ADMIT_OOM;
        }
        t->next = w->tenants;
        w->tenants = t;
    }
    if (t->parked >= w->tenant_queue || w->abort) {
        if (t->running == 0 && t->parked == 0)
            forget(w, t);
        return ADMIT_FULL;
    }
    r->next = NULL;
    if (t->park_tail != NULL)
        t->park_tail->next = r;
    else
        t->park_head = r;
    t->park_tail = r;
    t->parked++;
    return schedule(w, r) ? ADMIT_RUN : ADMIT_PARKED;
}

/* Give back @p r's slots and search budget, and start the parked requests that now may start
   (queued again, already admitted). Called with w->mu held. */
static void release(srv_workers *w, srv_request *r)
{
    srv_tenant *t = r->gate;

    r->gate = NULL;
    if (t == NULL)
        return;
    t->running -= r->weight;
    t->held -= r->budget;
    w->search_used -= r->budget;
    (void)schedule(w, NULL);
    if (t->running == 0 && t->parked == 0)
        forget(w, t);
}

static void tenant_busy(srv_request *r)
{
    srv_metrics_rate_limited();
    if (r->route != NULL && r->route->fn == srv_h_mcp_post) {
        srv_mcp_busy(r); /* the protocol's error shape */
        return;
    }
    srv_reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "tenant_busy",
                    "too many requests in progress for this tenant",
                    "The tenant already has as many requests running and waiting as the server "
                    "allows one tenant; retry after the time in Retry-After.",
                    NULL, NULL);
    srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
}

/* 1 when the request was parked or handed to a background worker (it is no longer this
   worker's). @p low: this is a background worker. */
static int run_one(srv_workers *w, srv_request *r, int aborting, int low)
{
    if (aborting) {
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "server is shutting down",
                        "Retry on a new connection.", NULL, NULL);
        srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        if (r->gate != NULL) {
            pthread_mutex_lock(&w->mu);
            release(w, r);
            pthread_mutex_unlock(&w->mu);
        }
    } else if (r->auth_early == 1) {
        /* Only the credential, before the body is read (server.c). */
        (void)srv_authenticate(r);
    } else if (r->gate != NULL) {
        /* Admitted earlier (parked, or handed over by a worker), and now given its slots. */
        if (low)
            srv_metrics_background();
        srv_dispatch_finish(r);
        pthread_mutex_lock(&w->mu);
        release(w, r);
        pthread_mutex_unlock(&w->mu);
    } else if (srv_dispatch_begin(r) == 0) {
        if (!r->authenticated) {
            srv_dispatch_finish(r); /* public endpoint: no tenant */
        } else {
            int a;
            weigh(w, r);
            pthread_mutex_lock(&w->mu);
            a = admit(w, r);
            pthread_mutex_unlock(&w->mu);
            if (a == ADMIT_PARKED)
                return 1;
            if (a == ADMIT_FULL) {
                tenant_busy(r);
            } else if (a == ADMIT_OOM) {
                srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
            } else if (r->low && !low) {
                /* Costly: a background worker runs it, with the slots it was given. */
                pthread_mutex_lock(&w->mu);
                push(w, r);
                pthread_mutex_unlock(&w->mu);
                return 1;
            } else {
                srv_dispatch_finish(r);
                pthread_mutex_lock(&w->mu);
                release(w, r);
                pthread_mutex_unlock(&w->mu);
            }
        }
    }
    r->handled = 1;
    /* From here on the request belongs to MHD's thread again (it may be freed at any time). */
    MHD_resume_connection(r->conn);
    return 0;
}

static void *worker_main(void *arg)
{
    srv_worker_arg *a = arg;
    srv_workers *w = a->w;
    int low = a->low;
    srv_request **head = low ? &w->low_head : &w->head;
    srv_request **tail = low ? &w->low_tail : &w->tail;
    pthread_cond_t *work = low ? &w->low_work : &w->work;

    free(a);
    if (low)
        (void)lm_thread_background(w->mem); /* for good: this thread only runs costly work */
    for (;;) {
        srv_request *r;
        int aborting;

        pthread_mutex_lock(&w->mu);
        while (*head == NULL && !w->stop)
            pthread_cond_wait(work, &w->mu);
        if (*head == NULL) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        r = *head;
        *head = r->next;
        if (*head == NULL)
            *tail = NULL;
        w->queued--;
        w->busy++;
        aborting = w->abort;
        pthread_mutex_unlock(&w->mu);

        run_one(w, r, aborting, low);

        pthread_mutex_lock(&w->mu);
        w->busy--;
        if (w->busy == 0 && w->head == NULL && w->low_head == NULL && w->tenants == NULL)
            pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

static int start_one(srv_workers *w, pthread_t *th, int low)
{
    srv_worker_arg *a = malloc(sizeof(*a));

    if (a == NULL)
        return -1;
    a->w = w;
    a->low = low;
    if (pthread_create(th, NULL, worker_main, a) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

int srv_workers_start(srv_workers **out, int n, int n_low, lm_memory *mem, int per_tenant,
                      int tenant_queue, long slot_cost, int search_slots)
{
    srv_workers *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL)
        return -1;
    w->per_tenant = per_tenant;
    w->tenant_queue = tenant_queue;
    w->slot_cost = slot_cost > 0 ? slot_cost : 1;
    w->search_slots = search_slots > 0 ? search_slots : per_tenant;
    w->mem = mem;
    w->threads = calloc((size_t)n, sizeof(*w->threads));
    w->low_threads = calloc((size_t)(n_low > 0 ? n_low : 1), sizeof(*w->low_threads));
    if (w->threads == NULL || w->low_threads == NULL) {
        free(w->threads);
        free(w->low_threads);
        free(w);
        return -1;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->low_work, NULL);
    pthread_cond_init(&w->idle, NULL);
    for (int i = 0; i < n; i++) {
        if (start_one(w, &w->threads[i], 0) != 0)
            break;
        w->n++;
    }
    for (int i = 0; i < n_low && w->n == n; i++) {
        if (start_one(w, &w->low_threads[i], 1) != 0)
            break;
        w->n_low++;
    }
    if (w->n < n || w->n_low < n_low) {
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
    push(w, r);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int srv_workers_search_budget(srv_workers *w, int *max)
{
    int n;
    pthread_mutex_lock(&w->mu);
    n = w->search_used;
    *max = w->search_slots;
    pthread_mutex_unlock(&w->mu);
    return n;
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
    while (w->busy > 0 || w->head != NULL || w->low_head != NULL || w->tenants != NULL)
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
    pthread_cond_broadcast(&w->low_work);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    for (int i = 0; i < w->n_low; i++)
        pthread_join(w->low_threads[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->low_work);
    pthread_cond_destroy(&w->idle);
    free(w->threads);
    free(w->low_threads);
    free(w);
}

/*
 * db/cancel.c: lm_cancel, cancelling a caller's work while it runs. A thread binds a handle
 * (lm_cancel_bind); every pooled connection the library takes on that thread is attached to it
 * until it goes back to the pool. lm_cancel_fire(), from any thread, marks the handle and sends
 * PostgreSQL a cancel request (PQcancel) for each attached connection, so a statement that is
 * running, or waiting for a lock, stops at once; a statement that has not started yet is refused
 * before it is sent. Either way the caller's call fails with LM_ECANCELED and its transaction is
 * rolled back: nothing is half-written.
 *
 * A cancel request that reaches the server after the statement ended is ignored by PostgreSQL
 * (it drops cancels that arrive while the session waits for a command), and a connection is
 * detached (under the handle's lock) before another caller can take it, so a late fire never
 * hits someone else's statement.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "db/db.h"
#include "error.h"
#include "llmemory/store.h"

/* Connections one thread holds at once (a tenant transaction, plus an admin one at most). */
#define CANCEL_SLOTS 4

struct lm_cancel {
    pthread_mutex_t mu;
    atomic_int fired;
    struct {
        PGconn *conn;
        PGcancel *pgc;
    } slot[CANCEL_SLOTS];
};

static _Thread_local lm_cancel *bound;

/* Which handle each attached connection belongs to, so that a connection released on any
   thread (or after its thread unbound the handle) is detached from the right one. */
#define ATTACHED_MAX 1024
static pthread_mutex_t attached_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    PGconn *conn;
    lm_cancel *cancel;
} attached[ATTACHED_MAX];
static atomic_int n_attached;

/* Record @p conn as @p c's (0), or -1 when the table is full. */
static int attached_put(PGconn *conn, lm_cancel *c)
{
    int rc = -1;

    pthread_mutex_lock(&attached_mu);
    for (int i = 0; i < ATTACHED_MAX && rc < 0; i++) {
        if (attached[i].conn == NULL) {
            attached[i].conn = conn;
            attached[i].cancel = c;
            atomic_fetch_add(&n_attached, 1);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&attached_mu);
    return rc;
}

/* The handle @p conn is attached to (the record is removed), or NULL. */
static lm_cancel *attached_take(PGconn *conn)
{
    lm_cancel *c = NULL;

    if (atomic_load(&n_attached) == 0)
        return NULL;
    pthread_mutex_lock(&attached_mu);
    for (int i = 0; i < ATTACHED_MAX && c == NULL; i++) {
        if (attached[i].conn == conn) {
            c = attached[i].cancel;
            attached[i].conn = NULL;
            attached[i].cancel = NULL;
            atomic_fetch_sub(&n_attached, 1);
        }
    }
    pthread_mutex_unlock(&attached_mu);
    return c;
}

int lm_cancel_new(lm_cancel **out)
{
    lm_cancel *c;

    if (out == NULL)
        return lm__error_set(LM_EINVAL, "no place for the cancel handle");
    *out = NULL;
    c = lm__calloc(1, sizeof(*c));
    if (c == NULL)
        return lm__error_set(LM_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->fired, 0);
    *out = c;
    return 0;
}

void lm_cancel_free(lm_cancel *c)
{
    if (c == NULL)
        return;
    if (bound == c)
        bound = NULL;
    for (int i = 0; i < CANCEL_SLOTS; i++) {
        if (c->slot[i].conn != NULL)
            (void)attached_take(c->slot[i].conn);
        PQfreeCancel(c->slot[i].pgc);
    }
    pthread_mutex_destroy(&c->mu);
    lm__free(c);
}

lm_cancel *lm_cancel_bind(lm_cancel *c)
{
    lm_cancel *prev = bound;

    bound = c;
    return prev;
}

int lm_cancel_fire(lm_cancel *c)
{
    char err[256];
    int sent = 0;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->fired, 1);
    for (int i = 0; i < CANCEL_SLOTS; i++)
        if (c->slot[i].pgc != NULL && PQcancel(c->slot[i].pgc, err, (int)sizeof(err)))
            sent++;
    pthread_mutex_unlock(&c->mu);
    return sent;
}

int lm_cancel_fired(const lm_cancel *c)
{
    return c != NULL && atomic_load_explicit(&c->fired, memory_order_seq_cst);
}

void lm_cancel_reset(lm_cancel *c)
{
    if (c != NULL)
        atomic_store(&c->fired, 0);
}

static int canceled(void)
{
    return lm__error_set(LM_ECANCELED, "request canceled");
}

int lm__cancel_check(void)
{
    return bound != NULL && atomic_load(&bound->fired) ? canceled() : 0;
}

int lm__cancel_fired_here(void)
{
    return bound != NULL && atomic_load(&bound->fired);
}

int lm__cancel_attach(PGconn *conn)
{
    lm_cancel *c = bound;
    int rc = 0;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    if (atomic_load(&c->fired)) {
        rc = -1;
    } else {
        for (int i = 0; i < CANCEL_SLOTS; i++) {
            if (c->slot[i].conn != NULL)
                continue;
            /* Without memory (or room) the statement is simply not cancellable. */
            c->slot[i].pgc = PQgetCancel(conn);
            if (c->slot[i].pgc != NULL && attached_put(conn, c) == 0) {
                c->slot[i].conn = conn;
            } else {
                PQfreeCancel(c->slot[i].pgc);
                c->slot[i].pgc = NULL;
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc < 0 ? canceled() : 0;
}

void lm__cancel_detach(PGconn *conn)
{
    lm_cancel *c = attached_take(conn);

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < CANCEL_SLOTS; i++) {
        if (c->slot[i].conn == conn) {
            PQfreeCancel(c->slot[i].pgc);
            c->slot[i].pgc = NULL;
            c->slot[i].conn = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

/*
 * db/pool.c: a fixed-size libpq connection pool shared by threads (mutex + condition variable).
 * Connections are opened lazily and configured once (UTC, ISO dates, no JIT, timeouts).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "db/db.h"
#include "error.h"

int lm__pool_init(lm__pool *pool, const char *conninfo, int size, int connect_timeout_s)
{
    memset(pool, 0, sizeof(*pool));
    pool->size = size > 0 ? size : 4;
    pool->connect_timeout_s = connect_timeout_s > 0 ? connect_timeout_s : 10;
    pool->conninfo = lm__strdup(conninfo);
    pool->idle = lm__calloc((size_t)pool->size, sizeof(PGconn *));
    if (pool->conninfo == NULL || pool->idle == NULL) {
        lm__free(pool->conninfo);
        lm__free(pool->idle);
        return LM_ENOMEM;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    return 0;
}

void lm__pool_init_shared(lm__pool *pool, lm__pool *shared)
{
    memset(pool, 0, sizeof(*pool));
    pool->shared = shared;
}

void lm__pool_dispose(lm__pool *pool)
{
    if (pool->shared != NULL) {
        memset(pool, 0, sizeof(*pool));
        return;
    }
    if (pool->idle == NULL)
        return;
    for (int i = 0; i < pool->n_idle; i++)
        PQfinish(pool->idle[i]);
    lm__free(pool->idle);
    lm__free(pool->conninfo);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    memset(pool, 0, sizeof(*pool));
}

static int connect_one(PGconn **out, lm__pool *pool)
{
    char timeout[16], options[256];
    snprintf(timeout, sizeof(timeout), "%d", pool->connect_timeout_s);
    snprintf(options, sizeof(options),
             "-c TimeZone=UTC -c DateStyle=ISO -c jit=off -c client_min_messages=warning "
             "-c idle_in_transaction_session_timeout=60000 -c statement_timeout=%d",
             pool->statement_timeout_ms);
    /* dbname carries the URL or conninfo (expand_dbname); the rest are our session defaults. */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
    const char *vals[] = {pool->conninfo, timeout, "llmemory", options, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL)
        return lm__error_set(LM_ENOMEM, "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(c);
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        lm__error_set(LM_ECONN, "could not connect to the database");
        lm__error_detail("%.*s", (int)n, msg);
        PQfinish(c);
        return LM_ECONN;
    }
    if (PQserverVersion(c) < 130000) {
        lm__error_set(LM_ECONN, "could not use the database: PostgreSQL %d is too old",
                      PQserverVersion(c) / 10000);
        lm__error_hint("llmemory needs PostgreSQL 13 or newer.");
        PQfinish(c);
        return LM_ECONN;
    }
    if (lm__db_conn_setup(c, pool->no_prepare) < 0) {
        PQfinish(c);
        return LM_ENOMEM;
    }
    *out = c;
    return 0;
}

/* Hand @p *out to a caller whose lm_cancel may have fired already: then it goes back. */
static int attach(PGconn **out, lm__pool *pool)
{
    int rc = lm__cancel_attach(*out);

    if (rc < 0) {
        lm__pool_release(pool, *out);
        *out = NULL;
    }
    return rc;
}

int lm__pool_acquire(PGconn **out, lm__pool *pool)
{
    *out = NULL;
    if (pool->shared != NULL)
        pool = pool->shared;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        if (pool->n_idle > 0) {
            *out = pool->idle[--pool->n_idle];
            pthread_mutex_unlock(&pool->mu);
            if (PQstatus(*out) == CONNECTION_OK)
                return attach(out, pool);
            /* A connection the server dropped while idle: replace it. */
            PQfinish(*out);
            *out = NULL;
            pthread_mutex_lock(&pool->mu);
            pool->open--;
            continue;
        }
        if (pool->open < pool->size) {
            pool->open++;
            pthread_mutex_unlock(&pool->mu);
            int rc = connect_one(out, pool);
            if (rc == 0)
                return attach(out, pool);
            if (rc < 0) {
                pthread_mutex_lock(&pool->mu);
                pool->open--;
                pthread_cond_signal(&pool->cv);
                pthread_mutex_unlock(&pool->mu);
            }
            return rc;
        }
        pthread_cond_wait(&pool->cv, &pool->mu);
    }
}

void lm__pool_release(lm__pool *pool, PGconn *conn)
{
    if (conn == NULL)
        return;
    lm__cancel_detach(conn);
    if (pool->shared != NULL)
        pool = pool->shared;
    int healthy = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
    pthread_mutex_lock(&pool->mu);
    if (healthy && pool->n_idle < pool->size) {
        pool->idle[pool->n_idle++] = conn;
        conn = NULL;
    } else {
        pool->open--;
    }
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    if (conn != NULL)
        PQfinish(conn);
}

void lm__pool_discard(lm__pool *pool, PGconn *conn)
{
    if (conn == NULL)
        return;
    lm__cancel_detach(conn);
    if (pool->shared != NULL)
        pool = pool->shared;
    pthread_mutex_lock(&pool->mu);
    pool->open--;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    PQfinish(conn);
}

/*
 * db/pool.c: a fixed-size libpq connection pool shared by threads (mutex + condition variable).
 * Connections are opened lazily and configured once (UTC, ISO dates, no JIT, timeouts).
 *
 * Background connections: the work of a thread that runs at a lower CPU priority (a raised
 * nice: the library's background threads, the server's costly requests) is mostly done by its
 * PostgreSQL backend, which would otherwise compete with everyone's cheap queries at full
 * priority. So a thread whose nice is above the process's gets a connection of its own kind,
 * whose backend was given the background nice once, when it was opened; the other threads never
 * get one. The backend is reniced only when it is provably on this machine (a Unix socket, a
 * process named postgres) and we may (our own processes, or as root); otherwise the connection
 * is kept apart all the same and runs as it is. Under the kernel's autogroup each backend is a
 * CPU group of its own (PostgreSQL's children call setsid()), so its group's nice is set too.
 * Background connections take at most half of the pool (a thread holding one already may take
 * more), so that cheap work never waits for all the connections to be held by low-priority work;
 * a kind with none idle closes an idle one of the other kind when the pool is full.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "db/db.h"
#include "error.h"
#include "prio.h"

/* $LLMEMORY_PREFAULT: unset, empty, 1 or on: prefault new backends (below); 0 or off: not. */
static int prefault_env(int *out)
{
    const char *v = getenv("LLMEMORY_PREFAULT");
    *out = 1;
    if (v == NULL || v[0] == '\0' || strcmp(v, "1") == 0 || strcmp(v, "on") == 0)
        return 0;
    if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0) {
        *out = 0;
        return 0;
    }
    lm__error_set(LM_EINVAL, "invalid $LLMEMORY_PREFAULT \"%.40s\"", v);
    lm__error_hint("Give on or off (1 or 0).");
    return LM_EINVAL;
}

int lm__pool_init(lm__pool *pool, const char *conninfo, int size, int connect_timeout_s)
{
    int prefault, rc;
    if ((rc = prefault_env(&prefault)) < 0)
        return rc;
    memset(pool, 0, sizeof(*pool));
    pool->size = size > 0 ? size : 4;
    pool->prefault_left = prefault ? pool->size : 0;
    pool->connect_timeout_s = connect_timeout_s > 0 ? connect_timeout_s : 10;
    pool->conninfo = lm__strdup(conninfo);
    pool->idle = lm__calloc((size_t)pool->size, sizeof(PGconn *));
    pool->low = lm__calloc((size_t)pool->size, sizeof(PGconn *));
    if (pool->conninfo == NULL || pool->idle == NULL || pool->low == NULL) {
        lm__free(pool->conninfo);
        lm__free(pool->idle);
        lm__free(pool->low);
        return LM_ENOMEM;
    }
    pool->base_nice = lm__nice_base();
    pool->low_max = pool->size / 2 > 0 ? pool->size / 2 : 1;
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
    lm__free(pool->low);
    lm__free(pool->conninfo);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    memset(pool, 0, sizeof(*pool));
}

/* Map the database server's resident shared buffers into a new backend's page table (the first
   connection of each place of the pool, below):
   llmemory_prefault_buffers() of the llmemory_bm25 extension, when the database has it (1.2 or
   newer). Otherwise the backend faults each buffer in on its first touch, which cost a tenant's
   first vector search on a connection 1-2 ms per 1,000 buffers of its graph (bench/RESULTS.md
   §10); this costs the connection's opening about 60 ms per GB of buffers in use, and the backend
   its page table. Failures are ignored: the connection works as it is. 1 when done. */
static int prefault_backend(PGconn *c)
{
    static const char find[] =
        "SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
        " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
        " JOIN pg_catalog.pg_proc p ON p.pronamespace = e.extnamespace"
        "  AND p.proname = 'llmemory_prefault_buffers' AND p.pronargs = 0"
        " WHERE e.extname = 'llmemory_bm25'";
    char sql[160];
    int done = 0;

    PGresult *r = PQexec(c, find);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
        (size_t)snprintf(sql, sizeof(sql), "SELECT %s.llmemory_prefault_buffers()",
                         PQgetvalue(r, 0, 0)) < sizeof(sql)) {
        PQclear(r);
        r = PQexec(c, sql);
        done = PQresultStatus(r) == PGRES_TUPLES_OK;
    }
    PQclear(r);
    return done;
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

int lm__pool_bg_nice(const lm__pool *pool)
{
    if (pool->shared != NULL)
        pool = pool->shared;
    return pool->bg_nice;
}

int lm__pool_bg_level(const lm__pool *pool)
{
    if (pool->shared != NULL)
        pool = pool->shared;
    return pool->base_nice + pool->bg_nice > 19 ? 19 : pool->base_nice + pool->bg_nice;
}

int lm__db_backend_local(const char *host, int pid)
{
    char path[64], name[32];
    FILE *f;
    size_t n;

    if (host == NULL || host[0] != '/' || pid <= 0)
        return 0; /* TCP (or an abstract socket): the pid may be another machine's */
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    n = fread(name, 1, sizeof(name) - 1, f);
    fclose(f);
    name[n] = '\0';
    if (strcmp(name, "postgres\n") == 0)
        return 1;
    /* Started under another name: its process title ("postgres: user db [local] ..."). */
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    n = fread(name, 1, 9, f);
    fclose(f);
    return n == 9 && memcmp(name, "postgres:", 9) == 0;
}

/* Give a new background connection's backend the background nice, when it is local; how many
   settings were made (its nice, its autogroup's). Failures (a server of another user while we
   are not root, a backend gone) are quietly ignored: the connection works as it is. Called
   without the pool's lock: the autogroup's setting may wait (lm__autogroup_nice_set_pid). */
static int renice_backend(const lm__pool *pool, PGconn *c)
{
    int pid = PQbackendPID(c), done = 0;
    int nice = lm__pool_bg_level(pool);

    if (!lm__db_backend_local(PQhost(c), pid))
        return 0;
    /* Only ever lower its priority (a server already nicer than that stays so). */
    if (lm__nice_of_pid(pid) < nice && lm__nice_set_pid(pid, nice) == 0)
        done++;
    /* Under the kernel's autogroup the backend is a group of its own, and its own nice weighs
       only inside it: the group's nice is what competes with the other backends and the
       server (bench/abuse: noisy_search and big_adds 3.6-4.4x the quiet p95 without it). */
    done += lm__autogroup_lower(pid, nice);
    return done;
}

static int is_low(const lm__pool *pool, const PGconn *c)
{
    for (int i = 0; i < pool->n_low; i++)
        if (pool->low[i] == c)
            return 1;
    return 0;
}

/* @p c is closed or about to be: forget it. Called with pool->mu held. */
static void forget_conn(lm__pool *pool, PGconn *c)
{
    for (int i = 0; i < pool->n_low; i++) {
        if (pool->low[i] == c) {
            pool->low[i] = pool->low[--pool->n_low];
            break;
        }
    }
    pool->open--;
}

/* Connections the calling thread holds (of any pool): a background thread that holds one
   already may pass the cap of its kind, so that work taking a second connection never waits
   for itself. */
static _Thread_local int held_here;

/* Hand @p *out to a caller whose lm_cancel may have fired already: then it goes back. */
static int attach(PGconn **out, lm__pool *pool)
{
    int rc = lm__cancel_attach(*out);

    held_here++;
    if (rc < 0) {
        lm__pool_release(pool, *out);
        *out = NULL;
    }
    return rc;
}

/* An idle connection of the kind @p low, taken from the list, or NULL. Called with pool->mu. */
static PGconn *take_idle(lm__pool *pool, int low)
{
    for (int i = pool->n_idle - 1; i >= 0; i--) {
        PGconn *c = pool->idle[i];
        if (is_low(pool, c) == low) {
            pool->idle[i] = pool->idle[--pool->n_idle];
            return c;
        }
    }
    return NULL;
}

int lm__pool_acquire(PGconn **out, lm__pool *pool)
{
    *out = NULL;
    if (pool->shared != NULL)
        pool = pool->shared;
    int low = pool->bg_nice > 0 && lm__nice_self() > pool->base_nice;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        PGconn *c = take_idle(pool, low);
        if (c != NULL) {
            *out = c;
            if (PQstatus(c) == CONNECTION_OK) {
                pthread_mutex_unlock(&pool->mu);
                return attach(out, pool);
            }
            /* A connection the server dropped while idle: replace it. */
            forget_conn(pool, c);
            pthread_mutex_unlock(&pool->mu);
            PQfinish(c);
            *out = NULL;
            pthread_mutex_lock(&pool->mu);
            continue;
        }
        if (low && pool->n_low >= pool->low_max && held_here == 0) {
            pthread_cond_wait(&pool->cv, &pool->mu);
            continue;
        }
        if (pool->open >= pool->size && pool->n_idle > 0) {
            /* Full, and only the other kind idle: close one to open ours. */
            c = pool->idle[--pool->n_idle];
            forget_conn(pool, c);
            pthread_mutex_unlock(&pool->mu);
            PQfinish(c);
            pthread_mutex_lock(&pool->mu);
        }
        if (pool->open < pool->size) {
            pool->open++;
            if (low)
                pool->low[pool->n_low++] = NULL; /* the place is kept while connecting */
            /* Prefaulting costs up to ~60 ms per GB of buffers: only the first connection of
               each place of the pool pays it, not the ones that replace a connection closed for
               the other kind or dropped (a server's mix of cheap and costly requests can close
               and reopen connections often). */
            int pf = pool->prefault_left > 0;
            if (pf)
                pool->prefault_left--;
            pthread_mutex_unlock(&pool->mu);
            int rc = connect_one(out, pool);
            int reniced = rc == 0 && low ? renice_backend(pool, *out) : 0;
            int prefaulted = rc == 0 && pf ? prefault_backend(*out) : 0;
            pthread_mutex_lock(&pool->mu);
            pool->reniced += reniced;
            pool->prefaulted += prefaulted;
            if (pf && !prefaulted)
                pool->prefault_left++; /* not done (no extension yet, no connection): later */
            if (low) {
                for (int i = 0; i < pool->n_low; i++)
                    if (pool->low[i] == NULL) {
                        if (rc == 0)
                            pool->low[i] = *out;
                        else
                            pool->low[i] = pool->low[--pool->n_low];
                        break;
                    }
            }
            if (rc < 0) {
                pool->open--;
                pthread_cond_broadcast(&pool->cv);
            }
            pthread_mutex_unlock(&pool->mu);
            if (rc == 0)
                return attach(out, pool);
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
    if (held_here > 0)
        held_here--;
    if (pool->shared != NULL)
        pool = pool->shared;
    int healthy = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
    pthread_mutex_lock(&pool->mu);
    if (healthy && pool->n_idle < pool->size) {
        pool->idle[pool->n_idle++] = conn;
        conn = NULL;
    } else {
        forget_conn(pool, conn);
    }
    /* Every waiter: the one that can use what was freed may be any of them (its kind). */
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    if (conn != NULL)
        PQfinish(conn);
}

void lm__pool_discard(lm__pool *pool, PGconn *conn)
{
    if (conn == NULL)
        return;
    lm__cancel_detach(conn);
    if (held_here > 0)
        held_here--;
    if (pool->shared != NULL)
        pool = pool->shared;
    pthread_mutex_lock(&pool->mu);
    forget_conn(pool, conn);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    PQfinish(conn);
}

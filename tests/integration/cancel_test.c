/*
 * tests/integration/cancel_test.c: lm_cancel stops a caller's database work while it runs. A
 * search that waits for a lock another session holds (a statement slow on purpose, without any
 * hook in the library) ends with LM_ECANCELED as soon as its handle fires, its connection goes
 * back to the pool in a usable state, and a handle that fired before the work started refuses
 * it before anything reaches the database, so nothing is half-written.
 */
#define _DEFAULT_SOURCE
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/memory.h"
#include "db/db.h"
#include "support.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct job {
    lm_memory *m;
    lm_cancel *cancel;
    int rc;
    double ms;
} job;

static void *run_search(void *arg)
{
    job *j = arg;
    lm_results *r = NULL;
    double t0 = now_ms();

    lm_cancel_bind(j->cancel);
    j->rc = lm_search(&r, j->m, "owner-c", "quokka", NULL);
    lm_cancel_bind(NULL);
    lm_results_free(r);
    j->ms = now_ms() - t0;
    return NULL;
}

/* Backends of this database that wait for a lock (the view's snapshot is dropped first: it
   would otherwise stay the same for the rest of @p c's transaction). */
static int lock_waiters(PGconn *c)
{
    PQclear(PQexec(c, "SELECT pg_stat_clear_snapshot()"));
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()");
    int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

TEST(test_cancel__fires_a_running_statement)
{
    lm_memory *m = test_memory();
    lm_cancel *cancel = NULL;
    PGconn *locker = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    char sql[256];
    pthread_t th;
    job j = {.m = m};

    test_add(m, "owner-c", "q", "the quokka smiles", NULL);
    ASSERT_OK(lm_cancel_new(&cancel));
    j.cancel = cancel;
    ASSERT(PQstatus(locker) == CONNECTION_OK);
    snprintf(sql, sizeof(sql), "BEGIN; LOCK TABLE %s.chunks, %s.documents IN ACCESS EXCLUSIVE MODE",
             m->db.qschema, m->db.qschema);
    PQclear(PQexec(locker, sql));
    ASSERT(PQtransactionStatus(locker) == PQTRANS_INTRANS);

    ASSERT(pthread_create(&th, NULL, run_search, &j) == 0);
    /* The search is blocked behind the lock... */
    for (int i = 0; i < 200 && lock_waiters(locker) < 1; i++)
        usleep(20 * 1000);
    ASSERT_EQ_INT(lock_waiters(locker), 1);
    /* ... until its handle fires: then it ends at once, with the lock still held. */
    ASSERT_EQ_INT(lm_cancel_fire(cancel), 1);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(j.rc, LM_ECANCELED);
    ASSERT(strstr(lm_strerror(j.rc), "cancel") != NULL);
    ASSERT_EQ_INT(lock_waiters(locker), 0);
    ASSERT(lm_cancel_fired(cancel));
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);

    /* Reset, the same handle lets work through again, on the pool's connections. */
    lm_cancel_reset(cancel);
    ASSERT(!lm_cancel_fired(cancel));
    j.rc = -99;
    run_search(&j);
    ASSERT_OK(j.rc);
    lm_cancel_free(cancel);
    lm_memory_close(m);
}

TEST(test_cancel__fired_before_work_refuses_it)
{
    lm_memory *m = test_memory();
    lm_cancel *cancel = NULL;
    lm_doc_page *page = NULL;
    lm_results *r = NULL;

    ASSERT_OK(lm_cancel_new(&cancel));
    ASSERT_EQ_INT(lm_cancel_fire(cancel), 0); /* nothing attached: nothing signalled */
    ASSERT(lm_cancel_bind(cancel) == NULL);
    ASSERT_EQ_INT(lm_search(&r, m, "owner-d", "anything", NULL), LM_ECANCELED);
    ASSERT(r == NULL);
    lm_doc_add_result added;
    const char *text = "words that must not be stored";
    ASSERT_EQ_INT(lm_doc_add(&added, m, "owner-d", "x", "x", LM_DOC_TEXT, text, strlen(text), NULL),
                  LM_ECANCELED);
    ASSERT(lm_cancel_bind(NULL) == cancel);
    /* Unbound, the thread works as before, and the add above left nothing behind. */
    ASSERT_OK(lm_doc_list(&page, m, "owner-d", NULL));
    ASSERT_EQ_INT((int)lm_doc_page_count(page), 0);
    lm_doc_page_free(page);
    lm_cancel_free(cancel);
    lm_memory_close(m);
}

TEST(test_cancel__a_sleeping_statement)
{
    lm_memory *m = test_memory();
    lm_cancel *cancel = NULL;
    PGconn *c = NULL;
    double t0;

    ASSERT_OK(lm_cancel_new(&cancel));
    lm_cancel_bind(cancel);
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    /* Fired from this thread before the statement: refused without a round trip. */
    lm_cancel_fire(cancel);
    t0 = now_ms();
    ASSERT_EQ_INT(lm__db_exec(NULL, c, "SELECT pg_sleep(5)", 0, NULL), LM_ECANCELED);
    ASSERT(now_ms() - t0 < 1000);
    lm__pool_release(&m->db.pool, c);
    lm_cancel_bind(NULL);
    lm_cancel_free(cancel);
    lm_memory_close(m);
}

/*
 * tests/integration/concurrency_test.c: one lm_memory shared by threads (the pool), concurrent
 * writers of one tenant (no deadlock, statistics exact afterwards), concurrent openers of one
 * schema (migrations applied once), tenants whose 32-bit hashtext() collides not sharing a
 * write lock.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "support.h"

typedef struct {
    lm_memory *m;
    int id;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    char origin[32], text[256];
    for (int i = 0; i < 20; i++) {
        /* Overlapping origins across threads: re-indexes race with adds and deletes. */
        snprintf(origin, sizeof(origin), "doc-%d", (a->id * 7 + i) % 25);
        snprintf(text, sizeof(text), "shared words alpha beta %d gamma delta thread %d item %d",
                 i % 5, a->id, i);
        if (lm_doc_add(NULL, a->m, "busy", origin, origin, LM_DOC_TEXT, text, strlen(text), NULL) < 0)
            a->failures++;
        lm_results *r = NULL;
        if (lm_search(&r, a->m, "busy", "alpha gamma", NULL) < 0)
            a->failures++;
        lm_results_free(r);
        if (i % 7 == 3) {
            lm_id_list *ids = NULL;
            if (lm_doc_delete(&ids, a->m, "busy", NULL, 0, "{\"never\":\"matches\"}") < 0)
                a->failures++;
            lm_id_list_free(ids);
        }
    }
    return NULL;
}

/* Recount the statistics from the chunks and compare with what the triggers maintained. */
static void check_stats_exact(const char *schema, const char *owner)
{
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM \"%s\".chunks WHERE owner_id = $1 AND searchable)"
             "       = (SELECT chunk_count FROM \"%s\".tenant_stats WHERE owner_id = $1),"
             "       (SELECT coalesce(sum(doc_len), 0) FROM \"%s\".chunks WHERE owner_id = $1 AND searchable)"
             "       = (SELECT total_len FROM \"%s\".tenant_stats WHERE owner_id = $1),"
             "       NOT EXISTS (SELECT 1 FROM (SELECT u AS lexeme, count(*) AS df FROM \"%s\".chunks c,"
             "           unnest(tsvector_to_array(c.search_vector)) u"
             "           WHERE c.owner_id = $1 AND c.searchable GROUP BY u) x"
             "         FULL JOIN (SELECT lexeme, df FROM \"%s\".term_stats WHERE owner_id = $1) t"
             "           USING (lexeme) WHERE x.df IS DISTINCT FROM t.df),"
             "       (SELECT count(*) FROM \"%s\".postings WHERE owner_id = $1)"
             "       = (SELECT coalesce(sum(df), 0) FROM \"%s\".term_stats WHERE owner_id = $1)",
             schema, schema, schema, schema, schema, schema, schema, schema);
    const char *params[] = {owner};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_STR(PQgetvalue(r, 0, i), "t");
    PQclear(r);
    PQfinish(c);
}

TEST(test_concurrency__threads_share_one_memory)
{
    lm_test_timeout(180);
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.pool_size = 3; /* fewer connections than threads: callers must wait, not fail */
    lm_memory *m = test_memory_opts(&o);
    char schema[64];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    pthread_t t[6];
    worker_arg args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (worker_arg){m, i, 0};
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ_INT(args[i].failures, 0);
    }
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, "busy"));
    ASSERT_EQ_INT(st.document_count, 25);
    check_stats_exact(schema, "busy");
    lm_memory_close(m);
}

typedef struct {
    const char *schema;
    int rc;
} opener_arg;

static void *opener(void *p)
{
    opener_arg *a = p;
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = a->schema;
    lm_memory *m = NULL;
    a->rc = lm_memory_open(&m, &o);
    lm_memory_close(m);
    return NULL;
}

TEST(test_concurrency__concurrent_open_migrates_once)
{
    char schema[64];
    snprintf(schema, sizeof(schema), "race_%ld", (long)getpid());
    pthread_t t[4];
    opener_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (opener_arg){schema, -1};
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, opener, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ_INT(a[i].rc, 0);
    }
}

/* Two owner ids with equal hashtext(), found once with
   SELECT h, array_agg(s) FROM (SELECT 'tenant-' || g s, hashtext('tenant-' || g) h
   FROM generate_series(1, 300000) g) x GROUP BY h HAVING count(*) > 1. */
#define COLLIDE_A "tenant-60489"
#define COLLIDE_B "tenant-120827"

typedef struct {
    lm_memory *m;
    const char *owner;
    volatile int done;
    int rc;
} adder_arg;

static void *adder(void *p)
{
    adder_arg *a = p;
    a->rc = lm_doc_add(NULL, a->m, a->owner, "o", "o", LM_DOC_TEXT, "locked words", 12, NULL);
    __atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int wait_done(adder_arg *a, int ms)
{
    for (int i = 0; i < ms / 10 && !__atomic_load_n(&a->done, __ATOMIC_SEQ_CST); i++)
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
    return __atomic_load_n(&a->done, __ATOMIC_SEQ_CST);
}

TEST(test_concurrency__colliding_owners_do_not_share_a_lock)
{
    lm_test_timeout(120);
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.pool_size = 3;
    lm_memory *m = test_memory_opts(&o);
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    const char *pa[] = {COLLIDE_A, COLLIDE_B};
    PGresult *r = PQexecParams(c, "SELECT hashtext($1) = hashtext($2)", 2, NULL, pa, NULL, NULL, 0);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "t"); /* the pinned pair really collides */
    PQclear(r);
    /* Hold A's writer lock, exactly as the library takes it. */
    PQclear(PQexec(c, "BEGIN"));
    r = PQexecParams(c, "SELECT " LM__TENANT_LOCK_SQL, 1, NULL, pa, NULL, NULL, 0);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);

    /* B writes while A's lock is held. */
    adder_arg b = {m, COLLIDE_B, 0, -1};
    pthread_t tb;
    ASSERT_EQ_INT(pthread_create(&tb, NULL, adder, &b), 0);
    int b_done = wait_done(&b, 20000);
    /* A's own writer does wait: the lock held above is the one the library takes. */
    adder_arg a = {m, COLLIDE_A, 0, -1};
    pthread_t ta;
    ASSERT_EQ_INT(pthread_create(&ta, NULL, adder, &a), 0);
    int a_done_early = wait_done(&a, 1000);
    PQclear(PQexec(c, "COMMIT"));
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    PQfinish(c);
    lm_memory_close(m);
    ASSERT(b_done);
    ASSERT_EQ_INT(b.rc, 0);
    ASSERT(!a_done_early);
    ASSERT_EQ_INT(a.rc, 0);
}

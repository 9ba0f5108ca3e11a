/*
 * tests/integration/concurrency_test.c: one lm_memory shared by threads (the pool), concurrent
 * writers of one tenant (no deadlock, statistics exact afterwards), concurrent openers of one
 * schema (migrations applied once).
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/*
 * tests/integration/quota_test.c: per-tenant storage quotas. Writers racing at the boundary
 * never overshoot; a refused write leaves nothing; overrides beat defaults; one tenant's quota
 * never touches another.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

typedef struct {
    char buf[65536];
    size_t n, pos;
} mem_stream;

static int ms_write(const char *data, size_t len, void *payload)
{
    mem_stream *s = payload;
    ASSERT(s->n + len < sizeof(s->buf));
    memcpy(s->buf + s->n, data, len);
    s->n += len;
    return 0;
}

static long ms_read(char *buf, size_t cap, void *payload)
{
    mem_stream *s = payload;
    size_t k = s->n - s->pos < cap ? s->n - s->pos : cap;
    memcpy(buf, s->buf + s->pos, k);
    s->pos += k;
    return (long)k;
}

typedef struct {
    lm_memory *m;
    int id;
    int ok, limited, other;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (int k = 0; k < 3; k++) {
        char origin[32], text[96];
        lm_doc_add_result res;
        snprintf(origin, sizeof(origin), "w%d-%d", r->id, k);
        snprintf(text, sizeof(text), "Racer %d document %d about quotas and limits.", r->id, k);
        int rc = lm_doc_add(&res, r->m, "racy", origin, origin, LM_DOC_TEXT, text, strlen(text),
                            NULL);
        if (rc == 0)
            r->ok++;
        else if (rc == LM_ELIMIT)
            r->limited++;
        else
            r->other++;
    }
    return NULL;
}

TEST(test_quota__racing_writers_never_overshoot)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_quota q = {10, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT};
    lm_quota_status st;
    lm_stats s;
    pthread_t t[8];
    racer r[8];
    int ok = 0, limited = 0;
    mo.pool_size = 8;
    lm_memory *m = test_memory_opts(&mo);
    ASSERT_OK(lm_quota_set(m, "racy", &q));
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){m, i, 0, 0, 0};
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].ok;
        limited += r[i].limited;
        ASSERT_EQ_INT(r[i].other, 0);
    }
    ASSERT_EQ_INT(ok, 10);
    ASSERT_EQ_INT(limited, 14);
    ASSERT_OK(lm_stats_get(&s, m, "racy"));
    ASSERT_EQ_INT(s.document_count, 10);
    ASSERT_OK(lm_quota_get(&st, m, "racy"));
    ASSERT_EQ_INT(st.usage.documents, 10);
    ASSERT_EQ_INT(st.usage.chunks, s.chunk_count);
    ASSERT_EQ_INT(st.usage.bytes, s.total_bytes);
    ASSERT_EQ_INT(st.limit.documents, 10);
    ASSERT_EQ_INT(st.override.chunks, LM_QUOTA_DEFAULT);
    ASSERT_EQ_INT(st.limit.chunks, LM_QUOTA_NONE);
    lm_memory_close(m);
}

TEST(test_quota__refused_write_leaves_nothing)
{
    lm_memory *m = test_memory();
    lm_quota q = {LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT, 100, LM_QUOTA_DEFAULT};
    lm_quota_status st;
    lm_doc_add_result res;
    lm_doc *d = NULL;
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 19; i++)
        big[i * 10 + 5] = ' ';
    ASSERT_OK(lm_quota_set(m, "t", &q));
    test_add(m, "t", "small", "Sixty bytes of text that fit in the quota of one hundred.", NULL);
    ASSERT_ERR(lm_doc_add(&res, m, "t", "big", "big", LM_DOC_TEXT, big, strlen(big), NULL),
               LM_ELIMIT);
    ASSERT_EQ_STR(lm_error_last()->field, "bytes");
    ASSERT(strstr(lm_error_last()->detail, "limit is 100 bytes") != NULL);
    ASSERT_ERR(lm_doc_get_by_origin(&d, m, "t", "big", 0), LM_ENOTFOUND);
    ASSERT_OK(lm_quota_get(&st, m, "t"));
    ASSERT_EQ_INT(st.usage.documents, 1);
    /* Growing an existing document past the limit fails and keeps the old version ... */
    ASSERT_ERR(lm_doc_add(&res, m, "t", "small", "small", LM_DOC_TEXT, big, strlen(big), NULL),
               LM_ELIMIT);
    ASSERT_OK(lm_doc_get_by_origin(&d, m, "t", "small", 1));
    ASSERT(strstr(lm_doc_chunk_at(d, 0)->content, "Sixty bytes") != NULL);
    lm_doc_free(d);
    /* ... a limit lowered below the usage still lets a document shrink ... */
    q.bytes = 10;
    ASSERT_OK(lm_quota_set(m, "t", &q));
    test_add(m, "t", "small", "Shorter now.", NULL);
    /* ... and another tenant is not limited at all. */
    ASSERT_OK(lm_doc_add(&res, m, "other", "big", "big", LM_DOC_TEXT, big, strlen(big), NULL));
    /* An import past the limit is refused as a whole. */
    q.bytes = LM_QUOTA_NONE;
    q.documents = 1;
    ASSERT_OK(lm_quota_set(m, "imp", &q));
    ASSERT_OK(lm_quota_get(&st, m, "imp"));
    ASSERT_EQ_INT(st.limit.bytes, LM_QUOTA_NONE);
    {
        static mem_stream ms;
        lm_import_result ir;
        test_add(m, "other", "second", "A second document of the other tenant.", NULL);
        ASSERT_OK(lm_tenant_export(NULL, m, "other", NULL, ms_write, &ms));
        ASSERT_ERR(lm_tenant_import(&ir, m, "imp", NULL, ms_read, &ms), LM_ELIMIT);
        ASSERT_OK(lm_quota_get(&st, m, "imp"));
        ASSERT_EQ_INT(st.usage.documents, 0);
        ms.pos = 0;
        ASSERT_OK(lm_tenant_import(&ir, m, "imp2", NULL, ms_read, &ms));
        ASSERT_EQ_INT(ir.counts.documents, 2);
    }
    q.documents = -7;
    ASSERT_ERR(lm_quota_set(m, "imp", &q), LM_EINVAL);
    ASSERT_ERR(lm_quota_set(m, "bad owner!", &q), LM_EINVAL);
    lm_memory_close(m);
}

TEST(test_quota__defaults_and_overrides)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_quota q = {LM_QUOTA_NONE, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT};
    lm_quota_status st;
    lm_doc_add_result res;
    mo.quota_documents = 2;
    lm_memory *m = test_memory_opts(&mo);
    test_add(m, "a", "1", "one", NULL);
    test_add(m, "a", "2", "two", NULL);
    ASSERT_ERR(lm_doc_add(&res, m, "a", "3", "3", LM_DOC_TEXT, "three", 5, NULL), LM_ELIMIT);
    ASSERT_EQ_STR(lm_error_last()->field, "documents");
    /* Re-adding an existing document is no new document. */
    test_add(m, "a", "2", "two again", NULL);
    ASSERT_OK(lm_quota_set(m, "a", &q));
    test_add(m, "a", "3", "three", NULL);
    ASSERT_OK(lm_quota_get(&st, m, "a"));
    ASSERT_EQ_INT(st.limit.documents, LM_QUOTA_NONE);
    ASSERT_EQ_INT(st.usage.documents, 3);
    ASSERT(st.usage.vectors >= 3);
    /* Back to the default. */
    q.documents = LM_QUOTA_DEFAULT;
    ASSERT_OK(lm_quota_set(m, "a", &q));
    ASSERT_OK(lm_quota_get(&st, m, "a"));
    ASSERT_EQ_INT(st.limit.documents, 2);
    /* Deleting brings usage down exactly. */
    lm_tenant_erase(NULL, m, "a");
    ASSERT_OK(lm_quota_get(&st, m, "a"));
    ASSERT_EQ_INT(st.usage.documents, 0);
    ASSERT_EQ_INT(st.override.documents, LM_QUOTA_DEFAULT);
    lm_memory_close(m);
}

TEST(test_quota__usage_of_every_tenant)
{
    lm_memory *m = test_memory();
    lm_quota q = {2, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT};
    lm_usage_list *l = NULL;
    lm_results *res = NULL;
    lm_usage_sort sort;
    test_add(m, "small", "1", "tiny", NULL);
    test_add(m, "big", "1", "a much longer document about many things and more", NULL);
    test_add(m, "big", "2", "and another one about other things", NULL);
    ASSERT_OK(lm_quota_set(m, "big", &q));
    ASSERT_OK(lm_search(&res, m, "small", "tiny", NULL));
    lm_results_free(res);
    ASSERT_OK(lm_usage_sort_parse(&sort, "bytes"));
    ASSERT_OK(lm_usage_list_get(&l, m, sort, 10));
    ASSERT_EQ_INT(lm_usage_list_count(l), 2);
    ASSERT_EQ_STR(lm_usage_list_at(l, 0)->owner_id, "big");
    ASSERT_EQ_INT(lm_usage_list_at(l, 0)->usage.documents, 2);
    ASSERT_EQ_INT(lm_usage_list_at(l, 0)->adds_today, 2);
    ASSERT_EQ_INT(lm_usage_list_at(l, 0)->limit.documents, 2);
    ASSERT_EQ_STR(lm_usage_list_at(l, 0)->near_limit, "documents");
    ASSERT_EQ_STR(lm_usage_list_at(l, 1)->owner_id, "small");
    ASSERT_EQ_INT(lm_usage_list_at(l, 1)->searches_today, 1);
    ASSERT(lm_usage_list_at(l, 1)->near_limit == NULL);
    ASSERT(lm_usage_list_at(l, 2) == NULL);
    lm_usage_list_free(l);
    ASSERT_OK(lm_usage_list_get(&l, m, LM_USAGE_SORT_OWNER, 1));
    ASSERT_EQ_INT(lm_usage_list_count(l), 1);
    ASSERT_EQ_STR(lm_usage_list_at(l, 0)->owner_id, "big");
    lm_usage_list_free(l);
    ASSERT_ERR(lm_usage_sort_parse(&sort, "nope"), LM_EINVAL);
    ASSERT_ERR(lm_usage_list_get(&l, m, sort, 0), LM_EINVAL);
    lm_memory_close(m);
}

TEST(test_quota__rates_per_tenant)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_results *res = NULL;
    lm_doc_add_result ar;
    /* Slow refills (one token in 50 and 100 seconds), so the test cannot race them: bursts of
       4 searches and 2 adds. */
    mo.rate_searches = 0.02;
    mo.rate_adds = 0.01;
    mo.rate_burst = 200;
    lm_memory *m = test_memory_opts(&mo);
    test_add(m, "a", "1", "one doc", NULL);
    test_add(m, "a", "2", "two doc", NULL);
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(lm_search(&res, m, "a", "doc", NULL));
        lm_results_free(res);
    }
    ASSERT_ERR(lm_search(&res, m, "a", "doc", NULL), LM_ELIMIT);
    ASSERT_EQ_STR(lm_error_last()->field, "rate_searches");
    ASSERT(lm_rate_retry_after() > 0 && lm_rate_retry_after() <= 50.0);
    /* Another tenant has a bucket of its own. */
    ASSERT_OK(lm_search(&res, m, "b", "doc", NULL));
    lm_results_free(res);
    ASSERT(lm_rate_retry_after() == 0);
    /* Adds: the burst of 2 is used, the third waits. */
    ASSERT_ERR(lm_doc_add(&ar, m, "a", "3", "3", LM_DOC_TEXT, "three", 5, NULL), LM_ELIMIT);
    ASSERT_EQ_STR(lm_error_last()->field, "rate_adds");
    ASSERT(lm_rate_retry_after() > 50.0);
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, "a"));
    ASSERT_EQ_INT(st.document_count, 2);
    lm_memory_close(m);
    mo.rate_adds = -1;
    lm_memory *bad = NULL;
    mo.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    ASSERT_ERR(lm_memory_open(&bad, &mo), LM_EINVAL);
}

/* Searches and adds per tenant and day: counted in memory, written about once a second per
 * process (and at close, and before usage is read), summed over processes; history switched off
 * changes nothing; another tenant's counts are never seen; erasure removes them. */
TEST(test_quota__usage_metered_per_day)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m = test_memory_opts(&mo), *m2 = NULL;
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    lm_results *res = NULL;
    lm_usage_day d[3];
    lm_usage_list *l = NULL;
    int n = -1;
    so.no_history = 1;
    mo.schema = test_schema();
    ASSERT_OK(lm_memory_open(&m2, &mo));
    test_add(m, "a", "1", "one doc", NULL);
    test_add(m2, "a", "2", "two doc", NULL);
    test_add(m2, "a", "2", "two doc again", NULL);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(lm_search(&res, m, "a", "doc", &so));
        lm_results_free(res);
    }
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(lm_search(&res, m2, "a", "doc", NULL));
        lm_results_free(res);
    }
    ASSERT_OK(lm_search(&res, m, "b", "doc", NULL));
    lm_results_free(res);
    lm_memory_close(m2); /* its counts are written at close */
    ASSERT_OK(lm_usage_days(d, 3, &n, m, "a"));
    ASSERT_EQ_INT(n, 3); /* one entry a day, today first */
    ASSERT_EQ_INT(d[0].searches, 5);
    ASSERT_EQ_INT(d[1].searches + d[1].adds + d[2].searches + d[2].adds, 0);
    ASSERT(strcmp(d[0].day, d[1].day) > 0);
    ASSERT_EQ_INT(d[0].adds, 3);
    ASSERT_EQ_INT(strlen(d[0].day), 10);
    ASSERT_OK(lm_usage_days(d, 3, &n, m, "b"));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(d[0].searches, 1);
    ASSERT_EQ_INT(d[0].adds, 0);
    ASSERT_OK(lm_usage_days(d, 3, &n, m, "nobody"));
    ASSERT_EQ_INT(d[0].searches + d[0].adds, 0);
    ASSERT_OK(lm_usage_list_get(&l, m, LM_USAGE_SORT_SEARCHES_TODAY, 10));
    ASSERT(lm_usage_list_count(l) > 0);
    ASSERT_EQ_STR(lm_usage_list_at(l, 0)->owner_id, "a");
    ASSERT_EQ_INT(lm_usage_list_at(l, 0)->searches_today, 5);
    ASSERT_EQ_INT(lm_usage_list_at(l, 0)->adds_today, 3);
    lm_usage_list_free(l);
    ASSERT_ERR(lm_usage_days(d, 0, &n, m, "a"), LM_EINVAL);
    ASSERT_ERR(lm_usage_days(d, 3, &n, m, "../x"), LM_EINVAL);
    ASSERT_OK(lm_tenant_erase(NULL, m, "a"));
    ASSERT_OK(lm_usage_days(d, 3, &n, m, "a"));
    ASSERT_EQ_INT(d[0].searches + d[0].adds, 0);
    ASSERT_OK(lm_usage_days(d, 3, &n, m, "b"));
    ASSERT_EQ_INT(d[0].searches, 1);
    lm_memory_close(m);
}

/* Per-tenant rate overrides: in force at once in this process and on the first call of another,
 * for that tenant only; back to the default; "none" lifts a configured default. */
TEST(test_quota__rate_overrides_per_tenant)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m = test_memory_opts(&mo), *m2 = NULL;
    lm_doc_add_result ar;
    lm_rate_status st;
    lm_rates slow = {0.01, LM_QUOTA_DEFAULT}, def = {LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT};
    lm_rates none = {LM_QUOTA_NONE, LM_QUOTA_NONE}, bad = {-5, 0};
    ASSERT_OK(lm_rate_get(&st, m, "a"));
    ASSERT(st.limit.adds == LM_QUOTA_NONE && st.override.adds == LM_QUOTA_DEFAULT);
    ASSERT_OK(lm_rate_set(m, "a", &slow));
    ASSERT_OK(lm_rate_get(&st, m, "a"));
    ASSERT(st.limit.adds == 0.01 && st.override.adds == 0.01);
    ASSERT(st.limit.searches == LM_QUOTA_NONE && st.override.searches == LM_QUOTA_DEFAULT);
    ASSERT_OK(lm_doc_add(&ar, m, "a", "1", "1", LM_DOC_TEXT, "one", 3, NULL)); /* burst of 1 */
    ASSERT_ERR(lm_doc_add(&ar, m, "a", "2", "2", LM_DOC_TEXT, "two", 3, NULL), LM_ELIMIT);
    ASSERT_EQ_STR(lm_error_last()->field, "rate_adds");
    for (int i = 0; i < 5; i++) /* another tenant: no limit */
        ASSERT_OK(lm_doc_add(&ar, m, "b", "1", "1", LM_DOC_TEXT, "one", 3, NULL));
    mo.schema = test_schema();
    ASSERT_OK(lm_memory_open(&m2, &mo));
    ASSERT_OK(lm_doc_add(&ar, m2, "a", "3", "3", LM_DOC_TEXT, "three", 5, NULL));
    ASSERT_ERR(lm_doc_add(&ar, m2, "a", "4", "4", LM_DOC_TEXT, "four", 4, NULL), LM_ELIMIT);
    lm_memory_close(m2);
    ASSERT_OK(lm_rate_set(m, "a", &def));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(lm_doc_add(&ar, m, "a", "5", "5", LM_DOC_TEXT, "five", 4, NULL));
    ASSERT_ERR(lm_rate_set(m, "a", &bad), LM_EINVAL);
    lm_memory_close(m);
    /* A configured default of one add in 100 s, lifted for one tenant. */
    mo.rate_adds = 0.01;
    mo.rate_burst = 100;
    ASSERT_OK(lm_memory_open(&m, &mo));
    ASSERT_OK(lm_rate_set(m, "vip", &none));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(lm_doc_add(&ar, m, "vip", "1", "1", LM_DOC_TEXT, "one", 3, NULL));
    ASSERT_OK(lm_doc_add(&ar, m, "c", "1", "1", LM_DOC_TEXT, "one", 3, NULL));
    ASSERT_ERR(lm_doc_add(&ar, m, "c", "2", "2", LM_DOC_TEXT, "two", 3, NULL), LM_ELIMIT);
    ASSERT_OK(lm_rate_get(&st, m, "c"));
    ASSERT(st.limit.adds == 0.01 && st.override.adds == LM_QUOTA_DEFAULT);
    lm_memory_close(m);
}

/* Near-quota alerts: counts of tenants per kind and threshold (no names), cached; the operator's
 * list of the tenants near a limit, by a threshold of its choice. */
TEST(test_quota__near_quota_alerts)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_quota none = {LM_QUOTA_NONE, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT};
    lm_quota_alerts qa;
    lm_usage_list *l = NULL;
    mo.quota_documents = 10;
    lm_memory *m = test_memory_opts(&mo);
    ASSERT_ERR(lm_quota_alerts_get(&qa, m, -1), LM_ENOTFOUND); /* nothing cached yet */
    struct {
        const char *owner;
        int docs;
    } t[] = {{"a", 8}, {"b", 10}, {"c", 1}, {"d", 12}};
    ASSERT_OK(lm_quota_set(m, "d", &none));
    for (size_t i = 0; i < 4; i++)
        for (int k = 0; k < t[i].docs; k++) {
            char origin[16];
            snprintf(origin, sizeof(origin), "o%d", k);
            test_add(m, t[i].owner, origin, "some words here", NULL);
        }
    ASSERT_OK(lm_quota_alerts_get(&qa, m, 0));
    ASSERT_EQ_INT(qa.tenants, 4);
    ASSERT_EQ_INT(qa.at_80[0], 2);
    ASSERT_EQ_INT(qa.at_95[0], 1);
    ASSERT_EQ_INT(qa.at_100[0], 1);
    ASSERT_EQ_INT(qa.at_80[1] + qa.at_80[2] + qa.at_80[3], 0); /* no other limit configured */
    /* Cached: a new full tenant is not seen until the counts are older than asked. */
    for (int k = 0; k < 10; k++) {
        char origin[16];
        snprintf(origin, sizeof(origin), "o%d", k);
        test_add(m, "e", origin, "more words", NULL);
    }
    ASSERT_OK(lm_quota_alerts_get(&qa, m, 3600));
    ASSERT_EQ_INT(qa.at_100[0], 1);
    ASSERT(qa.age_s >= 0 && qa.age_s < 3600);
    ASSERT_OK(lm_quota_alerts_get(&qa, m, 0));
    ASSERT_EQ_INT(qa.at_100[0], 2);
    ASSERT_OK(lm_usage_list_near(&l, m, LM_USAGE_SORT_DOCUMENTS, 100, 80));
    ASSERT_EQ_INT(lm_usage_list_count(l), 3);
    ASSERT_EQ_STR(lm_usage_list_at(l, 0)->owner_id, "b");
    ASSERT_EQ_STR(lm_usage_list_at(l, 1)->owner_id, "e");
    ASSERT_EQ_STR(lm_usage_list_at(l, 2)->owner_id, "a");
    ASSERT_EQ_STR(lm_usage_list_at(l, 2)->near_limit, "documents");
    lm_usage_list_free(l);
    ASSERT_OK(lm_usage_list_near(&l, m, LM_USAGE_SORT_OWNER, 100, 95));
    ASSERT_EQ_INT(lm_usage_list_count(l), 2);
    ASSERT_EQ_STR(lm_usage_list_at(l, 0)->owner_id, "b");
    lm_usage_list_free(l);
    ASSERT_ERR(lm_usage_list_near(&l, m, LM_USAGE_SORT_OWNER, 100, 0), LM_EINVAL);
    lm_memory_close(m);
}

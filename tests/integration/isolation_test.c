/*
 * tests/integration/isolation_test.c: two tenants that reuse the same id_at_origin values. No
 * call may return, count, delete or change the other tenant's data, and another tenant's
 * document must look exactly like a missing one.
 */
#include <string.h>

#include "support.h"

typedef struct {
    lm_memory *m;
    char a_doc[37]; /* tenant "alpha", origin "shared" */
    char b_doc[37]; /* tenant "beta", origin "shared" */
} fixture;

static void setup(fixture *f)
{
    f->m = test_memory();
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    o.metadata = "{\"team\":\"x\"}";
    lm_doc_add_result r;
    const char *a = "Alpha secret: the launch code is pineapple.";
    const char *b = "Beta secret: the launch code is mango.";
    ASSERT_OK(lm_doc_add(&r, f->m, "alpha", "shared", "alpha doc", LM_DOC_TEXT, a, strlen(a), &o));
    memcpy(f->a_doc, r.document_id, 37);
    ASSERT_OK(lm_doc_add(&r, f->m, "beta", "shared", "beta doc", LM_DOC_TEXT, b, strlen(b), &o));
    memcpy(f->b_doc, r.document_id, 37);
    ASSERT(strcmp(f->a_doc, f->b_doc) != 0);
    test_add(f->m, "alpha/sub", "shared", "Sub-tenant text about pineapple.", NULL);
}

TEST(test_isolation__get_other_tenant_is_not_found)
{
    fixture f;
    setup(&f);
    lm_doc *d = NULL;
    ASSERT_ERR(lm_doc_get(&d, f.m, "alpha", f.b_doc, 1), LM_ENOTFOUND);
    char other[128];
    snprintf(other, sizeof(other), "%s", lm_error_last()->message);
    ASSERT_ERR(lm_doc_get(&d, f.m, "alpha", "11111111-1111-4111-8111-111111111111", 1), LM_ENOTFOUND);
    /* Same message shape: nothing reveals that the id exists elsewhere. */
    ASSERT(strstr(other, "does not exist") != NULL);
    ASSERT(strstr(lm_error_last()->message, "does not exist") != NULL);
    ASSERT_OK(lm_doc_get(&d, f.m, "beta", f.b_doc, 1));
    lm_doc_free(d);
    lm_memory_close(f.m);
}

TEST(test_isolation__get_by_origin_sees_own_document_only)
{
    fixture f;
    setup(&f);
    lm_doc *d = NULL;
    char other[160];
    /* Both tenants use "shared": each gets its own document, with its chunks. */
    ASSERT_OK(lm_doc_get_by_origin(&d, f.m, "alpha", "shared", 1));
    ASSERT_EQ_STR(lm_doc_document(d)->document_id, f.a_doc);
    ASSERT_EQ_STR(lm_doc_document(d)->id_at_origin, "shared");
    ASSERT(lm_doc_chunk_count(d) > 0);
    ASSERT(strstr(lm_doc_chunk_at(d, 0)->content, "pineapple") != NULL);
    lm_doc_free(d);
    ASSERT_OK(lm_doc_get_by_origin(&d, f.m, "beta", "shared", 0));
    ASSERT_EQ_STR(lm_doc_document(d)->document_id, f.b_doc);
    ASSERT_EQ_INT(lm_doc_chunk_count(d), 0);
    lm_doc_free(d);
    /* An origin only another tenant has looks exactly like one nobody has. */
    test_add(f.m, "beta", "beta-only", "Beta private notes about mango.", NULL);
    ASSERT_ERR(lm_doc_get_by_origin(&d, f.m, "alpha", "beta-only", 1), LM_ENOTFOUND);
    ASSERT(d == NULL);
    snprintf(other, sizeof(other), "%s", lm_error_last()->message);
    ASSERT_ERR(lm_doc_get_by_origin(&d, f.m, "alpha", "nobody-has", 1), LM_ENOTFOUND);
    ASSERT(strstr(other, "does not exist") != NULL);
    ASSERT(strstr(lm_error_last()->message, "does not exist") != NULL);
    /* A sub-tenant's document is not its parent's. */
    ASSERT_OK(lm_doc_get_by_origin(&d, f.m, "alpha/sub", "shared", 0));
    ASSERT(strcmp(lm_doc_document(d)->document_id, f.a_doc) != 0);
    lm_doc_free(d);
    /* Malformed input is rejected before any query. */
    ASSERT_ERR(lm_doc_get_by_origin(&d, f.m, "alpha", "bad origin", 0), LM_EINVAL);
    ASSERT_ERR(lm_doc_get_by_origin(&d, f.m, "' OR 1=1 --", "shared", 0), LM_EINVAL);
    lm_memory_close(f.m);
}

TEST(test_isolation__search_sees_own_rows_only)
{
    fixture f;
    setup(&f);
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, f.m, "alpha", "launch code mango pineapple", NULL));
    ASSERT_EQ_INT(lm_results_count(r), 1);
    ASSERT_EQ_STR(lm_results_at(r, 0)->document_id, f.a_doc);
    lm_results_free(r);
    ASSERT_OK(lm_search(&r, f.m, "beta", "pineapple", NULL));
    ASSERT_EQ_INT(lm_results_count(r), 0);
    lm_results_free(r);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.id_at_origin = "shared";
    ASSERT_OK(lm_search(&r, f.m, "beta", "launch code", &o));
    ASSERT_EQ_INT(lm_results_count(r), 1);
    ASSERT_EQ_STR(lm_results_at(r, 0)->document_id, f.b_doc);
    lm_results_free(r);
    /* A parent tenant does not see its sub-tenant's rows (and vice versa). */
    ASSERT_OK(lm_search(&r, f.m, "alpha/sub", "launch code", NULL));
    ASSERT_EQ_INT(lm_results_count(r), 0);
    lm_results_free(r);
    lm_memory_close(f.m);
}

TEST(test_isolation__list_stats_count_own_rows_only)
{
    fixture f;
    setup(&f);
    lm_doc_page *p = NULL;
    ASSERT_OK(lm_doc_list(&p, f.m, "alpha", NULL));
    ASSERT_EQ_INT(lm_doc_page_total(p), 1);
    ASSERT_EQ_STR(lm_doc_page_at(p, 0)->document_id, f.a_doc);
    lm_doc_page_free(p);
    lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
    lo.metadata_filter = "{\"team\":\"x\"}";
    ASSERT_OK(lm_doc_list(&p, f.m, "beta", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 1);
    lm_doc_page_free(p);
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, f.m, "beta"));
    ASSERT_EQ_INT(st.document_count, 1);
    ASSERT_EQ_INT(st.total_bytes, strlen("Beta secret: the launch code is mango."));
    ASSERT_OK(lm_stats_get(&st, f.m, "gamma"));
    ASSERT_EQ_INT(st.document_count, 0);
    lm_memory_close(f.m);
}

TEST(test_isolation__delete_cannot_touch_other_tenant)
{
    fixture f;
    setup(&f);
    lm_id_list *ids = NULL;
    const char *victim[] = {f.b_doc};
    ASSERT_OK(lm_doc_delete(&ids, f.m, "alpha", victim, 1, NULL));
    ASSERT_EQ_INT(lm_id_list_count(ids), 0);
    lm_id_list_free(ids);
    ASSERT_OK(lm_doc_delete(&ids, f.m, "alpha", NULL, 0, "{\"team\":\"x\"}"));
    ASSERT_EQ_INT(lm_id_list_count(ids), 1);
    ASSERT_EQ_STR(lm_id_list_at(ids, 0), f.a_doc);
    lm_id_list_free(ids);
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, f.m, "beta", f.b_doc, 0));
    lm_doc_free(d);
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, f.m, "beta", "mango", NULL));
    ASSERT_EQ_INT(lm_results_count(r), 1);
    lm_results_free(r);
    lm_memory_close(f.m);
}

TEST(test_isolation__upsert_same_origin_is_per_tenant)
{
    fixture f;
    setup(&f);
    /* Re-adding "shared" for alpha re-indexes alpha's document only. */
    lm_doc_add_result r;
    const char *v = "Alpha rewrote everything about kiwis.";
    ASSERT_OK(lm_doc_add(&r, f.m, "alpha", "shared", "alpha v2", LM_DOC_TEXT, v, strlen(v), NULL));
    ASSERT_EQ_STR(r.document_id, f.a_doc);
    ASSERT_EQ_INT(r.created, 0);
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, f.m, "beta", f.b_doc, 1));
    ASSERT_EQ_STR(lm_doc_document(d)->name, "beta doc");
    ASSERT(strstr(lm_doc_chunk_at(d, 0)->content, "mango") != NULL);
    lm_doc_free(d);
    lm_memory_close(f.m);
}

TEST(test_isolation__erase_removes_one_tenant_only)
{
    fixture f;
    setup(&f);
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, f.m, "alpha", "pineapple", NULL));
    lm_results_free(r);
    ASSERT_OK(lm_search(&r, f.m, "beta", "mango", NULL));
    lm_results_free(r);
    int64_t n = 0;
    ASSERT_OK(lm_tenant_erase(&n, f.m, "alpha"));
    ASSERT_EQ_INT(n, 1);
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, f.m, "alpha"));
    ASSERT_EQ_INT(st.document_count, 0);
    lm_history *h = NULL;
    ASSERT_OK(lm_history_list(&h, f.m, "alpha", 10));
    ASSERT_EQ_INT(lm_history_count(h), 0);
    lm_history_free(h);
    ASSERT_OK(lm_history_list(&h, f.m, "beta", 10));
    ASSERT_EQ_INT(lm_history_count(h), 1);
    lm_history_free(h);
    ASSERT_OK(lm_stats_get(&st, f.m, "beta"));
    ASSERT_EQ_INT(st.document_count, 1);
    ASSERT_OK(lm_stats_get(&st, f.m, "alpha/sub"));
    ASSERT_EQ_INT(st.document_count, 1);
    lm_memory_close(f.m);
}

TEST(test_isolation__history_is_per_tenant)
{
    fixture f;
    setup(&f);
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, f.m, "alpha", "launch", NULL));
    lm_results_free(r);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.no_history = 1;
    ASSERT_OK(lm_search(&r, f.m, "alpha", "unrecorded", &o));
    lm_results_free(r);
    lm_history *h = NULL;
    ASSERT_OK(lm_history_list(&h, f.m, "alpha", 10));
    ASSERT_EQ_INT(lm_history_count(h), 1);
    ASSERT_EQ_STR(lm_history_at(h, 0)->query, "launch");
    ASSERT_EQ_INT(lm_history_at(h, 0)->result_count, 1);
    ASSERT_EQ_INT(lm_history_at(h, 0)->type, LM_SEARCH_TEXT);
    ASSERT(lm_history_at(h, 0)->latency_ms >= 0);
    lm_history_free(h);
    ASSERT_OK(lm_history_list(&h, f.m, "beta", 10));
    ASSERT_EQ_INT(lm_history_count(h), 0);
    lm_history_free(h);
    lm_memory_close(f.m);
}

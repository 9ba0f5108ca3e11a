/*
 * tests/integration/subtenant_test.c: one search over a tenant and its sub-tenants
 * (lm_search_opts.include_subtenants): hits of "org", "org/a" and "org/b" only (not "orgx", not
 * "other/org"), each tenant scored with its own BM25 statistics, lists merged by reciprocal rank
 * fusion, and nothing of a parent seen from a sub-tenant.
 */
#include <string.h>

#include "support.h"

static lm_memory *fixture(void)
{
    lm_memory *m = test_memory();
    test_add(m, "org", "d1", "Pineapple harvest report for the whole organisation.", NULL);
    test_add(m, "org/a", "d1", "Pineapple pineapple pineapple: team a grows pineapples.", NULL);
    test_add(m, "org/a", "d2", "Team a also writes about mango and pineapple.", NULL);
    test_add(m, "org/b", "d1", "Team b pineapple notes.", NULL);
    test_add(m, "org/b/deep", "d1", "A nested pineapple below team b.", NULL);
    test_add(m, "orgx", "d1", "Pineapple secrets of a different organisation.", NULL);
    test_add(m, "other/org", "d1", "Pineapple of an unrelated tenant.", NULL);
    return m;
}

static int owner_count(const lm_results *r, const char *owner)
{
    int n = 0;
    for (size_t i = 0; i < lm_results_count(r); i++)
        n += strcmp(lm_results_at(r, i)->owner_id, owner) == 0;
    return n;
}

TEST(test_subtenants__search_spans_own_subtree_only)
{
    lm_memory *m = fixture();
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.include_subtenants = 1;
    o.no_history = 1;
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, m, "org", "pineapple", &o));
    ASSERT_EQ_INT(lm_results_count(r), 5);
    ASSERT_EQ_INT(owner_count(r, "org"), 1);
    ASSERT_EQ_INT(owner_count(r, "org/a"), 2);
    ASSERT_EQ_INT(owner_count(r, "org/b"), 1);
    ASSERT_EQ_INT(owner_count(r, "org/b/deep"), 1);
    ASSERT_EQ_INT(owner_count(r, "orgx"), 0);
    ASSERT_EQ_INT(owner_count(r, "other/org"), 0);
    /* Reciprocal rank fusion: the four tenants' first hits lead, tenant names break ties. */
    const char *firsts[] = {"org", "org/a", "org/b", "org/b/deep"};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ_STR(lm_results_at(r, (size_t)i)->owner_id, firsts[i]);
        ASSERT(lm_results_at(r, (size_t)i)->score == 1.0 / 61);
        ASSERT_EQ_INT(lm_results_at(r, (size_t)i)->rank, i + 1);
    }
    ASSERT_EQ_STR(lm_results_at(r, 4)->owner_id, "org/a");
    ASSERT(lm_results_at(r, 4)->score == 1.0 / 62);
    lm_results_free(r);

    /* Without the scope, and from a sub-tenant: nothing outside the tenant (or its subtree). */
    o.include_subtenants = 0;
    ASSERT_OK(lm_search(&r, m, "org", "pineapple", &o));
    ASSERT_EQ_INT(lm_results_count(r), 1);
    ASSERT_EQ_STR(lm_results_at(r, 0)->owner_id, "org");
    lm_results_free(r);
    o.include_subtenants = 1;
    ASSERT_OK(lm_search(&r, m, "org/b", "pineapple", &o));
    ASSERT_EQ_INT(lm_results_count(r), 2);
    ASSERT_EQ_INT(owner_count(r, "org/b"), 1);
    ASSERT_EQ_INT(owner_count(r, "org/b/deep"), 1);
    lm_results_free(r);
    ASSERT_OK(lm_search(&r, m, "nobody", "pineapple", &o));
    ASSERT_EQ_INT(lm_results_count(r), 0);
    lm_results_free(r);
    lm_memory_close(m);
}

TEST(test_subtenants__scores_are_each_tenants_own)
{
    lm_memory *m = fixture();
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.no_history = 1;
    o.include_subtenants = 1;
    lm_results *all = NULL, *one = NULL;
    ASSERT_OK(lm_search(&all, m, "org", "pineapple mango", &o));
    o.include_subtenants = 0;
    for (size_t i = 0; i < lm_results_count(all); i++) {
        const lm_hit *h = lm_results_at(all, i);
        ASSERT_OK(lm_search(&one, m, h->owner_id, "pineapple mango", &o));
        int found = 0;
        for (size_t j = 0; j < lm_results_count(one); j++) {
            const lm_hit *g = lm_results_at(one, j);
            if (strcmp(g->chunk_id, h->chunk_id) == 0) {
                /* Same BM25 score and rank as in the tenant's own search. */
                ASSERT(g->text_score == h->text_score);
                ASSERT_EQ_INT(g->rank, h->text_rank);
                found = 1;
            }
        }
        ASSERT(found);
        lm_results_free(one);
    }
    lm_results_free(all);
    lm_memory_close(m);
}

TEST(test_subtenants__hybrid_and_bad_input)
{
    lm_memory *m = fixture();
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.no_history = 1;
    o.include_subtenants = 1;
    o.type = LM_SEARCH_HYBRID;
    o.limit = 3;
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, m, "org", "pineapple", &o));
    ASSERT_EQ_INT(lm_results_count(r), 3);
    for (size_t i = 0; i < lm_results_count(r); i++)
        ASSERT(strncmp(lm_results_at(r, i)->owner_id, "org", 3) == 0 &&
               strcmp(lm_results_at(r, i)->owner_id, "orgx") != 0);
    lm_results_free(r);
    /* Pattern characters are not owner characters; a prefix without "/" is not a parent. */
    ASSERT_ERR(lm_search(&r, m, "or%", "pineapple", &o), LM_EINVAL);
    ASSERT_OK(lm_search(&r, m, "or", "pineapple", &o));
    ASSERT_EQ_INT(lm_results_count(r), 0);
    lm_results_free(r);
    ASSERT_ERR(lm_search(&r, m, "", "pineapple", &o), LM_EINVAL);
    lm_memory_close(m);
}

TEST(test_subtenants__list_spans_own_subtree_only)
{
    lm_memory *m = fixture();
    lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
    lo.include_subtenants = 1;
    lo.order_by = LM_ORDER_CREATED_AT;
    lo.ascending = 1;
    lm_doc_page *p = NULL;
    ASSERT_OK(lm_doc_list(&p, m, "org", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 5);
    const char *order[] = {"org", "org/a", "org/a", "org/b", "org/b/deep"};
    for (size_t i = 0; i < lm_doc_page_count(p); i++)
        ASSERT_EQ_STR(lm_doc_page_at(p, i)->owner_id, order[i]);
    lm_doc_page_free(p);
    /* Paging over the subtree. */
    lo.limit = 2;
    lo.offset = 3;
    ASSERT_OK(lm_doc_list(&p, m, "org", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 5);
    ASSERT_EQ_INT(lm_doc_page_count(p), 2);
    ASSERT_EQ_STR(lm_doc_page_at(p, 0)->owner_id, "org/b");
    lm_doc_page_free(p);
    /* From a sub-tenant: never the parent; without the option: the tenant alone. */
    lo = (lm_doc_list_opts)LM_DOC_LIST_OPTS_INIT;
    lo.include_subtenants = 1;
    ASSERT_OK(lm_doc_list(&p, m, "org/b", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 2);
    lm_doc_page_free(p);
    lo.include_subtenants = 0;
    ASSERT_OK(lm_doc_list(&p, m, "org", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 1);
    lm_doc_page_free(p);
    /* The subtree is readable only: a document of org/a cannot be deleted through org. */
    ASSERT_OK(lm_doc_list(&p, m, "org/a", &lo));
    char id[37];
    snprintf(id, sizeof(id), "%s", lm_doc_page_at(p, 0)->document_id);
    lm_doc_page_free(p);
    const char *ids[] = {id};
    lm_id_list *del = NULL;
    ASSERT_OK(lm_doc_delete(&del, m, "org", ids, 1, NULL));
    ASSERT_EQ_INT(lm_id_list_count(del), 0);
    lm_id_list_free(del);
    lm_doc *d = NULL;
    ASSERT_ERR(lm_doc_get(&d, m, "org", id, 0), LM_ENOTFOUND);
    lm_memory_close(m);
}

/*
 * tests/integration/search_test.c: keyword search: BM25 ranking, OR semantics, phrases and
 * exclusions, filters, per-tenant statistics (another tenant never changes scores), history.
 */
#include <math.h>
#include <string.h>

#include "support.h"

static void add(lm_memory *m, const char *owner, const char *origin, const char *text,
                const char *meta, const char *date, lm_doc_type type)
{
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    o.metadata = meta;
    o.document_date = date;
    ASSERT_OK(lm_doc_add(NULL, m, owner, origin, origin, type, text, strlen(text), &o));
}

static void corpus(lm_memory *m, const char *owner)
{
    add(m, owner, "cats", "Cats are small carnivorous mammals. Cats purr and hunt mice.",
        "{\"topic\":\"animals\"}", "2024-01-10", LM_DOC_TEXT);
    add(m, owner, "dogs", "Dogs are loyal mammals. Dogs bark at the mail carrier.",
        "{\"topic\":\"animals\"}", "2024-03-05", LM_DOC_MARKDOWN);
    add(m, owner, "rust", "Rust prevents memory bugs. The borrow checker tracks mice? No, lifetimes.",
        "{\"topic\":\"code\"}", "2024-06-01", LM_DOC_CODE);
    add(m, owner, "mix", "Big cats like tigers hunt large prey in the jungle.",
        "{\"topic\":\"animals\",\"lang\":\"en\"}", NULL, LM_DOC_TEXT);
}

static size_t count(lm_memory *m, const char *owner, const char *q, const lm_search_opts *o)
{
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, m, owner, q, o));
    size_t n = lm_results_count(r);
    lm_results_free(r);
    return n;
}

TEST(test_search__or_semantics_and_ranking)
{
    lm_memory *m = test_memory();
    corpus(m, "t");
    lm_results *r = NULL;
    /* Not every word must match (llmemory's AND would return nothing here). */
    ASSERT_OK(lm_search(&r, m, "t", "cats purr loudly at night", NULL));
    ASSERT(lm_results_count(r) >= 2);
    ASSERT_EQ_STR(lm_results_at(r, 0)->id_at_origin, "cats");
    for (size_t i = 1; i < lm_results_count(r); i++) {
        ASSERT(lm_results_at(r, i - 1)->score >= lm_results_at(r, i)->score);
        ASSERT_EQ_INT(lm_results_at(r, i)->rank, (int)i + 1);
    }
    ASSERT(lm_results_at(r, 0)->score > 0);
    ASSERT_EQ_INT(lm_results_at(r, 0)->text_rank, 1);
    ASSERT(strstr(lm_results_at(r, 0)->metadata, "animals") != NULL);
    ASSERT_EQ_STR(lm_results_at(r, 0)->document_name, "cats");
    lm_results_free(r);
    ASSERT_EQ_INT(count(m, "t", "zebra unicorn", NULL), 0);
    ASSERT_EQ_INT(count(m, "t", "the and of", NULL), 0); /* only stop words */
    lm_memory_close(m);
}

TEST(test_search__phrases_and_exclusions)
{
    lm_memory *m = test_memory();
    corpus(m, "t");
    ASSERT_EQ_INT(count(m, "t", "hunt", NULL), 2);
    ASSERT_EQ_INT(count(m, "t", "hunt -tigers", NULL), 1);
    ASSERT_EQ_INT(count(m, "t", "\"big cats\"", NULL), 1);
    ASSERT_EQ_INT(count(m, "t", "\"cats big\"", NULL), 0);
    ASSERT_EQ_INT(count(m, "t", "mammals OR jungle", NULL), 3);
    ASSERT_EQ_INT(count(m, "t", "mammals -\"mail carrier\"", NULL), 1);
    ASSERT_EQ_INT(count(m, "t", "-cats", NULL), 0); /* nothing to score */
    lm_memory_close(m);
}

TEST(test_search__plain_syntax_has_no_operators)
{
    lm_memory *m = test_memory();
    corpus(m, "t");
    /* Another tenant's chunk matches every word: never seen from "t". */
    add(m, "other", "tigers", "Tigers hunt; cats big and small; mail carrier; cats big.", NULL,
        NULL, LM_DOC_TEXT);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    ASSERT_EQ_INT(o.syntax, LM_QUERY_WEB);
    o.syntax = LM_QUERY_PLAIN;
    /* A leading '-' is text: the word is scored, nothing is excluded. */
    ASSERT_EQ_INT(count(m, "t", "hunt -tigers", &o), 2);
    /* Quotes are text: no phrase is required. */
    ASSERT_EQ_INT(count(m, "t", "\"cats big\"", &o), 2);
    ASSERT_EQ_INT(count(m, "t", "-cats", &o), 2);
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, m, "t", "\"mail carrier\" -tigers", &o));
    ASSERT(lm_results_count(r) >= 2); /* dogs (mail carrier) and mix (tigers) */
    for (size_t i = 0; i < lm_results_count(r); i++)
        ASSERT(strcmp(lm_results_at(r, i)->id_at_origin, "tigers") != 0);
    lm_results_free(r);
    /* The same searches in web syntax. */
    o.syntax = LM_QUERY_WEB;
    ASSERT_EQ_INT(count(m, "t", "hunt -tigers", &o), 1);
    ASSERT_EQ_INT(count(m, "t", "\"cats big\"", &o), 0);
    /* The other tenant, searched as itself, finds its own chunk in both syntaxes. */
    o.syntax = LM_QUERY_PLAIN;
    ASSERT_EQ_INT(count(m, "other", "\"cats big\" -tigers", &o), 1);
    ASSERT_EQ_INT(count(m, "nobody", "cats", &o), 0);
    /* Version 1 options (before syntax) are still accepted and read as web syntax. */
    lm_search_opts v1;
    ASSERT_OK(lm_search_opts_init(&v1, 1));
    ASSERT_EQ_INT(v1.version, 1);
    v1.syntax = LM_QUERY_PLAIN; /* beyond a version 1 struct: ignored */
    ASSERT_EQ_INT(count(m, "t", "hunt -tigers", &v1), 1);
    /* Names, and a bad value. */
    lm_query_syntax sx;
    ASSERT_OK(lm_query_syntax_parse(&sx, "plain"));
    ASSERT_EQ_INT(sx, LM_QUERY_PLAIN);
    ASSERT_EQ_STR(lm_query_syntax_name(LM_QUERY_WEB), "web");
    ASSERT_ERR(lm_query_syntax_parse(&sx, "lucene"), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "syntax");
    o.syntax = (lm_query_syntax)7;
    ASSERT_ERR(lm_search(&r, m, "t", "cats", &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "syntax");
    lm_memory_close(m);
}

TEST(test_search__filters)
{
    lm_memory *m = test_memory();
    corpus(m, "t");
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.metadata_filter = "{\"topic\":\"animals\"}";
    ASSERT_EQ_INT(count(m, "t", "mammals mice memory", &o), 2);
    o.metadata_filter = "{\"topic\":\"code\"}";
    ASSERT_EQ_INT(count(m, "t", "mammals mice memory", &o), 1);
    o.metadata_filter = NULL;
    o.has_type = 1;
    o.doc_type = LM_DOC_MARKDOWN;
    ASSERT_EQ_INT(count(m, "t", "mammals", &o), 1);
    o.has_type = 0;
    o.date_from = "2024-02-01";
    o.date_to = "2024-12-31T23:59:59Z";
    ASSERT_EQ_INT(count(m, "t", "mammals mice memory", &o), 2); /* dogs, rust; undated drops out */
    o.date_from = o.date_to = NULL;
    o.id_at_origin = "mix";
    ASSERT_EQ_INT(count(m, "t", "cats", &o), 1);
    o.id_at_origin = NULL;
    const char *origins[] = {"cats", "dogs"};
    o.id_at_origins = origins;
    o.n_id_at_origins = 2;
    ASSERT_EQ_INT(count(m, "t", "mammals cats tigers", &o), 2);
    o.limit = 1;
    ASSERT_EQ_INT(count(m, "t", "mammals cats tigers", &o), 1);
    lm_memory_close(m);
}

TEST(test_search__argument_errors)
{
    lm_memory *m = test_memory();
    lm_results *r = NULL;
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    ASSERT_ERR(lm_search(&r, m, "t", "", NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "query");
    ASSERT_ERR(lm_search(&r, m, "t", "   ", NULL), LM_EINVAL);
    char big[1002];
    memset(big, 'a', 1001);
    big[1001] = '\0';
    ASSERT_ERR(lm_search(&r, m, "t", big, NULL), LM_EINVAL);
    big[1000] = '\0';
    ASSERT_OK(lm_search(&r, m, "t", big, NULL));
    lm_results_free(r);
    o.limit = 0;
    ASSERT_ERR(lm_search(&r, m, "t", "x", &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "limit");
    o.limit = 101;
    ASSERT_ERR(lm_search(&r, m, "t", "x", &o), LM_EINVAL);
    o.limit = 10;
    o.metadata_filter = "not json";
    ASSERT_ERR(lm_search(&r, m, "t", "x", &o), LM_EINVAL);
    o.metadata_filter = NULL;
    o.date_from = "yesterday";
    ASSERT_ERR(lm_search(&r, m, "t", "x", &o), LM_EINVAL);
    o.date_from = NULL;
    o.id_at_origin = "bad origin";
    ASSERT_ERR(lm_search(&r, m, "t", "x", &o), LM_EINVAL);
    o.id_at_origin = NULL;
    o.type = LM_SEARCH_HYBRID;
    o.alpha = 1.5;
    ASSERT_ERR(lm_search(&r, m, "t", "x", &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "alpha");
    o.alpha = -1;
    o.type = (lm_search_type)7;
    ASSERT_ERR(lm_search(&r, m, "t", "x", &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "search_type");
    /* Query syntax characters are data, never SQL. */
    o.type = LM_SEARCH_TEXT;
    ASSERT_OK(lm_search(&r, m, "t", "' OR 1=1 -- ; DROP TABLE x; \"unterminated", &o));
    lm_results_free(r);
    lm_memory_close(m);
}

/* Scores printed with all 17 significant digits, in rank order. */
static void snapshot(lm_memory *m, const char *owner, const char *q, char *out, size_t cap)
{
    lm_results *r = NULL;
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.limit = 20;
    o.no_history = 1;
    ASSERT_OK(lm_search(&r, m, owner, q, &o));
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < lm_results_count(r); i++)
        used += (size_t)snprintf(out + used, cap - used, "%s=%.17g;", lm_results_at(r, i)->chunk_id,
                                 lm_results_at(r, i)->score);
    lm_results_free(r);
}

TEST(test_search__other_tenant_never_changes_scores)
{
    lm_test_timeout(120);
    lm_memory *m = test_memory();
    corpus(m, "small");
    const char *queries[] = {"cats hunt mice", "mammals", "memory bugs", "big jungle prey"};
    char before[4][2048], after[4][2048];
    for (int i = 0; i < 4; i++)
        snapshot(m, "small", queries[i], before[i], sizeof(before[i]));
    /* A much larger tenant with overlapping vocabulary. */
    char text[256];
    for (int i = 0; i < 300; i++) {
        char origin[32];
        snprintf(origin, sizeof(origin), "big-%d", i);
        snprintf(text, sizeof(text), "Cats and mammals %d hunt mice; memory %d of big jungle prey "
                                     "cats cats mammals.", i, i * 7);
        add(m, "large", origin, text, NULL, NULL, LM_DOC_TEXT);
    }
    for (int i = 0; i < 4; i++) {
        snapshot(m, "small", queries[i], after[i], sizeof(after[i]));
        ASSERT_EQ_STR(before[i], after[i]);
    }
    lm_memory_close(m);
}

TEST(test_search__bm25_matches_formula)
{
    lm_memory *m = test_memory();
    /* Three one-chunk documents; compute the expected BM25 score of "apple" by hand. */
    add(m, "t", "d1", "apple apple banana", NULL, NULL, LM_DOC_TEXT);
    add(m, "t", "d2", "apple cherry cherry cherry", NULL, NULL, LM_DOC_TEXT);
    add(m, "t", "d3", "banana", NULL, NULL, LM_DOC_TEXT);
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, m, "t", "apple", NULL));
    ASSERT_EQ_INT(lm_results_count(r), 2);
    double N = 3, df = 2, avgdl = (3.0 + 4.0 + 1.0) / 3.0, k1 = 1.2, b = 0.4;
    double idf = log(1 + (N - df + 0.5) / (df + 0.5));
    double s1 = idf * 2 * (k1 + 1) / (2 + k1 * (1 - b + b * 3 / avgdl));
    double s2 = idf * 1 * (k1 + 1) / (1 + k1 * (1 - b + b * 4 / avgdl));
    ASSERT_EQ_STR(lm_results_at(r, 0)->id_at_origin, "d1");
    ASSERT(fabs(lm_results_at(r, 0)->score - s1) < 1e-9);
    ASSERT(fabs(lm_results_at(r, 1)->score - s2) < 1e-9);
    lm_results_free(r);
    /* Deleting d2 updates the statistics in the same transaction. */
    lm_id_list *ids = NULL;
    ASSERT_OK(lm_doc_delete(&ids, m, "t", NULL, 0, NULL) == LM_EINVAL ? 0 : -1);
    lm_doc_page *p = NULL;
    lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
    lo.order_by = LM_ORDER_DOCUMENT_NAME;
    lo.ascending = 1;
    ASSERT_OK(lm_doc_list(&p, m, "t", &lo));
    const char *d2[] = {lm_doc_page_at(p, 1)->document_id};
    ASSERT_OK(lm_doc_delete(&ids, m, "t", d2, 1, NULL));
    lm_id_list_free(ids);
    lm_doc_page_free(p);
    ASSERT_OK(lm_search(&r, m, "t", "apple", NULL));
    ASSERT_EQ_INT(lm_results_count(r), 1);
    N = 2;
    df = 1;
    avgdl = (3.0 + 1.0) / 2.0;
    idf = log(1 + (N - df + 0.5) / (df + 0.5));
    s1 = idf * 2 * (k1 + 1) / (2 + k1 * (1 - b + b * 3 / avgdl));
    ASSERT(fabs(lm_results_at(r, 0)->score - s1) < 1e-9);
    lm_results_free(r);
    lm_memory_close(m);
}

TEST(test_search__cost_limit)
{
    lm_memory *m = test_memory();
    test_add(m, "cost-owner", "a", "alpha harbor granite meadow", NULL);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_HYBRID;
    o.candidates = 1000;
    o.expand = 1;
    o.max_variants = 10;
    o.rerank = 1;
    o.rerank_top_k = 1000;
    lm_results *r = NULL;
    /* The estimate the limit is checked against (and servers weigh admission by). */
    ASSERT(lm_search_cost(&o) == 1000L * 2 * 11 + 1000);
    {
        lm_search_opts d = LM_SEARCH_OPTS_INIT;
        ASSERT(lm_search_cost(NULL) == 50);
        ASSERT(lm_search_cost(&d) == 50);
        d.candidates = -5; /* out of range: clamped, never negative */
        d.limit = -1;
        ASSERT(lm_search_cost(&d) == 50);
        d.candidates = 2000000000;
        d.expand = 1;
        d.max_variants = 2000000000;
        ASSERT(lm_search_cost(&d) == 100000L * 101);
    }
    ASSERT_EQ_INT(lm_search(&r, m, "cost-owner", "alpha harbor", &o), LM_EINVAL);
    ASSERT(r == NULL);
    ASSERT_EQ_STR(lm_error_last()->field, "candidates");
    ASSERT(strstr(lm_error_last()->message, "too expensive") != NULL);
    /* Each knob alone at its maximum is still allowed. */
    o.expand = 0;
    ASSERT_OK(lm_search(&r, m, "cost-owner", "alpha harbor", &o));
    lm_results_free(r);
    r = NULL;
    o.candidates = 0;
    o.expand = 1;
    ASSERT_OK(lm_search(&r, m, "cost-owner", "alpha harbor", &o));
    lm_results_free(r);
    lm_memory_close(m);
}

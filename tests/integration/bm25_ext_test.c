/*
 * tests/integration/bm25_ext_test.c: the llmemory_bm25 extension (exact BM25 top-k in C) and the
 * pure-SQL path rank identically: same chunks in the same order, same scores.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

static const char *const words[] = {
    "protein", "cell",    "membrane", "receptor", "signal", "gene",     "expression", "tumor",
    "immune",  "patient", "therapy",  "insulin",  "glucose", "neuron",  "synapse",    "virus",
    "antibody", "kinase", "mutation", "blood",    "pressure", "cardiac", "risk",      "cohort",
    "mouse",   "dose",    "trial",    "effect",   "increase", "reduce", "pathway",    "stem"};

static void corpus(lm_memory *m, const char *owner, int n)
{
    unsigned x = 12345;
    for (int i = 0; i < n; i++) {
        char text[1024], origin[32];
        size_t used = 0;
        int len = 8 + (int)(x % 60);
        for (int w = 0; w < len; w++) {
            x = x * 1103515245u + 12345u;
            /* Skewed word choice, so document frequencies and lengths vary a lot. */
            unsigned r = (x >> 16) % 1024;
            unsigned idx = (r * r) / (1024 * 1024 / 32);
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s ", words[idx % 32]);
        }
        snprintf(origin, sizeof(origin), "doc-%d", i);
        ASSERT_OK(lm_doc_add(NULL, m, owner, origin, origin, LM_DOC_TEXT, text, used, NULL));
    }
}

TEST(test_bm25_ext__agrees_with_sql_path)
{
    lm_test_timeout(180);
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.no_embedder = 1;
    lm_memory *ext = test_memory_opts(&o);
    char schema[64];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_extension WHERE extname = 'llmemory_bm25'");
    /* scripts/deps.sh installs the extension, so the test cluster must have it. */
    if (PQntuples(r) != 1)
        lm_test_fail(__FILE__, __LINE__, "the llmemory_bm25 extension is not installed "
                                         "(run scripts/deps.sh)");
    PQclear(r);
    PQfinish(c);
    lm_memory_opts so = LM_MEMORY_OPTS_INIT;
    so.no_embedder = 1;
    so.no_bm25_extension = 1;
    so.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    so.schema = schema;
    lm_memory *sql = NULL;
    ASSERT_OK(lm_memory_open(&sql, &so));
    corpus(ext, "big", 400);
    corpus(ext, "small", 15);
    const char *queries[] = {"protein cell", "immune therapy tumor", "stem", "insulin glucose risk",
                             "synapse neuron kinase pathway mutation", "blood pressure cardiac",
                             "virus antibody", "dose trial effect increase reduce",
                             "protein protein receptor", "nothingmatches", "gene expression cohort"};
    const char *owners[] = {"big", "small"};
    int compared = 0;
    for (int oi = 0; oi < 2; oi++) {
        for (size_t qi = 0; qi < sizeof(queries) / sizeof(*queries); qi++) {
            lm_search_opts s = LM_SEARCH_OPTS_INIT;
            s.limit = 20;
            s.no_history = 1;
            lm_results *a = NULL, *b = NULL;
            ASSERT_OK(lm_search(&a, ext, owners[oi], queries[qi], &s));
            ASSERT_OK(lm_search(&b, sql, owners[oi], queries[qi], &s));
            ASSERT_EQ_INT(lm_results_count(a), lm_results_count(b));
            for (size_t i = 0; i < lm_results_count(a); i++) {
                const lm_hit *x = lm_results_at(a, i), *y = lm_results_at(b, i);
                ASSERT_EQ_STR(x->chunk_id, y->chunk_id);
                ASSERT(fabs(x->score - y->score) <= 1e-9 * fabs(y->score));
                compared++;
            }
            lm_results_free(a);
            lm_results_free(b);
        }
    }
    ASSERT(compared > 100);
    lm_memory_close(ext);
    lm_memory_close(sql);
}

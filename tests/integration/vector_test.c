/*
 * tests/integration/vector_test.c: embeddings at ingest, vector search that is exact for small
 * tenants and indexed per tenant for large ones, hybrid fusion, the embedding queue (including a
 * worker killed mid-batch), provider changes, and the rest of the search API (documents, parent
 * context, expansion, reranking).
 */
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <llmemory/sys/embedder.h>

#include "search/vector.h"
#include "support.h"

static const char *const topics[] = {"ocean waves tides coral reef fish",
                                     "mountain glacier snow climbing rope",
                                     "desert sand dunes camel oasis heat",
                                     "forest trees moss deer mushrooms rain",
                                     "city traffic subway buildings noise",
                                     "kitchen recipe flour butter oven bread",
                                     "football goal stadium referee match",
                                     "guitar chords melody concert stage"};

static void add_doc(lm_memory *m, const char *owner, int i, lm_doc_add_result *r)
{
    char origin[32], text[256];
    snprintf(origin, sizeof(origin), "d%d", i);
    snprintf(text, sizeof(text), "%s item %d variant %d", topics[i % 8], i, (i * 7919) % 1000);
    ASSERT_OK(lm_doc_add(r, m, owner, origin, origin, LM_DOC_TEXT, text, strlen(text), NULL));
}

static PGconn *db(void)
{
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    return c;
}

static long long scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        lm_test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

TEST(test_vector__embedded_at_ingest_and_searchable)
{
    lm_memory *m = test_memory();
    lm_doc_add_result r;
    add_doc(m, "t", 0, &r);
    ASSERT_EQ_INT(r.embedded, 1);
    ASSERT_EQ_INT(r.queued, 0);
    add_doc(m, "t", 1, &r);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_VECTOR;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "t", "coral reef and ocean fish", &o));
    ASSERT_EQ_INT(lm_results_count(res), 2);
    ASSERT_EQ_STR(lm_results_at(res, 0)->id_at_origin, "d0");
    ASSERT(lm_results_at(res, 0)->vector_score > lm_results_at(res, 1)->vector_score);
    ASSERT_EQ_INT(lm_results_at(res, 0)->vector_rank, 1);
    ASSERT_EQ_INT(lm_results_at(res, 0)->text_rank, 0);
    lm_results_free(res);
    lm_memory_close(m);
}

/* Exact top-k by brute force over the tenant's own chunks, with the same embedder. */
static void brute_force(lm_embedder *e, const char *owner_prefix, int n, int first, const char *q,
                        int k, char out[][32])
{
    int dim = lm_embedder_dim(e);
    float *qv = calloc((size_t)dim, sizeof(float)), *dv = calloc((size_t)dim, sizeof(float));
    double *best = calloc((size_t)k, sizeof(double));
    for (int j = 0; j < k; j++)
        best[j] = -2;
    ASSERT_OK(lm_embedder_embed(e, qv, &q, NULL, 1));
    for (int i = first; i < first + n; i++) {
        char text[256];
        snprintf(text, sizeof(text), "%s item %d variant %d", topics[i % 8], i, (i * 7919) % 1000);
        const char *tp = text;
        ASSERT_OK(lm_embedder_embed(e, dv, &tp, NULL, 1));
        double dot = 0, a = 0, b = 0;
        for (int d = 0; d < dim; d++) {
            dot += (double)qv[d] * (double)dv[d];
            a += (double)qv[d] * (double)qv[d];
            b += (double)dv[d] * (double)dv[d];
        }
        double sim = dot / (sqrt(a) * sqrt(b));
        for (int j = 0; j < k; j++) {
            if (sim > best[j]) {
                for (int s = k - 1; s > j; s--) {
                    best[s] = best[s - 1];
                    memcpy(out[s], out[s - 1], 32);
                }
                best[j] = sim;
                snprintf(out[j], 32, "%sd%d", owner_prefix, i);
                break;
            }
        }
    }
    free(qv);
    free(dv);
    free(best);
}

TEST(test_vector__small_tenant_gets_full_topk_next_to_a_large_one)
{
    lm_test_timeout(600);
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.vector_index_threshold = 300;
    lm_memory *m = test_memory_opts(&mo);
    char schema[64];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    lm_doc_add_result r;
    /* A large tenant (gets its own HNSW index), four copies of it under other owners (made in
       SQL, to keep the test fast), and a tenant with 10 of the 10,010 vectors: 0.1%. */
    for (int i = 0; i < 2000; i++)
        add_doc(m, "large", i, &r);
    for (int i = 5000; i < 5010; i++)
        add_doc(m, "tiny", i, &r);
    lm_memory_wait_index_builds(m); /* built in the background */
    PGconn *c = db();
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "DO $$DECLARE s text := '%s'; cd text; cc text; BEGIN"
             " SELECT string_agg(quote_ident(column_name), ',') INTO cd"
             "   FROM information_schema.columns WHERE table_schema = s"
             "    AND table_name = 'documents' AND column_name <> 'owner_id'"
             "    AND is_generated = 'NEVER';"
             " SELECT string_agg(quote_ident(column_name), ',') INTO cc"
             "   FROM information_schema.columns WHERE table_schema = s"
             "    AND table_name = 'chunks' AND column_name NOT IN ('owner_id', 'chunk_no')"
             "    AND is_generated = 'NEVER';"
             " FOR g IN 1..4 LOOP"
             "  EXECUTE format('INSERT INTO %%I.documents (owner_id, %%s) SELECT %%L, %%s"
             "   FROM %%I.documents WHERE owner_id = ''large''', s, cd, 'filler-' || g, cd, s);"
             "  EXECUTE format('INSERT INTO %%I.chunks (owner_id, %%s) SELECT %%L, %%s"
             "   FROM %%I.chunks WHERE owner_id = ''large''', s, cc, 'filler-' || g, cc, s);"
             "  EXECUTE format('INSERT INTO %%I.vectors_384 SELECT %%L, provider_id, chunk_id,"
             "   embedding FROM %%I.vectors_384 WHERE owner_id = ''large''', s, 'filler-' || g, s);"
             " END LOOP; END$$",
             schema);
    PGresult *fill = PQexec(c, sql);
    if (PQresultStatus(fill) != PGRES_COMMAND_OK)
        lm_test_fail(__FILE__, __LINE__, "filling: %s", PQerrorMessage(c));
    PQclear(fill);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vectors_384", schema);
    ASSERT_EQ_INT(scalar(c, sql), 10010);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vector_indexes WHERE owner_id = 'large'",
             schema);
    ASSERT_EQ_INT(scalar(c, sql), 1);
    /* Built over half-precision copies (pgvector 0.8 has halfvec). */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vector_indexes WHERE owner_id = 'large'"
             " AND element_type = 'halfvec'", schema);
    ASSERT_EQ_INT(scalar(c, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vector_indexes WHERE owner_id = 'tiny'",
             schema);
    ASSERT_EQ_INT(scalar(c, sql), 0);

    lm_embedder *e = NULL;
    ASSERT_OK(lm_embedder_builtin_new(&e, 0));
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_VECTOR;
    o.no_history = 1;
    const char *queries[] = {"coral reef fish", "bread oven butter", "stadium referee",
                             "camel oasis heat", "subway noise"};
    /* Tiny tenant: every one of its 10 chunks, in the exact order. */
    for (size_t qi = 0; qi < 5; qi++) {
        char truth[10][32];
        brute_force(e, "", 10, 5000, queries[qi], 10, truth);
        lm_results *res = NULL;
        ASSERT_OK(lm_search(&res, m, "tiny", queries[qi], &o));
        ASSERT_EQ_INT(lm_results_count(res), 10);
        for (int j = 0; j < 10; j++)
            ASSERT_EQ_STR(lm_results_at(res, (size_t)j)->id_at_origin, truth[j]);
        lm_results_free(res);
    }
    /* Large tenant: served by its own index (the planner proves the partial index's predicate
       from the bound owner), recall@10 against brute force. */
    {
        float *qv = calloc(384, sizeof(float));
        const char *q = "coral reef fish";
        ASSERT_OK(lm_embedder_embed(e, qv, &q, NULL, 1));
        char *lit = calloc(384 * 16 + 2, 1);
        size_t u = 0;
        lit[u++] = '[';
        for (int d = 0; d < 384; d++)
            u += (size_t)snprintf(lit + u, 20, d ? ",%.6g" : "%.6g", (double)qv[d]);
        lit[u++] = ']';
        snprintf(sql, sizeof(sql),
                 "EXPLAIN SELECT v.chunk_id FROM \"%s\".vectors_384 v WHERE v.owner_id = $1"
                 " AND v.provider_id = $2"
                 " ORDER BY v.embedding::halfvec(384) <=> $3::halfvec(384) LIMIT 10",
                 schema);
        for (int pass = 0; pass < 2; pass++) {
            const char *p[] = {pass ? "tiny" : "large", "builtin-hash-v2-384", lit};
            PGresult *er = PQexecParams(c, sql, 3, NULL, p, NULL, NULL, 0);
            ASSERT(PQresultStatus(er) == PGRES_TUPLES_OK);
            int uses = 0;
            for (int i = 0; i < PQntuples(er); i++)
                uses |= strstr(PQgetvalue(er, i, 0), "vidx_") != NULL;
            ASSERT_EQ_INT(uses, pass == 0);
            PQclear(er);
        }
        free(lit);
        free(qv);
    }
    int hits = 0;
    for (size_t qi = 0; qi < 5; qi++) {
        char truth[10][32];
        brute_force(e, "", 2000, 0, queries[qi], 10, truth);
        lm_results *res = NULL;
        ASSERT_OK(lm_search(&res, m, "large", queries[qi], &o));
        ASSERT_EQ_INT(lm_results_count(res), 10);
        for (size_t a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++)
                hits += strcmp(lm_results_at(res, a)->id_at_origin, truth[b]) == 0;
        lm_results_free(res);
    }
    ASSERT(hits >= 45); /* recall@10 >= 0.9 on this (tie-heavy) synthetic data */
    /* ef_search per graph: the node estimate follows the index's size; a 2,000-node graph
       gets the floor of 64 at 10 hits, the limit when it is larger, a fixed setting wins; no graph: 40. */
    {
        char q[2048];
        snprintf(q, sizeof(q),
                 "SELECT round(" LM__VECTOR_NODES_SQL "), " LM__VECTOR_EF_SQL
                 " FROM (VALUES (1)) one (x) LEFT JOIN \"%s\".vector_indexes vi"
                 "   ON vi.owner_id = $2 AND vi.provider_id = $3",
                 schema);
        struct { const char *fixed, *owner, *limit, *dim; int ef; } cases[] = {
            {"0", "large", "10", "384", 64},  {"0", "large", "100", "384", 100},
            {"70", "large", "10", "384", 70}, {"0", "large", "10", "1536", 96},
            {"0", "tiny", "10", "384", 40},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            const char *p[] = {cases[i].fixed, cases[i].owner, "builtin-hash-v2-384", cases[i].limit, cases[i].dim,
                               schema};
            PGresult *er = PQexecParams(c, q, 6, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(er) != PGRES_TUPLES_OK)
                lm_test_fail(__FILE__, __LINE__, "ef_search: %s", PQerrorMessage(c));
            ASSERT_EQ_INT(atoi(PQgetvalue(er, 0, 1)), cases[i].ef);
            if (i == 0) {
                int nodes = atoi(PQgetvalue(er, 0, 0));
                ASSERT(nodes >= 1500 && nodes <= 2600);
            }
            PQclear(er);
        }
    }
    lm_embedder_free(e);
    /* Erasing the large tenant drops its index. */
    ASSERT_OK(lm_tenant_erase(NULL, m, "large"));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_indexes WHERE schemaname = '%s'"
                               " AND indexname LIKE 'vidx_%%'", schema);
    ASSERT_EQ_INT(scalar(c, sql), 0);
    PQfinish(c);
    lm_memory_close(m);
}

/* The add that passes the threshold does not build the index: a transaction elsewhere that
 * holds an old snapshot (which CREATE INDEX CONCURRENTLY must wait for) does not stall it.
 * Meanwhile the tenant's searches are exact and complete; once the blocker ends the index is
 * built in the background and used. */
static pthread_mutex_t prewarm_log_mu = PTHREAD_MUTEX_INITIALIZER;
static long prewarm_log_pages = -1;

static void prewarm_log(int level, const char *msg, void *payload)
{
    (void)level;
    (void)payload;
    const char *p = strstr(msg, " prewarmed: ");
    if (p != NULL) {
        pthread_mutex_lock(&prewarm_log_mu);
        prewarm_log_pages = strtol(p + strlen(" prewarmed: "), NULL, 10);
        pthread_mutex_unlock(&prewarm_log_mu);
    }
}

TEST(test_vector__index_built_off_the_request_path)
{
    lm_test_timeout(300);
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.vector_index_threshold = 40;
    mo.log_fn = prewarm_log;
    mo.log_level = LM_LOG_DEBUG;
    lm_memory *m = test_memory_opts(&mo);
    char schema[64], sql[512];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    lm_doc_add_result r;
    add_doc(m, "grower", 0, &r); /* creates the tables */
    PGconn *blocker = db();
    PQclear(PQexec(blocker, "BEGIN ISOLATION LEVEL REPEATABLE READ"));
    scalar(blocker, "SELECT 1"); /* takes the snapshot */
    double worst = 0;
    for (int i = 1; i < 80; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        add_doc(m, "grower", i, &r);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        worst = ms > worst ? ms : worst;
    }
    ASSERT(worst < 5000); /* inline, the build (and this add) would wait for the blocker */
    PGconn *c = db();
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vector_indexes", schema);
    ASSERT_EQ_INT(scalar(c, sql), 0);
    lm_embedder *e = NULL;
    ASSERT_OK(lm_embedder_builtin_new(&e, 0));
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_VECTOR;
    o.no_history = 1;
    const char *q = "coral reef fish";
    char truth[10][32];
    brute_force(e, "", 80, 0, q, 10, truth);
    for (int pass = 0; pass < 2; pass++) {
        lm_results *res = NULL;
        ASSERT_OK(lm_search(&res, m, "grower", q, &o));
        ASSERT_EQ_INT(lm_results_count(res), 10);
        if (pass == 0) /* exact while the index is pending */
            for (int j = 0; j < 10; j++)
                ASSERT_EQ_STR(lm_results_at(res, (size_t)j)->id_at_origin, truth[j]);
        lm_results_free(res);
        if (pass == 0) {
            PQclear(PQexec(blocker, "COMMIT"));
            lm_memory_wait_index_builds(m);
            ASSERT_EQ_INT(scalar(c, sql), 1);
        }
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_indexes WHERE schemaname = '%s'"
                               " AND indexname LIKE 'vidx_%%'", schema);
    ASSERT_EQ_INT(scalar(c, sql), 1);
    /* Read into shared buffers after the build (the test cluster's role is a superuser, so
       pg_prewarm is created when missing): every page of the graph, and they are there. */
    ASSERT_EQ_INT(scalar(c, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_prewarm'"), 1);
    PQclear(PQexec(c, "CREATE EXTENSION IF NOT EXISTS pg_buffercache"));
    snprintf(sql, sizeof(sql), "SELECT pg_relation_size(format('%%I.%%I', '%s', index_name)::regclass)"
                               " / current_setting('block_size')::bigint"
                               " FROM \"%s\".vector_indexes", schema, schema);
    long long pages = scalar(c, sql);
    ASSERT(pages > 1);
    pthread_mutex_lock(&prewarm_log_mu);
    long logged = prewarm_log_pages;
    pthread_mutex_unlock(&prewarm_log_mu);
    ASSERT_EQ_INT(logged, pages);
    snprintf(sql, sizeof(sql), "SELECT count(DISTINCT b.relblocknumber) FROM pg_buffercache b,"
                               " \"%s\".vector_indexes v WHERE b.reldatabase = (SELECT oid FROM"
                               " pg_database WHERE datname = current_database()) AND b.relfilenode"
                               " = pg_relation_filenode(format('%%I.%%I', '%s', v.index_name)::regclass)",
             schema, schema);
    ASSERT_EQ_INT(scalar(c, sql), pages);
    lm_embedder_free(e);
    PQfinish(blocker);
    PQfinish(c);
    lm_memory_close(m);
}

/* ---- index builds: serialised, retried, capped ------------------------------------------------ */

typedef struct builder {
    char owner[64];
    char schema[64];
    int failed;
} builder;

static pthread_mutex_t build_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int build_log_bad;

static void build_log(int level, const char *msg, void *payload)
{
    (void)payload;
    if (level <= LM_LOG_WARN || strstr(msg, "deadlock") != NULL) {
        pthread_mutex_lock(&build_log_mu);
        build_log_bad++;
        fprintf(stderr, "# builder log: %s\n", msg);
        pthread_mutex_unlock(&build_log_mu);
    }
}

/* One "process": its own memory (pool, builder thread), one tenant grown past the threshold. */
static void *build_one(void *arg)
{
    builder *b = arg;
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m = NULL;
    mo.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    mo.schema = b->schema;
    mo.pool_size = 2;
    mo.vector_index_threshold = 4;
    mo.vector_index_max_per_tree = 4;
    mo.log_fn = build_log;
    mo.log_level = LM_LOG_INFO;
    if (lm_memory_open(&m, &mo) < 0) {
        b->failed = 1;
        return NULL;
    }
    for (int i = 0; i < 6 && !b->failed; i++) {
        char origin[16], text[128];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "d%d", i);
        snprintf(text, sizeof(text), "%s item %d", topics[i % 8], i);
        b->failed = lm_doc_add(&r, m, b->owner, origin, origin, LM_DOC_TEXT, text, strlen(text),
                               NULL) < 0;
    }
    lm_memory_wait_index_builds(m);
    lm_memory_close(m);
    return NULL;
}

/* 40 memories (as 40 processes would) build tenants' indexes at once on one table: no deadlock
 * and no invalid index is left (builds are serialised across processes), every tenant that may
 * have one gets it, and a tree of sub-tenants stops at its cap while its capped members are
 * still searched (exactly). */
TEST(test_vector__concurrent_builds_serialised_and_capped)
{
    lm_test_timeout(600);
    enum { N = 40, TREE = 10 };
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.vector_index_threshold = 4;
    mo.vector_index_max_per_tree = 4;
    lm_memory *m = test_memory_opts(&mo);
    lm_doc_add_result r;
    builder b[N];
    pthread_t t[N];
    char sql[512];
    add_doc(m, "seed", 0, &r); /* creates the tables */
    build_log_bad = 0;
    for (int i = 0; i < N; i++) {
        memset(&b[i], 0, sizeof(b[i]));
        snprintf(b[i].schema, sizeof(b[i].schema), "%s", test_schema());
        if (i < TREE)
            snprintf(b[i].owner, sizeof(b[i].owner), "tree/sub-%d", i);
        else
            snprintf(b[i].owner, sizeof(b[i].owner), "solo-%d", i);
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, build_one, &b[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ_INT(b[i].failed, 0);
    }
    ASSERT_EQ_INT(build_log_bad, 0);
    PGconn *c = db();
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vector_indexes WHERE owner_id LIKE 'solo-%%'",
             test_schema());
    ASSERT_EQ_INT(scalar(c, sql), N - TREE);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vector_indexes WHERE owner_id LIKE 'tree/%%'",
             test_schema());
    ASSERT_EQ_INT(scalar(c, sql), 4);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid"
             " WHERE x.relnamespace = '\"%s\"'::regnamespace AND NOT i.indisvalid", test_schema());
    ASSERT_EQ_INT(scalar(c, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_indexes WHERE schemaname = '%s'"
                               " AND indexname LIKE 'vidx_%%'", test_schema());
    ASSERT_EQ_INT(scalar(c, sql), N - TREE + 4);
    /* Every member of the capped tree still finds its own documents. */
    for (int i = 0; i < TREE; i++) {
        lm_search_opts o = LM_SEARCH_OPTS_INIT;
        lm_results *res = NULL;
        o.type = LM_SEARCH_VECTOR;
        o.no_history = 1;
        ASSERT_OK(lm_search(&res, m, b[i].owner, "coral reef fish", &o));
        ASSERT_EQ_INT(lm_results_count(res), 6);
        ASSERT_EQ_STR(lm_results_at(res, 0)->id_at_origin, "d0");
        lm_results_free(res);
    }
    PQfinish(c);
    lm_memory_close(m);
}

TEST(test_vector__hybrid_reports_both_legs_and_honours_filters)
{
    lm_memory *m = test_memory();
    lm_doc_add_result r;
    for (int i = 0; i < 16; i++)
        add_doc(m, "t", i, &r);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_HYBRID;
    o.limit = 5;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "t", "coral reef guitar", &o));
    ASSERT(lm_results_count(res) == 5);
    int both = 0;
    for (size_t i = 0; i < lm_results_count(res); i++) {
        const lm_hit *h = lm_results_at(res, i);
        double expect = (h->vector_rank ? 0.01 / (60 + h->vector_rank) : 0) +
                        (h->text_rank ? 0.99 / (60 + h->text_rank) : 0);
        ASSERT(fabs(h->score - expect) < 1e-12);
        both += h->vector_rank > 0 && h->text_rank > 0;
        if (i)
            ASSERT(lm_results_at(res, i - 1)->score >= h->score);
    }
    ASSERT(both > 0);
    lm_results_free(res);
    /* A single id_at_origin filter applies to hybrid too (llmemory ignored it). */
    o.id_at_origin = "d3";
    ASSERT_OK(lm_search(&res, m, "t", "coral reef guitar", &o));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    ASSERT_EQ_STR(lm_results_at(res, 0)->id_at_origin, "d3");
    lm_results_free(res);
    /* alpha 0: exactly the keyword ranking; alpha 1: exactly the vector ranking. */
    o.id_at_origin = NULL;
    lm_search_opts t = LM_SEARCH_OPTS_INIT;
    t.limit = 5;
    lm_results *tr = NULL;
    ASSERT_OK(lm_search(&tr, m, "t", "coral reef guitar", &t));
    o.alpha = 0;
    ASSERT_OK(lm_search(&res, m, "t", "coral reef guitar", &o));
    ASSERT_EQ_INT(lm_results_count(res), lm_results_count(tr));
    for (size_t i = 0; i < lm_results_count(res); i++)
        ASSERT_EQ_STR(lm_results_at(res, i)->chunk_id, lm_results_at(tr, i)->chunk_id);
    lm_results_free(res);
    lm_results_free(tr);
    t.type = LM_SEARCH_VECTOR;
    ASSERT_OK(lm_search(&tr, m, "t", "coral reef guitar", &t));
    o.alpha = 1;
    ASSERT_OK(lm_search(&res, m, "t", "coral reef guitar", &o));
    for (size_t i = 0; i < lm_results_count(res); i++)
        ASSERT_EQ_STR(lm_results_at(res, i)->chunk_id, lm_results_at(tr, i)->chunk_id);
    lm_results_free(res);
    lm_results_free(tr);
    /* Other tenants' vectors never appear. */
    add_doc(m, "other", 0, &r);
    o.alpha = -1;
    ASSERT_OK(lm_search(&res, m, "other", "coral reef guitar", &o));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    lm_results_free(res);
    lm_memory_close(m);
}

/* ---- custom embedders for the queue tests ---------------------------------------------------- */

typedef struct {
    int fail;      /* 1: every call fails */
    int sleep_s;   /* seconds to block before answering */
} fake_cfg;

static int fake_embed(void *self, float *out, int dim, const char *const *texts, const size_t *lens,
                      size_t n)
{
    fake_cfg *f = self;
    if (f->sleep_s)
        sleep((unsigned)f->sleep_s);
    if (f->fail)
        return LM_ECONN;
    for (size_t i = 0; i < n; i++) {
        unsigned h = 2166136261u;
        size_t len = lens ? lens[i] : strlen(texts[i]);
        for (size_t j = 0; j < len; j++)
            h = (h ^ (unsigned char)texts[i][j]) * 16777619u;
        double norm = 0;
        for (int d = 0; d < dim; d++) {
            h = h * 1103515245u + 12345u;
            out[i * (size_t)dim + (size_t)d] = (float)((double)(h >> 8) / 16777216.0 - 0.5);
            double x = (double)out[i * (size_t)dim + (size_t)d];
            norm += x * x;
        }
        for (int d = 0; d < dim; d++)
            out[i * (size_t)dim + (size_t)d] /= (float)sqrt(norm);
    }
    return 0;
}

static lm_embedder *fake(fake_cfg *cfg, int dim)
{
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, fake_embed, NULL};
    lm_embedder *e = NULL;
    ASSERT_OK(lm_embedder_custom_new(&e, "test-fake-v1", "fake", dim, &ops, cfg));
    return e;
}

static lm_memory *open_with(lm_embedder *e, const char *schema, int mode)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = schema;
    o.embedder = e;
    o.embed_mode = mode;
    lm_memory *m = NULL;
    ASSERT_OK(lm_memory_open(&m, &o));
    return m;
}

TEST(test_vector__failed_embedding_keeps_document_and_queues)
{
    fake_cfg bad = {1, 0}, good = {0, 0};
    lm_embedder *eb = fake(&bad, 16), *eg = fake(&good, 16);
    lm_memory *m = test_memory();
    char schema[64];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    lm_memory_close(m);
    m = open_with(eb, schema, LM_EMBED_SYNC);
    lm_doc_add_result r;
    const char *text = "Lighthouses guide ships at night.";
    ASSERT_OK(lm_doc_add(&r, m, "t", "x", "x", LM_DOC_TEXT, text, strlen(text), NULL));
    ASSERT_EQ_INT(r.embedded, 0);
    ASSERT_EQ_INT(r.queued, 1);
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "t", "lighthouses", NULL));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    lm_results_free(res);
    /* A failing worker retries, then gives up (dead) after max_attempts. */
    lm_embed_run_opts ro = LM_EMBED_RUN_OPTS_INIT;
    ro.max_attempts = 1;
    lm_embed_run_result rr;
    ASSERT_OK(lm_embed_run(&rr, m, &ro));
    ASSERT_EQ_INT(rr.claimed, 1);
    ASSERT_EQ_INT(rr.dead, 1);
    lm_embed_queue_stats qs;
    ASSERT_OK(lm_embed_queue_stats_get(&qs, m));
    ASSERT_EQ_INT(qs.dead, 1);
    lm_memory_close(m);
    /* Re-adding with a working embedder replaces the chunk (and its dead job). */
    m = open_with(eg, schema, LM_EMBED_SYNC);
    ASSERT_OK(lm_doc_add(&r, m, "t", "x", "x", LM_DOC_TEXT, text, strlen(text), NULL));
    ASSERT_EQ_INT(r.embedded, 1);
    ASSERT_OK(lm_embed_queue_stats_get(&qs, m));
    ASSERT_EQ_INT(qs.dead + qs.pending, 0);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_VECTOR;
    ASSERT_OK(lm_search(&res, m, "t", text, &o));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    ASSERT(lm_results_at(res, 0)->vector_score > 0.999);
    lm_results_free(res);
    lm_memory_close(m);
    lm_embedder_free(eb);
    lm_embedder_free(eg);
}

TEST(test_vector__killed_worker_every_chunk_embedded_once)
{
    lm_test_timeout(120);
    fake_cfg slow = {0, 30}, good = {0, 0};
    lm_embedder *eg = fake(&good, 16);
    lm_memory *m = test_memory();
    char schema[64], sql[512];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    lm_memory_close(m);
    m = open_with(eg, schema, LM_EMBED_QUEUE);
    for (int i = 0; i < 40; i++) {
        lm_doc_add_result r;
        add_doc(m, i % 2 ? "a" : "b", i, &r);
        ASSERT_EQ_INT(r.queued, 1);
    }
    lm_memory_close(m);
    pid_t child = fork();
    if (child == 0) {
        lm_embedder *es = fake(&slow, 16);
        lm_memory *cm = open_with(es, schema, LM_EMBED_QUEUE);
        lm_embed_run_opts ro = LM_EMBED_RUN_OPTS_INIT;
        ro.batch_size = 25;
        ro.lease_s = 3600; /* expired below by moving lease_until, not by waiting */
        lm_embed_run(NULL, cm, &ro); /* blocks inside the embedder until killed */
        _exit(0);
    }
    PGconn *c = db();
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".embedding_queue WHERE status = 'processing'",
             schema);
    for (int i = 0; i < 900 && scalar(c, sql) == 0; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ_INT(scalar(c, sql), 25);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    m = open_with(eg, schema, LM_EMBED_QUEUE);
    lm_embed_run_result rr;
    lm_embed_run_opts ro = LM_EMBED_RUN_OPTS_INIT;
    ro.batch_size = 10;
    /* Before the lease expires only the unclaimed jobs are taken... */
    ASSERT_OK(lm_embed_run(&rr, m, &ro));
    ASSERT_EQ_INT(rr.embedded, 15);
    ASSERT_OK(lm_embed_run(&rr, m, &ro));
    ASSERT_EQ_INT(rr.embedded, 0);
    /* The lease runs out (the clock is moved, rather than waited for)... */
    snprintf(sql, sizeof(sql),
             "UPDATE \"%s\".embedding_queue SET lease_until = now() - interval '1 second'"
             " WHERE status = 'processing'",
             schema);
    PGresult *res = PQexec(c, sql);
    ASSERT(PQresultStatus(res) == PGRES_COMMAND_OK);
    ASSERT_EQ_STR(PQcmdTuples(res), "25");
    PQclear(res);
    /* ...and then the dead worker's jobs are taken too. */
    ASSERT_OK(lm_embed_run(&rr, m, &ro));
    ASSERT_EQ_INT(rr.embedded, 25);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vectors_16", schema);
    ASSERT_EQ_INT(scalar(c, sql), 40);
    snprintf(sql, sizeof(sql), "SELECT count(DISTINCT chunk_id) FROM \"%s\".vectors_16", schema);
    ASSERT_EQ_INT(scalar(c, sql), 40);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".embedding_queue", schema);
    ASSERT_EQ_INT(scalar(c, sql), 0);
    PQfinish(c);
    lm_memory_close(m);
    lm_embedder_free(eg);
}

TEST(test_vector__concurrent_workers_embed_exactly_once)
{
    lm_test_timeout(120);
    fake_cfg good = {0, 0};
    lm_embedder *eg = fake(&good, 16);
    lm_memory *m = test_memory();
    char schema[64], sql[256];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    lm_memory_close(m);
    m = open_with(eg, schema, LM_EMBED_QUEUE);
    for (int i = 0; i < 60; i++) {
        lm_doc_add_result r;
        add_doc(m, "w", i, &r);
    }
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            lm_memory *cm = open_with(eg, schema, LM_EMBED_QUEUE);
            lm_embed_run_opts ro = LM_EMBED_RUN_OPTS_INIT;
            ro.batch_size = 4;
            _exit(lm_embed_run(NULL, cm, &ro) == 0 ? 0 : 1);
        }
    }
    for (int k = 0; k < 3; k++) {
        int st = 0;
        waitpid(kids[k], &st, 0);
        ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    PGconn *c = db();
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vectors_16", schema);
    ASSERT_EQ_INT(scalar(c, sql), 60);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".embedding_queue", schema);
    ASSERT_EQ_INT(scalar(c, sql), 0);
    PQfinish(c);
    lm_memory_close(m);
    lm_embedder_free(eg);
}

TEST(test_vector__new_default_provider_reembeds_through_queue)
{
    fake_cfg good = {0, 0};
    lm_embedder *e8 = fake(&good, 16);
    lm_memory *m = test_memory(); /* built-in embedder, 384 dimensions */
    char schema[64], sql[256];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    lm_doc_add_result r;
    for (int i = 0; i < 5; i++)
        add_doc(m, "t", i, &r);
    lm_memory_close(m);
    m = open_with(e8, schema, LM_EMBED_SYNC);
    lm_embed_queue_stats qs;
    ASSERT_OK(lm_embed_queue_stats_get(&qs, m));
    ASSERT_EQ_INT(qs.pending, 5);
    lm_embed_run_result rr;
    ASSERT_OK(lm_embed_run(&rr, m, NULL));
    ASSERT_EQ_INT(rr.embedded, 5);
    PGconn *c = db();
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".embedding_providers WHERE is_default"
                               " AND provider_id = 'test-fake-v1'", schema);
    ASSERT_EQ_INT(scalar(c, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vectors_384", schema);
    ASSERT_EQ_INT(scalar(c, sql), 5);
    PQfinish(c);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_VECTOR;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "t", "anything", &o));
    ASSERT_EQ_INT(lm_results_count(res), 5);
    lm_results_free(res);
    lm_memory_close(m);
    lm_embedder_free(e8);
}

/* lm_reembed queues only the named tenant's chunks that lack a vector (and revives its dead
   jobs); another tenant's, or an unknown tenant's, are untouched. */
TEST(test_vector__reembed_is_per_tenant)
{
    lm_memory *m = test_memory(); /* built-in embedder */
    char schema[64], sql[512];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    lm_doc_add_result r;
    for (int i = 0; i < 4; i++) {
        add_doc(m, "ra", i, &r);
        add_doc(m, "rb", i, &r);
    }
    int64_t queued = -1;
    /* Everything has its vector: nothing to do. */
    ASSERT_OK(lm_reembed(m, NULL, &queued));
    ASSERT_EQ_INT(queued, 0);
    /* Vectors lost for both tenants, and one of rb's jobs dead. */
    PGconn *c = db();
    snprintf(sql, sizeof(sql), "DELETE FROM \"%s\".vectors_384", schema);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof(sql),
             "INSERT INTO \"%s\".embedding_queue (owner_id, provider_id, chunk_id, status,"
             " attempts) SELECT owner_id, 'builtin-hash-v2-384', chunk_id, 'dead', 5"
             " FROM \"%s\".chunks WHERE owner_id = 'rb' AND searchable LIMIT 1",
             schema, schema);
    PQclear(PQexec(c, sql));

    ASSERT_OK(lm_reembed(m, "nobody", &queued));
    ASSERT_EQ_INT(queued, 0);
    ASSERT_OK(lm_reembed(m, "ra", &queued));
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".chunks WHERE owner_id = 'ra' AND searchable", schema);
    long long ra_chunks = scalar(c, sql);
    ASSERT(ra_chunks >= 4);
    ASSERT_EQ_INT(queued, ra_chunks);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".embedding_queue WHERE owner_id = 'rb'"
             " AND status = 'pending'", schema);
    ASSERT_EQ_INT(scalar(c, sql), 0);
    lm_embed_run_result rr;
    ASSERT_OK(lm_embed_run(&rr, m, NULL));
    ASSERT_EQ_INT(rr.embedded, ra_chunks);

    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_VECTOR;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "ra", "ocean waves", &o));
    ASSERT(lm_results_count(res) > 0);
    lm_results_free(res);
    ASSERT_OK(lm_search(&res, m, "rb", "ocean waves", &o));
    ASSERT_EQ_INT(lm_results_count(res), 0);
    lm_results_free(res);

    /* rb: its dead job is revived, the other chunks get jobs. */
    ASSERT_OK(lm_reembed(m, "rb", &queued));
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".chunks WHERE owner_id = 'rb' AND searchable", schema);
    ASSERT_EQ_INT(queued, scalar(c, sql));
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".embedding_queue WHERE status = 'dead'", schema);
    ASSERT_EQ_INT(scalar(c, sql), 0);
    ASSERT_OK(lm_embed_run(&rr, m, NULL));
    ASSERT_OK(lm_search(&res, m, "rb", "ocean waves", &o));
    ASSERT(lm_results_count(res) > 0);
    lm_results_free(res);

    ASSERT_ERR(lm_reembed(m, "bad owner\n", &queued), LM_EINVAL);
    PQfinish(c);
    lm_memory_close(m);

    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.no_embedder = 1;
    m = test_memory_opts(&mo);
    ASSERT_ERR(lm_reembed(m, NULL, &queued), LM_EINVAL);
    lm_memory_close(m);
}

TEST(test_vector__no_embedder_means_text_only)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.no_embedder = 1;
    lm_memory *m = test_memory_opts(&mo);
    lm_doc_add_result r;
    add_doc(m, "t", 0, &r);
    ASSERT_EQ_INT(r.embedded + r.queued, 0);
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = LM_SEARCH_HYBRID;
    lm_results *res = NULL;
    ASSERT_ERR(lm_search(&res, m, "t", "ocean", &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "search_type");
    lm_memory_close(m);
}

TEST(test_search_api__documents_context_expansion_rerank)
{
    lm_memory *m = test_memory();
    /* A document long enough for parents and children. */
    char text[20000];
    size_t used = 0;
    for (int i = 0; i < 120; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "Paragraph %d talks about %s and more. ", i, topics[i % 8]);
    lm_doc_add_opts ao = LM_DOC_ADD_OPTS_INIT;
    ao.metadata = "{\"team\":\"research\"}";
    ASSERT_OK(lm_doc_add(NULL, m, "t", "long", "Long report", LM_DOC_REPORT, text, used, &ao));
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.with_documents = 1;
    o.include_parent_context = 1;
    o.context_window = 1;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "t", "glacier climbing rope", &o));
    ASSERT(lm_results_count(res) > 0);
    const lm_hit *h = lm_results_at(res, 0);
    ASSERT(strstr(h->document_metadata, "research") != NULL);
    ASSERT_EQ_INT(h->document_type, LM_DOC_REPORT);
    ASSERT_EQ_INT(h->n_context, 1);
    ASSERT_EQ_INT(h->context[0].chunk_level, 2);
    ASSERT(strstr(h->context[0].content, h->content) != NULL);
    lm_results_free(res);
    /* Expansion and reranking keep the contract: sorted, at most limit, own tenant only. */
    o.expand = 1;
    o.rerank = 1;
    o.limit = 3;
    ASSERT_OK(lm_search(&res, m, "t", "How to climb a glacier with rope?", &o));
    ASSERT(lm_results_count(res) >= 1 && lm_results_count(res) <= 3);
    for (size_t i = 1; i < lm_results_count(res); i++)
        ASSERT(lm_results_at(res, i - 1)->score >= lm_results_at(res, i)->score);
    lm_results_free(res);
    lm_memory_close(m);
}

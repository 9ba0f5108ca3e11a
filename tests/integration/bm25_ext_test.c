/*
 * tests/integration/bm25_ext_test.c: the llmemory_bm25 extension (exact BM25 top-k in C) and the
 * pure-SQL path rank identically: same chunks in the same order, same scores.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/memory.h"
#include "search/search.h"
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

/* Ranks, chunk ids and scores of a few queries, as one string to compare. */
static void snapshot(lm_memory *m, const char *owner, char *out, size_t cap)
{
    const char *queries[] = {"protein cell", "immune therapy tumor", "stem glucose",
                             "blood pressure cardiac risk cohort"};
    size_t used = 0;
    out[0] = '\0';
    for (size_t qi = 0; qi < sizeof(queries) / sizeof(*queries); qi++) {
        lm_search_opts s = LM_SEARCH_OPTS_INIT;
        s.limit = 10;
        s.no_history = 1;
        lm_results *r = NULL;
        ASSERT_OK(lm_search(&r, m, owner, queries[qi], &s));
        ASSERT(lm_results_count(r) > 0);
        for (size_t i = 0; i < lm_results_count(r) && used + 80 < cap; i++) {
            const lm_hit *h = lm_results_at(r, i);
            used += (size_t)snprintf(out + used, cap - used, "%s %.17g\n", h->chunk_id, h->score);
        }
        lm_results_free(r);
    }
}

TEST(test_optimize__packs_postings_and_keeps_results)
{
    lm_test_timeout(180);
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.no_embedder = 1;
    lm_memory *m = test_memory_opts(&o);
    corpus(m, "big", 300);
    corpus(m, "small", 12);
    static char before_big[8192], before_small[8192], after_big[8192], after_small[8192];
    snapshot(m, "big", before_big, sizeof(before_big));
    snapshot(m, "small", before_small, sizeof(before_small));

    lm_optimize_report rep;
    ASSERT_OK(lm_memory_optimize(m, &rep));
    ASSERT(rep.postings_pages_before > 0);
    ASSERT(rep.postings_pages_after > 0);
    /* Trigger-built postings split pages half-and-half; the rebuild packs them. */
    ASSERT(rep.postings_pages_after < rep.postings_pages_before);
    ASSERT(rep.elapsed_ms > 0);

    snapshot(m, "big", after_big, sizeof(after_big));
    snapshot(m, "small", after_small, sizeof(after_small));
    ASSERT_EQ_STR(after_big, before_big);
    ASSERT_EQ_STR(after_small, before_small);

    /* Exactly one valid primary-key index is left on postings, and writes still work. */
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FILTER (WHERE i.indisvalid), count(*) FROM pg_index i"
             " WHERE i.indrelid = '%s.postings'::regclass", test_schema());
    PGresult *r = PQexec(c, sql);
    ASSERT_EQ_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "1");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 1), "1");
    PQclear(r);
    PQfinish(c);
    ASSERT_OK(lm_doc_add(NULL, m, "small", "late", "late", LM_DOC_TEXT, "stem glucose stem", 17,
                         NULL));
    /* Twice in a row is fine (nothing left to pack). */
    ASSERT_OK(lm_memory_optimize(m, NULL));
    lm_memory_close(m);
}

/*
 * The keyword statement and the hydrate query are prepared once per connection and then reused
 * for every tenant: with a pool of one connection, alternating tenants must still see only their
 * own chunks, and repeated calls (custom plans first, then PostgreSQL's generic plan after five
 * executions) must return the same results.
 */
TEST(test_search__prepared_statements_stay_per_tenant)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.no_embedder = 1;
    o.pool_size = 1;
    lm_memory *m = test_memory_opts(&o);
    corpus(m, "tenant-a", 40);
    corpus(m, "tenant-b", 25);
    test_add(m, "tenant-a", "only-a", "zebra protein marker for tenant a", NULL);
    test_add(m, "tenant-b", "only-b", "walrus protein marker for tenant b", NULL);
    static char first_a[8192], first_b[8192], again[8192];
    for (int round = 0; round < 8; round++) {
        const char *owners[] = {"tenant-a", "tenant-b"};
        for (int oi = 0; oi < 2; oi++) {
            lm_search_opts s = LM_SEARCH_OPTS_INIT;
            s.limit = 50;
            s.no_history = 1;
            lm_results *r = NULL;
            ASSERT_OK(lm_search(&r, m, owners[oi], "zebra walrus protein marker", &s));
            ASSERT(lm_results_count(r) > 0);
            for (size_t i = 0; i < lm_results_count(r); i++) {
                const lm_hit *h = lm_results_at(r, i);
                ASSERT(strcmp(h->id_at_origin, oi == 0 ? "only-b" : "only-a") != 0);
            }
            ASSERT_EQ_STR(lm_results_at(r, 0)->id_at_origin, oi == 0 ? "only-a" : "only-b");
            lm_results_free(r);
        }
        snapshot(m, "tenant-a", round == 0 ? first_a : again, sizeof(again));
        if (round > 0)
            ASSERT_EQ_STR(again, first_a);
        snapshot(m, "tenant-b", round == 0 ? first_b : again, sizeof(again));
        if (round > 0)
            ASSERT_EQ_STR(again, first_b);
    }
    lm_memory_close(m);
}

/* The BM25 pruning bound assumes tf >= 1 and doc_len >= 0; the schema refuses anything else. */
TEST(test_postings__check_refuses_impossible_postings)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.no_embedder = 1;
    lm_memory *m = test_memory_opts(&o);
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    char sql[256];
    const char *bad[] = {"0, 5", "1, -1"};
    for (int i = 0; i < 2; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO \"%s\".postings (owner_id, lexeme, chunk_no, tf, doc_len)"
                 " VALUES ('t', 'x', 1, %s)", test_schema(), bad[i]);
        PGresult *r = PQexec(c, sql);
        ASSERT_EQ_INT(PQresultStatus(r), PGRES_FATAL_ERROR);
        ASSERT_EQ_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23514");
        PQclear(r);
    }
    PQfinish(c);
    lm_memory_close(m);
}

/*
 * Without prepared statements (for a pooler in transaction mode) the results are the same; and a
 * session whose statements were deallocated behind the library's back fails one search, then
 * prepares them again.
 */
TEST(test_search__prepared_statements_optional_and_recover)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.no_embedder = 1;
    o.pool_size = 1;
    lm_memory *m = test_memory_opts(&o);
    char schema[64];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    corpus(m, "tenant-a", 40);
    lm_memory_opts so = LM_MEMORY_OPTS_INIT;
    so.no_embedder = 1;
    so.pool_size = 1;
    so.no_prepared_statements = 1;
    so.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    so.schema = schema;
    lm_memory *plain = NULL;
    ASSERT_OK(lm_memory_open(&plain, &so));
    static char a[8192], b[8192];
    snapshot(m, "tenant-a", a, sizeof(a));
    snapshot(plain, "tenant-a", b, sizeof(b));
    ASSERT_EQ_STR(b, a);

    /* DEALLOCATE ALL on the memory's only connection. */
    PGconn *c = NULL;
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    PQclear(PQexec(c, "DEALLOCATE ALL"));
    lm__pool_release(&m->db.pool, c);
    lm_search_opts s = LM_SEARCH_OPTS_INIT;
    s.no_history = 1;
    lm_results *r = NULL;
    ASSERT_EQ_INT(lm_search(&r, m, "tenant-a", "protein cell", &s), LM_EDB);
    snapshot(m, "tenant-a", b, sizeof(b));
    ASSERT_EQ_STR(b, a);

    /* Opted out (by option, or by $LLMEMORY_PREPARED_STATEMENTS=off): nothing to lose. */
    setenv("LLMEMORY_PREPARED_STATEMENTS", "off", 1);
    so.no_prepared_statements = 0;
    lm_memory *by_env = NULL;
    int rc = lm_memory_open(&by_env, &so);
    unsetenv("LLMEMORY_PREPARED_STATEMENTS");
    ASSERT_OK(rc);
    lm_memory *opted[] = {plain, by_env};
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(lm__pool_acquire(&c, &opted[i]->db.pool));
        PQclear(PQexec(c, "DEALLOCATE ALL"));
        lm__pool_release(&opted[i]->db.pool, c);
        snapshot(opted[i], "tenant-a", b, sizeof(b));
        ASSERT_EQ_STR(b, a);
    }
    lm_memory_close(by_env);
    lm_memory_close(plain);
    lm_memory_close(m);
}

/* ---- the build id: the library uses only the extension built from its own tree ---- */


typedef struct {
    char text[4096];
    int warnings; /* messages at LM_LOG_WARN or worse */
} log_capture;

static void capture_log(int level, const char *msg, void *payload)
{
    log_capture *cap = payload;
    size_t used = strlen(cap->text);
    cap->warnings += level <= LM_LOG_WARN;
    snprintf(cap->text + used, sizeof(cap->text) - used, "%d %s\n", level, msg);
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void sql_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        lm_test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* A database of its own (an extension is per database), created with @p setup run in it; opens a
   memory there and returns what the library logged while opening. */
static void open_in_own_database(const char *setup, log_capture *cap, int *uses_extension)
{
    const char *url = getenv("LLMEMORY_TEST_DATABASE_URL");
    char name[64], sql[256], dburl[1024];
    snprintf(name, sizeof(name), "lm_bm25_build_%d", (int)getpid());
    PGconn *admin = PQconnectdb(url);
    ASSERT(PQstatus(admin) == CONNECTION_OK);
    PQsetNoticeProcessor(admin, quiet, NULL);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
    sql_ok(admin, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    sql_ok(admin, sql);
    snprintf(dburl, sizeof(dburl), "%s dbname=%s", url, name);
    PGconn *c = PQconnectdb(dburl);
    ASSERT(PQstatus(c) == CONNECTION_OK);
    sql_ok(c, setup);
    PQfinish(c);

    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.no_embedder = 1;
    o.database_url = dburl;
    o.log_fn = capture_log;
    o.log_payload = cap;
    o.log_level = LM_LOG_INFO;
    cap->text[0] = '\0';
    cap->warnings = 0;
    lm_memory *m = NULL;
    ASSERT_OK(lm_memory_open(&m, &o));
    /* Either way, keyword search works and finds the document. */
    char id[40];
    test_add(m, "o", "a", "the insulin receptor signal", id);
    lm_search_opts s = LM_SEARCH_OPTS_INIT;
    s.no_history = 1;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "o", "insulin", &s));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    lm_results_free(res);
    lm_memory_close(m);
    *uses_extension = strstr(cap->text, "keyword search: llmemory_bm25 extension") != NULL;
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", name);
    sql_ok(admin, sql);
    PQfinish(admin);
}

TEST(test_bm25_ext__reports_the_build_of_this_tree)
{
    /* The id the installed module reports is the one of this tree's pgext/ sources: a module
       left behind by another checkout fails here, with the command that fixes it. */
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    PQsetNoticeProcessor(c, quiet, NULL);
    sql_ok(c, "CREATE EXTENSION IF NOT EXISTS llmemory_bm25");
    PGresult *r = PQexec(c, "SELECT llmemory_bm25_build_id()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), lm__pgext_build_id))
        lm_test_fail(__FILE__, __LINE__,
                     "the installed llmemory_bm25 extension is not the build of this tree "
                     "(reports \"%s\"%s, tree has %s): run scripts/deps.sh",
                     PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "",
                     PQresultStatus(r) == PGRES_TUPLES_OK ? "" : PQerrorMessage(c),
                     lm__pgext_build_id);
    PQclear(r);
    PQfinish(c);
}

TEST(test_bm25_ext__other_build_is_not_used)
{
    lm_test_timeout(60);
    static log_capture cap;
    int uses = 1;
    /* What a module built from other sources would answer. */
    open_in_own_database("CREATE EXTENSION llmemory_bm25;"
                         "CREATE OR REPLACE FUNCTION llmemory_bm25_build_id() RETURNS text"
                         " LANGUAGE sql AS $$SELECT 'f00dfeed'::text$$",
                         &cap, &uses);
    ASSERT(!uses);
    ASSERT_EQ_INT(cap.warnings, 1);
    ASSERT(strstr(cap.text, "1 the llmemory_bm25 extension in this database is build f00dfeed")
           != NULL);
    ASSERT(strstr(cap.text, "keyword search: SQL") != NULL);
    ASSERT(strstr(cap.text, "Hint: install this version's extension") != NULL);
}

TEST(test_bm25_ext__older_version_is_updated_and_used)
{
    lm_test_timeout(60);
    static log_capture cap;
    int uses = 0;
    /* Created by a release before build ids: updated at open, then identified and used. */
    open_in_own_database("CREATE EXTENSION llmemory_bm25 VERSION '1.0'", &cap, &uses);
    ASSERT(uses);
    ASSERT_EQ_INT(cap.warnings, 0);
}

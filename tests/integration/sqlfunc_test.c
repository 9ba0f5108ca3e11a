/*
 * tests/integration/sqlfunc_test.c: the tenant operations as server-side functions
 * (060_tenant_functions.sql, 061_tenant_writes.sql, 062_tenant_stats.sql). They return what the
 * statement path (LLMEMORY_SQL_FUNCTIONS=off) returns on the same data; called with no session
 * state by a superuser they still run under row-level security as the work role; another
 * tenant's objects are as missing through them as anywhere; and the per-tenant HNSW index and
 * the keyword extension are still used from inside the function (plans logged by auto_explain).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/memory.h"
#include "support.h"

/* Two tenants with the same origins; alpha passes the vector index threshold. */
static lm_memory *fixture(void)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.vector_index_threshold = 3;
    lm_memory *m = test_memory_opts(&o);
    const char *owners[] = {"alpha", "beta"};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 6; i++) {
            char origin[32], text[160];
            snprintf(origin, sizeof(origin), "shared-%d", i);
            snprintf(text, sizeof(text),
                     "%s note %d: the launch code is %s, stored in vault %d near the river.",
                     owners[t], i, t == 0 ? "pineapple" : "mango", i % 3);
            test_add(m, owners[t], origin, text, NULL);
        }
    lm__vindex_bg_wait(&m->vindex_bg);
    return m;
}

/* The same schema through the statement path. */
static lm_memory *statements_twin(void)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = test_schema();
    o.vector_index_threshold = 3;
    lm_memory *m = NULL;
    setenv("LLMEMORY_SQL_FUNCTIONS", "off", 1);
    ASSERT_OK(lm_memory_open(&m, &o));
    unsetenv("LLMEMORY_SQL_FUNCTIONS");
    ASSERT(!m->sql_functions);
    return m;
}

static void same_results(lm_memory *a, lm_memory *b, const char *owner, const char *query,
                         const lm_search_opts *o)
{
    lm_results *x = NULL, *y = NULL;
    ASSERT_OK(lm_search(&x, a, owner, query, o));
    ASSERT_OK(lm_search(&y, b, owner, query, o));
    ASSERT_EQ_INT((int)lm_results_count(x), (int)lm_results_count(y));
    for (size_t i = 0; i < lm_results_count(x); i++) {
        const lm_hit *h = lm_results_at(x, i), *k = lm_results_at(y, i);
        ASSERT_EQ_STR(h->chunk_id, k->chunk_id);
        ASSERT_EQ_STR(h->document_id, k->document_id);
        ASSERT_EQ_STR(h->content, k->content);
        ASSERT_EQ_STR(h->metadata, k->metadata);
        ASSERT_EQ_STR(h->id_at_origin, k->id_at_origin);
        ASSERT_EQ_INT(h->rank, k->rank);
        ASSERT_EQ_INT(h->text_rank, k->text_rank);
        ASSERT_EQ_INT(h->vector_rank, k->vector_rank);
        ASSERT_EQ_INT(h->chunk_index, k->chunk_index);
        ASSERT(fabs(h->score - k->score) <= 1e-12 * (1 + fabs(h->score)));
        ASSERT(fabs(h->text_score - k->text_score) <= 1e-12 * (1 + fabs(h->text_score)));
        ASSERT(fabs(h->vector_score - k->vector_score) <= 1e-12 * (1 + fabs(h->vector_score)));
        ASSERT_EQ_STR(h->owner_id, owner);
    }
    lm_results_free(x);
    lm_results_free(y);
}

TEST(test_sqlfunc__functions_return_what_statements_return)
{
    lm_memory *fn = fixture();
    lm_memory *st = statements_twin();
    ASSERT(fn->sql_functions);
    static const char *const queries[] = {"launch code", "pineapple vault", "\"launch code\" -mango",
                                          "river", "nothing-matches-this"};
    for (int ty = 0; ty < 3; ty++)
        for (size_t q = 0; q < sizeof(queries) / sizeof(*queries); q++) {
            lm_search_opts o = LM_SEARCH_OPTS_INIT;
            o.type = (lm_search_type)ty;
            o.limit = 4;
            o.no_history = 1;
            o.with_documents = 1;
            same_results(fn, st, "alpha", queries[q], &o);
            same_results(fn, st, "beta", queries[q], &o);
            o.metadata_filter = "{}";
            o.id_at_origin = "shared-2";
            same_results(fn, st, "alpha", queries[q], &o);
            o.id_at_origin = NULL;
            const char *origins[] = {"shared-1", "shared-4"};
            o.id_at_origins = origins;
            o.n_id_at_origins = 2;
            o.has_type = 1;
            o.doc_type = LM_DOC_TEXT;
            same_results(fn, st, "alpha", queries[q], &o);
        }
    /* get and list: every field the same. */
    lm_doc *a = NULL, *b = NULL;
    ASSERT_OK(lm_doc_get_by_origin(&a, fn, "alpha", "shared-3", 1));
    ASSERT_OK(lm_doc_get_by_origin(&b, st, "alpha", "shared-3", 1));
    ASSERT_EQ_STR(lm_doc_document(a)->document_id, lm_doc_document(b)->document_id);
    ASSERT_EQ_STR(lm_doc_document(a)->created_at, lm_doc_document(b)->created_at);
    ASSERT_EQ_STR(lm_doc_document(a)->metadata, lm_doc_document(b)->metadata);
    ASSERT_EQ_INT((int)lm_doc_chunk_count(a), (int)lm_doc_chunk_count(b));
    ASSERT(lm_doc_chunk_count(a) > 0);
    for (size_t i = 0; i < lm_doc_chunk_count(a); i++) {
        ASSERT_EQ_STR(lm_doc_chunk_at(a, i)->chunk_id, lm_doc_chunk_at(b, i)->chunk_id);
        ASSERT_EQ_STR(lm_doc_chunk_at(a, i)->content, lm_doc_chunk_at(b, i)->content);
        ASSERT_EQ_STR(lm_doc_chunk_at(a, i)->parent_chunk_id,
                      lm_doc_chunk_at(b, i)->parent_chunk_id);
    }
    lm_doc_free(b);
    b = NULL;
    ASSERT_OK(lm_doc_get(&b, fn, "alpha", lm_doc_document(a)->document_id, 0));
    ASSERT_EQ_STR(lm_doc_document(b)->id_at_origin, "shared-3");
    ASSERT_EQ_INT((int)lm_doc_chunk_count(b), 0);
    lm_doc_free(a);
    lm_doc_free(b);
    for (int order = 0; order <= LM_ORDER_DOCUMENT_NAME; order++) {
        lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
        lo.limit = 4;
        lo.offset = 1;
        lo.order_by = (lm_doc_order)order;
        lo.ascending = order == 1;
        lm_doc_page *p = NULL, *q = NULL;
        ASSERT_OK(lm_doc_list(&p, fn, "alpha", &lo));
        ASSERT_OK(lm_doc_list(&q, st, "alpha", &lo));
        ASSERT_EQ_INT((int)lm_doc_page_count(p), 4);
        ASSERT_EQ_INT((int)lm_doc_page_total(p), 6);
        ASSERT_EQ_INT((int)lm_doc_page_count(p), (int)lm_doc_page_count(q));
        ASSERT_EQ_INT((int)lm_doc_page_total(p), (int)lm_doc_page_total(q));
        for (size_t i = 0; i < lm_doc_page_count(p); i++)
            ASSERT_EQ_STR(lm_doc_page_at(p, i)->document_id, lm_doc_page_at(q, i)->document_id);
        lm_doc_page_free(p);
        lm_doc_page_free(q);
    }
    /* A page past the end still says how many there are. */
    lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
    lo.offset = 100;
    lm_doc_page *p = NULL;
    ASSERT_OK(lm_doc_list(&p, fn, "alpha", &lo));
    ASSERT_EQ_INT((int)lm_doc_page_count(p), 0);
    ASSERT_EQ_INT((int)lm_doc_page_total(p), 6);
    lm_doc_page_free(p);
    /* History written by the function, read by both. */
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, fn, "beta", "launch", NULL));
    int found = (int)lm_results_count(r);
    ASSERT(found > 0);
    lm_results_free(r);
    lm_history *h1 = NULL, *h2 = NULL;
    ASSERT_OK(lm_history_list(&h1, fn, "beta", 10));
    ASSERT_OK(lm_history_list(&h2, st, "beta", 10));
    ASSERT_EQ_INT((int)lm_history_count(h1), 1);
    ASSERT_EQ_INT((int)lm_history_count(h2), 1);
    ASSERT_EQ_STR(lm_history_at(h1, 0)->query, "launch");
    ASSERT_EQ_STR(lm_history_at(h1, 0)->search_id, lm_history_at(h2, 0)->search_id);
    ASSERT_EQ_STR(lm_history_at(h1, 0)->filters, "{\"limit\": 10}");
    ASSERT_EQ_INT(lm_history_at(h1, 0)->result_count, found);
    ASSERT(lm_history_at(h1, 0)->latency_ms > 0);
    lm_history_free(h1);
    lm_history_free(h2);
    /* Statistics: a tenant with documents, and one without. */
    for (int t = 0; t < 2; t++) {
        lm_stats x, y;
        const char *owner = t ? "gamma" : "alpha";
        ASSERT_OK(lm_stats_get(&x, fn, owner));
        ASSERT_OK(lm_stats_get(&y, st, owner));
        ASSERT_EQ_INT((int)x.document_count, t ? 0 : 6);
        ASSERT_EQ_INT((int)x.document_count, (int)y.document_count);
        ASSERT_EQ_INT((int)x.chunk_count, (int)y.chunk_count);
        ASSERT_EQ_INT((int)x.total_bytes, (int)y.total_bytes);
        ASSERT_EQ_STR(x.first_created, y.first_created);
        ASSERT_EQ_STR(x.last_created, y.last_created);
        for (int k = 0; k < LM_DOC_TYPE_COUNT; k++)
            ASSERT_EQ_INT((int)x.by_type[k], (int)y.by_type[k]);
        ASSERT_EQ_INT((int)x.by_type[LM_DOC_TEXT], t ? 0 : 6);
    }
    lm_memory_close(st);
    lm_memory_close(fn);
}

TEST(test_sqlfunc__another_tenants_objects_are_missing)
{
    lm_memory *m = fixture();
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get_by_origin(&d, m, "beta", "shared-0", 0));
    char beta_doc[40];
    snprintf(beta_doc, sizeof(beta_doc), "%s", lm_doc_document(d)->document_id);
    lm_doc_free(d);
    d = NULL;
    ASSERT_ERR(lm_doc_get(&d, m, "alpha", beta_doc, 1), LM_ENOTFOUND);
    ASSERT_ERR(lm_doc_get(&d, m, "gamma", beta_doc, 1), LM_ENOTFOUND);
    ASSERT_ERR(lm_doc_get_by_origin(&d, m, "gamma", "shared-0", 1), LM_ENOTFOUND);
    const char *ids[] = {beta_doc};
    lm_id_list *gone = NULL;
    ASSERT_OK(lm_doc_delete(&gone, m, "alpha", ids, 1, NULL));
    ASSERT_EQ_INT((int)lm_id_list_count(gone), 0);
    lm_id_list_free(gone);
    ASSERT_OK(lm_doc_get(&d, m, "beta", beta_doc, 0));
    lm_doc_free(d);
    lm_doc_page *p = NULL;
    ASSERT_OK(lm_doc_list(&p, m, "gamma", NULL));
    ASSERT_EQ_INT((int)lm_doc_page_count(p), 0);
    ASSERT_EQ_INT((int)lm_doc_page_total(p), 0);
    lm_doc_page_free(p);
    for (int ty = 0; ty < 3; ty++) {
        lm_search_opts o = LM_SEARCH_OPTS_INIT;
        o.type = (lm_search_type)ty;
        lm_results *r = NULL;
        ASSERT_OK(lm_search(&r, m, "alpha", "mango launch code", &o));
        for (size_t i = 0; i < lm_results_count(r); i++) {
            ASSERT(strstr(lm_results_at(r, i)->content, "mango") == NULL);
            ASSERT_EQ_STR(lm_results_at(r, i)->owner_id, "alpha");
        }
        lm_results_free(r);
        ASSERT_OK(lm_search(&r, m, "gamma", "mango launch code", &o));
        ASSERT_EQ_INT((int)lm_results_count(r), 0);
        lm_results_free(r);
    }
    /* Delete through the function: by id, then by metadata, own documents only. */
    ASSERT_OK(lm_doc_delete(&gone, m, "beta", ids, 1, NULL));
    ASSERT_EQ_INT((int)lm_id_list_count(gone), 1);
    ASSERT_EQ_STR(lm_id_list_at(gone, 0), beta_doc);
    lm_id_list_free(gone);
    ASSERT_ERR(lm_doc_get(&d, m, "beta", beta_doc, 0), LM_ENOTFOUND);
    lm_memory_close(m);
}

static void collect_notice(void *arg, const PGresult *res)
{
    lm__buf_puts(arg, PQresultErrorMessage(res));
}

static PGconn *raw_connect(void)
{
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    return c;
}

static void raw_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        lm_test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* A superuser's plain call, with no tenant and no role of its own: the function sets both, so
   the rest of its transaction sees only the tenant's rows, as the work role. */
TEST(test_sqlfunc__functions_bring_their_own_tenant_and_role)
{
    lm_memory *m = fixture();
    PGconn *c = raw_connect();
    lm_buf sql = LM_BUF_INIT;
    const char *S = m->db.qschema;
    raw_ok(c, "BEGIN");
    lm__buf_printf(&sql, "SELECT count(*) FROM %s.lm_list('alpha', 10, 0, 'created_at', false,"
                         " false, NULL, NULL)", S);
    raw_ok(c, sql.ptr);
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "SELECT current_user, current_setting('llmemory.owner_id'),"
                         " (SELECT count(*) FROM %s.documents),"
                         " (SELECT count(*) FROM %s.documents WHERE owner_id = 'beta')", S, S);
    PGresult *r = PQexec(c, sql.ptr);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), m->db.role);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 1), "alpha");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 2), "6");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 3), "0");
    PQclear(r);
    raw_ok(c, "ROLLBACK");
    /* After the call's own transaction nothing is left on the connection. */
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "SELECT count(*) FROM %s.lm_get('beta', NULL, 'shared-1', true)", S);
    raw_ok(c, sql.ptr);
    r = PQexec(c, "SELECT current_user = session_user,"
                  " coalesce(current_setting('llmemory.owner_id', true), '')");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "t");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 1), "");
    PQclear(r);
    /* An empty tenant is refused. */
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "SELECT * FROM %s.lm_history('', 10)", S);
    r = PQexec(c, sql.ptr);
    ASSERT(PQresultStatus(r) == PGRES_FATAL_ERROR);
    ASSERT_EQ_STR(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22023");
    PQclear(r);
    lm_buf_dispose(&sql);
    PQfinish(c);
    lm_memory_close(m);
}

/* The plans inside lm_search: the tenant's partial HNSW index for the vector leg, and the
   keyword extension (or, without it, the postings index) for the keyword leg. */
TEST(test_sqlfunc__search_function_keeps_partial_index_and_extension)
{
    lm_memory *m = fixture();
    PGconn *c = raw_connect();
    lm_buf log = LM_BUF_INIT, sql = LM_BUF_INIT;
    const char *S = m->db.qschema;
    PGresult *r = NULL;

    lm__buf_printf(&sql, "SET llmemory.maintenance = on; SELECT i.index_name, v.embedding::text"
                         " FROM %s.vector_indexes i JOIN %s v USING (owner_id, provider_id)"
                         " WHERE i.owner_id = 'alpha' LIMIT 1", S, m->vec.table);
    r = PQexec(c, sql.ptr);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    ASSERT_EQ_INT(PQntuples(r), 1); /* alpha has its own graph */
    char index_name[64];
    snprintf(index_name, sizeof(index_name), "%s", PQgetvalue(r, 0, 0));
    char *vec = strdup(PQgetvalue(r, 0, 1));
    PQclear(r);
    raw_ok(c, "RESET llmemory.maintenance");
    PQsetNoticeReceiver(c, collect_notice, &log);
    raw_ok(c, "LOAD 'auto_explain'");
    /* The exact alternatives priced out, as tests/integration/rls_test.c does. */
    raw_ok(c, "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;"
              " SET auto_explain.log_level = notice; SET enable_seqscan = off;"
              " SET enable_bitmapscan = off; SET enable_sort = off");
    char dim[16];
    snprintf(dim, sizeof(dim), "%d", m->vec.dim);
    const char *p[] = {vec, m->vec.provider_id, dim,
                       m->bm25.ext_schema[0] ? m->bm25.ext_schema : NULL,
                       m->bm25.ext_tenant ? "true" : "false"};
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "SELECT chunk_no FROM %s.lm_search('alpha', 'hybrid', 5, 5,"
                         " 'launch code', '', 'english', 1.2, 0.75, $4, $5::boolean, $1, $2,"
                         " $3::int, 0, 0.5, 60, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'q', 0)",
                   S);
    r = PQexecParams(c, sql.ptr, 5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        lm_test_fail(__FILE__, __LINE__, "lm_search: %s", PQerrorMessage(c));
    ASSERT_EQ_INT(PQntuples(r), 5);
    PQclear(r);
    if (strstr(log.ptr, index_name) == NULL)
        lm_test_fail(__FILE__, __LINE__, "the tenant's index %s is not used:\n%s", index_name,
                     log.ptr);
    if (m->bm25.ext_schema[0] ? strstr(log.ptr, m->bm25.ext_tenant ? "llmemory_bm25_tenant"
                                                                   : "llmemory_bm25_search") == NULL
                              : strstr(log.ptr, "postings_pkey") == NULL)
        lm_test_fail(__FILE__, __LINE__, "the keyword leg does not use the %s:\n%s",
                     m->bm25.ext_schema[0] ? "extension" : "postings index", log.ptr);
    free(vec);
    lm_buf_dispose(&log);
    lm_buf_dispose(&sql);
    PQfinish(c);
    lm_memory_close(m);
}

/* A library opened with LLMEMORY_RLS=off on a schema whose work role another opener recorded:
   its tenant work stays on the URL's role (the statement path), and every search type works,
   the keyword extension included (which refuses tables whose policies bind the caller). */
TEST(test_sqlfunc__rls_off_opener_uses_the_statements)
{
    lm_memory *on = fixture();
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = test_schema();
    lm_memory *off = NULL;
    setenv("LLMEMORY_RLS", "off", 1);
    ASSERT_OK(lm_memory_open(&off, &o));
    unsetenv("LLMEMORY_RLS");
    ASSERT(!off->sql_functions);
    ASSERT(on->sql_functions);
    for (int ty = 0; ty < 3; ty++) {
        lm_search_opts so = LM_SEARCH_OPTS_INIT;
        so.type = (lm_search_type)ty;
        so.no_history = 1;
        same_results(on, off, "alpha", "launch code", &so);
        lm_results *r = NULL;
        ASSERT_OK(lm_search(&r, off, "alpha", "launch code", &so));
        ASSERT(lm_results_count(r) > 0);
        lm_results_free(r);
    }
    lm_memory_close(off);
    lm_memory_close(on);
}

/*
 * tests/integration/rls_test.c: row-level security without the application's own filter. Raw
 * SQL runs on the library's own pooled connection inside a tenant transaction (lm__tx_begin,
 * the one entry point of tenant work), with no owner_id condition: every table that has an
 * owner_id column, enumerated from the catalog so a future table cannot be forgotten, shows
 * only the tenant's rows, and writes to another tenant's rows are refused.
 */
#include <string.h>
#include <unistd.h>

#include "api/memory.h"
#include "support.h"

/* Two tenants with the same id_at_origin, searched (history), with vectors (sync embedding),
 * plus a queued document so the embedding queue has rows too, and an API key each. */
static lm_memory *fixture(void)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.vector_index_threshold = 3; /* alpha gets its own partial HNSW index */
    lm_memory *m = test_memory_opts(&o);
    const char *owners[] = {"alpha", "beta"};
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < 5; i++) {
            char origin[32], text[128];
            snprintf(origin, sizeof(origin), "shared-%d", i);
            snprintf(text, sizeof(text), "%s secret number %d: the launch code is %s.",
                     owners[t], i, t == 0 ? "pineapple" : "mango");
            test_add(m, owners[t], origin, text, NULL);
        }
        lm_results *r = NULL;
        ASSERT_OK(lm_search(&r, m, owners[t], "launch code", NULL));
        lm_results_free(r);
        lm_key_created k;
        ASSERT_OK(lm_key_create(&k, m, owners[t], NULL));
    }
    /* Tenants' vector indexes are built by a background thread: wait for alpha's. */
    lm_memory_wait_index_builds(m);
    return m;
}

/* Every table of the schema with an owner_id column, as quoted names. */
static PGresult *owner_tables(PGconn *c, const char *schema)
{
    const char *p[] = {schema};
    PGresult *r = NULL;
    ASSERT_OK(lm__db_exec(&r, c,
                          "SELECT format('%I.%I', n.nspname, c.relname), c.relrowsecurity,"
                          " c.relforcerowsecurity"
                          " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                          " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')"
                          "   AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid"
                          "               AND a.attname = 'owner_id' AND NOT a.attisdropped)"
                          " ORDER BY 1",
                          1, p));
    return r;
}

static long long count1(PGconn *c, const char *sql)
{
    PGresult *r = NULL;
    ASSERT_OK(lm__db_exec(&r, c, sql, 0, NULL));
    long long n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

TEST(test_rls__every_owner_table_is_forced)
{
    lm_memory *m = fixture();
    PGconn *c = NULL;
    ASSERT_OK(lm__db_admin_acquire(&c, &m->db));
    PGresult *t = owner_tables(c, m->db.schema);
    /* documents, chunks, tenant_stats, term_stats, postings, search_history, embedding_queue,
       vector_indexes, api_keys and the vector table at least. */
    ASSERT(PQntuples(t) >= 10);
    for (int i = 0; i < PQntuples(t); i++) {
        if (strcmp(PQgetvalue(t, i, 1), "t") != 0 || strcmp(PQgetvalue(t, i, 2), "t") != 0)
            lm_test_fail(__FILE__, __LINE__, "%s: row-level security not enabled and forced",
                         PQgetvalue(t, i, 0));
    }
    PQclear(t);
    lm__db_admin_release(&m->db, c);
    lm_memory_close(m);
}

TEST(test_rls__tenant_work_runs_as_a_bound_role)
{
    lm_memory *m = fixture();
    lm__tx tx;
    PGresult *r = NULL;
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_READ));
    ASSERT_OK(lm__db_exec(&r, tx.conn,
                          "SELECT current_user, r.rolsuper, r.rolbypassrls,"
                          " current_setting('llmemory.owner_id', true)"
                          " FROM pg_roles r WHERE r.rolname = current_user", 0, NULL));
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "llmemory_app");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 1), "f");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 2), "f");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 3), "alpha");
    PQclear(r);
    lm__tx_end(&tx);
    lm_memory_close(m);
}

TEST(test_rls__raw_select_sees_own_rows_only)
{
    lm_memory *m = fixture();
    PGconn *a = NULL;
    lm__tx tx;
    char sql[256];
    ASSERT_OK(lm__db_admin_acquire(&a, &m->db));
    PGresult *t = owner_tables(a, m->db.schema);
    int both = 0;
    for (int i = 0; i < PQntuples(t); i++) {
        const char *tbl = PQgetvalue(t, i, 0);
        /* What is really there (maintenance connection, every row). */
        snprintf(sql, sizeof(sql), "SELECT count(*) FILTER (WHERE owner_id = 'alpha'),"
                                   " count(*) FILTER (WHERE owner_id <> 'alpha') FROM %s", tbl);
        PGresult *all = NULL;
        ASSERT_OK(lm__db_exec(&all, a, sql, 0, NULL));
        long long mine = strtoll(PQgetvalue(all, 0, 0), NULL, 10);
        long long others = strtoll(PQgetvalue(all, 0, 1), NULL, 10);
        PQclear(all);
        both += mine > 0 && others > 0;
        /* The same table, unfiltered, inside alpha's transaction. */
        ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_READ));
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tbl);
        long long seen = count1(tx.conn, sql);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE owner_id <> 'alpha'", tbl);
        long long foreign = count1(tx.conn, sql);
        lm__tx_end(&tx);
        if (seen != mine || foreign != 0)
            lm_test_fail(__FILE__, __LINE__, "%s: saw %lld rows (%lld foreign), alpha has %lld",
                         tbl, seen, foreign, mine);
    }
    /* The check covered tables where both tenants have rows (it could have failed). */
    ASSERT(both >= 7);
    PQclear(t);
    lm__db_admin_release(&m->db, a);
    lm_memory_close(m);
}

TEST(test_rls__writes_to_other_tenant_are_refused)
{
    lm_memory *m = fixture();
    PGconn *a = NULL;
    lm__tx tx;
    char sql[512];
    const char *S = m->db.qschema;
    ASSERT_OK(lm__db_admin_acquire(&a, &m->db));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.chunks WHERE owner_id = 'beta'", S);
    long long beta_chunks = count1(a, sql);
    ASSERT(beta_chunks > 0);

    /* INSERT of a row for another tenant: refused by the policy's WITH CHECK. */
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_WRITE));
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s.documents (owner_id, document_id, id_at_origin, document_type,"
             " document_name) VALUES ('beta', gen_random_uuid(), 'planted', 'text', 'x')", S);
    ASSERT(lm__db_exec(NULL, tx.conn, sql, 0, NULL) < 0);
    ASSERT_EQ_STR(lm_error_last()->sqlstate, "42501");
    lm__tx_end(&tx);

    /* UPDATE moving an own row to another tenant: refused. */
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_WRITE));
    snprintf(sql, sizeof(sql), "UPDATE %s.documents SET owner_id = 'beta' WHERE true", S);
    ASSERT(lm__db_exec(NULL, tx.conn, sql, 0, NULL) < 0);
    lm__tx_end(&tx);

    /* UPDATE and DELETE of the other tenant's rows: they do not exist for alpha. */
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_WRITE));
    PGresult *r = NULL;
    snprintf(sql, sizeof(sql), "UPDATE %s.documents SET document_name = 'owned'"
                               " WHERE owner_id = 'beta'", S);
    ASSERT_OK(lm__db_exec(&r, tx.conn, sql, 0, NULL));
    ASSERT_EQ_STR(PQcmdTuples(r), "0");
    PQclear(r);
    snprintf(sql, sizeof(sql), "DELETE FROM %s.chunks WHERE owner_id = 'beta'", S);
    ASSERT_OK(lm__db_exec(&r, tx.conn, sql, 0, NULL));
    ASSERT_EQ_STR(PQcmdTuples(r), "0");
    PQclear(r);
    snprintf(sql, sizeof(sql), "DELETE FROM %s.api_keys", S);
    ASSERT_OK(lm__db_exec(&r, tx.conn, sql, 0, NULL));
    ASSERT_EQ_STR(PQcmdTuples(r), "1"); /* its own key only */
    PQclear(r);
    ASSERT_OK(lm__tx_commit(&tx));

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.chunks WHERE owner_id = 'beta'", S);
    ASSERT(count1(a, sql) == beta_chunks);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.documents WHERE owner_id = 'beta'"
                               " AND document_name = 'owned' OR id_at_origin = 'planted'", S);
    ASSERT(count1(a, sql) == 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.api_keys WHERE owner_id = 'beta'", S);
    ASSERT(count1(a, sql) == 1);
    lm__db_admin_release(&m->db, a);
    lm_memory_close(m);
}

TEST(test_rls__outside_a_tenant_transaction_nothing_is_visible)
{
    lm_memory *m = fixture();
    lm__tx tx;
    PGconn *c = NULL;
    PGresult *r = NULL;
    char sql[256];
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_WRITE));
    PGconn *used = tx.conn;
    ASSERT_OK(lm__tx_commit(&tx));
    /* The pool hands back the connection just returned: it carries no tenant, no work role
       switch, no maintenance setting. */
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    ASSERT(c == used);
    ASSERT_OK(lm__db_exec(&r, c,
                          "SELECT coalesce(current_setting('llmemory.owner_id', true), ''),"
                          " current_user = session_user,"
                          " coalesce(current_setting('llmemory.maintenance', true), '')",
                          0, NULL));
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 1), "t");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 2), "");
    PQclear(r);
    /* As the work role with no tenant set, no table shows a row. */
    ASSERT_OK(lm__db_exec(NULL, c, "BEGIN", 0, NULL));
    ASSERT_OK(lm__db_exec(NULL, c, "SET LOCAL ROLE llmemory_app", 0, NULL));
    PGresult *t = owner_tables(c, m->db.schema);
    ASSERT(PQntuples(t) >= 10);
    for (int i = 0; i < PQntuples(t); i++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", PQgetvalue(t, i, 0));
        if (count1(c, sql) != 0)
            lm_test_fail(__FILE__, __LINE__, "%s: rows visible without a tenant",
                         PQgetvalue(t, i, 0));
    }
    PQclear(t);
    ASSERT_OK(lm__db_exec(NULL, c, "ROLLBACK", 0, NULL));
    lm__pool_release(&m->db.pool, c);
    lm_memory_close(m);
}

TEST(test_rls__bm25_extension_cannot_read_another_tenant)
{
    lm_memory *m = fixture();
    /* Called directly, whether or not the library uses it (an older build in the server's
       extension directory makes the library keep to the SQL path). */
    PGconn *a = NULL;
    PGresult *e = NULL;
    char ext[80];
    ASSERT_OK(lm__db_admin_acquire(&a, &m->db));
    ASSERT_OK(lm__db_exec(&e, a, "SELECT quote_ident(n.nspname) FROM pg_extension x"
                                 " JOIN pg_namespace n ON n.oid = x.extnamespace"
                                 " WHERE x.extname = 'llmemory_bm25'", 0, NULL));
    snprintf(ext, sizeof(ext), "%s", PQntuples(e) == 1 ? PQgetvalue(e, 0, 0) : "");
    PQclear(e);
    lm__db_admin_release(&m->db, a);
    if (ext[0] == '\0') {
        lm_memory_close(m);
        lm_test_skip("the llmemory_bm25 extension is not installed");
    }
    lm__tx tx;
    PGresult *r = NULL;
    char raw[512], wrapped[256];
    const char *S = m->db.qschema;
    snprintf(raw, sizeof(raw),
             "SELECT count(*) FROM %s.llmemory_bm25_search('%s.postings'::regclass,"
             " '%s.term_stats'::regclass, '%s.tenant_stats'::regclass, $1, 'english', 'launch',"
             " 1.2, 0.75, 10)",
             ext, S, S, S);
    snprintf(wrapped, sizeof(wrapped),
             "SELECT count(*) FROM %s.llmemory_bm25_tenant($1, 'english', 'launch', 1.2, 0.75, 10)",
             S);
    const char *own[] = {"alpha"}, *other[] = {"beta"};
    /* The extension itself refuses tables whose policies bind the caller. */
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_READ));
    ASSERT(lm__db_exec(NULL, tx.conn, raw, 1, own) < 0);
    ASSERT_EQ_STR(lm_error_last()->sqlstate, "0A000");
    lm__tx_end(&tx);
    /* Through the tenant function: the transaction's tenant only; naming another tenant
       inside alpha's transaction scores nothing. */
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_READ));
    ASSERT_OK(lm__db_exec(&r, tx.conn, wrapped, 1, own));
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "5");
    PQclear(r);
    ASSERT_OK(lm__db_exec(&r, tx.conn, wrapped, 1, other));
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    lm__tx_end(&tx);
    lm_memory_close(m);
}

TEST(test_rls__partial_vector_index_is_used_under_the_policy)
{
    lm_memory *m = fixture();
    if (m->vec.embedder == NULL) {
        lm_memory_close(m);
        lm_test_skip("no embedder");
    }
    lm__tx tx;
    PGresult *r = NULL;
    lm_buf sql = LM_BUF_INIT;
    char index_name[64], order[64];
    int half;
    const char *S = m->db.qschema;
    lm_memory_wait_index_builds(m); /* alpha's index is built off the request path */
    ASSERT_OK(lm__tx_begin(&tx, &m->db, "alpha", LM__TX_READ));
    lm__buf_printf(&sql, "SELECT i.index_name, i.element_type, v.embedding::text"
                         " FROM %s.vector_indexes i JOIN %s v USING (owner_id, provider_id)"
                         " WHERE i.owner_id = 'alpha' LIMIT 1", S, m->vec.table);
    ASSERT_OK(lm__db_exec(&r, tx.conn, sql.ptr, 0, NULL));
    ASSERT_EQ_INT(PQntuples(r), 1); /* alpha passed the threshold: it has its own index */
    snprintf(index_name, sizeof(index_name), "%s", PQgetvalue(r, 0, 0));
    half = strcmp(PQgetvalue(r, 0, 1), "halfvec") == 0;
    if (half)
        snprintf(order, sizeof(order), "v.embedding::halfvec(%d) <=> $1::halfvec(%d)",
                 m->vec.dim, m->vec.dim);
    else
        snprintf(order, sizeof(order), "v.embedding <=> $1::vector(%d)", m->vec.dim);
    const char *params[] = {PQgetvalue(r, 0, 2), m->vec.provider_id};
    /* The exact alternatives priced out: only the tenant's graph remains without a penalty. */
    ASSERT_OK(lm__db_exec(NULL, tx.conn, "SELECT set_config('enable_seqscan', 'off', true),"
                                         " set_config('enable_bitmapscan', 'off', true),"
                                         " set_config('enable_sort', 'off', true)", 0, NULL));
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "EXPLAIN SELECT v.chunk_id FROM %s v WHERE v.owner_id = 'alpha'"
                         " AND v.provider_id = $2 ORDER BY %s LIMIT 5", m->vec.table, order);
    PGresult *plan = NULL;
    ASSERT_OK(lm__db_exec(&plan, tx.conn, sql.ptr, 2, params));
    lm_buf text = LM_BUF_INIT;
    for (int i = 0; i < PQntuples(plan); i++)
        lm__buf_printf(&text, "%s\n", PQgetvalue(plan, i, 0));
    if (strstr(text.ptr, index_name) == NULL || strstr(text.ptr, "Sort") != NULL)
        lm_test_fail(__FILE__, __LINE__, "the tenant's index %s is not used:\n%s", index_name,
                     text.ptr);
    lm_buf_dispose(&text);
    PQclear(plan);
    PQclear(r);
    lm_buf_dispose(&sql);
    lm__tx_end(&tx);
    lm_memory_close(m);
}

/* The deployment without a superuser: the URL's role owns the schema (it has CREATEROLE to set
 * up the work role), so FORCE binds it too and every cross-tenant path must go through the
 * maintenance policy: migrations, vector tables and per-tenant indexes, key verification by key
 * id, the embedding worker across tenants, optimize. Keyword search falls back to the SQL path
 * (the extension refuses tables whose policies bind the definer). */
TEST(test_rls__non_superuser_owner_runs_everything)
{
    lm_test_timeout(120);
    const char *url = getenv("LLMEMORY_TEST_DATABASE_URL");
    if (url == NULL)
        lm_test_fail(__FILE__, __LINE__, "LLMEMORY_TEST_DATABASE_URL is not set");
    char role[64], sql[256], owner_url[1024], schema[64];
    snprintf(role, sizeof(role), "t_owner_%ld", (long)getpid());
    snprintf(schema, sizeof(schema), "t_owned_%ld", (long)getpid());
    PGconn *su = PQconnectdb(url);
    ASSERT(PQstatus(su) == CONNECTION_OK);
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS;"
                               " GRANT CREATE ON DATABASE postgres TO %s", role, role);
    PGresult *res = PQexec(su, sql);
    ASSERT(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    snprintf(owner_url, sizeof(owner_url), "%s user=%s", url, role);

    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.database_url = owner_url;
    mo.schema = schema;
    mo.vector_index_threshold = 3;
    mo.embed_mode = LM_EMBED_QUEUE;
    lm_memory *m = NULL;
    ASSERT_OK(lm_memory_open(&m, &mo));
    const char *owners[] = {"alpha", "beta"};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 5; i++) {
            char origin[16], text[96];
            snprintf(origin, sizeof(origin), "o%d", i);
            snprintf(text, sizeof(text), "%s note %d about the launch code", owners[t], i);
            test_add(m, owners[t], origin, text, NULL);
        }
    /* The worker claims both tenants' jobs, and alpha and beta get their own graphs. */
    lm_embed_run_result er;
    ASSERT_OK(lm_embed_run(&er, m, NULL));
    ASSERT_EQ_INT((int)er.embedded, 10);
    PGconn *a = NULL;
    ASSERT_OK(lm__db_admin_acquire(&a, &m->db));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".vector_indexes", schema);
    ASSERT(count1(a, sql) == 2);
    lm__db_admin_release(&m->db, a);
    for (int t = 0; t < 2; t++) {
        static const lm_search_type types[] = {LM_SEARCH_TEXT, LM_SEARCH_VECTOR, LM_SEARCH_HYBRID};
        for (int k = 0; k < 3; k++) {
            lm_search_opts so = LM_SEARCH_OPTS_INIT;
            so.type = types[k];
            lm_results *r = NULL;
            ASSERT_OK(lm_search(&r, m, owners[t], "launch code", &so));
            ASSERT_EQ_INT(lm_results_count(r), 5);
            for (size_t i = 0; i < lm_results_count(r); i++)
                ASSERT(strncmp(lm_results_at(r, i)->content, owners[t], 4) == 0);
            lm_results_free(r);
        }
    }
    lm_key_created kc;
    lm_principal who;
    ASSERT_OK(lm_key_create(&kc, m, "beta", NULL));
    ASSERT_OK(lm_key_verify(&who, m, kc.key));
    ASSERT_EQ_STR(who.owner_id, "beta");
    lm_optimize_report rep;
    ASSERT_OK(lm_memory_optimize(m, &rep));
    /* The operator's usage list reads across tenants: both appear, with their own counts. */
    lm_usage_list *ul = NULL;
    ASSERT_OK(lm_usage_list_get(&ul, m, LM_USAGE_SORT_DOCUMENTS, 10));
    ASSERT_EQ_INT((int)lm_usage_list_count(ul), 2);
    for (size_t i = 0; i < lm_usage_list_count(ul); i++)
        ASSERT_EQ_INT((int)lm_usage_list_at(ul, i)->usage.documents, 5);
    lm_usage_list_free(ul);
    /* The owner's own session outside maintenance sees no row either. */
    PGconn *oc = PQconnectdb(owner_url);
    ASSERT(PQstatus(oc) == CONNECTION_OK);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".documents", schema);
    ASSERT(count1(oc, sql) == 0);
    PQfinish(oc);
    lm_memory_close(m);
    snprintf(sql, sizeof(sql), "DROP SCHEMA \"%s\" CASCADE; DROP OWNED BY %s; DROP ROLE %s",
             schema, role, role);
    res = PQexec(su, sql);
    PQclear(res);
    PQfinish(su);
}

/*
 * tests/integration/tenancy_test.c: the schema-per-tenant and database-per-tenant modes (their
 * names, the handle cache, first use under concurrency, database creation and the map file) and
 * the migration-only URL. The rest of the suite runs in every mode through
 * $LLMEMORY_TEST_TENANCY (tests/run.sh); these tests choose their mode themselves.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/memory.h"
#include "support.h"

static PGconn *admin_conn(void)
{
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static long long scalar(PGconn *c, const char *sql, const char *param)
{
    const char *p[1] = {param};
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static void run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        lm_test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static int64_t docs_of(lm_memory *m, const char *owner)
{
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, owner));
    return st.document_count;
}

TEST(test_tenancy__names_are_bounded_and_distinct)
{
    char a[64], b[64], c[64];
    char longid[LM_MAX_OWNER_ID_BYTES + 1];

    ASSERT_OK(lm_tenant_name(a, "Acme"));
    ASSERT_OK(lm_tenant_name(b, "acme"));
    ASSERT(strcmp(a, b) != 0); /* same sanitised text, other hash */
    ASSERT(strncmp(a, "acme_", 5) == 0 && strlen(a) == 5 + 12);
    ASSERT_OK(lm_tenant_name(a, "a.b"));
    ASSERT_OK(lm_tenant_name(b, "a_b"));
    ASSERT(strcmp(a, b) != 0);
    /* A sub-tenant lives with its tenant. */
    ASSERT_OK(lm_tenant_name(a, "org-1"));
    ASSERT_OK(lm_tenant_name(b, "org-1/team/x"));
    ASSERT_EQ_STR(a, b);
    memset(longid, 'Z', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    ASSERT_OK(lm_tenant_name(c, longid));
    ASSERT_EQ_INT((long long)strlen(c), 37);
    for (const char *p = c; *p; p++)
        ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
    ASSERT_ERR(lm_tenant_name(c, "bad owner"), LM_EINVAL);
    ASSERT_ERR(lm_tenant_name(c, ""), LM_EINVAL);

    lm_tenancy t;
    ASSERT_OK(lm_tenancy_parse(&t, "schema"));
    ASSERT_EQ_INT(t, LM_TENANCY_SCHEMA);
    ASSERT_EQ_STR(lm_tenancy_name(LM_TENANCY_DATABASE), "database");
    ASSERT_ERR(lm_tenancy_parse(&t, "rows"), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "tenancy");
}

TEST(test_tenancy__schema_mode_caches_a_bounded_number_of_tenants)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.tenancy = LM_TENANCY_SCHEMA;
    o.tenant_handles = 2;
    o.pool_size = 3;
    lm_memory *m = test_memory_opts(&o);
    const char *owners[] = {"t1", "t2", "t3", "t4", "t5"};
    char doc1[37];
    PGconn *c = admin_conn();

    ASSERT_EQ_INT(lm_memory_tenancy(m), LM_TENANCY_SCHEMA);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 5; i++) {
            char origin[16];
            snprintf(origin, sizeof(origin), "d%d", round);
            test_add(m, owners[i], origin, "shared words about the tenant cache", i ? NULL : doc1);
            ASSERT(lm_memory_tenant_count(m) <= 2);
        }
    /* Evicted tenants come back with their data; other tenants' ids stay invisible. */
    for (int i = 0; i < 5; i++)
        ASSERT_EQ_INT(docs_of(m, owners[i]), 2);
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, m, "t1", doc1, 0));
    lm_doc_free(d);
    ASSERT_ERR(lm_doc_get(&d, m, "t2", doc1, 0), LM_ENOTFOUND);
    ASSERT_EQ_INT(docs_of(m, "t1/sub"), 0);

    /* One schema each, named after the routing schema; no tenant rows in the routing schema;
       every connection came from the one pool. */
    char like[80];
    snprintf(like, sizeof(like), "%s\\_%%", test_schema());
    ASSERT_EQ_INT(scalar(c, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", like), 5);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".documents", test_schema());
    ASSERT_EQ_INT(scalar(c, sql, NULL), 0);
    lm_memory *t = NULL;
    ASSERT_OK(lm_memory_tenant(&t, m, "t3/sub"));
    char want[160], name[64];
    ASSERT_OK(lm_tenant_name(name, "t3"));
    snprintf(want, sizeof(want), "%s_%s", test_schema(), name);
    ASSERT_EQ_STR(lm_memory_schema(t), want);
    lm_pool_usage u;
    lm_memory_pool_usage(&u, m);
    ASSERT(u.open <= 3);
    lm_memory_tenant_release(m, t);
    ASSERT_ERR(lm_memory_tenant(&t, m, "no such/..//"), LM_EINVAL);
    PQfinish(c);
    lm_memory_close(m);
}

typedef struct first_use {
    lm_memory *m;
    const char *owner;
    int n;
    int failures;
} first_use;

static void *adder(void *arg)
{
    first_use *f = arg;
    for (int i = 0; i < 5; i++) {
        char origin[32];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "w%d-%d", f->n, i);
        if (lm_doc_add(&r, f->m, f->owner, origin, origin, LM_DOC_TEXT, "first use race", 14,
                       NULL) < 0)
            f->failures++;
    }
    return NULL;
}

TEST(test_tenancy__first_use_is_safe_under_concurrency)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.tenancy = LM_TENANCY_SCHEMA;
    o.tenant_handles = 1; /* two tenants: handles are closed and reopened under load */
    lm_memory *m = test_memory_opts(&o);
    /* A second routing memory on the same schema stands for another process. */
    lm_memory_opts o2 = LM_MEMORY_OPTS_INIT;
    o2.tenancy = LM_TENANCY_SCHEMA;
    o2.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o2.schema = test_schema();
    lm_memory *m2 = NULL;
    ASSERT_OK(lm_memory_open(&m2, &o2));
    pthread_t th[8];
    first_use f[8];
    for (int i = 0; i < 8; i++) {
        f[i] = (first_use){i % 2 ? m2 : m, i < 6 ? "racer" : "other", i, 0};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, adder, &f[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(f[i].failures, 0);
    }
    ASSERT_EQ_INT(docs_of(m, "racer"), 30);
    ASSERT_EQ_INT(docs_of(m2, "other"), 10);
    ASSERT(lm_memory_tenant_count(m) <= 1);
    lm_memory_close(m2);
    lm_memory_close(m);
}

/* A database URL template for a test's tenants (names start with the routing schema). */
static void template_url(char *out, size_t cap, const char *user)
{
    lm_buf b = LM_BUF_INIT;
    char tpl[160];
    snprintf(tpl, sizeof(tpl), "{schema}_{owner}");
    ASSERT_OK(lm__conninfo_with_dbname(&b, getenv("LLMEMORY_TEST_DATABASE_URL"), tpl));
    snprintf(out, cap, "%s%s%s", b.ptr, user ? " user=" : "", user ? user : "");
    lm_buf_dispose(&b);
}

TEST(test_tenancy__database_mode_creates_databases_and_reads_a_map)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    char url[1024], name[64], db[160], map[256];
    PGconn *c = admin_conn();

    template_url(url, sizeof(url), NULL);
    o.tenancy = LM_TENANCY_DATABASE;
    o.tenant_url = url;
    lm_memory *m = test_memory_opts(&o);
    test_add(m, "acme", "a", "acme keeps its own database", NULL);
    test_add(m, "acme/eu", "b", "so does its sub-tenant", NULL);
    test_add(m, "globex", "a", "globex too", NULL);
    ASSERT_OK(lm_tenant_name(name, "acme"));
    snprintf(db, sizeof(db), "%s_%s", test_schema(), name);
    ASSERT_EQ_INT(scalar(c, "SELECT count(*) FROM pg_database WHERE datname = $1", db), 1);
    ASSERT_EQ_INT(docs_of(m, "acme"), 1);
    ASSERT_EQ_INT(docs_of(m, "acme/eu"), 1);
    lm_results *r = NULL;
    ASSERT_OK(lm_search(&r, m, "globex", "acme database", NULL));
    for (size_t i = 0; i < lm_results_count(r); i++)
        ASSERT_EQ_STR(lm_results_at(r, i)->owner_id, "globex");
    lm_results_free(r);
    lm_memory_close(m);

    /* A map file: the listed tenant reaches the database it names; others are refused. */
    lm_buf b = LM_BUF_INIT;
    ASSERT_OK(lm__conninfo_with_dbname(&b, getenv("LLMEMORY_TEST_DATABASE_URL"), db));
    snprintf(map, sizeof(map), "/tmp/llmemory-tenant-map-%ld", (long)getpid());
    FILE *f = fopen(map, "w");
    ASSERT(f != NULL);
    fprintf(f, "# tenants\n\nacme   %s\n", b.ptr);
    fclose(f);
    lm_buf_dispose(&b);
    lm_memory_opts om = LM_MEMORY_OPTS_INIT;
    om.tenancy = LM_TENANCY_DATABASE;
    om.tenant_map = map;
    om.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    om.schema = test_schema(); /* tenant databases hold the routing memory's schema */
    ASSERT_OK(lm_memory_open(&m, &om));
    ASSERT_EQ_INT(docs_of(m, "acme"), 1); /* the same database as through the template */
    lm_stats st;
    ASSERT_ERR(lm_stats_get(&st, m, "globex"), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "has no database in the tenant map") != NULL);
    lm_memory_close(m);
    unlink(map);

    /* Configuration errors say what is missing. */
    lm_memory_opts bad = LM_MEMORY_OPTS_INIT;
    bad.tenancy = LM_TENANCY_DATABASE;
    bad.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    bad.schema = test_schema();
    lm_memory *none = NULL;
    ASSERT_ERR(lm_memory_open(&none, &bad), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "tenant_url");
    bad.tenant_url = "postgresql:///one_for_all";
    ASSERT_ERR(lm_memory_open(&none, &bad), LM_EINVAL);
    bad.tenant_url = NULL;
    bad.tenant_map = "/nonexistent/tenant-map";
    ASSERT_ERR(lm_memory_open(&none, &bad), LM_EINVAL);
    bad.tenancy = 9;
    ASSERT_ERR(lm_memory_open(&none, &bad), LM_EINVAL);
    PQfinish(c);
}

/* A login role that can create nothing: no CREATEDB, no CREATE on the database or schema. */
static void make_login(PGconn *c, char *role, size_t cap)
{
    char sql[256];
    snprintf(role, cap, "lm_worker_%ld", (long)getpid());
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE", role);
    run(c, sql);
    PQclear(PQexec(c, "REVOKE CREATE ON SCHEMA public FROM PUBLIC"));
}

TEST(test_tenancy__migration_url_lets_the_work_role_create_nothing)
{
    PGconn *c = admin_conn();
    char role[64], work[1024], sql[256];
    lm_buf b = LM_BUF_INIT;
    make_login(c, role, sizeof(role));
    ASSERT_OK(lm__conninfo_with_dbname(&b, getenv("LLMEMORY_TEST_DATABASE_URL"), "postgres"));
    snprintf(work, sizeof(work), "%s user=%s", b.ptr, role);
    lm_buf_dispose(&b);

    /* Alone, the work URL cannot migrate a new schema: a clear permission error. */
    lm_memory_opts w = LM_MEMORY_OPTS_INIT;
    w.database_url = work;
    w.schema = "t_unmigrated_work";
    w.no_embedder = 1;
    lm_memory *m = NULL;
    ASSERT_ERR(lm_memory_open(&m, &w), LM_EPERM);

    /* With the owner's URL for migrations, the work URL does everything else. */
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.migrate_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    m = test_memory_opts(&o); /* test_memory_opts sets database_url: replace it */
    lm_memory_close(m);
    o.database_url = work;
    o.schema = test_schema();
    o.vector_index_threshold = 3;
    ASSERT_OK(lm_memory_open(&m, &o));
    char id[37];
    test_add(m, "alice", "a", "the work role writes documents", id);
    for (int i = 0; i < 4; i++) {
        char origin[8];
        snprintf(origin, sizeof(origin), "v%d", i & 7);
        test_add(m, "alice", origin, "vectors past the index threshold", NULL);
    }
    lm_memory_wait_index_builds(m); /* the index is DDL: built through the migration URL */
    lm_results *r = NULL;
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_HYBRID;
    ASSERT_OK(lm_search(&r, m, "alice", "work role documents", &so));
    ASSERT(lm_results_count(r) > 0);
    lm_results_free(r);
    lm_doc *d = NULL;
    ASSERT_ERR(lm_doc_get(&d, m, "bob", id, 0), LM_ENOTFOUND);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%%hnsw%%'");
    ASSERT(scalar(c, sql, test_schema()) >= 1);

    /* The work URL's own connections: no DDL, and no rows outside a tenant transaction. */
    PGconn *wc = NULL;
    ASSERT_OK(lm__pool_acquire(&wc, &m->db.pool));
    snprintf(sql, sizeof(sql), "CREATE TABLE \"%s\".intruder (x int)", test_schema());
    PGresult *res = PQexec(wc, sql);
    ASSERT_EQ_STR(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
    PQclear(res);
    res = PQexec(wc, "CREATE TABLE public.intruder (x int)");
    ASSERT_EQ_STR(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
    PQclear(res);
    snprintf(sql, sizeof(sql), "DROP TABLE \"%s\".documents", test_schema());
    res = PQexec(wc, sql);
    ASSERT_EQ_STR(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
    PQclear(res);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".documents", test_schema());
    res = PQexec(wc, sql);
    ASSERT(PQresultStatus(res) == PGRES_TUPLES_OK);
    ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    lm__pool_release(&m->db.pool, wc);
    lm_memory_close(m);
    PQfinish(c);
}

TEST(test_tenancy__database_creation_refused_names_the_statement)
{
    /* The router creates a missing tenant database through the migration URL (else the
       routing memory's): a role without CREATEDB gets an error that names what to run. */
    PGconn *c = admin_conn();
    char role[64], work[1024], db[96];
    lm_buf b = LM_BUF_INIT;
    make_login(c, role, sizeof(role));
    ASSERT_OK(lm__conninfo_with_dbname(&b, getenv("LLMEMORY_TEST_DATABASE_URL"), "postgres"));
    snprintf(work, sizeof(work), "%s user=%s", b.ptr, role);
    lm_buf_dispose(&b);
    snprintf(db, sizeof(db), "t_refused_%ld", (long)getpid());
    ASSERT_ERR(lm__db_create_database(work, db, 5), LM_EPERM);
    ASSERT(strstr(lm_error_last()->message, "could not create database") != NULL);
    ASSERT(strstr(lm_error_last()->hint, "CREATE DATABASE") != NULL);
    ASSERT_EQ_STR(lm_error_last()->sqlstate, "42501");
    ASSERT_EQ_INT(scalar(c, "SELECT count(*) FROM pg_database WHERE datname = $1", db), 0);
    /* The owner's URL creates it; a second call finds it there. */
    ASSERT_OK(lm__db_create_database(getenv("LLMEMORY_TEST_DATABASE_URL"), db, 5));
    ASSERT_EQ_INT(lm__db_create_database(getenv("LLMEMORY_TEST_DATABASE_URL"), db, 5), 1);
    PQfinish(c);
}

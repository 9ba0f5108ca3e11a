/*
 * tests/integration/support.c: per-test schemas on the test cluster.
 */
#include "support.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"

static char schema[64];

const char *test_schema(void)
{
    return schema;
}

/* Schemas are named t_<pid>_<n>, and pids are reused (pid_max is 32,768 on many machines): a
   long run on a busy machine met the schema, and the tenants and statistics, of an earlier test
   process with the same pid. So a process drops what such processes left, once, before its first
   schema: every schema and database named t_<pid>_... is a dead process's, since this one has
   made none yet. */
static void drop_leftovers(const char *url)
{
    char pat[64], sql[512];
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) == CONNECTION_OK) {
        snprintf(pat, sizeof(pat), "t\\_%ld\\_%%", (long)getpid());
        snprintf(sql, sizeof(sql),
                 "DO $$DECLARE n text; BEGIN"
                 " FOR n IN SELECT nspname FROM pg_namespace WHERE nspname LIKE '%s' LOOP"
                 "  EXECUTE format('DROP SCHEMA %%I CASCADE', n); END LOOP; END$$",
                 pat);
        PQclear(PQexec(c, sql));
        snprintf(sql, sizeof(sql), "SELECT datname FROM pg_database WHERE datname LIKE '%s'", pat);
        PGresult *r = PQexec(c, sql);
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
            char *id = PQescapeIdentifier(c, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)));
            if (id != NULL) {
                snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", id);
                PQclear(PQexec(c, sql));
                PQfreemem(id);
            }
        }
        PQclear(r);
    }
    PQfinish(c);
}

lm_memory *test_memory_opts(lm_memory_opts *o)
{
    static int counter;
    const char *url = getenv("LLMEMORY_TEST_DATABASE_URL");
    if (url == NULL || url[0] == '\0')
        lm_test_fail(__FILE__, __LINE__, "LLMEMORY_TEST_DATABASE_URL is not set (run via make check)");
    if (counter == 0)
        drop_leftovers(url);
    snprintf(schema, sizeof(schema), "t_%ld_%d", (long)getpid(), ++counter);
    /* The built-in embedder unless the test chose (see tests/run.sh). */
    setenv("LLMEMORY_EMBEDDER", "builtin", 0);
    o->database_url = url;
    o->schema = schema;
    /* $LLMEMORY_TEST_TENANCY runs the suite in another tenancy mode (tests/run.sh): each test's
       tenants then get schemas (or databases) named after its schema. */
    const char *mode = getenv("LLMEMORY_TEST_TENANCY");
    static char tenant_url[1024];
    if (o->tenancy == LM_TENANCY_DEFAULT && mode != NULL && mode[0] != '\0') {
        lm_tenancy t;
        ASSERT_OK(lm_tenancy_parse(&t, mode));
        o->tenancy = t;
        if (t == LM_TENANCY_DATABASE && o->tenant_url == NULL && o->tenant_map == NULL) {
            lm_buf b = LM_BUF_INIT;
            ASSERT_OK(lm__conninfo_with_dbname(&b, url, "{schema}_{owner}"));
            snprintf(tenant_url, sizeof(tenant_url), "%s", b.ptr);
            lm_buf_dispose(&b);
            o->tenant_url = tenant_url;
        }
    }
    lm_memory *m = NULL;
    ASSERT_OK(lm_memory_open(&m, o));
    return m;
}

lm_memory *test_memory(void)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    return test_memory_opts(&o);
}

void test_add(lm_memory *m, const char *owner, const char *origin, const char *content, char *id_out)
{
    lm_doc_add_result r;
    ASSERT_OK(lm_doc_add(&r, m, owner, origin, origin, LM_DOC_TEXT, content, strlen(content), NULL));
    if (id_out)
        memcpy(id_out, r.document_id, sizeof(r.document_id));
}

void test_env_refused(const char *env, const char *const *bad, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        setenv(env, bad[i], 1);
        lm_memory_opts o = LM_MEMORY_OPTS_INIT;
        o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
        o.schema = "env_refused";
        lm_memory *m = NULL;
        ASSERT_EQ_INT(lm_memory_open(&m, &o), LM_EINVAL);
        ASSERT(m == NULL);
        ASSERT(strstr(lm_error_last()->message, env) != NULL);
    }
    unsetenv(env);
}

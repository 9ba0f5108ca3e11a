/*
 * tests/integration/support.c: per-test schemas on the test cluster.
 */
#include "support.h"

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

lm_memory *test_memory_opts(lm_memory_opts *o)
{
    static int counter;
    const char *url = getenv("LLMEMORY_TEST_DATABASE_URL");
    if (url == NULL || url[0] == '\0')
        lm_test_fail(__FILE__, __LINE__, "LLMEMORY_TEST_DATABASE_URL is not set (run via make check)");
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

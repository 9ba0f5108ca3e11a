/*
 * tests/integration/timeout_test.c: every pooled connection has a statement timeout (default one
 * minute, lm_memory_opts.statement_timeout_ms or $LLMEMORY_STATEMENT_TIMEOUT_MS) and an
 * idle-in-transaction timeout, and a statement past its timeout fails cleanly with LM_ETIMEOUT.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "api/memory.h"
#include "db/db.h"
#include "support.h"

/* SHOW @p name on a pooled connection of @p m into @p out. */
static void show(lm_memory *m, const char *name, char *out, size_t len)
{
    PGconn *c = NULL;
    char sql[96];
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    snprintf(sql, sizeof(sql), "SHOW %s", name);
    PGresult *r = PQexec(c, sql);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    lm__pool_release(&m->db.pool, c);
}

TEST(test_timeout__statement_timeout_by_default)
{
    char v[64];
    unsetenv("LLMEMORY_STATEMENT_TIMEOUT_MS");
    lm_memory *m = test_memory();
    show(m, "statement_timeout", v, sizeof(v));
    ASSERT_EQ_STR(v, "1min");
    show(m, "idle_in_transaction_session_timeout", v, sizeof(v));
    ASSERT_EQ_STR(v, "1min");
    lm_memory_close(m);
}

TEST(test_timeout__option_and_environment)
{
    char v[64];
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.statement_timeout_ms = 1500;
    lm_memory *m = test_memory_opts(&o);
    show(m, "statement_timeout", v, sizeof(v));
    ASSERT_EQ_STR(v, "1500ms");
    lm_memory_close(m);

    setenv("LLMEMORY_STATEMENT_TIMEOUT_MS", "0", 1);
    lm_memory_opts o2 = LM_MEMORY_OPTS_INIT;
    m = test_memory_opts(&o2);
    show(m, "statement_timeout", v, sizeof(v));
    ASSERT_EQ_STR(v, "0");
    lm_memory_close(m);

    setenv("LLMEMORY_STATEMENT_TIMEOUT_MS", "soon", 1);
    lm_memory_opts o3 = LM_MEMORY_OPTS_INIT;
    o3.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o3.schema = test_schema();
    lm_memory *bad = NULL;
    ASSERT_EQ_INT(lm_memory_open(&bad, &o3), LM_EINVAL);
    ASSERT(bad == NULL);
    ASSERT(strstr(lm_error_last()->message, "LLMEMORY_STATEMENT_TIMEOUT_MS") != NULL);
    unsetenv("LLMEMORY_STATEMENT_TIMEOUT_MS");
}

TEST(test_timeout__long_statement_is_cancelled)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.statement_timeout_ms = 200;
    lm_memory *m = test_memory_opts(&o);
    PGconn *c = NULL;
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    ASSERT_EQ_INT(lm__db_exec(NULL, c, "SELECT pg_sleep(2)", 0, NULL), LM_ETIMEOUT);
    ASSERT(strstr(lm_error_last()->message, "statement timeout") != NULL);
    lm__pool_release(&m->db.pool, c);
    /* The library still works afterwards. */
    test_add(m, "timeout-owner", "o", "words after a timeout", NULL);
    lm_memory_close(m);
}

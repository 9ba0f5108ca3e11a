/*
 * tests/integration/migrate_test.c: migrations are recorded with checksums; a modified or unknown
 * migration stops start-up; every object lives in the configured schema.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static PGresult *q(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK);
    return r;
}

TEST(test_migrate__recorded_and_schema_qualified)
{
    lm_memory *m = test_memory();
    char schema[64], sql[512];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    ASSERT_EQ_STR(lm_memory_schema(m), schema);
    lm_memory_close(m);
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    snprintf(sql, sizeof(sql), "SELECT filename, length(checksum) FROM \"%s\".schema_migrations", schema);
    PGresult *r = q(c, sql);
    ASSERT(PQntuples(r) >= 1);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "001_schema.sql");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 1), "64");
    PQclear(r);
    /* Nothing of ours outside the schema. */
    r = q(c, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
             " AND relname IN ('documents', 'chunks', 'postings', 'term_stats')");
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    /* Reopening is a no-op. */
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = schema;
    ASSERT_OK(lm_memory_open(&m, &o));
    lm_memory_close(m);
    /* A modified migration stops start-up. */
    snprintf(sql, sizeof(sql), "UPDATE \"%s\".schema_migrations SET checksum = 'x'", schema);
    PQclear(q(c, sql));
    ASSERT_ERR(lm_memory_open(&m, &o), LM_EDB);
    ASSERT(strstr(lm_error_last()->message, "was modified") != NULL);
    ASSERT(m == NULL);
    /* So does a migration from a newer library. */
    snprintf(sql, sizeof(sql),
             "DELETE FROM \"%s\".schema_migrations; INSERT INTO \"%s\".schema_migrations"
             " (filename, checksum, execution_ms) VALUES ('999_future.sql', 'y', 1)",
             schema, schema);
    PQclear(q(c, sql));
    ASSERT_ERR(lm_memory_open(&m, &o), LM_EDB);
    ASSERT(strstr(lm_error_last()->message, "999_future.sql") != NULL);
    PQfinish(c);
}

TEST(test_migrate__failed_migration_is_an_error)
{
    /* A table in the way makes 001 fail: start-up must report it, not carry on. */
    char schema[64], sql[256];
    snprintf(schema, sizeof(schema), "broken_%ld", (long)getpid());
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    snprintf(sql, sizeof(sql), "CREATE SCHEMA \"%s\"; CREATE TABLE \"%s\".documents (x int)", schema,
             schema);
    PQclear(q(c, sql));
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = schema;
    lm_memory *m = NULL;
    ASSERT_ERR(lm_memory_open(&m, &o), LM_EDB);
    ASSERT(strstr(lm_error_last()->message, "could not apply migration \"001_schema.sql\"") != NULL);
    ASSERT(strstr(lm_error_last()->detail, "already exists") != NULL);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".schema_migrations", schema);
    PGresult *r = q(c, sql);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(c);
}

TEST(test_migrate__bad_options)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    lm_memory *m = NULL;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = "bad-schema";
    ASSERT_ERR(lm_memory_open(&m, &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "schema");
    o.schema = "fine";
    o.database_url = "host=/nonexistent/socket dbname=x connect_timeout=2";
    ASSERT_ERR(lm_memory_open(&m, &o), LM_ECONN);
    ASSERT(strstr(lm_error_last()->message, "could not connect") != NULL);
    o.version = 99;
    ASSERT_ERR(lm_memory_open(&m, &o), LM_EINVAL);
}

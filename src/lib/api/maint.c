/*
 * api/maint.c: maintenance of a memory's schema: lm_memory_optimize() packs the BM25 postings
 * index after bulk loads and refreshes the planner's and the visibility map's view of the search
 * tables. Not tenant data: nothing here reads or changes what a tenant sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/memory.h"
#include "buf.h"
#include "clock.h"
#include "error.h"
#include "llmemory.h"

#define LM__LOCK_CLASS_OPTIMIZE 0x4c4d0004

/* Pages of <schema>.postings_pkey, or -1. */
static long long index_pages(PGconn *c, const lm_memory *mem)
{
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    long long pages = -1;

    lm__buf_printf(&sql, "SELECT pg_relation_size('%s.postings_pkey'::regclass)"
                         " / current_setting('block_size')::bigint", mem->db.qschema);
    if (!lm__buf_oom(&sql) && lm__db_exec(&res, c, sql.ptr, 0, NULL) == 0 && PQntuples(res) == 1)
        pages = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    lm_buf_dispose(&sql);
    return pages;
}

static int run(PGconn *c, lm_buf *sql)
{
    if (lm__buf_oom(sql))
        return LM_ENOMEM;
    int rc = lm__db_exec(NULL, c, sql->ptr, 0, NULL);
    lm__buf_clear(sql);
    return rc;
}

/* Optimize the schema of the database of @p c (the admin connection, or a shard's). */
static int optimize_on(lm_memory *mem, PGconn *c, lm_optimize_report *report)
{
    static const char *const tables[] = {"postings", "term_stats", "tenant_stats", "chunks",
                                         "documents"};
    lm_buf sql = LM_BUF_INIT;
    const char *lock_params[1];
    char lock_sql[128];
    int rc, locked = 0;
    const char *S = mem->db.qschema;

    lock_params[0] = mem->db.schema;
    /* One optimizer per schema: a second REINDEX CONCURRENTLY of the same index would only
       wait for the first and then repeat its work. */
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%d, hashtext($1))",
             LM__LOCK_CLASS_OPTIMIZE);
    if ((rc = lm__db_exec(NULL, c, lock_sql, 1, lock_params)) < 0)
        goto out;
    locked = 1;
    if (report != NULL)
        report->postings_pages_before = index_pages(c, mem);
    /* A REINDEX CONCURRENTLY that failed earlier leaves an invalid copy behind. */
    lm__buf_printf(&sql, "DROP INDEX CONCURRENTLY IF EXISTS %s.postings_pkey_ccnew", S);
    if ((rc = run(c, &sql)) < 0)
        goto out;
    /* Without parallel workers: on a busy 2-core server they slow everyone else down. */
    if ((rc = lm__db_exec(NULL, c, "SET max_parallel_maintenance_workers = 0", 0, NULL)) < 0 ||
        (rc = lm__db_exec(NULL, c, "SET statement_timeout = 0", 0, NULL)) < 0)
        goto out;
    lm__buf_printf(&sql, "REINDEX INDEX CONCURRENTLY %s.postings_pkey", S);
    if ((rc = run(c, &sql)) < 0) {
        lm__buf_printf(&sql, "DROP INDEX CONCURRENTLY IF EXISTS %s.postings_pkey_ccnew", S);
        if (!lm__buf_oom(&sql))
            PQclear(PQexec(c, sql.ptr));
        goto out;
    }
    /* All-visible pages let keyword search skip heap visibility checks; fresh statistics keep
       the planner on the tenant-scoped index paths. */
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        lm__buf_printf(&sql, "VACUUM (ANALYZE) %s.%s", S, tables[i]);
        if ((rc = run(c, &sql)) < 0)
            goto out;
    }
    if (report != NULL)
        report->postings_pages_after = index_pages(c, mem);
    lm__db_log(&mem->db, LM_LOG_INFO, "optimized the search tables of schema %s", S);
out:
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "RESET max_parallel_maintenance_workers"));
        PQclear(PQexec(c, "RESET statement_timeout"));
        if (locked) {
            snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%d, hashtext($1))",
                     LM__LOCK_CLASS_OPTIMIZE);
            PQclear(PQexecParams(c, lock_sql, 1, NULL, lock_params, NULL, NULL, 0));
        }
    }
    lm_buf_dispose(&sql);
    return rc;
}

/* Through a cluster proxy: every shard in turn, on a connection of its own with the conninfo
   the proxy holds (as `llmemory cluster` connects to them). VACUUM and REINDEX CONCURRENTLY
   cannot run inside a function, and a function is all that PL/Proxy can call on a shard. The
   report adds the shards' pages up. */
static int optimize_shards(lm_memory *mem, PGconn *proxy, lm_optimize_report *report)
{
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc;
    lm__buf_printf(&sql, "SELECT conninfo FROM %s.cluster_shards ORDER BY shard_no",
                   mem->db.qschema);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(&res, proxy, sql.ptr, 0, NULL);
    lm_buf_dispose(&sql);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
        const char *vals[] = {PQgetvalue(res, i, 0), "10", "llmemory optimize", NULL};
        lm_optimize_report one;
        PGconn *c = PQconnectdbParams(keys, vals, 1);
        memset(&one, 0, sizeof(one));
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            rc = lm__db_error(c, NULL);
            lm__error_set(LM_ECONN, "could not connect to shard %d to optimize it", i);
        } else {
            rc = optimize_on(mem, c, report != NULL ? &one : NULL);
        }
        if (c != NULL)
            PQfinish(c);
        if (report != NULL && rc == 0) {
            report->postings_pages_before += one.postings_pages_before;
            report->postings_pages_after += one.postings_pages_after;
        }
    }
    PQclear(res);
    return rc;
}

int lm_memory_optimize(lm_memory *mem, lm_optimize_report *report)
{
    PGconn *c = NULL;
    double t0 = lm__now_ms();
    int rc;

    LM_ASSERT_ARG(mem != NULL);
    if (report != NULL)
        memset(report, 0, sizeof(*report));
    if ((rc = lm__db_admin_acquire(&c, &mem->db)) < 0)
        return rc;
    rc = mem->db.proxy ? optimize_shards(mem, c, report) : optimize_on(mem, c, report);
    lm__db_admin_release(&mem->db, c);
    if (report != NULL)
        report->elapsed_ms = lm__now_ms() - t0;
    return rc;
}

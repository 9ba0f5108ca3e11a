/*
 * api/erase.c: tenant erasure in two steps (db/sql/032_erasure.sql).
 *
 * The mark: one small transaction under the tenant's writer lock writes the tenant's row in
 * tenant_erasures, removes its API keys and writes the erasure record. From its commit every
 * tenant transaction of that owner runs as no tenant (db/tx.c): reads see nothing, writes fail
 * with LM_ECONFLICT.
 *
 * The cleanup: every table of the schema with an owner_id column (from the catalog, so a table
 * added later is erased too) loses the tenant's rows a batch at a time, each batch a short
 * transaction of its own that also adds its count to the mark's report, so a cleanup stopped by
 * a crash resumes with exact counts. Chunks are deleted with the per-chunk keyword upkeep
 * skipped (the postings and statistics go by themselves). The last transaction checks under
 * the writer lock that no row is left, replaces the erasure record with one that carries the
 * final counts (the only trace the audit log keeps) and deletes the mark.
 *
 * lm_tenant_erase_report() does both on the calling thread; lm_tenant_erase_start() marks and
 * leaves the cleanup to a thread of the memory, which pauses between batches as long as each
 * batch took (half the time at most), so other tenants barely notice it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "clock.h"
#include "error.h"
#include "llmemory.h"
#include "prio.h"
#include "validate.h"

#define LM__LOCK_CLASS_ERASE 0x4c4d0005
/* Rows per cleanup transaction. */
#define LM__ERASE_BATCH 2000

/* Kinds of the report, in lm_erase_report's order (also the keys of tenant_erasures.report). */
enum {
    K_DOCUMENTS, K_CHUNKS, K_VECTORS, K_QUEUE, K_POSTINGS, K_TERMS, K_HISTORY, K_VINDEXES,
    K_KEYS, K_OTHER, K_COUNT
};
static const char *const kind_names[K_COUNT] = {
    "documents", "chunks", "vectors", "queue_entries", "postings", "terms", "history",
    "vector_indexes", "api_keys", "other_rows"};

static int64_t *kind_slot(lm_erase_report *r, int k)
{
    int64_t *s[K_COUNT] = {&r->documents, &r->chunks, &r->vectors, &r->queue_entries,
                           &r->postings, &r->terms, &r->history, &r->vector_indexes,
                           &r->api_keys, &r->other_rows};
    return s[k];
}

/* The kind a table's rows count as, and its place in the cleanup order (dependents first). */
static int table_kind(const char *t, int *order)
{
    static const struct {
        const char *name;
        int kind;
    } named[] = {{"embedding_queue", K_QUEUE}, {"postings", K_POSTINGS}, {"term_stats", K_TERMS},
                 {"search_history", K_HISTORY}, {"chunks", K_CHUNKS}, {"documents", K_DOCUMENTS},
                 {"api_keys", K_KEYS}};
    if (strncmp(t, "vectors_", 8) == 0) {
        *order = 0;
        return K_VECTORS;
    }
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (strcmp(t, named[i].name) == 0) {
            *order = 1 + (int)i;
            return named[i].kind;
        }
    }
    *order = 100;
    return K_OTHER;
}

static int64_t num(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void sleep_ms(double ms)
{
    struct timespec ts;
    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the mark ----------------------------------------------------------------------------------- */

/* The mark as one call of lm_erase_mark (069_lifecycle_functions.sql), routed to the tenant's
   shard through a cluster proxy. */
static int mark_call(lm_erase_report *out, lm_memory *mem, const char *owner_id, int *already)
{
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *params[3] = {owner_id, lm__audit_actor(), lm__audit_source()};
    int rc;
    *already = 0;
    lm__buf_printf(&sql, "SELECT * FROM %s.lm_erase_mark($1, $2, $3)", mem->db.qschema);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM
                           : lm__db_call(&res, &mem->db, LM__STMT_FN_ERASE_MARK, sql.ptr, 3,
                                         params);
    if (rc == 0) {
        *already = PQgetvalue(res, 0, 0)[0] == 't';
        out->documents = num(res, 0, 1);
        out->chunks = num(res, 0, 2);
        out->api_keys = num(res, 0, 3);
    }
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* Mark @p owner_id erased. @p out: the documents and chunks it had, the API keys removed.
   @p already: 1 when it was marked before (nothing done then). */
static int mark(lm_erase_report *out, lm_memory *mem, const char *owner_id, int *already)
{
    lm__tx tx = {0};
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *S = mem->db.qschema;
    const char *params[2] = {owner_id, NULL};
    char detail[256], keys[24];
    int rc;

    *already = 0;
    if (mem->sql_functions)
        return mark_call(out, mem, owner_id, already);
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_WRITE | LM__TX_ERASED)) < 0)
        goto out;
    if (tx.erased) {
        *already = 1;
        rc = lm__tx_commit(&tx);
        goto out;
    }
    /* The audit log is append-only except for the erasure of its own tenant. */
    lm__buf_printf(&sql,
                   "SELECT set_config('llmemory.erasing', $1, true),"
                   " coalesce((SELECT documents FROM %s.tenant_usage WHERE owner_id = $1), 0),"
                   " coalesce((SELECT chunks FROM %s.tenant_usage WHERE owner_id = $1), 0)",
                   S, S);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&res, tx.conn, sql.ptr, 1, params)) < 0)
        goto out;
    out->documents = num(res, 0, 1);
    out->chunks = num(res, 0, 2);
    PQclear(res);
    res = NULL;
    /* The keys go at once: nothing authenticates as the tenant from now on. */
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "WITH d AS (DELETE FROM %s.api_keys WHERE owner_id = $1 RETURNING 1)"
                         " SELECT count(*) FROM d", S);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&res, tx.conn, sql.ptr, 1, params)) < 0)
        goto out;
    out->api_keys = num(res, 0, 0);
    PQclear(res);
    res = NULL;
    snprintf(detail, sizeof(detail),
             "{\"state\": \"started\", \"documents\": %lld, \"chunks\": %lld, \"api_keys\": %lld}",
             (long long)out->documents, (long long)out->chunks, (long long)out->api_keys);
    if ((rc = lm__audit_in_tx(mem, &tx, owner_id, "tenant.erase", "success", detail)) < 0)
        goto out;
    snprintf(keys, sizeof(keys), "%lld", (long long)out->api_keys);
    params[1] = keys;
    lm__buf_clear(&sql);
    lm__buf_printf(&sql,
                   "INSERT INTO %s.tenant_erasures (owner_id, audit_id, report)"
                   " SELECT $1, max(audit_id), jsonb_build_object('api_keys', $2::bigint)"
                   " FROM %s.audit_log WHERE owner_id = $1 AND action = 'tenant.erase'",
                   S, S);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(NULL, tx.conn, sql.ptr, 2, params)) < 0)
        goto out;
    rc = lm__tx_commit(&tx);
out:
    lm__tx_end(&tx);
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* ---- the cleanup -------------------------------------------------------------------------------- */

/* The cleanup as calls of lm_erase_clean (069), a batch each, until it says the tenant is done
   (*done = 1, @p out its final counts) or another cleaner holds it (*busy = 1; with @p wait,
   wait for that one). */
static int clean_calls(lm_erase_report *out, lm_memory *mem, const char *owner_id, int throttle,
                       volatile int *stop, int wait, int *busy, int *done)
{
    lm_buf sql = LM_BUF_INIT;
    char batch[16];
    const char *params[2] = {owner_id, batch};
    int rc = 0;
    *busy = *done = 0;
    snprintf(batch, sizeof(batch), "%d", LM__ERASE_BATCH);
    lm__buf_printf(&sql, "SELECT state, report::text FROM %s.lm_erase_clean($1, $2::int)",
                   mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        lm_buf_dispose(&sql);
        return LM_ENOMEM;
    }
    for (;;) {
        PGresult *res = NULL;
        double t0 = lm__now_ms();
        if (stop && *stop)
            break;
        if ((rc = lm__db_call(&res, &mem->db, LM__STMT_FN_ERASE_CLEAN, sql.ptr, 2, params)) < 0)
            break;
        const char *state = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "none";
        if (strcmp(state, "busy") == 0) {
            PQclear(res);
            if (!wait) {
                *busy = 1;
                break;
            }
            sleep_ms(50);
            continue;
        }
        if (strcmp(state, "more") != 0) {
            if (strcmp(state, "done") == 0 && !PQgetisnull(res, 0, 1)) {
                json_t *j = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
                for (int k = 0; k < K_COUNT && j != NULL; k++) {
                    json_t *v = json_object_get(j, kind_names[k]);
                    if (json_is_integer(v))
                        *kind_slot(out, k) = json_integer_value(v);
                }
                json_decref(j);
            }
            *done = 1;
            PQclear(res);
            break;
        }
        PQclear(res);
        if (throttle)
            sleep_ms(lm__now_ms() - t0);
    }
    lm_buf_dispose(&sql);
    return rc;
}

/* Run @p sql (one statement) in a transaction of its own on the admin connection, with
   llmemory.erasing set to the tenant ($1). */
static int erasing_exec(PGresult **out, PGconn *c, const char *sql, int n, const char *const *p)
{
    int rc = lm__db_exec(NULL, c, "BEGIN", 0, NULL);
    if (rc < 0)
        return rc;
    /* Each batch finds its rows through the table's owner_id index, never by reading the whole
       table (which stale statistics after a bulk load can make the planner prefer). */
    if ((rc = lm__db_exec(NULL, c, "SELECT set_config('llmemory.erasing', $1, true),"
                                   " set_config('enable_seqscan', 'off', true)", 1, p)) < 0 ||
        (rc = lm__db_exec(out, c, sql, n, p)) < 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        return rc;
    }
    return lm__db_exec(NULL, c, "COMMIT", 0, NULL);
}

typedef struct cleaner {
    lm_memory *mem;
    PGconn *c;
    const char *owner;
    int throttle;         /* pause after each batch as long as it took */
    volatile int *stop;   /* set: leave the rest for later (resumable) */
} cleaner;

/* Delete the tenant's rows of table @p t (quoted name) a batch at a time; each batch adds its
   count to kind @p k of the mark's report. @p extra: more conditions ("" for none). */
static int clean_table(cleaner *cl, const char *t, int k, const char *extra)
{
    lm_buf sql = LM_BUF_INIT;
    PGresult *res = NULL;
    const char *S = cl->mem->db.qschema;
    const char *params[1] = {cl->owner};
    double start = lm__now_ms();
    int64_t total = 0;
    int rc = 0;

    /* ctid batches: the rows are found through the table's owner_id index and deleted by their
       addresses (a TID scan; owner_id is checked again, as partitions share ctids). */
    lm__buf_printf(&sql,
                   "WITH d AS (DELETE FROM %s.%s WHERE ctid = ANY (ARRAY("
                   "SELECT ctid FROM %s.%s WHERE owner_id = $1%s LIMIT %d)) AND owner_id = $1%s"
                   " RETURNING 1),"
                   " n AS (SELECT count(*) AS n FROM d)"
                   " UPDATE %s.tenant_erasures e SET report = e.report || jsonb_build_object('%s',"
                   " coalesce((e.report->>'%s')::bigint, 0) + n.n) FROM n WHERE e.owner_id = $1"
                   " RETURNING n.n",
                   S, t, S, t, extra, LM__ERASE_BATCH, extra, S, kind_names[k], kind_names[k]);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (;;) {
        if (cl->stop && *cl->stop)
            break;
        double t0 = lm__now_ms();
        if ((rc = erasing_exec(&res, cl->c, sql.ptr, 1, params)) < 0)
            goto out;
        int64_t n = PQntuples(res) > 0 ? num(res, 0, 0) : 0;
        PQclear(res);
        res = NULL;
        total += n;
        if (n < LM__ERASE_BATCH)
            break;
        if (cl->throttle)
            sleep_ms(lm__now_ms() - t0);
    }
out:
    lm__db_log(&cl->mem->db, LM_LOG_DEBUG, "erasure of \"%s\": %lld rows of %s in %.0f ms",
               cl->owner, (long long)total, t, lm__now_ms() - start);
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* Drop the tenant's own vector indexes (outside any transaction: CONCURRENTLY), then their rows. */
static int clean_indexes(cleaner *cl)
{
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *S = cl->mem->db.qschema;
    const char *params[1] = {cl->owner};
    int rc;
    lm__buf_printf(&sql, "SELECT index_name FROM %s.vector_indexes WHERE owner_id = $1", S);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(&res, cl->c, sql.ptr, 1, params);
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "DROP INDEX CONCURRENTLY IF EXISTS %s.\"%s\"", S,
                       PQgetvalue(res, i, 0));
        rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(NULL, cl->c, sql.ptr, 0, NULL);
    }
    PQclear(res);
    lm_buf_dispose(&sql);
    if (rc < 0)
        return rc;
    return clean_table(cl, "vector_indexes", K_VINDEXES, "");
}

typedef struct table_ref {
    char name[72]; /* quoted */
    int kind, order;
} table_ref;

static int cmp_table(const void *a, const void *b)
{
    const table_ref *x = a, *y = b;
    return x->order != y->order ? x->order - y->order : strcmp(x->name, y->name);
}

/* Every table of the schema with an owner_id column, in cleanup order, without the mark's own
   table, the audit log and vector_indexes (handled apart). */
static int owner_tables(table_ref **out, size_t *n, cleaner *cl)
{
    PGresult *res = NULL;
    const char *params[1] = {cl->mem->db.schema};
    table_ref *t = NULL;
    size_t k = 0;
    int rc = lm__db_exec(&res, cl->c,
                         "SELECT c.relname FROM pg_catalog.pg_class c"
                         " JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace"
                         " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid"
                         " WHERE s.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                         "   AND a.attname = 'owner_id' AND NOT a.attisdropped"
                         "   AND c.relname NOT IN ('tenant_erasures', 'audit_log', 'vector_indexes')",
                         1, params);
    if (rc < 0)
        return rc;
    if ((t = lm__calloc((size_t)PQntuples(res) + 1, sizeof(*t))) == NULL) {
        PQclear(res);
        return LM_ENOMEM;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);
        if (strlen(name) > 63 || strchr(name, '"') != NULL)
            continue;
        snprintf(t[k].name, sizeof(t[k].name), "\"%s\"", name);
        t[k].kind = table_kind(name, &t[k].order);
        k++;
    }
    PQclear(res);
    qsort(t, k, sizeof(*t), cmp_table);
    *out = t;
    *n = k;
    return 0;
}

/* The last transaction: under the writer lock, no row of the tenant left (else *left = 1 and
   nothing is done); the erasure record replaced by one with the final counts; the mark gone.
   @p out: the counts of the whole erasure. */
static int finish(cleaner *cl, const table_ref *t, size_t n, lm_erase_report *out, int *left)
{
    PGconn *c = cl->c;
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *S = cl->mem->db.qschema;
    const char *params[1] = {cl->owner};
    int rc;

    *left = 0;
    if ((rc = lm__db_exec(NULL, c, "BEGIN", 0, NULL)) < 0)
        return rc;
    if ((rc = lm__db_exec(NULL, c, "SELECT " LM__TENANT_LOCK_SQL ", set_config('llmemory.erasing',"
                                   " $1, true)", 1, params)) < 0)
        goto out;
    lm__buf_printf(&sql, "SELECT EXISTS (SELECT 1 FROM %s.vector_indexes WHERE owner_id = $1)", S);
    for (size_t i = 0; i < n; i++)
        lm__buf_printf(&sql, " OR EXISTS (SELECT 1 FROM %s.%s WHERE owner_id = $1)", S, t[i].name);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&res, c, sql.ptr, 1, params)) < 0)
        goto out;
    if (PQgetvalue(res, 0, 0)[0] == 't') {
        *left = 1;
        goto out;
    }
    PQclear(res);
    res = NULL;
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "SELECT");
    for (int k = 0; k < K_COUNT; k++)
        lm__buf_printf(&sql, "%s coalesce((report->>'%s')::bigint, 0)", k ? "," : "",
                       kind_names[k]);
    lm__buf_printf(&sql, " FROM %s.tenant_erasures WHERE owner_id = $1", S);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&res, c, sql.ptr, 1, params)) < 0)
        goto out;
    if (PQntuples(res) == 1)
        for (int k = 0; k < K_COUNT; k++)
            *kind_slot(out, k) = num(res, 0, k);
    PQclear(res);
    res = NULL;
    /* The erasure record with the final counts (its time, actor and source kept), the mark
       gone: the owner id is free again. */
    lm__buf_clear(&sql);
    lm__buf_printf(&sql,
                   "WITH e AS (DELETE FROM %s.tenant_erasures WHERE owner_id = $1"
                   "           RETURNING audit_id, report),"
                   " old AS (DELETE FROM %s.audit_log a USING e WHERE a.owner_id = $1"
                   "         AND a.audit_id = e.audit_id RETURNING a.*)"
                   " INSERT INTO %s.audit_log (owner_id, at, actor, action, source, outcome, detail)"
                   " SELECT $1, old.at, old.actor, old.action, old.source, old.outcome,"
                   "        e.report || jsonb_build_object('state', 'finished')"
                   " FROM old, e",
                   S, S, S);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(NULL, c, sql.ptr, 1, params)) < 0)
        goto out;
    rc = lm__db_exec(NULL, c, "COMMIT", 0, NULL);
out:
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* Clean up the erased tenant @p owner_id. @p wait: wait for another process cleaning it;
   otherwise *busy = 1 and return when one does. *done = 1 when the mark is gone. */
static int clean(lm_erase_report *out, lm_memory *mem, const char *owner_id, int throttle,
                 volatile int *stop, int wait, int *busy, int *done)
{
    cleaner cl = {mem, NULL, owner_id, throttle, stop};
    PGresult *res = NULL;
    table_ref *t = NULL;
    size_t n = 0;
    char lock_sql[128];
    const char *params[1] = {owner_id};
    int rc, locked = 0, left = 1;

    *busy = *done = 0;
    if (mem->sql_functions)
        return clean_calls(out, mem, owner_id, throttle, stop, wait, busy, done);
    if ((rc = lm__db_admin_acquire(&cl.c, &mem->db)) < 0)
        return rc;
    /* One cleaner per tenant, across processes (a session lock: no transaction stays open). */
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_%sadvisory_lock(hashtextextended($1, %d))::text",
             wait ? "" : "try_", LM__LOCK_CLASS_ERASE);
    if ((rc = lm__db_exec(&res, cl.c, lock_sql, 1, params)) < 0)
        goto out;
    locked = !(PQgetvalue(res, 0, 0)[0] == 'f');
    PQclear(res);
    res = NULL;
    if (!locked) {
        *busy = 1;
        goto out;
    }
    if ((rc = lm__db_exec(NULL, cl.c, "SET statement_timeout = 0", 0, NULL)) < 0)
        goto out;
    {
        lm_buf sql = LM_BUF_INIT;
        lm__buf_printf(&sql, "SELECT 1 FROM %s.tenant_erasures WHERE owner_id = $1",
                       mem->db.qschema);
        rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(&res, cl.c, sql.ptr, 1, params);
        lm_buf_dispose(&sql);
        if (rc < 0)
            goto out;
        if (PQntuples(res) == 0) {
            *done = 1; /* finished by someone else */
            goto out;
        }
        PQclear(res);
        res = NULL;
    }
    if ((rc = clean_indexes(&cl)) < 0 || (rc = owner_tables(&t, &n, &cl)) < 0)
        goto out;
    while (left) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = clean_table(&cl, t[i].name, t[i].kind, "");
        /* Older audit records; the erasure record stays. */
        if (rc == 0) {
            char keep[256];
            snprintf(keep, sizeof(keep),
                     " AND audit_id IS DISTINCT FROM (SELECT audit_id FROM %s.tenant_erasures"
                     " WHERE owner_id = $1)", mem->db.qschema);
            rc = clean_table(&cl, "audit_log", K_OTHER, keep);
        }
        if (rc < 0 || (stop && *stop))
            goto out;
        if ((rc = clean_indexes(&cl)) < 0 || (rc = finish(&cl, t, n, out, &left)) < 0)
            goto out;
    }
    *done = 1;
out:
    if (cl.c != NULL && PQstatus(cl.c) == CONNECTION_OK) {
        PQclear(PQexec(cl.c, "RESET statement_timeout"));
        if (locked) {
            snprintf(lock_sql, sizeof(lock_sql),
                     "SELECT pg_advisory_unlock(hashtextextended($1, %d))", LM__LOCK_CLASS_ERASE);
            PQclear(PQexecParams(cl.c, lock_sql, 1, NULL, params, NULL, NULL, 0));
        }
    }
    PQclear(res);
    lm__free(t);
    lm__db_admin_release(&mem->db, cl.c);
    return rc;
}

/* ---- the background cleaner ----------------------------------------------------------------- */

/* The marks waiting for a cleanup, oldest first (at most 64). */
static int pending(PGresult **out, lm_memory *mem)
{
    PGconn *c = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc;
    if (mem->sql_functions) /* 069; through a proxy: every shard's, oldest first */
        lm__buf_printf(&sql, "SELECT owner_id FROM %s.lm_all_erasure_pending(64)"
                             " ORDER BY erased_at, owner_id LIMIT 64", mem->db.qschema);
    else
        lm__buf_printf(&sql, "SELECT owner_id FROM %s.tenant_erasures"
                             " ORDER BY erased_at, owner_id LIMIT 64", mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        lm_buf_dispose(&sql);
        return LM_ENOMEM;
    }
    if ((rc = lm__db_admin_acquire(&c, &mem->db)) == 0) {
        rc = lm__db_exec(out, c, sql.ptr, 0, NULL);
        lm__db_admin_release(&mem->db, c);
    }
    lm_buf_dispose(&sql);
    return rc;
}

static void *erase_bg_main(void *arg)
{
    lm_memory *mem = arg;
    lm__erase_bg *bg = &mem->erase_bg;
    (void)lm__nice_background(lm__pool_bg_nice(&mem->db.pool)); /* core/prio.h */
    pthread_mutex_lock(&bg->mu);
    for (;;) {
        while (!bg->requested && !bg->stop)
            pthread_cond_wait(&bg->wake, &bg->mu);
        if (bg->stop)
            break;
        bg->requested = 0;
        bg->busy = 1;
        pthread_mutex_unlock(&bg->mu);
        PGresult *res = NULL;
        int progress = 0;
        if (pending(&res, mem) == 0) {
            for (int i = 0; i < PQntuples(res) && !bg->stop; i++) {
                lm_erase_report r;
                int busy, done;
                memset(&r, 0, sizeof(r));
                if (clean(&r, mem, PQgetvalue(res, i, 0), 1, &bg->stop, 0, &busy, &done) < 0)
                    lm__db_log(&mem->db, LM_LOG_WARN, "erasure cleanup of \"%s\" stopped: %s",
                               PQgetvalue(res, i, 0), lm_error_last()->message);
                else if (done)
                    progress = 1;
            }
            /* More than one page of marks: go on while there is progress. */
            if (PQntuples(res) == 64 && progress)
                bg->requested = 1;
        } else {
            lm__db_log(&mem->db, LM_LOG_WARN, "erasure cleanup: %s", lm_error_last()->message);
        }
        lm__error_clear();
        PQclear(res);
        pthread_mutex_lock(&bg->mu);
        bg->busy = 0;
        if (!bg->requested)
            pthread_cond_broadcast(&bg->idle);
    }
    bg->busy = 0;
    pthread_cond_broadcast(&bg->idle);
    pthread_mutex_unlock(&bg->mu);
    return NULL;
}

void lm__erase_bg_init(lm__erase_bg *bg)
{
    memset(bg, 0, sizeof(*bg));
    pthread_mutex_init(&bg->mu, NULL);
    pthread_cond_init(&bg->wake, NULL);
    pthread_cond_init(&bg->idle, NULL);
}

/* Wake (or start) the cleaner. 0, or LM_ERROR when no thread could be started. */
static int erase_bg_request(lm_memory *mem)
{
    lm__erase_bg *bg = &mem->erase_bg;
    int rc = 0;
    pthread_mutex_lock(&bg->mu);
    if (!bg->started && !bg->stop) {
        if (pthread_create(&bg->th, NULL, erase_bg_main, mem) == 0)
            bg->started = 1;
        else
            rc = lm__error_set(LM_ERROR, "could not start the erasure cleanup thread");
    }
    if (bg->started) {
        bg->requested = 1;
        pthread_cond_signal(&bg->wake);
    }
    pthread_mutex_unlock(&bg->mu);
    return rc;
}

void lm__erase_bg_dispose(lm__erase_bg *bg)
{
    pthread_mutex_lock(&bg->mu);
    bg->stop = 1; /* the current batch ends; the rest resumes later from the marks */
    int started = bg->started;
    pthread_cond_signal(&bg->wake);
    pthread_mutex_unlock(&bg->mu);
    if (started)
        pthread_join(bg->th, NULL);
    pthread_cond_destroy(&bg->wake);
    pthread_cond_destroy(&bg->idle);
    pthread_mutex_destroy(&bg->mu);
}

/* ---- public entry points -------------------------------------------------------------------- */

/* Mark @p owner_id erased (invisible to every call from here), then clean its rows: in the
   background (@p now 0: the memory's cleanup thread), or now, a batch at a time, on this thread
   (or, when another process is cleaning this tenant, once it has finished). */
static int erase_tenant(lm_erase_report *out, lm_memory *mem, const char *owner_id, int now)
{
    lm_erase_report r;
    int already, busy, done, rc;
    if (out)
        memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if ((rc = mark(&r, mem, owner_id, &already)) < 0)
        return rc;
    /* Its keys are deleted: this process's key cache drops them now (others' on the
       notification of 066_key_notify.sql). */
    lm__keycache_forget_owner(mem, owner_id);
    lm__meter_forget(mem, owner_id);
    if (!now) {
        if ((rc = erase_bg_request(mem)) < 0)
            return rc;
    } else {
        memset(&r, 0, sizeof(r));
        if ((rc = clean(&r, mem, owner_id, 0, NULL, 1, &busy, &done)) < 0)
            return rc;
    }
    if (out)
        *out = r;
    return 0;
}

static int erase_start(lm_erase_report *out, lm_memory *mem, const char *owner_id)
{
    return erase_tenant(out, mem, owner_id, 0);
}

static int erase_now(lm_erase_report *out, lm_memory *mem, const char *owner_id)
{
    return erase_tenant(out, mem, owner_id, 1);
}

/* Schema and database modes: a routing memory keeps the tenant's API keys (and their audit
   records) itself; those go first, at once, so no credential of the tenant outlives the start of
   the erasure of its data. @p fn erases in the tenant's own memory. */
static int erase_routed(lm_erase_report *out, lm_memory *mem, const char *owner_id,
                        int (*fn)(lm_erase_report *, lm_memory *, const char *))
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_erase_report keys;
    int rc;

    if (out)
        memset(out, 0, sizeof(*out));
    if (lm__routed_.base == NULL)
        return fn(out, mem, owner_id);
    if ((rc = erase_now(&keys, lm__routed_.base, owner_id)) < 0)
        return rc;
    if ((rc = fn(out, mem, owner_id)) == 0 && out)
        out->api_keys += keys.api_keys;
    return rc;
}

int lm_tenant_erase_start(lm_erase_report *out, lm_memory *mem, const char *owner_id)
{
    return erase_routed(out, mem, owner_id, erase_start);
}

int lm_tenant_erase_report(lm_erase_report *out, lm_memory *mem, const char *owner_id)
{
    return erase_routed(out, mem, owner_id, erase_now);
}

int lm_tenant_erase(int64_t *documents_out, lm_memory *mem, const char *owner_id)
{
    lm_erase_report r;
    int rc = lm_tenant_erase_report(&r, mem, owner_id);
    if (documents_out)
        *documents_out = rc == 0 ? r.documents : 0;
    return rc;
}

int lm_erasure_pending(int64_t *out, lm_memory *mem)
{
    PGresult *res = NULL;
    int rc;
    LM_ASSERT_ARG(out != NULL);
    *out = 0;
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = pending(&res, mem)) < 0)
        return rc;
    *out = PQntuples(res);
    PQclear(res);
    return 0;
}

int lm_erasure_resume(int64_t *pending_out, lm_memory *mem)
{
    int64_t n = 0;
    int rc;
    if (pending_out)
        *pending_out = 0;
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm_erasure_pending(&n, mem)) < 0)
        return rc;
    if (pending_out)
        *pending_out = n;
    return n > 0 ? erase_bg_request(mem) : 0;
}

int lm_erasure_run(int64_t *cleaned_out, lm_memory *mem)
{
    PGresult *res = NULL;
    int64_t cleaned = 0;
    int rc;
    if (cleaned_out)
        *cleaned_out = 0;
    LM_ASSERT_ARG(mem != NULL);
    do {
        if ((rc = pending(&res, mem)) < 0)
            return rc;
        int n = PQntuples(res);
        for (int i = 0; i < n && rc == 0; i++) {
            lm_erase_report r;
            int busy, done;
            memset(&r, 0, sizeof(r));
            rc = clean(&r, mem, PQgetvalue(res, i, 0), 0, NULL, 1, &busy, &done);
            cleaned += done;
        }
        PQclear(res);
        res = NULL;
        if (rc < 0 || n < 64)
            break;
    } while (1);
    if (cleaned_out)
        *cleaned_out = cleaned;
    return rc;
}

void lm_erasure_wait(lm_memory *mem)
{
    if (mem == NULL)
        return;
    lm__erase_bg *bg = &mem->erase_bg;
    pthread_mutex_lock(&bg->mu);
    while (bg->started && (bg->requested || bg->busy))
        pthread_cond_wait(&bg->idle, &bg->mu);
    pthread_mutex_unlock(&bg->mu);
}

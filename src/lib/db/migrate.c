/*
 * db/migrate.c: versioned schema migrations. All of them run on one connection holding a
 * session advisory lock (so concurrent openers apply each migration once), each in its own
 * transaction, recorded with its SHA-256 checksum. A failed migration, a modified one, or a
 * database migrated by a newer library stops start-up with an error; nothing is ignored.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db/db.h"
#include "db/migrations.h"
#include "clock.h"
#include "error.h"
#include "hash.h"

#define LM__LOCK_CLASS_MIGRATE 0x4c4d0002

/* Replace every "{{schema}}" with the quoted schema name. */
static void expand(lm_buf *out, const char *sql, const char *qschema)
{
    const char *p = sql;
    for (;;) {
        const char *q = strstr(p, "{{schema}}");
        if (q == NULL) {
            lm__buf_puts(out, p);
            return;
        }
        lm__buf_put(out, p, (size_t)(q - p));
        lm__buf_puts(out, qschema);
        p = q + strlen("{{schema}}");
    }
}

static int apply_one(PGconn *conn, lm__db *db, const lm__migration *m, const char *checksum)
{
    lm_buf sql = LM_BUF_INIT, ins = LM_BUF_INIT;
    int rc = 0;
    double t0;
    expand(&sql, m->sql, db->qschema);
    lm__buf_printf(&ins, "INSERT INTO %s.schema_migrations (filename, checksum, execution_ms) "
                         "VALUES ($1, $2, $3)", db->qschema);
    if (lm__buf_oom(&sql) || lm__buf_oom(&ins)) {
        rc = LM_ENOMEM;
        goto out;
    }
    t0 = lm__now_ms();
    if ((rc = lm__db_exec(NULL, conn, "BEGIN", 0, NULL)) < 0)
        goto out;
    rc = lm__db_script(conn, sql.ptr);
    if (rc == 0) {
        char ms[32];
        snprintf(ms, sizeof(ms), "%.3f", lm__now_ms() - t0);
        const char *params[3] = {m->name, checksum, ms};
        rc = lm__db_exec(NULL, conn, ins.ptr, 3, params);
    }
    if (rc == 0)
        rc = lm__db_exec(NULL, conn, "COMMIT", 0, NULL);
    if (rc < 0) {
        lm_error saved = *lm_error_last();
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", saved.message);
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
        lm__error_set(rc, "could not apply migration \"%s\"", m->name);
        lm__error_detail("%s", msg);
        lm__error_sqlstate(saved.sqlstate);
        goto out;
    }
    lm__db_log(db, LM_LOG_INFO, "applied migration %s", m->name);
out:
    lm_buf_dispose(&sql);
    lm_buf_dispose(&ins);
    return rc;
}

int lm__migrate(lm__db *db)
{
    PGconn *conn = NULL;
    PGresult *applied = NULL;
    lm_buf sql = LM_BUF_INIT;
    int locked = 0, rc;
    char lock_sql[160];

    if ((rc = lm__db_admin_acquire(&conn, db)) < 0)
        return rc;
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%d, hashtext($1))",
             LM__LOCK_CLASS_MIGRATE);
    const char *lock_params[1] = {db->schema};
    if ((rc = lm__db_exec(NULL, conn, lock_sql, 1, lock_params)) < 0)
        goto out;
    locked = 1;
    {
        PGresult *px = NULL;
        if ((rc = lm__db_exec(&px, conn,
                              "SELECT to_regclass(format('%I.cluster_shards', $1::text)) IS NOT NULL",
                              1, lock_params)) < 0)
            goto out;
        db->proxy = PQgetvalue(px, 0, 0)[0] == 't';
        PQclear(px);
        if (db->proxy) {
            lm__db_log(db, LM_LOG_INFO, "schema %s is a cluster proxy: nothing to migrate",
                       db->schema);
            goto out;
        }
    }
    if ((rc = lm__db_exec(NULL, conn, "SET statement_timeout = 0", 0, NULL)) < 0)
        goto out;
    lm__buf_printf(&sql,
                   "CREATE SCHEMA IF NOT EXISTS %s;"
                   "CREATE TABLE IF NOT EXISTS %s.schema_migrations ("
                   " filename text PRIMARY KEY,"
                   " checksum text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now(),"
                   " execution_ms double precision NOT NULL)",
                   db->qschema, db->qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_script(conn, sql.ptr)) < 0)
        goto out;
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "SELECT filename, checksum FROM %s.schema_migrations ORDER BY filename",
                   db->qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&applied, conn, sql.ptr, 0, NULL)) < 0)
        goto out;

    /* Refuse a database migrated by a newer library: its schema may not be what we expect. */
    for (int r = 0; r < PQntuples(applied); r++) {
        const char *name = PQgetvalue(applied, r, 0);
        int known = 0;
        for (size_t i = 0; i < lm__migration_count && !known; i++)
            known = strcmp(lm__migrations[i].name, name) == 0;
        if (!known) {
            rc = lm__error_set(LM_EDB, "database schema \"%s\" has migration \"%s\" that this "
                                       "library does not know", db->schema, name);
            lm__error_hint("Upgrade llmemory, or use another schema.");
            goto out;
        }
    }
    for (size_t i = 0; i < lm__migration_count; i++) {
        const lm__migration *m = &lm__migrations[i];
        char sum[65];
        lm__sha256_hex(sum, m->sql, strlen(m->sql));
        const char *have = NULL;
        for (int r = 0; r < PQntuples(applied); r++)
            if (strcmp(PQgetvalue(applied, r, 0), m->name) == 0)
                have = PQgetvalue(applied, r, 1);
        if (have != NULL) {
            if (strcmp(have, sum) != 0) {
                rc = lm__error_set(LM_EDB, "migration \"%s\" was modified after it was applied",
                                   m->name);
                lm__error_detail("Recorded checksum %s, library checksum %s.", have, sum);
                goto out;
            }
            continue;
        }
        if ((rc = apply_one(conn, db, m, sum)) < 0)
            goto out;
    }
out:
    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "RESET statement_timeout"));
    if (locked && PQstatus(conn) == CONNECTION_OK) {
        snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%d, hashtext($1))",
                 LM__LOCK_CLASS_MIGRATE);
        PGresult *r = PQexecParams(conn, lock_sql, 1, NULL, lock_params, NULL, NULL, 0);
        PQclear(r);
    }
    PQclear(applied);
    lm_buf_dispose(&sql);
    lm__db_admin_release(db, conn);
    return rc;
}

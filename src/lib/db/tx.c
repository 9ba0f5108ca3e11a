/*
 * db/tx.c: per-tenant transactions, the single entry point for tenant work. The tenant is set
 * transaction-locally (set_config(..., true), i.e. SET LOCAL), ready for row-level security;
 * writers also take the tenant's advisory lock first, which orders all of one tenant's writers
 * and rules out deadlocks between them. Different tenants never wait on each other.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "error.h"

/* Advisory-lock class for tenant writers (the second key is hashtext(owner_id)). */
#define LM__LOCK_CLASS_TENANT 0x4c4d0001

int lm__tx_begin(lm__tx *tx, lm__db *db, const char *owner_id, int mode)
{
    const char *params[1] = {owner_id};
    char sql[160];
    memset(tx, 0, sizeof(*tx));
    tx->db = db;
    int rc = lm__pool_acquire(&tx->conn, &db->pool);
    if (rc < 0)
        return rc;
    rc = lm__db_exec(NULL, tx->conn,
                     mode == LM__TX_SNAPSHOT ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                             : "BEGIN",
                     0, NULL);
    if (rc < 0)
        goto fail;
    tx->open = 1;
    if (mode == LM__TX_WRITE)
        snprintf(sql, sizeof(sql),
                 "SELECT set_config('llmemory.owner_id', $1, true), "
                 "pg_advisory_xact_lock(%d, hashtext($1))",
                 LM__LOCK_CLASS_TENANT);
    else
        snprintf(sql, sizeof(sql), "SELECT set_config('llmemory.owner_id', $1, true)");
    rc = lm__db_exec(NULL, tx->conn, sql, owner_id ? 1 : 0, owner_id ? params : NULL);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    lm__tx_end(tx);
    return rc;
}

int lm__tx_lock(lm__tx *tx, const char *owner_id)
{
    const char *params[1] = {owner_id};
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, hashtext($1))",
             LM__LOCK_CLASS_TENANT);
    return lm__db_exec(NULL, tx->conn, sql, 1, params);
}

int lm__tx_commit(lm__tx *tx)
{
    int rc = lm__db_exec(NULL, tx->conn, "COMMIT", 0, NULL);
    tx->open = 0;
    lm__pool_release(&tx->db->pool, tx->conn);
    tx->conn = NULL;
    return rc;
}

void lm__tx_end(lm__tx *tx)
{
    if (tx->conn == NULL)
        return;
    if (tx->open && PQstatus(tx->conn) == CONNECTION_OK) {
        PGresult *res = PQexec(tx->conn, "ROLLBACK");
        PQclear(res);
    }
    tx->open = 0;
    lm__pool_release(&tx->db->pool, tx->conn);
    tx->conn = NULL;
}

int lm__db_set_schema(lm__db *db, const char *schema)
{
    size_t n = schema ? strlen(schema) : 0;
    int ok = n >= 1 && n <= 63 &&
             ((schema[0] >= 'A' && schema[0] <= 'Z') || (schema[0] >= 'a' && schema[0] <= 'z') ||
              schema[0] == '_');
    for (size_t i = 1; ok && i < n; i++) {
        char c = schema[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!ok)
        return lm__error_set_field(LM_EINVAL, "schema", "invalid schema name \"%.80s\"",
                                   schema ? schema : "");
    memcpy(db->schema, schema, n + 1);
    snprintf(db->qschema, sizeof(db->qschema), "\"%s\"", schema);
    return 0;
}

void lm__db_log(const lm__db *db, int level, const char *fmt, ...)
{
    if (db->log_fn == NULL || level > db->log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    db->log_fn(level, msg, db->log_payload);
}

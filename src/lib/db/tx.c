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

int lm__tx_begin(lm__tx *tx, lm__db *db, const char *owner_id, int mode)
{
    const char *params[2] = {owner_id, db->role};
    char sql[200], lock[64] = "";
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
    /* One round trip: the work role (SET LOCAL ROLE: row-level security applies to it, it
       ends with the transaction), the tenant (SET LOCAL), and for writers the tenant's lock. */
    if (mode == LM__TX_WRITE)
        snprintf(lock, sizeof(lock), ", %s", LM__TENANT_LOCK_SQL);
    snprintf(sql, sizeof(sql), "SELECT %sset_config('llmemory.owner_id', $1, true)%s",
             db->role[0] ? "set_config('role', $2, true), " : "", lock);
    rc = lm__db_exec(NULL, tx->conn, sql, db->role[0] ? 2 : 1, params);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    lm__tx_end(tx);
    return rc;
}

int lm__db_call(PGresult **out, lm__db *db, lm__stmt stmt, const char *sql, int n_params,
                const char *const *params)
{
    PGconn *conn = NULL;
    int rc = lm__pool_acquire(&conn, &db->pool);
    if (rc < 0)
        return rc;
    rc = lm__db_exec_prepared(out, conn, stmt, sql, n_params, params);
    lm__pool_release(&db->pool, conn);
    return rc;
}

int lm__tx_lock(lm__tx *tx, const char *owner_id)
{
    const char *params[1] = {owner_id};
    /* The same key as a writer's lm__tx_begin(): the tenant's one write lock. */
    return lm__db_exec(NULL, tx->conn, "SELECT " LM__TENANT_LOCK_SQL, 1, params);
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

static int valid_ident(const char *schema)
{
    size_t n = schema ? strlen(schema) : 0;
    int ok = n >= 1 && n <= 63 &&
             ((schema[0] >= 'A' && schema[0] <= 'Z') || (schema[0] >= 'a' && schema[0] <= 'z') ||
              schema[0] == '_');
    for (size_t i = 1; ok && i < n; i++) {
        char c = schema[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    return ok;
}

int lm__db_set_schema(lm__db *db, const char *schema)
{
    if (!valid_ident(schema))
        return lm__error_set_field(LM_EINVAL, "schema", "invalid schema name \"%.80s\"",
                                   schema ? schema : "");
    snprintf(db->schema, sizeof(db->schema), "%s", schema);
    snprintf(db->qschema, sizeof(db->qschema), "\"%s\"", schema);
    return 0;
}

int lm__db_set_role(lm__db *db, const char *role)
{
    if (role == NULL || role[0] == '\0') {
        db->role[0] = db->qrole[0] = '\0';
        return 0;
    }
    if (!valid_ident(role))
        return lm__error_set_field(LM_EINVAL, "role", "invalid role name \"%.80s\"", role);
    snprintf(db->role, sizeof(db->role), "%s", role);
    snprintf(db->qrole, sizeof(db->qrole), "\"%s\"", role);
    return 0;
}

int lm__db_admin_acquire(PGconn **out, lm__db *db)
{
    int rc = lm__pool_acquire(out, &db->pool);
    if (rc < 0)
        return rc;
    if ((rc = lm__db_exec(NULL, *out, "SET llmemory.maintenance = on", 0, NULL)) < 0) {
        lm__pool_release(&db->pool, *out);
        *out = NULL;
    }
    return rc;
}

void lm__db_admin_release(lm__db *db, PGconn *conn)
{
    if (conn == NULL)
        return;
    if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE) {
        PGresult *r = PQexec(conn, "RESET llmemory.maintenance");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok) {
            lm__pool_release(&db->pool, conn);
            return;
        }
    }
    lm__pool_discard(&db->pool, conn);
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

/*
 * db/roles.c: the role tenant transactions work as. Row-level security (migration
 * 020_row_level_security.sql) binds every role except superusers and BYPASSRLS roles, so tenant
 * work switches (SET LOCAL ROLE, db/tx.c) to a role that is neither, owns no table, and holds
 * only the grants below. The schema's owner runs this SQL: on open when it can (the embedded
 * database, a superuser or an owner with CREATEROLE), or an operator runs what
 * `llmemory db roles` prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "error.h"

int lm__db_roles_sql(lm_buf *out, const lm__db *db)
{
    const char *S = db->qschema, *R = db->qrole;
    if (db->role[0] == '\0')
        return lm__error_set_field(LM_EINVAL, "role", "no work role is configured");
    lm__buf_printf(out,
        "-- The work role of llmemory's tenant transactions in schema %s: no login, not a\n"
        "-- superuser, no BYPASSRLS; the connecting role (the schema's owner) switches to it.\n"
        "DO $roles$\n"
        "BEGIN\n"
        "    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '%s') THEN\n"
        "        CREATE ROLE %s NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;\n"
        "    END IF;\n"
        "    IF NOT pg_catalog.pg_has_role(current_user, '%s', 'MEMBER') THEN\n"
        "        EXECUTE format('GRANT %%I TO %%I', '%s', current_user);\n"
        "    END IF;\n"
        "END\n"
        "$roles$;\n"
        "GRANT USAGE ON SCHEMA %s TO %s;\n"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %s;\n"
        "REVOKE ALL ON TABLE %s.schema_migrations FROM %s;\n"
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %s TO %s;\n"
        "-- The tenant functions (060_tenant_functions.sql) switch to the role recorded here.\n"
        "DO $work_role$\n"
        "BEGIN\n"
        "    IF pg_catalog.to_regclass('%s.work_role') IS NOT NULL THEN\n"
        "        INSERT INTO %s.work_role (role_name) VALUES ('%s') ON CONFLICT (singleton)\n"
        "            DO UPDATE SET role_name = EXCLUDED.role_name;\n"
        "        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE %s.work_role FROM %s;\n"
        "    END IF;\n"
        "END\n"
        "$work_role$;\n",
        S, db->role, R, db->role, db->role, S, R, S, R, S, R, S, R, S, S, db->role, S, R);
    return lm__buf_oom(out) ? LM_ENOMEM : 0;
}

#define LM__LOCK_CLASS_MIGRATE 0x4c4d0002

int lm__db_roles_apply(PGconn *conn, const lm__db *db)
{
    lm_buf sql = LM_BUF_INIT;
    PGresult *r = NULL;
    const char *params[2] = {db->role, db->schema};
    int rc, done;

    /* Usually everything is in place already: then nothing is written (GRANT rewrites catalog
       rows, which concurrent openers would otherwise do at every start). */
    lm__buf_printf(&sql,
                   "SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)"
                   " AND pg_catalog.pg_has_role(session_user, $1, 'MEMBER')"
                   " AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c"
                   "  WHERE c.relnamespace = $2::regnamespace AND c.relkind IN ('r', 'p')"
                   "    AND c.relname NOT IN ('schema_migrations', 'work_role')"
                   "    AND NOT pg_catalog.has_table_privilege($1, c.oid,"
                   "                                            'SELECT,INSERT,UPDATE,DELETE'))"
                   " AND EXISTS (SELECT FROM %s.work_role WHERE role_name = $1)",
                   db->qschema);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(&r, conn, sql.ptr, 2, params);
    lm__buf_clear(&sql);
    if (rc < 0)
        goto out;
    done = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    r = NULL;
    if (!done && (rc = lm__db_roles_sql(&sql, db)) < 0)
        goto out;
    if (!done && (rc = lm__db_script(conn, sql.ptr)) < 0) {
        lm_error saved = *lm_error_last();
        rc = lm__error_set(rc, "could not set up the work role \"%s\"", db->role);
        lm__error_detail("%s", saved.message);
        lm__error_sqlstate(saved.sqlstate);
        lm__error_hint("Let the schema's owner run the SQL that `llmemory db roles` prints, or "
                       "set LLMEMORY_RLS=off.");
        goto out;
    }
    rc = lm__db_exec(&r, conn,
                     "SELECT r.rolsuper OR r.rolbypassrls,"
                     " EXISTS (SELECT FROM pg_catalog.pg_class c"
                     "          WHERE c.relowner = r.oid AND c.relnamespace = $2::regnamespace),"
                     " pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')"
                     " FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
                     2, params);
    if (rc < 0)
        goto out;
    if (PQntuples(r) != 1) {
        rc = lm__error_set(LM_EDB, "role \"%s\" does not exist", db->role);
    } else if (PQgetvalue(r, 0, 0)[0] == 't') {
        rc = lm__error_set(LM_EDB, "role \"%s\" is a superuser or has BYPASSRLS", db->role);
        lm__error_detail("Row-level security does not bind such a role.");
    } else if (PQgetvalue(r, 0, 1)[0] == 't') {
        rc = lm__error_set(LM_EDB, "role \"%s\" owns tables of schema \"%s\"", db->role,
                           db->schema);
        lm__error_detail("The work role must not own what row-level security protects.");
    } else if (PQgetvalue(r, 0, 2)[0] != 't') {
        rc = lm__error_set(LM_EDB, "the connecting role cannot switch to role \"%s\"", db->role);
        lm__error_hint("GRANT %s TO the role of the database URL.", db->role);
    }
out:
    PQclear(r);
    lm_buf_dispose(&sql);
    return rc;
}

int lm__db_setup_role(lm__db *db)
{
    PGconn *c = NULL;
    char lock_sql[128];
    const char *lock_params[1] = {db->schema};
    int rc, locked = 0;

    if (db->role[0] == '\0')
        return 0;
    if ((rc = lm__db_admin_acquire(&c, db)) < 0)
        return rc;
    /* The migration lock: grants by concurrent openers would collide on the catalog rows. */
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%d, hashtext($1))",
             LM__LOCK_CLASS_MIGRATE);
    if ((rc = lm__db_exec(NULL, c, lock_sql, 1, lock_params)) < 0)
        goto out;
    locked = 1;
    rc = lm__db_roles_apply(c, db);
out:
    if (locked && PQstatus(c) == CONNECTION_OK) {
        snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%d, hashtext($1))",
                 LM__LOCK_CLASS_MIGRATE);
        PQclear(PQexecParams(c, lock_sql, 1, NULL, lock_params, NULL, NULL, 0));
    }
    lm__db_admin_release(db, c);
    return rc;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : fallback;
}

int lm_db_roles_sql(lm_buf *out, const char *schema, const char *role)
{
    lm__db db;
    int rc;
    LM_ASSERT_ARG(out != NULL);
    memset(&db, 0, sizeof(db));
    if ((rc = lm__db_set_schema(&db, schema ? schema : env_or("LLMEMORY_SCHEMA", "llmemory"))) < 0)
        return rc;
    if ((rc = lm__db_set_role(&db, role ? role : env_or("LLMEMORY_DB_ROLE", "llmemory_app"))) < 0)
        return rc;
    return lm__db_roles_sql(out, &db);
}

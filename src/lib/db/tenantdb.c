/*
 * db/tenantdb.c: what the database-per-tenant mode (api/tenancy.c) needs from libpq: reading
 * and replacing the database name of a URL or conninfo, and creating a tenant's database.
 */
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "error.h"

int lm__conninfo_dbname(char *out, size_t n, const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);

    out[0] = '\0';
    if (opts == NULL) {
        lm__error_set_field(LM_EINVAL, "database_url", "invalid database URL");
        if (err != NULL)
            lm__error_detail("%s", err);
        PQfreemem(err);
        return LM_EINVAL;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL)
            snprintf(out, n, "%s", o->val);
    PQconninfoFree(opts);
    return 0;
}

/* Append @p v as a conninfo value: single-quoted, with \ and ' escaped. */
static void put_value(lm_buf *out, const char *v)
{
    lm__buf_putc(out, '\'');
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '\'')
            lm__buf_putc(out, '\\');
        lm__buf_putc(out, *v);
    }
    lm__buf_putc(out, '\'');
}

int lm__conninfo_with_dbname(lm_buf *out, const char *conninfo, const char *dbname)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);

    if (opts == NULL) {
        lm__error_set_field(LM_EINVAL, "database_url", "invalid database URL");
        if (err != NULL)
            lm__error_detail("%s", err);
        PQfreemem(err);
        return LM_EINVAL;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        const char *v = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
        if (v == NULL)
            continue;
        if (out->size > 0)
            lm__buf_putc(out, ' ');
        lm__buf_printf(out, "%s=", o->keyword);
        put_value(out, v);
    }
    PQconninfoFree(opts);
    return lm__buf_oom(out) ? LM_ENOMEM : 0;
}

int lm__db_create_database(const char *conninfo, const char *dbname, int connect_timeout_s)
{
    char timeout[16];
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, timeout, "llmemory", NULL};
    const char *params[1] = {dbname};
    PGresult *r = NULL;
    lm_buf sql = LM_BUF_INIT;
    char *ident = NULL;
    PGconn *c;
    int rc;

    snprintf(timeout, sizeof(timeout), "%d", connect_timeout_s > 0 ? connect_timeout_s : 10);
    c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL)
        return lm__error_set(LM_ENOMEM, "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(c);
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        rc = lm__error_set(LM_ECONN, "could not connect to create database \"%s\"", dbname);
        lm__error_detail("%.*s", (int)n, msg);
        goto out;
    }
    if ((rc = lm__db_exec(&r, c, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1,
                          params)) < 0)
        goto out;
    if (PQntuples(r) > 0) {
        rc = 1; /* it exists: the caller's error was something else */
        goto out;
    }
    if ((ident = PQescapeIdentifier(c, dbname, strlen(dbname))) == NULL) {
        rc = lm__error_set(LM_ENOMEM, "out of memory");
        goto out;
    }
    lm__buf_printf(&sql, "CREATE DATABASE %s", ident);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    rc = lm__db_exec(NULL, c, sql.ptr, 0, NULL);
    if (rc < 0) {
        const char *st = lm_error_last()->sqlstate;
        /* Another process created it first (42P04, or the catalog's unique index). */
        if (strcmp(st, "42P04") == 0 || strcmp(st, "23505") == 0) {
            lm__error_clear();
            rc = 0;
        } else {
            lm__error_saved saved;
            lm__error_save(&saved);
            rc = lm__error_set(rc == LM_EPERM ? LM_EPERM : LM_EDB,
                               "could not create database \"%s\" for a tenant", dbname);
            lm__error_detail("%s", saved.message);
            lm__error_sqlstate(saved.sqlstate);
            lm__error_hint("Run CREATE DATABASE %s as a role with CREATEDB, or set "
                           "LLMEMORY_MIGRATE_URL to such a role.", ident);
        }
    }
out:
    PQfreemem(ident);
    PQclear(r);
    lm_buf_dispose(&sql);
    PQfinish(c);
    return rc;
}

/*
 * db/errmap.c: the one place where PostgreSQL errors become lm error codes. The server's primary
 * message, detail, hint and SQLSTATE are copied into lm_error_last().
 */
#include <string.h>

#include "db/db.h"
#include "error.h"

static int map_sqlstate(const char *s)
{
    if (s == NULL || strlen(s) != 5)
        return LM_EDB;
    if (strcmp(s, "23505") == 0)
        return LM_EEXISTS;
    if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 || strcmp(s, "55P03") == 0)
        return LM_ERETRY;
    /* Raised by the tenant functions' lm__enter for a tenant marked erased (060). */
    if (strcmp(s, "LME09") == 0)
        return LM_ECONFLICT;
    if (strcmp(s, "57014") == 0)
        return LM_ETIMEOUT;
    if (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P03") == 0)
        return LM_ECONN;
    /* Data exception; undefined object (a text search configuration that does not exist);
       invalid schema name (a schema-qualified one whose schema does not exist). */
    if (strncmp(s, "22", 2) == 0 || strcmp(s, "42704") == 0 || strcmp(s, "3F000") == 0)
        return LM_EINVAL;
    if (strncmp(s, "42501", 5) == 0)
        return LM_EPERM;
    if (strcmp(s, "53200") == 0 || strcmp(s, "53100") == 0)
        return LM_ELIMIT;
    return LM_EDB;
}

/* PL/Proxy reports a shard it cannot connect to (or that went away mid-call) as an internal
   error (XX000) whose message starts "PL/Proxy function"; remote errors keep their SQLSTATE. */
static int shard_unreachable(const char *state, const char *msg)
{
    if (state == NULL || strcmp(state, "XX000") != 0 || strncmp(msg, "PL/Proxy function", 17) != 0)
        return 0;
    return strstr(msg, "PQconnect") != NULL || strstr(msg, "connection") != NULL ||
           strstr(msg, "connect") != NULL || strstr(msg, "server closed") != NULL ||
           strstr(msg, "timeout") != NULL;
}

static void trim_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    while (n > 0 && (src[n - 1] == '\n' || src[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A shard's error relayed by a cluster proxy: PL/Proxy prefixes the message with
   "<function>(<pid>): [<database>] REMOTE ERROR: " and the detail and hint with "Remote detail: "
   and "Remote hint: ". Without them the message is the shard's own, as a direct call reports
   it; @p s past the prefix, or @p s itself. */
static const char *unprefix(const char *s, const char *prefix)
{
    if (s == NULL)
        return NULL;
    const char *r = strstr(s, prefix);
    if (r != NULL && strcmp(prefix, "REMOTE ERROR: ") == 0 && strstr(s, "): [") != NULL &&
        strstr(s, "): [") < r)
        return r + strlen(prefix);
    if (r == s && strcmp(prefix, "REMOTE ERROR: ") != 0)
        return s + strlen(prefix);
    return s;
}

int lm__db_error(PGconn *conn, const PGresult *res)
{
    char msg[480];
    if (res != NULL && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        int code = map_sqlstate(state);
        trim_copy(msg, sizeof(msg),
                  unprefix(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), "REMOTE ERROR: "));
        if (code == LM_ETIMEOUT && lm__cancel_fired_here()) {
            /* Not the statement timeout: the caller's lm_cancel stopped it. */
            lm__error_set(LM_ECANCELED, "request canceled");
            lm__error_detail("%s", msg);
            lm__error_sqlstate(state);
            return LM_ECANCELED;
        }
        if (shard_unreachable(state, msg)) {
            /* A cluster proxy could not reach the tenant's shard (src/lib/cluster): only that
               shard's tenants fail, and a retry may succeed once it is back. */
            lm__error_set(LM_ECONN, "the tenant's shard cannot be reached");
            lm__error_detail("%s", msg);
            lm__error_hint("Retry later; tenants on other shards are not affected.");
            lm__error_sqlstate(state);
            return LM_ECONN;
        }
        lm__error_set(code, "%s", msg);
        const char *detail =
            unprefix(PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL), "Remote detail: ");
        const char *hint = unprefix(PQresultErrorField(res, PG_DIAG_MESSAGE_HINT), "Remote hint: ");
        if (detail)
            lm__error_detail("%s", detail);
        if (hint)
            lm__error_hint("%s", hint);
        lm__error_sqlstate(state);
        return code;
    }
    /* No server error fields: the connection failed (or libpq ran out of memory). */
    trim_copy(msg, sizeof(msg), conn ? PQerrorMessage(conn) : "");
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        lm__error_set(LM_ECONN, "could not reach the database");
        if (msg[0])
            lm__error_detail("%s", msg);
        return LM_ECONN;
    }
    lm__error_set(LM_EDB, "could not run a database statement");
    if (msg[0])
        lm__error_detail("%s", msg);
    return LM_EDB;
}

int lm__db_result(PGresult **out, PGconn *conn, PGresult *res)
{
    if (out)
        *out = NULL;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = lm__db_error(conn, res);
        PQclear(res);
        return rc;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

int lm__db_exec(PGresult **out, PGconn *conn, const char *sql, int n_params, const char *const *params)
{
    int rc = lm__cancel_check();

    if (rc < 0) {
        if (out)
            *out = NULL;
        return rc;
    }
    return lm__db_result(out, conn, PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0));
}

int lm__db_script(PGconn *conn, const char *sql)
{
    int rc = lm__cancel_check();

    if (rc < 0)
        return rc;
    return lm__db_result(NULL, conn, PQexec(conn, sql));
}

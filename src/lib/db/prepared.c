/*
 * db/prepared.c: statements prepared once per pooled connection. Each connection carries a
 * bit set of the statements it has prepared (libpq instance data, freed with the connection), so
 * the hot statements of a search are parsed and planned once per connection instead of on every
 * call. Only statements whose generic plan is as good as a custom one belong here (a function
 * call, a primary-key lookup); statements that need the tenant's value at plan time (partial
 * indexes) keep lm__db_exec().
 */
#include <libpq-events.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "db/db.h"
#include "error.h"

typedef struct conn_state {
    unsigned int prepared; /* bit i: statement i is prepared on this connection */
    int no_prepare;        /* never prepare: execute with lm__db_exec() */
} conn_state;

static int event_proc(PGEventId id, void *info, void *pass_through)
{
    (void)pass_through;
    switch (id) {
    case PGEVT_REGISTER: {
        PGEventRegister *e = info;
        conn_state *s = lm__calloc(1, sizeof(*s));
        return s != NULL && PQsetInstanceData(e->conn, event_proc, s);
    }
    case PGEVT_CONNRESET: {
        /* A reset is a new session: its prepared statements are gone. */
        PGEventConnReset *e = info;
        conn_state *s = PQinstanceData(e->conn, event_proc);
        if (s != NULL)
            s->prepared = 0;
        return 1;
    }
    case PGEVT_CONNDESTROY: {
        PGEventConnDestroy *e = info;
        lm__free(PQinstanceData(e->conn, event_proc));
        return 1;
    }
    default:
        return 1;
    }
}

int lm__db_conn_setup(PGconn *conn, int no_prepare)
{
    conn_state *s;

    if (!PQregisterEventProc(conn, event_proc, "llmemory", NULL) ||
        (s = PQinstanceData(conn, event_proc)) == NULL)
        return lm__error_set(LM_ENOMEM, "out of memory");
    s->no_prepare = no_prepare;
    return 0;
}

int lm__db_exec_prepared(PGresult **out, PGconn *conn, lm__stmt stmt, const char *sql, int n_params,
                         const char *const *params)
{
    conn_state *s = PQinstanceData(conn, event_proc);
    char name[16];
    int rc;

    if (out)
        *out = NULL;
    if ((rc = lm__cancel_check()) < 0)
        return rc;
    if (s == NULL || s->no_prepare || (unsigned)stmt >= 8 * sizeof(s->prepared))
        return lm__db_exec(out, conn, sql, n_params, params);
    snprintf(name, sizeof(name), "lm_%d", (int)stmt);
    if (!(s->prepared & (1u << stmt))) {
        /* Parameter types come from the statement's casts and function signatures. */
        if ((rc = lm__db_result(NULL, conn, PQprepare(conn, name, sql, n_params, NULL))) < 0)
            return rc;
        s->prepared |= 1u << stmt;
    }
    rc = lm__db_result(out, conn, PQexecPrepared(conn, name, n_params, params, NULL, NULL, 0));
    /* Gone from the session (DEALLOCATE ALL, DISCARD ALL take every statement): prepare them
       again as they are next used. */
    if (rc < 0 && strcmp(lm_error_last()->sqlstate, "26000") == 0)
        s->prepared = 0;
    return rc;
}

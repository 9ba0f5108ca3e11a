/*
 * db/prepared.c: statements prepared once per pooled connection. Each connection carries a
 * set of the statements it has prepared (libpq instance data, freed with the connection), so
 * the hot statements of a search are parsed and planned once per connection instead of on every
 * call. Only statements whose generic plan is as good as a custom one belong here (a function
 * call, a primary-key lookup); statements that need the tenant's value at plan time (partial
 * indexes) keep lm__db_exec().
 *
 * A statement is named after a hash of its text: the memories of a schema-per-tenant router
 * share one pool (api/tenancy.c), and the same statement id then has one text per schema. A
 * connection keeps at most LM__PREPARED_SLOTS of them and deallocates the oldest beyond.
 */
#include <libpq-events.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "db/db.h"
#include "error.h"

#define LM__PREPARED_SLOTS 32

typedef struct conn_state {
    uint64_t key[LM__PREPARED_SLOTS]; /* hashes of the prepared texts; 0: free */
    unsigned int next;                /* the slot to reuse when all are taken */
    int no_prepare;                   /* never prepare: execute with lm__db_exec() */
} conn_state;

/* FNV-1a over the statement id and text; never 0 (the free mark). */
static uint64_t stmt_key(lm__stmt stmt, const char *sql)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)stmt;
    for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h ? h : 1;
}

static void forget_all(conn_state *s)
{
    memset(s->key, 0, sizeof(s->key));
    s->next = 0;
}

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
            forget_all(s);
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
    char name[32];
    uint64_t key;
    int rc, slot = -1;

    if (out)
        *out = NULL;
    if ((rc = lm__cancel_check()) < 0)
        return rc;
    if (s == NULL || s->no_prepare)
        return lm__db_exec(out, conn, sql, n_params, params);
    key = stmt_key(stmt, sql);
    snprintf(name, sizeof(name), "lm_%016llx", (unsigned long long)key);
    for (int i = 0; i < LM__PREPARED_SLOTS && slot < 0; i++)
        if (s->key[i] == key)
            slot = i;
    if (slot < 0) {
        for (int i = 0; i < LM__PREPARED_SLOTS && slot < 0; i++)
            if (s->key[i] == 0)
                slot = i;
        if (slot < 0) {
            char old[40];
            slot = (int)(s->next++ % LM__PREPARED_SLOTS);
            snprintf(old, sizeof(old), "DEALLOCATE lm_%016llx", (unsigned long long)s->key[slot]);
            s->key[slot] = 0;
            if ((rc = lm__db_exec(NULL, conn, old, 0, NULL)) < 0)
                return rc;
        }
        /* Parameter types come from the statement's casts and function signatures. */
        if ((rc = lm__db_result(NULL, conn, PQprepare(conn, name, sql, n_params, NULL))) < 0)
            return rc;
        s->key[slot] = key;
    }
    rc = lm__db_result(out, conn, PQexecPrepared(conn, name, n_params, params, NULL, NULL, 0));
    /* Gone from the session (DEALLOCATE ALL, DISCARD ALL take every statement): prepare them
       again as they are next used. */
    if (rc < 0 && strcmp(lm_error_last()->sqlstate, "26000") == 0)
        forget_all(s);
    return rc;
}

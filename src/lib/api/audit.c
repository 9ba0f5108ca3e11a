/*
 * api/audit.c: the audit log (db/sql/031_audit.sql): append-only records of administrative and
 * security events of a tenant, written with the action when they can be (one transaction), and
 * the per-thread actor and source the front ends set; authentication failures, rate-limited by
 * aggregation so that a flood cannot fill the disk; and the server's own log (owner_id '', which
 * no tenant can name) for failures no tenant can be named for.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "clock.h"
#include "error.h"
#include "llmemory.h"
#include "validate.h"

static _Thread_local char ctx_actor[128];
static _Thread_local char ctx_source[128];

const char *lm__audit_actor(void)
{
    return ctx_actor[0] ? ctx_actor : "library";
}

const char *lm__audit_source(void)
{
    return ctx_source[0] ? ctx_source : NULL;
}

void lm_audit_context_set(const char *actor, const char *source)
{
    snprintf(ctx_actor, sizeof(ctx_actor), "%s", actor ? actor : "");
    snprintf(ctx_source, sizeof(ctx_source), "%s", source ? source : "");
}

int lm__audit_in_tx(lm_memory *mem, lm__tx *tx, const char *owner_id, const char *action,
                    const char *outcome, const char *detail)
{
    lm_buf sql = LM_BUF_INIT;
    const char *params[6] = {owner_id, ctx_actor[0] ? ctx_actor : "library", action,
                             ctx_source[0] ? ctx_source : NULL, outcome, detail};
    int rc;
    lm__buf_printf(&sql,
                   "INSERT INTO %s.audit_log (owner_id, actor, action, source, outcome, detail)"
                   " VALUES ($1, $2, $3, $4, $5, coalesce($6::jsonb, '{}'))",
                   mem->db.qschema);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(NULL, tx->conn, sql.ptr, 6, params);
    lm_buf_dispose(&sql);
    return rc;
}

void lm__audit(lm_memory *mem, const char *owner_id, const char *action, const char *outcome,
               const char *detail)
{
    /* Keep the caller's error: a failed action reports its own. */
    lm_error e = *lm_error_last();
    char msg[512], det[512], hint[256], field[64], state[6];
    lm__tx tx = {0};
    int rc;
    snprintf(msg, sizeof(msg), "%s", e.message ? e.message : "");
    snprintf(det, sizeof(det), "%s", e.detail ? e.detail : "");
    snprintf(hint, sizeof(hint), "%s", e.hint ? e.hint : "");
    snprintf(field, sizeof(field), "%s", e.field ? e.field : "");
    memcpy(state, e.sqlstate, sizeof(state));
    /* A routing memory's own records (API keys) go to the tenant's log like all the others. */
    lm__routed rt __attribute__((cleanup(lm__route_end))) = {NULL, NULL};
    if ((rc = lm__route(&rt, &mem, owner_id)) == 0 && mem->sql_functions) {
        /* One call of the tenant function (067_keys_audit_functions.sql; routed to the
           tenant's shard through a cluster proxy). */
        lm_buf sql = LM_BUF_INIT;
        const char *params[6] = {owner_id, ctx_actor[0] ? ctx_actor : "library", action,
                                 ctx_source[0] ? ctx_source : NULL, outcome, detail};
        lm__buf_printf(&sql, "SELECT %s.lm_audit_write($1, $2, $3, $4, $5, $6::jsonb)",
                       mem->db.qschema);
        rc = lm__buf_oom(&sql) ? LM_ENOMEM
                               : lm__db_call(NULL, &mem->db, LM__STMT_FN_AUDIT_WRITE, sql.ptr, 6,
                                             params);
        lm_buf_dispose(&sql);
    } else if (rc == 0 && (rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) == 0 &&
        (rc = lm__audit_in_tx(mem, &tx, owner_id, action, outcome, detail)) == 0)
        rc = lm__tx_commit(&tx);
    lm__tx_end(&tx);
    if (rc < 0)
        lm__db_log(&mem->db, LM_LOG_WARN, "could not write the audit record %s of \"%s\": %s",
                   action, owner_id, lm_error_last()->message);
    lm__error_clear();
    if (e.code != LM_OK) {
        if (field[0] != '\0')
            lm__error_set_field(e.code, field, "%s", msg);
        else
            lm__error_set(e.code, "%s", msg);
        if (det[0] != '\0')
            lm__error_detail("%s", det);
        if (hint[0] != '\0')
            lm__error_hint("%s", hint);
        if (state[0] != '\0')
            lm__error_sqlstate(state);
    }
}

struct lm_audit_page {
    PGresult *res;
    lm_audit_entry *e;
    size_t n;
};

/* @p owner_id NULL: the server's log, read on an admin connection. */
static int audit_list(lm_audit_page **out, lm_memory *mem, const char *owner_id, int limit)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_audit_page *p = NULL;
    lm__tx tx = {0};
    lm_buf sql = LM_BUF_INIT;
    PGconn *adm = NULL;
    char lim[16];
    const char *params[2] = {owner_id ? owner_id : "", lim};
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if (owner_id != NULL && (rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (limit < 1 || limit > 10000)
        return lm__error_set_field(LM_EINVAL, "limit", "limit must be between 1 and 10000");
    snprintf(lim, sizeof(lim), "%d", limit);
    if (mem->sql_functions && owner_id != NULL) /* 067: routed to the tenant's shard */
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_audit_list($1, $2::integer)", mem->db.qschema);
    else if (mem->sql_functions) /* every shard's latest, newest first */
        lm__buf_printf(&sql,
                       "SELECT audit_id, at, actor, action, source, outcome, detail"
                       " FROM %s.lm_all_audit_server($2::integer) WHERE $1 = ''"
                       " ORDER BY at_ts DESC, audit_id DESC LIMIT $2::integer",
                       mem->db.qschema);
    else
        lm__buf_printf(&sql,
                       "SELECT audit_id, " TS("at") ", actor, action, source, outcome, detail::text"
                       " FROM %s.audit_log WHERE owner_id = $1 ORDER BY audit_id DESC LIMIT $2",
                       mem->db.qschema);
    if (lm__buf_oom(&sql) || (p = lm__calloc(1, sizeof(*p))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (owner_id == NULL) {
        if ((rc = lm__db_admin_acquire(&adm, &mem->db)) < 0)
            goto out;
        rc = lm__db_exec(&p->res, adm, sql.ptr, 2, params);
        lm__db_admin_release(&mem->db, adm);
        if (rc < 0)
            goto out;
    } else if (mem->sql_functions) {
        if ((rc = lm__db_call(&p->res, &mem->db, LM__STMT_FN_AUDIT_LIST, sql.ptr, 2, params)) < 0)
            goto out;
    } else if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0 ||
               (rc = lm__db_exec(&p->res, tx.conn, sql.ptr, 2, params)) < 0 ||
               (rc = lm__tx_commit(&tx)) < 0) {
        goto out;
    }
    p->n = (size_t)PQntuples(p->res);
    if ((p->e = lm__calloc(p->n ? p->n : 1, sizeof(*p->e))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->n; i++) {
        lm_audit_entry *e = &p->e[i];
        int r = (int)i;
        e->audit_id = strtoll(PQgetvalue(p->res, r, 0), NULL, 10);
        e->at = PQgetvalue(p->res, r, 1);
        e->actor = PQgetvalue(p->res, r, 2);
        e->action = PQgetvalue(p->res, r, 3);
        e->source = PQgetisnull(p->res, r, 4) ? NULL : PQgetvalue(p->res, r, 4);
        e->outcome = PQgetvalue(p->res, r, 5);
        e->detail = PQgetvalue(p->res, r, 6);
    }
out:
    lm__tx_end(&tx);
    lm_buf_dispose(&sql);
    if (rc < 0)
        lm_audit_page_free(p);
    else
        *out = p;
    return rc;
}

int lm_audit_list(lm_audit_page **out, lm_memory *mem, const char *owner_id, int limit)
{
    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    if (owner_id == NULL)
        return lm__validate_owner_id(owner_id);
    return audit_list(out, mem, owner_id, limit);
}

int lm_audit_list_server(lm_audit_page **out, lm_memory *mem, int limit)
{
    return audit_list(out, mem, NULL, limit);
}

size_t lm_audit_page_count(const lm_audit_page *page)
{
    return page ? page->n : 0;
}

const lm_audit_entry *lm_audit_page_at(const lm_audit_page *page, size_t i)
{
    return page && i < page->n ? &page->e[i] : NULL;
}

void lm_audit_page_free(lm_audit_page *page)
{
    if (page == NULL)
        return;
    PQclear(page->res);
    lm__free(page->e);
    lm__free(page);
}

/* ---- authentication failures ------------------------------------------------------------------ */

/* One record per (credential kind, key id, reason, source) a minute at most: the first failure
 * is written at once, the rest of the minute only counted and reported by the next record of the
 * same kind (or at close); "failures" in a record's detail is how many failures it stands for. At most LM__AUTHFAIL_SLOTS kinds are tracked a minute;
 * beyond them failures are counted into one "flood" record of the server's log a minute. So a
 * flood writes at most LM__AUTHFAIL_SLOTS + 1 records a minute per process, whatever its size. */
#define LM__AUTHFAIL_SLOTS     128
#define LM__AUTHFAIL_WINDOW_MS 60000.0

typedef struct lm__authfail {
    char kind[8];
    char key_id[LM_KEY_ID_LEN + 1];
    char reason[24];
    char source[64];
    double since_ms; /* start of the current window; 0: free slot */
    int64_t repeated;
} lm__authfail;

struct lm__authfails {
    pthread_mutex_t mu;
    lm__authfail slot[LM__AUTHFAIL_SLOTS];
    double flood_since_ms;
    int64_t flood;
};

int lm__authfail_init(lm_memory *mem)
{
    if ((mem->authfails = lm__calloc(1, sizeof(*mem->authfails))) == NULL)
        return LM_ENOMEM;
    pthread_mutex_init(&mem->authfails->mu, NULL);
    return 0;
}

static int hex16(const char *s)
{
    if (s == NULL || strlen(s) != LM_KEY_ID_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Write one auth.failure record standing for @p failures failures of kind @p f: in the key's
   tenant's log when the key id is known, else in the server's. Failures to write are logged. */
static void authfail_write(lm_memory *mem, const lm__authfail *f, int64_t failures)
{
    PGconn *c = NULL;
    lm_buf sql = LM_BUF_INIT;
    char detail[256], actor[32], rep[24];
    const char *params[5];
    int rc;
    snprintf(rep, sizeof(rep), "%lld", (long long)failures);
    snprintf(detail, sizeof(detail), "{\"credential\": \"%s\", \"reason\": \"%s\"%s%s%s, \"failures\": %s}",
             f->kind, f->reason, f->key_id[0] ? ", \"key_id\": \"" : "", f->key_id,
             f->key_id[0] ? "\"" : "", rep);
    snprintf(actor, sizeof(actor), "%s%s", f->key_id[0] ? "key:" : "anonymous",
             f->key_id[0] ? f->key_id : "");
    params[0] = f->key_id;
    params[1] = actor;
    params[2] = f->source[0] ? f->source : NULL;
    params[3] = detail;
    if (mem->sql_functions) /* 067; through a proxy only the shard holding the key writes */
        lm__buf_printf(&sql, "SELECT %s.lm_all_audit_auth_failure($1, $2, $3, $4::jsonb, %s)",
                       mem->db.qschema, mem->db.proxy ? "false" : "true");
    else
        lm__buf_printf(&sql,
                       "INSERT INTO %s.audit_log (owner_id, actor, action, source, outcome, detail)"
                       " SELECT coalesce((SELECT k.owner_id FROM %s.api_keys k WHERE k.key_id = $1"
                       " AND NOT %s.llmemory_tenant_erased(k.owner_id)), ''), $2, 'auth.failure',"
                       " $3, 'failure', $4::jsonb",
                       mem->db.qschema, mem->db.qschema, mem->db.qschema);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_admin_acquire(&c, &mem->db);
    if (rc == 0) {
        rc = lm__db_exec(NULL, c, sql.ptr, 4, params);
        lm__db_admin_release(&mem->db, c);
    }
    if (rc < 0)
        lm__db_log(&mem->db, LM_LOG_WARN, "could not write an authentication failure record: %s",
                   lm_error_last()->message);
    lm_buf_dispose(&sql);
}

void lm_audit_auth_failure(lm_memory *mem, const char *credential, const char *key_id,
                           const char *reason, const char *source)
{
    lm__authfail f, due;
    int64_t rep = 0, flood = 0;
    int write = 0, write_due = 0;
    double now;
    if (mem == NULL || mem->authfails == NULL)
        return;
    memset(&f, 0, sizeof(f));
    snprintf(f.kind, sizeof(f.kind), "%s",
             credential && strcmp(credential, "jwt") == 0   ? "jwt"
             : credential && strcmp(credential, "key") == 0 ? "key"
                                                            : "none");
    if (hex16(key_id))
        snprintf(f.key_id, sizeof(f.key_id), "%s", key_id);
    snprintf(f.reason, sizeof(f.reason), "%s", reason ? reason : "other");
    for (char *p = f.reason; *p; p++) /* a fixed vocabulary; nothing odd reaches the JSON */
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            *p = '_';
    snprintf(f.source, sizeof(f.source), "%s", source ? source : "");
    now = lm__now_ms();
    pthread_mutex_lock(&mem->authfails->mu);
    lm__authfail *hit = NULL, *slot = NULL;
    for (int i = 0; i < LM__AUTHFAIL_SLOTS && hit == NULL; i++) {
        lm__authfail *e = &mem->authfails->slot[i];
        if (e->since_ms > 0 && strcmp(e->kind, f.kind) == 0 && strcmp(e->key_id, f.key_id) == 0 &&
            strcmp(e->reason, f.reason) == 0 && strcmp(e->source, f.source) == 0)
            hit = e;
        else if (e->since_ms == 0 && (slot == NULL || slot->since_ms > 0))
            slot = e;
        else if (slot == NULL && now - e->since_ms >= LM__AUTHFAIL_WINDOW_MS)
            slot = e;
    }
    if (hit != NULL && now - hit->since_ms < LM__AUTHFAIL_WINDOW_MS) {
        hit->repeated++; /* counted; reported by the next record of this kind */
    } else if (hit != NULL) {
        rep = hit->repeated; /* a new window: one record, with the last window's count */
        hit->repeated = 0;
        hit->since_ms = now;
        write = 1;
    } else if (slot != NULL) {
        if (slot->since_ms > 0 && slot->repeated > 0) { /* reuse: report its count first */
            due = *slot;
            write_due = 1;
        }
        *slot = f;
        slot->since_ms = now;
        write = 1;
    } else {
        /* Every slot is live: one flood record a minute for all the rest. */
        mem->authfails->flood++;
        if (now - mem->authfails->flood_since_ms >= LM__AUTHFAIL_WINDOW_MS) {
            flood = mem->authfails->flood;
            mem->authfails->flood = 0;
            mem->authfails->flood_since_ms = now;
        }
    }
    pthread_mutex_unlock(&mem->authfails->mu);
    if (write_due)
        authfail_write(mem, &due, due.repeated);
    if (write)
        authfail_write(mem, &f, 1 + rep);
    if (flood > 0) {
        lm__authfail fl;
        memset(&fl, 0, sizeof(fl));
        snprintf(fl.kind, sizeof(fl.kind), "%s", f.kind);
        snprintf(fl.reason, sizeof(fl.reason), "flood");
        authfail_write(mem, &fl, flood);
    }
    lm__error_clear();
}

void lm__authfail_dispose(lm_memory *mem)
{
    if (mem->authfails == NULL)
        return;
    /* Counts not reported yet get their record now. */
    for (int i = 0; i < LM__AUTHFAIL_SLOTS; i++) {
        lm__authfail *e = &mem->authfails->slot[i];
        if (e->since_ms > 0 && e->repeated > 0)
            authfail_write(mem, e, e->repeated);
    }
    if (mem->authfails->flood > 0) {
        lm__authfail fl;
        memset(&fl, 0, sizeof(fl));
        snprintf(fl.kind, sizeof(fl.kind), "none");
        snprintf(fl.reason, sizeof(fl.reason), "flood");
        authfail_write(mem, &fl, mem->authfails->flood);
    }
    lm__error_clear();
    pthread_mutex_destroy(&mem->authfails->mu);
    lm__free(mem->authfails);
    mem->authfails = NULL;
}

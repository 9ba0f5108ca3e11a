/*
 * api/audit.c: the audit log (db/sql/031_audit.sql): append-only records of administrative and
 * security events of a tenant, written with the action when they can be (one transaction), and
 * the per-thread actor and source the front ends set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "error.h"
#include "llmemory.h"
#include "validate.h"

static _Thread_local char ctx_actor[128];
static _Thread_local char ctx_source[128];

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
    if ((rc = lm__route(&rt, &mem, owner_id)) == 0 &&
        (rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) == 0 &&
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

int lm_audit_list(lm_audit_page **out, lm_memory *mem, const char *owner_id, int limit)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_audit_page *p = NULL;
    lm__tx tx = {0};
    lm_buf sql = LM_BUF_INIT;
    char lim[16];
    const char *params[2] = {owner_id, lim};
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (limit < 1 || limit > 10000)
        return lm__error_set_field(LM_EINVAL, "limit", "limit must be between 1 and 10000");
    snprintf(lim, sizeof(lim), "%d", limit);
    lm__buf_printf(&sql,
                   "SELECT audit_id, " TS("at") ", actor, action, source, outcome, detail::text"
                   " FROM %s.audit_log WHERE owner_id = $1 ORDER BY audit_id DESC LIMIT $2",
                   mem->db.qschema);
    if (lm__buf_oom(&sql) || (p = lm__calloc(1, sizeof(*p))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0 ||
        (rc = lm__db_exec(&p->res, tx.conn, sql.ptr, 2, params)) < 0 ||
        (rc = lm__tx_commit(&tx)) < 0)
        goto out;
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

/*
 * api/quota.c: per-tenant storage quotas. Usage is kept exact by triggers on documents
 * (db/sql/030_quotas.sql) and read with the tenant's writer lock held, so a check after the
 * write and before the commit is exact however many writers race: the one that would pass the
 * limit rolls back, and nothing of it is written.
 */
#include <stdlib.h>
#include <string.h>

#include "api/memory.h"
#include "buf.h"
#include "error.h"
#include "llmemory.h"
#include "validate.h"

static const char *const kinds[4] = {"documents", "chunks", "bytes", "vectors"};

/* Usage (4 columns) then the overrides (4 columns, NULL for none) of $1. */
static int read_row(PGresult **out, lm_memory *mem, lm__tx *tx, const char *owner_id)
{
    lm_buf sql = LM_BUF_INIT;
    const char *S = mem->db.qschema;
    const char *params[1] = {owner_id};
    int rc;
    lm__buf_printf(&sql,
                   "SELECT coalesce(u.documents, 0), coalesce(u.chunks, 0), coalesce(u.bytes, 0),"
                   " %s, q.max_documents, q.max_chunks, q.max_bytes, q.max_vectors"
                   " FROM (SELECT $1::text AS owner_id) o"
                   " LEFT JOIN %s.tenant_usage u ON u.owner_id = o.owner_id"
                   " LEFT JOIN %s.tenant_stats s ON s.owner_id = o.owner_id"
                   " LEFT JOIN %s.tenant_quotas q ON q.owner_id = o.owner_id",
                   mem->vec.embedder ? "coalesce(s.chunk_count, 0)" : "0::bigint", S, S, S);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(out, tx->conn, sql.ptr, 1, params);
    lm_buf_dispose(&sql);
    return rc;
}

static void fill(lm_quota_status *st, const lm_memory *mem, const PGresult *res)
{
    int64_t *u = &st->usage.documents, *o = &st->override.documents, *l = &st->limit.documents;
    for (int i = 0; i < 4; i++) {
        u[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
        o[i] = PQgetisnull(res, 0, 4 + i) ? LM_QUOTA_DEFAULT
                                          : strtoll(PQgetvalue(res, 0, 4 + i), NULL, 10);
        l[i] = o[i] == LM_QUOTA_DEFAULT ? mem->quota_default[i] : o[i];
    }
}

int lm__usage_read(lm__usage *out, lm_memory *mem, lm__tx *tx, const char *owner_id)
{
    PGresult *res = NULL;
    int rc = read_row(&res, mem, tx, owner_id);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 4; i++)
        out->v[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
    PQclear(res);
    return 0;
}

int lm__quota_check(lm_memory *mem, lm__tx *tx, const char *owner_id, const lm__usage *before)
{
    PGresult *res = NULL;
    lm_quota_status st;
    int rc = read_row(&res, mem, tx, owner_id);
    if (rc < 0)
        return rc;
    fill(&st, mem, res);
    PQclear(res);
    const int64_t *u = &st.usage.documents, *l = &st.limit.documents;
    for (int i = 0; i < 4; i++) {
        if (l[i] < 0 || u[i] <= l[i] || u[i] <= before->v[i])
            continue;
        lm__error_set_field(LM_ELIMIT, kinds[i], "%s quota exceeded", kinds[i]);
        lm__error_detail("The limit is %lld %s; the tenant has %lld, and this write would make "
                         "it %lld.",
                         (long long)l[i], kinds[i], (long long)before->v[i], (long long)u[i]);
        lm__error_hint("Delete documents, or raise the limit (llmemory quota set).");
        return LM_ELIMIT;
    }
    return 0;
}

int lm_quota_get(lm_quota_status *out, lm_memory *mem, const char *owner_id)
{
    lm__tx tx = {0};
    PGresult *res = NULL;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
        goto out;
    if ((rc = read_row(&res, mem, &tx, owner_id)) < 0)
        goto out;
    if ((rc = lm__tx_commit(&tx)) < 0)
        goto out;
    fill(out, mem, res);
out:
    lm__tx_end(&tx);
    PQclear(res);
    return rc;
}

int lm_quota_set(lm_memory *mem, const char *owner_id, const lm_quota *limits)
{
    lm__tx tx = {0};
    lm_buf sql = LM_BUF_INIT;
    char val[4][24];
    const char *params[5] = {owner_id, NULL, NULL, NULL, NULL};
    const int64_t *l = limits ? &limits->documents : NULL;
    int rc;

    LM_ASSERT_ARG(mem != NULL);
    LM_ASSERT_ARG(limits != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    for (int i = 0; i < 4; i++) {
        if (l[i] < LM_QUOTA_DEFAULT)
            return lm__error_set_field(LM_EINVAL, kinds[i],
                                       "invalid %s limit %lld", kinds[i], (long long)l[i]);
        snprintf(val[i], sizeof(val[i]), "%lld", (long long)l[i]);
        params[1 + i] = l[i] == LM_QUOTA_DEFAULT ? NULL : val[i];
    }
    lm__buf_printf(&sql,
                   "INSERT INTO %s.tenant_quotas AS q (owner_id, max_documents, max_chunks,"
                   " max_bytes, max_vectors) VALUES ($1, $2, $3, $4, $5)"
                   " ON CONFLICT (owner_id) DO UPDATE SET max_documents = excluded.max_documents,"
                   " max_chunks = excluded.max_chunks, max_bytes = excluded.max_bytes,"
                   " max_vectors = excluded.max_vectors, updated_at = now()",
                   mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_WRITE)) < 0)
        goto out;
    if ((rc = lm__db_exec(NULL, tx.conn, sql.ptr, 5, params)) < 0)
        goto out;
    rc = lm__tx_commit(&tx);
out:
    lm__tx_end(&tx);
    lm_buf_dispose(&sql);
    return rc;
}

/*
 * api/quota.c: per-tenant storage quotas. Usage is kept exact by triggers on documents
 * (db/sql/030_quotas.sql) and read with the tenant's writer lock held, so a check after the
 * write and before the commit is exact however many writers race: the one that would pass the
 * limit rolls back, and nothing of it is written.
 */
#include <pthread.h>
#include <stdint.h>
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
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
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
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
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
    {
        char detail[256];
        snprintf(detail, sizeof(detail),
                 "{\"documents\": %s, \"chunks\": %s, \"bytes\": %s, \"vectors\": %s}",
                 params[1] ? params[1] : "null", params[2] ? params[2] : "null",
                 params[3] ? params[3] : "null", params[4] ? params[4] : "null");
        if ((rc = lm__audit_in_tx(mem, &tx, owner_id, "quota.set", "success", detail)) < 0)
            goto out;
    }
    rc = lm__tx_commit(&tx);
out:
    lm__tx_end(&tx);
    lm_buf_dispose(&sql);
    return rc;
}

/* ---- usage of every tenant ---------------------------------------------------------------------- */

struct lm_usage_list {
    PGresult *res;
    lm_usage_row *rows;
    size_t n;
};

static const char *const sort_names[] = {"owner", "documents", "chunks", "bytes",
                                         "vectors", "searches", "adds"};
static const char *const sort_cols[] = {"owner_id", "documents", "chunks", "bytes",
                                        "vectors", "searches_today", "adds_today"};

int lm_usage_sort_parse(lm_usage_sort *out, const char *name)
{
    LM_ASSERT_ARG(out != NULL);
    for (int i = 0; name && i < (int)(sizeof(sort_names) / sizeof(sort_names[0])); i++) {
        if (strcmp(name, sort_names[i]) == 0) {
            *out = (lm_usage_sort)i;
            return 0;
        }
    }
    lm__error_set_field(LM_EINVAL, "sort", "invalid sort column \"%.40s\"", name ? name : "");
    lm__error_hint("Use one of: owner, documents, chunks, bytes, vectors, searches, adds.");
    return LM_EINVAL;
}

int lm_usage_list_get(lm_usage_list **out, lm_memory *mem, lm_usage_sort sort, int limit)
{
    lm_usage_list *l = NULL;
    lm_buf sql = LM_BUF_INIT;
    PGconn *conn = NULL;
    char lim[16];
    const char *params[1] = {lim};
    const char *S;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if ((int)sort < 0 || sort > LM_USAGE_SORT_ADDS_TODAY)
        return lm__error_set_field(LM_EINVAL, "sort", "invalid sort column %d", (int)sort);
    if (limit < 1 || limit > 100000)
        return lm__error_set_field(LM_EINVAL, "limit", "limit must be between 1 and 100000");
    snprintf(lim, sizeof(lim), "%d", limit);
    S = mem->db.qschema;
    lm__buf_printf(&sql,
        "SELECT * FROM (SELECT u.owner_id, u.documents, u.chunks, u.bytes, %s AS vectors,"
        " q.max_documents, q.max_chunks, q.max_bytes, q.max_vectors,"
        " (SELECT count(*) FROM %s.search_history h WHERE h.owner_id = u.owner_id"
        "     AND h.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
        "   AS searches_today,"
        " (SELECT count(*) FROM %s.documents d WHERE d.owner_id = u.owner_id"
        "     AND d.updated_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
        "   AS adds_today"
        " FROM %s.tenant_usage u LEFT JOIN %s.tenant_stats s ON s.owner_id = u.owner_id"
        " LEFT JOIN %s.tenant_quotas q ON q.owner_id = u.owner_id) t"
        " ORDER BY %s%s, owner_id LIMIT $1",
        mem->vec.embedder ? "coalesce(s.chunk_count, 0)" : "0::bigint", S, S, S, S, S,
        sort_cols[sort], sort == LM_USAGE_SORT_OWNER ? "" : " DESC");
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((l = lm__calloc(1, sizeof(*l))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    /* An operator's read across tenants: an admin connection (row-level security's
       maintenance policy; a tenant transaction would see one tenant only). */
    if ((rc = lm__db_admin_acquire(&conn, &mem->db)) < 0)
        goto out;
    rc = lm__db_exec(&l->res, conn, sql.ptr, 1, params);
    lm__db_admin_release(&mem->db, conn);
    if (rc < 0)
        goto out;
    l->n = (size_t)PQntuples(l->res);
    if ((l->rows = lm__calloc(l->n ? l->n : 1, sizeof(*l->rows))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < l->n; i++) {
        lm_usage_row *r = &l->rows[i];
        int64_t *u = &r->usage.documents, *lm = &r->limit.documents;
        r->owner_id = PQgetvalue(l->res, (int)i, 0);
        for (int k = 0; k < 4; k++) {
            u[k] = strtoll(PQgetvalue(l->res, (int)i, 1 + k), NULL, 10);
            lm[k] = PQgetisnull(l->res, (int)i, 5 + k)
                        ? mem->quota_default[k]
                        : strtoll(PQgetvalue(l->res, (int)i, 5 + k), NULL, 10);
            /* 90% or more of a limit (10 * usage >= 9 * limit, in integers). */
            if (r->near_limit == NULL && lm[k] >= 0 && 10 * u[k] >= 9 * lm[k])
                r->near_limit = kinds[k];
        }
        r->searches_today = strtoll(PQgetvalue(l->res, (int)i, 9), NULL, 10);
        r->adds_today = strtoll(PQgetvalue(l->res, (int)i, 10), NULL, 10);
    }
out:
    lm_buf_dispose(&sql);
    if (rc < 0)
        lm_usage_list_free(l);
    else
        *out = l;
    return rc;
}

size_t lm_usage_list_count(const lm_usage_list *list)
{
    return list ? list->n : 0;
}

const lm_usage_row *lm_usage_list_at(const lm_usage_list *list, size_t i)
{
    return list && i < list->n ? &list->rows[i] : NULL;
}

void lm_usage_list_free(lm_usage_list *list)
{
    if (list == NULL)
        return;
    PQclear(list->res);
    lm__free(list->rows);
    lm__free(list);
}

/* ---- rates: token buckets per tenant, per lm_memory ---------------------------------------------- */

/* Slots of the bucket table. A tenant hashes to one slot per kind; another tenant taking the slot
 * starts it afresh (full), so a collision can only be lenient, never refuse wrongly. */
#define LM__RATE_SLOTS 1024

typedef struct lm__bucket {
    char owner[LM_MAX_OWNER_ID_BYTES + 1];
    double tokens;
    double at_ms;
} lm__bucket;

struct lm__buckets {
    pthread_mutex_t mu;
    lm__bucket slot[2][LM__RATE_SLOTS];
};

static _Thread_local double retry_after_s;

double lm_rate_retry_after(void)
{
    return retry_after_s;
}

int lm__rate_init(lm_memory *mem)
{
    if (mem->rate[0] <= 0 && mem->rate[1] <= 0)
        return 0;
    if ((mem->buckets = lm__calloc(1, sizeof(*mem->buckets))) == NULL)
        return LM_ENOMEM;
    pthread_mutex_init(&mem->buckets->mu, NULL);
    return 0;
}

void lm__rate_dispose(lm_memory *mem)
{
    if (mem->buckets == NULL)
        return;
    pthread_mutex_destroy(&mem->buckets->mu);
    lm__free(mem->buckets);
    mem->buckets = NULL;
}

int lm__rate_take(lm_memory *mem, int kind, const char *owner_id)
{
    static const char *const fields[2] = {"rate_adds", "rate_searches"};
    static const char *const what[2] = {"adds", "searches"};
    double rate = mem->rate[kind], burst, now, wait = 0;
    uint32_t h = 2166136261u;
    lm__bucket *b;

    retry_after_s = 0;
    if (rate <= 0 || mem->buckets == NULL)
        return 0;
    burst = rate * mem->rate_burst_s;
    if (burst < 1)
        burst = 1;
    for (const char *p = owner_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    now = lm__now_ms();
    pthread_mutex_lock(&mem->buckets->mu);
    b = &mem->buckets->slot[kind][h % LM__RATE_SLOTS];
    if (strcmp(b->owner, owner_id) != 0) {
        snprintf(b->owner, sizeof(b->owner), "%s", owner_id);
        b->tokens = burst;
        b->at_ms = now;
    }
    b->tokens += (now - b->at_ms) / 1000.0 * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at_ms = now;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (1 - b->tokens) / rate;
    pthread_mutex_unlock(&mem->buckets->mu);
    if (wait <= 0)
        return 0;
    retry_after_s = wait;
    lm__error_set_field(LM_ELIMIT, fields[kind], "too many %s for this tenant", what[kind]);
    lm__error_detail("The tenant may make %g %s a second (bursts of %g); retry in %.2f s.", rate,
                     what[kind], burst, wait);
    return LM_ELIMIT;
}

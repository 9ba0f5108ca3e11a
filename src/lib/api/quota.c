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
#include <time.h>

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

/* lm_quota_get of 068 (the columns of read_row, then the rate overrides). */
static int fn_quota_row(PGresult **out, lm_memory *mem, const char *owner_id)
{
    lm_buf sql = LM_BUF_INIT;
    const char *params[2] = {owner_id, mem->vec.embedder ? "true" : "false"};
    lm__buf_printf(&sql, "SELECT * FROM %s.lm_quota_get($1, $2::boolean)", mem->db.qschema);
    int rc = lm__buf_oom(&sql)
                 ? LM_ENOMEM
                 : lm__db_call(out, &mem->db, LM__STMT_FN_QUOTA_GET, sql.ptr, 2, params);
    lm_buf_dispose(&sql);
    return rc;
}

/* lm_quota_set of 068: the storage limits (@p rates 0, @p v the 4 limits) or the rates
   (@p rates 1, @p v the 2 rates), NULL entries for the default, with the audit record. */
static int fn_quota_set(lm_memory *mem, const char *owner_id, int rates, const char *const *v,
                        const char *detail)
{
    lm_buf sql = LM_BUF_INIT;
    const char *params[11] = {owner_id,
                              rates ? "true" : "false",
                              rates ? NULL : v[0],
                              rates ? NULL : v[1],
                              rates ? NULL : v[2],
                              rates ? NULL : v[3],
                              rates ? v[0] : NULL,
                              rates ? v[1] : NULL,
                              lm__audit_actor(),
                              lm__audit_source(),
                              detail};
    lm__buf_printf(&sql,
                   "SELECT %s.lm_quota_set($1, $2::boolean, $3::bigint, $4::bigint, $5::bigint,"
                   " $6::bigint, $7::float8, $8::float8, $9, $10, $11::jsonb)",
                   mem->db.qschema);
    int rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_call(NULL, &mem->db, LM__STMT_FN_QUOTA_SET,
                                                         sql.ptr, 11, params);
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
    if (mem->sql_functions) {
        /* 068_quota_functions.sql: one call, routed to the tenant's shard by a proxy */
        if ((rc = fn_quota_row(&res, mem, owner_id)) < 0)
            goto out;
        fill(out, mem, res);
        goto out;
    }
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

/* Upsert the tenant's row of tenant_quotas with @p sql (already formatted; $1 the owner) and
   write the "quota.set" audit record with @p detail, in one tenant transaction. */
static int quota_row_write(lm_memory *mem, const char *owner_id, const lm_buf *sql, int n_params,
                           const char *const *params, const char *detail)
{
    lm__tx tx = {0};
    int rc;
    if (lm__buf_oom(sql))
        return LM_ENOMEM;
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_WRITE)) == 0 &&
        (rc = lm__db_exec(NULL, tx.conn, sql->ptr, n_params, params)) == 0 &&
        (rc = lm__audit_in_tx(mem, &tx, owner_id, "quota.set", "success", detail)) == 0)
        rc = lm__tx_commit(&tx);
    lm__tx_end(&tx);
    return rc;
}

int lm_quota_set(lm_memory *mem, const char *owner_id, const lm_quota *limits)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
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
    {
        char detail[256];
        snprintf(detail, sizeof(detail),
                 "{\"documents\": %s, \"chunks\": %s, \"bytes\": %s, \"vectors\": %s}",
                 params[1] ? params[1] : "null", params[2] ? params[2] : "null",
                 params[3] ? params[3] : "null", params[4] ? params[4] : "null");
        rc = mem->sql_functions ? fn_quota_set(mem, owner_id, 0, params + 1, detail)
                                : quota_row_write(mem, owner_id, &sql, 5, params, detail);
    }
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

/* The limit of kind k in force, as SQL over q (the overrides) and $2..$5 (the defaults, -1 for
   none). */
static const char *const limit_sql[4] = {
    "coalesce(q.max_documents, $2::bigint)", "coalesce(q.max_chunks, $3::bigint)",
    "coalesce(q.max_bytes, $4::bigint)", "coalesce(q.max_vectors, $5::bigint)"};

/* Every tenant's usage; @p percent > 0: only tenants at @p percent % of a limit or more. */
static int usage_list(lm_usage_list **out, lm_memory *mem, lm_usage_sort sort, int limit,
                      int percent)
{
    lm_usage_list *l = NULL;
    lm_buf sql = LM_BUF_INIT;
    PGconn *conn = NULL;
    char lim[16], def[4][24], pct[16];
    const char *params[6] = {lim, def[0], def[1], def[2], def[3], pct};
    const char *S;
    int rc, near = percent > 0 ? percent : 90;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if ((int)sort < 0 || sort > LM_USAGE_SORT_ADDS_TODAY)
        return lm__error_set_field(LM_EINVAL, "sort", "invalid sort column %d", (int)sort);
    if (limit < 1 || limit > 100000)
        return lm__error_set_field(LM_EINVAL, "limit", "limit must be between 1 and 100000");
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(pct, sizeof(pct), "%d", percent);
    for (int k = 0; k < 4; k++)
        snprintf(def[k], sizeof(def[k]), "%lld", (long long)mem->quota_default[k]);
    S = mem->db.qschema;
    if (mem->sql_functions) {
        /* 068: every shard's first $1, ordered and cut again over all of them */
        lm__buf_printf(&sql,
                       "SELECT * FROM %s.lm_all_usage_list(%s, ARRAY[$2, $3, $4, $5]::bigint[],"
                       " $6::int, '%s', $1::int) ORDER BY %s%s, owner_id LIMIT $1::int",
                       S, mem->vec.embedder ? "true" : "false", sort_cols[sort], sort_cols[sort],
                       sort == LM_USAGE_SORT_OWNER ? "" : " DESC");
        goto built;
    }
    lm__buf_printf(&sql,
        "SELECT * FROM (SELECT u.owner_id, u.documents, u.chunks, u.bytes, %s AS vectors,"
        " %s AS l0, %s AS l1, %s AS l2, %s AS l3,"
        " coalesce(m.searches, 0) AS searches_today, coalesce(m.adds, 0) AS adds_today"
        " FROM %s.tenant_usage u LEFT JOIN %s.tenant_stats s ON s.owner_id = u.owner_id"
        " LEFT JOIN %s.tenant_quotas q ON q.owner_id = u.owner_id"
        " LEFT JOIN %s.tenant_usage_daily m ON m.owner_id = u.owner_id"
        "   AND m.day = (now() AT TIME ZONE 'UTC')::date) t"
        " WHERE $6::int <= 0 OR (l0 >= 0 AND documents * 100 >= $6::int * l0)"
        "    OR (l1 >= 0 AND chunks * 100 >= $6::int * l1) OR (l2 >= 0 AND bytes * 100 >= $6::int * l2)"
        "    OR (l3 >= 0 AND vectors * 100 >= $6::int * l3)"
        " ORDER BY %s%s, owner_id LIMIT $1",
        mem->vec.embedder ? "coalesce(s.chunk_count, 0)" : "0::bigint", limit_sql[0],
        limit_sql[1], limit_sql[2], limit_sql[3], S, S, S, S,
        sort_cols[sort], sort == LM_USAGE_SORT_OWNER ? "" : " DESC");
built:
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((l = lm__calloc(1, sizeof(*l))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (lm__meter_flush(mem) < 0) /* this process's counts of today first */
        lm__error_clear();
    /* An operator's read across tenants: an admin connection (row-level security's
       maintenance policy; a tenant transaction would see one tenant only). */
    if ((rc = lm__db_admin_acquire(&conn, &mem->db)) < 0)
        goto out;
    rc = lm__db_exec(&l->res, conn, sql.ptr, 6, params);
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
            lm[k] = strtoll(PQgetvalue(l->res, (int)i, 5 + k), NULL, 10);
            if (lm[k] < 0)
                lm[k] = LM_QUOTA_NONE;
            /* At the threshold or more (100 * usage >= percent * limit, in integers). */
            if (r->near_limit == NULL && lm[k] >= 0 && 100 * u[k] >= near * lm[k])
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

int lm_usage_list_get(lm_usage_list **out, lm_memory *mem, lm_usage_sort sort, int limit)
{
    return usage_list(out, mem, sort, limit, 0);
}

int lm_usage_list_near(lm_usage_list **out, lm_memory *mem, lm_usage_sort sort, int limit,
                       int percent)
{
    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    if (percent < 1 || percent > 1000)
        return lm__error_set_field(LM_EINVAL, "percent",
                                   "percent must be between 1 and 1000, not %d", percent);
    return usage_list(out, mem, sort, limit, percent);
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
/* How long a tenant's rate overrides are trusted before they are read again (other processes
 * may change them; lm_rate_set() in this one refreshes at once). */
#define LM__RATE_OVERRIDE_TTL_MS 5000.0

typedef struct lm__bucket {
    char owner[LM_MAX_OWNER_ID_BYTES + 1];
    double tokens;
    double at_ms;
} lm__bucket;

/* A tenant's overrides (operations a second; LM_QUOTA_DEFAULT, LM_QUOTA_NONE), as last read. */
typedef struct lm__rate_override {
    char owner[LM_MAX_OWNER_ID_BYTES + 1];
    double rate[2];
    double read_ms;
} lm__rate_override;

/* Calls counted since the last flush, per tenant and UTC day (api/quota.c meter). */
#define LM__METER_SLOTS 256
typedef struct lm__meter_row {
    char owner[LM_MAX_OWNER_ID_BYTES + 1];
    char day[11];
    int64_t n[2]; /* adds, searches */
} lm__meter_row;

struct lm__buckets {
    pthread_mutex_t mu;
    lm__bucket slot[2][LM__RATE_SLOTS];
    lm__rate_override ovr[LM__RATE_SLOTS];
    pthread_mutex_t meter_mu;
    lm__meter_row meter[LM__METER_SLOTS];
    size_t meter_n;
    double meter_at_ms;
    pthread_mutex_t flush_mu; /* one flush at a time, so counts reach the table in order */
};

static _Thread_local double retry_after_s;

double lm_rate_retry_after(void)
{
    return retry_after_s;
}

int lm__rate_init(lm_memory *mem)
{
    if ((mem->buckets = lm__calloc(1, sizeof(*mem->buckets))) == NULL)
        return LM_ENOMEM;
    pthread_mutex_init(&mem->buckets->mu, NULL);
    pthread_mutex_init(&mem->buckets->meter_mu, NULL);
    pthread_mutex_init(&mem->buckets->flush_mu, NULL);
    mem->buckets->meter_at_ms = lm__now_ms();
    return 0;
}

void lm__rate_dispose(lm_memory *mem)
{
    if (mem->buckets == NULL)
        return;
    pthread_mutex_destroy(&mem->buckets->mu);
    pthread_mutex_destroy(&mem->buckets->meter_mu);
    pthread_mutex_destroy(&mem->buckets->flush_mu);
    lm__free(mem->buckets);
    mem->buckets = NULL;
}

static uint32_t owner_hash(const char *owner_id)
{
    uint32_t h = 2166136261u;
    for (const char *p = owner_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* Read the tenant's rate overrides into the cache (an admin read: no tenant transaction, so a
   refused call costs no more). On failure the defaults apply until the next read. */
static void override_read(lm_memory *mem, const char *owner_id, double out[2])
{
    PGconn *c = NULL;
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *params[1] = {owner_id};
    out[0] = out[1] = LM_QUOTA_DEFAULT;
    if (mem->sql_functions) /* 068, routed to the tenant's shard */
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_quota_rates($1)", mem->db.qschema);
    else
        lm__buf_printf(&sql,
                       "SELECT rate_adds, rate_searches FROM %s.tenant_quotas WHERE owner_id = $1",
                       mem->db.qschema);
    if (!lm__buf_oom(&sql) && lm__db_admin_acquire(&c, &mem->db) == 0) {
        if (lm__db_exec(&res, c, sql.ptr, 1, params) == 0 && PQntuples(res) == 1)
            for (int k = 0; k < 2; k++)
                if (!PQgetisnull(res, 0, k))
                    out[k] = strtod(PQgetvalue(res, 0, k), NULL);
        lm__db_admin_release(&mem->db, c);
    }
    lm__error_clear();
    PQclear(res);
    lm_buf_dispose(&sql);
}

/* The rate of @p kind in force for the tenant: 0 for none. */
static double rate_in_force(lm_memory *mem, int kind, const char *owner_id, uint32_t h, double now)
{
    lm__rate_override *o = &mem->buckets->ovr[h % LM__RATE_SLOTS];
    double r[2];
    int fresh;
    pthread_mutex_lock(&mem->buckets->mu);
    fresh = strcmp(o->owner, owner_id) == 0 && now - o->read_ms < LM__RATE_OVERRIDE_TTL_MS;
    if (fresh) {
        r[0] = o->rate[0];
        r[1] = o->rate[1];
    }
    pthread_mutex_unlock(&mem->buckets->mu);
    if (!fresh) {
        override_read(mem, owner_id, r);
        pthread_mutex_lock(&mem->buckets->mu);
        snprintf(o->owner, sizeof(o->owner), "%s", owner_id);
        o->rate[0] = r[0];
        o->rate[1] = r[1];
        o->read_ms = now;
        pthread_mutex_unlock(&mem->buckets->mu);
    }
    return r[kind] == LM_QUOTA_DEFAULT ? mem->rate[kind] : r[kind] < 0 ? 0 : r[kind];
}

static void meter_count(lm_memory *mem, int kind, const char *owner_id);

int lm__rate_take(lm_memory *mem, int kind, const char *owner_id)
{
    static const char *const fields[2] = {"rate_adds", "rate_searches"};
    static const char *const what[2] = {"adds", "searches"};
    double rate, burst, now, wait = 0;
    uint32_t h;
    lm__bucket *b;

    retry_after_s = 0;
    if (mem->buckets == NULL)
        return 0;
    h = owner_hash(owner_id);
    now = lm__now_ms();
    rate = rate_in_force(mem, kind, owner_id, h, now);
    if (rate <= 0) {
        meter_count(mem, kind, owner_id);
        return 0;
    }
    burst = rate * mem->rate_burst_s;
    if (burst < 1)
        burst = 1;
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
    if (wait <= 0) {
        meter_count(mem, kind, owner_id);
        return 0;
    }
    retry_after_s = wait;
    lm__error_set_field(LM_ELIMIT, fields[kind], "too many %s for this tenant", what[kind]);
    lm__error_detail("The tenant may make %g %s a second (bursts of %g); retry in %.2f s.", rate,
                     what[kind], burst, wait);
    return LM_ELIMIT;
}

static int rate_check(double v, const char *field)
{
    if (v == LM_QUOTA_DEFAULT || v == LM_QUOTA_NONE || (v >= 0 && v <= 1e9))
        return 0;
    return lm__error_set_field(LM_EINVAL, field, "invalid %s %g", field, v);
}

int lm_rate_set(lm_memory *mem, const char *owner_id, const lm_rates *rates)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_buf sql = LM_BUF_INIT;
    char val[2][40];
    const char *params[3] = {owner_id, NULL, NULL};
    int rc;

    LM_ASSERT_ARG(mem != NULL);
    LM_ASSERT_ARG(rates != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0 ||
        (rc = rate_check(rates->adds, "rate_adds")) < 0 ||
        (rc = rate_check(rates->searches, "rate_searches")) < 0)
        return rc;
    const double v[2] = {rates->adds, rates->searches};
    for (int i = 0; i < 2; i++) {
        snprintf(val[i], sizeof(val[i]), "%.17g", v[i]);
        params[1 + i] = v[i] == LM_QUOTA_DEFAULT ? NULL : val[i];
    }
    lm__buf_printf(&sql,
                   "INSERT INTO %s.tenant_quotas AS q (owner_id, rate_adds, rate_searches)"
                   " VALUES ($1, $2, $3) ON CONFLICT (owner_id) DO UPDATE"
                   " SET rate_adds = excluded.rate_adds, rate_searches = excluded.rate_searches,"
                   " updated_at = now()",
                   mem->db.qschema);
    {
        char detail[160];
        snprintf(detail, sizeof(detail), "{\"rate_adds\": %s, \"rate_searches\": %s}",
                 params[1] ? params[1] : "null", params[2] ? params[2] : "null");
        if ((rc = mem->sql_functions ? fn_quota_set(mem, owner_id, 1, params + 1, detail)
                                     : quota_row_write(mem, owner_id, &sql, 3, params, detail)) < 0)
            goto out;
    }
    if (mem->buckets != NULL) { /* this process follows at once */
        lm__rate_override *o = &mem->buckets->ovr[owner_hash(owner_id) % LM__RATE_SLOTS];
        pthread_mutex_lock(&mem->buckets->mu);
        snprintf(o->owner, sizeof(o->owner), "%s", owner_id);
        o->rate[0] = rates->adds;
        o->rate[1] = rates->searches;
        o->read_ms = lm__now_ms();
        pthread_mutex_unlock(&mem->buckets->mu);
    }
out:
    lm_buf_dispose(&sql);
    return rc;
}

int lm_rate_get(lm_rate_status *out, lm_memory *mem, const char *owner_id)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    double r[2];
    int rc;
    LM_ASSERT_ARG(out != NULL);
    memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    {
        /* Read in a tenant transaction (an erased tenant reads as having none). */
        lm__tx tx = {0};
        PGresult *res = NULL;
        lm_buf sql = LM_BUF_INIT;
        const char *params[1] = {owner_id};
        r[0] = r[1] = LM_QUOTA_DEFAULT;
        if (mem->sql_functions) { /* 068: one call, routed to the tenant's shard */
            if ((rc = fn_quota_row(&res, mem, owner_id)) == 0) {
                PGresult *two = res; /* the rates are its last two columns */
                for (int k = 0; k < 2 && PQntuples(two) == 1; k++)
                    if (!PQgetisnull(two, 0, 8 + k))
                        r[k] = strtod(PQgetvalue(two, 0, 8 + k), NULL);
            }
            PQclear(res);
            lm_buf_dispose(&sql);
            if (rc < 0)
                return rc;
            goto rates;
        }
        lm__buf_printf(&sql, "SELECT rate_adds, rate_searches FROM %s.tenant_quotas"
                             " WHERE owner_id = $1", mem->db.qschema);
        rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ);
        if (rc == 0)
            rc = lm__db_exec(&res, tx.conn, sql.ptr, 1, params);
        if (rc == 0)
            rc = lm__tx_commit(&tx);
        if (rc == 0 && PQntuples(res) == 1)
            for (int k = 0; k < 2; k++)
                if (!PQgetisnull(res, 0, k))
                    r[k] = strtod(PQgetvalue(res, 0, k), NULL);
        lm__tx_end(&tx);
        PQclear(res);
        lm_buf_dispose(&sql);
        if (rc < 0)
            return rc;
    }
rates:
    out->override.adds = r[0];
    out->override.searches = r[1];
    for (int k = 0; k < 2; k++) {
        double d = mem->rate[k] > 0 ? mem->rate[k] : LM_QUOTA_NONE;
        (&out->limit.adds)[k] = r[k] == LM_QUOTA_DEFAULT ? d : r[k];
    }
    return 0;
}

/* ---- usage metering: searches and adds per tenant and day ------------------------------------ */

/* Flush at most this often, or when the table is full. */
#define LM__METER_FLUSH_MS 1000.0

static void utc_day(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Write @p n counted rows (one INSERT ... ON CONFLICT, ordered, so writers of the same rows from
   other processes cannot deadlock). Counts of tenants being erased are dropped. */
/* Through a cluster proxy: each owner's counts by its routed tenant function
   (064_usage_functions.sql), one call per owner and day (the proxy has no tables). */
/* One call per tenant, each its own transaction on the tenant's shard: every row is tried (a
   tenant whose shard is down, or whose move fences it for a moment, holds up no other), and
   the ones that failed are moved to the front of @p rows, *n_failed of them, for the next
   flush; the first failure is returned. */
static int meter_write_proxy(lm_memory *mem, lm__meter_row *rows, size_t n, size_t *n_failed)
{
    lm_buf sql = LM_BUF_INIT;
    lm__error_saved first;
    int rc = 0;
    *n_failed = n;
    lm__buf_printf(&sql, "SELECT %s.lm_usage_add($1, ARRAY[$2::date], ARRAY[$3::bigint],"
                         " ARRAY[$4::bigint])", mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        lm_buf_dispose(&sql);
        return LM_ENOMEM;
    }
    *n_failed = 0;
    for (size_t i = 0; i < n; i++) {
        char s[24], a[24];
        const char *params[4] = {rows[i].owner, rows[i].day, s, a};
        snprintf(s, sizeof(s), "%lld", (long long)rows[i].n[LM__RATE_SEARCHES]);
        snprintf(a, sizeof(a), "%lld", (long long)rows[i].n[LM__RATE_ADDS]);
        int one = lm__db_call(NULL, &mem->db, LM__STMT_FN_USAGE_ADD, sql.ptr, 4, params);
        if (one < 0) {
            if (rc == 0) {
                rc = one;
                lm__error_save(&first);
            }
            rows[(*n_failed)++] = rows[i];
        }
    }
    if (rc < 0)
        lm__error_restore(&first);
    lm_buf_dispose(&sql);
    return rc;
}

static int meter_write(lm_memory *mem, lm__meter_row *rows, size_t n, size_t *n_failed)
{
    lm_buf sql = LM_BUF_INIT, a[4] = {LM_BUF_INIT, LM_BUF_INIT, LM_BUF_INIT, LM_BUF_INIT};
    PGconn *c = NULL;
    int rc;
    *n_failed = 0;
    if (n == 0)
        return 0;
    if (mem->db.proxy)
        return meter_write_proxy(mem, rows, n, n_failed);
    for (int k = 0; k < 4; k++)
        lm__buf_putc(&a[k], '{');
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        /* Owner ids are letters, digits, "_-./" (validated): safe inside quotes. */
        lm__buf_printf(&a[0], "%s\"%s\"", sep, rows[i].owner);
        lm__buf_printf(&a[1], "%s%s", sep, rows[i].day);
        lm__buf_printf(&a[2], "%s%lld", sep, (long long)rows[i].n[LM__RATE_SEARCHES]);
        lm__buf_printf(&a[3], "%s%lld", sep, (long long)rows[i].n[LM__RATE_ADDS]);
    }
    for (int k = 0; k < 4; k++)
        lm__buf_putc(&a[k], '}');
    lm__buf_printf(&sql,
                   "INSERT INTO %s.tenant_usage_daily AS u (owner_id, day, searches, adds)"
                   " SELECT o, d, s, a FROM unnest($1::text[], $2::date[], $3::bigint[],"
                   " $4::bigint[]) t(o, d, s, a) WHERE NOT %s.llmemory_tenant_erased(o)"
                   " ORDER BY o, d"
                   " ON CONFLICT (owner_id, day) DO UPDATE SET searches = u.searches +"
                   " excluded.searches, adds = u.adds + excluded.adds",
                   mem->db.qschema, mem->db.qschema);
    rc = LM_ENOMEM;
    if (!lm__buf_oom(&sql) && !lm__buf_oom(&a[0]) && !lm__buf_oom(&a[1]) && !lm__buf_oom(&a[2]) &&
        !lm__buf_oom(&a[3])) {
        const char *params[4] = {a[0].ptr, a[1].ptr, a[2].ptr, a[3].ptr};
        if ((rc = lm__db_admin_acquire(&c, &mem->db)) == 0) {
            rc = lm__db_exec(NULL, c, sql.ptr, 4, params);
            lm__db_admin_release(&mem->db, c);
        }
    }
    lm_buf_dispose(&sql);
    for (int k = 0; k < 4; k++)
        lm_buf_dispose(&a[k]);
    if (rc < 0)
        *n_failed = n; /* one statement: none written */
    return rc;
}

int lm__meter_flush(lm_memory *mem)
{
    lm__meter_row *rows;
    size_t n;
    int rc;
    if (mem->buckets == NULL)
        return 0;
    pthread_mutex_lock(&mem->buckets->flush_mu);
    pthread_mutex_lock(&mem->buckets->meter_mu);
    n = mem->buckets->meter_n;
    rows = n ? lm__malloc(n * sizeof(*rows)) : NULL;
    if (rows != NULL) {
        memcpy(rows, mem->buckets->meter, n * sizeof(*rows));
        mem->buckets->meter_n = 0;
    }
    mem->buckets->meter_at_ms = lm__now_ms();
    pthread_mutex_unlock(&mem->buckets->meter_mu);
    if (n > 0 && rows == NULL) {
        pthread_mutex_unlock(&mem->buckets->flush_mu);
        return LM_ENOMEM;
    }
    size_t n_failed = 0;
    rc = meter_write(mem, rows, n, &n_failed);
    pthread_mutex_unlock(&mem->buckets->flush_mu);
    if (rc < 0) {
        lm__db_log(&mem->db, LM_LOG_WARN, "could not record usage counts: %s",
                   lm_error_last()->message);
        /* Put back the ones not written: they are written with the next flush. */
        pthread_mutex_lock(&mem->buckets->meter_mu);
        for (size_t i = 0; i < n_failed && mem->buckets->meter_n < LM__METER_SLOTS; i++)
            mem->buckets->meter[mem->buckets->meter_n++] = rows[i];
        pthread_mutex_unlock(&mem->buckets->meter_mu);
    }
    lm__free(rows);
    return rc;
}

void lm__meter_forget(lm_memory *mem, const char *owner_id)
{
    if (mem->buckets == NULL)
        return;
    pthread_mutex_lock(&mem->buckets->meter_mu);
    size_t k = 0;
    for (size_t i = 0; i < mem->buckets->meter_n; i++)
        if (strcmp(mem->buckets->meter[i].owner, owner_id) != 0)
            mem->buckets->meter[k++] = mem->buckets->meter[i];
    mem->buckets->meter_n = k;
    pthread_mutex_unlock(&mem->buckets->meter_mu);
}

static void meter_count(lm_memory *mem, int kind, const char *owner_id)
{
    char day[11];
    int flush;
    utc_day(day);
    pthread_mutex_lock(&mem->buckets->meter_mu);
    lm__meter_row *r = NULL;
    for (size_t i = 0; i < mem->buckets->meter_n && r == NULL; i++)
        if (strcmp(mem->buckets->meter[i].owner, owner_id) == 0 &&
            strcmp(mem->buckets->meter[i].day, day) == 0)
            r = &mem->buckets->meter[i];
    if (r == NULL && mem->buckets->meter_n < LM__METER_SLOTS) {
        r = &mem->buckets->meter[mem->buckets->meter_n++];
        memset(r, 0, sizeof(*r));
        snprintf(r->owner, sizeof(r->owner), "%s", owner_id);
        memcpy(r->day, day, sizeof(r->day));
    }
    if (r != NULL)
        r->n[kind]++;
    flush = r == NULL || mem->buckets->meter_n == LM__METER_SLOTS ||
            lm__now_ms() - mem->buckets->meter_at_ms >= LM__METER_FLUSH_MS;
    pthread_mutex_unlock(&mem->buckets->meter_mu);
    if (flush) {
        lm__meter_flush(mem);
        lm__error_clear();
        if (r == NULL) /* the table was full: count this one after the flush */
            meter_count(mem, kind, owner_id);
    }
}

int lm_usage_days(lm_usage_day *out, int max_days, int *n_out, lm_memory *mem,
                  const char *owner_id)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm__tx tx = {0};
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    char lim[16];
    const char *params[2] = {owner_id, lim};
    int rc;

    LM_ASSERT_ARG(n_out != NULL);
    *n_out = 0;
    LM_ASSERT_ARG(mem != NULL);
    LM_ASSERT_ARG(out != NULL || max_days == 0);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (max_days < 1 || max_days > 366)
        return lm__error_set_field(LM_EINVAL, "days", "days must be between 1 and 366");
    snprintf(lim, sizeof(lim), "%d", max_days);
    /* This process's counts first, so a tenant reads its own calls at once. */
    if (lm__meter_flush(mem) < 0)
        lm__error_clear();
    if (mem->db.proxy) {
        /* A cluster proxy: the routed tenant function (064_usage_functions.sql). */
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_usage_days($1, $2::int)", mem->db.qschema);
        rc = lm__buf_oom(&sql)
                 ? LM_ENOMEM
                 : lm__db_call(&res, &mem->db, LM__STMT_FN_USAGE_DAYS, sql.ptr, 2, params);
        if (rc < 0)
            goto out;
        goto rows;
    }
    lm__buf_printf(&sql,
                   "SELECT to_char(g.day, 'YYYY-MM-DD'), coalesce(u.searches, 0),"
                   " coalesce(u.adds, 0) FROM (SELECT ((now() AT TIME ZONE 'UTC')::date - i) AS day"
                   " FROM generate_series(0, $2::int - 1) i) g LEFT JOIN %s.tenant_usage_daily u"
                   " ON u.owner_id = $1 AND u.day = g.day ORDER BY g.day DESC",
                   mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0 ||
        (rc = lm__db_exec(&res, tx.conn, sql.ptr, 2, params)) < 0 ||
        (rc = lm__tx_commit(&tx)) < 0)
        goto out;
rows:
    for (int i = 0; i < PQntuples(res) && i < max_days; i++) {
        snprintf(out[i].day, sizeof(out[i].day), "%s", PQgetvalue(res, i, 0));
        out[i].searches = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        out[i].adds = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        (*n_out)++;
    }
out:
    lm__tx_end(&tx);
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* ---- near-quota alerts (bounded: counts of tenants, never names) -------------------------------- */

int lm_quota_alerts_get(lm_quota_alerts *out, lm_memory *mem, int max_age_s)
{
    lm_buf sql = LM_BUF_INIT;
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char def[4][24];
    const char *params[5] = {"0", def[0], def[1], def[2], def[3]};
    double now;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    now = lm__now_ms();
    pthread_mutex_lock(&mem->buckets->meter_mu);
    if (mem->alerts_at_ms > 0 && (max_age_s < 0 || now - mem->alerts_at_ms <= max_age_s * 1000.0)) {
        *out = mem->alerts;
        out->age_s = (now - mem->alerts_at_ms) / 1000.0;
        pthread_mutex_unlock(&mem->buckets->meter_mu);
        return 0;
    }
    pthread_mutex_unlock(&mem->buckets->meter_mu);
    if (max_age_s < 0)
        return lm__error_set(LM_ENOTFOUND, "no quota alert counts computed yet");
    for (int k = 0; k < 4; k++)
        snprintf(def[k], sizeof(def[k]), "%lld", (long long)mem->quota_default[k]);
    if (mem->sql_functions) {
        /* 068: each shard's counts, added up */
        lm__buf_printf(&sql, "SELECT sum(tenants)::bigint");
        for (int t = 0; t < 3; t++)
            for (int k = 1; k <= 4; k++)
                lm__buf_printf(&sql, ", sum(c%d[%d])::bigint", t == 0 ? 80 : t == 1 ? 95 : 100, k);
        lm__buf_printf(&sql,
                       " FROM %s.lm_all_quota_alerts(%s, ARRAY[$2, $3, $4, $5]::bigint[])"
                       " WHERE $1::int = 0",
                       mem->db.qschema, mem->vec.embedder ? "true" : "false");
        goto built;
    }
    /* One pass over the per-tenant usage rows (one row per tenant, kept by triggers). */
    lm__buf_printf(&sql, "SELECT count(*)");
    for (int t = 0; t < 3; t++) {
        static const int pct[3] = {80, 95, 100};
        static const char *const u[4] = {"u.documents", "u.chunks", "u.bytes",
                                         "coalesce(s.chunk_count, 0)"};
        for (int k = 0; k < 4; k++)
            lm__buf_printf(&sql, ", count(*) FILTER (WHERE %s >= 0 AND %s * 100 >= %d * %s)",
                           limit_sql[k], k == 3 && !mem->vec.embedder ? "0" : u[k], pct[t],
                           limit_sql[k]);
    }
    lm__buf_printf(&sql,
                   " FROM %s.tenant_usage u LEFT JOIN %s.tenant_stats s ON s.owner_id = u.owner_id"
                   " LEFT JOIN %s.tenant_quotas q ON q.owner_id = u.owner_id WHERE $1::int = 0",
                   mem->db.qschema, mem->db.qschema, mem->db.qschema);
built:
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_admin_acquire(&conn, &mem->db)) < 0)
        goto out;
    rc = lm__db_exec(&res, conn, sql.ptr, 5, params);
    lm__db_admin_release(&mem->db, conn);
    if (rc < 0)
        goto out;
    out->tenants = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    for (int k = 0; k < 4; k++) {
        out->at_80[k] = strtoll(PQgetvalue(res, 0, 1 + k), NULL, 10);
        out->at_95[k] = strtoll(PQgetvalue(res, 0, 5 + k), NULL, 10);
        out->at_100[k] = strtoll(PQgetvalue(res, 0, 9 + k), NULL, 10);
    }
    pthread_mutex_lock(&mem->buckets->meter_mu);
    mem->alerts = *out;
    mem->alerts_at_ms = lm__now_ms();
    pthread_mutex_unlock(&mem->buckets->meter_mu);
out:
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

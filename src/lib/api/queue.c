/*
 * api/queue.c: the embedding worker. Jobs are claimed in batches with FOR UPDATE SKIP LOCKED and
 * a lease (token + expiry) in a short transaction; the texts are embedded outside any
 * transaction; the vectors are written only while the lease is still ours, and duplicates are
 * impossible (primary key + ON CONFLICT DO NOTHING). A crashed worker's jobs become claimable
 * when the lease expires. This is maintenance across tenants, not a tenant operation.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "error.h"
#include "hash.h"
#include "llmemory.h"
#include "validate.h"

int lm_embed_run_opts_init(lm_embed_run_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_EMBED_RUN_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_embed_run_opts version %u", version);
    lm_embed_run_opts d = LM_EMBED_RUN_OPTS_INIT;
    *opts = d;
    return 0;
}

static int exec_sql(PGconn *c, PGresult **out, lm_buf *sql, int n, const char *const *p)
{
    if (lm__buf_oom(sql))
        return LM_ENOMEM;
    return lm__db_exec(out, c, sql->ptr, n, p);
}

/* Claim up to @p batch ready jobs (pending and due, or processing with an expired lease). */
static int claim(PGresult **out, lm_memory *mem, PGconn *c, const char *token, int batch, int lease)
{
    lm_buf sql = LM_BUF_INIT;
    char b[16], l[16];
    int rc;
    snprintf(b, sizeof(b), "%d", batch);
    snprintf(l, sizeof(l), "%d", lease);
    const char *p[] = {mem->vec.provider_id, b, l, token};
    const char *S = mem->db.qschema;
    if (mem->sql_functions) {
        /* One call of <schema>.lm_all_queue_claim (063_queue_claim.sql), its own transaction. */
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_all_queue_claim($1, $2::int, $3::int, $4::uuid)",
                       S);
        rc = exec_sql(c, out, &sql, 4, p);
        lm_buf_dispose(&sql);
        return rc;
    }
    lm__buf_printf(&sql,
                   "WITH c AS (SELECT owner_id, provider_id, chunk_id FROM %s.embedding_queue"
                   "   WHERE provider_id = $1 AND ((status = 'pending' AND available_at <= now())"
                   "      OR (status = 'processing' AND lease_until < now()))"
                   "   ORDER BY available_at, created_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"
                   " UPDATE %s.embedding_queue q SET status = 'processing', attempts = q.attempts + 1,"
                   "   lease_until = now() + make_interval(secs => $3::int), lease_token = $4::uuid,"
                   "   updated_at = now()"
                   "  FROM c WHERE q.owner_id = c.owner_id AND q.provider_id = c.provider_id"
                   "   AND q.chunk_id = c.chunk_id"
                   " RETURNING q.owner_id, q.chunk_id::text, q.attempts",
                   S, S);
    if ((rc = lm__db_exec(NULL, c, "BEGIN", 0, NULL)) < 0)
        goto out;
    if ((rc = exec_sql(c, out, &sql, 4, p)) < 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        goto out;
    }
    rc = lm__db_exec(NULL, c, "COMMIT", 0, NULL);
out:
    lm_buf_dispose(&sql);
    return rc;
}

/* Give the batch back: retry later (exponential backoff), or dead after max_attempts. */
static int release_failed(lm_memory *mem, PGconn *c, const char *token, int max_attempts,
                          const char *error, lm_embed_run_result *res)
{
    lm_buf sql = LM_BUF_INIT;
    PGresult *r = NULL;
    char m[16];
    int rc;
    snprintf(m, sizeof(m), "%d", max_attempts);
    const char *p[] = {token, m, error};
    if (mem->sql_functions) /* 069: on every shard through a proxy */
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_all_queue_release($1::uuid, $2::int, $3)",
                       mem->db.qschema);
    else
        lm__buf_printf(&sql,
                       "UPDATE %s.embedding_queue SET"
                       "  status = CASE WHEN attempts >= $2::int THEN 'dead' ELSE 'pending' END,"
                       "  available_at = now() + make_interval(secs => least(300,"
                       " power(2, attempts)::int)),"
                       "  lease_token = NULL, lease_until = NULL, last_error = $3,"
                       " updated_at = now() WHERE lease_token = $1::uuid RETURNING status",
                       mem->db.qschema);
    if ((rc = exec_sql(c, &r, &sql, 3, p)) == 0) {
        for (int i = 0; i < PQntuples(r); i++) {
            if (strcmp(PQgetvalue(r, i, 0), "dead") == 0)
                res->dead++;
            else
                res->failed++;
        }
    }
    PQclear(r);
    lm_buf_dispose(&sql);
    return rc;
}

static int run_batch(lm_memory *mem, PGconn *c, const lm_embed_run_opts *o,
                     lm_embed_run_result *res, int *claimed_out)
{
    PGresult *jobs = NULL, *texts = NULL, *w = NULL;
    lm_buf sql = LM_BUF_INIT, owners = LM_BUF_INIT, ids = LM_BUF_INIT, lit = LM_BUF_INIT;
    json_t *arr = NULL;
    char *json = NULL;
    const char **tv = NULL;
    size_t *lens = NULL;
    float *vecs = NULL;
    char token[37];
    int rc, n, m = 0;

    *claimed_out = 0;
    lm__uuid_v4(token);
    if ((rc = claim(&jobs, mem, c, token, o->batch_size, o->lease_s)) < 0)
        goto out;
    n = PQntuples(jobs);
    *claimed_out = n;
    res->claimed += n;
    if (n == 0)
        goto out;
    /* Texts of the claimed chunks (chunks deleted meanwhile took their jobs with them). */
    lm__buf_putc(&owners, '{');
    lm__buf_putc(&ids, '{');
    for (int i = 0; i < n; i++) {
        const char *ow = PQgetvalue(jobs, i, 0);
        lm__buf_puts(&owners, i ? ",\"" : "\"");
        for (const char *s = ow; *s; s++) {
            if (*s == '"' || *s == '\\')
                lm__buf_putc(&owners, '\\');
            lm__buf_putc(&owners, *s);
        }
        lm__buf_putc(&owners, '"');
        lm__buf_printf(&ids, "%s%s", i ? "," : "", PQgetvalue(jobs, i, 1));
    }
    lm__buf_putc(&owners, '}');
    lm__buf_putc(&ids, '}');
    if (mem->sql_functions) /* 069: the leased chunks' texts, on every shard through a proxy */
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_all_queue_texts($1, $2::uuid)",
                       mem->db.qschema);
    else
        lm__buf_printf(&sql,
                       "SELECT c.owner_id, c.chunk_id::text, c.content FROM %s.chunks c"
                       "  JOIN unnest($1::text[], $2::uuid[]) AS j(owner_id, chunk_id)"
                       "    ON c.owner_id = j.owner_id AND c.chunk_id = j.chunk_id",
                       mem->db.qschema);
    if (mem->sql_functions) {
        const char *p[] = {mem->vec.provider_id, token};
        if ((rc = exec_sql(c, &texts, &sql, 2, p)) < 0)
            goto out;
    } else {
        const char *p[] = {owners.ptr, ids.ptr};
        if (lm__buf_oom(&owners) || lm__buf_oom(&ids)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = exec_sql(c, &texts, &sql, 2, p)) < 0)
            goto out;
    }
    m = PQntuples(texts);
    if (m > 0) {
        tv = lm__calloc((size_t)m, sizeof(*tv));
        lens = lm__calloc((size_t)m, sizeof(*lens));
        vecs = lm__malloc((size_t)m * (size_t)mem->vec.dim * sizeof(float));
        if (tv == NULL || lens == NULL || vecs == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        for (int i = 0; i < m; i++) {
            tv[i] = PQgetvalue(texts, i, 2);
            lens[i] = (size_t)PQgetlength(texts, i, 2);
        }
        if ((rc = lm__vector_embed(&mem->vec, vecs, tv, lens, (size_t)m)) < 0) {
            char err[600];
            snprintf(err, sizeof(err), "%s", lm_error_last()->message);
            lm__db_log(&mem->db, LM_LOG_WARN, "could not embed %d queued chunks: %s", m, err);
            lm__error_clear();
            rc = release_failed(mem, c, token, o->max_attempts, err, res);
            goto out;
        }
    }
    if ((arr = json_array()) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (int i = 0; i < m; i++) {
        lm__buf_clear(&lit);
        lm__vector_literal(&lit, vecs + (size_t)i * (size_t)mem->vec.dim, mem->vec.dim);
        json_t *obj = json_object();
        json_object_set_new(obj, "owner_id", json_string(PQgetvalue(texts, i, 0)));
        json_object_set_new(obj, "chunk_id", json_string(PQgetvalue(texts, i, 1)));
        json_object_set_new(obj, "embedding", json_stringn(lit.ptr, lit.size));
        json_array_append_new(arr, obj);
    }
    if (lm__buf_oom(&lit) || (json = json_dumps(arr, JSON_COMPACT)) == NULL) {
        rc = lm__error_set(LM_ENOMEM, "out of memory");
        goto out;
    }
    /* Write only while the lease is ours; the primary key makes a second vector impossible.
       Not for a tenant that a move has fenced here (docs/cluster.md): its jobs are redone on
       its new shard. A fence that commits while this runs fails it (SQLSTATE 40001, the row
       fence of 071_cluster_fence_maintenance.sql); once more then, without that tenant. */
    lm__buf_clear(&sql);
    if (mem->sql_functions) { /* 069: each shard stores what it leased */
        char dim[16];
        snprintf(dim, sizeof(dim), "%d", mem->vec.dim);
        const char *p[] = {mem->vec.provider_id, dim, token, json};
        lm__buf_printf(&sql,
                       "SELECT %s.lm_all_queue_complete($1, $2::int, $3::uuid, $4::jsonb)",
                       mem->db.qschema);
        if ((rc = exec_sql(c, &w, &sql, 4, p)) < 0)
            goto out;
        res->embedded += strtoll(PQgetvalue(w, 0, 0), NULL, 10);
        goto out;
    }
    lm__buf_printf(&sql,
                   "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
                   "             AS x(owner_id text, chunk_id uuid, embedding text)),"
                   " mine AS (DELETE FROM %s.embedding_queue q USING x"
                   "   WHERE q.owner_id = x.owner_id AND q.provider_id = $2 AND q.chunk_id = x.chunk_id"
                   "     AND q.lease_token = $3::uuid AND q.status = 'processing'"
                   "     AND NOT EXISTS (SELECT 1 FROM %s.tenant_fence f WHERE f.owner_id = q.owner_id)"
                   "   RETURNING q.owner_id, q.chunk_id)"
                   " INSERT INTO %s (owner_id, provider_id, chunk_id, embedding)"
                   " SELECT x.owner_id, $2, x.chunk_id, x.embedding::vector(%d)"
                   "   FROM x JOIN mine ON mine.owner_id = x.owner_id AND mine.chunk_id = x.chunk_id"
                   " ON CONFLICT DO NOTHING",
                   mem->db.qschema, mem->db.qschema, mem->vec.table, mem->vec.dim);
    {
        const char *p[] = {json, mem->vec.provider_id, token};
        rc = exec_sql(c, &w, &sql, 3, p);
        if (rc == LM_ERETRY) {
            lm__db_log(&mem->db, LM_LOG_INFO, "embedding worker: %s; writing the others",
                       lm_error_last()->message);
            lm__error_clear();
            rc = exec_sql(c, &w, &sql, 3, p);
        }
        if (rc < 0)
            goto out;
        res->embedded += strtoll(PQcmdTuples(w), NULL, 10);
    }
out:
    PQclear(jobs);
    PQclear(texts);
    PQclear(w);
    lm_buf_dispose(&sql);
    lm_buf_dispose(&owners);
    lm_buf_dispose(&ids);
    lm_buf_dispose(&lit);
    json_decref(arr);
    free(json);
    lm__free(tv);
    lm__free(lens);
    lm__free(vecs);
    return rc;
}

static int embed_run(lm_embed_run_result *out, lm_memory *mem, const lm_embed_run_opts *opts)
{
    lm_embed_run_opts o = LM_EMBED_RUN_OPTS_INIT;
    lm_embed_run_result res = {0, 0, 0, 0};
    PGconn *c = NULL;
    PGresult *owners = NULL;
    int rc;

    if (out)
        memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    if (opts) {
        if (opts->version != LM_EMBED_RUN_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_embed_run_opts version %u", opts->version);
        o = *opts;
    }
    if (mem->vec.embedder == NULL)
        return lm__error_set_field(LM_EINVAL, "embedder", "the memory has no embedding provider");
    if (o.batch_size < 0 || o.batch_size > 10000 || o.max_batches < 0 || o.lease_s < 0 ||
        o.max_attempts < 0)
        return lm__error_set(LM_EINVAL, "invalid embedding worker options");
    o.batch_size = o.batch_size ? o.batch_size : 64;
    o.lease_s = o.lease_s ? o.lease_s : 60;
    o.max_attempts = o.max_attempts ? o.max_attempts : 5;
    if ((rc = lm__db_admin_acquire(&c, &mem->db)) < 0)
        return rc;
    for (int b = 0; o.max_batches == 0 || b < o.max_batches; b++) {
        int claimed = 0;
        if ((rc = run_batch(mem, c, &o, &res, &claimed)) < 0)
            goto out;
        if (claimed == 0)
            break;
    }
    /* Tenants that grew past the index threshold through the queue get their index now. */
    {
        lm_buf sql = LM_BUF_INIT;
        lm__buf_printf(&sql, "SELECT DISTINCT owner_id FROM %s WHERE provider_id = $1"
                             " AND owner_id NOT IN (SELECT owner_id FROM %s.vector_indexes"
                             " WHERE provider_id = $1)",
                       mem->vec.table, mem->db.qschema);
        const char *p[] = {mem->vec.provider_id};
        /* (through a proxy the shards build their indexes: docs/cluster.md) */
        rc = res.embedded > 0 && !mem->db.proxy ? exec_sql(c, &owners, &sql, 1, p) : 0;
        lm_buf_dispose(&sql);
        if (rc < 0)
            goto out;
    }
out:
    lm__db_admin_release(&mem->db, c);
    for (int i = 0; rc == 0 && owners && i < PQntuples(owners); i++)
        lm__vector_maybe_index(&mem->db, &mem->vec, PQgetvalue(owners, i, 0));
    PQclear(owners);
    if (out)
        *out = res;
    return rc;
}

typedef struct each_run {
    lm_embed_run_result sum;
    const lm_embed_run_opts *opts;
} each_run;

static int run_tenant(lm_memory *tenant, void *arg)
{
    each_run *e = arg;
    lm_embed_run_result r;
    int rc = embed_run(&r, tenant, e->opts);
    e->sum.claimed += r.claimed;
    e->sum.embedded += r.embedded;
    e->sum.failed += r.failed;
    e->sum.dead += r.dead;
    return rc;
}

int lm_embed_run(lm_embed_run_result *out, lm_memory *mem, const lm_embed_run_opts *opts)
{
    each_run e;
    int rc;

    memset(&e, 0, sizeof(e));
    e.opts = opts;
    /* A cluster proxy: each shard's queue, on the shard (api/shards.c), where the tenants'
       vectors are written and their indexes built. */
    if (mem != NULL && mem->db.proxy && mem->vec.embedder != NULL)
        rc = lm__shards_each(mem, run_tenant, &e);
    /* A routing memory: its own queue, then each open tenant memory's. */
    else if ((rc = run_tenant(mem, &e)) == 0 && mem != NULL)
        rc = lm__router_each(mem, run_tenant, &e);
    if (out)
        *out = e.sum;
    return rc;
}

static int queue_stats(lm_embed_queue_stats *out, lm_memory *mem);

static int stats_tenant(lm_memory *tenant, void *arg)
{
    lm_embed_queue_stats *sum = arg, q;
    int rc = queue_stats(&q, tenant);
    sum->pending += q.pending;
    sum->processing += q.processing;
    sum->dead += q.dead;
    return rc;
}

int lm_embed_queue_stats_get(lm_embed_queue_stats *out, lm_memory *mem)
{
    int rc;
    LM_ASSERT_ARG(out != NULL);
    if (mem != NULL && mem->db.proxy && mem->vec.embedder != NULL) {
        memset(out, 0, sizeof(*out));
        return lm__shards_each(mem, stats_tenant, out);
    }
    if ((rc = queue_stats(out, mem)) == 0)
        rc = lm__router_each(mem, stats_tenant, out);
    return rc;
}

static int queue_stats(lm_embed_queue_stats *out, lm_memory *mem)
{
    PGconn *c = NULL;
    PGresult *r = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    if (mem->vec.embedder == NULL)
        return 0;
    if (mem->sql_functions) /* 069: every shard's, added up */
        lm__buf_printf(&sql, "SELECT coalesce(sum(pending), 0), coalesce(sum(processing), 0),"
                             " coalesce(sum(dead), 0) FROM %s.lm_all_queue_stats($1)",
                       mem->db.qschema);
    else
        lm__buf_printf(&sql, "SELECT count(*) FILTER (WHERE status = 'pending'),"
                             " count(*) FILTER (WHERE status = 'processing'),"
                             " count(*) FILTER (WHERE status = 'dead')"
                             " FROM %s.embedding_queue WHERE provider_id = $1",
                       mem->db.qschema);
    const char *p[] = {mem->vec.provider_id};
    if ((rc = lm__db_admin_acquire(&c, &mem->db)) < 0)
        goto out;
    if ((rc = exec_sql(c, &r, &sql, 1, p)) < 0)
        goto out;
    out->pending = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->processing = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    out->dead = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
out:
    PQclear(r);
    lm_buf_dispose(&sql);
    lm__db_admin_release(&mem->db, c);
    return rc;
}

/* The statement of lm_reembed() on @p mem's database: for every tenant (@p owner_id NULL) on its
 * own connection, or for one tenant in its write transaction (@p tenant_tx: on a cluster shard,
 * where the tenant's fence refuses it once the tenant has moved). */
static int reembed_on(lm_memory *mem, const char *owner_id, int tenant_tx, int64_t *waiting)
{
    PGconn *c = NULL;
    PGresult *r = NULL;
    lm__tx tx = {0};
    lm_buf sql = LM_BUF_INIT;
    int rc;

    /* Dead jobs of the provider come back to life; chunks without a vector and without a job get
       one. Both statements see the same snapshot, so a revived job is not inserted again. */
    lm__buf_printf(&sql,
                   "WITH revived AS (UPDATE %s.embedding_queue SET status = 'pending',"
                   " attempts = 0, available_at = now(), lease_until = NULL, lease_token = NULL,"
                   " last_error = NULL, updated_at = now()"
                   " WHERE provider_id = $1 AND status = 'dead'"
                   " AND ($2::text IS NULL OR owner_id = $2) RETURNING 1),"
                   " ins AS (INSERT INTO %s.embedding_queue (owner_id, provider_id, chunk_id)"
                   " SELECT c.owner_id, $1, c.chunk_id FROM %s.chunks c WHERE c.searchable"
                   " AND ($2::text IS NULL OR c.owner_id = $2)"
                   " AND NOT EXISTS (SELECT 1 FROM %s v WHERE v.owner_id = c.owner_id"
                   " AND v.provider_id = $1 AND v.chunk_id = c.chunk_id)"
                   " ON CONFLICT DO NOTHING RETURNING 1)"
                   " SELECT (SELECT count(*) FROM revived) + (SELECT count(*) FROM ins) +"
                   " (SELECT count(*) FROM %s.embedding_queue WHERE provider_id = $1"
                   " AND status IN ('pending', 'processing')"
                   " AND ($2::text IS NULL OR owner_id = $2))",
                   mem->db.qschema, mem->db.qschema, mem->db.qschema, mem->vec.table,
                   mem->db.qschema);
    const char *p[] = {mem->vec.provider_id, owner_id};
    if (tenant_tx) {
        if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_WRITE)) < 0 ||
            (rc = exec_sql(tx.conn, &r, &sql, 2, p)) < 0 || (rc = lm__tx_commit(&tx)) < 0)
            goto out;
    } else {
        if ((rc = lm__pool_acquire(&c, &mem->db.pool)) < 0)
            goto out;
        if ((rc = exec_sql(c, &r, &sql, 2, p)) < 0)
            goto out;
    }
    if (waiting)
        *waiting += strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    lm__db_log(&mem->db, LM_LOG_INFO, "re-embedding: %s chunks wait for %s",
               PQgetvalue(r, 0, 0), mem->vec.provider_id);
out:
    lm__tx_end(&tx);
    PQclear(r);
    lm_buf_dispose(&sql);
    lm__pool_release(&mem->db.pool, c);
    return rc;
}

static int reembed_shard(lm_memory *shard, void *arg)
{
    return reembed_on(shard, NULL, 0, arg);
}

/* Tries of a tenant's re-embedding refused by its fence (moving), and the wait between them. */
#define REEMBED_TRIES 40
#define REEMBED_WAIT_MS 50

int lm_reembed(lm_memory *mem, const char *owner_id, int64_t *waiting)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    int64_t n = 0;
    int rc;

    if (waiting)
        *waiting = 0;
    LM_ASSERT_ARG(mem != NULL);
    if (mem->vec.embedder == NULL)
        return lm__error_set_field(LM_EINVAL, "embedder", "the memory has no embedding provider");
    if (owner_id != NULL && (rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (!mem->db.proxy) {
        rc = reembed_on(mem, owner_id, 0, &n);
    } else if (owner_id == NULL) {
        /* A cluster proxy: the statement runs on every shard (api/shards.c), counts added up. */
        rc = lm__shards_each(mem, reembed_shard, &n);
    } else {
        /* One tenant: on its shard, in its transaction; a move's fence there makes it try
           again where the placement then points, for up to about 2 s. */
        for (int t = 1;; t++) {
            lm_memory *sm = NULL;
            n = 0;
            if ((rc = lm__shards_memory(mem, owner_id, &sm)) == 0)
                rc = reembed_on(sm, owner_id, 1, &n);
            if (rc != LM_ERETRY || t == REEMBED_TRIES)
                break;
            lm__error_clear();
            struct timespec ts = {0, REEMBED_WAIT_MS * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
    }
    if (rc == 0 && waiting)
        *waiting = n;
    return rc;
}

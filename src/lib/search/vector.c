/*
 * search/vector.c: vector storage and the vector leg. Exact cosine search over the tenant's own
 * rows (primary-key range scan) while the tenant is small; a partial HNSW index per large tenant
 * (built automatically past a threshold, CREATE INDEX CONCURRENTLY) once it is not. There is no
 * index over all tenants, so no tenant's results depend on another tenant's vectors.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "hash.h"
#include "prio.h"
#include "search/search.h"
#include "search/vector.h"

#define LM__LOCK_CLASS_MIGRATE 0x4c4d0002
#define LM__LOCK_CLASS_VINDEX  0x4c4d0003

void lm__vector_literal(lm_buf *b, const float *v, int dim)
{
    char num[32];
    lm__buf_grow(b, (size_t)dim * 12 + 2);
    lm__buf_putc(b, '[');
    for (int i = 0; i < dim; i++) {
        int n = snprintf(num, sizeof(num), i ? ",%.9g" : "%.9g", (double)v[i]);
        lm__buf_put(b, num, (size_t)n);
    }
    lm__buf_putc(b, ']');
}

int lm__vector_embed(const lm__vec_cfg *cfg, float *out, const char *const *texts,
                     const size_t *lens, size_t n)
{
    if (n == 0)
        return 0;
    return lm_embedder_embed(cfg->embedder, out, texts, lens, n);
}

int lm__vector_embed_query(const lm__vec_cfg *cfg, float *out, const char *const *texts,
                           const size_t *lens, size_t n)
{
    if (n == 0)
        return 0;
    return lm_embedder_embed_query(cfg->embedder, out, texts, lens, n);
}

static int exec_fmt(PGconn *c, PGresult **out, int n, const char *const *params, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
static int exec_fmt(PGconn *c, PGresult **out, int n, const char *const *params, const char *fmt, ...)
{
    lm_buf sql = LM_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    lm__buf_vprintf(&sql, fmt, ap);
    va_end(ap);
    int rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(out, c, sql.ptr, n, params);
    lm_buf_dispose(&sql);
    return rc;
}

int lm__vector_configure(const lm__db *db, lm__vec_cfg *cfg)
{
    if (cfg->embedder == NULL)
        return 0;
    cfg->dim = lm_embedder_dim(cfg->embedder);
    snprintf(cfg->provider_id, sizeof(cfg->provider_id), "%s", lm_embedder_provider_id(cfg->embedder));
    if (cfg->dim < 1 || cfg->dim > LM_MAX_EMBED_DIM)
        return lm__error_set_field(LM_EINVAL, "embedder", "embedding dimension %d is out of range",
                                   cfg->dim);
    snprintf(cfg->table_name, sizeof(cfg->table_name), "vectors_%d", cfg->dim);
    snprintf(cfg->table, sizeof(cfg->table), "%s.%s", db->qschema, cfg->table_name);
    return 0;
}

int lm__vector_register(lm__db *db, lm__vec_cfg *cfg)
{
    PGconn *c = NULL;
    PGresult *res = NULL;
    int rc, locked = 0, in_tx = 0;
    const char *S = db->qschema;
    char dim[16], lock_sql[128];
    const char *lock_params[1] = {db->schema};
    const char *pp[1] = {NULL};

    if (cfg->embedder == NULL)
        return 0;
    cfg->dim = lm_embedder_dim(cfg->embedder);
    snprintf(cfg->provider_id, sizeof(cfg->provider_id), "%s", lm_embedder_provider_id(cfg->embedder));
    if (cfg->dim < 1 || cfg->dim > LM_MAX_EMBED_DIM)
        return lm__error_set_field(LM_EINVAL, "embedder", "embedding dimension %d is out of range",
                                   cfg->dim);
    snprintf(cfg->table_name, sizeof(cfg->table_name), "vectors_%d", cfg->dim);
    snprintf(cfg->table, sizeof(cfg->table), "%s.%s", S, cfg->table_name);
    snprintf(dim, sizeof(dim), "%d", cfg->dim);

    if ((rc = lm__db_admin_acquire(&c, db)) < 0)
        return rc;
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%d, hashtext($1))",
             LM__LOCK_CLASS_MIGRATE);
    if ((rc = lm__db_exec(NULL, c, lock_sql, 1, lock_params)) < 0)
        goto out;
    locked = 1;
    rc = exec_fmt(c, NULL, 0, NULL,
                  "CREATE TABLE IF NOT EXISTS %s ("
                  " owner_id text NOT NULL, provider_id text NOT NULL, chunk_id uuid NOT NULL,"
                  " embedding vector(%d) NOT NULL,"
                  " PRIMARY KEY (owner_id, provider_id, chunk_id),"
                  " FOREIGN KEY (owner_id, chunk_id) REFERENCES %s.chunks (owner_id, chunk_id)"
                  " ON DELETE CASCADE,"
                  " FOREIGN KEY (provider_id) REFERENCES %s.embedding_providers ON DELETE CASCADE)",
                  cfg->table, cfg->dim, S, S);
    if (rc < 0)
        goto out;
    /* The foreign key's own index: deleting a chunk looks its vectors up by (owner_id,
       chunk_id), which the primary key (provider_id in between) answers only by reading every
       vector of the tenant; erasing a tenant of n chunks was then n^2. Looked up in the catalog
       first: CREATE INDEX IF NOT EXISTS locks the table before it finds the index, which would
       block every writer and deadlock with a tenant's CREATE INDEX CONCURRENTLY at each open.
       (A database from before this index builds it once, at the first open.) */
    {
        const char *p1[1] = {cfg->table_name};
        rc = exec_fmt(c, &res, 1, p1, "SELECT to_regclass('%s.' || quote_ident($1 || '_chunk_idx'))"
                                      " IS NULL", S);
        if (rc < 0)
            goto out;
        int missing = PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        res = NULL;
        if (missing &&
            (rc = exec_fmt(c, NULL, 0, NULL,
                           "CREATE INDEX IF NOT EXISTS %s_chunk_idx ON %s (owner_id, chunk_id)",
                           cfg->table_name, cfg->table)) < 0)
            goto out;
    }
    /* Row-level security like every tenant table (020_row_level_security.sql), once. */
    rc = exec_fmt(c, NULL, 0, NULL,
                  "SELECT %s.llmemory_protect_table(c.oid) FROM pg_catalog.pg_class c"
                  " WHERE c.oid = '%s'::regclass AND NOT c.relforcerowsecurity",
                  S, cfg->table);
    if (rc < 0)
        goto out;
    /* pgvector 0.7 and later: per-tenant graphs over half-precision copies (see the header). */
    if ((rc = lm__db_exec(&res, c, "SELECT to_regtype('halfvec') IS NOT NULL", 0, NULL)) < 0)
        goto out;
    cfg->halfvec = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    res = NULL;
    {
        const char *p[] = {cfg->provider_id, lm_embedder_kind(cfg->embedder),
                           lm_embedder_model(cfg->embedder), dim, cfg->table_name};
        rc = exec_fmt(c, &res, 5, p,
                      "WITH ins AS (INSERT INTO %s.embedding_providers (provider_id, kind, model,"
                      " dimension, vector_table) VALUES ($1, $2, $3, $4::int, $5)"
                      " ON CONFLICT (provider_id) DO NOTHING RETURNING dimension)"
                      " SELECT dimension FROM ins UNION ALL"
                      " SELECT dimension FROM %s.embedding_providers WHERE provider_id = $1",
                      S, S);
        if (rc < 0)
            goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        if (strcmp(PQgetvalue(res, r, 0), dim) != 0) {
            rc = lm__error_set_field(LM_EINVAL, "embedder",
                                     "embedding provider \"%s\" is registered with dimension %s, "
                                     "not %d", cfg->provider_id, PQgetvalue(res, r, 0), cfg->dim);
            goto out;
        }
    }
    PQclear(res);
    res = NULL;
    pp[0] = cfg->provider_id;
    if ((rc = exec_fmt(c, &res, 1, pp,
                       "SELECT 1 FROM %s.embedding_providers WHERE is_default AND provider_id = $1",
                       S)) < 0)
        goto out;
    if (PQntuples(res) == 0) {
        /* A new default provider: every searchable chunk without its vector is re-embedded
           through the queue. */
        if ((rc = lm__db_exec(NULL, c, "BEGIN", 0, NULL)) < 0)
            goto out;
        in_tx = 1;
        if ((rc = exec_fmt(c, NULL, 0, NULL,
                           "UPDATE %s.embedding_providers SET is_default = false WHERE is_default",
                           S)) < 0 ||
            (rc = exec_fmt(c, NULL, 1, pp,
                           "UPDATE %s.embedding_providers SET is_default = true"
                           " WHERE provider_id = $1", S)) < 0 ||
            (rc = exec_fmt(c, NULL, 1, pp,
                           "INSERT INTO %s.embedding_queue (owner_id, provider_id, chunk_id)"
                           " SELECT c.owner_id, $1, c.chunk_id FROM %s.chunks c WHERE c.searchable"
                           " AND NOT EXISTS (SELECT 1 FROM %s v WHERE v.owner_id = c.owner_id"
                           " AND v.provider_id = $1 AND v.chunk_id = c.chunk_id)"
                           " ON CONFLICT DO NOTHING", S, S, cfg->table)) < 0)
            goto out;
        if ((rc = lm__db_exec(NULL, c, "COMMIT", 0, NULL)) < 0)
            goto out;
        in_tx = 0;
        lm__db_log(db, LM_LOG_INFO, "embedding provider %s is now the default", cfg->provider_id);
    }
out:
    if (in_tx && PQstatus(c) == CONNECTION_OK)
        PQclear(PQexec(c, "ROLLBACK"));
    if (locked && PQstatus(c) == CONNECTION_OK) {
        snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%d, hashtext($1))",
                 LM__LOCK_CLASS_MIGRATE);
        PQclear(PQexecParams(c, lock_sql, 1, NULL, lock_params, NULL, NULL, 0));
    }
    PQclear(res);
    lm__db_admin_release(db, c);
    return rc;
}

int lm__vector_default_provider(lm__db *db, char *out, size_t cap)
{
    PGconn *c = NULL;
    PGresult *res = NULL;
    int rc;

    out[0] = '\0';
    if ((rc = lm__pool_acquire(&c, &db->pool)) < 0)
        return rc;
    rc = exec_fmt(c, &res, 0, NULL,
                  "SELECT provider_id FROM %s.embedding_providers WHERE is_default", db->qschema);
    if (rc == 0 && PQntuples(res) == 1)
        snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    lm__pool_release(&db->pool, c);
    return rc;
}

static int has_doc_filters(const lm_search_opts *o)
{
    return o && (o->id_at_origin || o->n_id_at_origins || o->metadata_filter || o->has_type ||
                 o->date_from || o->date_to);
}

/* Largest dimension pgvector's HNSW indexes: 2,000 for vector, 4,000 for halfvec. */
#define LM__HNSW_MAX_DIM_VECTOR  2000
#define LM__HNSW_MAX_DIM_HALFVEC 4000

int lm__vector_search(PGresult **out, lm__tx *tx, const lm__vec_cfg *cfg, const lm__vec_req *req)
{
    lm__params p = {0};
    lm_buf sql = LM_BUF_INIT, vec = LM_BUF_INIT, order = LM_BUF_INIT;
    PGresult *res = NULL;
    char limit[16], fetch[16], ef[16];
    int rc, half = 0, efv = 0, fetchv = req->limit;
    const char *S = tx->db->qschema;

    *out = NULL;
    lm__vector_literal(&vec, req->query, cfg->dim);
    snprintf(limit, sizeof(limit), "%d", req->limit);
    /* ef_search: a fixed hnsw_ef_search, or (0) one chosen per tenant size and dimension by
       lm__vector_ef_sql(); never below the limit, at most pgvector's 1000. Iterative scans keep
       filtered HNSW searches from coming back short (pgvector 0.8). All transaction-local. */
    snprintf(ef, sizeof(ef), "%d", cfg->hnsw_ef_search);
    {
        /* No parallel plans: on a tenant-sized scan the worker start-up costs more than the
           scan (measured 19-30 ms against 3-7 ms). The same round trip says which kind of
           index the tenant has (none: exact search), so the ORDER BY can match it, and how
           large its graph is, which sets ef_search. */
        char dim[16];
        snprintf(dim, sizeof(dim), "%d", cfg->dim);
        const char *sp[] = {ef, req->owner_id, cfg->provider_id, limit, dim, tx->db->schema};
        lm_buf q = LM_BUF_INIT;
        lm__buf_printf(&q,
                       "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                       " set_config('max_parallel_workers_per_gather', '0', true),"
                       " vi.element_type,"
                       " set_config('hnsw.ef_search', " LM__VECTOR_EF_SQL "::text, true)"
                       " FROM (VALUES (1)) one (x) LEFT JOIN %s.vector_indexes vi"
                       "   ON vi.owner_id = $2 AND vi.provider_id = $3",
                       S);
        rc = lm__buf_oom(&q) ? LM_ENOMEM : lm__db_exec(&res, tx->conn, q.ptr, 6, sp);
        lm_buf_dispose(&q);
        if (rc < 0)
            goto out;
        half = strcmp(PQgetvalue(res, 0, 2), "halfvec") == 0;
        efv = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
        PQclear(res);
    }
    if (half) {
        /* The graph ranks by half-precision distance; fetch twice the limit (within
           ef_search, so no extra graph work) and re-rank them by the exact distance, so the
           reported similarity and order are full precision. Re-ranking all ef_search
           candidates found no more neighbours on the benchmark data and cost 30-50% more. */
        fetchv = 2 * req->limit < efv ? 2 * req->limit : efv;
        if (fetchv < req->limit)
            fetchv = req->limit;
        lm__buf_printf(&order, "v.embedding::halfvec(%d) <=> $2::halfvec(%d)", cfg->dim, cfg->dim);
    } else {
        lm__buf_printf(&order, "v.embedding <=> $2::vector(%d)", cfg->dim);
    }
    snprintf(fetch, sizeof(fetch), "%d", fetchv);
    if ((rc = lm__params_add(&p, req->owner_id, 0)) < 0 ||
        (rc = lm__params_add(&p, vec.ptr, 0)) < 0 ||
        (rc = lm__params_add(&p, cfg->provider_id, 0)) < 0 ||
        (rc = lm__params_add(&p, limit, 0)) < 0 || (rc = lm__params_add(&p, fetch, 0)) < 0)
        goto out;
    if (!has_doc_filters(req->opts)) {
        /* Top-k over the vectors alone, then fetch chunk numbers for those k: joining every
           row of the tenant first (exact path) reads 2-3x the pages. */
        lm__buf_printf(&sql,
                       "SELECT c.chunk_no, 1 - t.dist AS similarity FROM ("
                       "  SELECT v.chunk_id, v.embedding <=> $2::vector(%d) AS dist"
                       "    FROM %s v WHERE v.owner_id = $1 AND v.provider_id = $3"
                       "   ORDER BY %s LIMIT $5::int) t"
                       "  JOIN %s.chunks c ON c.owner_id = $1 AND c.chunk_id = t.chunk_id"
                       " ORDER BY t.dist, c.chunk_no LIMIT $4::int",
                       cfg->dim, cfg->table, order.ptr, S);
    } else {
        /* Document filters must apply before the limit (iterative scans keep HNSW from
           returning short). */
        lm__buf_printf(&sql,
                       "SELECT t.chunk_no, 1 - t.dist AS similarity FROM ("
                       "  SELECT c.chunk_no, v.embedding <=> $2::vector(%d) AS dist"
                       "  FROM %s v"
                       "  JOIN %s.chunks c ON c.owner_id = v.owner_id AND c.chunk_id = v.chunk_id"
                       "  JOIN %s.documents d ON d.owner_id = c.owner_id"
                       "   AND d.document_id = c.document_id"
                       " WHERE v.owner_id = $1 AND v.provider_id = $3",
                       cfg->dim, cfg->table, S, S);
        if ((rc = lm__filter_sql(&sql, &p, req->opts)) < 0)
            goto out;
        lm__buf_printf(&sql, " ORDER BY %s LIMIT $5::int) t ORDER BY t.dist, t.chunk_no LIMIT $4::int",
                       order.ptr);
    }
    if (lm__buf_oom(&sql) || lm__buf_oom(&vec) || lm__buf_oom(&order)) {
        rc = LM_ENOMEM;
        goto out;
    }
    rc = lm__db_exec(out, tx->conn, sql.ptr, p.n, p.v);
out:
    lm__params_dispose(&p);
    lm_buf_dispose(&sql);
    lm_buf_dispose(&vec);
    lm_buf_dispose(&order);
    return rc;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The schema's one index builder: a session lock taken with retries and a growing pause
   (20 ms doubling to 1 s, for up to about 2 minutes). 1 when held, 0 when not, < 0 on error. */
static int build_lock(PGconn *c, lm__db *db)
{
    char sql[128];
    const char *p[1] = {db->schema};
    long pause = 20, waited = 0;
    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(hashtextextended($1, %d))",
             LM__LOCK_CLASS_VINDEX);
    for (;;) {
        PGresult *res = NULL;
        int rc = lm__db_exec(&res, c, sql, 1, p);
        if (rc < 0)
            return rc;
        int got = PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (got)
            return 1;
        if (waited >= 120000)
            return 0;
        nap_ms(pause);
        waited += pause;
        pause = pause * 2 > 1000 ? 1000 : pause * 2;
    }
}

long lm__vector_build_mem_kb(long rows, int dim, int half, int m)
{
    if (rows < 0)
        rows = 0;
    double node = 8.0 + (double)dim * (half ? 2 : 4) + 200.0 + 2.0 * m * 16.0;
    double kb = (double)rows * node * 1.2 / 1024.0 + 16.0 * 1024;
    if (kb < (double)LM__VINDEX_BUILD_MEM_MIN_KB)
        return LM__VINDEX_BUILD_MEM_MIN_KB;
    if (kb > (double)LM__VINDEX_BUILD_MEM_MAX_KB)
        return LM__VINDEX_BUILD_MEM_MAX_KB;
    return (long)ceil(kb);
}

/*
 * Read a freshly built graph into shared buffers, so the tenant's first searches do not pay for
 * copying each page from the OS cache (6-9 ms of server CPU against 2-3 ms warm for graphs of
 * 1k-55k vectors, bench/RESULTS.md section 10). Needs pg_prewarm in the database: created here when
 * the server has it and the role may (a superuser: it is not a trusted extension), else
 * skipped. Only graphs up to a quarter of shared_buffers, which a larger one would flush.
 * Best effort: a failure is logged at debug level and forgotten.
 */
static void vindex_prewarm(lm__db *db, PGconn *c, const char *index_name)
{
    static const char find[] =
        "SELECT quote_ident(n.nspname) FROM pg_extension e"
        " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_prewarm'";
    PGresult *res = NULL;
    char ns[160], rel[200];

    snprintf(rel, sizeof(rel), "%s.%s", db->qschema, index_name);
    if (lm__db_exec(&res, c, find, 0, NULL) < 0)
        goto fail;
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = NULL;
        if (lm__db_exec(&res, c, "SELECT 1 FROM pg_available_extensions a, pg_roles r"
                                 " WHERE a.name = 'pg_prewarm' AND r.rolname = current_user"
                                 " AND r.rolsuper", 0, NULL) < 0)
            goto fail;
        int can = PQntuples(res) == 1;
        PQclear(res);
        res = NULL;
        if (!can)
            return;
        if (lm__db_exec(NULL, c, "CREATE EXTENSION IF NOT EXISTS pg_prewarm", 0, NULL) < 0 ||
            lm__db_exec(&res, c, find, 0, NULL) < 0)
            goto fail;
        if (PQntuples(res) == 0)
            goto out;
    }
    snprintf(ns, sizeof(ns), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    {
        /* One round trip: the pages read, or NULL when the graph is too large to read in. */
        const char *p1[] = {rel};
        if (exec_fmt(c, &res, 1, p1,
                     "SELECT CASE WHEN pg_relation_size($1::regclass) <= (SELECT setting::bigint"
                     " FROM pg_settings WHERE name = 'shared_buffers')"
                     " * current_setting('block_size')::bigint / 4"
                     " THEN %s.pg_prewarm($1::regclass) END", ns) < 0)
            goto fail;
        if (PQgetisnull(res, 0, 0))
            lm__db_log(db, LM_LOG_DEBUG, "vector index %s not prewarmed: larger than a quarter "
                       "of shared_buffers", index_name);
        else
            lm__db_log(db, LM_LOG_DEBUG, "vector index %s prewarmed: %s pages", index_name,
                       PQgetvalue(res, 0, 0));
    }
    goto out;
fail:
    lm__db_log(db, LM_LOG_DEBUG, "vector index %s not prewarmed: %s", index_name,
               lm_error_last()->message);
    lm__error_clear();
out:
    PQclear(res);
}

void lm__vector_maybe_index(lm__db *db, const lm__vec_cfg *cfg, const char *owner_id)
{
    PGconn *c = NULL;
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    char *lit_owner = NULL, *lit_prov = NULL;
    char limit[24], name[40], sum[65], lock_sql[160], root[LM_MAX_OWNER_ID_BYTES + 1];
    int locked = 0;
    const char *S = db->qschema;
    const char *p2[] = {owner_id, cfg->provider_id};

    /* pgvector's HNSW indexes 2,000 dimensions of vector and 4,000 of halfvec: tenants of
       larger vectors stay exact. */
    int half = cfg->halfvec && cfg->dim <= LM__HNSW_MAX_DIM_HALFVEC;
    if (cfg->embedder == NULL || cfg->index_threshold < 0 || db->proxy ||
        (!half && cfg->dim > LM__HNSW_MAX_DIM_VECTOR))
        return;
    if (lm__db_admin_acquire(&c, db) < 0)
        goto fail;
    /* An erased tenant (its rows going) gets none, nor one fenced by a cluster move (its rows
       here are a copy arriving, or left behind: the index is built where it is served). */
    if (exec_fmt(c, &res, 2, p2, "SELECT 1 FROM %s.vector_indexes WHERE owner_id = $1"
                                  " AND provider_id = $2 UNION ALL"
                                  " SELECT 1 WHERE %s.llmemory_tenant_erased($1) UNION ALL"
                                  " SELECT 1 FROM %s.tenant_fence WHERE owner_id = $1", S, S, S) < 0)
        goto fail;
    if (PQntuples(res) > 0)
        goto out;
    PQclear(res);
    snprintf(limit, sizeof(limit), "%d", cfg->index_threshold + 1);
    {
        const char *p3[] = {owner_id, cfg->provider_id, limit};
        if (exec_fmt(c, &res, 3, p3, "SELECT count(*) FROM (SELECT 1 FROM %s WHERE owner_id = $1"
                                     " AND provider_id = $2 LIMIT $3::int) x", cfg->table) < 0)
            goto fail;
    }
    if (strtol(PQgetvalue(res, 0, 0), NULL, 10) <= cfg->index_threshold)
        goto out;
    PQclear(res);
    res = NULL;
    /* One builder at a time in the schema, across processes: concurrent CREATE INDEX
       CONCURRENTLY on one table wait for each other's transactions and deadlock. */
    if ((locked = build_lock(c, db)) < 0)
        goto fail;
    if (!locked) {
        lm__db_log(db, LM_LOG_WARN, "vector index of tenant \"%s\" not built: another build "
                   "held the lock for 2 minutes; it is tried again after the next add", owner_id);
        goto out;
    }
    /* Under the lock: built meanwhile? And the caps, per tenant and per tree (the tenant and
       its sub-tenants), which sub-tenants could otherwise multiply without bound. */
    {
        const char *sl = strchr(owner_id, '/');
        size_t rl = sl ? (size_t)(sl - owner_id) : strlen(owner_id);
        snprintf(root, sizeof(root), "%.*s", (int)rl, owner_id);
    }
    {
        const char *p3[] = {owner_id, cfg->provider_id, root};
        if (exec_fmt(c, &res, 3, p3,
                     "SELECT count(*) FILTER (WHERE owner_id = $1 AND provider_id = $2),"
                     " count(*) FILTER (WHERE owner_id = $1),"
                     " count(*) FILTER (WHERE owner_id = $3 OR starts_with(owner_id, $3 || '/'))"
                     " FROM %s.vector_indexes", S) < 0)
            goto fail;
    }
    if (strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0)
        goto out;
    {
        long mine = strtol(PQgetvalue(res, 0, 1), NULL, 10);
        long tree = strtol(PQgetvalue(res, 0, 2), NULL, 10);
        int by_tenant = cfg->max_per_tenant >= 0 && mine >= cfg->max_per_tenant;
        if (by_tenant || (cfg->max_per_tree >= 0 && tree >= cfg->max_per_tree)) {
            lm__db_log(db, LM_LOG_INFO,
                       "tenant \"%s\" stays on exact vector search: its %s has %ld of at most %d "
                       "vector indexes", owner_id, by_tenant ? "tenant" : "tree",
                       by_tenant ? mine : tree, by_tenant ? cfg->max_per_tenant : cfg->max_per_tree);
            goto out;
        }
    }
    PQclear(res);
    res = NULL;
    lm__buf_printf(&sql, "%s/%s/%s/%s", db->schema, cfg->table_name, owner_id, cfg->provider_id);
    if (lm__buf_oom(&sql))
        goto fail;
    lm__sha256_hex(sum, sql.ptr, sql.size);
    snprintf(name, sizeof(name), "vidx_%.24s", sum);
    lit_owner = PQescapeLiteral(c, owner_id, strlen(owner_id));
    lit_prov = PQescapeLiteral(c, cfg->provider_id, strlen(cfg->provider_id));
    if (lit_owner == NULL || lit_prov == NULL)
        goto fail;
    /* Maintenance memory sized to the tenant's graph (lm__vector_build_mem_kb()) and no parallel
       workers: a parallel build allocates the whole area up front, which made many small
       graphs cost seconds each under a large fixed setting. */
    {
        const char *p2c[] = {owner_id, cfg->provider_id};
        char mwm[64];
        if (exec_fmt(c, &res, 2, p2c, "SELECT count(*) FROM %s WHERE owner_id = $1"
                                      " AND provider_id = $2", cfg->table) < 0)
            goto fail;
        snprintf(mwm, sizeof(mwm), "SET maintenance_work_mem = '%ldkB'",
                 lm__vector_build_mem_kb(strtol(PQgetvalue(res, 0, 0), NULL, 10), cfg->dim, half,
                                         cfg->hnsw_m));
        PQclear(res);
        res = NULL;
        if (lm__db_exec(NULL, c, mwm, 0, NULL) < 0)
            goto fail;
    }
    if (lm__db_exec(NULL, c, "SET statement_timeout = 0", 0, NULL) < 0 ||
        lm__db_exec(NULL, c, "SET max_parallel_maintenance_workers = 0", 0, NULL) < 0)
        goto fail;
    /* Half precision: half the bytes per node a search visits, the same neighbours (the
       candidates are re-ranked exactly, see lm__vector_search()). A deadlock or lock timeout
       (with another CONCURRENTLY statement on the table, e.g. optimize's) is retried after a
       growing pause, the half-built index dropped first. */
    for (int attempt = 0;; attempt++) {
        int brc = half ? exec_fmt(c, NULL, 0, NULL,
                                  "CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s USING hnsw"
                                  " ((embedding::halfvec(%d)) halfvec_cosine_ops)"
                                  " WITH (m = %d, ef_construction = %d)"
                                  " WHERE owner_id = %s AND provider_id = %s",
                                  name, cfg->table, cfg->dim, cfg->hnsw_m,
                                  cfg->hnsw_ef_construction, lit_owner, lit_prov)
                       : exec_fmt(c, NULL, 0, NULL,
                                  "CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s USING hnsw"
                                  " (embedding vector_cosine_ops) WITH (m = %d, ef_construction = %d)"
                                  " WHERE owner_id = %s AND provider_id = %s",
                                  name, cfg->table, cfg->hnsw_m, cfg->hnsw_ef_construction,
                                  lit_owner, lit_prov);
        if (brc == 0)
            break;
        int retry = brc == LM_ERETRY && attempt < 4;
        lm__db_log(db, retry ? LM_LOG_INFO : LM_LOG_WARN,
                   "could not build the vector index of tenant \"%s\"%s: %s", owner_id,
                   retry ? " (retrying)" : "", lm_error_last()->message);
        exec_fmt(c, NULL, 0, NULL, "DROP INDEX CONCURRENTLY IF EXISTS %s.%s", S, name);
        if (!retry)
            goto fail;
        nap_ms(100L << attempt);
    }
    {
        const char *p5[] = {owner_id, cfg->provider_id, name, limit, half ? "halfvec" : "vector"};
        if (exec_fmt(c, NULL, 5, p5,
                     "INSERT INTO %s.vector_indexes (owner_id, provider_id, index_name,"
                     " rows_at_build, element_type) VALUES ($1, $2, $3, $4::bigint, $5)"
                     " ON CONFLICT DO NOTHING", S) < 0)
            goto fail;
    }
    lm__db_log(db, LM_LOG_INFO, "built vector index %s for tenant \"%s\"", name, owner_id);
    vindex_prewarm(db, c, name);
    goto out;
fail:
    lm__db_log(db, LM_LOG_WARN, "vector index maintenance failed: %s", lm_error_last()->message);
out:
    lm__error_clear();
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "RESET maintenance_work_mem"));
        PQclear(PQexec(c, "RESET statement_timeout"));
        PQclear(PQexec(c, "RESET max_parallel_maintenance_workers"));
        if (locked > 0) {
            const char *p1[] = {db->schema};
            snprintf(lock_sql, sizeof(lock_sql),
                     "SELECT pg_advisory_unlock(hashtextextended($1, %d))", LM__LOCK_CLASS_VINDEX);
            PQclear(PQexecParams(c, lock_sql, 1, NULL, p1, NULL, NULL, 0));
        }
    }
    if (lit_owner)
        PQfreemem(lit_owner);
    if (lit_prov)
        PQfreemem(lit_prov);
    PQclear(res);
    lm_buf_dispose(&sql);
    lm__db_admin_release(db, c);
}

/* ---- index builds off the request path ---------------------------------------------------- */

/* One tenant's check and build, where its route says (a cluster proxy: on its shard). */
static void vindex_build(lm__vindex_bg *bg, const char *owner_id)
{
    lm__db *db = bg->db;
    const lm__vec_cfg *cfg = bg->cfg;
    if (bg->route != NULL && bg->route(bg->route_arg, owner_id, &db, &cfg) < 0) {
        lm__db_log(bg->db, LM_LOG_WARN, "vector index of tenant \"%s\" not checked: %s",
                   owner_id, lm_error_last()->message);
        lm__error_clear();
        return;
    }
    lm__vector_maybe_index(db, cfg, owner_id);
}

void lm__vindex_bg_init(lm__vindex_bg *bg, lm__db *db, const lm__vec_cfg *cfg)
{
    memset(bg, 0, sizeof(*bg));
    pthread_mutex_init(&bg->mu, NULL);
    pthread_cond_init(&bg->wake, NULL);
    pthread_cond_init(&bg->idle, NULL);
    bg->db = db;
    bg->cfg = cfg;
}

static void *vindex_bg_main(void *arg)
{
    lm__vindex_bg *bg = arg;
    (void)lm__nice_background(lm__pool_bg_nice(&bg->db->pool)); /* core/prio.h */
    pthread_mutex_lock(&bg->mu);
    for (;;) {
        while (bg->n == 0 && !bg->stop)
            pthread_cond_wait(&bg->wake, &bg->mu);
        if (bg->n == 0)
            break; /* stopping, nothing left */
        char *owner = bg->owners[0];
        memmove(bg->owners, bg->owners + 1, (bg->n - 1) * sizeof(*bg->owners));
        bg->n--;
        bg->busy = 1;
        pthread_mutex_unlock(&bg->mu);
        vindex_build(bg, owner);
        lm__free(owner);
        pthread_mutex_lock(&bg->mu);
        bg->busy = 0;
        if (bg->n == 0)
            pthread_cond_broadcast(&bg->idle);
    }
    pthread_cond_broadcast(&bg->idle);
    pthread_mutex_unlock(&bg->mu);
    return NULL;
}

void lm__vindex_bg_request(lm__vindex_bg *bg, const char *owner_id)
{
    int inline_build = 0;
    pthread_mutex_lock(&bg->mu);
    for (size_t i = 0; i < bg->n; i++) {
        if (strcmp(bg->owners[i], owner_id) == 0) {
            pthread_mutex_unlock(&bg->mu);
            return; /* already pending */
        }
    }
    if (bg->stop) {
        inline_build = 1;
    } else {
        char *dup = lm__strdup(owner_id);
        if (dup != NULL && bg->n == bg->cap) {
            size_t cap = bg->cap ? bg->cap * 2 : 16;
            char **grown = lm__realloc(bg->owners, cap * sizeof(*grown));
            if (grown == NULL) {
                lm__free(dup);
                dup = NULL;
            } else {
                bg->owners = grown;
                bg->cap = cap;
            }
        }
        if (dup != NULL && !bg->started) {
            if (pthread_create(&bg->th, NULL, vindex_bg_main, bg) == 0)
                bg->started = 1;
        }
        if (dup == NULL || !bg->started) {
            lm__free(dup);
            inline_build = 1;
        } else {
            bg->owners[bg->n++] = dup;
            pthread_cond_signal(&bg->wake);
        }
    }
    pthread_mutex_unlock(&bg->mu);
    if (inline_build)
        vindex_build(bg, owner_id);
}

void lm__vindex_bg_wait(lm__vindex_bg *bg)
{
    pthread_mutex_lock(&bg->mu);
    while (bg->started && (bg->n > 0 || bg->busy))
        pthread_cond_wait(&bg->idle, &bg->mu);
    pthread_mutex_unlock(&bg->mu);
}

void lm__vindex_bg_dispose(lm__vindex_bg *bg)
{
    pthread_mutex_lock(&bg->mu);
    bg->stop = 1;
    int started = bg->started;
    pthread_cond_signal(&bg->wake);
    pthread_mutex_unlock(&bg->mu);
    if (started)
        pthread_join(bg->th, NULL);
    for (size_t i = 0; i < bg->n; i++)
        lm__free(bg->owners[i]);
    lm__free(bg->owners);
    pthread_cond_destroy(&bg->wake);
    pthread_cond_destroy(&bg->idle);
    pthread_mutex_destroy(&bg->mu);
}

/*
 * api/search.c: lm_search() and the search history: validate the request, run the legs inside a
 * tenant transaction, package the rows, and record the search (query, type, filters, result
 * count, latency) for the tenant unless history is disabled.
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "clock.h"
#include "error.h"
#include "llmemory.h"
#include "search/fuse.h"
#include "search/search.h"
#include "validate.h"

static const char *const search_type_names[] = {"text", "vector", "hybrid"};

const char *lm_search_type_name(lm_search_type type)
{
    if ((int)type < 0 || type > LM_SEARCH_HYBRID)
        return "text";
    return search_type_names[type];
}

int lm_search_type_parse(lm_search_type *out, const char *name)
{
    LM_ASSERT_ARG(out != NULL);
    for (int i = 0; name && i <= LM_SEARCH_HYBRID; i++) {
        if (strcasecmp(name, search_type_names[i]) == 0) {
            *out = (lm_search_type)i;
            return 0;
        }
    }
    lm__error_set_field(LM_EINVAL, "search_type", "invalid search type \"%.60s\"",
                        name ? name : "");
    lm__error_hint("Use text, vector or hybrid.");
    return LM_EINVAL;
}

static const char *const syntax_names[] = {"web", "plain"};

const char *lm_query_syntax_name(lm_query_syntax syntax)
{
    if ((int)syntax < 0 || syntax > LM_QUERY_PLAIN)
        return "unknown";
    return syntax_names[syntax];
}

int lm_query_syntax_parse(lm_query_syntax *out, const char *name)
{
    LM_ASSERT_ARG(out != NULL);
    for (int i = 0; name && i <= LM_QUERY_PLAIN; i++) {
        if (strcasecmp(name, syntax_names[i]) == 0) {
            *out = (lm_query_syntax)i;
            return 0;
        }
    }
    lm__error_set_field(LM_EINVAL, "syntax", "invalid query syntax \"%.60s\"", name ? name : "");
    lm__error_hint("Use web or plain.");
    return LM_EINVAL;
}

/* Version 1 of lm_search_opts ends before syntax. */
#define OPTS_V1_SIZE offsetof(lm_search_opts, syntax)

static long clamp_long(long v, long lo, long hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

long lm_search_cost(const lm_search_opts *opts)
{
    static const lm_search_opts defaults = LM_SEARCH_OPTS_INIT;
    const lm_search_opts *o = opts != NULL ? opts : &defaults;
    long limit = o->limit > 0 ? clamp_long(o->limit, 1, 100000) : 10;
    long depth = o->candidates > 0 ? clamp_long(o->candidates, 1, 100000)
                                   : (2 * limit > 50 ? 2 * limit : 50);
    long legs = o->type == LM_SEARCH_HYBRID ? 2 : 1;
    long variants = o->expand ? 1 + (o->max_variants > 0 ? clamp_long(o->max_variants, 1, 100) : 3)
                              : 1;
    long rerank = o->rerank ? (o->rerank_top_k > 0 ? clamp_long(o->rerank_top_k, 1, 100000) : 50)
                            : 0;

    return depth * legs * variants + rerank;
}

int lm_search_opts_init(lm_search_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != 1 && version != LM_SEARCH_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_search_opts version %u", version);
    lm_search_opts d = LM_SEARCH_OPTS_INIT;
    d.version = version;
    memcpy(opts, &d, version == 1 ? OPTS_V1_SIZE : sizeof(d));
    return 0;
}

struct lm_results {
    PGresult *res;     /* hydrated rows */
    PGresult *ctx_res; /* ancestors of the hits */
    lm_hit *hits;
    lm_chunk *ctx;     /* all hits' ancestors, grouped per hit */
    size_t n;
    double elapsed_ms;
    char *owner;       /* the tenant searched (hit.owner_id) */
    lm_results **parts; /* include_subtenants: one tenant's results each; hits borrow from them */
    size_t n_parts;
};

/* Most tenants one include_subtenants search spans. */
#define LM__MAX_SCOPE_TENANTS 100

typedef struct scope_hit {
    size_t part, idx;
    double score;
} scope_hit;

static int scope_hit_cmp(const void *a, const void *b)
{
    const scope_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* lm_search() over @p owner_id and its sub-tenants (lm_search_opts.include_subtenants). */
static int search_scoped(lm_results **out, lm_memory *mem, const char *owner_id, const char *query,
                         const lm_search_opts *o)
{
    lm__tx tx;
    PGresult *subs = NULL;
    lm_results *r = NULL;
    scope_hit *all = NULL;
    lm_buf sql = LM_BUF_INIT;
    lm_search_opts one = *o;
    size_t total = 0;
    double t0 = lm__now_ms();
    int rc, k = o->rrf_k ? o->rrf_k : LM__RRF_K_DEFAULT;

    one.include_subtenants = 0;
    /* The sub-tenants, named by a function that sees only the transaction's tenant's ones. */
    lm__buf_printf(&sql, "SELECT * FROM %s.llmemory_subtenants() LIMIT %d", mem->db.qschema,
                   LM__MAX_SCOPE_TENANTS);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (mem->db.proxy) {
        /* A cluster proxy: a sub-tenant hashes on its own name, so every shard is asked
           (072_cluster_search.sql); each is then searched by a routed search of its own. */
        PGconn *c = NULL;
        const char *p[] = {owner_id};
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "SELECT s FROM %s.lm_all_subtenants($1) s ORDER BY s COLLATE \"C\""
                             " LIMIT %d", mem->db.qschema, LM__MAX_SCOPE_TENANTS);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__pool_acquire(&c, &mem->db.pool)) == 0) {
            rc = lm__db_exec(&subs, c, sql.ptr, 1, p);
            lm__pool_release(&mem->db.pool, c);
        }
        if (rc < 0)
            goto out;
    } else {
        if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
            goto out;
        rc = lm__db_exec(&subs, tx.conn, sql.ptr, 0, NULL);
        if (rc == 0)
            rc = lm__tx_commit(&tx);
        lm__tx_end(&tx);
        if (rc < 0)
            goto out;
    }
    if (PQntuples(subs) >= LM__MAX_SCOPE_TENANTS) {
        rc = lm__error_set_field(LM_EINVAL, "include_subtenants",
                                 "tenant \"%s\" has too many sub-tenants to search at once",
                                 owner_id);
        lm__error_detail("One search spans at most %d tenants.", LM__MAX_SCOPE_TENANTS);
        goto out;
    }
    if ((r = lm__calloc(1, sizeof(*r))) == NULL ||
        (r->parts = lm__calloc((size_t)PQntuples(subs) + 1, sizeof(lm_results *))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (int i = -1; i < PQntuples(subs); i++) {
        const char *t = i < 0 ? owner_id : PQgetvalue(subs, i, 0);
        if ((rc = lm_search(&r->parts[r->n_parts], mem, t, query, &one)) < 0)
            goto out;
        total += r->parts[r->n_parts++]->n;
    }
    /* Reciprocal rank fusion over the tenants' lists (disjoint: every hit is in one list). */
    if ((all = lm__calloc(total ? total : 1, sizeof(*all))) == NULL ||
        (r->hits = lm__calloc(total ? total : 1, sizeof(lm_hit))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    total = 0;
    for (size_t p = 0; p < r->n_parts; p++)
        for (size_t i = 0; i < r->parts[p]->n; i++)
            all[total++] = (scope_hit){p, i, 1.0 / (k + r->parts[p]->hits[i].rank)};
    qsort(all, total, sizeof(*all), scope_hit_cmp);
    for (size_t i = 0; i < total && i < (size_t)o->limit; i++) {
        lm_hit *h = &r->hits[r->n++];
        *h = r->parts[all[i].part]->hits[all[i].idx];
        h->rank = (int)r->n;
        h->score = all[i].score;
    }
    r->elapsed_ms = lm__now_ms() - t0;
out:
    PQclear(subs);
    lm__free(all);
    lm_buf_dispose(&sql);
    if (rc < 0)
        lm_results_free(r);
    else
        *out = r;
    return rc;
}

static int validate_opts(const lm_memory *mem, const lm_search_opts *o)
{
    int rc;
    if ((int)o->syntax < 0 || o->syntax > LM_QUERY_PLAIN)
        return lm__error_set_field(LM_EINVAL, "syntax", "invalid query syntax %d", (int)o->syntax);
    if ((int)o->type < 0 || o->type > LM_SEARCH_HYBRID)
        return lm__error_set_field(LM_EINVAL, "search_type", "invalid search type %d", (int)o->type);
    if (o->limit < 1 || o->limit > mem->max_limit)
        return lm__error_set_field(LM_EINVAL, "limit", "limit must be between 1 and %d",
                                   mem->max_limit);
    if (o->id_at_origin && (rc = lm__validate_id_at_origin(o->id_at_origin, "id_at_origin")) < 0)
        return rc;
    if (o->n_id_at_origins > 0) {
        if (o->id_at_origins == NULL)
            return lm__error_set_field(LM_EINVAL, "id_at_origins", "id_at_origins must not be NULL");
        if (o->n_id_at_origins > LM_MAX_FILTER_ORIGINS)
            return lm__error_set_field(LM_EINVAL, "id_at_origins",
                                       "too many id_at_origins (%zu, the maximum is %d)",
                                       o->n_id_at_origins, LM_MAX_FILTER_ORIGINS);
        for (size_t i = 0; i < o->n_id_at_origins; i++)
            if ((rc = lm__validate_id_at_origin(o->id_at_origins[i], "id_at_origins")) < 0)
                return rc;
    }
    if ((rc = lm__validate_metadata(o->metadata_filter, "metadata_filter", 1)) < 0)
        return rc;
    if (o->has_type && ((int)o->doc_type < 0 || o->doc_type >= LM_DOC_TYPE_COUNT))
        return lm__error_set_field(LM_EINVAL, "document_type", "invalid document type %d",
                                   (int)o->doc_type);
    if (o->date_from && (rc = lm__validate_timestamp(o->date_from, "date_from")) < 0)
        return rc;
    if (o->date_to && (rc = lm__validate_timestamp(o->date_to, "date_to")) < 0)
        return rc;
    if (o->text_config && (rc = lm__validate_text_config(o->text_config)) < 0)
        return rc;
    if (o->alpha > 1.0 || o->alpha != o->alpha)
        return lm__error_set_field(LM_EINVAL, "alpha", "alpha must be between 0 and 1");
    if (o->rrf_k < 0 || o->rrf_k > 10000)
        return lm__error_set_field(LM_EINVAL, "rrf_k", "rrf_k must be between 1 and 10000");
    if (o->candidates < 0 || o->candidates > 1000)
        return lm__error_set_field(LM_EINVAL, "candidates", "candidates must be between 1 and 1000");
    if (o->context_window < 0 || o->context_window > 10)
        return lm__error_set_field(LM_EINVAL, "context_window",
                                   "context_window must be between 0 and 10");
    if (o->max_variants < 0 || o->max_variants > 10)
        return lm__error_set_field(LM_EINVAL, "max_variants", "max_variants must be between 1 and 10");
    if (o->rerank_top_k < 0 || o->rerank_top_k > 1000)
        return lm__error_set_field(LM_EINVAL, "rerank_top_k",
                                   "rerank_top_k must be between 1 and 1000");
    {
        long cost = lm_search_cost(o);
        if (cost > LM_MAX_SEARCH_COST) {
            lm__error_set_field(LM_EINVAL, "candidates", "search is too expensive (cost %ld)", cost);
            lm__error_detail("candidates x legs (2 for hybrid) x query variants + rerank_top_k "
                             "must be at most %d.",
                             LM_MAX_SEARCH_COST);
            lm__error_hint("Ask for fewer candidates, fewer variants or a smaller rerank.");
            return LM_EINVAL;
        }
    }
    if (o->type != LM_SEARCH_TEXT && mem->vec.embedder == NULL) {
        lm__error_set_field(LM_EINVAL, "search_type", "search type \"%s\" is not available",
                            lm_search_type_name(o->type));
        lm__error_detail("The memory has no embedding provider.");
        return LM_EINVAL;
    }
    return 0;
}

/* The filters of a search as a JSON object, for the history. */
static char *filters_json(const lm_search_opts *o)
{
    json_t *f = json_object();
    if (f == NULL)
        return NULL;
    json_object_set_new(f, "limit", json_integer(o->limit));
    if (o->id_at_origin)
        json_object_set_new(f, "id_at_origin", json_string(o->id_at_origin));
    if (o->n_id_at_origins) {
        json_t *a = json_array();
        for (size_t i = 0; i < o->n_id_at_origins; i++)
            json_array_append_new(a, json_string(o->id_at_origins[i]));
        json_object_set_new(f, "id_at_origins", a);
    }
    if (o->metadata_filter)
        json_object_set_new(f, "metadata", json_loads(o->metadata_filter, 0, NULL));
    if (o->has_type)
        json_object_set_new(f, "document_type", json_string(lm_doc_type_name(o->doc_type)));
    if (o->date_from)
        json_object_set_new(f, "date_from", json_string(o->date_from));
    if (o->date_to)
        json_object_set_new(f, "date_to", json_string(o->date_to));
    if (o->type == LM_SEARCH_HYBRID)
        json_object_set_new(f, "alpha", json_real(o->alpha));
    if (o->expand)
        json_object_set_new(f, "expand", json_true());
    if (o->rerank)
        json_object_set_new(f, "rerank", json_true());
    char *s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(f);
    return s;
}

static void record_history(lm_memory *mem, lm__tx *tx, const char *owner_id, const char *query,
                           const lm_search_opts *o, size_t n, double ms)
{
    char *filters = filters_json(o);
    lm_buf sql = LM_BUF_INIT;
    char count[24], lat[32];
    snprintf(count, sizeof(count), "%zu", n);
    snprintf(lat, sizeof(lat), "%.3f", ms);
    lm__buf_printf(&sql, "INSERT INTO %s.search_history (owner_id, query_text, search_type,"
                         " filters, result_count, latency_ms) VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
                   mem->db.qschema);
    const char *params[] = {owner_id, query, lm_search_type_name(o->type), filters ? filters : "{}",
                            count, lat};
    /* The search itself succeeded; a history failure is logged, not returned. */
    if (lm__buf_oom(&sql) || lm__db_exec(NULL, tx->conn, sql.ptr, 6, params) < 0) {
        lm__db_log(&mem->db, LM_LOG_WARN, "could not record search history: %s",
                   lm_error_last()->message);
        lm__error_clear();
    }
    lm_buf_dispose(&sql);
    free(filters);
}

/* Rows of a leg (chunk_no, score) into candidates. */
static int leg_cands(lm__cands *out, PGresult *res, int vector)
{
    for (int r = 0; r < PQntuples(res); r++) {
        lm__cand c = {0, 0, 0, 0, 0, 0};
        c.chunk_no = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        c.score = strtod(PQgetvalue(res, r, 1), NULL);
        if (vector) {
            c.vec_score = c.score;
            c.vec_rank = r + 1;
        } else {
            c.text_score = c.score;
            c.text_rank = r + 1;
        }
        if (lm__cands_push(out, &c) < 0)
            return LM_ENOMEM;
    }
    /* HNSW with relaxed ordering may return near-ties out of order: re-sort exactly. */
    if (vector) {
        lm__cands_sort(out);
        for (size_t i = 0; i < out->n; i++)
            out->v[i].vec_rank = (int)i + 1;
    }
    return 0;
}

/* One query variant through the legs the search type needs. */
static int run_variant(lm__cands *out, lm_memory *mem, lm__tx *tx, const char *owner_id,
                       const char *query, const float *qvec, const lm_search_opts *o, int depth,
                       double alpha)
{
    lm__cands text = {0}, vec = {0};
    PGresult *res = NULL;
    int rc = 0;
    int want_text = o->type == LM_SEARCH_TEXT || (o->type == LM_SEARCH_HYBRID && alpha < 1.0);
    int want_vec = o->type == LM_SEARCH_VECTOR || (o->type == LM_SEARCH_HYBRID && alpha > 0.0);

    if (want_text) {
        lm__search_req req = {owner_id, query, o->text_config ? o->text_config : mem->text_config,
                              depth, mem->bm25, o};
        if ((rc = lm__bm25_search(&res, tx, &req)) < 0 || (rc = leg_cands(&text, res, 0)) < 0)
            goto out;
        PQclear(res);
        res = NULL;
    }
    if (want_vec) {
        lm__vec_req vreq = {owner_id, qvec, depth, o};
        if ((rc = lm__vector_search(&res, tx, &mem->vec, &vreq)) < 0 ||
            (rc = leg_cands(&vec, res, 1)) < 0)
            goto out;
    }
    if (o->type == LM_SEARCH_HYBRID) {
        rc = lm__fuse_weighted(out, &text, &vec, alpha, o->rrf_k ? o->rrf_k : LM__RRF_K_DEFAULT);
    } else {
        *out = o->type == LM_SEARCH_TEXT ? text : vec;
        if (o->type == LM_SEARCH_TEXT)
            text.v = NULL;
        else
            vec.v = NULL;
    }
out:
    PQclear(res);
    lm__cands_dispose(&text);
    lm__cands_dispose(&vec);
    return rc;
}

/* Fetch the chunks and documents of the first @p n candidates. */
static int hydrate(PGresult **out, lm_memory *mem, lm__tx *tx, const char *owner_id,
                   const lm__cands *c, size_t n)
{
    lm_buf arr = LM_BUF_INIT, sql = LM_BUF_INIT;
    int rc;
    lm__buf_putc(&arr, '{');
    for (size_t i = 0; i < n; i++)
        lm__buf_printf(&arr, "%s%lld", i ? "," : "", (long long)c->v[i].chunk_no);
    lm__buf_putc(&arr, '}');
    lm__buf_printf(&sql,
                   "SELECT c.chunk_no, c.chunk_id, c.document_id, d.id_at_origin, d.document_name,"
                   " d.document_type, c.content, (d.metadata || c.metadata)::text, d.metadata::text,"
                   " c.chunk_level, c.chunk_index"
                   " FROM %s.chunks c JOIN %s.documents d"
                   "   ON d.owner_id = c.owner_id AND d.document_id = c.document_id"
                   " WHERE c.owner_id = $1 AND c.chunk_no = ANY($2::bigint[])",
                   mem->db.qschema, mem->db.qschema);
    if (lm__buf_oom(&arr) || lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
    } else {
        const char *p[] = {owner_id, arr.ptr};
        /* Key lookups only: the generic plan is the custom plan, so prepare it once. */
        rc = lm__db_exec_prepared(out, tx->conn, LM__STMT_HYDRATE, sql.ptr, 2, p);
    }
    lm_buf_dispose(&arr);
    lm_buf_dispose(&sql);
    return rc;
}

static int row_of(const PGresult *res, int64_t chunk_no)
{
    for (int r = 0; r < PQntuples(res); r++)
        if (strtoll(PQgetvalue(res, r, 0), NULL, 10) == chunk_no)
            return r;
    return -1;
}

/* Ancestors of every hit (nearest first), up to @p window levels, in one recursive query. */
static int attach_context(lm_results *r, lm_memory *mem, lm__tx *tx, const char *owner_id,
                          int window)
{
    lm_buf arr = LM_BUF_INIT, sql = LM_BUF_INIT;
    char win[16];
    size_t k = 0;
    int rc, n;
    snprintf(win, sizeof(win), "%d", window);
    lm__buf_putc(&arr, '{');
    for (size_t i = 0; i < r->n; i++)
        lm__buf_printf(&arr, "%s%s", i ? "," : "", r->hits[i].chunk_id);
    lm__buf_putc(&arr, '}');
    lm__buf_printf(&sql,
                   "WITH RECURSIVE a AS ("
                   "  SELECT c.chunk_id AS hit, c.parent_chunk_id AS pid, 1 AS depth"
                   "    FROM %s.chunks c WHERE c.owner_id = $1 AND c.chunk_id = ANY($2::uuid[])"
                   "     AND c.parent_chunk_id IS NOT NULL"
                   "  UNION ALL"
                   "  SELECT a.hit, p.parent_chunk_id, a.depth + 1"
                   "    FROM a JOIN %s.chunks p ON p.owner_id = $1 AND p.chunk_id = a.pid"
                   "   WHERE a.depth < $3::int AND p.parent_chunk_id IS NOT NULL)"
                   " SELECT a.hit, p.chunk_id, coalesce(p.parent_chunk_id::text, ''), p.chunk_index,"
                   "        p.chunk_level, p.searchable, p.token_count, p.content, p.content_hash,"
                   "        p.metadata::text"
                   "   FROM a JOIN %s.chunks p ON p.owner_id = $1 AND p.chunk_id = a.pid"
                   "  ORDER BY a.hit, a.depth",
                   mem->db.qschema, mem->db.qschema, mem->db.qschema);
    if (lm__buf_oom(&arr) || lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    {
        const char *p[] = {owner_id, arr.ptr, win};
        if ((rc = lm__db_exec(&r->ctx_res, tx->conn, sql.ptr, 3, p)) < 0)
            goto out;
    }
    n = PQntuples(r->ctx_res);
    if ((r->ctx = lm__calloc((size_t)(n ? n : 1), sizeof(lm_chunk))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    /* Rows are grouped by hit (ORDER BY a.hit); give each hit its contiguous slice. */
    for (size_t i = 0; i < r->n; i++) {
        lm_hit *h = &r->hits[i];
        h->context = NULL;
        h->n_context = 0;
        for (int row = 0; row < n; row++) {
            if (strcmp(PQgetvalue(r->ctx_res, row, 0), h->chunk_id) != 0)
                continue;
            lm_chunk *c = &r->ctx[k++];
            if (h->context == NULL)
                h->context = c;
            h->n_context++;
            const PGresult *cr = r->ctx_res;
            snprintf(c->chunk_id, sizeof(c->chunk_id), "%s", PQgetvalue(cr, row, 1));
            snprintf(c->parent_chunk_id, sizeof(c->parent_chunk_id), "%s", PQgetvalue(cr, row, 2));
            c->chunk_index = (int)strtol(PQgetvalue(cr, row, 3), NULL, 10);
            c->chunk_level = (int)strtol(PQgetvalue(cr, row, 4), NULL, 10);
            c->searchable = PQgetvalue(cr, row, 5)[0] == 't';
            c->token_count = (int)strtol(PQgetvalue(cr, row, 6), NULL, 10);
            c->content = PQgetvalue(cr, row, 7);
            c->content_hash = PQgetvalue(cr, row, 8);
            c->metadata = PQgetvalue(cr, row, 9);
        }
    }
    rc = 0;
out:
    lm_buf_dispose(&arr);
    lm_buf_dispose(&sql);
    return rc;
}

/* Rerank the candidates that have rows (lexical, or the application's hook). */
static int rerank(lm__cands *c, size_t n, const PGresult *rows, lm_memory *mem, const char *query)
{
    double *scores = lm__calloc(n ? n : 1, sizeof(double));
    const char **texts = lm__calloc(n ? n : 1, sizeof(char *));
    lm__cands head = {c->v, n, n};
    int rc = 0;
    if (scores == NULL || texts == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int r = row_of(rows, c->v[i].chunk_no);
        texts[i] = r >= 0 ? PQgetvalue(rows, r, 6) : "";
    }
    if (mem->rerank_fn == NULL || mem->rerank_fn(scores, query, texts, n, mem->rerank_payload) != 0) {
        for (size_t i = 0; i < n; i++) {
            int r = row_of(rows, c->v[i].chunk_no);
            scores[i] = lm__lexical_score(query, texts[i], r >= 0 ? PQgetvalue(rows, r, 8) : NULL);
        }
    }
    /* The previous order breaks ties (a tiny share of the prior score, as llmemory does). */
    for (size_t i = 0; i < n; i++)
        c->v[i].score = scores[i] + 0.001 * c->v[i].score;
    lm__cands_sort(&head);
out:
    lm__free(scores);
    lm__free(texts);
    return rc;
}

/* The search as one call of <schema>.lm_search (060_tenant_functions.sql): both legs, the fusion,
   the hydration and the history in one round trip. For one query variant without rerank or
   parent context (those keep the statement path below). */
static int search_call(lm_results *r, lm_memory *mem, const char *owner_id, const char *query,
                       const lm_search_opts *o, const float *qvec, int depth, double alpha,
                       double t0)
{
    lm__query q;
    lm_buf sql = LM_BUF_INIT, vec = LM_BUF_INIT, origins = LM_BUF_INIT;
    char *filters = NULL;
    char lim[16], dep[16], k1[32], b[32], dim[16], ef[16], al[32], rrf[16], pre[32];
    int rc;

    lm__query_init(&q);
    if ((rc = lm__query_parse(&q, query, o->syntax)) < 0)
        goto out;
    snprintf(lim, sizeof(lim), "%d", o->limit);
    snprintf(dep, sizeof(dep), "%d", depth);
    snprintf(k1, sizeof(k1), "%.17g", mem->bm25.k1);
    snprintf(b, sizeof(b), "%.17g", mem->bm25.b);
    snprintf(dim, sizeof(dim), "%d", mem->vec.dim);
    snprintf(ef, sizeof(ef), "%d", mem->vec.hnsw_ef_search);
    snprintf(al, sizeof(al), "%.17g", alpha);
    snprintf(rrf, sizeof(rrf), "%d", o->rrf_k ? o->rrf_k : LM__RRF_K_DEFAULT);
    if (qvec != NULL)
        lm__vector_literal(&vec, qvec, mem->vec.dim);
    if (o->n_id_at_origins > 0)
        lm__text_array_literal(&origins, o->id_at_origins, o->n_id_at_origins);
    if (mem->history && !o->no_history && (filters = filters_json(o)) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    lm__buf_printf(&sql, "SELECT * FROM %s.lm_search($1, $2, $3::int, $4::int, $5, $6, $7,"
                         " $8::float8, $9::float8, $10, $11::boolean, $12, $13, $14::int,"
                         " $15::int, $16::float8, $17::int, $18, $19::text[], $20::jsonb, $21,"
                         " $22::timestamptz, $23::timestamptz, $24::jsonb, $25, $26::float8)",
                   mem->db.qschema);
    if (lm__buf_oom(&sql) || lm__buf_oom(&vec) || lm__buf_oom(&origins)) {
        rc = LM_ENOMEM;
        goto out;
    }
    snprintf(pre, sizeof(pre), "%.3f", lm__now_ms() - t0);
    {
        const char *p[26] = {
            owner_id, lm_search_type_name(o->type), lim, dep, q.terms.ptr ? q.terms.ptr : "",
            q.filter.ptr ? q.filter.ptr : "", o->text_config ? o->text_config : mem->text_config,
            k1, b, mem->bm25.ext_schema[0] ? mem->bm25.ext_schema : NULL,
            mem->bm25.ext_tenant ? "true" : "false", qvec ? vec.ptr : NULL,
            qvec ? mem->vec.provider_id : NULL, dim, ef, al, rrf, o->id_at_origin,
            o->n_id_at_origins ? origins.ptr : NULL, o->metadata_filter,
            o->has_type ? lm_doc_type_name(o->doc_type) : NULL, o->date_from, o->date_to,
            filters, query, pre};
        if ((rc = lm__db_call(&r->res, &mem->db, LM__STMT_FN_SEARCH, sql.ptr, 26, p)) < 0)
            goto out;
    }
    r->n = (size_t)PQntuples(r->res);
    if ((r->hits = lm__calloc(r->n ? r->n : 1, sizeof(lm_hit))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        const PGresult *res = r->res;
        int row = (int)i;
        lm_hit *h = &r->hits[i];
        snprintf(h->chunk_id, sizeof(h->chunk_id), "%s", PQgetvalue(res, row, 1));
        snprintf(h->document_id, sizeof(h->document_id), "%s", PQgetvalue(res, row, 2));
        h->id_at_origin = PQgetvalue(res, row, 3);
        h->document_name = PQgetvalue(res, row, 4);
        lm_doc_type t = LM_DOC_UNKNOWN;
        if (lm_doc_type_parse(&t, PQgetvalue(res, row, 5)) < 0)
            lm__error_clear();
        h->document_type = t;
        h->content = PQgetvalue(res, row, 6);
        h->metadata = PQgetvalue(res, row, 7);
        h->document_metadata = o->with_documents ? PQgetvalue(res, row, 8) : NULL;
        h->chunk_level = (int)strtol(PQgetvalue(res, row, 9), NULL, 10);
        h->chunk_index = (int)strtol(PQgetvalue(res, row, 10), NULL, 10);
        h->rank = row + 1;
        h->score = strtod(PQgetvalue(res, row, 11), NULL);
        h->text_score = strtod(PQgetvalue(res, row, 12), NULL);
        h->text_rank = (int)strtol(PQgetvalue(res, row, 13), NULL, 10);
        h->vector_score = strtod(PQgetvalue(res, row, 14), NULL);
        h->vector_rank = (int)strtol(PQgetvalue(res, row, 15), NULL, 10);
        h->owner_id = r->owner;
    }
    r->elapsed_ms = lm__now_ms() - t0;
out:
    lm__query_dispose(&q);
    lm_buf_dispose(&sql);
    lm_buf_dispose(&vec);
    lm_buf_dispose(&origins);
    free(filters);
    return rc;
}

/* The search as the library's statements, in one transaction on @p mem's database: query
 * variants, a rerank, parent context (and every search with LLMEMORY_SQL_FUNCTIONS=off). On a
 * cluster shard reached directly (@p fenced), the tenant's fence is checked after the reads. */
static int search_statements(lm_results *r, lm_memory *mem, const char *owner_id,
                             const char *query, const lm_search_opts *o, char **variants,
                             size_t n_variants, const float *qvecs, int depth, double alpha,
                             int rerank_k, double t0, int fenced)
{
    lm__tx tx = {0};
    lm__cands *lists = NULL, fused = {0};
    size_t n_final = 0;
    int rc;

    if ((lists = lm__calloc(n_variants, sizeof(*lists))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
        goto out;
    for (size_t i = 0; i < n_variants; i++) {
        const float *qv = qvecs ? qvecs + i * (size_t)mem->vec.dim : NULL;
        if ((rc = run_variant(&lists[i], mem, &tx, owner_id, variants[i], qv, o, depth, alpha)) < 0)
            goto out;
    }
    if (n_variants > 1) {
        if ((rc = lm__fuse_rrf(&fused, lists, n_variants, o->rrf_k ? o->rrf_k : LM__RRF_K_DEFAULT)) < 0)
            goto out;
    } else {
        fused = lists[0];
        lists[0].v = NULL;
        lists[0].n = lists[0].cap = 0;
    }
    n_final = fused.n;
    if (n_final > (size_t)(rerank_k > o->limit ? rerank_k : o->limit))
        n_final = (size_t)(rerank_k > o->limit ? rerank_k : o->limit);
    if ((rc = hydrate(&r->res, mem, &tx, owner_id, &fused, n_final)) < 0)
        goto out;
    if (o->rerank && (rc = rerank(&fused, n_final, r->res, mem, query)) < 0)
        goto out;
    if (n_final > (size_t)o->limit)
        n_final = (size_t)o->limit;
    if ((r->hits = lm__calloc(n_final ? n_final : 1, sizeof(lm_hit))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_final; i++) {
        const lm__cand *c = &fused.v[i];
        int row = row_of(r->res, c->chunk_no);
        if (row < 0)
            continue; /* deleted between the legs and the fetch: cannot happen in one snapshot */
        lm_hit *h = &r->hits[r->n++];
        snprintf(h->chunk_id, sizeof(h->chunk_id), "%s", PQgetvalue(r->res, row, 1));
        snprintf(h->document_id, sizeof(h->document_id), "%s", PQgetvalue(r->res, row, 2));
        h->id_at_origin = PQgetvalue(r->res, row, 3);
        h->document_name = PQgetvalue(r->res, row, 4);
        lm_doc_type t = LM_DOC_UNKNOWN;
        if (lm_doc_type_parse(&t, PQgetvalue(r->res, row, 5)) < 0)
            lm__error_clear();
        h->document_type = t;
        h->content = PQgetvalue(r->res, row, 6);
        h->metadata = PQgetvalue(r->res, row, 7);
        h->document_metadata = o->with_documents ? PQgetvalue(r->res, row, 8) : NULL;
        h->chunk_level = (int)strtol(PQgetvalue(r->res, row, 9), NULL, 10);
        h->chunk_index = (int)strtol(PQgetvalue(r->res, row, 10), NULL, 10);
        h->rank = (int)r->n;
        h->score = c->score;
        h->text_score = c->text_score;
        h->text_rank = c->text_rank;
        h->vector_score = c->vec_score;
        h->vector_rank = c->vec_rank;
        h->owner_id = r->owner;
    }
    if (o->include_parent_context && r->n > 0 &&
        (rc = attach_context(r, mem, &tx, owner_id, o->context_window ? o->context_window : 2)) < 0)
        goto out;
    r->elapsed_ms = lm__now_ms() - t0;
    if (fenced) {
        lm_buf sql = LM_BUF_INIT;
        const char *p[] = {owner_id};
        lm__buf_printf(&sql, "SELECT %s.lm__fence_check($1)", mem->db.qschema);
        rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(NULL, tx.conn, sql.ptr, 1, p);
        lm_buf_dispose(&sql);
        if (rc < 0)
            goto out;
    }
    if (mem->history && !o->no_history)
        record_history(mem, &tx, owner_id, query, o, r->n, r->elapsed_ms);
    rc = lm__tx_commit(&tx);
out:
    lm__tx_end(&tx);
    for (size_t i = 0; lists && i < n_variants; i++)
        lm__cands_dispose(&lists[i]);
    lm__free(lists);
    lm__cands_dispose(&fused);
    return rc;
}

/* Tries of a search refused by a moving tenant's fence, and the wait between them. */
#define ROUTED_TRIES 40
#define ROUTED_WAIT_MS 50

/* On a cluster proxy: the statements of search_statements() pass no PL/Proxy call, so they run
 * on the tenant's shard directly (api/shards.c), by the placement read from the proxy for each
 * try; a fenced tenant there (moved away, or arriving) is tried again where the placement then
 * points, for up to about 2 s, then LM_ERETRY goes to the caller. */
static int search_routed(lm_results *r, lm_memory *mem, const char *owner_id, const char *query,
                         const lm_search_opts *o, char **variants, size_t n_variants,
                         const float *qvecs, int depth, double alpha, int rerank_k, double t0)
{
    for (int t = 1;; t++) {
        lm_memory *sm = NULL;
        int rc = lm__shards_memory(mem, owner_id, &sm);
        if (rc == 0)
            rc = search_statements(r, sm, owner_id, query, o, variants, n_variants, qvecs, depth,
                                   alpha, rerank_k, t0, 1);
        if (rc != LM_ERETRY || t == ROUTED_TRIES)
            return rc;
        lm__error_clear();
        PQclear(r->res);
        PQclear(r->ctx_res);
        lm__free(r->hits);
        lm__free(r->ctx);
        r->res = r->ctx_res = NULL;
        r->hits = NULL;
        r->ctx = NULL;
        r->n = 0;
        struct timespec ts = {0, ROUTED_WAIT_MS * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

int lm_search(lm_results **out, lm_memory *mem, const char *owner_id, const char *query,
              const lm_search_opts *opts)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    lm_results *r = NULL;
    char **variants = NULL;
    size_t n_variants = 0;
    float *qvecs = NULL;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if (opts) {
        if (opts->version != 1 && opts->version != LM_SEARCH_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_search_opts version %u", opts->version);
        /* A version 1 caller's struct ends before syntax: the rest keeps its defaults. */
        memcpy(&o, opts, opts->version == 1 ? OPTS_V1_SIZE : sizeof(o));
        o.version = LM_SEARCH_OPTS_VERSION;
    }
    if ((rc = lm__validate_owner_id(owner_id)) < 0 || (rc = lm__validate_query(query)) < 0 ||
        (rc = validate_opts(mem, &o)) < 0 ||
        (rc = lm__rate_take(mem, LM__RATE_SEARCHES, owner_id)) < 0)
        return rc;
    if (o.include_subtenants)
        return search_scoped(out, mem, owner_id, query, &o);
    double alpha = o.alpha;
    if (alpha < 0) {
        const char *kind = mem->vec.embedder ? lm_embedder_kind(mem->vec.embedder) : "";
        alpha = strcmp(kind, "builtin") == 0 ? LM__HYBRID_ALPHA_BUILTIN
                : strcmp(kind, "local") == 0 ? LM__HYBRID_ALPHA_LOCAL
                                             : LM__HYBRID_ALPHA_DEFAULT;
    }
    o.alpha = alpha;
    int depth = o.candidates ? o.candidates : (2 * o.limit > 50 ? 2 * o.limit : 50);
    int rerank_k = o.rerank ? (o.rerank_top_k ? o.rerank_top_k : 50) : 0;
    if (o.type == LM_SEARCH_TEXT || o.type == LM_SEARCH_VECTOR) {
        /* One leg: its own ranking is final, so fetch only what is kept (or reranked). */
        depth = o.limit > rerank_k ? o.limit : rerank_k;
        if (o.expand && depth < 20)
            depth = 20;
    }
    if ((r = lm__calloc(1, sizeof(*r))) == NULL)
        return LM_ENOMEM;
    if ((r->owner = lm__strdup(owner_id)) == NULL) {
        lm__free(r);
        return LM_ENOMEM;
    }
    double t0 = lm__now_ms();

    if (o.expand) {
        if ((rc = lm__expand_variants(&variants, &n_variants, query,
                                      o.max_variants ? o.max_variants : 3)) < 0)
            goto out;
    } else {
        if ((variants = lm__calloc(1, sizeof(char *))) == NULL ||
            (variants[0] = lm__strdup(query)) == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        n_variants = 1;
    }
    if (o.type != LM_SEARCH_TEXT) {
        /* Query embeddings before the transaction (a remote provider may be slow). */
        if ((qvecs = lm__malloc(n_variants * (size_t)mem->vec.dim * sizeof(float))) == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__vector_embed_query(&mem->vec, qvecs, (const char *const *)variants, NULL,
                                         n_variants)) < 0)
            goto out;
    }
    if (mem->sql_functions && n_variants == 1 && !o.rerank && !o.include_parent_context) {
        rc = search_call(r, mem, owner_id, query, &o, qvecs, depth, alpha, t0);
        goto out;
    }
    if (mem->db.proxy)
        rc = search_routed(r, mem, owner_id, query, &o, variants, n_variants, qvecs, depth, alpha,
                           rerank_k, t0);
    else
        rc = search_statements(r, mem, owner_id, query, &o, variants, n_variants, qvecs, depth,
                               alpha, rerank_k, t0, 0);
out:
    lm__variants_free(variants, n_variants);
    lm__free(qvecs);
    if (rc < 0)
        lm_results_free(r);
    else
        *out = r;
    return rc;
}

size_t lm_results_count(const lm_results *res)
{
    return res ? res->n : 0;
}

const lm_hit *lm_results_at(const lm_results *res, size_t i)
{
    return res && i < res->n ? &res->hits[i] : NULL;
}

double lm_results_elapsed_ms(const lm_results *res)
{
    return res ? res->elapsed_ms : 0.0;
}

void lm_results_free(lm_results *res)
{
    if (res == NULL)
        return;
    PQclear(res->res);
    PQclear(res->ctx_res);
    lm__free(res->hits);
    lm__free(res->ctx);
    lm__free(res->owner);
    for (size_t i = 0; i < res->n_parts; i++)
        lm_results_free(res->parts[i]);
    lm__free(res->parts);
    lm__free(res);
}

/* ---- history ----------------------------------------------------------------------------- */

struct lm_history {
    PGresult *res;
    lm_history_entry *items;
    size_t n;
};

int lm_history_list(lm_history **out, lm_memory *mem, const char *owner_id, int limit)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_history *h = NULL;
    lm__tx tx = {0};
    lm_buf sql = LM_BUF_INIT;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (limit < 1 || limit > mem->max_limit)
        return lm__error_set_field(LM_EINVAL, "limit", "limit must be between 1 and %d",
                                   mem->max_limit);
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *params[] = {owner_id, lim};
    lm__buf_printf(&sql, "SELECT search_id, query_text, search_type, filters::text, result_count,"
                         " latency_ms, " TS("created_at") " FROM %s.search_history"
                         " WHERE owner_id = $1 ORDER BY created_at DESC, search_id LIMIT $2",
                   mem->db.qschema);
    if (lm__buf_oom(&sql))
        return LM_ENOMEM;
    if ((h = lm__calloc(1, sizeof(*h))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (mem->sql_functions) {
        /* One call of <schema>.lm_history (060_tenant_functions.sql), same columns. */
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_history($1, $2::int)", mem->db.qschema);
        rc = lm__buf_oom(&sql) ? LM_ENOMEM
                               : lm__db_call(&h->res, &mem->db, LM__STMT_FN_HISTORY, sql.ptr, 2,
                                             params);
        if (rc < 0)
            goto out;
    } else {
        if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
            goto out;
        if ((rc = lm__db_exec(&h->res, tx.conn, sql.ptr, 2, params)) < 0)
            goto out;
        if ((rc = lm__tx_commit(&tx)) < 0)
            goto out;
    }
    h->n = (size_t)PQntuples(h->res);
    if ((h->items = lm__calloc(h->n ? h->n : 1, sizeof(lm_history_entry))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < h->n; i++) {
        lm_history_entry *e = &h->items[i];
        int row = (int)i;
        snprintf(e->search_id, sizeof(e->search_id), "%s", PQgetvalue(h->res, row, 0));
        e->query = PQgetvalue(h->res, row, 1);
        lm_search_type t = LM_SEARCH_TEXT;
        if (lm_search_type_parse(&t, PQgetvalue(h->res, row, 2)) < 0)
            lm__error_clear();
        e->type = t;
        e->filters = PQgetvalue(h->res, row, 3);
        e->result_count = (int)strtol(PQgetvalue(h->res, row, 4), NULL, 10);
        e->latency_ms = strtod(PQgetvalue(h->res, row, 5), NULL);
        e->created_at = PQgetvalue(h->res, row, 6);
    }
out:
    lm__tx_end(&tx);
    lm_buf_dispose(&sql);
    if (rc < 0)
        lm_history_free(h);
    else
        *out = h;
    return rc;
}

size_t lm_history_count(const lm_history *h)
{
    return h ? h->n : 0;
}

const lm_history_entry *lm_history_at(const lm_history *h, size_t i)
{
    return h && i < h->n ? &h->items[i] : NULL;
}

void lm_history_free(lm_history *h)
{
    if (h == NULL)
        return;
    PQclear(h->res);
    lm__free(h->items);
    lm__free(h);
}

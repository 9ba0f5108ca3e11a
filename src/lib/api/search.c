/*
 * api/search.c: lm_search() and the search history: validate the request, run the legs inside a
 * tenant transaction, package the rows, and record the search (query, type, filters, result
 * count, latency) for the tenant unless history is disabled.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "error.h"
#include "llmemory.h"
#include "search/search.h"
#include "validate.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

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

int lm_search_opts_init(lm_search_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_SEARCH_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_search_opts version %u", version);
    lm_search_opts d = LM_SEARCH_OPTS_INIT;
    *opts = d;
    return 0;
}

struct lm_results {
    PGresult *res;
    lm_hit *hits;
    size_t n;
    double elapsed_ms;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int validate_opts(const lm_memory *mem, const lm_search_opts *o)
{
    int rc;
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

int lm_search(lm_results **out, lm_memory *mem, const char *owner_id, const char *query,
              const lm_search_opts *opts)
{
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    lm_results *r = NULL;
    lm__tx tx = {0};
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if (opts) {
        if (opts->version != LM_SEARCH_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_search_opts version %u", opts->version);
        o = *opts;
    }
    if ((rc = lm__validate_owner_id(owner_id)) < 0 || (rc = lm__validate_query(query)) < 0 ||
        (rc = validate_opts(mem, &o)) < 0)
        return rc;
    if (o.type != LM_SEARCH_TEXT) {
        lm__error_set_field(LM_EINVAL, "search_type", "search type \"%s\" is not available",
                            lm_search_type_name(o.type));
        lm__error_detail("No embedding provider is configured for this memory.");
        return LM_EINVAL;
    }
    if ((r = lm__calloc(1, sizeof(*r))) == NULL)
        return LM_ENOMEM;
    double t0 = now_ms();
    lm__search_req req = {owner_id, query, o.text_config ? o.text_config : mem->text_config,
                          o.limit, mem->bm25, &o};
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
        goto out;
    if ((rc = lm__bm25_search(&r->res, &tx, &req)) < 0)
        goto out;
    r->elapsed_ms = now_ms() - t0;
    r->n = (size_t)PQntuples(r->res);
    if ((r->hits = lm__calloc(r->n ? r->n : 1, sizeof(lm_hit))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        lm_hit *h = &r->hits[i];
        int row = (int)i;
        snprintf(h->chunk_id, sizeof(h->chunk_id), "%s", PQgetvalue(r->res, row, 0));
        snprintf(h->document_id, sizeof(h->document_id), "%s", PQgetvalue(r->res, row, 1));
        h->id_at_origin = PQgetvalue(r->res, row, 2);
        h->document_name = PQgetvalue(r->res, row, 3);
        lm_doc_type t = LM_DOC_UNKNOWN;
        if (lm_doc_type_parse(&t, PQgetvalue(r->res, row, 4)) < 0)
            lm__error_clear();
        h->document_type = t;
        h->content = PQgetvalue(r->res, row, 5);
        h->metadata = PQgetvalue(r->res, row, 6);
        h->score = strtod(PQgetvalue(r->res, row, 7), NULL);
        h->text_score = h->score;
        h->rank = h->text_rank = (int)i + 1;
        h->chunk_level = atoi(PQgetvalue(r->res, row, 8));
        h->chunk_index = atoi(PQgetvalue(r->res, row, 9));
    }
    if (mem->history && !o.no_history)
        record_history(mem, &tx, owner_id, query, &o, r->n, r->elapsed_ms);
    if ((rc = lm__tx_commit(&tx)) < 0)
        goto out;
out:
    lm__tx_end(&tx);
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
    lm__free(res->hits);
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
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
        goto out;
    if ((rc = lm__db_exec(&h->res, tx.conn, sql.ptr, 2, params)) < 0)
        goto out;
    if ((rc = lm__tx_commit(&tx)) < 0)
        goto out;
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
        e->result_count = atoi(PQgetvalue(h->res, row, 4));
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

/*
 * http/handler_search.c: GET /v1/search (parameters in the query string) and POST /v1/search (a
 * JSON body, for long queries and structured filters). Both fill one lm_search_opts and pass
 * every option through to the library, which decides what it supports (vector and hybrid may be
 * refused until an embedder is configured). A credential bound to an origin always searches
 * only that origin.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"

/* Apply the credential's origin: the search is narrowed to it, and any other origin the client
   named is refused. -1 after replying. */
static int apply_origin(srv_request *r, lm_search_opts *o)
{
    int other = 0;

    if (!srv_origin_bound(r))
        return 0;
    if (o->id_at_origin != NULL && strcmp(o->id_at_origin, r->who.origin) != 0)
        other = 1;
    for (size_t i = 0; i < o->n_id_at_origins; i++)
        if (strcmp(o->id_at_origins[i], r->who.origin) != 0)
            other = 1;
    if (other) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "credential is bound to one origin",
                        "The credential may search only its own origin.", NULL, "id_at_origin");
        return -1;
    }
    o->id_at_origin = r->who.origin;
    o->id_at_origins = NULL;
    o->n_id_at_origins = 0;
    return 0;
}

static void run(srv_request *r, const char *query, lm_search_opts *o)
{
    lm_results *res = NULL;
    lm_buf out = LM_BUF_INIT;
    int rc;

    if (apply_origin(r, o) < 0)
        return;
    if (o->include_subtenants && !r->who.allow_subtenants) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "the credentials do not cover sub-tenants",
                        "include_subtenants needs a key created with allow_subtenants.", NULL,
                        "include_subtenants");
        return;
    }
    r->search_type = (int)o->type;
    rc = lm_search(&res, r->srv->mem, r->tenant, query, o);
    if (rc < 0) {
        r->search_type = -1;
        srv_reply_lm(r, rc);
        return;
    }
    r->search_ms = lm_results_elapsed_ms(res);
    srv_metrics_search((int)o->type, r->search_ms / 1000.0);
    lm__buf_putc(&out, '{');
    srv_jw_kstr(&out, "query", query);
    srv_jw_kstr(&out, "owner_id", r->tenant);
    srv_jw_kstr(&out, "mode", lm_search_type_name(o->type));
    srv_jw_kstr(&out, "syntax", lm_query_syntax_name(o->syntax));
    srv_jw_kint(&out, "count", (long long)lm_results_count(res));
    srv_jw_kreal(&out, "elapsed_ms", lm_results_elapsed_ms(res));
    lm__buf_puts(&out, ",\"results\":[");
    for (size_t i = 0; i < lm_results_count(res); i++) {
        if (i > 0)
            lm__buf_putc(&out, ',');
        srv_jw_hit(&out, lm_results_at(res, i));
    }
    lm__buf_puts(&out, "]}");
    lm_results_free(res);
    srv_reply_buf(r, MHD_HTTP_OK, &out);
}

static void missing_query(srv_request *r, const char *name)
{
    char msg[80];
    snprintf(msg, sizeof(msg), "%s \"%s\" is required",
             strcmp(name, "q") == 0 ? "parameter" : "field", name);
    srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument", msg, NULL, NULL, name);
}

void srv_h_search_get(srv_request *r)
{
    lm_search_opts o;
    const char *query = srv_query(r, "q"), *s;
    const char **origins = NULL;
    size_t n_origins = 0;
    long v;
    double d;
    int has, b;

    lm_search_opts_init(&o, LM_SEARCH_OPTS_VERSION);
    if (query == NULL) {
        missing_query(r, "q");
        return;
    }
    if ((s = srv_query(r, "type")) != NULL) {
        int rc = lm_search_type_parse(&o.type, s);
        if (rc < 0) {
            srv_reply_lm(r, rc);
            return;
        }
    }
    if ((s = srv_query(r, "syntax")) != NULL) {
        int rc = lm_query_syntax_parse(&o.syntax, s);
        if (rc < 0) {
            srv_reply_lm(r, rc);
            return;
        }
    }
    /* lm_search checks the range of limit (one place, one message). */
    if (srv_query_long(r, "limit", SRV_ANY_INT, &v, &has) < 0)
        return;
    if (has)
        o.limit = (int)v;
    if (srv_query_double(r, "alpha", 0, 1, &d, &has) < 0)
        return;
    if (has)
        o.alpha = d;
    if (srv_query_long(r, "rrf_k", 1, 100000, &v, &has) < 0)
        return;
    if (has)
        o.rrf_k = (int)v;
    if (srv_query_long(r, "candidates", 1, 100000, &v, &has) < 0)
        return;
    if (has)
        o.candidates = (int)v;
    if (srv_query_all(r, "origin", &origins, &n_origins) < 0) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    if (n_origins == 1) {
        o.id_at_origin = origins[0];
    } else if (n_origins > 1) {
        o.id_at_origins = origins;
        o.n_id_at_origins = n_origins;
    }
    o.metadata_filter = srv_query(r, "metadata");
    if ((s = srv_query(r, "document_type")) != NULL) {
        int rc = lm_doc_type_parse(&o.doc_type, s);
        if (rc < 0) {
            srv_reply_lm(r, rc);
            return;
        }
        o.has_type = 1;
    }
    o.date_from = srv_query(r, "date_from");
    o.date_to = srv_query(r, "date_to");
    o.text_config = srv_query(r, "text_config");
    if (srv_query_bool(r, "with_documents", &o.with_documents, NULL) < 0 ||
        srv_query_bool(r, "parent_context", &o.include_parent_context, NULL) < 0 ||
        srv_query_bool(r, "expand", &o.expand, NULL) < 0 ||
        srv_query_bool(r, "rerank", &o.rerank, NULL) < 0 ||
        srv_query_bool(r, "include_subtenants", &o.include_subtenants, NULL) < 0 ||
        srv_query_bool(r, "no_history", &b, &has) < 0)
        return;
    if (has)
        o.no_history = b;
    if (srv_query_long(r, "context_window", 1, 10, &v, &has) < 0)
        return;
    if (has)
        o.context_window = (int)v;
    if (srv_query_long(r, "max_variants", 1, 10, &v, &has) < 0)
        return;
    if (has)
        o.max_variants = (int)v;
    if (srv_query_long(r, "rerank_top_k", 1, 1000, &v, &has) < 0)
        return;
    if (has)
        o.rerank_top_k = (int)v;
    run(r, query, &o);
}

static const char *const search_fields[] = {"owner_id",       "query",
                                            "type",           "search_type",
                                            "limit",          "alpha",
                                            "rrf_k",          "candidates",
                                            "id_at_origin",   "id_at_origins",
                                            "metadata",       "metadata_filter",
                                            "document_type",  "date_from",
                                            "date_to",        "text_config",
                                            "with_documents", "include_parent_context",
                                            "parent_context", "context_window",
                                            "expand",         "max_variants",
                                            "rerank",         "rerank_top_k",
                                            "no_history",     "syntax",
                                            "include_subtenants",
                                            NULL};

void srv_h_search_post(srv_request *r)
{
    lm_search_opts o;
    const char *query = NULL, *type = NULL, *doc_type = NULL, *syntax = NULL, *type_key, *meta_key,
               *ctx_key;
    json_t *arr, *v;
    long n;
    size_t i;
    int rc;

    lm_search_opts_init(&o, LM_SEARCH_OPTS_VERSION);
    if (srv_body_only(r, search_fields) < 0 ||
        srv_body_alias(r, "type", "search_type", &type_key) < 0 ||
        srv_body_alias(r, "metadata", "metadata_filter", &meta_key) < 0 ||
        srv_body_alias(r, "parent_context", "include_parent_context", &ctx_key) < 0 ||
        srv_body_str(r, "query", &query) < 0 || srv_body_str(r, type_key, &type) < 0 ||
        srv_body_object_text(r, meta_key, &o.metadata_filter) < 0 ||
        srv_body_str(r, "id_at_origin", &o.id_at_origin) < 0 ||
        srv_body_str(r, "document_type", &doc_type) < 0 ||
        srv_body_str(r, "date_from", &o.date_from) < 0 ||
        srv_body_str(r, "date_to", &o.date_to) < 0 ||
        srv_body_str(r, "text_config", &o.text_config) < 0 ||
        srv_body_str(r, "syntax", &syntax) < 0 ||
        srv_body_bool(r, "with_documents", &o.with_documents) < 0 ||
        srv_body_bool(r, ctx_key, &o.include_parent_context) < 0 ||
        srv_body_bool(r, "expand", &o.expand) < 0 || srv_body_bool(r, "rerank", &o.rerank) < 0 ||
        srv_body_bool(r, "no_history", &o.no_history) < 0 ||
        srv_body_bool(r, "include_subtenants", &o.include_subtenants) < 0 ||
        srv_body_double(r, "alpha", 0, 1, &o.alpha) < 0)
        return;
    n = o.limit;
    if (srv_body_long(r, "limit", SRV_ANY_INT, &n) < 0) /* lm_search checks the range */
        return;
    o.limit = (int)n;
#define BODY_INT(name, lo, hi, field)               \
    do {                                            \
        n = o.field;                                \
        if (srv_body_long(r, name, lo, hi, &n) < 0) \
            return;                                 \
        o.field = (int)n;                           \
    } while (0)
    BODY_INT("rrf_k", 0, 100000, rrf_k);
    BODY_INT("candidates", 0, 100000, candidates);
    BODY_INT("context_window", 0, 10, context_window);
    BODY_INT("max_variants", 0, 10, max_variants);
    BODY_INT("rerank_top_k", 0, 1000, rerank_top_k);
#undef BODY_INT
    if (query == NULL) {
        missing_query(r, "query");
        return;
    }
    if (type != NULL && (rc = lm_search_type_parse(&o.type, type)) < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    if (syntax != NULL && (rc = lm_query_syntax_parse(&o.syntax, syntax)) < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    if (doc_type != NULL) {
        if ((rc = lm_doc_type_parse(&o.doc_type, doc_type)) < 0) {
            srv_reply_lm(r, rc);
            return;
        }
        o.has_type = 1;
    }
    arr = json_object_get(r->json, "id_at_origins");
    if (arr != NULL && !json_is_null(arr)) {
        const char **list;
        if (!json_is_array(arr)) {
            srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                            "field \"id_at_origins\" must be an array of strings", NULL, NULL,
                            "id_at_origins");
            return;
        }
        list = srv_arena_alloc(&r->arena, (json_array_size(arr) + 1) * sizeof(*list));
        if (list == NULL) {
            srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
            return;
        }
        for (i = 0; i < json_array_size(arr) && (v = json_array_get(arr, i)) != NULL; i++) {
            if (!json_is_string(v)) {
                srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                                "field \"id_at_origins\" must be an array of strings", NULL, NULL,
                                "id_at_origins");
                return;
            }
            list[i] = json_string_value(v);
        }
        o.id_at_origins = list;
        o.n_id_at_origins = json_array_size(arr);
    }
    run(r, query, &o);
}

/* ---- admission weights (workers.c): the search's estimated cost, before it runs ---------- */

static long opt_long(const char *s)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return 0;
    v = strtol(s, &end, 10);
    return *end == '\0' && v > 0 ? v : 0;
}

static int opt_true(const char *s)
{
    return s != NULL && (*s == '\0' || strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

/* Only an estimate: a malformed option is read as its default here and refused by the handler. */
long srv_search_cost_get(srv_request *r)
{
    lm_search_opts o;
    const char *s;

    lm_search_opts_init(&o, LM_SEARCH_OPTS_VERSION);
    if ((s = srv_query(r, "type")) != NULL)
        (void)lm_search_type_parse(&o.type, s);
    o.limit = (int)opt_long(srv_query(r, "limit"));
    o.candidates = (int)opt_long(srv_query(r, "candidates"));
    o.expand = opt_true(srv_query(r, "expand"));
    o.max_variants = (int)opt_long(srv_query(r, "max_variants"));
    o.rerank = opt_true(srv_query(r, "rerank"));
    o.rerank_top_k = (int)opt_long(srv_query(r, "rerank_top_k"));
    return lm_search_cost(&o);
}

static long body_long(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    json_int_t n;

    if (!json_is_integer(v))
        return 0;
    n = json_integer_value(v);
    return n > 0 && n <= 1000000 ? (long)n : 0;
}

long srv_search_cost_post(srv_request *r)
{
    lm_search_opts o;
    json_t *obj, *v;
    long cost;

    lm_search_opts_init(&o, LM_SEARCH_OPTS_VERSION);
    if (r->body == NULL || r->body_len == 0 ||
        (obj = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, NULL)) == NULL)
        return lm_search_cost(&o);
    v = json_object_get(obj, "type");
    if (v == NULL)
        v = json_object_get(obj, "search_type");
    if (json_is_string(v))
        (void)lm_search_type_parse(&o.type, json_string_value(v));
    o.limit = (int)body_long(obj, "limit");
    o.candidates = (int)body_long(obj, "candidates");
    o.expand = json_is_true(json_object_get(obj, "expand"));
    o.max_variants = (int)body_long(obj, "max_variants");
    o.rerank = json_is_true(json_object_get(obj, "rerank"));
    o.rerank_top_k = (int)body_long(obj, "rerank_top_k");
    cost = lm_search_cost(&o);
    json_decref(obj);
    return cost;
}

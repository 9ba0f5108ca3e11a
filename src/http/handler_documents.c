/*
 * http/handler_documents.c: the document endpoints: POST /v1/documents (add or re-index),
 * GET /v1/documents (one page and the total), GET and DELETE /v1/documents/{document_id}, and
 * POST /v1/documents/delete (many, by ids or by metadata). Every call acts on r->tenant, never
 * on anything the client names. A credential bound to an origin sees only documents with that
 * id_at_origin: others look exactly like missing ones, and calls that would span the whole
 * tenant (list, delete by metadata) are refused.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "hash.h"
#include "internal.h"

#define MAX_DELETE_IDS 10000

static void oom(srv_request *r)
{
    srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
}

static void origin_refused(srv_request *r, const char *what)
{
    char detail[200];
    snprintf(detail, sizeof(detail),
             "The credential is bound to the origin \"%.100s\" and cannot %s.", r->who.origin,
             what);
    srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied", "credential is bound to one origin",
                    detail, NULL, NULL);
}

static void not_found(srv_request *r, const char *id)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "document \"%.80s\" does not exist", id);
    srv_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", msg, NULL, NULL, "document_id");
}

/* 1 when the tenant has document @p id and the credential may see it; 0 when not (nothing
   replied); -1 after replying (database failure). */
static int visible(srv_request *r, const char *id)
{
    lm_doc *doc = NULL;
    int rc;

    if (!lm__uuid_valid(id))
        return 0;
    rc = lm_doc_get(&doc, r->srv->mem, r->tenant, id, 0);
    if (rc == LM_ENOTFOUND || rc == LM_EINVAL)
        return 0;
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return -1;
    }
    rc = !srv_origin_bound(r) || strcmp(lm_doc_document(doc)->id_at_origin, r->who.origin) == 0;
    lm_doc_free(doc);
    return rc;
}

/* ==== add ==================================================================================== */

static const char *const add_fields[] = {"owner_id",
                                         "id_at_origin",
                                         "name",
                                         "document_name",
                                         "type",
                                         "document_type",
                                         "content",
                                         "document_date",
                                         "metadata",
                                         "text_config",
                                         "chunking_strategy",
                                         NULL};

void srv_h_doc_add(srv_request *r)
{
    lm_doc_add_opts opts;
    lm_doc_add_result res;
    lm_doc_type type = LM_DOC_TEXT;
    json_t *content, *out;
    const char *origin = NULL, *name = NULL, *type_name = NULL, *strategy = NULL;
    const char *name_key, *type_key;
    size_t max_content, len;
    int rc, bad;

    lm_doc_add_opts_init(&opts, LM_DOC_ADD_OPTS_VERSION);
    if (srv_body_only(r, add_fields) < 0 ||
        srv_body_alias(r, "name", "document_name", &name_key) < 0 ||
        srv_body_alias(r, "type", "document_type", &type_key) < 0 ||
        srv_body_str(r, "id_at_origin", &origin) < 0 || srv_body_str(r, name_key, &name) < 0 ||
        srv_body_str(r, type_key, &type_name) < 0 ||
        srv_body_str(r, "document_date", &opts.document_date) < 0 ||
        srv_body_object_text(r, "metadata", &opts.metadata) < 0 ||
        srv_body_str(r, "text_config", &opts.text_config) < 0 ||
        srv_body_str(r, "chunking_strategy", &strategy) < 0)
        return;

    content = json_object_get(r->json, "content");
    if (!json_is_string(content)) {
        srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                        content == NULL || json_is_null(content)
                            ? "field \"content\" is required"
                            : "field \"content\" must be a string",
                        NULL, NULL, "content");
        return;
    }
    len = json_string_length(content);
    max_content = r->srv->cfg.max_content ? r->srv->cfg.max_content : LM_MAX_DOC_BYTES;
    if (len > max_content) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 "The content has %zu bytes; the largest document this "
                 "server accepts has %zu.",
                 len, max_content);
        srv_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                        "document content is too large", detail, "Split the document.", "content");
        return;
    }
    if (srv_origin_bound(r)) {
        if (origin == NULL) {
            origin = r->who.origin;
        } else if (strcmp(origin, r->who.origin) != 0) {
            origin_refused(r, "add documents with another id_at_origin");
            return;
        }
    }
    if (origin == NULL) {
        srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                        "field \"id_at_origin\" is required",
                        "The id at origin is the tenant's own key for the document; adding it "
                        "again re-indexes the document.",
                        NULL, "id_at_origin");
        return;
    }
    if (name == NULL)
        name = origin;
    if (type_name != NULL && (rc = lm_doc_type_parse(&type, type_name)) < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    if (strategy != NULL) {
        if (strcasecmp(strategy, "hierarchical") == 0) {
            opts.strategy = LM_CHUNK_HIERARCHICAL;
        } else if (strcasecmp(strategy, "semantic") == 0) {
            opts.strategy = LM_CHUNK_SEMANTIC;
        } else {
            srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                            "invalid chunking strategy", NULL, "Use hierarchical or semantic.",
                            "chunking_strategy");
            return;
        }
    }

    rc = lm_doc_add(&res, r->srv->mem, r->tenant, origin, name, type, json_string_value(content),
                    len, &opts);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    if (res.queued > 0)
        srv_embedder_kick(r->srv->embedder);
    out = json_object();
    bad = srv_jset(out, "document_id", srv_jstr(res.document_id));
    bad |= srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(out, "id_at_origin", srv_jstr(origin));
    bad |= srv_jset(out, "name", srv_jstr(name));
    bad |= srv_jset(out, "type", srv_jstr(lm_doc_type_name(type)));
    bad |= srv_jset(out, "created", json_boolean(res.created));
    bad |= srv_jset(out, "chunk_count", json_integer(res.chunk_count));
    bad |= srv_jset(out, "elapsed_ms", srv_jreal(res.elapsed_ms));
    if (bad) {
        json_decref(out);
        oom(r);
        return;
    }
    srv_reply_json(r, res.created ? MHD_HTTP_CREATED : MHD_HTTP_OK, out);
    if (res.created) {
        char loc[80];
        snprintf(loc, sizeof(loc), "/v1/documents/%s", res.document_id);
        srv_reply_header(r, MHD_HTTP_HEADER_LOCATION, loc);
    }
}

/* ==== list =================================================================================== */

void srv_h_doc_list(srv_request *r)
{
    lm_doc_list_opts opts;
    lm_doc_page *page = NULL;
    lm_buf out = LM_BUF_INIT;
    const char *order_by = srv_query(r, "order_by"), *order = srv_query(r, "order");
    const char *type = srv_query(r, "type");
    long limit, offset;
    int has, rc;

    lm_doc_list_opts_init(&opts, LM_DOC_LIST_OPTS_VERSION);
    if (srv_origin_bound(r)) {
        origin_refused(r, "list the tenant's documents");
        return;
    }
    if (srv_query_long(r, "limit", SRV_ANY_INT, &limit, &has) < 0) /* lm_doc_list checks it */
        return;
    if (has)
        opts.limit = (int)limit;
    if (srv_query_long(r, "offset", 0, 2147483647L, &offset, &has) < 0)
        return;
    if (has)
        opts.offset = offset;
    if (order_by != NULL) {
        if (strcmp(order_by, "created_at") == 0) {
            opts.order_by = LM_ORDER_CREATED_AT;
        } else if (strcmp(order_by, "updated_at") == 0) {
            opts.order_by = LM_ORDER_UPDATED_AT;
        } else if (strcmp(order_by, "name") == 0 || strcmp(order_by, "document_name") == 0) {
            opts.order_by = LM_ORDER_DOCUMENT_NAME;
        } else {
            srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                            "invalid value for parameter \"order_by\"", NULL,
                            "Use created_at, updated_at or name.", "order_by");
            return;
        }
    }
    if (order != NULL) {
        if (strcasecmp(order, "asc") == 0) {
            opts.ascending = 1;
        } else if (strcasecmp(order, "desc") == 0) {
            opts.ascending = 0;
        } else {
            srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                            "invalid value for parameter \"order\"", NULL, "Use asc or desc.",
                            "order");
            return;
        }
    }
    if (type != NULL) {
        if ((rc = lm_doc_type_parse(&opts.type, type)) < 0) {
            srv_reply_lm(r, rc);
            return;
        }
        opts.has_type = 1;
    }
    opts.metadata_filter = srv_query(r, "metadata");
    if (srv_query_bool(r, "include_subtenants", &opts.include_subtenants, NULL) < 0)
        return;
    if (opts.include_subtenants && !r->who.allow_subtenants) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "the credentials do not cover sub-tenants",
                        "include_subtenants needs a key created with allow_subtenants.", NULL,
                        "include_subtenants");
        return;
    }

    rc = lm_doc_list(&page, r->srv->mem, r->tenant, &opts);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    lm__buf_putc(&out, '{');
    srv_jw_kstr(&out, "owner_id", r->tenant);
    srv_jw_kint(&out, "total", (long long)lm_doc_page_total(page));
    srv_jw_kint(&out, "offset", (long long)opts.offset);
    srv_jw_kint(&out, "limit", opts.limit);
    srv_jw_kint(&out, "count", (long long)lm_doc_page_count(page));
    lm__buf_puts(&out, ",\"documents\":[");
    for (size_t i = 0; i < lm_doc_page_count(page); i++) {
        if (i > 0)
            lm__buf_putc(&out, ',');
        srv_jw_document(&out, lm_doc_page_at(page, i));
        lm__buf_putc(&out, '}');
    }
    lm__buf_puts(&out, "]}");
    lm_doc_page_free(page);
    srv_reply_buf(r, MHD_HTTP_OK, &out);
}

/* ==== get ==================================================================================== */

void srv_h_doc_get(srv_request *r)
{
    const char *id = srv_path_param(r);
    lm_doc *doc = NULL;
    lm_buf out = LM_BUF_INIT;
    int with_chunks = 0, rc;

    if (srv_query_bool(r, "chunks", &with_chunks, NULL) < 0)
        return;
    if (!lm__uuid_valid(id)) {
        not_found(r, id);
        return;
    }
    rc = lm_doc_get(&doc, r->srv->mem, r->tenant, id, with_chunks);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    if (srv_origin_bound(r) && strcmp(lm_doc_document(doc)->id_at_origin, r->who.origin) != 0) {
        lm_doc_free(doc);
        not_found(r, id);
        return;
    }
    srv_jw_document(&out, lm_doc_document(doc));
    if (with_chunks) {
        lm__buf_puts(&out, ",\"chunks\":[");
        for (size_t i = 0; i < lm_doc_chunk_count(doc); i++) {
            if (i > 0)
                lm__buf_putc(&out, ',');
            srv_jw_chunk(&out, lm_doc_chunk_at(doc, i));
        }
        lm__buf_putc(&out, ']');
    }
    lm__buf_putc(&out, '}');
    lm_doc_free(doc);
    srv_reply_buf(r, MHD_HTTP_OK, &out);
}

/* ==== delete ================================================================================= */

static int was_deleted(const lm_id_list *ids, const char *id)
{
    for (size_t i = 0; i < lm_id_list_count(ids); i++) {
        const char *d = lm_id_list_at(ids, i);
        if (d != NULL && strcasecmp(d, id) == 0)
            return 1;
    }
    return 0;
}

/* Reply {"owner_id","deleted":[...],"not_found":[...]} for a delete of @p given (n of them, or
   none for a metadata delete). */
static void reply_deleted(
    srv_request *r, const lm_id_list *deleted, const char *const *given, size_t n, int status)
{
    json_t *out = json_object(), *arr = json_array(), *missing = json_array();
    int bad = out == NULL || arr == NULL || missing == NULL;

    for (size_t i = 0; i < lm_id_list_count(deleted) && !bad; i++)
        bad |= json_array_append_new(arr, srv_jstr(lm_id_list_at(deleted, i))) != 0;
    for (size_t i = 0; i < n && !bad; i++)
        if (!was_deleted(deleted, given[i]))
            bad |= json_array_append_new(missing, srv_jstr(given[i])) != 0;
    bad |= srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(out, "deleted", arr);
    arr = NULL;
    bad |= srv_jset(out, "not_found", missing);
    missing = NULL;
    if (bad) {
        json_decref(out);
        oom(r);
        return;
    }
    srv_reply_json(r, status, out);
}

void srv_h_doc_delete(srv_request *r)
{
    const char *id = srv_path_param(r);
    lm_id_list *deleted = NULL;
    int rc;

    if ((rc = visible(r, id)) <= 0) {
        if (rc == 0)
            not_found(r, id);
        return;
    }
    rc = lm_doc_delete(&deleted, r->srv->mem, r->tenant, &id, 1, NULL);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    if (lm_id_list_count(deleted) == 0)
        not_found(r, id); /* deleted by someone else in between */
    else
        reply_deleted(r, deleted, &id, 1, MHD_HTTP_OK);
    lm_id_list_free(deleted);
}

static const char *const delete_fields[] = {"owner_id", "document_ids", "metadata", NULL};

void srv_h_doc_delete_many(srv_request *r)
{
    json_t *ids = NULL, *v;
    const char **given = NULL, **allowed = NULL;
    const char *meta = NULL;
    lm_id_list *deleted = NULL;
    size_t n = 0, n_allowed = 0, i;
    int rc;

    if (srv_body_only(r, delete_fields) < 0 || srv_body_object_text(r, "metadata", &meta) < 0)
        return;
    ids = json_object_get(r->json, "document_ids");
    if (json_is_null(ids))
        ids = NULL;
    if (ids != NULL && !json_is_array(ids)) {
        srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                        "field \"document_ids\" must be an array of strings", NULL, NULL,
                        "document_ids");
        return;
    }
    if ((ids == NULL) == (meta == NULL)) {
        srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                        "give either \"document_ids\" or \"metadata\"",
                        "A delete names its documents by id, or by metadata they contain.", NULL,
                        "document_ids");
        return;
    }
    if (meta != NULL) {
        if (srv_origin_bound(r)) {
            origin_refused(r, "delete by metadata");
            return;
        }
        rc = lm_doc_delete(&deleted, r->srv->mem, r->tenant, NULL, 0, meta);
        if (rc < 0) {
            srv_reply_lm(r, rc);
            return;
        }
        reply_deleted(r, deleted, NULL, 0, MHD_HTTP_OK);
        lm_id_list_free(deleted);
        return;
    }

    n = json_array_size(ids);
    if (n == 0 || n > MAX_DELETE_IDS) {
        srv_reply_errorf(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                         "\"document_ids\" must have 1 to %d ids", MAX_DELETE_IDS);
        return;
    }
    given = srv_arena_alloc(&r->arena, n * sizeof(*given));
    allowed = srv_arena_alloc(&r->arena, n * sizeof(*allowed));
    if (given == NULL || allowed == NULL) {
        oom(r);
        return;
    }
    for (i = 0; i < json_array_size(ids) && (v = json_array_get(ids, i)) != NULL; i++) {
        if (!json_is_string(v)) {
            srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                            "field \"document_ids\" must be an array of strings", NULL, NULL,
                            "document_ids");
            return;
        }
        given[i] = json_string_value(v);
        /* Malformed ids name no document: they are reported as not found, like missing ones,
           instead of failing the whole batch. */
        if (!lm__uuid_valid(given[i]))
            continue;
        allowed[n_allowed++] = given[i];
    }
    if (n_allowed > 0) {
        /* An origin-bound key deletes only its origin's documents: the others are skipped in
           the same statement, like missing ones. */
        rc = srv_origin_bound(r) ? lm_doc_delete_at_origin(&deleted, r->srv->mem, r->tenant,
                                                           r->who.origin, allowed, n_allowed)
                                 : lm_doc_delete(&deleted, r->srv->mem, r->tenant, allowed,
                                                 n_allowed, NULL);
        if (rc < 0) {
            srv_reply_lm(r, rc);
            return;
        }
    }
    reply_deleted(r, deleted, given, n, MHD_HTTP_OK);
    lm_id_list_free(deleted);
}

/*
 * http/router.c: the route table and the steps every request goes through before its handler:
 * match (404/405), authenticate (401), check the scope (403), rate limit (429), check the query
 * parameters (422), read the JSON body (415/400), and choose the tenant (403). docs/openapi.yaml
 * describes the same table; tests/http checks that they agree.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "internal.h"

static const char *const p_none[] = {NULL};
static const char *const p_owner[] = {"owner_id", NULL};
static const char *const p_list[] = {"owner_id", "limit", "offset",   "order_by",
                                     "order",    "type",  "metadata", "include_subtenants",
                                     NULL};
static const char *const p_export[] = {"owner_id", "vectors", NULL};
static const char *const p_audit[] = {"owner_id", "limit", NULL};
static const char *const p_erase[] = {"owner_id", "wait", NULL};
static const char *const p_get[] = {"owner_id", "chunks", NULL};
static const char *const p_search[] = {
    "owner_id",       "q",          "type",         "limit",          "alpha",
    "rrf_k",          "candidates", "origin",       "metadata",       "document_type",
    "date_from",      "date_to",    "text_config",  "with_documents", "parent_context",
    "context_window", "expand",     "max_variants", "rerank",         "rerank_top_k",
    "no_history",     "syntax",     "include_subtenants", NULL};

enum { S_PUBLIC = 0 };

static const srv_route routes[] = {
    {0, "GET", "/healthz", srv_h_healthz, S_PUBLIC, 1, 0, p_none, NULL},
    {1, "GET", "/readyz", srv_h_readyz, S_PUBLIC, 1, 0, p_none, NULL},
    {2, "GET", "/metrics", srv_h_metrics, S_PUBLIC, 1, 0, p_none, NULL},
    {3, "POST", "/v1/documents", srv_h_doc_add, LM_SCOPE_WRITE, 0, SRV_BODY_JSON, p_owner, NULL},
    {4, "GET", "/v1/documents", srv_h_doc_list, LM_SCOPE_READ, 0, 0, p_list, NULL},
    {5, "POST", "/v1/documents/delete", srv_h_doc_delete_many, LM_SCOPE_WRITE, 0, SRV_BODY_JSON, p_owner, NULL},
    {6, "GET", "/v1/documents/{document_id}", srv_h_doc_get, LM_SCOPE_READ, 0, 0, p_get, NULL},
    {7, "DELETE", "/v1/documents/{document_id}", srv_h_doc_delete, LM_SCOPE_WRITE, 0, 0, p_owner, NULL},
    {8, "GET", "/v1/search", srv_h_search_get, LM_SCOPE_READ, 0, 0, p_search,
     srv_search_cost_get},
    {9, "POST", "/v1/search", srv_h_search_post, LM_SCOPE_READ, 0, SRV_BODY_JSON, p_owner,
     srv_search_cost_post},
    {10, "GET", "/v1/statistics", srv_h_statistics, LM_SCOPE_READ, 0, 0, p_owner, NULL},
    {11, "GET", "/v1/whoami", srv_h_whoami, LM_SCOPE_READ, 0, 0, p_none, NULL},
    {12, "GET", "/v1/keys", srv_h_keys_list, LM_SCOPE_ADMIN, 0, 0, p_owner, NULL},
    {13, "POST", "/v1/keys", srv_h_keys_create, LM_SCOPE_ADMIN, 0, SRV_BODY_JSON, p_owner, NULL},
    {14, "DELETE", "/v1/keys/{key_id}", srv_h_keys_revoke, LM_SCOPE_ADMIN, 0, 0, p_owner, NULL},
    {15, "POST", "/mcp", srv_h_mcp_post, LM_SCOPE_READ, 0, SRV_BODY_RAW, p_none, srv_mcp_cost},
    {16, "DELETE", "/mcp", srv_h_mcp_delete, LM_SCOPE_READ, 0, 0, p_none, NULL},
    {17, "GET", "/v1/export", srv_h_export, LM_SCOPE_READ, 0, 0, p_export, NULL},
    {18, "POST", "/v1/import", srv_h_import, LM_SCOPE_WRITE, 0, SRV_BODY_RAW, p_owner, NULL},
    {19, "DELETE", "/v1/tenant", srv_h_tenant_erase, LM_SCOPE_ADMIN, 0, 0, p_erase, NULL},
    {20, "GET", "/v1/audit", srv_h_audit, LM_SCOPE_ADMIN, 0, 0, p_audit, NULL},
};

#define N_ROUTES ((int)(sizeof(routes) / sizeof(routes[0])))
_Static_assert(sizeof(routes) / sizeof(routes[0]) <= SRV_MAX_ROUTES, "raise SRV_MAX_ROUTES");

int srv_route_count(void)
{
    return N_ROUTES;
}

const srv_route *srv_route_at(int id)
{
    return id >= 0 && id < N_ROUTES ? &routes[id] : NULL;
}

/* 1 when @p path matches @p pattern: literal segments equal, {name} one non-empty segment. */
static int path_matches(const char *pattern, const char *path)
{
    const char *p = pattern, *u = path;

    while (*p != '\0') {
        if (*p == '{') {
            size_t seg = strcspn(u, "/");
            if (seg == 0)
                return 0;
            u += seg;
            p = strchr(p, '}');
            if (p == NULL)
                return 0;
            p++;
            continue;
        }
        if (*p != *u)
            return 0;
        p++;
        u++;
    }
    return *u == '\0';
}

struct param_check {
    const char *const *allowed;
    const char *bad;
};

static enum MHD_Result
param_check_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct param_check *c = cls;

    (void)kind;
    (void)value;
    for (size_t i = 0; c->allowed != NULL && c->allowed[i] != NULL; i++)
        if (strcmp(c->allowed[i], key) == 0)
            return MHD_YES;
    c->bad = key;
    return MHD_NO;
}

static int check_params(srv_request *r)
{
    struct param_check c = {r->route->params, NULL};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, param_check_cb, &c);
    if (c.bad != NULL) {
        char msg[200];
        snprintf(msg, sizeof(msg), "unknown query parameter \"%.100s\"", c.bad);
        srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument", msg,
                        "This endpoint does not accept that parameter.",
                        "See docs/openapi.yaml for the parameters of each endpoint.", c.bad);
        return -1;
    }
    return 0;
}

/* application/json, with optional parameters ("; charset=utf-8"). */
static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");
    if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static int read_body(srv_request *r)
{
    json_error_t err;
    json_t *v;

    if (!is_json_type(srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        srv_reply_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                        "request body must be JSON",
                        "Send the body with \"Content-Type: application/json\".", NULL, NULL);
        return -1;
    }
    if (r->body_len == 0) {
        srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "parse_error", "request body is empty",
                        "This endpoint takes a JSON object.", NULL, NULL);
        return -1;
    }
    /* NUL escapes are allowed here: the library strips NUL from content, and short fields
       refuse it (srv_body_str). */
    v = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (v == NULL) {
        char detail[300];
        snprintf(detail, sizeof(detail), "%s at line %d, column %d.", err.text, err.line,
                 err.column);
        srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "parse_error", "request body is not valid JSON",
                        detail, NULL, NULL);
        return -1;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "parse_error",
                        "request body must be a JSON object", NULL, NULL, NULL);
        return -1;
    }
    if ((r->json = srv_arena_json(&r->arena, v)) == NULL) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return -1;
    }
    return 0;
}

static void method_not_allowed(srv_request *r)
{
    lm_buf allow = LM_BUF_INIT;

    for (int i = 0; i < N_ROUTES; i++) {
        if (!path_matches(routes[i].pattern, r->url))
            continue;
        if (allow.size > 0)
            lm__buf_puts(&allow, ", ");
        lm__buf_puts(&allow, routes[i].method);
    }
    srv_reply_errorf(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                     "method %.16s is not allowed on this path", r->method);
    if (!lm__buf_oom(&allow))
        srv_reply_header(r, MHD_HTTP_HEADER_ALLOW, allow.ptr);
    lm_buf_dispose(&allow);
}

void srv_route_match(srv_request *r)
{
    for (int i = 0; i < N_ROUTES && r->route == NULL; i++)
        if (strcmp(routes[i].method, r->method) == 0 && path_matches(routes[i].pattern, r->url))
            r->route = &routes[i];
}

int srv_dispatch_begin(srv_request *r)
{
    int path_known = 0;
    double wait;

    if (r->route == NULL)
        srv_route_match(r);
    for (int i = 0; i < N_ROUTES && r->route == NULL && !path_known; i++)
        path_known = path_matches(routes[i].pattern, r->url);
    if (r->route == NULL) {
        if (path_known)
            method_not_allowed(r);
        else
            srv_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint",
                            "See docs/openapi.yaml for the endpoints.", NULL, NULL);
        return -1;
    }
    if (r->route->scope != S_PUBLIC) {
        if (!r->authenticated && srv_authenticate(r) < 0)
            return -1;
        if ((int)r->who.scope < r->route->scope) {
            char detail[160];
            snprintf(detail, sizeof(detail),
                     "This endpoint needs the %s scope; the credential "
                     "has %s.",
                     lm_key_scope_name((lm_key_scope)r->route->scope),
                     lm_key_scope_name(r->who.scope));
            srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                            "credential scope is not sufficient", detail, NULL, NULL);
            return -1;
        }
        if (r->srv->rl != NULL && (wait = srv_ratelimit_take(r->srv->rl, r->who.owner_id)) > 0) {
            char secs[24];
            snprintf(secs, sizeof(secs), "%d", (int)(wait + 0.999) > 0 ? (int)(wait + 0.999) : 1);
            srv_metrics_rate_limited();
            srv_reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                            "too many requests for this tenant",
                            "The tenant's request rate is limited; retry after the time in "
                            "Retry-After.",
                            NULL, NULL);
            srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
            return -1;
        }
    }
    return 0;
}

void srv_dispatch_finish(srv_request *r)
{
    if (check_params(r) < 0)
        return;
    if (r->route->body == SRV_BODY_JSON && read_body(r) < 0)
        return;
    if (r->route->scope != S_PUBLIC && srv_resolve_tenant(r) < 0)
        return;
    if (r->route->scope != S_PUBLIC) {
        /* Who and from where, for the audit records this request's library calls write. */
        char actor[LM_MAX_OWNER_ID_BYTES + 8], addr[64];
        srv_audit_who(r, actor, sizeof(actor), addr, sizeof(addr));
        lm_audit_context_set(actor, addr[0] ? addr : NULL);
    }
    r->route->fn(r);
    if (r->resp == NULL && r->status == 0)
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
}

void srv_dispatch(srv_request *r)
{
    if (srv_dispatch_begin(r) == 0)
        srv_dispatch_finish(r);
}

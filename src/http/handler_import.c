/*
 * http/handler_import.c: POST /v1/import restores an export (JSON Lines, Content-Type
 * application/x-ndjson) into the tenant. The library checks the whole stream before anything is
 * written, so a truncated or corrupt body answers 400 and changes nothing. The body is bounded
 * by the server's max_body like every request body; larger tenants are imported with
 * `llmemory import`.
 */
#include <string.h>
#include <strings.h>

#include "internal.h"

typedef struct body_reader {
    const char *p;
    size_t n, pos;
} body_reader;

static long read_body(char *buf, size_t cap, void *payload)
{
    body_reader *b = payload;
    size_t k = b->n - b->pos;
    if (k > cap)
        k = cap;
    memcpy(buf, b->p + b->pos, k);
    b->pos += k;
    return (long)k;
}

static int is_ndjson(const char *ct)
{
    static const char *const types[] = {"application/x-ndjson", "application/jsonl"};
    for (size_t i = 0; ct != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i]);
        if (strncasecmp(ct, types[i], n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

void srv_h_import(srv_request *r)
{
    body_reader b = {r->body, r->body_len, 0};
    lm_import_result res;
    json_t *out;
    int rc, bad;

    if (srv_origin_bound(r)) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "credential is bound to one origin",
                        "An import writes documents of any origin; this credential sees one.",
                        NULL, NULL);
        return;
    }
    if (!is_ndjson(srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        srv_reply_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                        "request body must be JSON Lines",
                        "Send an export with \"Content-Type: application/x-ndjson\".", NULL, NULL);
        return;
    }
    rc = lm_tenant_import(&res, r->srv->mem, r->tenant, NULL, read_body, &b);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    out = json_object();
    bad = srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(out, "documents", json_integer((json_int_t)res.counts.documents));
    bad |= srv_jset(out, "documents_created", json_integer((json_int_t)res.documents_created));
    bad |= srv_jset(out, "chunks", json_integer((json_int_t)res.counts.chunks));
    bad |= srv_jset(out, "vectors_reused", json_integer((json_int_t)res.vectors_reused));
    bad |= srv_jset(out, "chunks_queued", json_integer((json_int_t)res.chunks_queued));
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, MHD_HTTP_OK, out);
}

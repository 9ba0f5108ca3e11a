/*
 * http/handler_tenant.c: DELETE /v1/tenant (admin scope) erases every trace of the tenant
 * (lm_tenant_erase_report) and answers the counts per kind. The tenant's API keys go too, the
 * one used for the request included. The tenant is invisible at once; with ?wait=false the answer
 * (202) comes then, with the documents, chunks and keys known at that point, and the server
 * deletes the rows in the background; otherwise (200) once every row is gone.
 */
#include "internal.h"

void srv_h_tenant_erase(srv_request *r)
{
    lm_erase_report rep;
    json_t *out = NULL, *del = NULL;
    int rc, bad, wait = 1, present = 0;

    if (srv_origin_bound(r)) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "credential is bound to one origin",
                        "Erasing covers the whole tenant; this credential sees one origin.", NULL,
                        NULL);
        return;
    }
    if (srv_query_bool(r, "wait", &wait, &present) < 0)
        return;
    rc = wait ? lm_tenant_erase_report(&rep, r->srv->mem, r->tenant)
              : lm_tenant_erase_start(&rep, r->srv->mem, r->tenant);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    out = json_object();
    del = json_object();
    bad = srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(del, "documents", json_integer((json_int_t)rep.documents));
    bad |= srv_jset(del, "chunks", json_integer((json_int_t)rep.chunks));
    bad |= srv_jset(del, "vectors", json_integer((json_int_t)rep.vectors));
    bad |= srv_jset(del, "queue_entries", json_integer((json_int_t)rep.queue_entries));
    bad |= srv_jset(del, "postings", json_integer((json_int_t)rep.postings));
    bad |= srv_jset(del, "terms", json_integer((json_int_t)rep.terms));
    bad |= srv_jset(del, "history", json_integer((json_int_t)rep.history));
    bad |= srv_jset(del, "vector_indexes", json_integer((json_int_t)rep.vector_indexes));
    bad |= srv_jset(del, "api_keys", json_integer((json_int_t)rep.api_keys));
    bad |= srv_jset(del, "other_rows", json_integer((json_int_t)rep.other_rows));
    bad |= srv_jset(out, "deleted", del);
    bad |= srv_jset(out, "cleanup", srv_jstr(wait ? "finished" : "pending"));
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, wait ? MHD_HTTP_OK : MHD_HTTP_ACCEPTED, out);
}

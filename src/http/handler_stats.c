/*
 * http/handler_stats.c: GET /v1/statistics (the tenant's counts, bytes, documents per type,
 * first/last additions and its searches and adds per day; the CLI's `stats --json` shape) and GET /v1/whoami (what the server made
 * of the credential: tenant, scope, origin; never the credential itself).
 */
#include "internal.h"

void srv_h_statistics(srv_request *r)
{
    lm_stats st;
    lm_usage_day days[7];
    json_t *out = NULL, *by_type = NULL, *usage = NULL, *arr = NULL;
    int rc, bad, ndays = 0;

    if (srv_origin_bound(r)) {
        srv_reply_error(
            r, MHD_HTTP_FORBIDDEN, "permission_denied", "credential is bound to one origin",
            "Statistics cover the whole tenant; this credential sees one origin.", NULL, NULL);
        return;
    }
    rc = lm_stats_get(&st, r->srv->mem, r->tenant);
    if (rc == 0)
        rc = lm_usage_days(days, 7, &ndays, r->srv->mem, r->tenant);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    out = json_object();
    by_type = json_object();
    bad = srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(out, "document_count", json_integer((json_int_t)st.document_count));
    bad |= srv_jset(out, "chunk_count", json_integer((json_int_t)st.chunk_count));
    bad |= srv_jset(out, "total_bytes", json_integer((json_int_t)st.total_bytes));
    for (int t = 0; t < LM_DOC_TYPE_COUNT; t++)
        bad |= srv_jset(by_type, lm_doc_type_name((lm_doc_type)t),
                        json_integer((json_int_t)st.by_type[t]));
    bad |= srv_jset(out, "by_type", by_type);
    bad |= srv_jset(out, "first_created", srv_jstr_or_null(st.first_created));
    bad |= srv_jset(out, "last_created", srv_jstr_or_null(st.last_created));
    usage = json_object();
    arr = json_array();
    bad |= usage == NULL || arr == NULL;
    bad |= srv_jset(usage, "searches_today", json_integer(ndays ? (json_int_t)days[0].searches : 0));
    bad |= srv_jset(usage, "adds_today", json_integer(ndays ? (json_int_t)days[0].adds : 0));
    for (int i = 0; i < ndays; i++)
        bad |= json_array_append_new(arr, json_pack("{s:s,s:I,s:I}", "day", days[i].day, "searches",
                                                    (json_int_t)days[i].searches, "adds",
                                                    (json_int_t)days[i].adds)) < 0;
    bad |= srv_jset(usage, "days", arr);
    bad |= srv_jset(out, "usage", usage);
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, MHD_HTTP_OK, out);
}

void srv_h_whoami(srv_request *r)
{
    json_t *out = json_object();
    int bad;

    bad = srv_jset(out, "owner_id", srv_jstr(r->who.owner_id));
    bad |= srv_jset(out, "auth", srv_jstr(r->auth_kind));
    bad |= srv_jset(out, "key_id", r->auth_kind[0] == 'k' ? srv_jstr(r->who.key_id) : json_null());
    bad |= srv_jset(out, "scope", srv_jstr(lm_key_scope_name(r->who.scope)));
    bad |= srv_jset(out, "origin", srv_jstr_or_null(r->who.origin));
    bad |= srv_jset(out, "allow_subtenants", json_boolean(r->who.allow_subtenants));
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, MHD_HTTP_OK, out);
}

/*
 * http/handler_audit.c: GET /v1/audit (admin scope): the tenant's audit records, newest first
 * (lm_audit_list); and the client address text the audit records carry as their source.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

void srv_addr_text(char *out, size_t n, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
    else
        snprintf(out, n, "unix");
}

void srv_audit_who(srv_request *r, char *actor, size_t na, char *addr, size_t nb)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (strcmp(r->auth_kind, "key") == 0)
        snprintf(actor, na, "key:%s", r->who.key_id);
    else
        snprintf(actor, na, "jwt:%s", r->who.owner_id);
    addr[0] = '\0';
    if (ci != NULL && ci->client_addr != NULL)
        srv_addr_text(addr, nb, ci->client_addr);
}

void srv_h_audit(srv_request *r)
{
    lm_audit_page *p = NULL;
    json_t *out, *arr;
    long limit = 100;
    int present = 0, rc, bad = 0;

    if (srv_origin_bound(r)) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "credential is bound to one origin",
                        "The audit log covers the whole tenant; this credential sees one origin.",
                        NULL, NULL);
        return;
    }
    if (srv_query_long(r, "limit", 1, 10000, &limit, &present) < 0)
        return;
    if ((rc = lm_audit_list(&p, r->srv->mem, r->tenant, (int)limit)) < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    out = json_object();
    arr = json_array();
    for (size_t i = 0; i < lm_audit_page_count(p); i++) {
        const lm_audit_entry *e = lm_audit_page_at(p, i);
        json_t *o = json_object();
        bad |= srv_jset(o, "audit_id", json_integer((json_int_t)e->audit_id));
        bad |= srv_jset(o, "at", srv_jstr(e->at));
        bad |= srv_jset(o, "actor", srv_jstr(e->actor));
        bad |= srv_jset(o, "action", srv_jstr(e->action));
        bad |= srv_jset(o, "source", srv_jstr_or_null(e->source));
        bad |= srv_jset(o, "outcome", srv_jstr(e->outcome));
        bad |= srv_jset(o, "detail", srv_jparse(e->detail));
        bad |= json_array_append_new(arr, o) < 0;
    }
    bad |= srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(out, "count", json_integer((json_int_t)lm_audit_page_count(p)));
    bad |= srv_jset(out, "records", arr);
    lm_audit_page_free(p);
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, MHD_HTTP_OK, out);
}

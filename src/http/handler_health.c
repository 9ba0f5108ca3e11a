/*
 * http/handler_health.c: the public operational endpoints: GET /healthz (the process answers),
 * GET /readyz (the database answers and every migration is applied) and GET /metrics
 * (Prometheus text). None of them needs credentials or says anything about a tenant.
 */
#include <string.h>

#include "internal.h"

void srv_h_healthz(srv_request *r)
{
    json_t *o = json_object();
    int bad = srv_jset(o, "status", json_string("ok"));
    srv_reply_json(r, MHD_HTTP_OK, bad ? NULL : o);
    if (bad)
        json_decref(o);
}

void srv_h_readyz(srv_request *r)
{
    json_t *o;
    int rc = lm_memory_ready(r->srv->mem), bad;

    if (rc < 0) {
        /* Not ready is 503 whatever the cause: a load balancer only needs "not now". */
        lm_error e = *lm_error_last();
        srv_log(SRV_LOG_WARN, r->id, "not ready", "code", lm_errname(rc), "error", e.message,
                (const char *)NULL);
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "not ready",
                        rc == LM_ECONN ? "The database cannot be reached."
                                       : "The database schema is not migrated.",
                        NULL, NULL);
        return;
    }
    o = json_object();
    bad = srv_jset(o, "status", json_string("ready"));
    bad |= srv_jset(o, "schema", srv_jstr(lm_memory_schema(r->srv->mem)));
    srv_reply_json(r, MHD_HTTP_OK, bad ? NULL : o);
    if (bad)
        json_decref(o);
}

void srv_h_metrics(srv_request *r)
{
    size_t len = 0;
    char *text = srv_metrics_render(r->srv, &len);
    srv_reply_text(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/*
 * http/handler_keys.c: API key management for a tenant's admins: GET /v1/keys, POST /v1/keys and
 * DELETE /v1/keys/{key_id}. An admin credential manages the keys of its own tenant (and of its
 * sub-tenants when it may act on them) and can never hand out more than it has: no sub-tenant
 * rights it lacks. The new key's plaintext is in the 201 reply and nowhere else.
 */
#include <string.h>

#include "internal.h"

static int refuse_origin_bound(srv_request *r)
{
    if (!srv_origin_bound(r))
        return 0;
    srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied", "credential is bound to one origin",
                    "Keys are managed by credentials of the whole tenant.", NULL, NULL);
    return -1;
}

void srv_h_keys_list(srv_request *r)
{
    lm_keys *keys = NULL;
    json_t *out, *arr;
    int rc, bad;

    if (refuse_origin_bound(r) < 0)
        return;
    rc = lm_key_list(&keys, r->srv->mem, r->tenant, r->who.allow_subtenants);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    out = json_object();
    arr = json_array();
    bad = srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(out, "count", json_integer((json_int_t)lm_keys_count(keys)));
    for (size_t i = 0; i < lm_keys_count(keys) && arr != NULL && !bad; i++)
        bad |= json_array_append_new(arr, srv_json_key_info(lm_keys_at(keys, i))) != 0;
    bad |= srv_jset(out, "keys", arr);
    lm_keys_free(keys);
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, MHD_HTTP_OK, out);
}

static const char *const create_fields[] = {"owner_id",   "origin", "scope", "allow_subtenants",
                                            "expires_at", "name",   NULL};

void srv_h_keys_create(srv_request *r)
{
    lm_key_opts o;
    lm_key_created k;
    const char *scope = NULL;
    json_t *out;
    int rc, bad;

    lm_key_opts_init(&o, LM_KEY_OPTS_VERSION);
    memset(&k, 0, sizeof(k));
    if (refuse_origin_bound(r) < 0 || srv_body_only(r, create_fields) < 0 ||
        srv_body_str(r, "origin", &o.origin) < 0 || srv_body_str(r, "scope", &scope) < 0 ||
        srv_body_bool(r, "allow_subtenants", &o.allow_subtenants) < 0 ||
        srv_body_str(r, "expires_at", &o.expires_at) < 0 || srv_body_str(r, "name", &o.name) < 0)
        return;
    if (scope != NULL && (rc = lm_key_scope_parse(&o.scope, scope)) < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    if (o.scope > r->who.scope || (o.allow_subtenants && !r->who.allow_subtenants)) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "cannot create a key with more rights than the credential",
                        "A new key's scope and sub-tenant rights are at most the creator's.", NULL,
                        o.scope > r->who.scope ? "scope" : "allow_subtenants");
        return;
    }
    rc = lm_key_create(&k, r->srv->mem, r->tenant, &o);
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    srv_log(SRV_LOG_INFO, r->id, "API key created", "key", k.key_id, "tenant", r->tenant, "scope",
            lm_key_scope_name(o.scope), (const char *)NULL);
    out = json_object();
    bad = srv_jset(out, "key_id", srv_jstr(k.key_id));
    bad |= srv_jset(out, "key", srv_jstr(k.key));
    bad |= srv_jset(out, "owner_id", srv_jstr(r->tenant));
    bad |= srv_jset(out, "origin", srv_jstr_or_null(o.origin));
    bad |= srv_jset(out, "scope", srv_jstr(lm_key_scope_name(o.scope)));
    bad |= srv_jset(out, "allow_subtenants", json_boolean(o.allow_subtenants));
    bad |= srv_jset(out, "name", srv_jstr_or_null(o.name));
    bad |= srv_jset(out, "created_at", srv_jstr(k.created_at));
    bad |= srv_jset(out, "expires_at", srv_jstr_or_null(k.expires_at));
    lm_key_created_dispose(&k);
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, MHD_HTTP_CREATED, out);
}

void srv_h_keys_revoke(srv_request *r)
{
    const char *key_id = srv_path_param(r);
    json_t *out;
    int rc, bad;

    if (refuse_origin_bound(r) < 0)
        return;
    rc = lm_key_revoke(r->srv->mem, r->tenant, r->who.allow_subtenants, key_id);
    if (rc == LM_EINVAL || rc == LM_ENOTFOUND) {
        char msg[120];
        snprintf(msg, sizeof(msg), "API key \"%.40s\" does not exist", key_id);
        srv_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", msg, NULL, NULL, "key_id");
        return;
    }
    if (rc < 0) {
        srv_reply_lm(r, rc);
        return;
    }
    srv_log(SRV_LOG_INFO, r->id, "API key revoked", "key", key_id, "tenant", r->tenant,
            (const char *)NULL);
    out = json_object();
    bad = srv_jset(out, "key_id", srv_jstr(key_id));
    bad |= srv_jset(out, "revoked", json_true());
    if (bad) {
        json_decref(out);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_json(r, MHD_HTTP_OK, out);
}

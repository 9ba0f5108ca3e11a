/*
 * http/auth.c: who is calling and for which tenant. The credential is an API key (Authorization:
 * Bearer lmk_..., or X-API-Key) checked against the key store on every request, so revocation
 * takes effect at once, or a JWT when the server is configured for them. The tenant of a request
 * is always the credential's: an owner_id in the query string or body is accepted only when the
 * credential covers it (the same owner, or a sub-tenant "<owner>/..." of a key that allows them)
 * and refused with 403 otherwise. Never log or echo a credential.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* The audit record of a refused credential (aggregated by the library, so a flood stays small):
   @p key_id the presented key's id digits when it has them, never the credential. */
static void audit_refusal(srv_request *r, const char *credential, const char *key_id,
                          const char *reason)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[64] = "";
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                  : sizeof(struct sockaddr_in);
        if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
            snprintf(addr, sizeof(addr), "unix");
        else if (getnameinfo(sa, len, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
            addr[0] = '\0';
    }
    lm_audit_auth_failure(r->srv->mem, credential, key_id, reason, addr[0] ? addr : NULL);
}

static _Thread_local const char *refused_credential; /* set by srv_authenticate() as it reads */
static _Thread_local char refused_key_id[LM_KEY_ID_LEN + 1];

static int unauthorized(srv_request *r, const char *reason, const char *message, const char *detail)
{
    srv_metrics_auth_failure(reason);
    audit_refusal(r, refused_credential, refused_key_id[0] ? refused_key_id : NULL, reason);
    srv_log(SRV_LOG_INFO, r->id, "authentication failed", "reason", reason, (const char *)NULL);
    srv_reply_error(r, MHD_HTTP_UNAUTHORIZED, "unauthenticated", message, detail,
                    "Send \"Authorization: Bearer <API key or token>\".", NULL);
    return -1;
}

/* Trim spaces and tabs at both ends of [*p, *p + *n). */
static void trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

int srv_authenticate(srv_request *r)
{
    const char *auth = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *xkey = srv_header(r, "X-API-Key");
    const char *tok;
    char *copy = NULL;
    size_t n;
    int rc;

    refused_credential = NULL;
    refused_key_id[0] = '\0';
    if (auth == NULL && xkey == NULL)
        return unauthorized(r, "missing", "no credentials",
                            "This endpoint needs an API key or a bearer token.");
    if (auth != NULL && xkey != NULL)
        return unauthorized(r, "malformed", "more than one credential",
                            "Send either an Authorization header or X-API-Key, not both.");
    if (auth != NULL) {
        if (strncasecmp(auth, "Bearer ", 7) != 0)
            return unauthorized(r, "malformed", "unsupported authorization scheme",
                                "Only the Bearer scheme is accepted.");
        tok = auth + 7;
    } else {
        tok = xkey;
    }
    n = strlen(tok);
    trim(&tok, &n);
    if (n == 0 || n > SRV_MAX_TOKEN_BYTES)
        return unauthorized(r, "malformed", "malformed credentials", NULL);
    copy = srv_arena_strndup(&r->arena, tok, n);
    if (copy == NULL) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return -1;
    }

    if (strncmp(copy, LM_KEY_PREFIX, strlen(LM_KEY_PREFIX)) == 0) {
        size_t p = strlen(LM_KEY_PREFIX);
        refused_credential = "key";
        if (n > p + LM_KEY_ID_LEN && copy[p + LM_KEY_ID_LEN] == '_')
            snprintf(refused_key_id, sizeof(refused_key_id), "%.*s", LM_KEY_ID_LEN, copy + p);
        rc = lm_key_verify(&r->who, r->srv->mem, copy);
        if (rc == LM_EPERM) {
            const char *msg = lm_error_last()->message;
            const char *reason = strstr(msg, "revoked")   ? "revoked"
                                 : strstr(msg, "expired") ? "expired"
                                                          : "invalid";
            char m[128];
            snprintf(m, sizeof(m), "%s", msg);
            return unauthorized(r, reason, m, NULL);
        }
        if (rc < 0) {
            srv_reply_lm(r, rc);
            return -1;
        }
        r->auth_kind = "key";
    } else if (strchr(copy, '.') != NULL) {
        char why[160];
        refused_credential = "jwt";
        if (r->srv->jwt == NULL)
            return unauthorized(r, "jwt_disabled", "bearer tokens are not accepted",
                                "This server accepts API keys only.");
        if (srv_jwt_verify(r->srv->jwt, copy, n, &r->who, why, sizeof(why)) < 0)
            return unauthorized(r, "jwt_invalid", "invalid bearer token", why);
        r->auth_kind = "jwt";
    } else {
        return unauthorized(r, "malformed", "invalid API key",
                            "An API key looks like lmk_<16 hex digits>_<64 hex digits>.");
    }
    r->authenticated = 1;
    r->tenant = r->who.owner_id;
    return 0;
}

int srv_operator(srv_request *r)
{
    const char *want = r->srv->cfg.operator_token;
    const char *auth = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t n;

    if (want == NULL || want[0] == '\0' || auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    auth += 7;
    while (*auth == ' ' || *auth == '\t')
        auth++;
    n = strlen(want);
    /* The length is not secret; the bytes are compared in constant time. */
    return strlen(auth) == n && sodium_memcmp(auth, want, n) == 0;
}

int srv_credential_is_key(srv_request *r)
{
    const char *auth = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *xkey = srv_header(r, "X-API-Key");
    const char *tok;

    if ((auth == NULL) == (xkey == NULL))
        return 0;
    if (auth != NULL) {
        if (strncasecmp(auth, "Bearer ", 7) != 0)
            return 0;
        tok = auth + 7;
    } else {
        tok = xkey;
    }
    while (*tok == ' ' || *tok == '\t')
        tok++;
    return strncmp(tok, LM_KEY_PREFIX, strlen(LM_KEY_PREFIX)) == 0;
}

int srv_origin_bound(const srv_request *r)
{
    return r->authenticated && r->who.origin[0] != '\0';
}

/* The owner_id a client named, from @p where ("query string" or "body"); -1 after replying. */
static int check_owner(srv_request *r, const char *given, const char *where, const char **chosen)
{
    if (given == NULL)
        return 0;
    if (given[0] == '\0') {
        char msg[80];
        snprintf(msg, sizeof(msg), "owner_id in the %s is empty", where);
        srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument", msg,
                        "Leave owner_id out to act on the credential's own tenant.", NULL,
                        "owner_id");
        return -1;
    }
    if (!lm_owner_covers(r->who.owner_id, given) ||
        (strcmp(given, r->who.owner_id) != 0 && !r->who.allow_subtenants)) {
        char detail[200];
        snprintf(detail, sizeof(detail),
                 "The tenant of a request is the credential's; the owner_id in the %s names "
                 "another tenant.",
                 where);
        srv_log(SRV_LOG_WARN, r->id, "owner_id refused", "where", where, "tenant", r->who.owner_id,
                (const char *)NULL);
        srv_reply_error(
            r, MHD_HTTP_FORBIDDEN, "permission_denied", "owner_id does not match the credentials",
            detail, "Leave owner_id out: the server takes it from the credentials.", "owner_id");
        return -1;
    }
    if (*chosen != NULL && strcmp(*chosen, given) != 0) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "owner_id differs between the query string and the body", NULL, NULL,
                        "owner_id");
        return -1;
    }
    *chosen = given;
    return 0;
}

int srv_resolve_tenant(srv_request *r)
{
    const char *chosen = NULL, *q = srv_query(r, "owner_id");
    json_t *b = r->json != NULL ? json_object_get(r->json, "owner_id") : NULL;

    if (check_owner(r, q, "query string", &chosen) < 0)
        return -1;
    if (b != NULL && !json_is_null(b)) {
        if (!json_is_string(b) || strlen(json_string_value(b)) != json_string_length(b)) {
            srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument",
                            "field \"owner_id\" must be a string without NUL characters", NULL,
                            NULL, "owner_id");
            return -1;
        }
        if (check_owner(r, json_string_value(b), "body", &chosen) < 0)
            return -1;
    }
    r->tenant = chosen != NULL ? chosen : r->who.owner_id;
    return 0;
}

/*
 * http/jwt.c: JWT bearer tokens (compact JWS). HS256 with a shared secret (libsodium's
 * HMAC-SHA-256) and RS256 with an RSA public key (OpenSSL libcrypto). The header's alg must be
 * one the server is configured for, so "none" and alg confusion (an HS256 token "signed" with the
 * RSA public key) are refused. exp is required; exp and nbf allow a small leeway; iss and aud are
 * checked when configured. The tenant comes from a configurable claim and must be a valid
 * owner_id. No token, secret or claim value is ever logged.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "validate.h"

#define MIN_SECRET_BYTES 32
#define MIN_RSA_BITS     2048

struct srv_jwt {
    unsigned char *secret; /* HS256 key, or NULL */
    size_t secret_len;
    EVP_PKEY *pkey; /* RS256 key, or NULL */
    char *tenant_claim;
    char *scope_claim;
    char *origin_claim; /* or NULL */
    lm_key_scope default_scope;
    char *issuer;   /* or NULL */
    char *audience; /* or NULL */
    int leeway_s;
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

void srv_jwt_free(srv_jwt *j)
{
    if (j == NULL)
        return;
    if (j->secret != NULL) {
        sodium_memzero(j->secret, j->secret_len);
        free(j->secret);
    }
    EVP_PKEY_free(j->pkey);
    free(j->tenant_claim);
    free(j->scope_claim);
    free(j->origin_claim);
    free(j->issuer);
    free(j->audience);
    free(j);
}

static EVP_PKEY *load_public_key(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k;

    if (f == NULL) {
        snprintf(err, errlen, "could not open JWT public key \"%s\"", path);
        return NULL;
    }
    k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL) {
        snprintf(err, errlen, "could not read JWT public key \"%s\": not a PEM public key", path);
        return NULL;
    }
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
        snprintf(err, errlen, "JWT public key \"%s\" is not an RSA key", path);
        EVP_PKEY_free(k);
        return NULL;
    }
    if (EVP_PKEY_get_bits(k) < MIN_RSA_BITS) {
        snprintf(err, errlen, "JWT public key \"%s\" is too short (%d bits, at least %d)", path,
                 EVP_PKEY_get_bits(k), MIN_RSA_BITS);
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

int srv_jwt_new(srv_jwt **out, const srv_config *cfg, char *err, size_t errlen)
{
    srv_jwt *j = NULL;

    *out = NULL;
    if (cfg->jwt_secret == NULL && cfg->jwt_public_key == NULL)
        return 0;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        goto oom;
    if (cfg->jwt_secret != NULL) {
        j->secret_len = strlen(cfg->jwt_secret);
        if (j->secret_len < MIN_SECRET_BYTES) {
            snprintf(err, errlen, "JWT secret is too short (%zu bytes, at least %d)", j->secret_len,
                     MIN_SECRET_BYTES);
            goto fail;
        }
        j->secret = malloc(j->secret_len);
        if (j->secret == NULL)
            goto oom;
        memcpy(j->secret, cfg->jwt_secret, j->secret_len);
    }
    if (cfg->jwt_public_key != NULL &&
        (j->pkey = load_public_key(cfg->jwt_public_key, err, errlen)) == NULL)
        goto fail;
    j->tenant_claim = strdup(cfg->jwt_tenant_claim ? cfg->jwt_tenant_claim : "owner_id");
    j->scope_claim = strdup(cfg->jwt_scope_claim ? cfg->jwt_scope_claim : "scope");
    j->origin_claim = dup_or_null(cfg->jwt_origin_claim);
    j->issuer = dup_or_null(cfg->jwt_issuer);
    j->audience = dup_or_null(cfg->jwt_audience);
    if (j->tenant_claim == NULL || j->scope_claim == NULL ||
        (cfg->jwt_origin_claim && !j->origin_claim) || (cfg->jwt_issuer && !j->issuer) ||
        (cfg->jwt_audience && !j->audience))
        goto oom;
    j->default_scope = LM_SCOPE_READ;
    if (cfg->jwt_default_scope != NULL &&
        lm_key_scope_parse(&j->default_scope, cfg->jwt_default_scope) < 0) {
        snprintf(err, errlen, "invalid JWT default scope \"%s\" (read, write or admin)",
                 cfg->jwt_default_scope);
        goto fail;
    }
    j->leeway_s = cfg->jwt_leeway_s >= 0 ? cfg->jwt_leeway_s : SRV_DEFAULT_JWT_LEEWAY_S;
    *out = j;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    srv_jwt_free(j);
    return -1;
}

/* base64url (no padding) of @p len bytes into a malloc'd buffer; NULL when malformed. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    const char *end = NULL;

    if (buf == NULL)
        return NULL;
    if (sodium_base642bin(buf, len / 4 * 3 + 3, s, len, NULL, out_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + len) {
        free(buf);
        return NULL;
    }
    return buf;
}

static json_t *decode_json_part(const char *s, size_t len)
{
    size_t n = 0;
    unsigned char *raw = b64url_decode(s, len, &n);
    json_t *v;

    if (raw == NULL)
        return NULL;
    v = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int verify_hs256(
    const srv_jwt *j, const char *signing, size_t slen, const unsigned char *sig, size_t siglen)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    if (siglen != sizeof(mac))
        return -1;
    crypto_auth_hmacsha256_init(&st, j->secret, j->secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, slen);
    crypto_auth_hmacsha256_final(&st, mac);
    return sodium_memcmp(mac, sig, sizeof(mac)) == 0 ? 0 : -1;
}

static int verify_rs256(
    const srv_jwt *j, const char *signing, size_t slen, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    if (ctx == NULL)
        return -1;
    if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, j->pkey) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1)
        ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)signing, slen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Numeric date claim: 0 absent, 1 present (*out set), -1 malformed. */
static int date_claim(json_t *claims, const char *name, double *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 1;
}

static int audience_ok(json_t *aud, const char *want)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (json_is_array(aud))
        for (i = 0; i < json_array_size(aud) && (v = json_array_get(aud, i)) != NULL; i++)
            if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
                return 1;
    return 0;
}

/* Highest scope named in @p v: a space-separated string or an array of strings. Words may carry
   a "llmemory:" prefix. 0 when none is named. */
static int scope_of(json_t *v)
{
    int best = 0;
    size_t i;
    json_t *e;
    const char *s;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v) && (e = json_array_get(v, i)) != NULL; i++) {
            int x = scope_of(e);
            if (x > best)
                best = x;
        }
        return best;
    }
    if (!json_is_string(v))
        return 0;
    s = json_string_value(v);
    while (*s != '\0') {
        size_t n = strcspn(s, " ");
        const char *w = s;
        if (n > 9 && strncmp(w, "llmemory:", 9) == 0) {
            w += 9;
            n -= 9;
        }
        for (int sc = LM_SCOPE_READ; sc <= LM_SCOPE_ADMIN; sc++) {
            const char *name = lm_key_scope_name((lm_key_scope)sc);
            if (strlen(name) == n && strncmp(w, name, n) == 0 && sc > best)
                best = sc;
        }
        s += n;
        while (*s == ' ')
            s++;
    }
    return best;
}

#define REFUSE(...)                         \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        goto out;                           \
    } while (0)

int srv_jwt_verify(
    const srv_jwt *j, const char *token, size_t len, lm_principal *out, char *why, size_t whylen)
{
    const char *dot1, *dot2, *alg;
    json_t *header = NULL, *claims = NULL, *v;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    double now = (double)time(NULL), exp = 0, nbf = 0;
    int rc = -1, d, scope;

    memset(out, 0, sizeof(*out));
    snprintf(why, whylen, "malformed token");
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        REFUSE("malformed token: a JWT has three dot-separated parts");
    if ((header = decode_json_part(token, (size_t)(dot1 - token))) == NULL)
        REFUSE("malformed token header");
    v = json_object_get(header, "alg");
    if (!json_is_string(v))
        REFUSE("token header has no alg");
    alg = json_string_value(v);
    if (json_object_get(header, "crit") != NULL)
        REFUSE("token header has unsupported critical extensions");
    if ((sig = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &siglen)) == NULL)
        REFUSE("malformed token signature");
    /* The alg must match a configured key exactly: "none", and HS256 where only RS256 is
       configured (alg confusion), are refused. */
    if (strcmp(alg, "HS256") == 0 && j->secret != NULL) {
        if (verify_hs256(j, token, (size_t)(dot2 - token), sig, siglen) < 0)
            REFUSE("token signature does not verify");
    } else if (strcmp(alg, "RS256") == 0 && j->pkey != NULL) {
        if (verify_rs256(j, token, (size_t)(dot2 - token), sig, siglen) < 0)
            REFUSE("token signature does not verify");
    } else {
        REFUSE("token algorithm is not accepted");
    }
    /* Only a verified payload is parsed. */
    if ((claims = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
        REFUSE("malformed token claims");
    if ((d = date_claim(claims, "exp", &exp)) <= 0)
        REFUSE(d < 0 ? "token exp is not a number" : "token has no expiry (exp)");
    if (now > exp + j->leeway_s)
        REFUSE("token has expired");
    if ((d = date_claim(claims, "nbf", &nbf)) < 0)
        REFUSE("token nbf is not a number");
    if (d > 0 && now + j->leeway_s < nbf)
        REFUSE("token is not valid yet");
    if (j->issuer != NULL) {
        v = json_object_get(claims, "iss");
        if (!json_is_string(v) || strcmp(json_string_value(v), j->issuer) != 0)
            REFUSE("token issuer is not accepted");
    }
    if (j->audience != NULL && !audience_ok(json_object_get(claims, "aud"), j->audience))
        REFUSE("token audience is not accepted");

    v = json_object_get(claims, j->tenant_claim);
    if (!json_is_string(v))
        REFUSE("token has no tenant claim \"%s\"", j->tenant_claim);
    if (!lm_owner_covers(json_string_value(v), json_string_value(v)))
        REFUSE("token tenant claim \"%s\" is not a valid owner_id", j->tenant_claim);
    snprintf(out->owner_id, sizeof(out->owner_id), "%s", json_string_value(v));
    if (j->origin_claim != NULL) {
        v = json_object_get(claims, j->origin_claim);
        if (v != NULL && !json_is_null(v)) {
            /* The library's id_at_origin rules: a token it would refuse later (422 on every
               call) is no valid credential (401 now). */
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
                lm__validate_id_at_origin(json_string_value(v), "origin") < 0) {
                lm_error_clear();
                REFUSE("token origin claim \"%s\" is invalid", j->origin_claim);
            }
            snprintf(out->origin, sizeof(out->origin), "%s", json_string_value(v));
        }
    }
    scope = scope_of(json_object_get(claims, j->scope_claim));
    out->scope = scope > 0 ? (lm_key_scope)scope : j->default_scope;
    out->allow_subtenants = json_is_true(json_object_get(claims, "allow_subtenants"));
    snprintf(out->key_id, sizeof(out->key_id), "jwt");
    rc = 0;
out:
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    free(sig);
    json_decref(header);
    json_decref(claims);
    return rc;
}

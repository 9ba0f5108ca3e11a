/*
 * tests/fuzz/jwt.c: bearer tokens (srv_jwt_verify, HS256). With the first byte even, the rest is
 * the token as a client sends it. With it odd, the rest is a header JSON and a claims JSON
 * (split at 0x1e) that the target encodes and signs with the server's secret, so that the
 * fuzzer reaches the claim checks behind the signature. A token that passes must name a valid
 * owner and a known scope.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "fuzz.h"
#include "internal.h"
#include "validate.h"

static const char secret[] = "fuzz-secret-0123456789abcdef0123456789abcdef";

static srv_jwt *verifier(void)
{
    static srv_jwt *j;
    if (j == NULL) {
        srv_config cfg;
        char err[200];
        memset(&cfg, 0, sizeof(cfg));
        cfg.jwt_secret = secret;
        cfg.jwt_issuer = "fuzz-issuer";
        cfg.jwt_audience = "llmemory";
        cfg.jwt_origin_claim = "origin";
        cfg.jwt_leeway_s = 30;
        if (srv_jwt_new(&j, &cfg, err, sizeof(err)) < 0 || j == NULL)
            abort();
    }
    return j;
}

static void b64url(lm_buf *b, const unsigned char *p, size_t n)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        lm__buf_putc(b, a[v >> 18 & 63]);
        lm__buf_putc(b, a[v >> 12 & 63]);
        if (i + 1 < n)
            lm__buf_putc(b, a[v >> 6 & 63]);
        if (i + 2 < n)
            lm__buf_putc(b, a[v & 63]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lm_buf tok = LM_BUF_INIT;
    lm_principal who;
    char why[200];

    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        lm__buf_put(&tok, (const char *)data + 1, size - 1);
    } else {
        fuzz_fields ff;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        fuzz_split(&ff, data + 1, size - 1);
        b64url(&tok, (const unsigned char *)ff.f[0], ff.len[0]);
        lm__buf_putc(&tok, '.');
        if (ff.n > 1)
            b64url(&tok, (const unsigned char *)ff.f[1], ff.len[1]);
        if (!lm__buf_oom(&tok) &&
            HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)tok.ptr,
                 tok.size, mac, &maclen) != NULL) {
            lm__buf_putc(&tok, '.');
            b64url(&tok, mac, maclen);
        }
        fuzz_fields_free(&ff);
    }
    if (!lm__buf_oom(&tok) && tok.size > 0 &&
        srv_jwt_verify(verifier(), tok.ptr, tok.size, &who, why, sizeof(why)) == 0) {
        if (lm__validate_owner_id(who.owner_id) != 0 || (int)who.scope < LM_SCOPE_READ ||
            (int)who.scope > LM_SCOPE_ADMIN)
            abort();
    }
    lm_buf_dispose(&tok);
    return 0;
}

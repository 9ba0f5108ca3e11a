/*
 * tests/fuzz/json_writer.c: the server's JSON writer (srv_jw_*, srv_jstr), which puts stored,
 * client-supplied text (names, chunk content, ids at origin) into every reply. Whatever the
 * bytes, the reply must be valid JSON, and text that is valid UTF-8 must come back unchanged.
 * Fields (split at 0x1e) are written as strings; the first 8 bytes also as a double and an
 * integer, and the double's quick formatting (srv_real10) must be printf's "%.10g" exactly.
 */
#include <jansson.h>
#include <math.h>

#include "buf.h"
#include "fuzz.h"
#include "internal.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields ff;
    lm_buf b = LM_BUF_INIT;
    json_t *v, *s;
    json_error_t err;
    double d = 0;
    long long ll = 0;
    char key[16];

    if (size >= 8) {
        memcpy(&d, data, 8);
        memcpy(&ll, data, 8);
    }
    /* The quick real formatting says exactly what printf says, or nothing. */
    {
        char quick[32], slow[40];
        if (srv_real10(quick, d) > 0) {
            snprintf(slow, sizeof(slow), "%.10g", d);
            if (strcmp(quick, slow) != 0)
                abort();
        }
    }
    fuzz_split(&ff, data, size);
    lm__buf_putc(&b, '{');
    srv_jw_kreal(&b, "real", d);
    srv_jw_kint(&b, "int", ll);
    for (int i = 0; i < ff.n; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        srv_jw_kstr(&b, key, ff.f[i]);
    }
    lm__buf_putc(&b, '}');
    if (lm__buf_oom(&b))
        abort();
    v = json_loadb(b.ptr, b.size, JSON_REJECT_DUPLICATES, &err);
    if (v == NULL || json_integer_value(json_object_get(v, "int")) != ll)
        abort();
    if (isfinite(d) != json_is_real(json_object_get(v, "real")))
        abort();
    for (int i = 0; i < ff.n; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        s = json_object_get(v, key);
        if (!json_is_string(s))
            abort();
        if (lm__utf8_valid(ff.f[i], strlen(ff.f[i])) && strcmp(json_string_value(s), ff.f[i]) != 0)
            abort();
        /* The jansson path says the same. */
        json_t *j = srv_jstr(ff.f[i]);
        if (j == NULL || strcmp(json_string_value(j), json_string_value(s)) != 0)
            abort();
        json_decref(j);
    }
    json_decref(v);
    lm_buf_dispose(&b);
    fuzz_fields_free(&ff);
    return 0;
}

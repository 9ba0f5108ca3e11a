/*
 * http/json.c: replies. The one table from library codes to HTTP statuses, error bodies
 * ({"error":{"code","message","detail",...}}), JSON replies, and the JSON form of library objects
 * (keys mirror the CLI's --json output, so a remote CLI prints what a local one does).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "internal.h"
#include "utf8.h"

/* ==== the status table ======================================================================= */

/* The one table: library code -> HTTP status. Anything else is 500. Server-made errors (401, 405,
   413 for bodies, 415, 429) are chosen where they happen and carry their own codes. */
static const struct {
    int code;
    int status;
} status_table[] = {
    {LM_EINVAL, MHD_HTTP_UNPROCESSABLE_CONTENT}, /* 422: a field the library rejected */
    {LM_EPARSE, MHD_HTTP_BAD_REQUEST},
    {LM_ENOTFOUND, MHD_HTTP_NOT_FOUND},
    {LM_EEXISTS, MHD_HTTP_CONFLICT},
    {LM_ECONFLICT, MHD_HTTP_CONFLICT},
    {LM_EPERM, MHD_HTTP_FORBIDDEN},
    {LM_ELIMIT, MHD_HTTP_CONTENT_TOO_LARGE},
    {LM_ERETRY, MHD_HTTP_SERVICE_UNAVAILABLE}, /* serialization failure: retry */
    {LM_ETIMEOUT, MHD_HTTP_SERVICE_UNAVAILABLE},
    {LM_ECONN, MHD_HTTP_SERVICE_UNAVAILABLE},
    {LM_ECANCELED, MHD_HTTP_SERVICE_UNAVAILABLE}, /* the request was cancelled (MCP) */
    {LM_ENOMEM, MHD_HTTP_INTERNAL_SERVER_ERROR},
    {LM_EDB, MHD_HTTP_INTERNAL_SERVER_ERROR},
    {LM_EIO, MHD_HTTP_INTERNAL_SERVER_ERROR},
    {LM_ERROR, MHD_HTTP_INTERNAL_SERVER_ERROR},
};

int srv_status_of(int lm_code)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
        if (status_table[i].code == lm_code)
            return status_table[i].status;
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* ==== replies ================================================================================ */

static void set_response(srv_request *r, int status, struct MHD_Response *resp, const char *ctype)
{
    if (r->resp != NULL)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
    if (resp == NULL)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

void srv_reply_text(srv_request *r, int status, const char *content_type, char *text, size_t len)
{
    struct MHD_Response *resp;

    if (text == NULL) {
        /* Out of memory: an empty 500 is the best that can be said. */
        static char empty[1];
        resp = MHD_create_response_from_buffer(0, empty, MHD_RESPMEM_PERSISTENT);
        set_response(r, MHD_HTTP_INTERNAL_SERVER_ERROR, resp, "text/plain");
        r->error_code = "out_of_memory";
        return;
    }
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        set_response(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
        return;
    }
    r->bytes_out = len;
    set_response(r, status, resp, content_type);
}

void srv_reply_stream(srv_request *r, int status, struct MHD_Response *resp, const char *content_type)
{
    set_response(r, status, resp, content_type);
}

void srv_reply_json(srv_request *r, int status, json_t *body)
{
    char *text = NULL;

    if (body != NULL)
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(body);
    if (text == NULL) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    srv_reply_text(r, status, "application/json", text, strlen(text));
}

/* {"error":{...}} of srv_reply_error(), or NULL when out of memory. */
static json_t *error_body(srv_request *r, const char *code, const char *message, const char *detail,
                          const char *hint, const char *field)
{
    json_t *body = json_object(), *err = json_object();
    int bad = 0;

    bad |= srv_jset(err, "code", srv_jstr(code));
    bad |= srv_jset(err, "message", srv_jstr(message != NULL ? message : ""));
    bad |= srv_jset(err, "detail", srv_jstr_or_null(detail));
    if (hint != NULL && hint[0] != '\0')
        bad |= srv_jset(err, "hint", srv_jstr(hint));
    if (field != NULL && field[0] != '\0')
        bad |= srv_jset(err, "field", srv_jstr(field));
    bad |= srv_jset(err, "request_id", srv_jstr(r->id));
    bad |= srv_jset(body, "error", err);
    if (bad) {
        json_decref(body);
        body = NULL;
    }
    return body;
}

void srv_reply_error(srv_request *r,
                     int status,
                     const char *code,
                     const char *message,
                     const char *detail,
                     const char *hint,
                     const char *field)
{
    json_t *body = error_body(r, code, message, detail, hint, field);
    r->error_code = code;
    srv_reply_json(r, status, body);
    r->error_code = code;
    if (status == MHD_HTTP_UNAUTHORIZED)
        srv_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"llmemory\"");
}

/* A storage quota refused the write: the error carries the kind's limit and the usage. */
static int reply_quota(srv_request *r, const char *message, const char *detail, const char *hint,
                       const char *field)
{
    static const char *const kinds[4] = {"documents", "chunks", "bytes", "vectors"};
    lm_quota_status st;
    json_t *body;
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(field, kinds[i]) == 0)
            k = i;
    if (k < 0 || r->tenant == NULL || lm_quota_get(&st, r->srv->mem, r->tenant) < 0)
        return -1;
    body = error_body(r, lm_errname(LM_ELIMIT), message, detail, hint, field);
    if (body != NULL) {
        json_t *err = json_object_get(body, "error");
        int bad = srv_jset(err, "limit", json_integer((json_int_t)(&st.limit.documents)[k]));
        bad |= srv_jset(err, "usage", json_integer((json_int_t)(&st.usage.documents)[k]));
        if (bad) {
            json_decref(body);
            body = NULL;
        }
    }
    r->error_code = lm_errname(LM_ELIMIT);
    srv_reply_json(r, srv_status_of(LM_ELIMIT), body);
    r->error_code = lm_errname(LM_ELIMIT);
    return 0;
}

void srv_reply_errorf(srv_request *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    srv_reply_error(r, status, code, msg, NULL, NULL, NULL);
}

void srv_reply_lm(srv_request *r, int rc)
{
    /* Copy first: any later library call on this thread may overwrite lm_error_last(). */
    lm_error e = *lm_error_last();
    char message[512], detail[512], hint[256], field[64];
    int status = srv_status_of(rc);

    snprintf(message, sizeof(message), "%s",
             e.message != NULL && e.message[0] != '\0' ? e.message : lm_strerror(rc));
    snprintf(detail, sizeof(detail), "%s", e.detail != NULL ? e.detail : "");
    snprintf(hint, sizeof(hint), "%s", e.hint != NULL ? e.hint : "");
    snprintf(field, sizeof(field), "%s", e.field != NULL ? e.field : "");
    if (status >= 500) {
        /* Internal details (SQL, server messages) stay in the log, tied to the request id. */
        srv_log(SRV_LOG_ERROR, r->id, "request failed", "code", lm_errname(rc), "error", message,
                "detail", detail[0] ? detail : NULL, "sqlstate", e.sqlstate[0] ? e.sqlstate : NULL,
                (const char *)NULL);
        if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
            srv_reply_error(r, status, lm_errname(rc), lm_strerror(rc),
                            "The service is temporarily unavailable; retry later.", NULL, NULL);
            srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        } else {
            srv_reply_error(r, status, lm_errname(rc), "internal server error",
                            "The server log has the details under this request id.", NULL, NULL);
        }
        return;
    }
    if (rc == LM_ELIMIT && strncmp(field, "rate_", 5) == 0) {
        /* A tenant rate of the library (adds, searches): 429 with the wait. */
        char secs[24];
        double w = lm_rate_retry_after();
        snprintf(secs, sizeof(secs), "%d", w > 0 ? (int)(w + 0.999) : 1);
        srv_reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited", message, detail, hint,
                        field);
        srv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
        return;
    }
    if (rc == LM_ELIMIT && reply_quota(r, message, detail, hint, field) == 0)
        return;
    srv_reply_error(r, status, lm_errname(rc), message, detail, hint, field);
}

void srv_reply_header(srv_request *r, const char *name, const char *value)
{
    if (r->resp != NULL)
        MHD_add_response_header(r->resp, name, value);
}

/* ==== JSON values ============================================================================ */

json_t *srv_jstr(const char *s)
{
    json_t *v;
    lm_buf fixed = LM_BUF_INIT;

    if (s == NULL)
        return json_null();
    v = json_string(s);
    if (v != NULL)
        return v;
    /* Not UTF-8: replace bad bytes with U+FFFD so the reply stays valid JSON. */
    lm__utf8_repair(&fixed, s, strlen(s));
    v = lm__buf_oom(&fixed) ? NULL : json_stringn(fixed.ptr, fixed.size);
    lm_buf_dispose(&fixed);
    return v;
}

json_t *srv_jstr_or_null(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return json_null();
    return srv_jstr(s);
}

json_t *srv_jreal(double v)
{
    if (isnan(v) || isinf(v))
        return json_null();
    return json_real(v);
}

json_t *srv_jparse(const char *text)
{
    json_t *v;
    json_error_t err;

    if (text == NULL)
        return json_null();
    v = json_loads(text, JSON_DECODE_ANY, &err);
    return v != NULL ? v : srv_jstr(text);
}

int srv_jset(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL || value == NULL) {
        json_decref(value);
        return 1;
    }
    return json_object_set_new(obj, key, value) == 0 ? 0 : 1;
}

static json_t *finish(json_t *obj, int bad)
{
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* ==== fast JSON writing ====================================================================== */

/* The large replies (search results, document pages, chunks) are written straight into an lm_buf:
   jansson's dump costs about 180 instructions per byte, which was half of the server's CPU per
   search (callgrind). Key order and value forms match the jansson replies (reals always with a
   fraction or exponent), so clients cannot tell the difference. */

#define ONES UINT64_C(0x0101010101010101)
#define HIGH UINT64_C(0x8080808080808080)
/* Non-zero when a byte of @p w is zero, or (rarely, and harmlessly here) a false alarm. */
static inline uint64_t has_zero(uint64_t w)
{
    return (w - ONES) & ~w & HIGH;
}
/* Non-zero when a byte of @p w is below 0x20 (or a false alarm after a byte >= 0x80). */
static inline uint64_t has_less_0x20(uint64_t w)
{
    return (w - ONES * 0x20) & ~w & HIGH;
}

void srv_jw_str(lm_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run;
    size_t len;

    if (s == NULL) {
        lm__buf_puts(b, "null");
        return;
    }
    len = strlen(s);
    if (!lm__utf8_valid(s, len)) {
        /* Rare: let srv_jstr replace the bad bytes. */
        json_t *v = srv_jstr(s);
        char *text = v != NULL ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        lm__buf_puts(b, text != NULL ? text : "null");
        free(text);
        json_decref(v);
        return;
    }
    lm__buf_putc(b, '"');
    run = s;
    for (const char *p = s;; p++) {
        unsigned char c;
        /* Whole words of bytes that need no escape are skipped at once: a byte below 0x20, '"'
           or '\\' marks its word (the test can also mark a word it need not; that word is then
           read byte by byte below, which is always right). The terminating NUL is < 0x20. */
        while ((size_t)(s + len - p) >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if ((has_less_0x20(w) | has_zero(w ^ ONES * '"') | has_zero(w ^ ONES * '\\')) != 0)
                break;
            p += 8;
        }
        c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        lm__buf_put(b, run, (size_t)(p - run));
        if (c == '\0')
            break;
        run = p + 1;
        lm__buf_putc(b, '\\');
        switch (c) {
        case '"':
        case '\\':
            lm__buf_putc(b, (char)c);
            break;
        case '\n':
            lm__buf_putc(b, 'n');
            break;
        case '\t':
            lm__buf_putc(b, 't');
            break;
        case '\r':
            lm__buf_putc(b, 'r');
            break;
        case '\b':
            lm__buf_putc(b, 'b');
            break;
        case '\f':
            lm__buf_putc(b, 'f');
            break;
        default: {
            char u[5] = {'u', '0', '0', hex[c >> 4], hex[c & 15]};
            lm__buf_put(b, u, 5);
        }
        }
    }
    lm__buf_putc(b, '"');
}

static void jw_str_or_null(lm_buf *b, const char *s)
{
    srv_jw_str(b, s != NULL && s[0] != '\0' ? s : NULL);
}

/* printf("%.10g", v) for 0 and 1e-4 <= |v| < 1e10 (scores, distances), without printf's arbitrary-
   precision machinery, which was a sixth of the server's instructions per search (three reals a
   hit). @return the length, or 0 when unsure (the caller then uses snprintf): the product
   |v| x 10^k (k <= 13, exact powers) is off by at most half an ulp, about 1e-6 here, so the
   rounding to 10 digits is certain unless the fraction is that close to one half. */
int srv_real10(char out[32], double v)
{
    static const double p10[] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4,
                                 1e5,  1e6,  1e7,  1e8,  1e9, 1e10};
    static const double scale[] = {1e13, 1e12, 1e11, 1e10, 1e9, 1e8, 1e7,
                                   1e6,  1e5,  1e4,  1e3,  1e2, 1e1, 1e0};
    double a = fabs(v), sc, f, frac;
    char d[10];
    int e, n = 0;
    uint64_t digits;

    if (a == 0) {
        /* A leg that did not find the hit scores it 0. */
        memcpy(out, signbit(v) ? "-0" : "0", signbit(v) ? 3 : 2);
        return signbit(v) ? 2 : 1;
    }
    if (!(a >= 1e-4 && a < 1e10))
        return 0;
    for (e = 0; e < 13 && a >= p10[e + 1]; e++)
        ;
    /* a is in [10^(e-4), 10^(e-3)); 10 significant digits: a x 10^(13-e) in [1e9, 1e10). */
    sc = a * scale[e];
    if (!(sc >= 1e9 && sc < 1e10))
        return 0;
    f = floor(sc);
    frac = sc - f;
    if (fabs(frac - 0.5) < 1e-5)
        return 0;
    digits = (uint64_t)f + (frac > 0.5);
    if (digits >= UINT64_C(10000000000))
        return 0; /* rounded up into the next decade */
    for (int i = 9; i >= 0; i--) {
        d[i] = (char)('0' + digits % 10);
        digits /= 10;
    }
    int exp10 = e - 4; /* the decimal exponent of the first digit: %g's fixed form (-4..9) */
    int last = 9;      /* trailing zeros go */
    while (last > 0 && d[last] == '0')
        last--;
    if (v < 0)
        out[n++] = '-';
    if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++)
            out[n++] = d[i];
        if (last > exp10) {
            out[n++] = '.';
            for (int i = exp10 + 1; i <= last; i++)
                out[n++] = d[i];
        }
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = exp10 + 1; i < 0; i++)
            out[n++] = '0';
        for (int i = 0; i <= last; i++)
            out[n++] = d[i];
    }
    out[n] = '\0';
    return n;
}

static void jw_real(lm_buf *b, double v)
{
    char num[40];

    if (isnan(v) || isinf(v)) {
        lm__buf_puts(b, "null");
        return;
    }
    /* The precision of the jansson replies (JSON_REAL_PRECISION(10)) and of the CLI. */
    if (srv_real10(num, v) > 0) {
        lm__buf_puts(b, num);
        if (strchr(num, '.') == NULL)
            lm__buf_puts(b, ".0");
        return;
    }
    snprintf(num, sizeof(num), "%.10g", v);
    /* Within 1e-10 of the largest double, 10 digits round past it: a number no JSON reader
       takes. All 17 digits then (they read back exactly). Only numbers that large can round
       past it, so the others are not read back. */
    if (fabs(v) > 1e308 && isinf(strtod(num, NULL)))
        snprintf(num, sizeof(num), "%.17g", v);
    lm__buf_puts(b, num);
    if (strpbrk(num, ".eE") == NULL)
        lm__buf_puts(b, ".0");
}

static void jw_key(lm_buf *b, const char *key)
{
    /* Keys are constants of this file: no escaping needed. One reservation and one copy: four
       appends each were a tenth of the instructions of a search reply. */
    size_t n = strlen(key);
    char *p;

    if (lm__buf_grow(b, n + 4) < 0)
        return;
    p = b->ptr + b->size;
    if (b->size > 0 && p[-1] != '{')
        *p++ = ',';
    *p++ = '"';
    memcpy(p, key, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    *p = '\0';
    b->size = (size_t)(p - b->ptr);
}

void srv_jw_kstr(lm_buf *b, const char *key, const char *s)
{
    jw_key(b, key);
    srv_jw_str(b, s);
}

void srv_jw_kint(lm_buf *b, const char *key, long long v)
{
    char digits[24];
    size_t i = sizeof(digits);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    jw_key(b, key);
    /* By hand: printf's machinery is most of the cost of a small number. */
    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        digits[--i] = '-';
    lm__buf_put(b, digits + i, sizeof(digits) - i);
}

void srv_jw_kreal(lm_buf *b, const char *key, double v)
{
    jw_key(b, key);
    jw_real(b, v);
}

/* JSON text made by the database (metadata): embedded as is; "{}" when NULL. */
static void jw_kraw(lm_buf *b, const char *key, const char *json_text)
{
    jw_key(b, key);
    lm__buf_puts(b, json_text != NULL && json_text[0] != '\0' ? json_text : "{}");
}

void srv_jw_document(lm_buf *b, const lm_document *d)
{
    lm__buf_putc(b, '{');
    srv_jw_kstr(b, "document_id", d->document_id);
    srv_jw_kstr(b, "owner_id", d->owner_id);
    srv_jw_kstr(b, "id_at_origin", d->id_at_origin);
    srv_jw_kstr(b, "name", d->name);
    srv_jw_kstr(b, "type", lm_doc_type_name(d->type));
    jw_key(b, "document_date");
    jw_str_or_null(b, d->document_date);
    jw_kraw(b, "metadata", d->metadata);
    srv_jw_kstr(b, "text_config", d->text_config);
    srv_jw_kstr(b, "created_at", d->created_at);
    srv_jw_kstr(b, "updated_at", d->updated_at);
    srv_jw_kint(b, "chunk_count", (long long)d->chunk_count);
    srv_jw_kint(b, "content_bytes", (long long)d->content_bytes);
    /* Left open: the caller may add "chunks" before closing. */
}

void srv_jw_chunk(lm_buf *b, const lm_chunk *c)
{
    lm__buf_putc(b, '{');
    srv_jw_kstr(b, "chunk_id", c->chunk_id);
    jw_key(b, "parent_chunk_id");
    jw_str_or_null(b, c->parent_chunk_id);
    srv_jw_kint(b, "chunk_index", c->chunk_index);
    srv_jw_kint(b, "chunk_level", c->chunk_level);
    jw_key(b, "searchable");
    lm__buf_puts(b, c->searchable ? "true" : "false");
    srv_jw_kint(b, "token_count", c->token_count);
    srv_jw_kstr(b, "content", c->content);
    srv_jw_kstr(b, "content_hash", c->content_hash);
    jw_kraw(b, "metadata", c->metadata);
    lm__buf_putc(b, '}');
}

void srv_jw_hit(lm_buf *b, const lm_hit *h)
{
    lm__buf_putc(b, '{');
    srv_jw_kint(b, "rank", h->rank);
    if (h->owner_id != NULL)
        srv_jw_kstr(b, "owner_id", h->owner_id);
    srv_jw_kreal(b, "score", h->score);
    srv_jw_kreal(b, "text_score", h->text_score);
    srv_jw_kint(b, "text_rank", h->text_rank);
    srv_jw_kreal(b, "vector_score", h->vector_score);
    srv_jw_kint(b, "vector_rank", h->vector_rank);
    srv_jw_kstr(b, "chunk_id", h->chunk_id);
    srv_jw_kstr(b, "document_id", h->document_id);
    srv_jw_kstr(b, "id_at_origin", h->id_at_origin);
    srv_jw_kstr(b, "document_name", h->document_name);
    srv_jw_kstr(b, "document_type", lm_doc_type_name(h->document_type));
    srv_jw_kint(b, "chunk_index", h->chunk_index);
    srv_jw_kint(b, "chunk_level", h->chunk_level);
    srv_jw_kstr(b, "content", h->content);
    jw_kraw(b, "metadata", h->metadata);
    /* Present only when asked for (with_documents, parent context), so a plain search looks
       exactly like the CLI's. */
    if (h->document_metadata != NULL)
        jw_kraw(b, "document_metadata", h->document_metadata);
    if (h->n_context > 0 && h->context != NULL) {
        jw_key(b, "parent_context");
        lm__buf_putc(b, '[');
        for (size_t i = 0; i < h->n_context; i++) {
            if (i > 0)
                lm__buf_putc(b, ',');
            srv_jw_chunk(b, &h->context[i]);
        }
        lm__buf_putc(b, ']');
    }
    lm__buf_putc(b, '}');
}

void srv_reply_buf(srv_request *r, int status, lm_buf *b)
{
    struct MHD_Response *resp;
    size_t len = b->size;
    char *text;

    if (lm__buf_oom(b)) {
        lm_buf_dispose(b);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    text = lm__buf_detach(b);
    if (text == NULL) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    /* The text came from the library's allocator: MHD gives it back through lm__free. */
    resp = MHD_create_response_from_buffer_with_free_callback(len, text, lm__free);
    if (resp == NULL) {
        lm__free(text);
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return;
    }
    r->bytes_out = len;
    set_response(r, status, resp, "application/json");
}

json_t *srv_json_key_info(const lm_key_info *k)
{
    json_t *o = json_object();
    int bad = 0;

    bad |= srv_jset(o, "key_id", srv_jstr(k->key_id));
    bad |= srv_jset(o, "owner_id", srv_jstr(k->owner_id));
    bad |= srv_jset(o, "origin", srv_jstr_or_null(k->origin));
    bad |= srv_jset(o, "scope", srv_jstr(lm_key_scope_name(k->scope)));
    bad |= srv_jset(o, "allow_subtenants", json_boolean(k->allow_subtenants));
    bad |= srv_jset(o, "name", srv_jstr_or_null(k->name));
    bad |= srv_jset(o, "created_at", srv_jstr(k->created_at));
    bad |= srv_jset(o, "expires_at", srv_jstr_or_null(k->expires_at));
    bad |= srv_jset(o, "revoked_at", srv_jstr_or_null(k->revoked_at));
    bad |= srv_jset(o, "last_used_at", srv_jstr_or_null(k->last_used_at));
    return finish(o, bad);
}

/*
 * embed/http.c: OpenAI-compatible embeddings client on libcurl (OpenAI, Ollama, vLLM, llama.cpp
 * server, TEI). One call splits its texts into batches, keeps up to `concurrency` requests in
 * flight on a private curl multi handle, retries 429/5xx/network failures with exponential
 * backoff and jitter (honouring Retry-After), and checks every vector's dimension.
 *
 * Not here: connection reuse across calls (each call opens its own connections; callers should
 * pass many texts per call), streaming, and non-OpenAI wire formats. The API key is never put in
 * an error message.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "embed/embed.h"
#include "embed/http.h"
#include "error.h"

#define DEFAULT_BATCH_SIZE  64
#define DEFAULT_CONCURRENCY 4
#define DEFAULT_TIMEOUT_MS  30000
#define DEFAULT_MAX_RETRIES 5
#define DEFAULT_RETRY_BASE  500
#define DEFAULT_RETRY_MAX   30000
#define CONNECT_TIMEOUT_MS  10000
#define MAX_SHOWN_BODY      200 /* bytes of a provider's error body quoted in a detail */

/* Immutable after lm_embedder_http_new(): shared by concurrent calls without locks. */
typedef struct http_cfg {
    char *url;       /* {base_url}/embeddings */
    char *shown_url; /* url without user info or query string, for messages */
    char *model;
    char *auth;     /* "Authorization: Bearer <key>", or NULL */
    size_t key_off; /* offset of the key inside auth (to scrub it from provider messages) */
    int dim, batch_size, concurrency, timeout_ms, max_retries, retry_base_ms, retry_max_ms;
    int send_dimensions;
} http_cfg;

enum { JOB_WAITING = 0, JOB_RUNNING, JOB_RETRY_WAIT, JOB_DONE };

/* One batch of texts: one request, retried as needed. */
typedef struct job {
    size_t first, count; /* texts[first .. first+count) */
    lm_buf body;         /* request JSON, built when first started */
    lm_buf resp;         /* response body of the current attempt */
    CURL *easy;
    int state;
    int attempts;             /* requests sent so far */
    long long ready_at;       /* JOB_RETRY_WAIT: monotonic ms when it may be sent again */
    long long retry_after_ms; /* Retry-After of the current attempt's response, or -1 */
    int too_big, oom;
    char errbuf[CURL_ERROR_SIZE];
} job;

typedef struct call {
    const http_cfg *cfg;
    float *out;
    const char *const *texts;
    const size_t *lens;
    job *jobs;
    size_t njobs;
    CURLM *multi;
    struct curl_slist *headers;
} call;

/* ---- process-wide initialisation ------------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_failed; /* written once under init_once */

static void global_init(void)
{
    /* curl_global_init is not thread-safe on older libcurl; sodium seeds the jitter RNG. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        init_failed = 1;
    if (sodium_init() < 0)
        init_failed = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- retry policy ---------------------------------------------------------------------------- */

long long lm__embed_retry_after_ms(const char *value, size_t len, time_t now)
{
    char tmp[64];
    while (len > 0 && (value[0] == ' ' || value[0] == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)value[len - 1]))
        len--;
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, value, len);
    tmp[len] = '\0';

    size_t digits = 0;
    while (digits < len && tmp[digits] >= '0' && tmp[digits] <= '9')
        digits++;
    if (digits == len) {
        /* delta-seconds; anything beyond a day is capped by retry_max_ms anyway */
        if (len > 6)
            return 86400000LL;
        return strtoll(tmp, NULL, 10) * 1000;
    }
    time_t t = curl_getdate(tmp, NULL);
    if (t == (time_t)-1)
        return -1;
    long long d = ((long long)t - (long long)now) * 1000;
    return d > 0 ? d : 0;
}

long long lm__embed_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t r)
{
    long long d = base_ms;
    for (int i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    if (d <= 0)
        return 0;
    /* "Equal jitter": never less than half the backoff, spread over the other half so that
       clients failing together do not come back together. */
    long long half = d / 2;
    return half + (long long)(r % (uint32_t)(d - half + 1));
}

/* ---- request body ---------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
#define CONT(b) (((b)&0xC0) == 0x80)
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && CONT(s[1]) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || !CONT(s[1]) || !CONT(s[2]))
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
            return 0; /* overlong, surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || !CONT(s[1]) || !CONT(s[2]) || !CONT(s[3]))
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
            return 0; /* overlong, > U+10FFFF */
        return 4;
    }
#undef CONT
    return 0;
}

/* JSON string literal of s; invalid UTF-8 becomes U+FFFD so that the provider accepts it. */
static void put_json_string(lm_buf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0, i = 0;
    lm__buf_putc(b, '"');
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, len - i);
            if (k > 0) {
                i += k;
                continue;
            }
        }
        lm__buf_put(b, str + run, i - run);
        switch (c) {
        case '"':
            lm__buf_puts(b, "\\\"");
            break;
        case '\\':
            lm__buf_puts(b, "\\\\");
            break;
        case '\n':
            lm__buf_puts(b, "\\n");
            break;
        case '\r':
            lm__buf_puts(b, "\\r");
            break;
        case '\t':
            lm__buf_puts(b, "\\t");
            break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                lm__buf_put(b, e, sizeof(e));
            } else {
                lm__buf_puts(b, "\\ufffd");
            }
            break;
        }
        i++;
        run = i;
    }
    lm__buf_put(b, str + run, len - run);
    lm__buf_putc(b, '"');
}

static int build_body(call *c, job *j)
{
    const http_cfg *cfg = c->cfg;
    lm_buf *b = &j->body;
    lm__buf_puts(b, "{\"model\":");
    put_json_string(b, cfg->model, strlen(cfg->model));
    lm__buf_puts(b, ",\"input\":[");
    for (size_t i = 0; i < j->count; i++) {
        if (i > 0)
            lm__buf_putc(b, ',');
        put_json_string(b, c->texts[j->first + i], c->lens[j->first + i]);
        if (b->size > LM__EMBED_MAX_REQUEST_BYTES)
            break;
    }
    lm__buf_putc(b, ']');
    if (cfg->send_dimensions)
        lm__buf_printf(b, ",\"dimensions\":%d", cfg->dim);
    lm__buf_putc(b, '}');
    if (lm__buf_oom(b))
        return LM_ENOMEM;
    if (b->size > LM__EMBED_MAX_REQUEST_BYTES) {
        lm__error_set(LM_ELIMIT, "embedding request is too large");
        lm__error_detail("A batch of %zu texts exceeds %u bytes of JSON.", j->count,
                         LM__EMBED_MAX_REQUEST_BYTES);
        lm__error_hint("Use a smaller batch_size or shorter texts.");
        return LM_ELIMIT;
    }
    return 0;
}

/* ---- curl callbacks and transfers ------------------------------------------------------------ */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    job *j = userdata;
    size_t n = size * nmemb;
    if (n > LM__EMBED_MAX_RESPONSE_BYTES - j->resp.size) {
        j->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (lm__buf_grow(&j->resp, n) < 0) {
        j->oom = 1;
        return 0;
    }
    lm__buf_put(&j->resp, ptr, n);
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    job *j = userdata;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0)
        j->retry_after_ms = -1; /* a new response (after 100 Continue, say) */
    else if (n > 12 && strncasecmp(buf, "retry-after:", 12) == 0)
        j->retry_after_ms = lm__embed_retry_after_ms(buf + 12, n - 12, time(NULL));
    return n;
}

static int easy_setup(call *c, job *j)
{
    const http_cfg *cfg = c->cfg;
    CURL *h = curl_easy_init();
    if (h == NULL) {
        lm__error_set_oom();
        return LM_ENOMEM;
    }
    j->easy = h;
    long connect_ms = cfg->timeout_ms < CONNECT_TIMEOUT_MS ? cfg->timeout_ms : CONNECT_TIMEOUT_MS;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                           \
    do {                                        \
        if (cc == CURLE_OK)                     \
            cc = curl_easy_setopt(h, opt, val); \
    } while (0)
    SET(CURLOPT_URL, cfg->url);
    SET(CURLOPT_NOSIGNAL, 1L); /* thread-safe timeouts; no SIGALRM */
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_HTTPHEADER, c->headers);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, j->body.ptr);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body.size);
    SET(CURLOPT_USERAGENT, "llmemory/" LM_VERSION_STRING);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, j);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, j);
    SET(CURLOPT_ERRORBUFFER, j->errbuf);
    SET(CURLOPT_PRIVATE, j);
#undef SET
    if (cc != CURLE_OK) {
        /* Only an old libcurl lacking an option (or OOM) gets here. */
        lm__error_set(cc == CURLE_OUT_OF_MEMORY ? LM_ENOMEM : LM_ERROR,
                      "could not configure embedding request: %s", curl_easy_strerror(cc));
        return cc == CURLE_OUT_OF_MEMORY ? LM_ENOMEM : LM_ERROR;
    }
    return 0;
}

static int job_start(call *c, job *j)
{
    int rc;
    if (j->body.size == 0 && (rc = build_body(c, j)) < 0)
        return rc;
    if (j->easy == NULL && (rc = easy_setup(c, j)) < 0)
        return rc;
    lm__buf_clear(&j->resp);
    j->too_big = j->oom = 0;
    j->retry_after_ms = -1;
    j->errbuf[0] = '\0';
    CURLMcode mc = curl_multi_add_handle(c->multi, j->easy);
    if (mc != CURLM_OK)
        return lm__error_set(mc == CURLM_OUT_OF_MEMORY ? LM_ENOMEM : LM_ERROR,
                             "could not start embedding request: %s", curl_multi_strerror(mc));
    j->state = JOB_RUNNING;
    j->attempts++;
    return 0;
}

static void job_release(job *j)
{
    if (j->easy != NULL)
        curl_easy_cleanup(j->easy);
    j->easy = NULL;
    lm_buf_dispose(&j->body);
    lm_buf_dispose(&j->resp);
}

/* ---- responses ------------------------------------------------------------------------------- */

/*
 * The provider's own words about a failure: error.message, error, message or detail from a JSON
 * body, else the start of the body. Control characters are blanked and the API key is masked.
 */
static void provider_message(const call *c, const job *j, char *msg, size_t cap)
{
    json_t *root = NULL;
    const char *text = NULL;
    size_t len = 0;
    msg[0] = '\0';
    if (j->resp.size == 0)
        return;
    root = json_loadb(j->resp.ptr, j->resp.size, 0, NULL);
    if (json_is_object(root)) {
        json_t *e = json_object_get(root, "error");
        json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
        if (!json_is_string(m))
            m = json_object_get(root, "message");
        if (!json_is_string(m))
            m = json_object_get(root, "detail");
        if (json_is_string(m)) {
            text = json_string_value(m);
            len = json_string_length(m);
        }
    }
    if (text == NULL) {
        text = j->resp.ptr;
        len = j->resp.size;
    }
    if (len > MAX_SHOWN_BODY)
        len = MAX_SHOWN_BODY;
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        msg[i] = ch < 0x20 || ch == 0x7F ? ' ' : (char)ch;
    }
    msg[len] = '\0';
    while (len > 0 && (msg[len - 1] == ' ' || msg[len - 1] == '.'))
        msg[--len] = '\0';
    json_decref(root);

    if (c->cfg->auth != NULL) {
        const char *key = c->cfg->auth + c->cfg->key_off;
        size_t kl = strlen(key);
        char *p;
        while (kl >= 4 && (p = strstr(msg, key)) != NULL)
            memset(p, '*', kl);
    }
}

static int parse_response(call *c, job *j)
{
    json_t *root = NULL;
    json_error_t jerr;
    json_t *data = NULL;
    unsigned char seen[LM__EMBED_MAX_BATCH];
    int dim = c->cfg->dim, rc = 0;

    root = json_loadb(j->resp.ptr, j->resp.size, 0, &jerr);
    if (root == NULL) {
        rc = lm__error_set(LM_EPARSE, "could not parse embedding response: %s", jerr.text);
        lm__error_detail("The response from \"%s\" is not valid JSON (line %d, column %d).",
                         c->cfg->shown_url, jerr.line, jerr.column);
        goto out;
    }
    data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        rc = lm__error_set(LM_EPARSE, "embedding response has no \"data\" array");
        goto out;
    }
    if (json_array_size(data) != j->count) {
        rc = lm__error_set(LM_EPARSE, "embedding provider returned %zu vectors for %zu texts",
                           json_array_size(data), j->count);
        goto out;
    }
    memset(seen, 0, j->count);
    for (size_t k = 0; k < j->count; k++) {
        json_t *item = json_array_get(data, k);
        json_t *jidx = json_object_get(item, "index");
        json_t *emb = json_object_get(item, "embedding");
        long long idx = json_is_integer(jidx) ? (long long)json_integer_value(jidx) : (long long)k;
        if (idx < 0 || (size_t)idx >= j->count || seen[idx]) {
            rc = lm__error_set(LM_EPARSE, "embedding response has an invalid index %lld", idx);
            lm__error_detail("A batch of %zu texts needs each index from 0 to %zu once.", j->count,
                             j->count - 1);
            goto out;
        }
        seen[idx] = 1;
        if (!json_is_array(emb)) {
            rc = lm__error_set(LM_EPARSE, "embedding response item %zu has no \"embedding\" array",
                               k);
            goto out;
        }
        if (json_array_size(emb) != (size_t)dim) {
            rc = lm__error_set(LM_EPARSE,
                               "embedding provider returned a vector of dimension %zu, expected %d",
                               json_array_size(emb), dim);
            lm__error_hint("Set the dimension to the model's output size, or enable "
                           "send_dimensions for models that can shorten their vectors.");
            goto out;
        }
        float *row = c->out + (j->first + (size_t)idx) * (size_t)dim;
        for (int d = 0; d < dim; d++) {
            json_t *v = json_array_get(emb, (size_t)d);
            double x = json_number_value(v);
            if (!json_is_number(v) || !isfinite(x) || fabs(x) > (double)FLT_MAX) {
                rc = lm__error_set(LM_EPARSE, "embedding response contains an invalid number");
                lm__error_detail("Item %zu, component %d is not a finite number.", k, d);
                goto out;
            }
            row[d] = (float)x;
        }
    }

out:
    json_decref(root);
    return rc;
}

enum { FAIL_NONE = 0, FAIL_RATE, FAIL_SERVER, FAIL_TIMEOUT, FAIL_NET };

/* Classify a failed attempt; sets the final error and returns it when it must not be retried. */
static int classify(call *c, job *j, CURLcode res, long status, int *kind)
{
    const http_cfg *cfg = c->cfg;
    char msg[MAX_SHOWN_BODY + 1];
    *kind = FAIL_NONE;

    if (res != CURLE_OK) {
        if (j->oom)
            return LM_ENOMEM;
        if (j->too_big) {
            lm__error_set(LM_ELIMIT, "embedding response is too large");
            lm__error_detail("The response exceeded %u bytes.", LM__EMBED_MAX_RESPONSE_BYTES);
            lm__error_hint("Use a smaller batch_size.");
            return LM_ELIMIT;
        }
        switch (res) {
        case CURLE_OPERATION_TIMEDOUT:
            *kind = FAIL_TIMEOUT;
            return 0;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            *kind = FAIL_NET;
            return 0;
        default:
            lm__error_set(LM_ECONN, "could not reach embedding provider at \"%s\": %s",
                          cfg->shown_url, j->errbuf[0] ? j->errbuf : curl_easy_strerror(res));
            return LM_ECONN;
        }
    }
    if (status == 429) {
        *kind = FAIL_RATE;
        return 0;
    }
    if (status >= 500 || status == 408) {
        *kind = FAIL_SERVER;
        return 0;
    }
    provider_message(c, j, msg, sizeof(msg));
    if (status == 401 || status == 403) {
        lm__error_set(LM_EPERM, "embedding provider rejected the API key");
        lm__error_detail("HTTP status %ld from \"%s\".", status, cfg->shown_url);
        if (cfg->auth == NULL)
            lm__error_hint("No API key is set: set LLMEMORY_EMBED_API_KEY or OPENAI_API_KEY.");
        else
            lm__error_hint("Check LLMEMORY_EMBED_API_KEY or OPENAI_API_KEY.");
        return LM_EPERM;
    }
    if (status == 404) {
        lm__error_set(LM_EINVAL, "embedding endpoint \"%s\" not found", cfg->shown_url);
        if (msg[0])
            lm__error_detail("HTTP status 404: %s.", msg);
        lm__error_hint("Check the base URL; OpenAI-compatible servers usually serve /v1.");
        return LM_EINVAL;
    }
    if (status == 413) {
        lm__error_set(LM_ELIMIT, "embedding request is too large for the provider");
        lm__error_hint("Use a smaller batch_size or shorter texts.");
        return LM_ELIMIT;
    }
    if (status >= 300 && status < 400) {
        lm__error_set(LM_EINVAL, "embedding provider redirected the request");
        lm__error_detail("HTTP status %ld from \"%s\"; redirects are not followed.", status,
                         cfg->shown_url);
        lm__error_hint("Use the final URL as base URL.");
        return LM_EINVAL;
    }
    lm__error_set(LM_EINVAL, "embedding provider rejected the request");
    if (msg[0])
        lm__error_detail("HTTP status %ld: %s.", status, msg);
    else
        lm__error_detail("HTTP status %ld.", status);
    return LM_EINVAL;
}

/* Final error once a batch has used up its retries. */
static int exhausted(call *c, job *j, int kind, long status)
{
    const http_cfg *cfg = c->cfg;
    char msg[MAX_SHOWN_BODY + 1];
    switch (kind) {
    case FAIL_RATE:
        lm__error_set(LM_ELIMIT, "embedding provider rate limit exceeded");
        lm__error_detail("HTTP status 429 after %d attempts.", j->attempts);
        lm__error_hint("Lower the concurrency or batch size, or allow more retries.");
        return LM_ELIMIT;
    case FAIL_TIMEOUT:
        lm__error_set(LM_ETIMEOUT, "embedding request to \"%s\" timed out", cfg->shown_url);
        lm__error_detail("No complete answer within %d ms, %d attempts.", cfg->timeout_ms,
                         j->attempts);
        return LM_ETIMEOUT;
    case FAIL_NET:
        lm__error_set(LM_ECONN, "could not reach embedding provider at \"%s\": %s", cfg->shown_url,
                      j->errbuf[0] ? j->errbuf : "network error");
        lm__error_detail("%d attempts were made.", j->attempts);
        return LM_ECONN;
    default:
        provider_message(c, j, msg, sizeof(msg));
        lm__error_set(LM_ECONN, "embedding provider failed with HTTP status %ld", status);
        if (msg[0])
            lm__error_detail("%d attempts were made. The provider said: %s.", j->attempts, msg);
        else
            lm__error_detail("%d attempts were made.", j->attempts);
        return LM_ECONN;
    }
}

/* ---- the transfer loop ----------------------------------------------------------------------- */

static int run(call *c)
{
    const http_cfg *cfg = c->cfg;
    size_t next = 0, done = 0, busy = 0; /* busy: running or waiting to retry */
    int rc = 0;

    while (done < c->njobs) {
        long long now = now_ms();
        long long wake = now + 1000;
        /* Retries first (they are older), then new batches in order. A batch waiting to retry
           keeps its slot: under rate limiting, starting more requests would only make it worse. */
        for (size_t k = done; k < next; k++) {
            job *j = &c->jobs[k];
            if (j->state != JOB_RETRY_WAIT)
                continue;
            if (j->ready_at <= now) {
                if ((rc = job_start(c, j)) < 0)
                    return rc;
            } else if (j->ready_at < wake) {
                wake = j->ready_at;
            }
        }
        while (busy < (size_t)cfg->concurrency && next < c->njobs) {
            if ((rc = job_start(c, &c->jobs[next++])) < 0)
                return rc;
            busy++;
        }

        int still = 0;
        CURLMcode mc = curl_multi_perform(c->multi, &still);
        if (mc != CURLM_OK)
            return lm__error_set(LM_ERROR, "could not run embedding requests: %s",
                                 curl_multi_strerror(mc));
        int progressed = 0;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            CURLcode res = msg->data.result;
            char *priv = NULL;
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
            job *j = (job *)(void *)priv;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(c->multi, h);
            j->state = JOB_WAITING;
            progressed = 1;

            if (res == CURLE_OK && status >= 200 && status < 300) {
                if ((rc = parse_response(c, j)) < 0)
                    return rc;
                j->state = JOB_DONE;
                job_release(j);
                busy--;
                continue;
            }
            int kind;
            if ((rc = classify(c, j, res, status, &kind)) < 0)
                return rc;
            if (j->attempts > cfg->max_retries)
                return exhausted(c, j, kind, status);
            long long wait;
            if (j->retry_after_ms >= 0 && (kind == FAIL_RATE || kind == FAIL_SERVER))
                wait =
                    j->retry_after_ms < cfg->retry_max_ms ? j->retry_after_ms : cfg->retry_max_ms;
            else
                wait = lm__embed_backoff_ms(j->attempts - 1, cfg->retry_base_ms, cfg->retry_max_ms,
                                            randombytes_random());
            j->state = JOB_RETRY_WAIT;
            j->ready_at = now_ms() + wait;
        }
        /* Batches finish out of order; `done` is the length of the finished prefix. */
        while (done < c->njobs && c->jobs[done].state == JOB_DONE)
            done++;
        if (done == c->njobs)
            break;
        if (progressed)
            continue; /* slots may have freed up: start more before waiting */

        now = now_ms();
        long long timeout = wake - now;
        if (timeout < 0)
            timeout = 0;
        mc = curl_multi_poll(c->multi, NULL, 0, (int)timeout, NULL);
        if (mc != CURLM_OK)
            return lm__error_set(LM_ERROR, "could not wait for embedding requests: %s",
                                 curl_multi_strerror(mc));
    }
    return 0;
}

static int
http_embed(void *self, float *out, int dim, const char *const *texts, const size_t *lens, size_t n)
{
    const http_cfg *cfg = self;
    call c = {cfg, out, texts, lens, NULL, 0, NULL, NULL};
    /* "Expect:" stops curl from waiting for 100 Continue before sending large bodies. */
    const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                          "Expect:", cfg->auth};
    struct curl_slist *l;
    int rc = 0;
    LM_UNUSED(dim);

    size_t bs = (size_t)cfg->batch_size;
    c.njobs = (n + bs - 1) / bs;
    c.jobs = lm__calloc(c.njobs, sizeof(*c.jobs));
    if (c.jobs == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < c.njobs; k++) {
        job *j = &c.jobs[k];
        j->first = k * bs;
        j->count = n - j->first < bs ? n - j->first : bs;
        lm_buf_init(&j->body);
        lm_buf_init(&j->resp);
        j->retry_after_ms = -1;
    }
    c.multi = curl_multi_init();
    if (c.multi == NULL) {
        lm__error_set_oom();
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        if (hdrs[i] == NULL)
            continue;
        l = curl_slist_append(c.headers, hdrs[i]);
        if (l == NULL) {
            lm__error_set_oom();
            rc = LM_ENOMEM;
            goto out;
        }
        c.headers = l;
    }
    rc = run(&c);

out:
    for (size_t k = 0; c.jobs != NULL && k < c.njobs; k++) {
        job *j = &c.jobs[k];
        if (j->state == JOB_RUNNING)
            curl_multi_remove_handle(c.multi, j->easy);
        job_release(j);
    }
    if (c.multi != NULL)
        curl_multi_cleanup(c.multi);
    curl_slist_free_all(c.headers);
    lm__free(c.jobs);
    return rc;
}

/* ---- construction ---------------------------------------------------------------------------- */

static void cfg_free(void *self)
{
    http_cfg *cfg = self;
    if (cfg == NULL)
        return;
    if (cfg->auth != NULL) {
        sodium_memzero(cfg->auth, strlen(cfg->auth));
        lm__free(cfg->auth);
    }
    lm__free(cfg->url);
    lm__free(cfg->shown_url);
    lm__free(cfg->model);
    lm__free(cfg);
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 1;
    return 0;
}

/* The URL for messages: no user info (credentials) and no query string (keys, sometimes). */
static char *shown_url(const char *url)
{
    lm_buf b = LM_BUF_INIT;
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t hl = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hl);
    lm__buf_put(&b, url, (size_t)(host - url));
    if (at != NULL) {
        lm__buf_puts(&b, "***@");
        host = at + 1;
    }
    lm__buf_put(&b, host, strcspn(host, "?#"));
    if (lm__buf_oom(&b)) {
        lm_buf_dispose(&b);
        return NULL;
    }
    return lm__buf_detach(&b);
}

static int check_range(const char *field, int v, int lo, int hi)
{
    if (v >= lo && v <= hi)
        return 0;
    return lm__error_set_field(LM_EINVAL, field, "%s %d is out of range (%d to %d)", field, v, lo,
                               hi);
}

int lm_embedder_http_new(lm_embedder **out, const lm_http_embedder_opts *opts)
{
    lm_http_embedder_opts o = LM_HTTP_EMBEDDER_OPTS_INIT;
    http_cfg *cfg = NULL;
    lm_buf b = LM_BUF_INIT;
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, http_embed, cfg_free};
    char id[LM__EMBED_ID_MAX];
    size_t ul;
    int rc = 0;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    if (opts != NULL) {
        if (opts->version != LM_HTTP_EMBEDDER_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_http_embedder_opts version %u",
                                 opts->version);
        o = *opts;
    }
    const char *url = o.base_url ? o.base_url : env_nonempty("LLMEMORY_EMBED_URL");
    const char *model = o.model ? o.model : env_nonempty("LLMEMORY_EMBED_MODEL");
    const char *key = o.api_key ? o.api_key : env_nonempty("LLMEMORY_EMBED_API_KEY");
    if (o.api_key == NULL && key == NULL)
        key = env_nonempty("OPENAI_API_KEY");
    if (key != NULL && key[0] == '\0')
        key = NULL;

    if (url == NULL || url[0] == '\0') {
        lm__error_set_field(LM_EINVAL, "base_url", "embedding provider URL is not set");
        lm__error_hint("Set base_url or LLMEMORY_EMBED_URL, e.g. https://api.openai.com/v1.");
        return LM_EINVAL;
    }
    if ((strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) ||
        has_control(url))
        return lm__error_set_field(LM_EINVAL, "base_url",
                                   "embedding provider URL must start with http:// or https://");
    if (model == NULL || model[0] == '\0') {
        lm__error_set_field(LM_EINVAL, "model", "embedding model is not set");
        lm__error_hint("Set model or LLMEMORY_EMBED_MODEL, e.g. text-embedding-3-small.");
        return LM_EINVAL;
    }
    if (strlen(model) > LM__EMBED_ID_MAX_BYTES || has_control(model))
        return lm__error_set_field(LM_EINVAL, "model",
                                   "embedding model name must be 1 to %d printable bytes",
                                   LM__EMBED_ID_MAX_BYTES);
    if (key != NULL && has_control(key))
        return lm__error_set_field(LM_EINVAL, "api_key", "API key contains a control character");
    if (o.dim == 0) {
        lm__error_set_field(LM_EINVAL, "dim", "embedding dimension is not set");
        lm__error_detail("Every vector is checked against the model's dimension.");
        return LM_EINVAL;
    }
    if (o.batch_size == 0)
        o.batch_size = DEFAULT_BATCH_SIZE;
    if (o.concurrency == 0)
        o.concurrency = DEFAULT_CONCURRENCY;
    if (o.timeout_ms == 0)
        o.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (o.max_retries == 0)
        o.max_retries = DEFAULT_MAX_RETRIES;
    else if (o.max_retries == -1)
        o.max_retries = 0;
    if (o.retry_base_ms == 0)
        o.retry_base_ms = DEFAULT_RETRY_BASE;
    if (o.retry_max_ms == 0)
        o.retry_max_ms = DEFAULT_RETRY_MAX;
    if ((rc = check_range("dim", o.dim, 1, LM_MAX_EMBED_DIM)) < 0 ||
        (rc = check_range("batch_size", o.batch_size, 1, LM__EMBED_MAX_BATCH)) < 0 ||
        (rc = check_range("concurrency", o.concurrency, 1, LM__EMBED_MAX_CONCURRENCY)) < 0 ||
        (rc = check_range("timeout_ms", o.timeout_ms, 1, 3600000)) < 0 ||
        (rc = check_range("max_retries", o.max_retries, 0, 100)) < 0 ||
        (rc = check_range("retry_base_ms", o.retry_base_ms, 1, 3600000)) < 0 ||
        (rc = check_range("retry_max_ms", o.retry_max_ms, 1, 3600000)) < 0)
        return rc;

    pthread_once(&init_once, global_init);
    if (init_failed)
        return lm__error_set(LM_ERROR, "could not initialise the HTTP client library");

    cfg = lm__calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    cfg->dim = o.dim;
    cfg->batch_size = o.batch_size;
    cfg->concurrency = o.concurrency;
    cfg->timeout_ms = o.timeout_ms;
    cfg->max_retries = o.max_retries;
    cfg->retry_base_ms = o.retry_base_ms;
    cfg->retry_max_ms = o.retry_max_ms;
    cfg->send_dimensions = o.send_dimensions != 0;

    ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        ul--;
    lm__buf_put(&b, url, ul);
    if (!(ul >= 11 && strncmp(url + ul - 11, "/embeddings", 11) == 0))
        lm__buf_puts(&b, "/embeddings");
    if (lm__buf_oom(&b)) {
        rc = LM_ENOMEM;
        goto out;
    }
    cfg->url = lm__buf_detach(&b);
    cfg->shown_url = shown_url(cfg->url);
    cfg->model = lm__strdup(model);
    if (cfg->url == NULL || cfg->shown_url == NULL || cfg->model == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (key != NULL) {
        lm__buf_puts(&b, "Authorization: Bearer ");
        cfg->key_off = b.size;
        lm__buf_puts(&b, key);
        if (lm__buf_oom(&b)) {
            rc = LM_ENOMEM;
            goto out;
        }
        cfg->auth = lm__buf_detach(&b);
        if (cfg->auth == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
    }

    if (cfg->send_dimensions)
        snprintf(id, sizeof(id), "http:%s:%d", cfg->model, cfg->dim);
    else
        snprintf(id, sizeof(id), "http:%s", cfg->model);
    rc = lm__embedder_new(out, "http", id, cfg->model, cfg->dim, 1, &ops, cfg);
    if (rc == 0)
        cfg = NULL; /* owned by the embedder now */

out:
    if (b.asize > 0)
        sodium_memzero(b.ptr, b.asize);
    lm_buf_dispose(&b);
    cfg_free(cfg);
    return rc;
}

int lm_http_embedder_opts_init(lm_http_embedder_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_HTTP_EMBEDDER_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_http_embedder_opts version %u", version);
    lm_http_embedder_opts d = LM_HTTP_EMBEDDER_OPTS_INIT;
    *opts = d;
    return 0;
}

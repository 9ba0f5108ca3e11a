/*
 * tests/integration/embed_http_test.c: the OpenAI-compatible HTTP embedder against a small HTTP
 * server that each test starts in its own process (127.0.0.1, ephemeral port, one thread per
 * connection). The server answers with deterministic vectors, or fails, stalls, rate-limits,
 * sends the wrong dimension or rejects the key, as the test asks. No PostgreSQL needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "llmemory/embed.h"
#include "runner.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* The runner leaves each test with _exit(), which skips LeakSanitizer: check explicitly. */
#define LEAK_CHECK() ASSERT(__lsan_do_recoverable_leak_check() == 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

/* ---- the test server ------------------------------------------------------------------------- */

enum {
    M_OK,          /* vectors of S.dim for every input */
    M_FAIL_N,      /* 500 for the first S.fail_n requests, then M_OK */
    M_RATE,        /* 429 + "Retry-After: S.retry_after" for the first S.fail_n, then M_OK */
    M_503_DATE,    /* 503 + Retry-After as an HTTP-date 2 s ahead for the first, then M_OK */
    M_STALL,       /* never answers (until the client gives up) */
    M_WRONG_DIM,   /* vectors of S.dim - 1 */
    M_KEY,         /* 401 unless "Authorization: Bearer good-key" */
    M_BAD_REQUEST, /* 400 with an OpenAI-style error */
    M_GARBAGE,     /* 200 with a body that is not JSON */
    M_SHORT,       /* 200 with one vector too few */
};

#define MAX_REQ 256

static struct {
    int lfd, port;
    pthread_t accept_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active, stopping;
    /* behaviour */
    int mode, fail_n, dim, delay_ms, shuffle, retry_after;
    int hold_for; /* > 0: a request waits (up to 30 s) until that many were in flight at once */
    /* observations */
    int requests, inflight, max_inflight;
    int sizes[MAX_REQ];
    long long at_ms[MAX_REQ];
    char auth[256], model[128];
    int dimensions; /* "dimensions" of the last request, or -1 */
    int bad_json;   /* a request body that did not parse */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The vector the server returns for a text: exact in float, so tests compare bit for bit. */
static float expected_component(const char *text, size_t len, int j)
{
    uint64_t x = fnv(text, len) + 0x9e3779b97f4a7c15ULL * (uint64_t)(j + 1);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    return (float)(x >> 40) / 8388608.0f - 1.0f; /* 24 bits: [-1, 1) exactly */
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Whether this connection's request is counted in S.inflight (it stops counting just before
   the response goes out: afterwards the client may already send its next request). */
static _Thread_local int counted;

static void uncount(void)
{
    if (!counted)
        return;
    counted = 0;
    pthread_mutex_lock(&S.mu);
    S.inflight--;
    pthread_mutex_unlock(&S.mu);
}

static void respond(int fd, int status, const char *extra_headers, const char *body)
{
    uncount();
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 429 ? "Too Many Requests"
                         : status == 503 ? "Service Unavailable"
                                         : "Internal Server Error";
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, reason, strlen(body), extra_headers ? extra_headers : "");
    if (send_all(fd, head, (size_t)n) == 0)
        send_all(fd, body, strlen(body));
}

/* Sleep up to ms, returning early when the client closes the connection. */
static void wait_or_hangup(int fd, int ms)
{
    long long end = mono_ms() + ms;
    for (;;) {
        long long left = end - mono_ms();
        if (left <= 0)
            return;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r > 0) {
            char c;
            if (recv(fd, &c, 1, MSG_PEEK) <= 0)
                return; /* hung up */
            /* unexpected extra bytes: just wait out the time */
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static char *vectors_json(json_t *input, int dim, int shuffle)
{
    json_t *data = json_array();
    size_t n = json_array_size(input);
    for (size_t k = 0; k < n; k++) {
        size_t i = shuffle ? n - 1 - k : k;
        json_t *t = json_array_get(input, i);
        json_t *emb = json_array();
        for (int j = 0; j < dim; j++)
            json_array_append_new(emb, json_real((double)expected_component(
                                           json_string_value(t), json_string_length(t), j)));
        json_array_append_new(data, json_pack("{s:s,s:o,s:i}", "object", "embedding", "embedding",
                                              emb, "index", (json_int_t)i));
    }
    json_t *root = json_pack("{s:s,s:o,s:s,s:{s:i,s:i}}", "object", "list", "data", data, "model",
                             S.model, "usage", "prompt_tokens", 1, "total_tokens", 1);
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    return s;
}

/* Read one request: headers, then Content-Length bytes of body. Returns 0 or -1. */
static int
read_request(int fd, char **bufp, size_t *body_at, size_t *clen, char *auth, size_t auth_cap)
{
    char *buf = *bufp;
    size_t cap = 1 << 20, len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            return -1;
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        buf[len] = '\0';
        char *e = strstr(buf, "\r\n\r\n");
        if (e != NULL) {
            *body_at = (size_t)(e - buf) + 4;
            break;
        }
        if (len >= cap - 1)
            return -1;
    }
    for (char *line = strstr(buf, "\r\n"); line && line < buf + *body_at - 2;
         line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "content-length:", 15) == 0)
            *clen = strtoul(h + 15, NULL, 10);
        else if (strncasecmp(h, "authorization:", 14) == 0)
            snprintf(auth, auth_cap, "%.*s", (int)strcspn(h + 15, "\r"), h + 15);
    }
    while (len - *body_at < *clen) {
        if (*body_at + *clen + 1 > cap) {
            cap = *body_at + *clen + 1;
            buf = realloc(buf, cap);
            *bufp = buf;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            return -1;
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
    }
    return 0;
}

/* Answer request number n according to the mode. */
static void handle(int fd, int n, json_t *req, const char *auth)
{
    json_t *input = json_object_get(req, "input");
    pthread_mutex_lock(&S.mu);
    int mode = S.mode, fail_n = S.fail_n, dim = S.dim, delay = S.delay_ms;
    pthread_mutex_unlock(&S.mu);

    if (delay > 0)
        wait_or_hangup(fd, delay);

    char hdr[128];
    switch (mode) {
    case M_FAIL_N:
        if (n <= fail_n) {
            respond(fd, 500, NULL, "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}");
            return;
        }
        break;
    case M_RATE:
        if (n <= fail_n) {
            snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", S.retry_after);
            respond(fd, 429, hdr, "{\"error\":{\"message\":\"slow down\"}}");
            return;
        }
        break;
    case M_503_DATE:
        if (n == 1) {
            time_t t = time(NULL) + 2;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(hdr, sizeof(hdr), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
            respond(fd, 503, hdr, "{\"error\":\"overloaded\"}");
            return;
        }
        break;
    case M_STALL:
        wait_or_hangup(fd, 10000);
        return;
    case M_WRONG_DIM:
        dim--;
        break;
    case M_KEY:
        if (strcmp(auth, "Bearer good-key") != 0) {
            respond(fd, 401, NULL,
                    "{\"error\":{\"message\":\"Incorrect API key provided: wrong-key\","
                    "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
            return;
        }
        break;
    case M_BAD_REQUEST:
        respond(fd, 400, NULL,
                "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens\","
                "\"type\":\"invalid_request_error\"}}");
        return;
    case M_GARBAGE:
        respond(fd, 200, NULL, "<html>oops</html>");
        return;
    case M_SHORT:
        json_array_remove(input, 0);
        break;
    default:
        break;
    }
    char *body = vectors_json(input, dim, S.shuffle);
    respond(fd, 200, NULL, body);
    free(body);
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(1 << 20);
    size_t body_at = 0, clen = 0;
    char auth[256] = "";

    if (read_request(fd, &buf, &body_at, &clen, auth, sizeof(auth)) == 0) {
        json_t *req = json_loadb(buf + body_at, clen, JSON_ALLOW_NUL, NULL);
        json_t *input = json_object_get(req, "input");
        json_t *dims = json_object_get(req, "dimensions");
        const char *model = json_string_value(json_object_get(req, "model"));
        pthread_mutex_lock(&S.mu);
        int n = ++S.requests;
        counted = 1;
        if (++S.inflight > S.max_inflight)
            S.max_inflight = S.inflight;
        if (S.hold_for > 0) {
            /* An event, not a delay: a concurrent client gets there at once, a sequential one
               only after the deadline, and then max_inflight tells. */
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 30;
            pthread_cond_broadcast(&S.cv);
            while (S.max_inflight < S.hold_for && !S.stopping)
                if (pthread_cond_timedwait(&S.cv, &S.mu, &dl) != 0)
                    break;
        }
        if (n <= MAX_REQ) {
            S.sizes[n - 1] = (int)json_array_size(input);
            S.at_ms[n - 1] = mono_ms();
        }
        snprintf(S.auth, sizeof(S.auth), "%s", auth);
        snprintf(S.model, sizeof(S.model), "%s", model ? model : "");
        S.dimensions = json_is_integer(dims) ? (int)json_integer_value(dims) : -1;
        if (!json_is_array(input))
            S.bad_json = 1;
        pthread_mutex_unlock(&S.mu);

        handle(fd, n, req, auth);
        uncount();
        json_decref(req);
    }
    free(buf);
    close(fd);
    pthread_mutex_lock(&S.mu);
    S.active--;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR && !S.stopping)
                continue;
            return NULL;
        }
        pthread_mutex_lock(&S.mu);
        S.active++;
        pthread_mutex_unlock(&S.mu);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, serve_conn, (void *)(intptr_t)fd) != 0) {
            close(fd);
            pthread_mutex_lock(&S.mu);
            S.active--;
            pthread_mutex_unlock(&S.mu);
        }
        pthread_attr_destroy(&at);
    }
}

static void server_start(int mode)
{
    S.mode = mode;
    S.dim = 8;
    S.dimensions = -1;
    S.retry_after = 1;
    S.lfd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(S.lfd >= 0);
    int one = 1;
    setsockopt(S.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT(bind(S.lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ASSERT(listen(S.lfd, 64) == 0);
    socklen_t al = sizeof(a);
    ASSERT(getsockname(S.lfd, (struct sockaddr *)&a, &al) == 0);
    S.port = ntohs(a.sin_port);
    ASSERT(pthread_create(&S.accept_thread, NULL, accept_loop, NULL) == 0);
}

/* Stop accepting, wait for the connection threads, then check for leaks. */
static void server_stop(void)
{
    S.stopping = 1;
    shutdown(S.lfd, SHUT_RDWR);
    pthread_join(S.accept_thread, NULL);
    close(S.lfd);
    pthread_mutex_lock(&S.mu);
    while (S.active > 0)
        pthread_cond_wait(&S.cv, &S.mu);
    pthread_mutex_unlock(&S.mu);
    /* let detached threads finish unwinding before the leak check */
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
    LEAK_CHECK();
}

/* ---- client helpers -------------------------------------------------------------------------- */

static char url[64];

static void clear_env(void)
{
    unsetenv("LLMEMORY_EMBED_API_KEY");
    unsetenv("OPENAI_API_KEY");
    unsetenv("LLMEMORY_EMBED_URL");
    unsetenv("LLMEMORY_EMBED_MODEL");
}

static lm_http_embedder_opts opts(void)
{
    clear_env();
    lm_http_embedder_opts o = LM_HTTP_EMBEDDER_OPTS_INIT;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", S.port);
    o.base_url = url;
    o.model = "test-model";
    o.dim = 8;
    o.timeout_ms = 5000;
    o.retry_base_ms = 10;
    o.retry_max_ms = 5000;
    return o;
}

static lm_embedder *client(const lm_http_embedder_opts *o)
{
    lm_embedder *e = NULL;
    ASSERT_OK(lm_embedder_http_new(&e, o));
    return e;
}

static void
check_vectors(const float *v, const char *const *texts, const size_t *lens, size_t n, int dim)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]);
        for (int j = 0; j < dim; j++)
            if (v[i * (size_t)dim + (size_t)j] != expected_component(texts[i], len, j))
                lm_test_fail(__FILE__, __LINE__, "text %zu component %d: %g != %g", i, j,
                             (double)v[i * (size_t)dim + (size_t)j],
                             (double)expected_component(texts[i], len, j));
    }
}

/* ---- tests ----------------------------------------------------------------------------------- */

TEST(test_embed_http__success)
{
    server_start(M_OK);
    lm_http_embedder_opts o = opts();
    lm_embedder *e = client(&o);
    ASSERT_EQ_STR(lm_embedder_kind(e), "http");
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "http:test-model");
    ASSERT_EQ_STR(lm_embedder_model(e), "test-model");
    /* JSON escaping round trip: quotes, backslashes, control characters, UTF-8, a NUL */
    const char *texts[] = {"hello world", "quote \" backslash \\ slash /", "tab\tnl\ncr\r\x01\x1f",
                           "caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x99\x82", "nul\0inside"};
    size_t lens[] = {strlen(texts[0]), strlen(texts[1]), strlen(texts[2]), strlen(texts[3]), 10};
    float v[5 * 8];
    ASSERT_OK(lm_embedder_embed(e, v, texts, lens, 5));
    check_vectors(v, texts, lens, 5, 8);
    ASSERT_EQ_INT(S.requests, 1);
    ASSERT_EQ_INT(S.sizes[0], 5);
    /* invalid UTF-8 is sent as U+FFFD, so that the provider accepts the JSON */
    const char *bad[] = {"ab\xff", "\xed\xa0\x80z"};
    const char *fixed[] = {"ab\xef\xbf\xbd", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz"};
    ASSERT_OK(lm_embedder_embed(e, v, bad, NULL, 2));
    check_vectors(v, fixed, NULL, 2, 8);
    ASSERT_EQ_STR(S.model, "test-model");
    ASSERT_EQ_STR(S.auth, "");       /* no key configured: no Authorization header */
    ASSERT_EQ_INT(S.dimensions, -1); /* not sent unless asked */
    ASSERT_EQ_INT(S.bad_json, 0);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__batching_and_order)
{
    server_start(M_OK);
    S.shuffle = 1; /* responses list the vectors in reverse, with "index" telling the order */
    lm_http_embedder_opts o = opts();
    o.batch_size = 3;
    o.concurrency = 1;
    lm_embedder *e = client(&o);
    const char *texts[10] = {"zero", "one", "two",   "three", "four",
                             "five", "six", "seven", "eight", "nine"};
    float v[10 * 8];
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 10));
    check_vectors(v, texts, NULL, 10, 8);
    ASSERT_EQ_INT(S.requests, 4);
    ASSERT_EQ_INT(S.sizes[0], 3);
    ASSERT_EQ_INT(S.sizes[1], 3);
    ASSERT_EQ_INT(S.sizes[2], 3);
    ASSERT_EQ_INT(S.sizes[3], 1);
    ASSERT_EQ_INT(S.max_inflight, 1);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__concurrency)
{
    server_start(M_OK);
    S.hold_for = 4; /* the first requests are answered once four are in flight together */
    lm_http_embedder_opts o = opts();
    o.batch_size = 1;
    o.concurrency = 4;
    lm_embedder *e = client(&o);
    const char *texts[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    float v[8 * 8];
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 8));
    check_vectors(v, texts, NULL, 8, 8);
    ASSERT_EQ_INT(S.requests, 8);
    ASSERT_EQ_INT(S.max_inflight, 4); /* not one after the other, and never more than 4 */
    lm_embedder_free(e);
    server_stop();
}

/* Several threads share one embedder. */
static lm_embedder *shared;
static void *thread_embed(void *arg)
{
    const char *texts[3] = {arg, "common", "x"};
    float v[3 * 8];
    intptr_t rc = lm_embedder_embed(shared, v, texts, NULL, 3);
    for (int j = 0; rc == 0 && j < 8; j++)
        if (v[j] != expected_component(texts[0], strlen(texts[0]), j))
            rc = 1;
    return (void *)rc;
}

TEST(test_embed_http__threads_share_an_embedder)
{
    server_start(M_OK);
    lm_http_embedder_opts o = opts();
    o.batch_size = 1;
    shared = client(&o);
    static const char *words[4] = {"alpha", "beta", "gamma", "delta"};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ASSERT(pthread_create(&t[i], NULL, thread_embed, (void *)(uintptr_t)words[i]) == 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        ASSERT(rc == NULL);
    }
    ASSERT_EQ_INT(S.requests, 12);
    lm_embedder_free(shared);
    server_stop();
}

TEST(test_embed_http__rate_limit_honours_retry_after)
{
    server_start(M_RATE);
    S.fail_n = 1;
    S.retry_after = 1;
    lm_http_embedder_opts o = opts(); /* backoff alone would wait 5-10 ms */
    lm_embedder *e = client(&o);
    const char *texts[2] = {"one", "two"};
    float v[2 * 8];
    long long t0 = mono_ms();
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 2));
    long long ms = mono_ms() - t0;
    check_vectors(v, texts, NULL, 2, 8);
    ASSERT_EQ_INT(S.requests, 2);
    long long gap = S.at_ms[1] - S.at_ms[0];
    ASSERT(gap >= 950);
    /* Upper bounds only catch gross errors (a wait of the wrong unit): a loaded machine may
       be slow by seconds, never by tens of seconds. */
    ASSERT(ms < 30000);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__retry_after_is_capped)
{
    server_start(M_RATE);
    S.fail_n = 1;
    S.retry_after = 3600; /* an hour: capped by retry_max_ms */
    lm_http_embedder_opts o = opts();
    o.retry_max_ms = 300;
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    long long t0 = mono_ms();
    ASSERT_OK(lm_embedder_embed(e, v, &t, NULL, 1));
    long long ms = mono_ms() - t0;
    ASSERT(ms >= 250);
    ASSERT(ms < 30000); /* the uncapped wait is an hour */
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__retry_after_http_date)
{
    server_start(M_503_DATE);
    lm_http_embedder_opts o = opts();
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    ASSERT_OK(lm_embedder_embed(e, v, &t, NULL, 1));
    ASSERT_EQ_INT(S.requests, 2);
    long long gap = S.at_ms[1] - S.at_ms[0];
    ASSERT(gap >= 900); /* the date has one-second resolution: 1-2 s ahead */
    ASSERT(gap < 30000);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__rate_limit_exhausted)
{
    server_start(M_RATE);
    S.fail_n = 1000;
    S.retry_after = 0;
    lm_http_embedder_opts o = opts();
    o.max_retries = 2;
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_ELIMIT);
    ASSERT(strstr(lm_error_last()->message, "rate limit") != NULL);
    ASSERT(strstr(lm_error_last()->detail, "3 attempts") != NULL);
    ASSERT_EQ_INT(S.requests, 3);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__server_error_then_success)
{
    server_start(M_FAIL_N);
    S.fail_n = 2;
    lm_http_embedder_opts o = opts();
    lm_embedder *e = client(&o);
    const char *texts[3] = {"a", "b", "c"};
    float v[3 * 8];
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 3));
    check_vectors(v, texts, NULL, 3, 8);
    ASSERT_EQ_INT(S.requests, 3);
    /* exponential backoff: 10 ms then 20 ms (with jitter: at least 5 and 10) */
    ASSERT(S.at_ms[1] - S.at_ms[0] >= 5);
    ASSERT(S.at_ms[2] - S.at_ms[1] >= 10);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__server_error_exhausted)
{
    server_start(M_FAIL_N);
    S.fail_n = 1000;
    lm_http_embedder_opts o = opts();
    o.max_retries = 2;
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_ECONN);
    ASSERT(strstr(lm_error_last()->message, "HTTP status 500") != NULL);
    ASSERT(strstr(lm_error_last()->detail, "boom") != NULL);
    ASSERT_EQ_INT(S.requests, 3);
    /* -1: no retries at all */
    lm_embedder_free(e);
    S.requests = 0;
    o.max_retries = -1;
    e = client(&o);
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_ECONN);
    ASSERT_EQ_INT(S.requests, 1);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__timeout)
{
    server_start(M_STALL);
    lm_http_embedder_opts o = opts();
    o.timeout_ms = 200;
    o.max_retries = 1;
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    long long t0 = mono_ms();
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_ETIMEOUT);
    long long ms = mono_ms() - t0;
    ASSERT(strstr(lm_error_last()->message, "timed out") != NULL);
    ASSERT(ms >= 400);
    ASSERT(ms < 30000); /* without the timeout the stalled server holds it forever */
    lm_embedder_free(e);
    server_stop();
    ASSERT_EQ_INT(S.requests, 2);
}

TEST(test_embed_http__wrong_dimension)
{
    server_start(M_WRONG_DIM);
    lm_http_embedder_opts o = opts();
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_EPARSE);
    ASSERT_EQ_STR(lm_error_last()->message,
                  "embedding provider returned a vector of dimension 7, expected 8");
    ASSERT_EQ_INT(S.requests, 1); /* not retried */
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__bad_key)
{
    server_start(M_KEY);
    lm_http_embedder_opts o = opts();
    o.api_key = "wrong-key";
    o.max_retries = 5;
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_EPERM);
    const lm_error *err = lm_error_last();
    ASSERT_EQ_STR(err->message, "embedding provider rejected the API key");
    ASSERT(strstr(err->message, "wrong-key") == NULL);
    ASSERT(strstr(err->detail, "wrong-key") == NULL);
    ASSERT(strstr(err->hint, "wrong-key") == NULL);
    ASSERT_EQ_INT(S.requests, 1); /* no retry */
    ASSERT_EQ_STR(S.auth, "Bearer wrong-key");
    lm_embedder_free(e);

    /* the right key, from the environment ($OPENAI_API_KEY as the fallback) */
    o.api_key = NULL;
    setenv("OPENAI_API_KEY", "good-key", 1);
    e = client(&o);
    ASSERT_OK(lm_embedder_embed(e, v, &t, NULL, 1));
    check_vectors(v, &t, NULL, 1, 8);
    lm_embedder_free(e);
    setenv("LLMEMORY_EMBED_API_KEY", "wrong-key", 1); /* takes precedence */
    e = client(&o);
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_EPERM);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__bad_request)
{
    server_start(M_BAD_REQUEST);
    lm_http_embedder_opts o = opts();
    o.api_key = "sk-abc";
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->message, "embedding provider rejected the request");
    ASSERT(strstr(lm_error_last()->detail, "maximum context length") != NULL);
    ASSERT(strstr(lm_error_last()->detail, "400") != NULL);
    ASSERT_EQ_INT(S.requests, 1);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__malformed_responses)
{
    server_start(M_GARBAGE);
    lm_http_embedder_opts o = opts();
    lm_embedder *e = client(&o);
    const char *texts[2] = {"x", "y"};
    float v[2 * 8];
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, 2), LM_EPARSE);
    ASSERT(strstr(lm_error_last()->message, "could not parse embedding response") != NULL);
    S.mode = M_SHORT;
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, 2), LM_EPARSE);
    ASSERT_EQ_STR(lm_error_last()->message, "embedding provider returned 1 vectors for 2 texts");
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__send_dimensions)
{
    server_start(M_OK);
    lm_http_embedder_opts o = opts();
    o.send_dimensions = 1;
    lm_embedder *e = client(&o);
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "http:test-model:8");
    const char *t = "x";
    float v[8];
    ASSERT_OK(lm_embedder_embed(e, v, &t, NULL, 1));
    ASSERT_EQ_INT(S.dimensions, 8);
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__connection_refused)
{
    /* a port that was just free: nothing listens there */
    server_start(M_OK);
    lm_http_embedder_opts o = opts();
    server_stop();
    o.max_retries = 1;
    lm_embedder *e = client(&o);
    const char *t = "x";
    float v[8];
    long long t0 = mono_ms();
    ASSERT_ERR(lm_embedder_embed(e, v, &t, NULL, 1), LM_ECONN);
    ASSERT(strstr(lm_error_last()->message, "could not reach embedding provider") != NULL);
    ASSERT(strstr(lm_error_last()->detail, "2 attempts") != NULL);
    ASSERT(mono_ms() - t0 < 2000);
    lm_embedder_free(e);
    LEAK_CHECK();
}

TEST(test_embed_http__from_env)
{
    server_start(M_KEY);
    clear_env();
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/v1/", S.port);
    setenv("LLMEMORY_EMBEDDER", "openai", 1);
    setenv("LLMEMORY_EMBED_URL", u, 1);
    setenv("LLMEMORY_EMBED_MODEL", "env-model", 1);
    setenv("LLMEMORY_EMBED_DIM", "8", 1);
    setenv("LLMEMORY_EMBED_API_KEY", "good-key", 1);
    setenv("LLMEMORY_EMBED_BATCH_SIZE", "2", 1);
    lm_embedder *e = NULL;
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "http:env-model");
    const char *texts[3] = {"a", "b", "c"};
    float v[3 * 8];
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 3));
    check_vectors(v, texts, NULL, 3, 8);
    ASSERT_EQ_INT(S.requests, 2);
    ASSERT_EQ_STR(S.model, "env-model");
    lm_embedder_free(e);
    server_stop();
}

TEST(test_embed_http__out_of_memory)
{
    /* Fail each of the library's allocations in turn during a call with two batches and a
       retry: every failure is LM_ENOMEM and nothing leaks; eventually the call succeeds. */
    server_start(M_FAIL_N);
    lm_http_embedder_opts o = opts();
    o.batch_size = 2;
    lm_embedder *e = client(&o);
    const char *texts[3] = {"a", "b", "c"};
    float v[3 * 8];
    int ok = 0;
    for (long n = 1; n < 200 && !ok; n++) {
        pthread_mutex_lock(&S.mu);
        S.requests = 0;
        S.fail_n = 1;
        pthread_mutex_unlock(&S.mu);
        lm__alloc_fail_at(n);
        int rc = lm_embedder_embed(e, v, texts, NULL, 3);
        lm__alloc_fail_at(0);
        ok = rc == 0;
        if (!ok)
            ASSERT_EQ_INT(rc, LM_ENOMEM);
    }
    ASSERT(ok);
    check_vectors(v, texts, NULL, 3, 8);
    lm_embedder_free(e);
    server_stop();
}

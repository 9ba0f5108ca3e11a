/*
 * bench/http/loadgen.c: the load test of `llmemory serve`, and the same work issued directly
 * through the library, so the server's overhead can be read as a ratio. Four tenants, each
 * with its own API key and a marker word in every document; N client threads (each bound to one
 * tenant) run a mix of searches and adds for a fixed time. Every search result is checked: it
 * must carry the caller's tenant and marker, and no other tenant's marker.
 *
 *   loadgen load DB SCHEMA DOCS_PER_TENANT          seed the four tenants (library)
 *   loadgen http URL KEYFILE SECONDS THREADS ADD%   HTTP (libcurl, keep-alive), loopback only
 *   loadgen raw  URL KEYFILE SECONDS THREADS        HTTP searches on raw keep-alive sockets: the
 *                                                   request bytes written with one send(), the
 *                                                   reply read by its Content-Length, results
 *                                                   checked with plain substring tests; a client
 *                                                   that costs the server's 2 cores as little as
 *                                                   possible (bench/http/throughput.sh)
 *   loadgen lib  DB SCHEMA SECONDS THREADS ADD%     the library, one lm_memory (pool = THREADS)
 *
 * Prints one line per operation ("MODE OP count rps p50 p90 p99 max"), and the counts of 5xx,
 * other errors and cross-tenant results, and the client process's own CPU seconds; exits 1 when
 * any of those counts is not zero.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llmemory.h"

#define N_TENANTS 4
#define MAX_THREADS 256

static const char *const tenants[N_TENANTS] = {"bench-t0", "bench-t1", "bench-t2", "bench-t3"};
static const char *const markers[N_TENANTS] = {"markeralpha", "markerbravo", "markercharlie",
                                               "markerdelta"};
/* A shared vocabulary: every tenant's documents use it, so every query matches every tenant's
   data and a leak would show. */
static const char *const vocab[] = {
    "vacation", "policy",  "budget",   "travel",   "report",  "quarterly", "revenue", "contract",
    "security", "network", "employee", "training", "invoice", "customer",  "support", "release",
    "roadmap",  "meeting", "benefits", "payroll",  "office",  "hardware",  "license", "audit",
    "incident", "backup",  "deadline", "supplier", "quality", "safety",    "project", "design"};
#define N_VOCAB (sizeof(vocab) / sizeof(vocab[0]))

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static unsigned rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffff;
}

/* A document of about @p words words, the tenant's marker every fourth word. */
static void make_doc(char *out, size_t len, int tenant, int words, unsigned *seed)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < words && n + 32 < len; i++) {
        const char *w = i % 4 == 0 ? markers[tenant] : vocab[rnd(seed) % N_VOCAB];
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? " " : "", w);
    }
}

static void make_query(char *out, size_t len, unsigned *seed)
{
    snprintf(out, len, "%s %s", vocab[rnd(seed) % N_VOCAB], vocab[rnd(seed) % N_VOCAB]);
}

/* ---- per-thread results ---------------------------------------------------------------------- */

typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

static void add_sample(samples *s, double ms)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof(double));
        if (s->v == NULL) {
            fprintf(stderr, "loadgen: out of memory\n");
            exit(2);
        }
    }
    s->v[s->n++] = ms;
}

typedef struct worker {
    pthread_t th;
    int id, tenant;
    unsigned seed;
    samples search, add;
    long status_5xx, errors, cross, missing_marker, results;
    /* setup */
    const char *url;
    const char *key;
    lm_memory *mem;
    double deadline;
    int add_pct;
} worker;

/* Check one search reply's results; updates the counters. */
static void check_hit(worker *w, const char *owner, const char *content)
{
    w->results++;
    if (owner != NULL && strcmp(owner, tenants[w->tenant]) != 0)
        w->cross++;
    for (int t = 0; t < N_TENANTS; t++) {
        if (t == w->tenant)
            continue;
        if (content != NULL && strstr(content, markers[t]) != NULL)
            w->cross++;
    }
    if (content == NULL || strstr(content, markers[w->tenant]) == NULL)
        w->missing_marker++;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            return 0;
    }
    memcpy(b->p + b->n, ptr, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static void *http_worker(void *arg)
{
    worker *w = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char auth[1100], url[1024], q[128], doc[4096], *esc;
    buf b = {NULL, 0, 0};
    long status;
    int n_add = 0;

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->key);
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    while (now_ms() < w->deadline) {
        int is_add = (int)(rnd(&w->seed) % 100) < w->add_pct;
        json_t *body = NULL;
        char *text = NULL;
        double t0;
        CURLcode cc;

        b.n = 0;
        if (is_add) {
            make_doc(doc, sizeof(doc), w->tenant, 60 + (int)(rnd(&w->seed) % 60), &w->seed);
            body = json_pack("{s:s, s:s, s:s}", "id_at_origin", "", "content", doc, "name",
                             "load");
            char origin[64];
            snprintf(origin, sizeof(origin), "load-%d-%d", w->id, n_add++);
            json_object_set_new(body, "id_at_origin", json_string(origin));
            text = json_dumps(body, JSON_COMPACT);
            json_decref(body);
            snprintf(url, sizeof(url), "%s/v1/documents", w->url);
            curl_easy_setopt(h, CURLOPT_URL, url);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        } else {
            make_query(q, sizeof(q), &w->seed);
            esc = curl_easy_escape(h, q, 0);
            snprintf(url, sizeof(url), "%s/v1/search?q=%s&limit=10", w->url, esc);
            curl_free(esc);
            curl_easy_setopt(h, CURLOPT_URL, url);
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        }
        t0 = now_ms();
        cc = curl_easy_perform(h);
        double ms = now_ms() - t0;
        free(text);
        if (cc != CURLE_OK) {
            w->errors++;
            continue;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 500)
            w->status_5xx++;
        if (status < 200 || status >= 300) {
            w->errors++;
            continue;
        }
        add_sample(is_add ? &w->add : &w->search, ms);
        if (!is_add) {
            json_t *res = json_loadb(b.p, b.n, 0, NULL), *hits;
            const char *owner = json_string_value(json_object_get(res, "owner_id"));
            if (res == NULL) {
                w->errors++;
                continue;
            }
            if (owner == NULL || strcmp(owner, tenants[w->tenant]) != 0)
                w->cross++;
            hits = json_object_get(res, "results");
            for (size_t i = 0; i < json_array_size(hits); i++)
                check_hit(w, NULL, json_string_value(json_object_get(json_array_get(hits, i),
                                                                     "content")));
            json_decref(res);
        }
    }
    free(b.p);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

/* ---- HTTP on raw sockets ---------------------------------------------------------------------- */

static struct sockaddr_in raw_addr; /* from the URL (http://127.0.0.1:PORT) */

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&raw_addr, sizeof(raw_addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read one reply into @p b: status code, or -1 when the connection failed. */
static int raw_read(int fd, buf *b)
{
    size_t head = 0, need = 0;
    int status = -1;

    b->n = 0;
    for (;;) {
        if (b->cap - b->n < 65536) {
            b->cap = b->cap ? b->cap * 2 : 262144;
            if ((b->p = realloc(b->p, b->cap)) == NULL)
                return -1;
        }
        ssize_t r = recv(fd, b->p + b->n, b->cap - b->n - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b->n += (size_t)r;
        b->p[b->n] = '\0';
        if (head == 0) {
            char *e = strstr(b->p, "\r\n\r\n");
            if (e == NULL)
                continue;
            head = (size_t)(e - b->p) + 4;
            if (sscanf(b->p, "HTTP/1.%*d %d", &status) != 1)
                return -1;
            /* Header names are case-insensitive; the server writes "Content-Length". */
            char *cl = strcasestr(b->p, "\r\ncontent-length:");
            if (cl == NULL || cl > e)
                return -1; /* the server always sends a length */
            need = head + strtoul(cl + 17, NULL, 10);
        }
        if (b->n >= need)
            return status;
    }
}

static void *raw_worker(void *arg)
{
    worker *w = arg;
    char req[2048], q[128], esc[256];
    buf b = {NULL, 0, 0};
    char own[64];
    int fd = raw_connect();

    snprintf(own, sizeof(own), "\"owner_id\":\"%s\"", tenants[w->tenant]);
    while (fd >= 0 && now_ms() < w->deadline) {
        make_query(q, sizeof(q), &w->seed);
        size_t k = 0;
        for (const char *c = q; *c && k + 4 < sizeof(esc); c++) {
            if (*c == ' ') {
                memcpy(esc + k, "%20", 3);
                k += 3;
            } else {
                esc[k++] = *c;
            }
        }
        esc[k] = '\0';
        int n = snprintf(req, sizeof(req),
                         "GET /v1/search?q=%s&limit=10 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Authorization: Bearer %s\r\n\r\n",
                         esc, w->key);
        double t0 = now_ms();
        if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
            w->errors++;
            break;
        }
        int status = raw_read(fd, &b);
        double ms = now_ms() - t0;
        if (status < 0) {
            w->errors++;
            close(fd);
            fd = raw_connect();
            continue;
        }
        if (status >= 500)
            w->status_5xx++;
        if (status < 200 || status >= 300) {
            w->errors++;
            continue;
        }
        add_sample(&w->search, ms);
        /* The reply is the caller's tenant's, with no other tenant's marker in it. */
        w->results++;
        if (strstr(b.p, own) == NULL)
            w->cross++;
        for (int t = 0; t < N_TENANTS; t++)
            if (t != w->tenant && strstr(b.p, markers[t]) != NULL)
                w->cross++;
    }
    if (fd >= 0)
        close(fd);
    free(b.p);
    return NULL;
}

/* ---- library --------------------------------------------------------------------------------- */

static void *lib_worker(void *arg)
{
    worker *w = arg;
    char q[128], doc[4096], origin[64];
    int n_add = 0;

    while (now_ms() < w->deadline) {
        int is_add = (int)(rnd(&w->seed) % 100) < w->add_pct;
        double t0, ms;
        int rc;

        if (is_add) {
            lm_doc_add_result r;
            make_doc(doc, sizeof(doc), w->tenant, 60 + (int)(rnd(&w->seed) % 60), &w->seed);
            snprintf(origin, sizeof(origin), "liblo-%d-%d", w->id, n_add++);
            t0 = now_ms();
            rc = lm_doc_add(&r, w->mem, tenants[w->tenant], origin, "load", LM_DOC_TEXT, doc,
                            strlen(doc), NULL);
            ms = now_ms() - t0;
            if (rc < 0) {
                w->errors++;
                if (rc != LM_EINVAL)
                    w->status_5xx++;
                continue;
            }
            add_sample(&w->add, ms);
        } else {
            lm_results *res = NULL;
            make_query(q, sizeof(q), &w->seed);
            t0 = now_ms();
            rc = lm_search(&res, w->mem, tenants[w->tenant], q, NULL);
            ms = now_ms() - t0;
            if (rc < 0) {
                w->errors++;
                if (rc != LM_EINVAL)
                    w->status_5xx++;
                continue;
            }
            add_sample(&w->search, ms);
            for (size_t i = 0; i < lm_results_count(res); i++)
                check_hit(w, NULL, lm_results_at(res, i)->content);
            lm_results_free(res);
        }
    }
    return NULL;
}

/* ---- report ---------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const samples *s, double p)
{
    if (s->n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

static void report(const char *mode, const char *op, samples *s, double secs)
{
    qsort(s->v, s->n, sizeof(double), cmp_double);
    printf("%-5s %-6s %8zu %9.1f %8.2f %8.2f %8.2f %8.2f\n", mode, op, s->n,
           (double)s->n / secs, pct(s, 0.5), pct(s, 0.9), pct(s, 0.99),
           s->n ? s->v[s->n - 1] : 0.0);
}

static void merge(samples *into, const samples *from)
{
    for (size_t i = 0; i < from->n; i++)
        add_sample(into, from->v[i]);
}

static int run(const char *mode, int threads, double secs, int add_pct, const char *url,
               char keys[N_TENANTS][1024], lm_memory *mem, void *(*fn)(void *))
{
    static worker ws[MAX_THREADS];
    samples all_s = {0}, all_a = {0}, all = {0};
    long s5 = 0, err = 0, cross = 0, missing = 0, results = 0;
    double t0 = now_ms();

    for (int i = 0; i < threads; i++) {
        worker *w = &ws[i];
        memset(w, 0, sizeof(*w));
        w->id = i;
        w->tenant = i % N_TENANTS;
        w->seed = 7919u * (unsigned)(i + 1);
        w->url = url;
        w->key = keys != NULL ? keys[w->tenant] : NULL;
        w->mem = mem;
        w->deadline = t0 + secs * 1000.0;
        w->add_pct = add_pct;
        pthread_create(&w->th, NULL, fn, w);
    }
    for (int i = 0; i < threads; i++) {
        worker *w = &ws[i];
        pthread_join(w->th, NULL);
        merge(&all_s, &w->search);
        merge(&all_a, &w->add);
        s5 += w->status_5xx;
        err += w->errors;
        cross += w->cross;
        missing += w->missing_marker;
        results += w->results;
        free(w->search.v);
        free(w->add.v);
    }
    secs = (now_ms() - t0) / 1000.0;
    merge(&all, &all_s);
    merge(&all, &all_a);
    printf("%-5s %-6s %8s %9s %8s %8s %8s %8s\n", "mode", "op", "count", "per_s", "p50_ms",
           "p90_ms", "p99_ms", "max_ms");
    report(mode, "search", &all_s, secs);
    report(mode, "add", &all_a, secs);
    report(mode, "all", &all, secs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s: seconds %.1f threads %d add_pct %d results_checked %ld 5xx %ld errors %ld "
           "cross_tenant %ld missing_marker %ld client_cpu_s %.3f\n",
           mode, secs, threads, add_pct, results, s5, err, cross, missing,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    free(all_s.v);
    free(all_a.v);
    free(all.v);
    return s5 == 0 && err == 0 && cross == 0 ? 0 : 1;
}

static int open_mem(lm_memory **mem, const char *db, const char *schema, int pool)
{
    lm_memory_opts o;
    lm_memory_opts_init(&o, LM_MEMORY_OPTS_VERSION);
    o.database_url = db;
    o.schema = schema;
    o.pool_size = pool;
    if (lm_memory_open(mem, &o) < 0) {
        fprintf(stderr, "loadgen: %s\n", lm_error_last()->message);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "load") == 0) {
        lm_memory *mem = NULL;
        int per = atoi(argv[4]);
        unsigned seed = 42;
        char doc[4096], origin[64];
        if (open_mem(&mem, argv[2], argv[3], 4) < 0)
            return 2;
        for (int t = 0; t < N_TENANTS; t++) {
            for (int i = 0; i < per; i++) {
                make_doc(doc, sizeof(doc), t, 60 + (int)(rnd(&seed) % 60), &seed);
                snprintf(origin, sizeof(origin), "seed-%d", i);
                if (lm_doc_add(NULL, mem, tenants[t], origin, "seed", LM_DOC_TEXT, doc,
                               strlen(doc), NULL) < 0) {
                    fprintf(stderr, "loadgen: %s\n", lm_error_last()->message);
                    return 2;
                }
            }
        }
        lm_memory_close(mem);
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "raw") == 0) {
        char keys[N_TENANTS][1024];
        FILE *f = fopen(argv[3], "r");
        int threads = atoi(argv[5]), port = 0;
        char host[64];
        if (f == NULL || threads < 1 || threads > MAX_THREADS ||
            sscanf(argv[2], "http://%63[0-9.]:%d", host, &port) != 2)
            return 2;
        for (int t = 0; t < N_TENANTS; t++)
            if (fscanf(f, "%1023s", keys[t]) != 1)
                return 2;
        fclose(f);
        raw_addr.sin_family = AF_INET;
        raw_addr.sin_port = htons((unsigned short)port);
        if (inet_pton(AF_INET, host, &raw_addr.sin_addr) != 1)
            return 2;
        return run("raw", threads, atof(argv[4]), 0, argv[2], keys, NULL, raw_worker);
    }
    if (argc >= 7 && strcmp(argv[1], "http") == 0) {
        char keys[N_TENANTS][1024];
        FILE *f = fopen(argv[3], "r");
        int threads = atoi(argv[5]);
        if (f == NULL || threads < 1 || threads > MAX_THREADS)
            return 2;
        for (int t = 0; t < N_TENANTS; t++)
            if (fscanf(f, "%1023s", keys[t]) != 1)
                return 2;
        fclose(f);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = run("http", threads, atof(argv[4]), atoi(argv[6]), argv[2], keys, NULL, http_worker);
        curl_global_cleanup();
        return rc;
    }
    if (argc >= 7 && strcmp(argv[1], "lib") == 0) {
        lm_memory *mem = NULL;
        int threads = atoi(argv[5]), rc;
        if (threads < 1 || threads > MAX_THREADS)
            return 2;
        if (open_mem(&mem, argv[2], argv[3], threads) < 0)
            return 2;
        rc = run("lib", threads, atof(argv[4]), atoi(argv[6]), NULL, NULL, mem, lib_worker);
        lm_memory_close(mem);
        return rc;
    }
    fprintf(stderr, "usage: loadgen load DB SCHEMA DOCS | http URL KEYFILE SECONDS THREADS ADD%% |"
                    " raw URL KEYFILE SECONDS THREADS | lib DB SCHEMA SECONDS THREADS ADD%%\n");
    return 2;
}

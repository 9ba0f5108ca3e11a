/*
 * bench/http/loadgen.c: the load test of `llmemory serve`, and the same work issued directly
 * through the library, so the server's overhead can be read as a ratio. Four tenants, each
 * with its own API key and a marker word in every document; N client threads (each bound to one
 * tenant) run a mix of searches and adds for a fixed time. Every search result is checked: it
 * must carry the caller's tenant and marker, and no other tenant's marker.
 *
 *   loadgen load DB SCHEMA DOCS_PER_TENANT          seed the four tenants (library)
 *   loadgen http URL KEYFILE SECONDS THREADS ADD%   HTTP (libcurl, keep-alive), loopback only
 *   loadgen lib  DB SCHEMA SECONDS THREADS ADD%     the library, one lm_memory (pool = THREADS)
 *
 * Prints one line per operation ("MODE OP count rps p50 p90 p99 max"), and the counts of 5xx,
 * other errors and cross-tenant results; exits 1 when any of those is not zero.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
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
               char keys[N_TENANTS][1024], lm_memory *mem)
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
        pthread_create(&w->th, NULL, url != NULL ? http_worker : lib_worker, w);
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
    printf("%s: seconds %.1f threads %d add_pct %d results_checked %ld 5xx %ld errors %ld "
           "cross_tenant %ld missing_marker %ld\n",
           mode, secs, threads, add_pct, results, s5, err, cross, missing);
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
        int rc = run("http", threads, atof(argv[4]), atoi(argv[6]), argv[2], keys, NULL);
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
        rc = run("lib", threads, atof(argv[4]), atoi(argv[6]), NULL, NULL, mem);
        lm_memory_close(mem);
        return rc;
    }
    fprintf(stderr, "usage: loadgen load DB SCHEMA DOCS | http URL KEYFILE SECONDS THREADS ADD%% |"
                    " lib DB SCHEMA SECONDS THREADS ADD%%\n");
    return 2;
}

/*
 * bench/scale/scale_bench.c: a seeded multi-tenant workload, loaded through the library, and
 * vector recall@10 and latency per tenant-size bucket for llmemory's layout (exact search for
 * small tenants, a partial HNSW graph per large tenant) beside the naive layout (one global
 * HNSW over every tenant's vectors, WHERE owner_id = $1 applied after the graph search), in the
 * same run and on the same rows.
 *
 *   scale_bench --data DIR [--small] [--chunks N] [--tenants T] [--dim 384|768|1536]
 *               [--vectors synthetic|builtin] [--queries Q] [--seed S] [--zipf S] [--no-naive]
 *               [--load-only | --reuse] [--burst CHUNKS] [--settle Q]
 *
 * --load-only with SCALE_BENCH_KEEP=1 leaves the loaded rows in place; --reuse (same shape and
 * seed) starts from them, so the hour-long query half of the default can run apart from the
 * load, and again (graphs built by the first --reuse are kept, its writes stay). --burst: chunks inserted as fast as they go while vector recall and latency are
 * measured (default 50,000; 0: none); --settle: keyword searches of the largest tenant under
 * the write stream (default 200). SCALE_BENCH_OPTIMIZE=1 repeats them after
 * lm_memory_optimize(); SCALE_BENCH_LOAD_AUTOPACK=1 leaves automatic packing on while loading.
 *
 * DIR holds corpus.jsonl (SciFact: one JSON object a line with a "text" field); the chunks are
 * its sentences, sampled with the seed. Tenant sizes follow Zipf (weight of the i-th tenant
 * 1 / i^s, s = 1 by default: the largest holds about 10% of the chunks at 10,000 tenants).
 * Documents are CHAT documents of 1-10 messages (one chunk each), shuffled over all tenants so
 * a tenant's rows are scattered as when data arrives over time. Vectors: "synthetic" (default)
 * are clustered unit vectors of the chosen dimension (200 centroids, noise as large as the
 * centroid, derived from the chunk's number and the seed), "builtin" the library's default
 * embedder over the text. Each chunk's text ends with its number ("v:<n>"), which identifies it.
 *
 * Ground truth is exact cosine search in SQL over the tenant's rows (no index). Latency is the
 * server CPU time of the backend that ran the search (/proc/<pid>/schedstat; ours through a
 * memory with a pool of one connection, the naive statements on the bench's own connection),
 * beside the client's wall time; the machine's load is printed beside. Default 1,000,000 chunks over 10,000 tenants; --small:
 * 10,000 chunks over 100 tenants (a smoke test: it fails when our recall is below target).
 * Environment: LLMEMORY_DATABASE_URL (or LLMEMORY_TEST_DATABASE_URL) names the database.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "llmemory.h"
#include "llmemory/sys/embedder.h"

#include "../common/bench.h"

#define SCHEMA    "sb"
#define PROVIDER  "scale-synthetic"
#define TOPK      10
#define NCENTROID 200
#define NBUCKET   4

static const char *bucket_names[NBUCKET] = {"<=100", "<=10k", "<=100k", "largest"};

static struct {
    const char *data;
    long chunks;
    int tenants, dim, synthetic, queries, naive, batch, single, write_rate, burst, settle;
    uint64_t seed;
    double zipf;
} opt = {NULL, 1000000, 10000, 384, 1, 30, 1, 500, 0, 500, 50000, 200, 1, 1.0};

/* ---- helpers ---------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double t_start;
#define SAY(...)                                                                                 \
    do {                                                                                         \
        printf("[%7.1fs] ", (now_ms() - t_start) / 1000.0);                                      \
        printf(__VA_ARGS__);                                                                     \
        printf("\n");                                                                            \
        fflush(stdout);                                                                          \
    } while (0)

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

static double runif(rng *r)
{
    return (double)(rnext(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double rgauss(rng *r)
{
    double u = runif(r), v = runif(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    if (n == 0)
        return NAN;
    double *c = malloc(sizeof(double) * (size_t)n);
    memcpy(c, v, sizeof(double) * (size_t)n);
    qsort(c, (size_t)n, sizeof(double), cmp_double);
    int k = (int)ceil(p * n) - 1;
    double r = c[k < 0 ? 0 : k];
    free(c);
    return r;
}

static PGconn *pg;

static PGresult *q(const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "SQL failed: %s\n%s\n", PQerrorMessage(pg), sql);
        exit(1);
    }
    return r;
}

static void run(const char *sql)
{
    PQclear(q(sql, 0, NULL));
}

/* CPU seconds of this process (all threads, the library's background thread included). */
static double client_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long postmaster_pid;
static char data_dir[4096];

/* CPU seconds of the database cluster: the postmaster and its children (backends, writers,
   autovacuum), read from /proc. NAN when the cluster is not on this machine. */
static double server_cpu_s(void)
{
    return postmaster_pid > 0 ? bench_cluster_cpu_s(&postmaster_pid, 1) : NAN;
}

/* CPU time of one backend so far, ms (/proc/<pid>/schedstat: ns on a CPU, then ns waiting
   for one): the server-side cost of what that backend ran between two reads, whatever else
   the machine runs. NAN when unreadable. */
static double backend_cpu_ms(long pid, double *wait_ms)
{
    char path[64];
    unsigned long long a = 0, b = 0;
    snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NAN;
    int n = fscanf(f, "%llu %llu", &a, &b);
    fclose(f);
    if (n != 2)
        return NAN;
    if (wait_ms)
        *wait_ms = (double)b / 1e6;
    return (double)a / 1e6;
}

static void find_postmaster(void)
{
    PGresult *r = q("SHOW data_directory", 0, NULL);
    char path[4200];
    snprintf(data_dir, sizeof(data_dir), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(path, sizeof(path), "%s/postmaster.pid", data_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &postmaster_pid) != 1)
            postmaster_pid = 0;
        fclose(f);
    }
}

/* Peak resident memory (VmHWM) of the cluster's processes: the largest one and the sum (the
   sum counts shared buffers once per process that touched them, so it overstates). */
static void server_peak_mem(double *max_mb, double *sum_mb)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    *max_mb = *sum_mb = 0;
    if (d == NULL || postmaster_pid <= 0) {
        if (d)
            closedir(d);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char path[300], line[256];
        long pid = strtol(e->d_name, NULL, 10), ppid = -1, kb = -1;
        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "PPid:", 5) == 0)
                ppid = strtol(line + 5, NULL, 10);
            else if (strncmp(line, "VmHWM:", 6) == 0)
                kb = strtol(line + 6, NULL, 10);
        }
        fclose(f);
        if ((pid == postmaster_pid || ppid == postmaster_pid) && kb > 0) {
            *sum_mb += kb / 1024.0;
            if (kb / 1024.0 > *max_mb)
                *max_mb = kb / 1024.0;
        }
    }
    closedir(d);
}

static long long schema_bytes(const char *schema, const char *exclude_like)
{
    const char *p[2] = {schema, exclude_like};
    PGresult *r = q("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"
                    " AND c.relkind IN ('r', 'm') AND c.relname NOT LIKE $2",
                    2, p);
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static long tag_of(const char *t, char tag)
{
    const char *p = t;
    while ((p = strchr(p, tag)) != NULL) {
        if (p[1] == ':' && (p == t || p[-1] == ' ') && p[2] >= '0' && p[2] <= '9')
            return strtol(p + 2, NULL, 10);
        p++;
    }
    return -1;
}

/* ---- data -------------------------------------------------------------------------------- */

static char **sent;
static size_t n_sent;

static void load_sentences(const char *dir)
{
    char path[4096], *line = NULL;
    size_t cap = 0, scap = 0;
    snprintf(path, sizeof(path), "%s/corpus.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "scale_bench: cannot open %s\n", path);
        exit(2);
    }
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *text = o ? json_string_value(json_object_get(o, "text")) : NULL;
        for (const char *s = text; s && *s;) {
            const char *e = strstr(s, ". ");
            size_t len = e ? (size_t)(e - s) + 1 : strlen(s);
            if (len >= 30 && len <= 400) {
                if (n_sent == scap) {
                    scap = scap ? scap * 2 : 65536;
                    sent = realloc(sent, scap * sizeof(*sent));
                }
                sent[n_sent] = malloc(len + 1);
                memcpy(sent[n_sent], s, len);
                sent[n_sent][len] = '\0';
                for (char *c = sent[n_sent]; *c; c++)
                    if (*c == '\n' || *c == '\r')
                        *c = ' ';
                n_sent++;
            }
            s = e ? e + 2 : s + len;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (n_sent == 0) {
        fprintf(stderr, "scale_bench: no sentences in %s\n", path);
        exit(2);
    }
}

/* Synthetic vector of chunk (kind 0) or query (kind 1) number id: centroid + N(0, I/dim). */
static float *centroids;

static void synth_vec(float *out, int kind, long id, int centroid)
{
    rng r = {mix64(opt.seed * 1000003u + (uint64_t)kind * 0x51ed27u + (uint64_t)id)};
    double norm = 0;
    for (int d = 0; d < opt.dim; d++) {
        double x = centroids[(size_t)centroid * (size_t)opt.dim + (size_t)d] +
                   rgauss(&r) / sqrt((double)opt.dim);
        out[d] = (float)x;
        norm += x * x;
    }
    norm = sqrt(norm);
    for (int d = 0; d < opt.dim; d++)
        out[d] = (float)(out[d] / norm);
}

static int centroid_of(long id)
{
    return (int)(mix64(opt.seed ^ ((uint64_t)id * 0x2545f4914f6cdd1dULL)) % NCENTROID);
}

/* Query k of a tenant: near the centroid of one of its chunks. */
static int qcentroid[1 << 16];

static int synth_embed(void *self, float *out, int dim, const char *const *texts, const size_t *lens,
                       size_t n)
{
    (void)self;
    (void)lens;
    for (size_t i = 0; i < n; i++) {
        long v = tag_of(texts[i], 'v'), qn = tag_of(texts[i], 'q');
        if (v >= 0)
            synth_vec(out + i * (size_t)dim, 0, v, centroid_of(v));
        else if (qn >= 0 && qn < (long)(sizeof(qcentroid) / sizeof(qcentroid[0])))
            synth_vec(out + i * (size_t)dim, 1, qn, qcentroid[qn]);
        else
            return LM_EINVAL;
    }
    return 0;
}

typedef struct tenant {
    char name[24];
    long n;      /* chunks */
    long first;  /* its chunks are numbers first .. first + n - 1 */
} tenant;

static tenant *tenants;

/* The tenant holding chunk number @p chunk: writes drawn by chunk go to tenants by size. */
static int tenant_of_chunk(long chunk)
{
    int lo = 0, hi = opt.tenants - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (tenants[mid].first <= chunk)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static int bucket_of(int t)
{
    if (t == 0)
        return 3;
    long n = tenants[t].n;
    return n <= 100 ? 0 : n <= 10000 ? 1 : 2;
}

typedef struct doc {
    int tenant;
    long first;
    int count;
} doc;

static void vec_text(char *buf, size_t cap, const float *v)
{
    size_t o = 0;
    buf[o++] = '[';
    for (int i = 0; i < opt.dim; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ",%.9g" : "%.9g", (double)v[i]);
    buf[o++] = ']';
    buf[o] = '\0';
}

static size_t doc_text(char *buf, size_t cap, const doc *d)
{
    size_t o = 0;
    for (int k = 0; k < d->count; k++) {
        long id = d->first + k;
        const char *sn = sent[mix64(opt.seed ^ (uint64_t)id) % n_sent];
        o += (size_t)snprintf(buf + o, cap - o, "user: %.400s v:%ld\n", sn, id);
    }
    return o;
}

typedef struct query {
    int tenant;
    char vtext[512];  /* "q:N" (the synthetic embedder's query N), or a sentence */
    char kw[160];     /* three words of one of the tenant's chunks */
    char hybrid[700]; /* both */
    char tsq[160];    /* the words OR-ed for to_tsquery */
    int qn;           /* the synthetic query's number, -1 otherwise */
} query;

/* Up to three words of 4+ letters from @p s, lower case, space separated. */
static void kw_words(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    int n = 0;
    out[0] = '\0';
    while (*s && n < 3) {
        while (*s && !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            s++;
        const char *b = s;
        while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
            s++;
        if (s - b >= 4 && o + (size_t)(s - b) + 2 < cap) {
            if (n++)
                out[o++] = ' ';
            for (const char *c = b; c < s; c++)
                out[o++] = (char)(*c | 0x20);
            out[o] = '\0';
        }
    }
    if (n == 0)
        snprintf(out, cap, "protein");
}

typedef struct kh_lat {
    double *ours[NBUCKET], *naive[NBUCKET];         /* client wall ms */
    double *srv_ours[NBUCKET], *srv_naive[NBUCKET]; /* server CPU ms of the serving backend */
} kh_lat;

static lm_results *search_or_die(lm_memory *mem, const char *owner, const char *text,
                                 lm_search_type type, int limit)
{
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    lm_results *res = NULL;
    so.type = type;
    so.limit = limit;
    so.no_history = 1;
    if (lm_search(&res, mem, owner, text, &so) < 0) {
        fprintf(stderr, "lm_search: %s\n", lm_error_last()->message);
        exit(1);
    }
    return res;
}

static char sql_nkw[512], sql_nvec[512];
static long smem_pid; /* the one backend of the measuring memory (pool of 1) */

/* Ours: one search through the measuring memory; its client wall and server CPU ms. */
static lm_results *timed_search(lm_memory *smem, const char *owner, const char *text,
                                lm_search_type type, double *wall, double *srv)
{
    double s0 = backend_cpu_ms(smem_pid, NULL), a0 = now_ms();
    lm_results *res = search_or_die(smem, owner, text, type, TOPK);
    *wall = now_ms() - a0;
    *srv = backend_cpu_ms(smem_pid, NULL) - s0;
    return res;
}

/* Keyword, vector and hybrid latencies of every stored query, ours (and naive when
   @p naive): lat[0] keyword, lat[1] vector, lat[2] hybrid. Ours is timed through @p smem
   (server CPU of its one backend), naive on the bench's own connection. The naive hybrid runs
   both naive legs 50 deep and fuses them by reciprocal rank in the client; its time is the two
   statements'. */
static void measure(kh_lat lat[3], lm_memory *smem, query **qs, const int *cnt,
                    char **qvec_lit, int naive)
{
    long npid = PQbackendPID(pg);
    for (int b = 0; b < NBUCKET; b++)
        for (int k = 0; k < 3; k++) {
            lat[k].ours[b] = calloc((size_t)opt.queries + 1, sizeof(double));
            lat[k].naive[b] = calloc((size_t)opt.queries + 1, sizeof(double));
            lat[k].srv_ours[b] = calloc((size_t)opt.queries + 1, sizeof(double));
            lat[k].srv_naive[b] = calloc((size_t)opt.queries + 1, sizeof(double));
        }
    int j = 0;
    for (int b = 0; b < NBUCKET; b++)
        for (int i = 0; i < cnt[b]; i++, j++) {
            const query *Q = &qs[b][i];
            const char *owner = tenants[Q->tenant].name;
            const char *texts[3] = {Q->kw, Q->vtext, Q->hybrid};
            static const lm_search_type types[3] = {LM_SEARCH_TEXT, LM_SEARCH_VECTOR,
                                                    LM_SEARCH_HYBRID};
            for (int k = 0; k < 3; k++)
                lm_results_free(timed_search(smem, owner, texts[k], types[k], &lat[k].ours[b][i],
                                             &lat[k].srv_ours[b][i]));
            if (!naive || !opt.naive)
                continue;
            const char *pk[] = {owner, Q->tsq, "10"}, *pv[] = {owner, qvec_lit[j], "10"};
            double c0 = backend_cpu_ms(npid, NULL), a0 = now_ms();
            PQclear(q(sql_nkw, 3, pk));
            lat[0].naive[b][i] = now_ms() - a0;
            lat[0].srv_naive[b][i] = backend_cpu_ms(npid, NULL) - c0;
            c0 = backend_cpu_ms(npid, NULL);
            a0 = now_ms();
            PQclear(q(sql_nvec, 3, pv));
            lat[1].naive[b][i] = now_ms() - a0;
            lat[1].srv_naive[b][i] = backend_cpu_ms(npid, NULL) - c0;
            pk[2] = pv[2] = "50";
            c0 = backend_cpu_ms(npid, NULL);
            a0 = now_ms();
            PGresult *r1 = q(sql_nkw, 3, pk), *r2 = q(sql_nvec, 3, pv);
            /* Reciprocal rank fusion (k = 60) of the two lists, top 10. */
            long ids[100];
            double sc[100];
            int n = 0;
            PGresult *rs[2] = {r1, r2};
            for (int l = 0; l < 2; l++)
                for (int h = 0; h < PQntuples(rs[l]); h++) {
                    long id = strtol(PQgetvalue(rs[l], h, 0), NULL, 10);
                    int f = 0;
                    while (f < n && ids[f] != id)
                        f++;
                    if (f == n) {
                        ids[n] = id;
                        sc[n++] = 0;
                    }
                    sc[f] += 1.0 / (60 + h + 1);
                }
            for (int x = 0; x < n && x < TOPK; x++)
                for (int y = x + 1; y < n; y++)
                    if (sc[y] > sc[x]) {
                        double t = sc[x];
                        long ti = ids[x];
                        sc[x] = sc[y], ids[x] = ids[y];
                        sc[y] = t, ids[y] = ti;
                    }
            lat[2].naive[b][i] = now_ms() - a0;
            lat[2].srv_naive[b][i] = backend_cpu_ms(npid, NULL) - c0;
            PQclear(r1);
            PQclear(r2);
        }
}

/* A steady stream of new documents (1-10 chunks, tenants drawn by size) at opt.write_rate
   chunks a second through lm_doc_add(), until stop. */
typedef struct writer {
    lm_memory *mem;
    volatile int stop;
    long chunks, docs;
} writer;

static void *write_stream(void *arg)
{
    writer *w = arg;
    rng r = {mix64(opt.seed + 99)};
    char text[10 * 512];
    double t0 = now_ms();
    long next = opt.chunks + 1000000;
    while (!w->stop) {
        int lo = tenant_of_chunk((long)(rnext(&r) % (uint64_t)opt.chunks));
        int c = 1 + (int)(rnext(&r) % 10);
        size_t o = 0;
        for (int k = 0; k < c; k++, next++)
            o += (size_t)snprintf(text + o, sizeof(text) - o, "user: %.400s v:%ld\n",
                                  sent[mix64(opt.seed ^ (uint64_t)next) % n_sent], next);
        char origin[32];
        snprintf(origin, sizeof(origin), "w%ld", next);
        if (lm_doc_add(NULL, w->mem, tenants[lo].name, origin, origin, LM_DOC_CHAT, text, o,
                       NULL) < 0) {
            fprintf(stderr, "writer: %s\n", lm_error_last()->message);
            exit(1);
        }
        w->docs++;
        w->chunks += c;
        double due = t0 + 1000.0 * (double)w->chunks / (opt.write_rate ? opt.write_rate : 1);
        double now = now_ms();
        if (due > now)
            usleep((useconds_t)((due - now) * 1000));
    }
    return NULL;
}

/* The burst: opt.burst chunks as fast as they go, through lm_doc_add_batch() calls of 20
   documents (1-10 chunks each) for one tenant drawn by size, through @p mem (default index
   threshold: tenants that pass it get their graphs in the background meanwhile). */
typedef struct burster {
    lm_memory *mem;
    volatile int done;
    long chunks, calls;
    double ms;
} burster;

static void *burst_run(void *arg)
{
    burster *bu = arg;
    rng r = {mix64(opt.seed + 4242)};
    enum { PER = 20 };
    static char text[PER][10 * 512];
    char origin[PER][32];
    lm_doc_input in[PER];
    long next = opt.chunks + 3000000;
    double t0 = now_ms();
    while (bu->chunks < opt.burst) {
        int lo = tenant_of_chunk((long)(rnext(&r) % (uint64_t)opt.chunks));
        int nd = 0;
        for (; nd < PER && bu->chunks < opt.burst; nd++) {
            int c = 1 + (int)(rnext(&r) % 10);
            size_t o = 0;
            snprintf(origin[nd], sizeof(origin[nd]), "b%ld", next);
            for (int k = 0; k < c; k++, next++)
                o += (size_t)snprintf(text[nd] + o, sizeof(text[nd]) - o, "user: %.400s v:%ld\n",
                                      sent[mix64(opt.seed ^ (uint64_t)next) % n_sent], next);
            in[nd] = (lm_doc_input){origin[nd], origin[nd], LM_DOC_CHAT, text[nd], o, NULL};
            bu->chunks += c;
        }
        if (lm_doc_add_batch(NULL, NULL, bu->mem, tenants[lo].name, in, (size_t)nd) < 0) {
            fprintf(stderr, "burst: %s\n", lm_error_last()->message);
            exit(1);
        }
        bu->calls++;
    }
    bu->ms = now_ms() - t0;
    bu->done = 1;
    return NULL;
}

/* Cosine distance between the synthetic query @p qv and chunk @p id's vector. */
static double chunk_dist(const float *qv, long id)
{
    float *v = malloc(sizeof(float) * (size_t)opt.dim);
    double dot = 0, na = 0, nb = 0;
    synth_vec(v, 0, id, centroid_of(id));
    for (int d = 0; d < opt.dim; d++) {
        dot += (double)qv[d] * v[d];
        na += (double)qv[d] * qv[d];
        nb += (double)v[d] * v[d];
    }
    free(v);
    return 1.0 - dot / sqrt(na * nb);
}

typedef struct tp_arg {
    lm_memory *mem;
    query **qs;
    const int *cnt;
    lm_search_type type;
    double until;
    long done;
    uint64_t seed;
} tp_arg;

static void *tp_run(void *arg)
{
    tp_arg *a = arg;
    rng r = {mix64(a->seed)};
    while (now_ms() < a->until) {
        int b = (int)(rnext(&r) % NBUCKET);
        if (a->cnt[b] == 0)
            continue;
        const query *Q = &a->qs[b][rnext(&r) % (uint64_t)a->cnt[b]];
        lm_results_free(search_or_die(a->mem, tenants[Q->tenant].name,
                                      a->type == LM_SEARCH_TEXT ? Q->kw : Q->hybrid, a->type,
                                      TOPK));
        a->done++;
    }
    return NULL;
}

static double throughput(lm_memory *mem, query **qs, const int *cnt, int clients,
                         lm_search_type type, double secs)
{
    pthread_t th[8];
    tp_arg a[8];
    double t0 = now_ms();
    long total = 0;
    for (int c = 0; c < clients; c++) {
        a[c] = (tp_arg){mem, qs, cnt, type, t0 + secs * 1000, 0, (uint64_t)c * 7919u + 3};
        pthread_create(&th[c], NULL, tp_run, &a[c]);
    }
    for (int c = 0; c < clients; c++) {
        pthread_join(th[c], NULL);
        total += a[c].done;
    }
    return (double)total / ((now_ms() - t0) / 1000.0);
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: scale_bench --data DIR [--small] [--chunks N] [--tenants T]"
                    " [--dim 384|768|1536] [--vectors synthetic|builtin] [--queries Q]"
                    " [--seed S] [--zipf S] [--no-naive] [--batch DOCS | --single]"
                    " [--write-rate CHUNKS_PER_S] [--load-only | --reuse] [--burst CHUNKS]"
                    " [--settle Q]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int small = 0, load_only = 0, reuse = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--small") == 0) {
            small = 1;
        } else if (strcmp(a, "--no-naive") == 0) {
            opt.naive = 0;
        } else if (strcmp(a, "--load-only") == 0) {
            load_only = 1;
        } else if (strcmp(a, "--reuse") == 0) {
            reuse = 1;
        } else if (strcmp(a, "--single") == 0) {
            opt.single = 1;
        } else if (v == NULL) {
            usage();
        } else if (strcmp(a, "--data") == 0) {
            opt.data = v, i++;
        } else if (strcmp(a, "--chunks") == 0) {
            opt.chunks = atol(v), i++;
        } else if (strcmp(a, "--tenants") == 0) {
            opt.tenants = atoi(v), i++;
        } else if (strcmp(a, "--dim") == 0) {
            opt.dim = atoi(v), i++;
        } else if (strcmp(a, "--queries") == 0) {
            opt.queries = atoi(v), i++;
        } else if (strcmp(a, "--batch") == 0) {
            opt.batch = atoi(v), i++;
        } else if (strcmp(a, "--write-rate") == 0) {
            opt.write_rate = atoi(v), i++;
        } else if (strcmp(a, "--burst") == 0) {
            opt.burst = atoi(v), i++;
        } else if (strcmp(a, "--settle") == 0) {
            opt.settle = atoi(v), i++;
        } else if (strcmp(a, "--seed") == 0) {
            opt.seed = strtoull(v, NULL, 10), i++;
        } else if (strcmp(a, "--zipf") == 0) {
            opt.zipf = atof(v), i++;
        } else if (strcmp(a, "--vectors") == 0) {
            if (strcmp(v, "synthetic") != 0 && strcmp(v, "builtin") != 0)
                usage();
            opt.synthetic = strcmp(v, "synthetic") == 0, i++;
        } else {
            usage();
        }
    }
    if (small) {
        opt.chunks = 10000;
        opt.tenants = 100;
        opt.burst = 2000;
        opt.settle = 40;
    }
    if (opt.data == NULL || opt.chunks < opt.tenants || opt.tenants < 2 || opt.dim < 2 ||
        opt.dim > 2000 || opt.queries < 1 || opt.queries > 1000 || opt.zipf <= 0 ||
        opt.batch < 1 || opt.batch > LM_DOC_BATCH_MAX || opt.write_rate < 0 || opt.burst < 0 ||
        opt.settle < 0 || opt.settle > 1000)
        usage();
    if (!opt.synthetic)
        opt.dim = 384;
    const char *url = getenv("LLMEMORY_DATABASE_URL");
    if (url == NULL || !*url)
        url = getenv("LLMEMORY_TEST_DATABASE_URL");
    if (url == NULL || !*url) {
        fprintf(stderr, "scale_bench: set LLMEMORY_DATABASE_URL\n");
        return 2;
    }
    t_start = now_ms();
    load_sentences(opt.data);

    /* Tenant sizes: Zipf weights, at least one chunk each, the rounding remainder to the
       largest. */
    tenants = calloc((size_t)opt.tenants, sizeof(*tenants));
    double hsum = 0;
    for (int t = 0; t < opt.tenants; t++)
        hsum += pow(t + 1.0, -opt.zipf);
    long given = 0;
    for (int t = 1; t < opt.tenants; t++) {
        long n = lround((double)opt.chunks * pow(t + 1.0, -opt.zipf) / hsum);
        tenants[t].n = n < 1 ? 1 : n;
        given += tenants[t].n;
    }
    tenants[0].n = opt.chunks - given;
    long next = 0;
    for (int t = 0; t < opt.tenants; t++) {
        snprintf(tenants[t].name, sizeof(tenants[t].name), "t%05d", t);
        tenants[t].first = next;
        next += tenants[t].n;
    }
    centroids = malloc(sizeof(float) * NCENTROID * (size_t)opt.dim);
    {
        rng r = {mix64(opt.seed)};
        for (int c = 0; c < NCENTROID; c++) {
            double norm = 0;
            float *cv = centroids + (size_t)c * (size_t)opt.dim;
            for (int d = 0; d < opt.dim; d++) {
                cv[d] = (float)rgauss(&r);
                norm += (double)cv[d] * cv[d];
            }
            for (int d = 0; d < opt.dim; d++)
                cv[d] = (float)(cv[d] / sqrt(norm));
        }
    }
    /* Documents of 1-10 chunks, shuffled over all tenants. */
    rng r = {mix64(opt.seed + 7)};
    size_t n_docs = 0, cap_docs = (size_t)(opt.chunks / 2 + opt.tenants);
    doc *docs = malloc(cap_docs * sizeof(*docs));
    for (int t = 0; t < opt.tenants; t++) {
        for (long k = 0; k < tenants[t].n;) {
            int c = 1 + (int)(rnext(&r) % 10);
            if (c > tenants[t].n - k)
                c = (int)(tenants[t].n - k);
            if (n_docs == cap_docs)
                docs = realloc(docs, (cap_docs *= 2) * sizeof(*docs));
            docs[n_docs++] = (doc){t, tenants[t].first + k, c};
            k += c;
        }
    }
    for (size_t i = n_docs - 1; i > 0; i--) {
        size_t j = (size_t)(rnext(&r) % (i + 1));
        doc tmp = docs[i];
        docs[i] = docs[j];
        docs[j] = tmp;
    }
    int nb[NBUCKET] = {0};
    for (int t = 0; t < opt.tenants; t++)
        nb[bucket_of(t)]++;
    SAY("workload: %ld chunks, %d tenants (zipf %.2f; largest %ld, smallest %ld; buckets %s %d,"
        " %s %d, %s %d, %s %d), %zu documents, %d-d %s vectors, %zu sentences, seed %llu",
        opt.chunks, opt.tenants, opt.zipf, tenants[0].n, tenants[opt.tenants - 1].n,
        bucket_names[0], nb[0], bucket_names[1], nb[1], bucket_names[2], nb[2], bucket_names[3],
        nb[3], n_docs, opt.dim, opt.synthetic ? "synthetic" : "builtin", n_sent,
        (unsigned long long)opt.seed);

    pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "scale_bench: %s", PQerrorMessage(pg));
        return 1;
    }
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    if (!reuse)
        run("DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
    lm_embedder *emb = NULL;
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, synth_embed, NULL};
    if ((opt.synthetic ? lm_embedder_custom_new(&emb, PROVIDER, "synthetic", opt.dim, &ops, NULL)
                       : lm_embedder_builtin_new(&emb, 0)) < 0) {
        fprintf(stderr, "embedder: %s\n", lm_error_last()->message);
        return 1;
    }
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.database_url = url;
    mo.schema = SCHEMA;
    mo.embedder = emb;
    mo.disable_history = 1;
    mo.pool_size = 9;
    find_postmaster();

    /* Load: lm_doc_add_batch() per tenant (documents arrive shuffled; a tenant's pending
       documents go as one batch when there are opt.batch of them, and every tenant's rest at
       the end), or lm_doc_add() per document with --single. The memory used for loading builds
       no vector index (threshold -1), so the ingest figures and the raw COPY beside them measure
       the same work; the indexes are built afterwards. */
    lm_doc_input *in = malloc(sizeof(*in) * (size_t)opt.batch);
    char **texts = calloc((size_t)opt.batch, sizeof(*texts));
    char (*origins)[32] = malloc(32 * (size_t)opt.batch);
    int *first_doc = malloc(sizeof(int) * (size_t)opt.tenants);
    for (int t = 0; t < opt.tenants; t++)
        first_doc[t] = -1;
    texts[0] = malloc(10 * 512);
    if (reuse) {
        /* The rows of an earlier --load-only run of the same shape (SCALE_BENCH_KEEP=1). */
        for (size_t i = 0; i < n_docs; i++)
            if (first_doc[docs[i].tenant] < 0)
                first_doc[docs[i].tenant] = (int)i;
        PGresult *cr = q("SELECT count(*) FROM " SCHEMA ".chunks", 0, NULL);
        long have = atol(PQgetvalue(cr, 0, 0));
        PQclear(cr);
        /* More is fine: an earlier --reuse run's writes and burst stay (the ground truth is
           computed over the rows as they are). */
        if (have < opt.chunks) {
            fprintf(stderr,
                    "scale_bench: --reuse: schema " SCHEMA " holds %ld chunks, fewer than %ld\n",
                    have, opt.chunks);
            return 1;
        }
        SAY("reusing the %ld chunks loaded by an earlier --load-only run (%ld written since)", have,
            have - opt.chunks);
    } else {
    lm_memory_opts lo = mo;
    lo.vector_index_threshold = -1;
    lm_memory *lmem = NULL;
    /* No automatic packing while loading either, unless SCALE_BENCH_LOAD_AUTOPACK=1 (the
       default of an application: the keyword index is packed at 50k, 100k, 200k, ... chunks,
       its time counted in the load). */
    int autopack = getenv("SCALE_BENCH_LOAD_AUTOPACK") != NULL;
    if (!autopack)
        setenv("LLMEMORY_AUTO_OPTIMIZE", "off", 1);
    int lrc = lm_memory_open(&lmem, &lo);
    if (!autopack)
        unsetenv("LLMEMORY_AUTO_OPTIMIZE");
    if (lrc < 0) {
        fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
        return 1;
    }
    double t0 = now_ms(), worst = 0, c0 = client_cpu_s(), s0 = server_cpu_s();
    int **pend = calloc((size_t)opt.tenants, sizeof(*pend));
    int *npend = calloc((size_t)opt.tenants, sizeof(*npend));
    size_t done = 0, batches = 0;
    double last_say = now_ms();
    long chunks_done = 0;
    for (size_t i = 0; i <= n_docs; i++) {
        int flush_all = i == n_docs;
        int t_end = flush_all ? opt.tenants : docs[i].tenant + 1;
        for (int t = flush_all ? 0 : docs[i].tenant; t < t_end; t++) {
            if (!flush_all) {
                if (first_doc[t] < 0)
                    first_doc[t] = (int)i;
                if (pend[t] == NULL)
                    pend[t] = malloc(sizeof(int) * (size_t)opt.batch);
                pend[t][npend[t]++] = (int)i;
                if (opt.single || npend[t] < opt.batch)
                    continue;
            }
            if (npend[t] == 0)
                continue;
            for (int k = 0; k < npend[t]; k++) {
                const doc *d = &docs[pend[t][k]];
                if (texts[k] == NULL)
                    texts[k] = malloc(10 * 512);
                size_t o = doc_text(texts[k], 10 * 512, d);
                snprintf(origins[k], 32, "c%ld", d->first);
                in[k] = (lm_doc_input){origins[k], origins[k], LM_DOC_CHAT, texts[k], o, NULL};
                chunks_done += d->count;
            }
            double a0 = now_ms();
            int rc;
            if (opt.single) {
                lm_doc_add_result ar;
                rc = lm_doc_add(&ar, lmem, tenants[t].name, in[0].id_at_origin, in[0].name,
                                in[0].type, in[0].content, in[0].content_len, NULL);
            } else {
                rc = lm_doc_add_batch(NULL, NULL, lmem, tenants[t].name, in, (size_t)npend[t]);
            }
            if (rc < 0) {
                fprintf(stderr, "%s: %s\n", opt.single ? "lm_doc_add" : "lm_doc_add_batch",
                        lm_error_last()->message);
                return 1;
            }
            double ms = now_ms() - a0;
            worst = ms > worst ? ms : worst;
            done += (size_t)npend[t];
            batches++;
            npend[t] = 0;
            if (now_ms() - last_say > 30000 && (last_say = now_ms()) > 0)
                SAY("load: %zu/%zu documents, %.0f chunks/s", done, n_docs,
                    (double)chunks_done / ((now_ms() - t0) / 1000.0));
        }
    }
    double load_s = (now_ms() - t0) / 1000.0, load_cc = client_cpu_s() - c0,
           load_sc = server_cpu_s() - s0;
    SAY("load: %ld chunks in %.1f s through %s (%zu calls, slowest %.0f ms): %.0f chunks/s;"
        " CPU: client %.1f s, server %.1f s (%.0f chunks per CPU-second); %s vectors",
        opt.chunks, load_s, opt.single ? "lm_doc_add" : "lm_doc_add_batch", batches, worst,
        (double)opt.chunks / load_s, load_cc, load_sc, (double)opt.chunks / (load_cc + load_sc),
        opt.synthetic ? "synthetic (embedding excluded)" : "built-in embedder");
    lm_memory_close(lmem);
    for (int t = 0; t < opt.tenants; t++)
        free(pend[t]);
    free(pend);
    free(npend);

    /* The physical limit: the same rows COPYed into the same tables (a second schema made by
       the library, triggers and all), from files on the server, in one transaction. */
    long long bytes_ours = schema_bytes(SCHEMA, "naive%");
    if (!getenv("SCALE_BENCH_NO_COPY")) {
        char vt0[64], sql[5200], files[3][4200];
        snprintf(vt0, sizeof(vt0), "vectors_%d", opt.dim);
        run("DROP SCHEMA IF EXISTS sbraw CASCADE");
        lm_memory_opts ro = mo;
        ro.schema = "sbraw";
        lm_memory *rm = NULL;
        if (lm_memory_open(&rm, &ro) < 0) {
            fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
            return 1;
        }
        lm_memory_close(rm);
        const char *cols = "owner_id, chunk_id, document_id, parent_chunk_id, chunk_index,"
                           " chunk_level, searchable, content, content_hash, token_count,"
                           " metadata, search_vector, doc_len, created_at";
        snprintf(files[0], sizeof(files[0]), "%s/sbraw_documents.copy", data_dir);
        snprintf(files[1], sizeof(files[1]), "%s/sbraw_chunks.copy", data_dir);
        snprintf(files[2], sizeof(files[2]), "%s/sbraw_vectors.copy", data_dir);
        snprintf(sql, sizeof(sql), "COPY " SCHEMA ".documents TO '%s'", files[0]);
        run(sql);
        snprintf(sql, sizeof(sql), "COPY " SCHEMA ".chunks (%s) TO '%s'", cols, files[1]);
        run(sql);
        snprintf(sql, sizeof(sql), "COPY " SCHEMA ".%s TO '%s'", vt0, files[2]);
        run(sql);
        run("CHECKPOINT");
        double r0 = now_ms(), rs0 = server_cpu_s();
        run("BEGIN");
        snprintf(sql, sizeof(sql), "COPY sbraw.documents FROM '%s'", files[0]);
        run(sql);
        snprintf(sql, sizeof(sql), "COPY sbraw.chunks (%s) FROM '%s'", cols, files[1]);
        run(sql);
        snprintf(sql, sizeof(sql), "COPY sbraw.%s FROM '%s'", vt0, files[2]);
        run(sql);
        run("COMMIT");
        double raw_s = (now_ms() - r0) / 1000.0, raw_sc = server_cpu_s() - rs0;
        long long bytes_raw = schema_bytes("sbraw", "naive%");
        SAY("raw COPY: the same %ld chunks (documents, chunks with their search vectors,"
            " vectors; postings and statistics by the same trigger) in %.1f s: %.0f chunks/s;"
            " server CPU %.1f s (%.0f chunks per CPU-second)",
            opt.chunks, raw_s, (double)opt.chunks / raw_s, raw_sc,
            (double)opt.chunks / raw_sc);
        SAY("ingest / raw COPY: %.2f by wall time, %.2f by CPU time (client + server)",
            raw_s / load_s, raw_sc / (load_cc + load_sc));
        SAY("size on disk: ingested %.2f GB (%.2f GB per million chunks), raw COPY %.2f GB",
            (double)bytes_ours / 1e9, (double)bytes_ours / 1e9 * 1e6 / (double)opt.chunks,
            (double)bytes_raw / 1e9);
        run("DROP SCHEMA sbraw CASCADE");
        for (int k = 0; k < 3; k++)
            unlink(files[k]);
    } else {
        SAY("size on disk: ingested %.2f GB (%.2f GB per million chunks)",
            (double)bytes_ours / 1e9, (double)bytes_ours / 1e9 * 1e6 / (double)opt.chunks);
    }

    } /* !reuse */

    if (load_only) {
        if (!getenv("SCALE_BENCH_KEEP"))
            run("DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
        return 0;
    }

    /* Vector indexes: re-add each large tenant's first document (same text) through the
       searching memory, which requests its index build in the background. */
    lm_memory *mem = NULL;
    if (lm_memory_open(&mem, &mo) < 0) {
        fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
        return 1;
    }
    double w0 = now_ms();
    int n_built = 0;
    for (int t = 0; t < opt.tenants; t++) {
        if (tenants[t].n <= 500 || first_doc[t] < 0)
            continue;
        if (t == 1) {
            /* The largest tenant's graph alone first: the longest single build. */
            lm_memory_wait_index_builds(mem);
            SAY("vector index of the largest tenant (%ld vectors) built in the background in"
                " %.1f s", tenants[0].n, (now_ms() - w0) / 1000.0);
        }
        const doc *d = &docs[first_doc[t]];
        size_t o = doc_text(texts[0], 10 * 512, d);
        snprintf(origins[0], 32, "c%ld", d->first);
        in[0] = (lm_doc_input){origins[0], origins[0], LM_DOC_CHAT, texts[0], o, NULL};
        if (lm_doc_add_batch(NULL, NULL, mem, tenants[t].name, in, 1) < 0) {
            fprintf(stderr, "lm_doc_add_batch: %s\n", lm_error_last()->message);
            return 1;
        }
        n_built++;
    }
    lm_memory_wait_index_builds(mem);
    SAY("vector indexes: %d tenants over 500 vectors, built in the background in %.1f s",
        n_built, (now_ms() - w0) / 1000.0);
    run("ANALYZE " SCHEMA ".chunks");
    char vt[64];
    snprintf(vt, sizeof(vt), SCHEMA ".vectors_%d", opt.dim);
    {
        char sql[512];
        snprintf(sql, sizeof(sql), "ANALYZE %s", vt);
        run(sql);
    }

    /* The naive layout over the same rows. */
    char sql_truth[1024], sql_naive[1024];
    snprintf(sql_truth, sizeof(sql_truth),
             "SELECT c.content FROM %s v JOIN " SCHEMA ".chunks c ON c.owner_id = v.owner_id"
             " AND c.chunk_id = v.chunk_id WHERE v.owner_id = $1"
             " ORDER BY v.embedding <=> $2::vector(%d) LIMIT %d",
             vt, opt.dim, TOPK);
    snprintf(sql_naive, sizeof(sql_naive),
             "SELECT vid FROM " SCHEMA ".naive WHERE owner_id = $1"
             " ORDER BY embedding <=> $2::vector(%d) LIMIT %d",
             opt.dim, TOPK);
    if (opt.naive) {
        char sql[1024];
        double b0 = now_ms();
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE " SCHEMA ".naive AS SELECT v.owner_id,"
                 " substring(c.content from ' v:([0-9]+)')::bigint AS vid, v.embedding,"
                 " c.search_vector"
                 " FROM %s v JOIN " SCHEMA ".chunks c ON c.owner_id = v.owner_id"
                 " AND c.chunk_id = v.chunk_id",
                 vt);
        run(sql);
        /* Enough maintenance memory for pgvector to build the whole graph in memory (about
           4 d + 720 bytes a node at m = 16, a fifth more for the allocator), and one parallel
           worker: past the setting the build goes on on disk, several times slower. */
        long mwm_mb = (long)((double)opt.chunks * (4.0 * opt.dim + 720) * 1.2 / 1048576) + 64;
        mwm_mb = mwm_mb > 4096 ? 4096 : mwm_mb;
        snprintf(sql, sizeof(sql), "SET maintenance_work_mem = '%ldMB'", mwm_mb);
        run(sql);
        run("SET max_parallel_maintenance_workers = 1");
        snprintf(sql, sizeof(sql),
                 "CREATE INDEX ON " SCHEMA ".naive USING hnsw (embedding vector_cosine_ops)"
                 " WITH (m = 16, ef_construction = 64)");
        run(sql);
        SAY("naive: global HNSW (maintenance_work_mem %ld MB, 1 parallel worker) in %.1f s",
            mwm_mb, (now_ms() - b0) / 1000.0);
        run("RESET max_parallel_maintenance_workers");
        run("CREATE INDEX ON " SCHEMA ".naive USING gin (search_vector)");
        run("RESET maintenance_work_mem");
        run("ANALYZE " SCHEMA ".naive");
        SAY("naive: one global HNSW over %ld vectors and one global GIN over their search"
            " vectors built in %.1f s", opt.chunks,
            (now_ms() - b0) / 1000.0);
    }

    /* Queries: per bucket, opt.queries (tenant, query) pairs; the largest bucket is one
       tenant. */
    int nq = 0, nlit = 0;
    query *qs[NBUCKET];
    char **qvec_lit = calloc((size_t)NBUCKET * (size_t)opt.queries, sizeof(char *));
    snprintf(sql_nkw, sizeof(sql_nkw),
             "SELECT vid FROM " SCHEMA ".naive WHERE owner_id = $1"
             " AND search_vector @@ to_tsquery('english', $2)"
             " ORDER BY ts_rank_cd(search_vector, to_tsquery('english', $2)) DESC LIMIT $3::int");
    snprintf(sql_nvec, sizeof(sql_nvec),
             "SELECT vid FROM " SCHEMA ".naive WHERE owner_id = $1"
             " ORDER BY embedding <=> $2::vector(%d) LIMIT $3::int",
             opt.dim);
    double *rec[2][NBUCKET], *lat[2][NBUCKET];
    int cnt[NBUCKET] = {0};
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < NBUCKET; b++) {
            rec[k][b] = calloc((size_t)opt.queries, sizeof(double));
            lat[k][b] = calloc((size_t)opt.queries, sizeof(double));
        }
    int *bt[NBUCKET];
    for (int b = 0; b < NBUCKET; b++) {
        qs[b] = calloc((size_t)opt.queries, sizeof(*qs[b]));
        bt[b] = malloc(sizeof(int) * (size_t)(nb[b] ? nb[b] : 1));
        nb[b] = 0;
    }
    for (int t = 0; t < opt.tenants; t++)
        bt[bucket_of(t)][nb[bucket_of(t)]++] = t;
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_VECTOR;
    so.limit = TOPK;
    so.no_history = 1;
    float *qv = malloc(sizeof(float) * (size_t)opt.dim);
    char *qlit = malloc((size_t)opt.dim * 20 + 4);
    run("SET max_parallel_workers_per_gather = 0");
    for (int b = 0; b < NBUCKET; b++) {
        for (int i = 0; i < opt.queries && nb[b] > 0; i++) {
            int t = bt[b][rnext(&r) % (unsigned)nb[b]];
            char qtext[512];
            if (opt.synthetic) {
                if (nq >= (int)(sizeof(qcentroid) / sizeof(qcentroid[0])))
                    break;
                long some = tenants[t].first + (long)(rnext(&r) % (uint64_t)tenants[t].n);
                qcentroid[nq] = centroid_of(some);
                snprintf(qtext, sizeof(qtext), "q:%d", nq);
            } else {
                snprintf(qtext, sizeof(qtext), "%s", sent[rnext(&r) % n_sent]);
            }
            {
                query *Q = &qs[b][cnt[b]];
                long some = tenants[t].first + (long)(rnext(&r) % (uint64_t)tenants[t].n);
                Q->tenant = t;
                Q->qn = opt.synthetic ? nq : -1;
                snprintf(Q->vtext, sizeof(Q->vtext), "%s", qtext);
                kw_words(Q->kw, sizeof(Q->kw), sent[mix64(opt.seed ^ (uint64_t)some) % n_sent]);
                snprintf(Q->hybrid, sizeof(Q->hybrid), "%s %s", Q->kw, qtext);
                snprintf(Q->tsq, sizeof(Q->tsq), "%s", Q->kw);
                for (char *c = Q->tsq; *c; c++)
                    if (*c == ' ')
                        *c = '|';
            }
            nq++;
            const char *qp = qtext;
            if (lm_embedder_embed_query(emb, qv, &qp, NULL, 1) < 0) {
                fprintf(stderr, "embed: %s\n", lm_error_last()->message);
                return 1;
            }
            vec_text(qlit, (size_t)opt.dim * 20 + 4, qv);
            qvec_lit[nlit++] = strdup(qlit);
            const char *p[] = {tenants[t].name, qlit};
            /* Exact truth. */
            run("BEGIN");
            run("SET LOCAL enable_indexscan = off");
            PGresult *tr = q(sql_truth, 2, p);
            run("COMMIT");
            long truth[TOPK];
            int nt = PQntuples(tr);
            for (int j = 0; j < nt; j++)
                truth[j] = tag_of(PQgetvalue(tr, j, 0), 'v');
            PQclear(tr);
            /* Ours. */
            lm_results *res = NULL;
            double a0 = now_ms();
            if (lm_search(&res, mem, tenants[t].name, qtext, &so) < 0) {
                fprintf(stderr, "lm_search: %s\n", lm_error_last()->message);
                return 1;
            }
            lat[0][b][cnt[b]] = now_ms() - a0;
            int hit = 0;
            for (size_t h = 0; h < lm_results_count(res) && h < TOPK; h++) {
                long v = tag_of(lm_results_at(res, h)->content, 'v');
                for (int j = 0; j < nt; j++)
                    hit += v == truth[j];
            }
            lm_results_free(res);
            rec[0][b][cnt[b]] = nt ? (double)hit / nt : 1.0;
            /* Naive. */
            if (opt.naive) {
                a0 = now_ms();
                PGresult *nr = q(sql_naive, 2, p);
                lat[1][b][cnt[b]] = now_ms() - a0;
                hit = 0;
                for (int h = 0; h < PQntuples(nr); h++) {
                    long v = strtol(PQgetvalue(nr, h, 0), NULL, 10);
                    for (int j = 0; j < nt; j++)
                        hit += v == truth[j];
                }
                PQclear(nr);
                rec[1][b][cnt[b]] = nt ? (double)hit / nt : 1.0;
            }
            cnt[b]++;
        }
    }

    double la[3] = {0};
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
            la[0] = -1;
        fclose(lf);
    }
    printf("\nvector recall@10 against exact search, client wall ms per query (load average %.1f)\n\n",
           la[0]);
    printf("| bucket | tenants | queries | ours recall mean | ours min | ours p50 / p95 / p99 ms |"
           " naive recall mean | naive min | naive p50 / p95 / p99 ms |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    int fails = 0;
    for (int b = 0; b < NBUCKET; b++) {
        int n = cnt[b];
        if (n == 0)
            continue;
        double m[2] = {0}, mn[2] = {1, 1};
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < n; i++) {
                m[k] += rec[k][b][i] / n;
                mn[k] = rec[k][b][i] < mn[k] ? rec[k][b][i] : mn[k];
            }
        printf("| %s | %d | %d | %.3f | %.1f | %.2f / %.2f / %.2f |", bucket_names[b], nb[b], n, m[0],
               mn[0], pct(lat[0][b], n, .5), pct(lat[0][b], n, .95), pct(lat[0][b], n, .99));
        if (opt.naive)
            printf(" %.3f | %.1f | %.2f / %.2f / %.2f |\n", m[1], mn[1], pct(lat[1][b], n, .5),
                   pct(lat[1][b], n, .95), pct(lat[1][b], n, .99));
        else
            printf(" - | - | - |\n");
        fails += m[0] < 0.99 || mn[0] < 0.8;
    }
    printf("\n%s: ours recall@10 >= 0.99 mean and >= 0.8 for every query in every bucket\n",
           fails ? "FAIL" : "PASS");
    /* The measuring memory: a pool of one connection, so that its backend's CPU time between
       two reads of /proc/<pid>/schedstat is the server-side cost of a search. Its backend is
       the one llmemory connection that appears when it opens. */
    lm_memory *smem = NULL;
    {
        lm_memory_opts mso = mo;
        mso.pool_size = 1;
        PGresult *pr = q("SELECT coalesce(array_agg(pid)::text, '{}') FROM pg_stat_activity", 0,
                         NULL);
        char *before = strdup(PQgetvalue(pr, 0, 0));
        PQclear(pr);
        if (lm_memory_open(&smem, &mso) < 0) {
            fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
            return 1;
        }
        lm_results_free(search_or_die(smem, tenants[0].name, qs[0][0].kw, LM_SEARCH_TEXT, TOPK));
        const char *pb[] = {before};
        pr = q("SELECT pid FROM pg_stat_activity WHERE application_name = 'llmemory'"
               " AND backend_type = 'client backend' AND pid <> ALL($1::int[])",
               1, pb);
        if (PQntuples(pr) != 1) {
            fprintf(stderr, "scale_bench: %d new backends for the measuring memory, not 1\n",
                    PQntuples(pr));
            return 1;
        }
        smem_pid = atol(PQgetvalue(pr, 0, 0));
        PQclear(pr);
        free(before);
    }

    /* Keyword, vector and hybrid, ours and naive, quiet; then ours under a steady write stream
       (no optimize), and opt.settle keyword searches of the largest tenant under the same
       stream (SCALE_BENCH_OPTIMIZE=1: again after lm_memory_optimize()). */
    kh_lat L[2][3];
    memset(L, 0, sizeof(L));
    measure(&L[0][0], smem, qs, cnt, qvec_lit, 1);
    int n_set = opt.settle;
    double *set_w[2], *set_s[2];
    for (int k = 0; k < 2; k++) {
        set_w[k] = calloc((size_t)n_set + 1, sizeof(double));
        set_s[k] = calloc((size_t)n_set + 1, sizeof(double));
    }
    int packed = getenv("SCALE_BENCH_OPTIMIZE") != NULL;
    {
        writer w = {mem, 0, 0, 0};
        pthread_t wt;
        pthread_create(&wt, NULL, write_stream, &w);
        sleep(small ? 1 : 5); /* the stream reaches its rate */
        double m0 = now_ms();
        measure(&L[1][0], smem, qs, cnt, qvec_lit, 0);
        for (int round = 0; round < 1 + packed; round++) {
            if (round == 1) {
                lm_optimize_report orep;
                if (lm_memory_optimize(mem, &orep) < 0) {
                    fprintf(stderr, "lm_memory_optimize: %s\n", lm_error_last()->message);
                    return 1;
                }
                SAY("optimize (under the write stream): postings index %lld -> %lld pages in"
                    " %.1f s", orep.postings_pages_before, orep.postings_pages_after,
                    orep.elapsed_ms / 1000.0);
            }
            rng sr = {mix64(opt.seed + 555)};
            for (int i = 0; i < n_set; i++) {
                char kw[160];
                long some = tenants[0].first + (long)(rnext(&sr) % (uint64_t)tenants[0].n);
                kw_words(kw, sizeof(kw), sent[mix64(opt.seed ^ (uint64_t)some) % n_sent]);
                lm_results_free(timed_search(smem, tenants[0].name, kw, LM_SEARCH_TEXT,
                                             &set_w[round][i], &set_s[round][i]));
            }
        }
        double m_s = (now_ms() - m0) / 1000.0;
        w.stop = 1;
        pthread_join(wt, NULL);
        SAY("writes: %ld chunks in %ld documents added by a steady stream (lm_doc_add, target %d"
            " chunks/s) from 5 s before the second round of queries to the end of the settled"
            " keyword round (%.0f s)", w.chunks, w.docs, opt.write_rate, m_s);
    }
    static const char *kinds[3] = {"keyword", "vector", "hybrid"};
    lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
            la[0] = -1;
        fclose(lf);
    }
    printf("\nlatency per search, ms p50 / p95 / p99: server = CPU time of the backend that ran"
           " it (/proc/<pid>/schedstat), wall = the client's (unix socket); load average after:"
           " %.1f\n\n", la[0]);
    printf("| bucket | search | ours server | naive server | ours wall | naive wall |"
           " ours server, under writes | ours wall, under writes |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
#define P3(a, n) pct(a, n, .5), pct(a, n, .95), pct(a, n, .99)
    for (int b = 0; b < NBUCKET; b++) {
        int n = cnt[b];
        if (n == 0)
            continue;
        for (int k = 0; k < 3; k++) {
            printf("| %s | %s | %.2f / %.2f / %.2f | ", bucket_names[b], kinds[k],
                   P3(L[0][k].srv_ours[b], n));
            if (opt.naive)
                printf("%.2f / %.2f / %.2f | ", P3(L[0][k].srv_naive[b], n));
            else
                printf("- | ");
            printf("%.2f / %.2f / %.2f | ", P3(L[0][k].ours[b], n));
            if (opt.naive)
                printf("%.2f / %.2f / %.2f | ", P3(L[0][k].naive[b], n));
            else
                printf("- | ");
            printf("%.2f / %.2f / %.2f | %.2f / %.2f / %.2f |\n", P3(L[1][k].srv_ours[b], n),
                   P3(L[1][k].ours[b], n));
            if (b < 3 && pct(L[1][k].srv_ours[b], n, .95) > (k == 2 ? 15 : 5))
                printf("  over target: %s %s server p95 under writes %.2f ms > %d ms\n",
                       bucket_names[b], kinds[k], pct(L[1][k].srv_ours[b], n, .95),
                       k == 2 ? 15 : 5);
        }
    }
    for (int round = 0; round < 1 + packed; round++)
        printf("\nkeyword, the largest tenant (%ld chunks), %d searches under the write stream%s:"
               " server %.2f / %.2f / %.2f ms, wall %.2f / %.2f / %.2f ms (p50 / p95 / p99)\n",
               tenants[0].n, n_set, round ? ", after lm_memory_optimize()" : ", no optimize",
               P3(set_s[round], n_set), P3(set_w[round], n_set));

    /* The burst: opt.burst chunks through another memory as fast as they go, the vector
       queries of every bucket asked over and over meanwhile, then once more right after.
       Recall against the exact top 10 read just before each search: a result counts when its
       distance (computed here from the synthetic vector) is within the exact 10th distance, so
       that a closer chunk inserted between the two reads counts too. */
    if (opt.burst > 0 && opt.synthetic) {
        lm_memory *bmem = NULL;
        if (lm_memory_open(&bmem, &mo) < 0) {
            fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
            return 1;
        }
        char sql_d10[512];
        snprintf(sql_d10, sizeof(sql_d10),
                 "SELECT v.embedding <=> $2::vector(%d) FROM %s v WHERE v.owner_id = $1"
                 " ORDER BY 1 LIMIT %d", opt.dim, vt, TOPK);
        int bcap = 64, bn[2][NBUCKET] = {{0}};
        double *brec[2][NBUCKET], *bsrv[2][NBUCKET], *bwall[2][NBUCKET];
        for (int ph = 0; ph < 2; ph++)
            for (int b = 0; b < NBUCKET; b++) {
                brec[ph][b] = malloc(sizeof(double) * (size_t)bcap * 1000);
                bsrv[ph][b] = malloc(sizeof(double) * (size_t)bcap * 1000);
                bwall[ph][b] = malloc(sizeof(double) * (size_t)bcap * 1000);
            }
        burster bu = {bmem, 0, 0, 0, 0};
        pthread_t bth;
        pthread_create(&bth, NULL, burst_run, &bu);
        for (int ph = 0; ph < 2; ph++) {
            int again = 1;
            while (again) {
                int j = 0;
                for (int b = 0; b < NBUCKET; b++)
                    for (int i = 0; i < cnt[b]; i++, j++) {
                        if ((ph == 0 && bu.done) || bn[ph][b] >= bcap * 1000)
                            continue;
                        const query *Q = &qs[b][i];
                        synth_vec(qv, 1, Q->qn, qcentroid[Q->qn]);
                        const char *p[] = {tenants[Q->tenant].name, qvec_lit[j]};
                        run("BEGIN");
                        run("SET LOCAL enable_indexscan = off");
                        PGresult *tr = q(sql_d10, 2, p);
                        run("COMMIT");
                        int nt = PQntuples(tr);
                        double d10 = nt ? atof(PQgetvalue(tr, nt - 1, 0)) : 0;
                        PQclear(tr);
                        double wall, srv;
                        lm_results *res = timed_search(smem, tenants[Q->tenant].name, Q->vtext,
                                                       LM_SEARCH_VECTOR, &wall, &srv);
                        int hit = 0;
                        for (size_t h = 0; h < lm_results_count(res) && h < TOPK; h++) {
                            long v = tag_of(lm_results_at(res, h)->content, 'v');
                            hit += v >= 0 && chunk_dist(qv, v) <= d10 + 1e-5;
                        }
                        lm_results_free(res);
                        int k = bn[ph][b]++;
                        brec[ph][b][k] = nt ? (double)(hit < nt ? hit : nt) / nt : 1.0;
                        bsrv[ph][b][k] = srv;
                        bwall[ph][b][k] = wall;
                    }
                again = ph == 0 && !bu.done;
            }
            if (ph == 0) {
                pthread_join(bth, NULL);
                SAY("burst: %ld chunks in %ld lm_doc_add_batch() calls in %.1f s (%.0f chunks/s);"
                    " queries asked meanwhile: %d", bu.chunks, bu.calls, bu.ms / 1000.0,
                    bu.chunks / (bu.ms / 1000.0), bn[0][0] + bn[0][1] + bn[0][2] + bn[0][3]);
            }
        }
        double bw0 = now_ms();
        lm_memory_wait_index_builds(bmem);
        SAY("burst: background index builds done %.1f s after the round that followed it",
            (now_ms() - bw0) / 1000.0);
        lm_memory_close(bmem);
        printf("\nvector search during and right after a burst of %d inserts: recall@10 mean /"
               " worst query, server and wall ms p50 / p95\n\n| bucket | during: searches |"
               " recall | server | wall | right after: searches | recall | server | wall |\n"
               "|---|---|---|---|---|---|---|---|---|\n", opt.burst);
        int bfail = 0;
        for (int b = 0; b < NBUCKET; b++) {
            if (cnt[b] == 0)
                continue;
            printf("| %s |", bucket_names[b]);
            for (int ph = 0; ph < 2; ph++) {
                int n = bn[ph][b];
                double m = 0, mn = 1;
                for (int i = 0; i < n; i++) {
                    m += brec[ph][b][i] / n;
                    mn = brec[ph][b][i] < mn ? brec[ph][b][i] : mn;
                }
                if (n == 0)
                    printf(" 0 | - | - | - |");
                else
                    printf(" %d | %.3f / %.1f | %.2f / %.2f | %.2f / %.2f |", n, m, mn,
                           pct(bsrv[ph][b], n, .5), pct(bsrv[ph][b], n, .95),
                           pct(bwall[ph][b], n, .5), pct(bwall[ph][b], n, .95));
                bfail += n > 0 && (m < 0.99 || mn < 0.8);
            }
            printf("\n");
        }
        printf("\n%s: ours recall@10 >= 0.99 mean and >= 0.8 for every query during and after"
               " the burst\n", bfail ? "FAIL" : "PASS");
        fails += bfail;
        for (int ph = 0; ph < 2; ph++)
            for (int b = 0; b < NBUCKET; b++) {
                free(brec[ph][b]);
                free(bsrv[ph][b]);
                free(bwall[ph][b]);
            }
    }

    /* A new tenant: its first add against an add to an existing tenant of the same size. */
    {
        enum { NT = 40 };
        double first[NT], second[NT];
        for (int i = 0; i < NT; i++) {
            char owner[32], text[600];
            long id = opt.chunks + 5000000 + i;
            snprintf(owner, sizeof(owner), "new%04d", i);
            for (int k = 0; k < 2; k++) {
                char origin[32];
                snprintf(origin, sizeof(origin), "n%d", k);
                int len = snprintf(text, sizeof(text), "user: %.400s v:%ld\n",
                                   sent[mix64(opt.seed ^ (uint64_t)id) % n_sent], id + k * 1000);
                double a0 = now_ms();
                if (lm_doc_add(NULL, mem, owner, origin, origin, LM_DOC_CHAT, text, (size_t)len,
                               NULL) < 0) {
                    fprintf(stderr, "lm_doc_add: %s\n", lm_error_last()->message);
                    return 1;
                }
                (k == 0 ? first : second)[i] = now_ms() - a0;
            }
        }
        printf("\nnew tenant: first add (creates the tenant) %.2f ms median, second add %.2f ms"
               " median: %.2f ms beyond an ordinary insert; no DDL (%d tenants)\n",
               pct(first, NT, .5), pct(second, NT, .5), pct(first, NT, .5) - pct(second, NT, .5),
               NT);
    }

    /* Library throughput: C threads searching (keyword, hybrid) random queries of the set. */
    int tp_s = small ? 1 : 5;
    printf("\nthroughput through the library, searches/s (%d s per cell; one lm_memory, pool of"
           " 9)\n\n| clients | keyword | hybrid |\n|---|---|---|\n", tp_s);
    for (int c = 1; c <= 8; c *= 2) {
        double qps[2];
        for (int k = 0; k < 2; k++)
            qps[k] = throughput(mem, qs, cnt, c, k ? LM_SEARCH_HYBRID : LM_SEARCH_TEXT, tp_s);
        printf("| %d | %.0f | %.0f |\n", c, qps[0], qps[1]);
    }
    {
        double mx, sum;
        server_peak_mem(&mx, &sum);
        printf("\nserver peak memory (VmHWM of the PostgreSQL processes now alive): largest"
               " process %.0f MB, sum %.0f MB (shared buffers counted in each)\n", mx, sum);
    }
    {
        PGresult *pr = q("SELECT pg_database_size(current_database())", 0, NULL);
        printf("\ndatabase size after the run: %.2f GB (naive tables included)\n",
               atof(PQgetvalue(pr, 0, 0)) / 1e9);
        PQclear(pr);
    }

    lm_memory_close(smem);
    lm_memory_close(mem);
    lm_embedder_free(emb);
    /* Everything main allocated, so that the ASan build's leak check (the smoke test) sees
       only the library's. */
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++)
            for (int b = 0; b < NBUCKET; b++) {
                free(L[k][i].ours[b]);
                free(L[k][i].naive[b]);
                free(L[k][i].srv_ours[b]);
                free(L[k][i].srv_naive[b]);
            }
    for (int k = 0; k < 2; k++) {
        free(set_w[k]);
        free(set_s[k]);
        for (int b = 0; b < NBUCKET; b++) {
            free(rec[k][b]);
            free(lat[k][b]);
        }
    }
    for (int b = 0; b < NBUCKET; b++) {
        free(qs[b]);
        free(bt[b]);
    }
    for (int i = 0; i < nlit; i++)
        free(qvec_lit[i]);
    free(qvec_lit);
    free(qv);
    free(qlit);
    for (int k = 0; k < opt.batch; k++)
        free(texts[k]);
    free(texts);
    free(in);
    free(origins);
    free(first_doc);
    free(docs);
    if (!getenv("SCALE_BENCH_KEEP"))
        run("DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
    PQfinish(pg);
    return fails ? 1 : 0;
}

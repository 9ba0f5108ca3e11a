/*
 * bench/vector/vector_bench.c: recall@10 and latency of the vector leg per tenant-size class:
 * this library's layout ("ours": exact scan of the tenant's rows below the index threshold, a
 * partial HNSW index per tenant above it) against the original llmemory's ("llmemory": one global
 * HNSW + WHERE owner_id = $1), in one database, then ours again right after a burst of inserts.
 * Method and results: docs/vector-search.md.
 *
 * Everything goes through the library: documents are CHAT documents of 1..10 messages
 * "user: v:<id>" (one searchable chunk per message, no chat_turn parents at <= 10 messages), and
 * a custom embedder maps "v:<id>" to a synthetic clustered unit vector derived from the id alone
 * (200 random centroids + N(0, I/dim) noise, L2-normalised), and "q:<id>" to a query vector. The
 * driver therefore knows every tenant's vectors and computes the exact top-10 itself (double
 * precision over the float32 data).
 *
 * Built and run by bench/vector/run.sh, which starts the PostgreSQL cluster and passes
 * VECTOR_BENCH_DB. Environment (all optional except VECTOR_BENCH_DB):
 *   VECTOR_BENCH_SCALE      1.0: 200,000 rows, largest tenant 50,000, burst 20,000
 *   VECTOR_BENCH_QUERIES    queries per class (50)
 *   VECTOR_BENCH_EFC        ef_construction of the baseline's global HNSW (64)
 *   VECTOR_BENCH_BASELINE   0: skip the global-HNSW baseline
 *   VECTOR_BENCH_THRESHOLD  lm_memory_opts.vector_index_threshold (0: the library default)
 *   VECTOR_BENCH_SEED       data seed (1)
 *   VECTOR_BENCH_EF_SEARCH  lm_memory_opts.hnsw_ef_search (0: the library default, 40)
 *   VECTOR_BENCH_REUSE      1: measure a database a complete run left (KEEP=1) without loading
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llmemory.h"
#include "llmemory/sys/embedder.h"
#include "search/vector.h" /* the library's ef_search rule, for the server-side timing */

#define DIM 384
#define NCENT 200
#define TOPK 10
#define SCHEMA "vb"
#define PROVIDER "bench:synthetic-384"
#define VTABLE "\"vb\".vectors_384"
#define NCLASS 5
#define MAXQ 1000

/* ---- deterministic data ------------------------------------------------------------------ */

static uint64_t seed = 1;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s) { return ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0; }

static double gauss(uint64_t *s)
{
    double u = unif(s), v = unif(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static float centroids[NCENT][DIM];

static void make_centroids(void)
{
    uint64_t s = seed * 0x1000193ULL + 77;
    for (int c = 0; c < NCENT; c++) {
        double n = 0;
        for (int i = 0; i < DIM; i++) {
            double g = gauss(&s);
            centroids[c][i] = (float)g;
            n += g * g;
        }
        n = sqrt(n);
        for (int i = 0; i < DIM; i++)
            centroids[c][i] = (float)(centroids[c][i] / n);
    }
}

/* centroid + N(0, I/DIM), normalised; the stream is derived from (kind, id) only. */
static void make_vec(float *out, uint64_t kind, uint64_t id, int cluster)
{
    uint64_t s = seed ^ (kind * 0xd1b54a32d192ed03ULL) ^ (id * 0x9e3779b97f4a7c15ULL);
    splitmix(&s);
    if (cluster < 0)
        cluster = (int)(splitmix(&s) % NCENT);
    double v[DIM], n = 0, sd = 1.0 / sqrt((double)DIM);
    for (int i = 0; i < DIM; i++) {
        v[i] = centroids[cluster][i] + sd * gauss(&s);
        n += v[i] * v[i];
    }
    n = sqrt(n);
    for (int i = 0; i < DIM; i++)
        out[i] = (float)(v[i] / n);
}

static int vec_cluster(uint64_t id)
{
    uint64_t s = seed ^ (1 * 0xd1b54a32d192ed03ULL) ^ (id * 0x9e3779b97f4a7c15ULL);
    splitmix(&s);
    return (int)(splitmix(&s) % NCENT);
}

static float *vecs;    /* [n_ids][DIM], id = index */
static int n_ids;
static float *qvecs;   /* [n_q][DIM] */
static int n_q, cap_q;

/* ---- the custom embedder ------------------------------------------------------------------- */

static long parse_tag(const char *t, size_t len, char tag)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (t[i] == tag && t[i + 1] == ':' && (i == 0 || t[i - 1] == ' ')) {
            long v = 0;
            size_t j = i + 2;
            if (j >= len || t[j] < '0' || t[j] > '9')
                continue;
            for (; j < len && t[j] >= '0' && t[j] <= '9'; j++)
                v = v * 10 + (t[j] - '0');
            return v;
        }
    }
    return -1;
}

static int synth_embed(void *self, float *out, int dim, const char *const *texts, const size_t *lens,
                       size_t n)
{
    (void)self;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]);
        long id = parse_tag(texts[i], len, 'v');
        const float *src = NULL;
        if (id >= 0 && id < n_ids)
            src = vecs + (size_t)id * DIM;
        else if ((id = parse_tag(texts[i], len, 'q')) >= 0 && id < n_q)
            src = qvecs + (size_t)id * DIM;
        if (src == NULL || dim != DIM) {
            fprintf(stderr, "embedder: cannot map text \"%.*s\"\n", (int)(len > 60 ? 60 : len),
                    texts[i]);
            return LM_EINVAL;
        }
        memcpy(out + i * (size_t)dim, src, sizeof(float) * DIM);
    }
    return 0;
}

/* ---- tenants --------------------------------------------------------------------------------- */

typedef struct tenant {
    char name[16];
    int n;      /* current rows */
    int cap;
    int *ids;
    int cls;    /* class at the current phase, -1: none */
} tenant;

static tenant *tenants;
static int n_tenants;
static const char *class_names[NCLASS] = {"<=10", "~100", "~1k", "~10k", "largest"};

static void tenant_add_id(tenant *t, int id)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->ids = realloc(t->ids, sizeof(int) * (size_t)t->cap);
        if (t->ids == NULL) {
            perror("realloc");
            exit(1);
        }
    }
    t->ids[t->n++] = id;
}

static int classify(const tenant *t, int largest)
{
    if (t == &tenants[largest])
        return 4;
    if (t->n <= 10)
        return 0;
    if (t->n >= 70 && t->n <= 140)
        return 1;
    if (t->n >= 700 && t->n <= 1400)
        return 2;
    if (t->n >= 5000 && t->n <= 20000)
        return 3;
    return -1;
}

/* A document: tenant and a run of consecutive ids. */
typedef struct doc {
    int tenant, first, count;
} doc;

static void shuffle_docs(doc *d, int n, uint64_t *s)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(splitmix(s) % (uint64_t)(i + 1));
        doc t = d[i];
        d[i] = d[j];
        d[j] = t;
    }
}

/* Split per-tenant row counts (add[t]) into docs of 1..10 rows, shuffled over all tenants;
 * assign ids from *next_id in document order (so heap order == id order, tenants interleaved). */
static doc *make_docs(int *n_docs, const int *add, uint64_t *s, int *next_id)
{
    int cap = 1024, n = 0;
    doc *d = malloc(sizeof(doc) * (size_t)cap);
    for (int t = 0; t < n_tenants; t++) {
        int left = add[t];
        while (left > 0) {
            int k = 1 + (int)(splitmix(s) % 10);
            if (k > left)
                k = left;
            if (n == cap) {
                cap *= 2;
                d = realloc(d, sizeof(doc) * (size_t)cap);
            }
            d[n].tenant = t;
            d[n].count = k;
            n++;
            left -= k;
        }
    }
    shuffle_docs(d, n, s);
    for (int i = 0; i < n; i++) {
        d[i].first = *next_id;
        *next_id += d[i].count;
    }
    *n_docs = n;
    return d;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double t_start;
#define SAY(...)                                                                                   \
    do {                                                                                           \
        printf("[%6.1fs] ", (now_ms() - t_start) / 1000.0);                                        \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
    } while (0)

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static double env_double(const char *name, double def)
{
    const char *v = getenv(name);
    return v && *v ? atof(v) : def;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile. */
static double pct(const double *v, int n, double p)
{
    if (n == 0)
        return NAN;
    double *c = malloc(sizeof(double) * (size_t)n);
    memcpy(c, v, sizeof(double) * (size_t)n);
    qsort(c, (size_t)n, sizeof(double), cmp_double);
    int k = (int)ceil(p * n) - 1;
    if (k < 0)
        k = 0;
    double r = c[k];
    free(c);
    return r;
}

static PGconn *pg;

static PGresult *q(const char *sql, int n, const char *const *p, int ok_status)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != (ExecStatusType)ok_status) {
        fprintf(stderr, "SQL failed: %s\n%s\n", PQerrorMessage(pg), sql);
        exit(1);
    }
    return r;
}

static void run(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "SQL failed: %s\n%s\n", PQerrorMessage(pg), sql);
        exit(1);
    }
    PQclear(r);
}

static void vec_text(char *buf, size_t cap, const float *v)
{
    size_t o = 0;
    buf[o++] = '[';
    for (int i = 0; i < DIM; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ",%.9g" : "%.9g", (double)v[i]);
    buf[o++] = ']';
    buf[o] = '\0';
}

/* ---- ground truth ---------------------------------------------------------------------------- */

typedef struct cand {
    double d;
    int id;
} cand;

/* Exact top-k ids by cosine distance over tenant t. Returns how many (min(k, rows)). */
static int truth(int *out, const tenant *t, const float *qv)
{
    cand best[TOPK];
    int nb = 0;
    double qn = 0;
    for (int i = 0; i < DIM; i++)
        qn += (double)qv[i] * qv[i];
    qn = sqrt(qn);
    for (int r = 0; r < t->n; r++) {
        const float *x = vecs + (size_t)t->ids[r] * DIM;
        double dot = 0, xn = 0;
        for (int i = 0; i < DIM; i++) {
            dot += (double)x[i] * qv[i];
            xn += (double)x[i] * x[i];
        }
        double d = 1.0 - dot / (sqrt(xn) * qn);
        if (nb < TOPK || d < best[nb - 1].d) {
            int j = nb < TOPK ? nb++ : TOPK - 1;
            while (j > 0 && best[j - 1].d > d) {
                best[j] = best[j - 1];
                j--;
            }
            best[j].d = d;
            best[j].id = t->ids[r];
        }
    }
    for (int i = 0; i < nb; i++)
        out[i] = best[i].id;
    return nb;
}

static double recall_of(const int *got, int n_got, const int *want, int n_want)
{
    int hit = 0;
    for (int i = 0; i < n_want; i++)
        for (int j = 0; j < n_got; j++)
            if (got[j] == want[i]) {
                hit++;
                break;
            }
    return n_want ? (double)hit / n_want : 1.0;
}

/* ---- plans ----------------------------------------------------------------------------------- */

/* Label of the access path on relation @rel in an EXPLAIN JSON plan tree. */
static void plan_label(char *out, size_t cap, json_t *node, const char *rel, int *sorted)
{
    const char *nt = json_string_value(json_object_get(node, "Node Type"));
    const char *rn = json_string_value(json_object_get(node, "Relation Name"));
    const char *ix = json_string_value(json_object_get(node, "Index Name"));
    if (nt && strcmp(nt, "Sort") == 0)
        *sorted = 1;
    if (rn && strcmp(rn, rel) == 0 && out[0] == '\0') {
        if (ix && strncmp(ix, "vidx_", 5) == 0)
            snprintf(out, cap, "%s(partial hnsw)", nt);
        else
            snprintf(out, cap, "%s(%s)", nt, ix ? ix : "-");
    }
    /* A bitmap heap scan's index is on its child. */
    if (nt && strcmp(nt, "Bitmap Index Scan") == 0 && out[0] == '\0' && ix)
        snprintf(out, cap, "Bitmap(%s)", ix);
    json_t *kids = json_object_get(node, "Plans");
    size_t i;
    json_t *k;
    json_array_foreach(kids, i, k) plan_label(out, cap, k, rel, sorted);
}

typedef struct explain {
    double exec_ms, plan_ms, buffers;
    char label[96];
} explain;

static void explain_json(explain *e, PGresult *r, const char *rel)
{
    json_error_t err;
    json_t *root = json_loads(PQgetvalue(r, 0, 0), 0, &err);
    json_t *top = json_array_get(root, 0);
    e->exec_ms = json_number_value(json_object_get(top, "Execution Time"));
    e->plan_ms = json_number_value(json_object_get(top, "Planning Time"));
    json_t *plan = json_object_get(top, "Plan");
    e->buffers = json_number_value(json_object_get(plan, "Shared Hit Blocks")) +
                 json_number_value(json_object_get(plan, "Shared Read Blocks"));
    e->label[0] = '\0';
    int sorted = 0;
    char inner[80] = "";
    plan_label(inner, sizeof(inner), json_object_get(top, "Plan"), rel, &sorted);
    snprintf(e->label, sizeof(e->label), "%s%s%s", sorted ? "Sort<-" : "", inner,
             json_object_get(top, "JIT") ? " +JIT" : "");
    json_decref(root);
}

/* CPU time and run-queue wait of the backend serving @p pg (ns, /proc/<pid>/schedstat): how much
 * of the server's wall time was its own work and how much was waiting for a CPU. */
static void backend_sched(double *cpu_ns, double *wait_ns)
{
    char path[64];
    unsigned long long a = 0, b = 0;
    snprintf(path, sizeof(path), "/proc/%d/schedstat", PQbackendPID(pg));
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &a, &b) != 2)
            a = b = 0;
        fclose(f);
    }
    *cpu_ns = (double)a;
    *wait_ns = (double)b;
}

/* EXPLAIN ANALYZE @p sql @p reps times: the first run in @p first, the fastest execution time
 * in *best (repeats take the minimum, which removes most preemption by other processes). */
static void explain_reps(explain *first, double *best, const char *sql, int n,
                         const char *const *p, const char *rel, int reps)
{
    *best = INFINITY;
    for (int k = 0; k < reps; k++) {
        explain e;
        PGresult *er = q(sql, n, p, PGRES_TUPLES_OK);
        explain_json(&e, er, rel);
        PQclear(er);
        if (k == 0)
            *first = e;
        *best = e.exec_ms < *best ? e.exec_ms : *best;
    }
}

/* ---- measurement ----------------------------------------------------------------------------- */

typedef struct labelcount {
    char label[96];
    int n;
} labelcount;

typedef struct result {
    int done;
    int n_tenants, rows_min, rows_max;
    long rows_sum;
    int nq;
    double rec[MAXQ], srv[MAXQ], lib[MAXQ], plan[MAXQ];
    double srvb[MAXQ]; /* best of REPS runs */
    double alt[MAXQ];  /* best of REPS runs of an exact scan (diagnostic) */
    double bufs[MAXQ]; /* shared buffers touched (hit + read), first run */
    double cpu_ns, wait_ns; /* backend CPU and run-queue wait over all EXPLAIN runs */
    int runs;
    long ef_sum; /* ef_search the library's rule chose, summed over the queries */
    labelcount labels[8];
    int n_labels;
} result;

static void add_label(result *r, const char *label)
{
    for (int i = 0; i < r->n_labels; i++)
        if (strcmp(r->labels[i].label, label) == 0) {
            r->labels[i].n++;
            return;
        }
    if (r->n_labels < 8) {
        snprintf(r->labels[r->n_labels].label, sizeof(r->labels[0].label), "%s", label);
        r->labels[r->n_labels++].n = 1;
    }
}

static double mean(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return n ? s / n : NAN;
}

static double minv(const double *v, int n)
{
    double m = INFINITY;
    for (int i = 0; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

/* The query set of one phase: per class, tenants picked evenly and queries round-robin. */
typedef struct qset {
    int nq[NCLASS];
    int tenant[NCLASS][MAXQ];
    int qid[NCLASS][MAXQ];
    int truth[NCLASS][MAXQ][TOPK];
    int ntruth[NCLASS][MAXQ];
    int class_tenants[NCLASS];
    long class_rows[NCLASS];
    int class_min[NCLASS], class_max[NCLASS];
} qset;

static int add_query(int t, uint64_t *s)
{
    if (n_q == cap_q) {
        cap_q = cap_q ? cap_q * 2 : 1024;
        qvecs = realloc(qvecs, sizeof(float) * DIM * (size_t)cap_q);
    }
    tenant *tt = &tenants[t];
    int row = tt->ids[splitmix(s) % (uint64_t)tt->n];
    make_vec(qvecs + (size_t)n_q * DIM, 2, (uint64_t)n_q, vec_cluster((uint64_t)row));
    return n_q++;
}

static void make_qset(qset *qs, int largest, int per_class, const int *pinned, int n_pinned,
                      uint64_t *s)
{
    memset(qs, 0, sizeof(*qs));
    int *members = malloc(sizeof(int) * (size_t)n_tenants);
    for (int c = 0; c < NCLASS; c++) {
        int m = 0;
        qs->class_min[c] = 1 << 30;
        /* Pinned tenants (the named sizes) first, then the rest by name. */
        for (int p = 0; p < n_pinned; p++)
            if (classify(&tenants[pinned[p]], largest) == c)
                members[m++] = pinned[p];
        int first_free = m;
        for (int t = 0; t < n_tenants; t++) {
            if (classify(&tenants[t], largest) != c)
                continue;
            int dup = 0;
            for (int p = 0; p < first_free; p++)
                dup |= members[p] == t;
            if (!dup)
                members[m++] = t;
        }
        for (int i = 0; i < m; i++) {
            tenant *t = &tenants[members[i]];
            qs->class_rows[c] += t->n;
            qs->class_min[c] = t->n < qs->class_min[c] ? t->n : qs->class_min[c];
            qs->class_max[c] = t->n > qs->class_max[c] ? t->n : qs->class_max[c];
        }
        qs->class_tenants[c] = m;
        if (m == 0)
            continue;
        /* At most per_class tenants: the pinned ones, then evenly spaced over the others. */
        int pick_n = m < per_class ? m : per_class;
        int *pick = malloc(sizeof(int) * (size_t)pick_n);
        int k = 0;
        for (int i = 0; i < first_free && k < pick_n; i++)
            pick[k++] = members[i];
        int rest = m - first_free, need = pick_n - k;
        for (int i = 0; i < need; i++)
            pick[k++] = members[first_free + (int)((long)i * rest / need)];
        for (int i = 0; i < per_class; i++) {
            int t = pick[i % pick_n];
            qs->tenant[c][i] = t;
            qs->qid[c][i] = add_query(t, s);
            qs->ntruth[c][i] = truth(qs->truth[c][i], &tenants[t],
                                     qvecs + (size_t)qs->qid[c][i] * DIM);
        }
        qs->nq[c] = per_class;
        free(pick);
    }
    free(members);
}

/* The vector leg as src/lib/search/vector.c (lm__vector_search) builds it with no filters:
 * the top-k over the tenant's vectors first, then their chunk numbers. A tenant whose index is
 * over half-precision copies ("halfvec" in vector_indexes) is ranked by that expression (so the
 * partial index serves it) and its best $5 candidates are re-ranked by the exact distance; other
 * tenants (exact search, or a full-precision index) by the exact distance. */
#define OURS_SQL_FMT                                                                               \
    "SELECT c.chunk_no, 1 - t.dist AS similarity FROM ("                                           \
    "  SELECT v.chunk_id, v.embedding <=> $2::vector(384) AS dist"                                 \
    "    FROM " VTABLE " v WHERE v.owner_id = $1 AND v.provider_id = $3"                           \
    "   ORDER BY %s LIMIT $5::int) t"                                                              \
    "  JOIN \"vb\".chunks c ON c.owner_id = $1 AND c.chunk_id = t.chunk_id"                        \
    " ORDER BY t.dist, c.chunk_no LIMIT $4::int"
#define ORDER_FULL "v.embedding <=> $2::vector(384)"
#define ORDER_HALF "v.embedding::halfvec(384) <=> $2::halfvec(384)"

/* Diagnostic, not the library's SQL: exact search over the tenant's rows (no index can serve
 * this ORDER BY when the tenant's index is over halfvec), what the index saves. */
static const char *ALT_SQL =
    "SELECT c.chunk_no, 1 - v.dist AS similarity"
    "  FROM (SELECT chunk_id, embedding <=> $2::vector(384) AS dist FROM " VTABLE
    "         WHERE owner_id = $1 AND provider_id = $3"
    "         ORDER BY embedding <=> $2::vector(384) LIMIT $4::int) v"
    "  JOIN \"vb\".chunks c ON c.owner_id = $1 AND c.chunk_id = v.chunk_id"
    " ORDER BY v.dist";

#define REPS 3

static void measure_ours(result *res, lm_memory *mem, const qset *qs, int ef_search)
{
    static char vbuf[DIM * 20];
    char sql_full[2048], sql_half[2048], alt[2048], ef[16];
    snprintf(sql_full, sizeof(sql_full), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " OURS_SQL_FMT,
             ORDER_FULL);
    snprintf(sql_half, sizeof(sql_half), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " OURS_SQL_FMT,
             ORDER_HALF);
    snprintf(alt, sizeof(alt), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) %s", ALT_SQL);
    snprintf(ef, sizeof(ef), "%d", ef_search);
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_VECTOR;
    so.limit = TOPK;
    so.no_history = 1;
    for (int c = 0; c < NCLASS; c++) {
        result *r = &res[c];
        memset(r, 0, sizeof(*r));
        r->n_tenants = qs->class_tenants[c];
        r->rows_sum = qs->class_rows[c];
        r->rows_min = qs->class_min[c];
        r->rows_max = qs->class_max[c];
        if (qs->nq[c] == 0)
            continue;
        r->done = 1;
        /* Warm-up: the first queries of a class pay for connection-local caches. */
        for (int i = 0; i < 3 && i < qs->nq[c]; i++) {
            char text[32];
            lm_results *lr = NULL;
            snprintf(text, sizeof(text), "q:%d", qs->qid[c][i]);
            lm_search(&lr, mem, tenants[qs->tenant[c][i]].name, text, &so);
            lm_results_free(lr);
        }
        for (int i = 0; i < qs->nq[c]; i++) {
            char text[32];
            int t = qs->tenant[c][i], got[TOPK], ng = 0;
            lm_results *lr = NULL;
            snprintf(text, sizeof(text), "q:%d", qs->qid[c][i]);
            double t0 = now_ms();
            if (lm_search(&lr, mem, tenants[t].name, text, &so) < 0) {
                fprintf(stderr, "lm_search: %s\n", lm_error_last()->message);
                exit(1);
            }
            r->lib[i] = now_ms() - t0;
            for (size_t h = 0; h < lm_results_count(lr) && ng < TOPK; h++) {
                const char *ct = lm_results_at(lr, h)->content;
                got[ng++] = (int)parse_tag(ct, strlen(ct), 'v');
            }
            lm_results_free(lr);
            r->rec[i] = recall_of(got, ng, qs->truth[c][i], qs->ntruth[c][i]);

            /* Server side: the same SQL, parameters and settings, under EXPLAIN ANALYZE. */
            vec_text(vbuf, sizeof(vbuf), qvecs + (size_t)qs->qid[c][i] * DIM);
            char lim[16], fetch[16];
            const char *own[] = {tenants[t].name};
            char dimv[8], topk[8];
            snprintf(dimv, sizeof(dimv), "%d", DIM);
            snprintf(topk, sizeof(topk), "%d", TOPK);
            const char *sp[] = {ef, tenants[t].name, PROVIDER, topk, dimv, "vb"};
            run("BEGIN");
            PQclear(q("SELECT set_config('llmemory.owner_id', $1, true)", 1, own, PGRES_TUPLES_OK));
            PGresult *sr = q("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                             " set_config('max_parallel_workers_per_gather', '0', true),"
                             " set_config('hnsw.ef_search', " LM__VECTOR_EF_SQL "::text, true),"
                             " vi.element_type"
                             " FROM (VALUES (1)) one (x) LEFT JOIN \"vb\".vector_indexes vi"
                             "   ON vi.owner_id = $2 AND vi.provider_id = $3",
                             6, sp, PGRES_TUPLES_OK);
            int half = strcmp(PQgetvalue(sr, 0, 3), "halfvec") == 0;
            int efv = atoi(PQgetvalue(sr, 0, 2));
            r->ef_sum += efv;
            PQclear(sr);
            snprintf(lim, sizeof(lim), "%d", TOPK);
            snprintf(fetch, sizeof(fetch), "%d", half ? (2 * TOPK < efv ? 2 * TOPK : efv) : TOPK);
            const char *p[] = {tenants[t].name, vbuf, PROVIDER, lim, fetch};
            explain e, ea;
            double c0, w0, c1, w1;
            backend_sched(&c0, &w0);
            explain_reps(&e, &r->srvb[i], half ? sql_half : sql_full, 5, p, "vectors_384", REPS);
            backend_sched(&c1, &w1);
            r->cpu_ns += c1 - c0;
            r->wait_ns += w1 - w0;
            r->runs += REPS;
            explain_reps(&ea, &r->alt[i], alt, 4, p, "vectors_384", REPS);
            run("COMMIT");
            r->srv[i] = e.exec_ms;
            r->bufs[i] = e.buffers;
            r->plan[i] = e.plan_ms;
            add_label(r, e.label);
        }
        r->nq = qs->nq[c];
    }
}

static void measure_base(result *res, const qset *qs, int ef_search)
{
    static char vbuf[DIM * 20];
    const char *sel = "SELECT chunk_id FROM vb_base.emb WHERE owner_id = $1"
                      " ORDER BY embedding <=> $2::vector(384) LIMIT 10";
    char ex[512], set[96];
    snprintf(ex, sizeof(ex), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) %s", sel);
    snprintf(set, sizeof(set), "SET hnsw.ef_search = %d", ef_search);
    run(set);
    run("SET hnsw.iterative_scan = off");
    for (int c = 0; c < NCLASS; c++) {
        result *r = &res[c];
        memset(r, 0, sizeof(*r));
        r->n_tenants = qs->class_tenants[c];
        r->rows_sum = qs->class_rows[c];
        if (qs->nq[c] == 0)
            continue;
        r->done = 1;
        for (int i = 0; i < qs->nq[c]; i++) {
            int t = qs->tenant[c][i], got[TOPK], ng = 0;
            vec_text(vbuf, sizeof(vbuf), qvecs + (size_t)qs->qid[c][i] * DIM);
            const char *p[] = {tenants[t].name, vbuf};
            double t0 = now_ms();
            PGresult *sr = q(sel, 2, p, PGRES_TUPLES_OK);
            r->lib[i] = now_ms() - t0;
            for (int k = 0; k < PQntuples(sr) && ng < TOPK; k++)
                got[ng++] = atoi(PQgetvalue(sr, k, 0));
            PQclear(sr);
            r->rec[i] = recall_of(got, ng, qs->truth[c][i], qs->ntruth[c][i]);
            explain e;
            double c0, w0, c1, w1;
            backend_sched(&c0, &w0);
            explain_reps(&e, &r->srvb[i], ex, 2, p, "emb", REPS);
            backend_sched(&c1, &w1);
            r->cpu_ns += c1 - c0;
            r->wait_ns += w1 - w0;
            r->runs += REPS;
            r->srv[i] = e.exec_ms;
            r->bufs[i] = e.buffers;
            r->plan[i] = e.plan_ms;
            add_label(r, e.label);
        }
        r->nq = qs->nq[c];
    }
    run("RESET hnsw.ef_search");
}

/* Planning time of the library's SQL for one tenant, with the partial indexes in place and with
 * all of them dropped inside a transaction that is rolled back. */
static double planning_p50(const char *const *p, int n)
{
    char sql[2048];
    double *v = malloc(sizeof(double) * (size_t)n);
    snprintf(sql, sizeof(sql), "EXPLAIN (SUMMARY, FORMAT JSON) " OURS_SQL_FMT, ORDER_FULL);
    for (int i = 0; i < n; i++) {
        PGresult *r = q(sql, 5, p, PGRES_TUPLES_OK);
        json_t *root = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        v[i] = json_number_value(json_object_get(json_array_get(root, 0), "Planning Time"));
        json_decref(root);
        PQclear(r);
    }
    double m = pct(v, n, 0.5);
    free(v);
    return m;
}

static void measure_planning(int t)
{
    static char vbuf[DIM * 20];
    char lim[8] = "10";
    vec_text(vbuf, sizeof(vbuf), vecs + (size_t)tenants[t].ids[0] * DIM);
    const char *p[] = {tenants[t].name, vbuf, PROVIDER, lim, lim};
    PGresult *r = q("SELECT count(*) FROM pg_index WHERE indrelid = 'vb.vectors_384'::regclass"
                    " AND indpred IS NOT NULL", 0, NULL, PGRES_TUPLES_OK);
    int n_idx = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    double with = planning_p50(p, 200);
    run("BEGIN");
    PQclear(q("DO $$DECLARE i regclass; BEGIN FOR i IN SELECT indexrelid::regclass FROM pg_index"
              " WHERE indrelid = 'vb.vectors_384'::regclass AND indpred IS NOT NULL LOOP"
              " EXECUTE 'DROP INDEX ' || i; END LOOP; END$$", 0, NULL, PGRES_COMMAND_OK));
    double without = planning_p50(p, 200);
    run("ROLLBACK");
    SAY("planning time of the vector leg (tenant \"%s\", %d rows, p50 of 200): %.3f ms with %d"
        " partial HNSW indexes on the table, %.3f ms with none: %.1f us per partial index",
        tenants[t].name, tenants[t].n, with, n_idx, without,
        n_idx ? (with - without) * 1000.0 / n_idx : 0.0);
}

/* ---- output ---------------------------------------------------------------------------------- */

static void cell_rec(char *b, size_t n, const result *r)
{
    if (!r->done)
        snprintf(b, n, "-");
    else
        snprintf(b, n, "%.3f/%.1f", mean(r->rec, r->nq), minv(r->rec, r->nq));
}

static void cell_lat(char *b, size_t n, const result *r, const double *v)
{
    if (!r->done)
        snprintf(b, n, "-");
    else
        snprintf(b, n, "%.2f/%.2f", pct(v, r->nq, 0.5), pct(v, r->nq, 0.95));
}

static void cell_cpu(char *b, size_t n, const result *r)
{
    if (!r->done || r->runs == 0)
        snprintf(b, n, "-");
    else
        snprintf(b, n, "%.2f / %.2f", r->cpu_ns / 1e6 / r->runs, r->wait_ns / 1e6 / r->runs);
}

static void print_table(const char *title, const result *ours, const result *b40,
                        const result *b100)
{
    printf("\n### %s\n\n", title);
    printf("| class | tenants | rows (min-max) | ours recall mean/min | ours srv p50/p95 ms |"
           " ours lib p50/p95 ms | ours plan p50 ms | llmemory ef40 recall | ef40 srv p50/p95 |"
           " llmemory ef100 recall | ef100 srv p50/p95 |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < NCLASS; c++) {
        const result *o = &ours[c];
        char a[32], s[32], l[32], br40[32], bs40[32], br100[32], bs100[32];
        cell_rec(a, sizeof(a), o);
        cell_lat(s, sizeof(s), o, o->srv);
        cell_lat(l, sizeof(l), o, o->lib);
        if (b40) {
            cell_rec(br40, sizeof(br40), &b40[c]);
            cell_lat(bs40, sizeof(bs40), &b40[c], b40[c].srv);
            cell_rec(br100, sizeof(br100), &b100[c]);
            cell_lat(bs100, sizeof(bs100), &b100[c], b100[c].srv);
        } else {
            strcpy(br40, "n/a");
            strcpy(bs40, "n/a");
            strcpy(br100, "n/a");
            strcpy(bs100, "n/a");
        }
        printf("| %s | %d | %ld (%d-%d) | %s | %s | %s | %.2f | %s | %s | %s | %s |\n",
               class_names[c], o->n_tenants, o->rows_sum, o->done ? o->rows_min : 0,
               o->done ? o->rows_max : 0, a, s, l, o->done ? pct(o->plan, o->nq, 0.5) : 0.0, br40,
               bs40, br100, bs100);
    }
    printf("\nDiagnostics (server side, ms; \"best of %d\" = the fastest of %d EXPLAIN ANALYZE runs"
           " of each query, which removes most preemption by other processes; CPU / wait = mean"
           " CPU time of the backend and time it waited for a CPU, per EXPLAIN ANALYZE run"
           " including planning, from /proc/<pid>/schedstat):\n\n", REPS, REPS);
    printf("| class | ours buffers p50 | ours srv best-of-%d p50/p95 | ours backend CPU / run-queue"
           " wait per run | exact scan (diagnostic) best-of-%d p50/p95 | llmemory ef40 best-of-%d"
           " p50/p95 | ef40 CPU / wait | llmemory ef100 best-of-%d p50/p95 | ef100 CPU / wait |\n",
           REPS, REPS, REPS, REPS);
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < NCLASS; c++) {
        const result *o = &ours[c];
        if (!o->done)
            continue;
        char sb[32], al[32], b4[32] = "n/a", b1[32] = "n/a", oc[40], c4[40] = "n/a",
                                                                  c1[40] = "n/a";
        cell_lat(sb, sizeof(sb), o, o->srvb);
        cell_lat(al, sizeof(al), o, o->alt);
        cell_cpu(oc, sizeof(oc), o);
        if (b40) {
            cell_lat(b4, sizeof(b4), &b40[c], b40[c].srvb);
            cell_lat(b1, sizeof(b1), &b100[c], b100[c].srvb);
            cell_cpu(c4, sizeof(c4), &b40[c]);
            cell_cpu(c1, sizeof(c1), &b100[c]);
        }
        printf("| %s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", class_names[c],
               pct(o->bufs, o->nq, 0.5), sb, oc, al, b4, c4, b1, c1);
    }
    printf("\nPlans (access path on the vector table: count over the class's queries):\n");
    for (int c = 0; c < NCLASS; c++) {
        if (!ours[c].done)
            continue;
        printf("  %-8s ours:", class_names[c]);
        for (int i = 0; i < ours[c].n_labels; i++)
            printf(" %s x%d;", ours[c].labels[i].label, ours[c].labels[i].n);
        if (b40) {
            printf("  | ef40:");
            for (int i = 0; i < b40[c].n_labels; i++)
                printf(" %s x%d;", b40[c].labels[i].label, b40[c].labels[i].n);
            printf("  | ef100:");
            for (int i = 0; i < b100[c].n_labels; i++)
                printf(" %s x%d;", b100[c].labels[i].label, b100[c].labels[i].n);
        }
        printf("\n");
    }
    fflush(stdout);
}

static int check(const char *phase, const result *ours)
{
    int fails = 0;
    for (int c = 0; c < NCLASS; c++) {
        const result *o = &ours[c];
        if (!o->done) {
            printf("SKIP %s %s: no tenant in this class at this scale\n", phase, class_names[c]);
            continue;
        }
        double rm = mean(o->rec, o->nq), p95 = pct(o->srv, o->nq, 0.95);
        double p95b = pct(o->srvb, o->nq, 0.95);
        int ok_r = rm >= 0.99 && minv(o->rec, o->nq) >= 0.8, ok_l = p95 <= 5.0;
        printf("%s %s %-8s recall@10 mean %.3f >= 0.99, min %.1f >= 0.8 (ef_search mean %.0f)\n",
               ok_r ? "PASS" : "FAIL", phase, class_names[c], rm, minv(o->rec, o->nq),
               o->nq ? (double)o->ef_sum / o->nq : 0.0);
        printf("%s %s %-8s server p95 %.2f ms <= 5 ms\n", ok_l ? "PASS" : "FAIL", phase,
               class_names[c], p95);
        printf("info %s %-8s server p95 best-of-%d %.2f ms (%s 5 ms)\n", phase, class_names[c],
               REPS, p95b, p95b <= 5.0 ? "<=" : ">");
        fails += !ok_r + !ok_l;
    }
    return fails;
}

static void loadavg(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            strcpy(buf, "?");
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
    }
    SAY("load average %s: %s", when, buf);
}

/* ---- ingest ---------------------------------------------------------------------------------- */

static void ingest(lm_memory *mem, const doc *docs, int n_docs, const char *what)
{
    char *content = malloc(64 * 16);
    double *lat = malloc(sizeof(double) * (size_t)(n_docs ? n_docs : 1));
    long rows = 0, total = 0, slow = 0;
    double t0 = now_ms(), worst = 0, next_report = 0.1;
    for (int i = 0; i < n_docs; i++)
        total += docs[i].count;
    for (int i = 0; i < n_docs; i++) {
        const doc *d = &docs[i];
        char origin[32];
        size_t o = 0;
        for (int k = 0; k < d->count; k++)
            o += (size_t)sprintf(content + o, "user: v:%d\n", d->first + k);
        snprintf(origin, sizeof(origin), "d%d", d->first);
        lm_doc_add_result ar;
        double a0 = now_ms();
        if (lm_doc_add(&ar, mem, tenants[d->tenant].name, origin, origin, LM_DOC_CHAT, content, o,
                       NULL) < 0) {
            fprintf(stderr, "lm_doc_add: %s\n", lm_error_last()->message);
            exit(1);
        }
        double a = now_ms() - a0;
        lat[i] = a;
        worst = a > worst ? a : worst;
        slow += a > 100.0;
        if (ar.embedded != d->count) {
            fprintf(stderr, "document %s: %d chunks embedded, expected %d (queued %d)\n", origin,
                    ar.embedded, d->count, ar.queued);
            exit(1);
        }
        for (int k = 0; k < d->count; k++)
            tenant_add_id(&tenants[d->tenant], d->first + k);
        rows += d->count;
        if ((double)rows >= next_report * (double)total) {
            double s = (now_ms() - t0) / 1000.0;
            SAY("%s: %ld/%ld vectors, %d docs, %.0f vectors/s", what, rows, total, i + 1,
                (double)rows / s);
            next_report += 0.1;
        }
    }
    double s = (now_ms() - t0) / 1000.0;
    SAY("%s done: %ld vectors in %d documents in %.1f s = %.0f vectors/s, %.0f docs/s;"
        " slowest lm_doc_add %.0f ms, %ld adds > 100 ms",
        what, rows, n_docs, s, (double)rows / s, n_docs / s, worst, slow);
    SAY("%s: lm_doc_add latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms", what, pct(lat, n_docs, 0.5),
        pct(lat, n_docs, 0.95), pct(lat, n_docs, 0.99));
    free(lat);
    free(content);
}

static void show_state(const char *when)
{
    PGresult *r = q("SELECT n_live_tup, coalesce(to_char(last_autoanalyze, 'HH24:MI:SS'), 'never'),"
                    " coalesce(to_char(last_autovacuum, 'HH24:MI:SS'), 'never'), n_mod_since_analyze,"
                    " (SELECT count(*) FROM pg_indexes WHERE schemaname = 'vb'"
                    "   AND tablename = 'vectors_384' AND indexname LIKE 'vidx_%'),"
                    " (SELECT count(*) FROM vb.vector_indexes),"
                    " pg_size_pretty(pg_relation_size('vb.vectors_384')),"
                    " (SELECT pg_size_pretty(coalesce(sum(pg_relation_size(indexrelid)), 0))"
                    "    FROM pg_index WHERE indrelid = 'vb.vectors_384'::regclass"
                    "     AND indpred IS NOT NULL),"
                    " (SELECT count(*) FROM pg_index WHERE indrelid = 'vb.vectors_384'::regclass"
                    "     AND NOT indisvalid),"
                    " to_char(now(), 'HH24:MI:SS')"
                    " FROM pg_stat_user_tables WHERE schemaname = 'vb' AND relname = 'vectors_384'",
                    0, NULL, PGRES_TUPLES_OK);
    SAY("%s: vectors_384 %s live rows, heap %s; %s partial HNSW indexes (%s registered, %s in all,"
        " %s invalid); last autoanalyze %s, last autovacuum %s (now %s), rows changed since analyze %s",
        when, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
        PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 8), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
        PQgetvalue(r, 0, 9), PQgetvalue(r, 0, 3));
    PQclear(r);
}

/* ---- main ------------------------------------------------------------------------------------ */

static void on_log(int level, const char *msg, void *payload)
{
    (void)payload;
    if (level <= LM_LOG_WARN || strncmp(msg, "built vector index", 18) == 0)
        SAY("library %s: %s", level <= LM_LOG_WARN ? "warning" : "log", msg);
}

int main(void)
{
    const char *db = getenv("VECTOR_BENCH_DB");
    double scale = env_double("VECTOR_BENCH_SCALE", 1.0);
    int per_class = env_int("VECTOR_BENCH_QUERIES", 50);
    int efc = env_int("VECTOR_BENCH_EFC", 64);
    int do_base = env_int("VECTOR_BENCH_BASELINE", 1);
    int threshold = env_int("VECTOR_BENCH_THRESHOLD", 0);
    int ef_search = env_int("VECTOR_BENCH_EF_SEARCH", 0);
    int reuse = env_int("VECTOR_BENCH_REUSE", 0);
    seed = (uint64_t)env_int("VECTOR_BENCH_SEED", 1);
    t_start = now_ms();
    if (db == NULL) {
        fprintf(stderr, "VECTOR_BENCH_DB is not set (run bench/vector/run.sh)\n");
        return 2;
    }
    if (per_class < 1 || per_class > MAXQ)
        per_class = 50;

    /* Tenant sizes: the largest (50,000 at scale 1), one of exactly 10 and one of exactly
       1,000 (the named sizes), and a Zipf-like tail w_i = (i + 6)^-1.6 over the rest. */
    long total = lround(200000 * scale), largest_n = lround(50000 * scale);
    long burst = lround(20000 * scale);
    int n_zipf = (int)lround(1500 * scale);
    if (n_zipf < 20)
        n_zipf = 20;
    n_tenants = n_zipf + 3;
    tenants = calloc((size_t)n_tenants, sizeof(tenant));
    int *size0 = calloc((size_t)n_tenants, sizeof(int));
    snprintf(tenants[0].name, 16, "t-largest");
    snprintf(tenants[1].name, 16, "t-ten");
    snprintf(tenants[2].name, 16, "t-thousand");
    size0[0] = (int)largest_n;
    size0[1] = 10;
    size0[2] = 1000;
    long rest = total - largest_n - 1010, got = 0;
    double wsum = 0;
    for (int i = 0; i < n_zipf; i++)
        wsum += pow(i + 6.0, -1.6);
    for (int i = 0; i < n_zipf; i++) {
        snprintf(tenants[3 + i].name, 16, "z%04d", i);
        long n = lround((double)rest * pow(i + 6.0, -1.6) / wsum);
        size0[3 + i] = n < 1 ? 1 : (int)n;
        got += size0[3 + i];
    }
    size0[3] += (int)(rest - got); /* rounding: the biggest Zipf tenant absorbs it */
    int largest = 0;

    make_centroids();
    uint64_t rs = seed * 31 + 5;
    int next_id = 0, n_docs = 0;
    doc *docs = make_docs(&n_docs, size0, &rs, &next_id);
    int n_initial = next_id;

    /* Burst: 25 % to the largest, 15 % to the ~10k tenants, 20 % to the ~1k tenants (the ones at
       or below the threshold cross it), 40 % over all other tenants weighted by size. */
    int *add = calloc((size_t)n_tenants, sizeof(int));
    {
        int n10k = 0, n1k = 0;
        long other_rows = 0;
        for (int t = 0; t < n_tenants; t++) {
            tenants[t].n = size0[t];
            int c = classify(&tenants[t], largest);
            n10k += c == 3;
            n1k += c == 2;
            other_rows += c != 2 && c != 3 && c != 4 ? size0[t] : 0;
        }
        long left = burst;
        add[largest] = (int)(burst / 4);
        left -= add[largest];
        for (int t = 0; t < n_tenants; t++) {
            int c = classify(&tenants[t], largest);
            if (c == 4)
                continue;
            if (c == 3 && n10k)
                add[t] = (int)(burst * 15 / 100 / n10k);
            else if (c == 2 && n1k)
                add[t] = (int)(burst * 20 / 100 / n1k);
            else
                add[t] = (int)((double)(burst * 40 / 100) * size0[t] / (double)other_rows);
            left -= add[t];
        }
        add[largest] += (int)left;
        for (int t = 0; t < n_tenants; t++)
            tenants[t].n = 0;
    }
    int n_bdocs = 0;
    doc *bdocs = make_docs(&n_bdocs, add, &rs, &next_id);
    n_ids = next_id;
    vecs = malloc(sizeof(float) * DIM * (size_t)n_ids);
    for (int id = 0; id < n_ids; id++)
        make_vec(vecs + (size_t)id * DIM, 1, (uint64_t)id, -1);
    {
        int le10 = 0, c100 = 0, c1k = 0, c10k = 0, over = 0;
        for (int t = 0; t < n_tenants; t++) {
            int n = size0[t];
            le10 += n <= 10;
            c100 += n >= 70 && n <= 140;
            c1k += n >= 700 && n <= 1400;
            c10k += n >= 5000 && n <= 20000;
            over += n > (threshold ? threshold : 500);
        }
        SAY("data: %d tenants, %d vectors in %d documents (+ burst of %d in %d documents), dim %d,"
            " %d centroids; largest %d rows; classes: %d tenants <=10, %d ~100, %d ~1k, %d ~10k;"
            " %d tenants above the index threshold; seed %llu",
            n_tenants, n_initial, n_docs, n_ids - n_initial, n_bdocs, DIM, NCENT, size0[largest],
            le10, c100, c1k, c10k, over, (unsigned long long)seed);
    }

    /* The memory, with the synthetic embedder. */
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, synth_embed, NULL};
    lm_embedder *emb = NULL;
    if (lm_embedder_custom_new(&emb, PROVIDER, "synthetic", DIM, &ops, NULL) < 0) {
        fprintf(stderr, "embedder: %s\n", lm_error_last()->message);
        return 1;
    }
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.database_url = db;
    mo.schema = SCHEMA;
    mo.embedder = emb;
    mo.disable_history = 1;
    mo.vector_index_threshold = threshold;
    mo.hnsw_ef_search = ef_search;
    if (ef_search == 0)
        ef_search = 40; /* the library's default */
    mo.log_fn = on_log;
    mo.log_level = LM_LOG_INFO;
    lm_memory *mem = NULL;
    if (lm_memory_open(&mem, &mo) < 0) {
        fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
        return 1;
    }
    pg = PQconnectdb(db);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s\n", PQerrorMessage(pg));
        return 1;
    }
    run("SET client_min_messages = warning");
    run("CREATE EXTENSION IF NOT EXISTS pg_prewarm");

    if (reuse) {
        /* A database left by KEEP=1 after a complete run: rebuild the tenants' ids (the data is
           a function of the seed and scale) and measure the final state only. */
        for (int i = 0; i < n_docs; i++)
            for (int k = 0; k < docs[i].count; k++)
                tenant_add_id(&tenants[docs[i].tenant], docs[i].first + k);
        for (int i = 0; i < n_bdocs; i++)
            for (int k = 0; k < bdocs[i].count; k++)
                tenant_add_id(&tenants[bdocs[i].tenant], bdocs[i].first + k);
        show_state("reused database");
        static qset qr;
        static result ours_r[NCLASS];
        uint64_t qsr = seed * 131 + 9;
        int pin[2] = {1, 2};
        make_qset(&qr, largest, per_class, pin, 2, &qsr);
        SAY("measuring the reused database (ef_search %d)", ef_search);
        loadavg("before");
        measure_ours(ours_r, mem, &qr, ef_search);
        loadavg("after");
        char title[96];
        snprintf(title, sizeof(title), "Reused database after load and burst, ef_search %d",
                 ef_search);
        print_table(title, ours_r, NULL, NULL);
        measure_planning(1);
        printf("\n");
        int f = check("reused", ours_r);
        lm_memory_close(mem);
        lm_embedder_free(emb);
        PQfinish(pg);
        return f ? 1 : 0;
    }
    ingest(mem, docs, n_docs, "load");
    {
        double w0 = now_ms();
        lm_memory_wait_index_builds(mem); /* the adds hand index builds to a background thread */
        SAY("load: background index builds finished %.1f s after the last add",
            (now_ms() - w0) / 1000.0);
    }
    show_state("after load");
    SAY("prewarming the schema's relations");
    run("SELECT pg_prewarm(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'vb' AND c.relkind IN ('r', 'i', 't')");

    uint64_t qs_seed = seed * 131 + 9;
    int pinned[2] = {1, 2};
    static qset qs1, qs2;
    static result ours1[NCLASS], ours2[NCLASS], b40[NCLASS], b100[NCLASS];
    make_qset(&qs1, largest, per_class, pinned, 2, &qs_seed);
    SAY("phase 1: measuring llmemory's layout (%d queries per class)", per_class);
    loadavg("before phase 1");
    measure_ours(ours1, mem, &qs1, ef_search);
    loadavg("after phase 1");

    if (do_base) {
        SAY("baseline: copying the vectors into vb_base.emb");
        run("CREATE SCHEMA vb_base");
        run("CREATE TABLE vb_base.emb (owner_id text NOT NULL, chunk_id bigint NOT NULL,"
            " embedding vector(384) NOT NULL)");
        run("INSERT INTO vb_base.emb SELECT v.owner_id,"
            " substring(c.content from 'v:([0-9]+)')::bigint, v.embedding"
            " FROM " VTABLE " v JOIN vb.chunks c ON c.owner_id = v.owner_id"
            " AND c.chunk_id = v.chunk_id ORDER BY c.chunk_no");
        run("ALTER TABLE vb_base.emb ADD PRIMARY KEY (owner_id, chunk_id)");
        run("ANALYZE vb_base.emb");
        run("SET maintenance_work_mem = '2GB'");
        run("SET max_parallel_maintenance_workers = 1");
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "CREATE INDEX emb_hnsw ON vb_base.emb USING hnsw (embedding vector_cosine_ops)"
                 " WITH (m = 16, ef_construction = %d)", efc);
        SAY("baseline: building one global HNSW (m=16, ef_construction=%d) over %d vectors", efc,
            n_initial);
        double b0 = now_ms();
        run(sql);
        SAY("baseline: global HNSW built in %.1f s", (now_ms() - b0) / 1000.0);
        run("RESET maintenance_work_mem");
        run("RESET max_parallel_maintenance_workers");
        run("SELECT pg_prewarm('vb_base.emb'), pg_prewarm('vb_base.emb_hnsw'),"
            " pg_prewarm('vb_base.emb_pkey')");
        PGresult *r = q("SELECT pg_size_pretty(pg_relation_size('vb_base.emb_hnsw'))", 0, NULL,
                        PGRES_TUPLES_OK);
        SAY("baseline: global HNSW size %s; measuring ef_search 40 and 100", PQgetvalue(r, 0, 0));
        PQclear(r);
        measure_base(b40, &qs1, 40);
        measure_base(b100, &qs1, 100);
        loadavg("after the baseline");
    }
    print_table("Phase 1: after the initial load (200k at scale 1)", ours1, do_base ? b40 : NULL,
                do_base ? b100 : NULL);

    /* The burst, then measure at once: no CLUSTER, VACUUM, ANALYZE or prewarm. */
    SAY("burst: %d vectors in %d documents", n_ids - n_initial, n_bdocs);
    ingest(mem, bdocs, n_bdocs, "burst");
    show_state("after burst");
    make_qset(&qs2, largest, per_class, pinned, 2, &qs_seed);
    SAY("phase 2: measuring llmemory's layout right after the burst");
    loadavg("before phase 2");
    measure_ours(ours2, mem, &qs2, ef_search);
    loadavg("after phase 2");
    print_table("Phase 2: right after the burst (no CLUSTER/VACUUM/ANALYZE)", ours2, NULL, NULL);

    measure_planning(1);
    printf("\n");
    int fails = check("after-load ", ours1) + check("after-burst", ours2);
    SAY("total %s (%d failing checks)", fails ? "FAIL" : "PASS", fails);

    lm_memory_close(mem);
    lm_embedder_free(emb);
    PQfinish(pg);
    return fails ? 1 : 0;
}

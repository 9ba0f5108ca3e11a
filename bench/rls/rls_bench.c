/*
 * bench/rls/rls_bench.c: keyword, vector and hybrid search latency with row-level security on
 * (tenant work as the bound work role, policies applied) and off (LLMEMORY_RLS=off: the same
 * statements as the connecting superuser, which bypasses the policies), on the same data in the
 * same run. Two handles open the same schema; every query runs on both, in alternating order, so
 * drift of the shared machine hits both sides alike. Prints p50/p95 per search type and tenant
 * class and the ratio of the medians (on / off).
 * Each query runs RLS_BENCH_REPS times per side (default 3) and counts its fastest run: the
 * machine is shared, and the fastest of a few runs is the query's own cost.
 *   RLS_BENCH_SCALE (default 1: one 2,000-document tenant with its own HNSW index, four of 200,
 *   sixteen of 20), RLS_BENCH_QUERIES (default 200 per class and type), RLS_BENCH_SEED,
 *   RLS_BENCH_REUSE=1 (measure a schema an earlier run loaded, same scale and seed).
 */
#define _POSIX_C_SOURCE 200809L
#include <llmemory.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 42;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static const char *const syll[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa",
                                   "qu", "da", "fe", "gi", "ho", "ju"};
#define VOCAB 600
static char vocab[VOCAB][16];

static void make_vocab(void)
{
    for (int i = 0; i < VOCAB; i++) {
        int n = 2 + (int)(rnd() % 3);
        vocab[i][0] = '\0';
        for (int s = 0; s < n; s++)
            strcat(vocab[i], syll[rnd() % 16]);
    }
}

/* Zipf-like word choice: low indexes are common. */
static const char *word(void)
{
    double u = (rnd() + 1.0) / 4294967297.0;
    int i = (int)(VOCAB * u * u * u);
    return vocab[i < VOCAB ? i : VOCAB - 1];
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, lm_error_last()->message);
    exit(1);
}

typedef struct {
    const char *name;
    int tenants, docs;
} tenant_class;

int main(void)
{
    const char *url = getenv("LLMEMORY_TEST_DATABASE_URL");
    double scale = getenv("RLS_BENCH_SCALE") ? atof(getenv("RLS_BENCH_SCALE")) : 1.0;
    int nq = getenv("RLS_BENCH_QUERIES") ? atoi(getenv("RLS_BENCH_QUERIES")) : 200;
    int reps = getenv("RLS_BENCH_REPS") ? atoi(getenv("RLS_BENCH_REPS")) : 3;
    int reuse = getenv("RLS_BENCH_REUSE") && strcmp(getenv("RLS_BENCH_REUSE"), "1") == 0;
    if (getenv("RLS_BENCH_SEED"))
        rng_state = strtoull(getenv("RLS_BENCH_SEED"), NULL, 10);
    if (url == NULL) {
        fprintf(stderr, "LLMEMORY_TEST_DATABASE_URL is not set\n");
        return 1;
    }
    make_vocab();
    tenant_class classes[] = {{"large", 1, (int)(2000 * scale)},
                              {"medium", 4, (int)(200 * scale)},
                              {"small", 16, (int)(20 * scale)}};
    const int n_classes = 3;

    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.database_url = url;
    mo.schema = "rls_bench";
    mo.vector_index_threshold = 500;
    lm_memory *off = NULL, *on = NULL;
    setenv("LLMEMORY_RLS", "off", 1);
    if (lm_memory_open(&off, &mo) < 0)
        die("open (rls off)");
    unsetenv("LLMEMORY_RLS");
    if (lm_memory_open(&on, &mo) < 0)
        die("open (rls on)");

    /* Load through the RLS handle (the normal path). */
    double t0 = now_ms();
    int loaded = 0;
    for (int c = 0; c < n_classes && !reuse; c++)
        for (int t = 0; t < classes[c].tenants; t++) {
            char owner[64];
            snprintf(owner, sizeof(owner), "bench/%s-%d", classes[c].name, t);
            for (int d = 0; d < classes[c].docs; d++) {
                char origin[32], text[2048];
                size_t used = 0;
                int words = 40 + (int)(rnd() % 60);
                for (int w = 0; w < words; w++)
                    used += (size_t)snprintf(text + used, sizeof(text) - used, "%s ", word());
                snprintf(origin, sizeof(origin), "doc-%d", d); /* shared across tenants */
                if (lm_doc_add(NULL, on, owner, origin, origin, LM_DOC_TEXT, text, used, NULL) < 0)
                    die("lm_doc_add");
                loaded++;
            }
        }
    fprintf(stderr, "loaded %d documents in %.1f s\n", loaded, (now_ms() - t0) / 1e3);
    lm_optimize_report rep;
    if (!reuse && lm_memory_optimize(off, &rep) < 0) /* VACUUM ANALYZE: settled plans */
        die("optimize");

    static const lm_search_type types[] = {LM_SEARCH_TEXT, LM_SEARCH_VECTOR, LM_SEARCH_HYBRID};
    static const char *const tnames[] = {"keyword", "vector", "hybrid"};
    double *lat[2];
    lat[0] = calloc((size_t)nq, sizeof(double));
    lat[1] = calloc((size_t)nq, sizeof(double));
    printf("| search | tenant class | RLS off p50 | RLS off p95 | RLS on p50 | RLS on p95 |"
           " on/off (p50) |\n|---|---|---|---|---|---|---|\n");
    for (int ty = 0; ty < 3; ty++)
        for (int c = 0; c < n_classes; c++) {
            for (int q = 0; q < nq; q++) {
                char owner[64], query[128];
                snprintf(owner, sizeof(owner), "bench/%s-%d", classes[c].name,
                         q % classes[c].tenants);
                snprintf(query, sizeof(query), "%s %s", word(), word());
                lm_search_opts so = LM_SEARCH_OPTS_INIT;
                so.type = types[ty];
                so.no_history = 1;
                lat[0][q] = lat[1][q] = 1e30;
                for (int k = 0; k < 2 * reps; k++) {
                    int side = (q + k) % 2; /* alternate the sides */
                    lm_results *r = NULL;
                    double s = now_ms();
                    if (lm_search(&r, side ? on : off, owner, query, &so) < 0)
                        die("lm_search");
                    double ms = now_ms() - s;
                    if (ms < lat[side][q])
                        lat[side][q] = ms;
                    lm_results_free(r);
                }
            }
            double off50 = pct(lat[0], nq, 0.5), off95 = pct(lat[0], nq, 0.95);
            double on50 = pct(lat[1], nq, 0.5), on95 = pct(lat[1], nq, 0.95);
            printf("| %s | %s (%d docs) | %.2f | %.2f | %.2f | %.2f | %.2f |\n", tnames[ty],
                   classes[c].name, classes[c].docs, off50, off95, on50, on95, on50 / off50);
            fflush(stdout);
        }
    free(lat[0]);
    free(lat[1]);
    lm_memory_close(on);
    lm_memory_close(off);
    return 0;
}

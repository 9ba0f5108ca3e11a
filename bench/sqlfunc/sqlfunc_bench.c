/*
 * bench/sqlfunc/sqlfunc_bench.c: single-node latency of each operation through the tenant
 * functions of 060_tenant_functions.sql (one round trip) and through the statement path of
 * earlier versions (LLMEMORY_SQL_FUNCTIONS=off: a tenant transaction of several statements), on
 * the same data in the same run. Two handles open the same schema, row-level security on for
 * both; every operation runs on both in alternating order, so drift of the shared machine hits
 * both sides alike, and each counts its fastest of SQLFUNC_BENCH_REPS runs (default 3).
 * Every search's hits must be the same on both sides (chunk, rank, score): a difference ends
 * the run with status 1.
 * Ingest: documents added a second through each handle, alternating in batches of 10.
 * CPU: wall time on a shared machine is noisy, so each operation is also run SQLFUNC_BENCH_QUERIES
 * times per side in one block and charged the CPU time it cost: the client's (getrusage) plus
 * every process of the test cluster (/proc, children of the postmaster of
 * $LLMEMORY_TEST_PG_DIR), in microseconds per operation; blocks alternate the side first.
 *   SQLFUNC_BENCH_SCALE (default 1: one 2,000-document tenant with its own HNSW index, four of
 *   200, sixteen of 20), SQLFUNC_BENCH_QUERIES (default 200 per class and operation),
 *   SQLFUNC_BENCH_SEED.
 */
#define _POSIX_C_SOURCE 200809L
#include <llmemory.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../common/bench.h"


typedef struct {
    const char *name;
    int tenants, docs;
} tenant_class;

static int mismatches;
static long postmaster = -1;

/* The same hits in the same order with the same scores. */
static void compare(const lm_results *a, const lm_results *b, const char *owner, const char *q,
                    const char *type)
{
    size_t n = lm_results_count(a);
    int same = n == lm_results_count(b);
    for (size_t i = 0; same && i < n; i++) {
        const lm_hit *x = lm_results_at(a, i), *y = lm_results_at(b, i);
        same = strcmp(x->chunk_id, y->chunk_id) == 0 && x->rank == y->rank &&
               fabs(x->score - y->score) <= 1e-9 * fmax(1.0, fabs(x->score)) &&
               x->text_rank == y->text_rank && x->vector_rank == y->vector_rank &&
               strcmp(x->content, y->content) == 0 && strcmp(x->metadata, y->metadata) == 0;
    }
    if (!same && mismatches++ < 5)
        fprintf(stderr, "different %s results for %s \"%s\" (%zu vs %zu hits)\n", type, owner, q,
                n, lm_results_count(b));
}

static const lm_search_type types[] = {LM_SEARCH_TEXT, LM_SEARCH_VECTOR, LM_SEARCH_HYBRID};
static const char *const tnames[] = {"keyword", "vector", "hybrid"};

/* Operation @p ty (0-2 the search types, 3 get with chunks, 4 a list page); a search's results
   go to *keep (freed first) when keep is given. */
static void run_op(lm_memory *m, int ty, const char *owner, const char *query, const char *origin,
                   lm_results **keep)
{
    if (ty < 3) {
        lm_search_opts so = LM_SEARCH_OPTS_INIT;
        so.type = types[ty];
        so.no_history = 1;
        lm_results *r = NULL;
        if (lm_search(&r, m, owner, query, &so) < 0)
            bench_die("lm_search");
        if (keep != NULL) {
            lm_results_free(*keep);
            *keep = r;
        } else {
            lm_results_free(r);
        }
    } else if (ty == 3) {
        lm_doc *d = NULL;
        if (lm_doc_get_by_origin(&d, m, owner, origin, 1) < 0)
            bench_die("lm_doc_get_by_origin");
        lm_doc_free(d);
    } else {
        lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
        lo.limit = 20;
        lm_doc_page *p = NULL;
        if (lm_doc_list(&p, m, owner, &lo) < 0)
            bench_die("lm_doc_list");
        lm_doc_page_free(p);
    }
}

static lm_memory *open_side(const lm_memory_opts *mo, const char *functions)
{
    lm_memory *m = NULL;
    setenv("LLMEMORY_SQL_FUNCTIONS", functions, 1);
    if (lm_memory_open(&m, mo) < 0)
        bench_die("open");
    unsetenv("LLMEMORY_SQL_FUNCTIONS");
    return m;
}

static void row(const char *op, const char *cls, double *lat[2], int n, const double cpu[2])
{
    double s50 = bench_pct(lat[0], n, 0.5), s95 = bench_pct(lat[0], n, 0.95);
    double f50 = bench_pct(lat[1], n, 0.5), f95 = bench_pct(lat[1], n, 0.95);
    printf("| %s | %s | %.3f | %.3f | %.0f | %.3f | %.3f | %.0f | %.2f | %.2f |\n", op, cls, s50,
           s95, cpu[0], f50, f95, cpu[1], f50 / s50, cpu[1] / cpu[0]);
    fflush(stdout);
}

int main(void)
{
    const char *url = getenv("LLMEMORY_TEST_DATABASE_URL");
    double scale = getenv("SQLFUNC_BENCH_SCALE") ? atof(getenv("SQLFUNC_BENCH_SCALE")) : 1.0;
    int nq = getenv("SQLFUNC_BENCH_QUERIES") ? atoi(getenv("SQLFUNC_BENCH_QUERIES")) : 200;
    int reps = getenv("SQLFUNC_BENCH_REPS") ? atoi(getenv("SQLFUNC_BENCH_REPS")) : 3;
    if (getenv("SQLFUNC_BENCH_SEED"))
        bench_seed(strtoull(getenv("SQLFUNC_BENCH_SEED"), NULL, 10));
    if (url == NULL) {
        fprintf(stderr, "LLMEMORY_TEST_DATABASE_URL is not set\n");
        return 1;
    }
    if (getenv("LLMEMORY_TEST_PG_DIR")) {
        char path[512];
        snprintf(path, sizeof(path), "%s/data/postmaster.pid", getenv("LLMEMORY_TEST_PG_DIR"));
        FILE *f = fopen(path, "r");
        if (f == NULL || fscanf(f, "%ld", &postmaster) != 1)
            postmaster = -1;
        if (f != NULL)
            fclose(f);
    }
    if (postmaster <= 0)
        fprintf(stderr, "no postmaster.pid under $LLMEMORY_TEST_PG_DIR: CPU is the client's only\n");
    bench_make_vocab();
    tenant_class classes[] = {{"large", 1, (int)(2000 * scale)},
                              {"medium", 4, (int)(200 * scale)},
                              {"small", 16, (int)(20 * scale)}};
    const int n_classes = 3;

    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.database_url = url;
    mo.schema = "sqlfunc_bench";
    mo.vector_index_threshold = 500;
    lm_memory *side[2];
    side[0] = open_side(&mo, "off"); /* statements */
    side[1] = open_side(&mo, "on");  /* functions */

    /* Load: batches of 10 documents through each side in turn; time each side's batches. */
    double load_ms[2] = {0, 0}, load_cpu[2] = {0, 0};
    int loaded[2] = {0, 0}, batch = 0;
    for (int c = 0; c < n_classes; c++)
        for (int t = 0; t < classes[c].tenants; t++) {
            char owner[64];
            snprintf(owner, sizeof(owner), "bench/%s-%d", classes[c].name, t);
            for (int d = 0; d < classes[c].docs; d++) {
                char origin[32], text[2048];
                size_t used = 0;
                int words = 40 + (int)(bench_rnd() % 60);
                for (int w = 0; w < words; w++)
                    used += (size_t)snprintf(text + used, sizeof(text) - used, "%s ", bench_word());
                snprintf(origin, sizeof(origin), "doc-%d", d); /* shared across tenants */
                int s = (batch++ / 10) % 2;
                double t0 = bench_now_ms(), c0 = bench_cpu_s(&postmaster, postmaster > 0);
                if (lm_doc_add(NULL, side[s], owner, origin, origin, LM_DOC_TEXT, text, used,
                               NULL) < 0)
                    bench_die("lm_doc_add");
                load_ms[s] += bench_now_ms() - t0;
                load_cpu[s] += bench_cpu_s(&postmaster, postmaster > 0) - c0;
                loaded[s]++;
            }
        }
    lm_optimize_report rep;
    if (lm_memory_optimize(side[0], &rep) < 0) /* VACUUM ANALYZE: settled plans */
        bench_die("optimize");

    printf("| operation | tenant class | statements p50 ms | p95 | CPU us/op | functions p50 ms |"
           " p95 | CPU us/op | functions/statements p50 | CPU |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    printf("| ingest (docs/s) | all | %.1f | | %.0f | %.1f | | %.0f | %.2f | %.2f |\n",
           loaded[0] * 1e3 / load_ms[0], load_cpu[0] * 1e6 / loaded[0],
           loaded[1] * 1e3 / load_ms[1], load_cpu[1] * 1e6 / loaded[1],
           (loaded[1] * 1e3 / load_ms[1]) / (loaded[0] * 1e3 / load_ms[0]),
           (load_cpu[1] / loaded[1]) / (load_cpu[0] / loaded[0]));

    double *lat[2];
    lat[0] = calloc((size_t)nq, sizeof(double));
    lat[1] = calloc((size_t)nq, sizeof(double));
    char(*owners)[64] = calloc((size_t)nq, 64), (*queries)[128] = calloc((size_t)nq, 128);
    char(*origins)[32] = calloc((size_t)nq, 32);
    for (int ty = 0; ty < 5; ty++)
        for (int c = 0; c < n_classes; c++) {
            char cls[64];
            snprintf(cls, sizeof(cls), "%s (%d docs)", classes[c].name, classes[c].docs);
            for (int q = 0; q < nq; q++) {
                snprintf(owners[q], 64, "bench/%s-%d", classes[c].name, q % classes[c].tenants);
                snprintf(queries[q], 128, "%s %s", bench_word(), bench_word());
                snprintf(origins[q], 32, "doc-%d", (int)(bench_rnd() % classes[c].docs));
                lm_results *last[2] = {NULL, NULL};
                lat[0][q] = lat[1][q] = 1e30;
                for (int k = 0; k < 2 * reps; k++) {
                    int s = (q + k) % 2; /* alternate the sides */
                    double t0 = bench_now_ms();
                    run_op(side[s], ty, owners[q], queries[q], origins[q], &last[s]);
                    double ms = bench_now_ms() - t0;
                    if (ms < lat[s][q])
                        lat[s][q] = ms;
                }
                if (ty < 3)
                    compare(last[0], last[1], owners[q], queries[q], tnames[ty]);
                lm_results_free(last[0]);
                lm_results_free(last[1]);
            }
            /* CPU: the same operations, one block per side. */
            double cpu[2];
            for (int k = 0; k < 2; k++) {
                int s = (ty + c + k) % 2;
                double c0 = bench_cpu_s(&postmaster, postmaster > 0);
                for (int q = 0; q < nq; q++)
                    run_op(side[s], ty, owners[q], queries[q], origins[q], NULL);
                cpu[s] = (bench_cpu_s(&postmaster, postmaster > 0) - c0) * 1e6 / nq;
            }
            row(ty < 3 ? tnames[ty] : ty == 3 ? "get (with chunks)" : "list (20)", cls, lat, nq,
                cpu);
        }
    free(owners);
    free(queries);
    free(origins);
    free(lat[0]);
    free(lat[1]);
    lm_memory_close(side[1]);
    lm_memory_close(side[0]);
    if (mismatches) {
        fprintf(stderr, "%d searches differ between the two paths\n", mismatches);
        return 1;
    }
    fprintf(stderr, "every search returned the same hits on both paths\n");
    return 0;
}

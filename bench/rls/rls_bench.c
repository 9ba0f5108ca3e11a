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

#include "../common/bench.h"


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
        bench_seed(strtoull(getenv("RLS_BENCH_SEED"), NULL, 10));
    if (url == NULL) {
        fprintf(stderr, "LLMEMORY_TEST_DATABASE_URL is not set\n");
        return 1;
    }
    bench_make_vocab();
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
        bench_die("open (rls off)");
    unsetenv("LLMEMORY_RLS");
    if (lm_memory_open(&on, &mo) < 0)
        bench_die("open (rls on)");

    /* Load through the RLS handle (the normal path). */
    double t0 = bench_now_ms();
    int loaded = 0;
    for (int c = 0; c < n_classes && !reuse; c++)
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
                if (lm_doc_add(NULL, on, owner, origin, origin, LM_DOC_TEXT, text, used, NULL) < 0)
                    bench_die("lm_doc_add");
                loaded++;
            }
        }
    fprintf(stderr, "loaded %d documents in %.1f s\n", loaded, (bench_now_ms() - t0) / 1e3);
    lm_optimize_report rep;
    if (!reuse && lm_memory_optimize(off, &rep) < 0) /* VACUUM ANALYZE: settled plans */
        bench_die("optimize");

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
                snprintf(query, sizeof(query), "%s %s", bench_word(), bench_word());
                lm_search_opts so = LM_SEARCH_OPTS_INIT;
                so.type = types[ty];
                so.no_history = 1;
                lat[0][q] = lat[1][q] = 1e30;
                for (int k = 0; k < 2 * reps; k++) {
                    int side = (q + k) % 2; /* alternate the sides */
                    lm_results *r = NULL;
                    double s = bench_now_ms();
                    if (lm_search(&r, side ? on : off, owner, query, &so) < 0)
                        bench_die("lm_search");
                    double ms = bench_now_ms() - s;
                    if (ms < lat[side][q])
                        lat[side][q] = ms;
                    lm_results_free(r);
                }
            }
            double off50 = bench_pct(lat[0], nq, 0.5), off95 = bench_pct(lat[0], nq, 0.95);
            double on50 = bench_pct(lat[1], nq, 0.5), on95 = bench_pct(lat[1], nq, 0.95);
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

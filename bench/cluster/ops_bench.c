/*
 * bench/cluster/ops_bench.c: the latency a cluster proxy adds to each library operation
 * (docs/cluster.md). Two handles on the same tenant: one on the database of the tenant's shard
 * (direct), one on the proxy; every operation runs on both, alternating the side first, so
 * drift of a shared machine hits both alike. Operations: keyword, vector and hybrid search,
 * get (with chunks), add (a one-chunk document, replaced each time) and API key verification
 * (lm_key_verify: on the shard lm__key_lookup, through the proxy lm_all_key_lookup on every
 * shard). Prints a Markdown table of p50/p95 per side and the p50 added; and the CPU time per
 * operation of the client plus every process of the clusters whose postmaster pids are given
 * in OPS_BENCH_POSTMASTERS (space-separated), measured in blocks per side.
 *   ops_bench DIRECT_URL PROXY_URL OWNER   (OPS_BENCH_N: operations per side and kind, 300)
 */
#define _POSIX_C_SOURCE 200809L
#include <llmemory.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/bench.h"

static long pms[8];
static int n_pms;

enum { OP_KEYWORD, OP_VECTOR, OP_HYBRID, OP_GET, OP_ADD, OP_KEY, N_OPS };
static const char *const op_names[N_OPS] = {"keyword search", "vector search", "hybrid search",
                                            "get (with chunks)", "add (1 chunk)",
                                            "key verification"};

static const char *owner;
static const char *key;
static int adds;

static void run_op(lm_memory *m, int op, int i)
{
    static const char *const queries[] = {"quick brown fox", "lazy dog river", "stone bridge",
                                          "fox and dog", "river stone note"};
    const char *q = queries[i % 5];
    if (op <= OP_HYBRID) {
        lm_search_opts so = LM_SEARCH_OPTS_INIT;
        so.type = op == OP_KEYWORD ? LM_SEARCH_TEXT : op == OP_VECTOR ? LM_SEARCH_VECTOR
                                                                     : LM_SEARCH_HYBRID;
        so.no_history = 1;
        lm_results *r = NULL;
        if (lm_search(&r, m, owner, q, &so) < 0)
            bench_die("lm_search");
        lm_results_free(r);
    } else if (op == OP_GET) {
        char origin[32];
        lm_doc *d = NULL;
        snprintf(origin, sizeof(origin), "d%d", 1 + i % 200);
        if (lm_doc_get_by_origin(&d, m, owner, origin, 1) < 0)
            bench_die("lm_doc_get_by_origin");
        lm_doc_free(d);
    } else if (op == OP_ADD) {
        char origin[32], text[160];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "bench-add-%d", adds % 50);
        snprintf(text, sizeof(text), "bench note %d about a fox, a dog and a river stone", adds++);
        if (lm_doc_add(&r, m, owner, origin, origin, LM_DOC_TEXT, text, strlen(text), NULL) < 0)
            bench_die("lm_doc_add");
    } else {
        lm_principal p;
        if (lm_key_verify(&p, m, key) < 0)
            bench_die("lm_key_verify");
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DIRECT_URL PROXY_URL OWNER\n", argv[0]);
        return 2;
    }
    owner = argv[3];
    int n = getenv("OPS_BENCH_N") ? atoi(getenv("OPS_BENCH_N")) : 300;
    if (n < 10)
        n = 10;
    const char *pm = getenv("OPS_BENCH_POSTMASTERS");
    for (char *s = pm ? strdup(pm) : NULL, *t = s ? strtok(s, " ") : NULL; t && n_pms < 8;
         t = strtok(NULL, " "))
        pms[n_pms++] = strtol(t, NULL, 10);

    lm_memory *side[2] = {NULL, NULL};
    for (int s = 0; s < 2; s++) {
        lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
        mo.database_url = argv[1 + s];
        if (lm_memory_open(&side[s], &mo) < 0)
            bench_die("lm_memory_open");
    }
    /* The tenant: 200 one-chunk documents, added through the proxy. */
    for (int i = 1; i <= 200; i++) {
        char origin[32], text[200];
        snprintf(origin, sizeof(origin), "d%d", i);
        snprintf(text, sizeof(text),
                 "note %d about the quick brown fox %d, a lazy dog %d and a river stone %d", i,
                 i % 97, i % 13, i % 7);
        if (lm_doc_add(NULL, side[1], owner, origin, origin, LM_DOC_TEXT, text, strlen(text),
                       NULL) < 0)
            bench_die("lm_doc_add");
    }
    lm_key_created kc;
    if (lm_key_create(&kc, side[1], owner, NULL) < 0)
        bench_die("lm_key_create");
    key = kc.key;

    double *lat[N_OPS][2], cpu[N_OPS][2];
    for (int op = 0; op < N_OPS; op++) {
        for (int s = 0; s < 2; s++) {
            lat[op][s] = calloc((size_t)n, sizeof(double));
            run_op(side[s], op, 0); /* warm: connections, prepared statements, caches */
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 2; k++) {
                int s = (i + k) % 2;
                double t0 = bench_now_ms();
                run_op(side[s], op, i);
                lat[op][s][i] = bench_now_ms() - t0;
            }
        /* CPU: a block of n per side, the side first alternating by operation */
        for (int k = 0; k < 2; k++) {
            int s = (op + k) % 2;
            double c0 = bench_cpu_s(pms, n_pms);
            for (int i = 0; i < n; i++)
                run_op(side[s], op, i);
            cpu[op][s] = (bench_cpu_s(pms, n_pms) - c0) * 1e6 / n;
        }
    }
    printf("| operation | direct p50 | proxy p50 | added p50 | direct p95 | proxy p95 |"
           " CPU direct | CPU proxy |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int op = 0; op < N_OPS; op++) {
        double d50 = bench_pct(lat[op][0], n, 0.5), p50 = bench_pct(lat[op][1], n, 0.5);
        double d95 = bench_pct(lat[op][0], n, 0.95), p95 = bench_pct(lat[op][1], n, 0.95);
        printf("| %s | %.3f ms | %.3f ms | %+.3f ms | %.3f ms | %.3f ms | %.0f µs | %.0f µs |\n",
               op_names[op], d50, p50, p50 - d50, d95, p95, cpu[op][0], cpu[op][1]);
    }
    printf("\n%d operations per side and kind; CPU: client plus every process of the clusters,"
           " per operation.\n", n);
    lm_memory_close(side[0]);
    lm_memory_close(side[1]);
    return 0;
}

/*
 * bench/scale/depth_bench.c: hybrid candidate depth against recall. A BEIR collection (SciFact)
 * is loaded into one tenant with lm_doc_add_batch() and the memory's default embedder; every
 * judged query of the split is searched hybrid with limit 10 at each candidate depth (the
 * number of candidates each leg fetches before fusion), and the fused top 10 is compared with
 * the fused top 10 at depth 1000 (the overlap: recall@10 of the shallow search against the
 * deep one), beside nDCG@10 against the judgments and the library's own time per search.
 *
 *   depth_bench --data DIR [--split test] [--depths 10,15,20,30,50,100,200]
 *
 * Environment: LLMEMORY_DATABASE_URL (or LLMEMORY_TEST_DATABASE_URL); LLMEMORY_EMBEDDER as for
 * every program using the library (unset: the default).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beir.h"
#include "llmemory.h"

#define OWNER "scifact"
#define TOPK  10
#define REF   1000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), cmp_double);
    return n ? v[n / 2] : NAN;
}

static lm_results *search(lm_memory *mem, const char *text, int depth)
{
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    lm_results *res = NULL;
    so.type = LM_SEARCH_HYBRID;
    so.limit = TOPK;
    so.candidates = depth;
    so.no_history = 1;
    so.syntax = LM_QUERY_PLAIN;
    if (lm_search(&res, mem, OWNER, text, &so) < 0) {
        fprintf(stderr, "lm_search: %s\n", lm_error_last()->message);
        exit(1);
    }
    return res;
}

/* nDCG@10 of the documents of @p res (a document counts at its best chunk's rank). */
static double ndcg(const lm_results *res, const lm_eval_qrel_query *qq)
{
    const char *seen[TOPK];
    int ns = 0;
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < lm_results_count(res) && ns < TOPK; i++) {
        const char *d = lm_results_at(res, i)->id_at_origin;
        int dup = 0;
        for (int j = 0; j < ns; j++)
            dup |= strcmp(seen[j], d) == 0;
        if (dup)
            continue;
        seen[ns] = d;
        int g = lm_eval_qrel_grade(qq, d);
        dcg += g > 0 ? (pow(2, g) - 1) / log2(ns + 2) : 0;
        ns++;
    }
    int *grades = malloc(sizeof(int) * (qq->n ? qq->n : 1)), ng = 0;
    for (size_t i = 0; i < qq->n; i++)
        if (qq->docs[i].rel > 0)
            grades[ng++] = qq->docs[i].rel;
    for (int i = 0; i < ng; i++)
        for (int j = i + 1; j < ng; j++)
            if (grades[j] > grades[i]) {
                int t = grades[i];
                grades[i] = grades[j];
                grades[j] = t;
            }
    for (int i = 0; i < ng && i < TOPK; i++)
        idcg += (pow(2, grades[i]) - 1) / log2(i + 2);
    free(grades);
    return idcg > 0 ? dcg / idcg : 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *split = "test", *depths_s = "10,15,20,30,50,100,200";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--split") == 0)
            split = argv[i + 1];
        else if (strcmp(argv[i], "--depths") == 0)
            depths_s = argv[i + 1];
    }
    if (dir == NULL) {
        fprintf(stderr, "usage: depth_bench --data DIR [--split test] [--depths 10,20,...]\n");
        return 2;
    }
    int depths[32], nd = 0;
    for (const char *p = depths_s; *p && nd < 31;) {
        depths[nd++] = atoi(p);
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    const char *url = getenv("LLMEMORY_DATABASE_URL");
    if (url == NULL || !*url)
        url = getenv("LLMEMORY_TEST_DATABASE_URL");
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.database_url = url;
    mo.schema = "depth_bench";
    mo.disable_history = 1;
    mo.max_limit = 1000;
    lm_memory *mem = NULL;
    if (lm_memory_open(&mem, &mo) < 0) {
        fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
        return 1;
    }

    beir_load(mem, OWNER, dir);

    /* Judged queries. */
    size_t len;
    char path[4096];
    snprintf(path, sizeof(path), "%s/qrels/%s.tsv", dir, split);
    char *qtext = beir_slurp(path, &len);
    lm_eval_qrels qrels;
    if (lm_eval_qrels_parse(&qrels, qtext, len) < 0) {
        fprintf(stderr, "qrels: %s\n", lm_error_last()->message);
        return 1;
    }
    free(qtext);
    snprintf(path, sizeof(path), "%s/queries.jsonl", dir);
    FILE *qf = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    double *overlap = calloc((size_t)nd, sizeof(double));
    double *nd10 = calloc((size_t)nd + 1, sizeof(double));
    double *minov = malloc(sizeof(double) * (size_t)nd);
    double **ms = malloc(sizeof(double *) * ((size_t)nd + 1));
    for (int d = 0; d <= nd; d++)
        ms[d] = calloc(qrels.n, sizeof(double));
    for (int d = 0; d < nd; d++)
        minov[d] = 1;
    size_t nq = 0;
    while (getline(&line, &cap, qf) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(o, "_id"));
        const char *text = json_string_value(json_object_get(o, "text"));
        long qi = id ? lm_eval_qrels_find(&qrels, id) : -1;
        if (qi < 0 || text == NULL) {
            json_decref(o);
            continue;
        }
        const lm_eval_qrel_query *qq = &qrels.q[qi];
        lm_results *ref = search(mem, text, REF);
        ms[nd][nq] = lm_results_elapsed_ms(ref);
        nd10[nd] += ndcg(ref, qq);
        for (int d = 0; d < nd; d++) {
            lm_results *r = search(mem, text, depths[d]);
            ms[d][nq] = lm_results_elapsed_ms(r);
            int hit = 0, nr = (int)lm_results_count(ref);
            for (size_t i = 0; i < lm_results_count(r); i++)
                for (int j = 0; j < nr; j++)
                    hit += strcmp(lm_results_at(r, i)->chunk_id,
                                  lm_results_at(ref, j)->chunk_id) == 0;
            double ov = nr ? (double)hit / nr : 1;
            overlap[d] += ov;
            minov[d] = ov < minov[d] ? ov : minov[d];
            nd10[d] += ndcg(r, qq);
            lm_results_free(r);
        }
        lm_results_free(ref);
        nq++;
        json_decref(o);
    }
    free(line);
    fclose(qf);
    printf("\nhybrid search, limit 10, %zu judged queries of %s/%s; overlap = share of the fused"
           " top 10 at depth %d found at the depth\n\n",
           nq, "scifact", split, REF);
    printf("| candidates per leg | overlap@10 mean | overlap@10 min | nDCG@10 | median ms |\n");
    printf("|---:|---:|---:|---:|---:|\n");
    for (int d = 0; d < nd; d++)
        printf("| %d | %.3f | %.1f | %.4f | %.2f |\n", depths[d], overlap[d] / (double)nq,
               minov[d], nd10[d] / (double)nq, median(ms[d], nq));
    printf("| %d | 1.000 | 1.0 | %.4f | %.2f |\n", REF, nd10[nd] / (double)nq, median(ms[nd], nq));
    lm_eval_qrels_dispose(&qrels);
    lm_memory_close(mem);
    return 0;
}

/*
 * bench/scale/recall_bench.c: vector recall@10 with real embeddings. bench/scale's recall
 * figures use clustered synthetic vectors; real sentence embeddings crowd into a narrow cone,
 * where the neighbours' distances are close and a graph search can miss more. This loads a BEIR
 * collection (SciFact: 5,183 documents, about 10,600 chunks, one tenant, so it gets its own
 * half-precision HNSW graph) with the default embedder (the local all-MiniLM-L6-v2), asks every
 * query of the collection (1,109) as a vector search with limit 10, and compares the hits with
 * the exact top 10 by full-precision cosine distance (a sequential scan of the tenant's vectors).
 * A hit counts when its exact distance is within the exact 10th distance, so ties count.
 *
 *   recall_bench --data DIR [--dim 384|1536] [--ef 0,40,64,100] [--dump FILE]
 *
 * --dim 1536: the same embeddings rotated into 1,536 dimensions by a fixed random matrix with
 * orthonormal columns (seeded), through a custom embedder. Cosine distances are exactly those of
 * the 384-d vectors, so this tests the 1,536-d storage, half precision and ef_search rule on a
 * real embedding's distance distribution (not a 1,536-d model's own distribution).
 * --ef: hnsw_ef_search settings to compare; 0 is the library's per-graph rule (the default).
 * --dump: write each query's recall at the first --ef setting, its vector and its text,
 * tab-separated, one query a line, for looking at the worst queries in SQL.
 *
 * Environment: LLMEMORY_DATABASE_URL (or LLMEMORY_TEST_DATABASE_URL); LLMEMORY_EMBEDDER and
 * LLMEMORY_LOCAL_INT8 as for every program using the library.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beir.h"
#include "llmemory.h"
#include "llmemory/sys/embedder.h"

#define OWNER   "scifact"
#define TOPK    10
#define LIFT_TO 1536

/* ---- the 1,536-d lift: base embedding times a 1536 x base_dim matrix, orthonormal columns -- */

typedef struct {
    lm_embedder *base;
    int bdim;
    float *m; /* LIFT_TO x bdim, row-major */
} lift;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double gauss(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        u[i] = ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

static float *orthonormal_columns(int rows, int cols)
{
    double *a = malloc(sizeof(double) * (size_t)rows * (size_t)cols);
    float *m = malloc(sizeof(float) * (size_t)rows * (size_t)cols);
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++)
        a[i] = gauss();
    /* Modified Gram-Schmidt over the columns. */
    for (int j = 0; j < cols; j++) {
        for (int k = 0; k < j; k++) {
            double d = 0;
            for (int i = 0; i < rows; i++)
                d += a[(size_t)i * cols + j] * a[(size_t)i * cols + k];
            for (int i = 0; i < rows; i++)
                a[(size_t)i * cols + j] -= d * a[(size_t)i * cols + k];
        }
        double nn = 0;
        for (int i = 0; i < rows; i++)
            nn += a[(size_t)i * cols + j] * a[(size_t)i * cols + j];
        nn = sqrt(nn);
        for (int i = 0; i < rows; i++)
            a[(size_t)i * cols + j] /= nn;
    }
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++)
        m[i] = (float)a[i];
    free(a);
    return m;
}

static int lift_embed(void *self, float *out, int dim, const char *const *texts,
                      const size_t *lens, size_t n)
{
    lift *L = self;
    float *b = malloc(sizeof(float) * (size_t)L->bdim * n);
    if (b == NULL)
        return LM_ENOMEM;
    int rc = lm_embedder_embed(L->base, b, texts, lens, n);
    for (size_t t = 0; rc == 0 && t < n; t++)
        for (int i = 0; i < dim; i++) {
            double s = 0;
            for (int j = 0; j < L->bdim; j++)
                s += (double)L->m[(size_t)i * L->bdim + j] * b[t * L->bdim + j];
            out[t * (size_t)dim + i] = (float)s;
        }
    free(b);
    return rc;
}

static void lift_free(void *self)
{
    (void)self; /* the bench owns it */
}

/* ---- exact top 10 ------------------------------------------------------------------------- */

static PGconn *pg;
static const char *schema = "recall_bench"; /* recall_bench_1536 for the lifted vectors */

static void vec_text(char *buf, size_t cap, const float *v, int dim)
{
    size_t o = 0;
    buf[o++] = '[';
    for (int i = 0; i < dim && o + 24 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%.9g", i ? "," : "", v[i]);
    buf[o++] = ']';
    buf[o] = '\0';
}

/* The exact 10th distance of the tenant's vectors from @p qv, and the exact distance of each
   of @p ids (n of them) in @p dist. */
static double exact(const char *table, const char *provider, const char *qv, const char **ids,
                    int n, double *dist)
{
    char sql[512];
    const char *p[3] = {OWNER, provider, qv};
    snprintf(sql, sizeof(sql),
             "SELECT embedding <=> $3::vector FROM %s.%s WHERE owner_id = $1 AND"
             " provider_id = $2 ORDER BY 1 LIMIT %d",
             schema, table, TOPK);
    PGresult *r = PQexecParams(pg, sql, 3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        fprintf(stderr, "exact: %s", PQerrorMessage(pg));
        exit(1);
    }
    double d10 = strtod(PQgetvalue(r, PQntuples(r) - 1, 0), NULL);
    PQclear(r);
    for (int i = 0; i < n; i++) {
        const char *q[4] = {OWNER, provider, qv, ids[i]};
        snprintf(sql, sizeof(sql),
                 "SELECT embedding <=> $3::vector FROM %s.%s WHERE owner_id = $1 AND"
                 " provider_id = $2 AND chunk_id = $4::uuid",
                 schema, table);
        r = PQexecParams(pg, sql, 4, NULL, q, NULL, NULL, 0);
        dist[i] = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                      ? strtod(PQgetvalue(r, 0, 0), NULL)
                      : INFINITY;
        PQclear(r);
    }
    return d10;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *efs = "0", *dump = NULL;
    int dim = 384;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--dim") == 0)
            dim = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ef") == 0)
            efs = argv[i + 1];
        else if (strcmp(argv[i], "--dump") == 0)
            dump = argv[i + 1];
    }
    FILE *df = dump ? fopen(dump, "w") : NULL;
    if (dir == NULL || (dim != 384 && dim != LIFT_TO)) {
        fprintf(stderr, "usage: recall_bench --data DIR [--dim 384|1536] [--ef 0,40,...]\n");
        return 2;
    }
    const char *url = getenv("LLMEMORY_DATABASE_URL");
    if (url == NULL || !*url)
        url = getenv("LLMEMORY_TEST_DATABASE_URL");
    pg = PQconnectdb(url ? url : "");
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(pg));
        return 1;
    }
    PQclear(PQexec(pg, "SET enable_indexscan = off")); /* the exact top 10: a scan, no graph */

    lm_embedder *base = NULL, *emb = NULL;
    if (lm_embedder_from_env(&base) < 0) {
        fprintf(stderr, "embedder: %s\n", lm_error_last()->message);
        return 1;
    }
    lift L = {base, lm_embedder_dim(base), NULL};
    emb = base;
    if (dim == LIFT_TO) {
        schema = "recall_bench_1536";
        lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, lift_embed, lift_free};
        char pid[128];
        L.m = orthonormal_columns(LIFT_TO, L.bdim);
        snprintf(pid, sizeof(pid), "%s:lift%d", lm_embedder_provider_id(base), LIFT_TO);
        if (lm_embedder_custom_new(&emb, pid, lm_embedder_model(base), LIFT_TO, &ops, &L) < 0) {
            fprintf(stderr, "custom embedder: %s\n", lm_error_last()->message);
            return 1;
        }
    }
    printf("embedder %s, %d dimensions%s\n", lm_embedder_provider_id(emb), lm_embedder_dim(emb),
           dim == LIFT_TO ? " (the base embedding rotated into 1,536)" : "");

    int efv[16], nef = 0;
    for (const char *p = efs; *p && nef < 16;) {
        efv[nef++] = atoi(p);
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    size_t qlen;
    char path[4096];
    snprintf(path, sizeof(path), "%s/queries.jsonl", dir);
    char *qall = beir_slurp(path, &qlen);

    for (int e = 0; e < nef; e++) {
        lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
        mo.database_url = url;
        mo.schema = schema;
        mo.disable_history = 1;
        mo.embedder = emb;
        mo.hnsw_ef_search = efv[e];
        lm_memory *mem = NULL;
        if (lm_memory_open(&mem, &mo) < 0) {
            fprintf(stderr, "lm_memory_open: %s\n", lm_error_last()->message);
            return 1;
        }
        beir_load(mem, OWNER, dir);
        if (e == 0) {
            char q[256];
            snprintf(q, sizeof(q),
                     "SELECT count(*), (SELECT count(*) FROM pg_indexes WHERE schemaname = '%s'"
                     " AND indexdef LIKE '%%hnsw%%') FROM %s.chunks",
                     schema, schema);
            PGresult *r = PQexec(pg, q);
            printf("%s chunks, %s HNSW graphs in the schema\n", PQgetvalue(r, 0, 0),
                   PQgetvalue(r, 0, 1));
            PQclear(r);
        }
        char table[64];
        snprintf(table, sizeof(table), "vectors_%d", lm_embedder_dim(emb));

        double sum = 0, worst = 1, *ms = malloc(sizeof(double) * 2000);
        int nq = 0, below = 0, perfect = 0;
        float *qv = malloc(sizeof(float) * (size_t)lm_embedder_dim(emb));
        size_t vcap = (size_t)lm_embedder_dim(emb) * 24 + 8;
        char *qvt = malloc(vcap);
        for (char *line = qall, *next; line && *line && nq < 2000; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            json_t *o = json_loads(line, 0, NULL);
            const char *text = json_string_value(json_object_get(o, "text"));
            if (text == NULL) {
                json_decref(o);
                continue;
            }
            lm_search_opts so = LM_SEARCH_OPTS_INIT;
            lm_results *res = NULL;
            so.type = LM_SEARCH_VECTOR;
            so.limit = TOPK;
            so.no_history = 1;
            if (lm_search(&res, mem, OWNER, text, &so) < 0) {
                fprintf(stderr, "lm_search: %s\n", lm_error_last()->message);
                return 1;
            }
            size_t tl = strlen(text);
            if (lm_embedder_embed_query(emb, qv, &text, &tl, 1) < 0) {
                fprintf(stderr, "embed: %s\n", lm_error_last()->message);
                return 1;
            }
            vec_text(qvt, vcap, qv, lm_embedder_dim(emb));
            const char *ids[TOPK];
            double dist[TOPK];
            int n = (int)lm_results_count(res);
            for (int i = 0; i < n && i < TOPK; i++)
                ids[i] = lm_results_at(res, i)->chunk_id;
            double d10 = exact(table, lm_embedder_provider_id(emb), qvt, ids, n, dist);
            int hit = 0;
            for (int i = 0; i < n && i < TOPK; i++)
                hit += dist[i] <= d10 + 1e-6;
            double rec = (double)hit / TOPK;
            sum += rec;
            worst = rec < worst ? rec : worst;
            below += rec < 0.8;
            perfect += hit == TOPK;
            if (df != NULL && e == 0)
                fprintf(df, "%.1f\t%s\t%s\n", rec, qvt, text);
            ms[nq++] = lm_results_elapsed_ms(res);
            lm_results_free(res);
            json_decref(o);
            if (next)
                next[-1] = '\n';
        }
        qsort(ms, (size_t)nq, sizeof(double), cmp_double);
        if (e == 0) {
            printf("\n| dimensions | ef_search | queries | recall@10 mean | worst query |"
                   " queries < 0.8 | queries at 1.0 | median ms | p95 ms |\n");
            printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        }
        char efname[32];
        if (efv[e])
            snprintf(efname, sizeof(efname), "%d", efv[e]);
        else
            snprintf(efname, sizeof(efname), "the rule (default)");
        printf("| %d | %s | %d | %.4f | %.1f | %d | %d | %.2f | %.2f |\n", lm_embedder_dim(emb),
               efname, nq, sum / nq, worst, below, perfect, ms[nq / 2], ms[(nq * 95) / 100]);
        fflush(stdout);
        free(ms);
        free(qv);
        free(qvt);
        lm_memory_close(mem);
    }
    free(qall);
    if (df != NULL)
        fclose(df);
    if (emb != base)
        lm_embedder_free(emb);
    lm_embedder_free(base);
    free(L.m);
    PQfinish(pg);
    return 0;
}

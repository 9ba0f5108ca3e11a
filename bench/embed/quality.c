/*
 * bench/embed/quality.c: offline retrieval quality of the built-in embedder on a BEIR dataset
 * (SciFact), without PostgreSQL. Chunks every document like `llmemory eval` ingests it (content
 * title + "\n\n" + text, the library's hierarchical chunker, searchable chunks only), embeds the
 * chunks and the judged queries with lm_embedder_builtin_new(), ranks all chunks by exact cosine
 * (brute force, no HNSW), folds chunks into documents (a document ranks by its best chunk) and
 * prints nDCG@10 and Recall@100 with trec_eval's semantics per split.
 *
 * With -r SPLIT=RUN (a TREC run of the keyword search, e.g. from `llmemory eval --split SPLIT
 * --run RUN`), it also fuses that run with the vector ranking by weighted reciprocal rank
 * (score = alpha / (k + vector rank) + (1 - alpha) / (k + text rank), k = 60) for each alpha of
 * -a, at the document level. The library fuses chunk lists before folding, so these hybrid
 * numbers approximate `llmemory eval --type hybrid`; bench/scifact/hybrid.sh is the real check.
 *
 * Usage: quality [-d DIM] [-a "ALPHAS"] [-r SPLIT=RUN]... [-s SPLIT]... DATASET_DIR
 * (built and run by bench/embed/quality.sh). Splits default to train and test.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk/chunk.h"
#include "llmemory/embed.h"
#include "llmemory/error.h"

#define DEPTH      100 /* documents kept per query, as `llmemory eval --depth` */
#define RRF_K      60
#define MAX_SPLITS 4
#define MAX_ALPHAS 32

typedef struct doc {
    char *id;
} doc;

typedef struct query {
    char *id;
    char *text;
} query;

typedef struct qrel {
    char *qid, *did;
    int grade;
} qrel;

typedef struct run_row {
    char *qid, *did;
    double score;
} run_row;

static doc *docs;
static size_t n_docs;
static int *chunk_doc; /* searchable chunk -> document index */
static float *chunk_vec;
static size_t n_chunks;
static query *queries;
static size_t n_queries;
static int dim;

static void die(const char *what)
{
    fprintf(stderr, "quality: %s\n", what);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        die("out of memory");
    return p;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static FILE *open_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "quality: cannot open %s\n", path);
        exit(1);
    }
    return f;
}

/* Corpus: chunk each document as `llmemory eval` ingests it, keep the searchable chunks. */
static void load_corpus(const char *dir, lm_embedder *e)
{
    FILE *f = open_in(dir, "corpus.jsonl");
    char *line = NULL;
    size_t cap = 0, n_alloc = 0;
    char **texts = NULL;
    size_t *lens = NULL;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (o == NULL)
            continue;
        const char *id = json_string_value(json_object_get(o, "_id"));
        const char *title = json_string_value(json_object_get(o, "title"));
        const char *text = json_string_value(json_object_get(o, "text"));
        if (id == NULL) {
            json_decref(o);
            continue;
        }
        title = title ? title : "";
        text = text ? text : "";
        size_t tl = strlen(title), xl = strlen(text);
        char *content = xrealloc(NULL, tl + xl + 3);
        if (tl && xl)
            sprintf(content, "%s\n\n%s", title, text);
        else
            sprintf(content, "%s", tl ? title : text);
        docs = xrealloc(docs, (n_docs + 1) * sizeof(*docs));
        docs[n_docs].id = xstrdup(id);
        lm__chunk_list cl = {0};
        if (lm__chunk_document(&cl, content, strlen(content), LM_DOC_TEXT, LM_CHUNK_HIERARCHICAL) <
            0)
            die("chunking failed");
        for (size_t i = 0; i < cl.count; i++) {
            if (!cl.items[i].searchable)
                continue;
            if (n_chunks == n_alloc) {
                n_alloc = n_alloc ? 2 * n_alloc : 1024;
                texts = xrealloc(texts, n_alloc * sizeof(*texts));
                lens = xrealloc(lens, n_alloc * sizeof(*lens));
                chunk_doc = xrealloc(chunk_doc, n_alloc * sizeof(*chunk_doc));
            }
            texts[n_chunks] = xstrdup(cl.items[i].content);
            lens[n_chunks] = cl.items[i].len;
            chunk_doc[n_chunks] = (int)n_docs;
            n_chunks++;
        }
        lm__chunk_list_dispose(&cl);
        free(content);
        n_docs++;
        json_decref(o);
    }
    free(line);
    fclose(f);

    chunk_vec = xrealloc(NULL, n_chunks * (size_t)dim * sizeof(float));
    double t0 = cpu_now();
    if (lm_embedder_embed(e, chunk_vec, (const char *const *)texts, lens, n_chunks) < 0)
        die(lm_error_last()->message);
    double t = cpu_now() - t0;
    printf("corpus: %zu documents, %zu searchable chunks, embedded in %.2f s CPU (%.0f chunks/s)\n",
           n_docs, n_chunks, t, t > 0 ? (double)n_chunks / t : 0.0);
    for (size_t i = 0; i < n_chunks; i++)
        free(texts[i]);
    free(texts);
    free(lens);
}

static void load_queries(const char *dir)
{
    FILE *f = open_in(dir, "queries.jsonl");
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (o == NULL)
            continue;
        const char *id = json_string_value(json_object_get(o, "_id"));
        const char *text = json_string_value(json_object_get(o, "text"));
        if (id && text) {
            queries = xrealloc(queries, (n_queries + 1) * sizeof(*queries));
            queries[n_queries].id = xstrdup(id);
            queries[n_queries].text = xstrdup(text);
            n_queries++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
}

static qrel *load_qrels(const char *dir, const char *split, size_t *n_out)
{
    char name[256];
    snprintf(name, sizeof(name), "qrels/%s.tsv", split);
    FILE *f = open_in(dir, name);
    char *line = NULL;
    size_t cap = 0, n = 0;
    qrel *q = NULL;
    while (getline(&line, &cap, f) > 0) {
        char a[256], b[256], c[256], d[256];
        int k = sscanf(line, "%255s %255s %255s %255s", a, b, c, d);
        qrel r;
        if (k == 3) {
            r.qid = a, r.did = b, r.grade = atoi(c);
            if (strcmp(c, "score") == 0)
                continue; /* header */
        } else if (k == 4) {
            r.qid = a, r.did = c, r.grade = atoi(d);
        } else {
            continue;
        }
        q = xrealloc(q, (n + 1) * sizeof(*q));
        q[n].qid = xstrdup(r.qid);
        q[n].did = xstrdup(r.did);
        q[n].grade = r.grade;
        n++;
    }
    free(line);
    fclose(f);
    *n_out = n;
    return q;
}

static run_row *load_run(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "quality: cannot open run %s\n", path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0, n = 0;
    run_row *r = NULL;
    while (getline(&line, &cap, f) > 0) {
        char qid[256], q0[16], did[256];
        int rank;
        double score;
        if (sscanf(line, "%255s %15s %255s %d %lf", qid, q0, did, &rank, &score) != 5)
            continue;
        r = xrealloc(r, (n + 1) * sizeof(*r));
        r[n].qid = xstrdup(qid);
        r[n].did = xstrdup(did);
        r[n].score = score;
        n++;
    }
    free(line);
    fclose(f);
    *n_out = n;
    return r;
}

/* One ranked document of one query: trec_eval orders by score descending, then id descending. */
typedef struct ranked {
    int doc;
    double score;
} ranked;

static int by_trec(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return -strcmp(docs[x->doc].id, docs[y->doc].id);
}

static int doc_index(const char *id)
{
    /* Linear: called once per qrel or run row; a few hundred thousand compares in all. */
    static int hint = 0;
    for (size_t k = 0; k < n_docs; k++) {
        size_t i = ((size_t)hint + k) % n_docs;
        if (strcmp(docs[i].id, id) == 0) {
            hint = (int)i;
            return (int)i;
        }
    }
    return -1;
}

/* nDCG@10 and Recall@100 of @p r (n ranked documents) against the judgments @p grade (by doc). */
static void score(const ranked *r, size_t n, const int *grade, double *ndcg, double *recall)
{
    double dcg = 0, idcg = 0;
    int rel = 0, hit = 0;
    int top[10] = {0};
    for (size_t d = 0; d < n_docs; d++) {
        if (grade[d] > 0)
            rel++;
        /* the 10 highest grades, for the ideal DCG */
        int g = grade[d];
        for (int k = 0; k < 10 && g > 0; k++)
            if (g > top[k]) {
                int t = top[k];
                top[k] = g;
                g = t;
            }
    }
    for (int k = 0; k < 10; k++)
        idcg += top[k] / log2(k + 2.0);
    for (size_t i = 0; i < n && i < DEPTH; i++) {
        int g = grade[r[i].doc];
        if (i < 10)
            dcg += g / log2((double)i + 2.0);
        if (g > 0)
            hit++;
    }
    *ndcg = idcg > 0 ? dcg / idcg : 0;
    *recall = rel > 0 ? (double)hit / rel : 0;
}

int main(int argc, char **argv)
{
    const char *splits[MAX_SPLITS], *runs[MAX_SPLITS] = {0};
    const char *run_split[MAX_SPLITS];
    int n_splits = 0, n_runs = 0;
    double alphas[MAX_ALPHAS];
    int n_alphas = 0;
    const char *alpha_arg = "0.02 0.05 0.1 0.15 0.2 0.3 0.4 0.5";
    int opt_dim = 0;
    int i;
    for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-d") == 0) {
            opt_dim = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "-a") == 0) {
            alpha_arg = argv[i + 1];
        } else if (strcmp(argv[i], "-s") == 0 && n_splits < MAX_SPLITS) {
            splits[n_splits++] = argv[i + 1];
        } else if (strcmp(argv[i], "-r") == 0 && n_runs < MAX_SPLITS) {
            char *eq = strchr(argv[i + 1], '=');
            if (eq == NULL)
                die("-r wants SPLIT=RUNFILE");
            *eq = '\0';
            run_split[n_runs] = argv[i + 1];
            runs[n_runs++] = eq + 1;
        } else {
            die("usage: quality [-d DIM] [-a ALPHAS] [-r SPLIT=RUN]... [-s SPLIT]... DATASET");
        }
    }
    if (i != argc - 1)
        die("usage: quality [-d DIM] [-a ALPHAS] [-r SPLIT=RUN]... [-s SPLIT]... DATASET");
    const char *dir = argv[i];
    if (n_splits == 0) {
        splits[n_splits++] = "train";
        splits[n_splits++] = "test";
    }
    for (char *s = (char *)alpha_arg; n_alphas < MAX_ALPHAS;) {
        char *end;
        double a = strtod(s, &end);
        if (end == s)
            break;
        alphas[n_alphas++] = a;
        s = end;
    }

    lm_embedder *e = NULL;
    if (lm_embedder_builtin_new(&e, opt_dim) < 0)
        die(lm_error_last()->message);
    dim = lm_embedder_dim(e);
    printf("provider %s\n", lm_embedder_provider_id(e));
    load_corpus(dir, e);
    load_queries(dir);

    int *grade = xrealloc(NULL, n_docs * sizeof(*grade));
    int *vrank = xrealloc(NULL, n_docs * sizeof(*vrank));
    int *trank = xrealloc(NULL, n_docs * sizeof(*trank));
    ranked *all = xrealloc(NULL, n_docs * sizeof(*all));
    ranked *fused = xrealloc(NULL, n_docs * sizeof(*fused));
    float *qv = xrealloc(NULL, (size_t)dim * sizeof(float));

    for (int s = 0; s < n_splits; s++) {
        size_t nq = 0;
        qrel *qr = load_qrels(dir, splits[s], &nq);
        run_row *run = NULL;
        size_t n_run = 0;
        for (int r = 0; r < n_runs; r++)
            if (strcmp(run_split[r], splits[s]) == 0)
                run = load_run(runs[r], &n_run);
        double sum_v = 0, sum_vr = 0, sum_t = 0, sum_tr = 0;
        double sum_h[MAX_ALPHAS] = {0}, sum_hr[MAX_ALPHAS] = {0};
        int judged = 0;
        /* qrels are grouped by query in the file; take each distinct query once */
        for (size_t a = 0; a < nq; a++) {
            if (a > 0 && strcmp(qr[a].qid, qr[a - 1].qid) == 0)
                continue;
            int seen = 0;
            for (size_t b = 0; b < a && !seen; b++)
                seen = strcmp(qr[b].qid, qr[a].qid) == 0;
            if (seen)
                continue;
            judged++;
            memset(grade, 0, n_docs * sizeof(*grade));
            for (size_t b = a; b < nq; b++)
                if (strcmp(qr[b].qid, qr[a].qid) == 0) {
                    int d = doc_index(qr[b].did);
                    if (d >= 0)
                        grade[d] = qr[b].grade;
                }
            const query *q = NULL;
            for (size_t k = 0; k < n_queries && q == NULL; k++)
                if (strcmp(queries[k].id, qr[a].qid) == 0)
                    q = &queries[k];
            if (q == NULL)
                continue; /* scores 0 */

            /* vector leg: exact cosine (unit vectors), a document ranks by its best chunk */
            const char *qt = q->text;
            if (lm_embedder_embed(e, qv, &qt, NULL, 1) < 0)
                die(lm_error_last()->message);
            for (size_t d = 0; d < n_docs; d++) {
                all[d].doc = (int)d;
                all[d].score = -2;
            }
            for (size_t c = 0; c < n_chunks; c++) {
                const float *v = chunk_vec + c * (size_t)dim;
                double dot = 0;
                for (int j = 0; j < dim; j++)
                    dot += (double)(v[j] * qv[j]);
                ranked *x = &all[chunk_doc[c]];
                if (dot > x->score)
                    x->score = dot;
            }
            qsort(all, n_docs, sizeof(*all), by_trec);
            double nd, rc;
            score(all, DEPTH, grade, &nd, &rc);
            sum_v += nd;
            sum_vr += rc;
            if (run == NULL)
                continue;

            /* text leg from the run; then weighted RRF of the two document rankings */
            size_t nt = 0;
            for (size_t k = 0; k < n_run; k++)
                if (strcmp(run[k].qid, q->id) == 0) {
                    int d = doc_index(run[k].did);
                    if (d >= 0) {
                        fused[nt].doc = d;
                        fused[nt].score = run[k].score;
                        nt++;
                    }
                }
            qsort(fused, nt, sizeof(*fused), by_trec);
            score(fused, nt, grade, &nd, &rc);
            sum_t += nd;
            sum_tr += rc;
            memset(vrank, 0, n_docs * sizeof(*vrank));
            memset(trank, 0, n_docs * sizeof(*trank));
            for (size_t k = 0; k < nt; k++)
                trank[fused[k].doc] = (int)k + 1;
            for (size_t k = 0; k < 3 * DEPTH && k < n_docs; k++)
                vrank[all[k].doc] = (int)k + 1;
            for (int al = 0; al < n_alphas; al++) {
                size_t nf = 0;
                for (size_t d = 0; d < n_docs; d++) {
                    if (!vrank[d] && !trank[d])
                        continue;
                    fused[nf].doc = (int)d;
                    fused[nf].score = (vrank[d] ? alphas[al] / (RRF_K + vrank[d]) : 0.0) +
                                      (trank[d] ? (1 - alphas[al]) / (RRF_K + trank[d]) : 0.0);
                    nf++;
                }
                qsort(fused, nf, sizeof(*fused), by_trec);
                score(fused, nf, grade, &nd, &rc);
                sum_h[al] += nd;
                sum_hr[al] += rc;
            }
        }
        printf("%-5s %3d queries  vector nDCG@10 %.4f  Recall@100 %.4f\n", splits[s], judged,
               sum_v / judged, sum_vr / judged);
        if (run != NULL) {
            printf("%-5s text (run)     nDCG@10 %.4f  Recall@100 %.4f\n", splits[s], sum_t / judged,
                   sum_tr / judged);
            for (int al = 0; al < n_alphas; al++)
                printf("%-5s hybrid a=%-5g nDCG@10 %.4f  Recall@100 %.4f  (%+.4f vs text)\n",
                       splits[s], alphas[al], sum_h[al] / judged, sum_hr[al] / judged,
                       (sum_h[al] - sum_t) / judged);
            for (size_t k = 0; k < n_run; k++) {
                free(run[k].qid);
                free(run[k].did);
            }
            free(run);
        }
        for (size_t k = 0; k < nq; k++) {
            free(qr[k].qid);
            free(qr[k].did);
        }
        free(qr);
    }
    lm_embedder_free(e);
    return 0;
}

/*
 * eval/metrics.c: the scoring half of evaluation (llmemory/eval.h): parse qrels and TREC runs,
 * order a run as trec_eval does, and compute nDCG@10, Recall@100 and MRR@10 per query and on
 * average, plus latency percentiles. Pure functions over memory: no files, no database
 * (dataset.c does those), so the numbers can be unit-tested against hand-computed values.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "llmemory.h"
#include "utf8.h"

/* ==== small helpers ==== */

static char *dup_n(const char *s, size_t n)
{
    char *p = lm__malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

typedef struct field {
    const char *p;
    size_t n;
} field;

/* Split one line into fields separated by runs of tabs and spaces. Returns the number of fields
   (which may exceed @p max; only the first @p max are stored). */
static size_t split_fields(const char *line, size_t len, field *f, size_t max)
{
    size_t i = 0, count = 0;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (count < max) {
            f[count].p = line + start;
            f[count].n = i - start;
        }
        count++;
    }
    return count;
}

/* Next line of @p text from *pos: sets *line and *n (without "\n" or "\r\n"); 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return 0;
    const char *s = text + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t l = nl != NULL ? (size_t)(nl - s) : len - *pos;
    *pos += l + (nl != NULL ? 1 : 0);
    if (l > 0 && s[l - 1] == '\r')
        l--;
    *line = s;
    *n = l;
    return 1;
}

/* Integer grade in a field: 0 and *out set, or -1 when it is not an integer. */
static int parse_grade(const field *f, int *out)
{
    char buf[32], *end = NULL;
    long v;
    if (f->n == 0 || f->n >= sizeof(buf))
        return -1;
    memcpy(buf, f->p, f->n);
    buf[f->n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    if (*end != '\0' || errno != 0 || v < -1000000 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* ==== qrels ==== */

typedef struct triple {
    char *q, *d;
    int rel;
    size_t seq; /* line order */
} triple;

static int cmp_triple(const void *a, const void *b)
{
    const triple *x = a, *y = b;
    int c = strcmp(x->q, y->q);
    if (c == 0)
        c = strcmp(x->d, y->d);
    if (c == 0)
        c = x->seq < y->seq ? -1 : x->seq > y->seq;
    return c;
}

typedef struct qorder {
    size_t first_seq; /* line of the query's first judgment */
    size_t id_rank;   /* position in query_id order */
} qorder;

static int cmp_qorder(const void *a, const void *b)
{
    const qorder *x = a, *y = b;
    return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

int lm_eval_qrels_parse(lm_eval_qrels *out, const char *text, size_t len)
{
    triple *t = NULL;
    lm_eval_qrel_query *byid = NULL;
    qorder *order = NULL;
    size_t nt = 0, cap = 0, pos = 0, lineno = 0, nq = 0;
    const char *line;
    size_t n;
    int rc = LM_ENOMEM, seen_data = 0;

    memset(out, 0, sizeof(*out));
    while (next_line(text, len, &pos, &line, &n)) {
        field f[4];
        size_t nf = split_fields(line, n, f, 4);
        const field *qf, *df, *rf;
        int rel;

        lineno++;
        if (nf == 0)
            continue;
        if (nf == 3) {
            qf = &f[0], df = &f[1], rf = &f[2];
        } else if (nf == 4) {
            qf = &f[0], df = &f[2], rf = &f[3];
        } else {
            lm__error_set(LM_EPARSE, "line %zu has %zu fields, expected 3 (BEIR) or 4 (TREC)", lineno,
                    nf);
            rc = LM_EPARSE;
            goto out;
        }
        if (parse_grade(rf, &rel) < 0) {
            if (!seen_data) { /* BEIR's "query-id corpus-id score" header */
                seen_data = 1;
                continue;
            }
            lm__error_set(LM_EPARSE, "line %zu: relevance \"%.*s\" is not an integer", lineno,
                    (int)(rf->n > 40 ? 40 : rf->n), rf->p);
            rc = LM_EPARSE;
            goto out;
        }
        seen_data = 1;
        if (nt == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            triple *nv = lm__realloc(t, ncap * sizeof(*t));
            if (nv == NULL)
                goto out;
            t = nv;
            cap = ncap;
        }
        t[nt].q = dup_n(qf->p, qf->n);
        t[nt].d = dup_n(df->p, df->n);
        t[nt].rel = rel;
        t[nt].seq = nt;
        nt++;
        if (t[nt - 1].q == NULL || t[nt - 1].d == NULL)
            goto out;
    }
    if (nt == 0) {
        lm__error_set(LM_EPARSE, "no judgments found");
        rc = LM_EPARSE;
        goto out;
    }
    /* Group by query, documents in id order; a repeated pair keeps its last line's grade. */
    qsort(t, nt, sizeof(*t), cmp_triple);
    for (size_t i = 0; i < nt; i++)
        if (i == 0 || strcmp(t[i].q, t[i - 1].q) != 0)
            nq++;
    byid = lm__calloc(nq, sizeof(*byid));
    order = lm__calloc(nq, sizeof(*order));
    out->q = lm__calloc(nq, sizeof(*out->q));
    out->by_id = lm__calloc(nq, sizeof(*out->by_id));
    if (byid == NULL || order == NULL || out->q == NULL || out->by_id == NULL)
        goto out;
    for (size_t i = 0, k = 0; i < nt; k++) {
        size_t j = i, first = t[i].seq;
        lm_eval_qrel_query *q = &byid[k];
        while (j < nt && strcmp(t[j].q, t[i].q) == 0) {
            if (t[j].seq < first)
                first = t[j].seq;
            j++;
        }
        q->docs = lm__calloc(j - i, sizeof(*q->docs));
        if (q->docs == NULL)
            goto out;
        q->query_id = t[i].q;
        t[i].q = NULL;
        for (size_t m = i; m < j; m++) {
            if (m + 1 < j && strcmp(t[m].d, t[m + 1].d) == 0)
                continue; /* a later line judges the same document */
            q->docs[q->n].doc_id = t[m].d;
            q->docs[q->n].rel = t[m].rel;
            if (t[m].rel > 0)
                q->n_rel++;
            q->n++;
            t[m].d = NULL;
        }
        order[k].first_seq = first;
        order[k].id_rank = k;
        i = j;
    }
    qsort(order, nq, sizeof(*order), cmp_qorder);
    for (size_t j = 0; j < nq; j++) {
        out->q[j] = byid[order[j].id_rank];
        out->by_id[order[j].id_rank] = j;
    }
    out->n = nq;
    nq = 0; /* the queries now belong to out */
    rc = 0;
out:
    for (size_t i = 0; i < nt; i++) {
        lm__free(t[i].q);
        lm__free(t[i].d);
    }
    lm__free(t);
    if (byid != NULL && rc < 0) {
        for (size_t k = 0; k < nq; k++) {
            for (size_t m = 0; m < byid[k].n; m++)
                lm__free(byid[k].docs[m].doc_id);
            lm__free(byid[k].docs);
            lm__free(byid[k].query_id);
        }
    }
    lm__free(byid);
    lm__free(order);
    if (rc < 0) {
        if (rc == LM_ENOMEM)
            lm__error_set_oom();
        lm__free(out->q);
        lm__free(out->by_id);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

void lm_eval_qrels_dispose(lm_eval_qrels *qrels)
{
    if (qrels == NULL)
        return;
    for (size_t i = 0; i < qrels->n; i++) {
        lm_eval_qrel_query *q = &qrels->q[i];
        for (size_t m = 0; m < q->n; m++)
            lm__free(q->docs[m].doc_id);
        lm__free(q->docs);
        lm__free(q->query_id);
    }
    lm__free(qrels->q);
    lm__free(qrels->by_id);
    memset(qrels, 0, sizeof(*qrels));
}

long lm_eval_qrels_find(const lm_eval_qrels *qrels, const char *query_id)
{
    size_t lo = 0, hi = qrels->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(qrels->q[qrels->by_id[mid]].query_id, query_id);
        if (c == 0)
            return (long)qrels->by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int lm_eval_qrel_grade(const lm_eval_qrel_query *q, const char *doc_id)
{
    size_t lo = 0, hi = q->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(q->docs[mid].doc_id, doc_id);
        if (c == 0)
            return q->docs[mid].rel;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* ==== runs ==== */

int lm_eval_run_add(lm_eval_run *run, const char *query_id, const char *doc_id, double score)
{
    if (run->n == run->cap) {
        size_t ncap = run->cap ? run->cap * 2 : 1024;
        lm_eval_run_entry *nv = lm__realloc(run->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return LM_ENOMEM;
        run->v = nv;
        run->cap = ncap;
    }
    lm_eval_run_entry *e = &run->v[run->n];
    e->query_id = dup_n(query_id, strlen(query_id));
    e->doc_id = dup_n(doc_id, strlen(doc_id));
    e->score = score;
    if (e->query_id == NULL || e->doc_id == NULL) {
        lm__free(e->query_id);
        lm__free(e->doc_id);
        return LM_ENOMEM;
    }
    run->n++;
    return 0;
}

int lm_eval_run_add_ranked(lm_eval_run *run,
                       const char *query_id,
                       const char *const *doc_ids,
                       const double *scores,
                       size_t n,
                       size_t max_docs)
{
    size_t first = run->n, kept = 0;
    int rc;

    /* A document's later hits are its weaker chunks: only its first hit counts. A linear scan
       is fine for the few hundred hits one search returns. */
    for (size_t i = 0; i < n && kept < max_docs; i++) {
        int seen = 0;
        for (size_t j = first; j < run->n && !seen; j++)
            seen = strcmp(run->v[j].doc_id, doc_ids[i]) == 0;
        if (seen)
            continue;
        if ((rc = lm_eval_run_add(run, query_id, doc_ids[i], scores[i])) < 0)
            return rc;
        kept++;
    }
    return 0;
}

int lm_eval_run_parse(lm_eval_run *out, const char *text, size_t len)
{
    size_t pos = 0, lineno = 0, n;
    const char *line;
    int rc;

    memset(out, 0, sizeof(*out));
    while (next_line(text, len, &pos, &line, &n)) {
        field f[6];
        size_t nf = split_fields(line, n, f, 6);
        char num[64], *end = NULL, *q = NULL, *d = NULL;
        double score;

        lineno++;
        if (nf == 0)
            continue;
        if (nf != 6) {
            lm__error_set(LM_EPARSE,
                          "line %zu has %zu fields, expected 6 (qid Q0 docid rank score tag)",
                          lineno, nf);
            rc = LM_EPARSE;
            goto fail;
        }
        if (f[4].n == 0 || f[4].n >= sizeof(num)) {
            lm__error_set(LM_EPARSE, "line %zu: score is not a number", lineno);
            rc = LM_EPARSE;
            goto fail;
        }
        memcpy(num, f[4].p, f[4].n);
        num[f[4].n] = '\0';
        errno = 0;
        score = strtod(num, &end);
        if (*end != '\0' || errno == ERANGE || !isfinite(score)) {
            lm__error_set(LM_EPARSE, "line %zu: score \"%s\" is not a finite number", lineno, num);
            rc = LM_EPARSE;
            goto fail;
        }
        q = dup_n(f[0].p, f[0].n);
        d = dup_n(f[2].p, f[2].n);
        rc = q != NULL && d != NULL ? lm_eval_run_add(out, q, d, score) : LM_ENOMEM;
        lm__free(q);
        lm__free(d);
        if (rc < 0) {
            lm__error_set_oom();
            goto fail;
        }
    }
    return 0;
fail:
    lm_eval_run_dispose(out);
    return rc;
}

/* Query, then document, then best score first: equal neighbours are one document listed twice. */
static int cmp_dedupe(const void *a, const void *b)
{
    const lm_eval_run_entry *x = a, *y = b;
    int c = strcmp(x->query_id, y->query_id);
    if (c == 0)
        c = strcmp(x->doc_id, y->doc_id);
    if (c == 0)
        c = x->score > y->score ? -1 : x->score < y->score;
    return c;
}

/* trec_eval's order (form_res_rels.c): score descending, then document id descending. */
static int cmp_trec(const void *a, const void *b)
{
    const lm_eval_run_entry *x = a, *y = b;
    int c = strcmp(x->query_id, y->query_id);
    if (c != 0)
        return c;
    if (x->score > y->score)
        return -1;
    if (x->score < y->score)
        return 1;
    return strcmp(y->doc_id, x->doc_id);
}

int lm_eval_run_sort(lm_eval_run *run)
{
    size_t w = 0;

    if (run->n == 0)
        return 0;
    qsort(run->v, run->n, sizeof(*run->v), cmp_dedupe);
    for (size_t i = 0; i < run->n; i++) {
        if (w > 0 && strcmp(run->v[w - 1].query_id, run->v[i].query_id) == 0 &&
            strcmp(run->v[w - 1].doc_id, run->v[i].doc_id) == 0) {
            lm__free(run->v[i].query_id);
            lm__free(run->v[i].doc_id);
            continue;
        }
        run->v[w++] = run->v[i];
    }
    run->n = w;
    qsort(run->v, run->n, sizeof(*run->v), cmp_trec);
    return 0;
}

size_t lm_eval_run_range(const lm_eval_run *run, const char *query_id, size_t *first)
{
    size_t lo = 0, hi = run->n, end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(run->v[mid].query_id, query_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    end = lo;
    while (end < run->n && strcmp(run->v[end].query_id, query_id) == 0)
        end++;
    *first = lo;
    return end - lo;
}

void lm_eval_run_dispose(lm_eval_run *run)
{
    if (run == NULL)
        return;
    for (size_t i = 0; i < run->n; i++) {
        lm__free(run->v[i].query_id);
        lm__free(run->v[i].doc_id);
    }
    lm__free(run->v);
    memset(run, 0, sizeof(*run));
}

/* ==== metrics ==== */

void lm_eval_query(lm_eval_scores *out,
                    const lm_eval_qrel_query *q,
                    const char *const *ranking,
                    size_t n)
{
    double ideal[LM_EVAL_NDCG_DEPTH];
    size_t n_ideal = 0, hits100 = 0;
    double dcg = 0, idcg = 0;

    memset(out, 0, sizeof(*out));
    out->retrieved = n;
    if (q == NULL || q->n_rel == 0)
        return;

    /* The ideal ranking: the LM_EVAL_NDCG_DEPTH highest grades among all judged documents,
       retrieved or not (trec_eval's ndcg_cut). Insertion keeps them sorted, descending. */
    for (size_t i = 0; i < q->n; i++) {
        double g = (double)q->docs[i].rel;
        size_t k;
        if (g <= 0)
            continue;
        if (n_ideal == LM_EVAL_NDCG_DEPTH && g <= ideal[n_ideal - 1])
            continue;
        k = n_ideal < LM_EVAL_NDCG_DEPTH ? n_ideal++ : n_ideal - 1;
        while (k > 0 && ideal[k - 1] < g) {
            ideal[k] = ideal[k - 1];
            k--;
        }
        ideal[k] = g;
    }
    for (size_t i = 0; i < n_ideal; i++)
        idcg += ideal[i] / log2((double)i + 2.0);

    for (size_t i = 0; i < n; i++) {
        int rel = lm_eval_qrel_grade(q, ranking[i]);
        if (rel <= 0)
            continue;
        if (i < LM_EVAL_NDCG_DEPTH)
            dcg += (double)rel / log2((double)i + 2.0);
        if (i < LM_EVAL_RECALL_DEPTH)
            hits100++;
        if (i < LM_EVAL_MRR_DEPTH && out->mrr10 == 0)
            out->mrr10 = 1.0 / ((double)i + 1.0);
    }
    out->ndcg10 = idcg > 0 ? dcg / idcg : 0;
    out->recall100 = (double)hits100 / (double)q->n_rel;
}

int lm_eval_score_run(lm_eval_summary *out,
                 lm_eval_scores *per_query,
                 const lm_eval_qrels *qrels,
                 lm_eval_run *run)
{
    const char **ranking = NULL;
    size_t cap = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = lm_eval_run_sort(run)) < 0)
        return rc;
    for (size_t i = 0; i < qrels->n; i++) {
        const lm_eval_qrel_query *q = &qrels->q[i];
        lm_eval_scores s;
        size_t first, n = lm_eval_run_range(run, q->query_id, &first);

        if (n > cap) {
            const char **nr = lm__realloc(ranking, n * sizeof(*ranking));
            if (nr == NULL) {
                lm__free(ranking);
                return LM_ENOMEM;
            }
            ranking = nr;
            cap = n;
        }
        for (size_t j = 0; j < n; j++)
            ranking[j] = run->v[first + j].doc_id;
        lm_eval_query(&s, q, ranking, n);
        if (n == 0)
            out->no_hits++;
        out->ndcg10 += s.ndcg10;
        out->recall100 += s.recall100;
        out->mrr10 += s.mrr10;
        if (per_query != NULL)
            per_query[i] = s;
    }
    lm__free(ranking);
    for (size_t i = 0; i < run->n; i++)
        if ((i == 0 || strcmp(run->v[i].query_id, run->v[i - 1].query_id) != 0) &&
            lm_eval_qrels_find(qrels, run->v[i].query_id) < 0)
            out->unjudged++;
    out->queries = qrels->n;
    if (qrels->n > 0) {
        out->ndcg10 /= (double)qrels->n;
        out->recall100 /= (double)qrels->n;
        out->mrr10 /= (double)qrels->n;
    }
    return 0;
}

/* ==== latency ==== */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p)
{
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

void lm_eval_latency_summarize(lm_eval_latency *out, double *ms, size_t n)
{
    double sum = 0;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    qsort(ms, n, sizeof(*ms), cmp_double);
    for (size_t i = 0; i < n; i++)
        sum += ms[i];
    out->n = n;
    out->mean = sum / (double)n;
    out->p50 = percentile(ms, n, 0.50);
    out->p95 = percentile(ms, n, 0.95);
    out->p99 = percentile(ms, n, 0.99);
    out->max = ms[n - 1];
}

/* ==== corpus entries ==== */

int lm_eval_doc(
    lm_buf *content, lm_buf *name, const char *id, const char *title, const char *text)
{
    size_t tlen = title != NULL ? strlen(title) : 0;
    size_t xlen = text != NULL ? strlen(text) : 0;

    lm__buf_clear(content);
    lm__buf_clear(name);
    if (tlen > 0)
        lm__buf_put(content, title, tlen);
    if (tlen > 0 && xlen > 0)
        lm__buf_puts(content, "\n\n");
    if (xlen > 0)
        lm__buf_put(content, text, xlen);
    if (tlen > 0)
        lm__buf_put(name, title, lm__utf8_floor(title, tlen, LM_MAX_DOC_NAME_BYTES));
    else
        lm__buf_put(name, id, lm__utf8_floor(id, strlen(id), LM_MAX_DOC_NAME_BYTES));
    if (lm__buf_oom(content) || lm__buf_oom(name)) {
        lm__error_set_oom();
        return LM_ENOMEM;
    }
    return 0;
}

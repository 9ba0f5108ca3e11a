/*
 * search/fuse.c: fusion of ranked candidate lists, query expansion and lexical reranking.
 */
#include "search/fuse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

void lm__cands_dispose(lm__cands *c)
{
    lm__free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

int lm__cands_push(lm__cands *c, const lm__cand *x)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        lm__cand *v = lm__realloc(c->v, cap * sizeof(*v));
        if (v == NULL)
            return LM_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = *x;
    return 0;
}

static int by_score(const void *a, const void *b)
{
    const lm__cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->chunk_no < y->chunk_no ? -1 : x->chunk_no > y->chunk_no;
}

void lm__cands_sort(lm__cands *c)
{
    if (c->n > 1)
        qsort(c->v, c->n, sizeof(*c->v), by_score);
}

static int by_chunk(const void *a, const void *b)
{
    const lm__cand *x = a, *y = b;
    return x->chunk_no < y->chunk_no ? -1 : x->chunk_no > y->chunk_no;
}

/* Index of @p chunk_no in @p c (sorted by chunk_no), or -1. */
static long find(const lm__cands *c, int64_t chunk_no)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->v[mid].chunk_no < chunk_no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->n && c->v[lo].chunk_no == chunk_no ? (long)lo : -1;
}

int lm__fuse_weighted(lm__cands *out, const lm__cands *text, const lm__cands *vec, double alpha,
                      int k)
{
    const lm__cands *legs[2] = {text, vec};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < legs[l]->n; i++) {
            const lm__cand *x = &legs[l]->v[i];
            long at = -1;
            for (size_t j = 0; j < out->n && at < 0; j++)
                if (out->v[j].chunk_no == x->chunk_no)
                    at = (long)j;
            if (at < 0) {
                lm__cand c = {x->chunk_no, 0, 0, 0, 0, 0};
                if (lm__cands_push(out, &c) < 0)
                    return LM_ENOMEM;
                at = (long)out->n - 1;
            }
            lm__cand *o = &out->v[at];
            if (l == 0) {
                o->text_score = x->text_score;
                o->text_rank = (int)i + 1;
            } else {
                o->vec_score = x->vec_score;
                o->vec_rank = (int)i + 1;
            }
        }
    }
    for (size_t j = 0; j < out->n; j++) {
        lm__cand *o = &out->v[j];
        o->score = (o->vec_rank ? alpha / (k + o->vec_rank) : 0.0) +
                   (o->text_rank ? (1.0 - alpha) / (k + o->text_rank) : 0.0);
    }
    lm__cands_sort(out);
    return 0;
}

int lm__fuse_rrf(lm__cands *out, const lm__cands *lists, size_t n_lists, int k)
{
    lm__cands acc = {0};
    for (size_t l = 0; l < n_lists; l++) {
        for (size_t i = 0; i < lists[l].n; i++) {
            const lm__cand *x = &lists[l].v[i];
            long at = find(&acc, x->chunk_no);
            if (at < 0) {
                lm__cand c = *x;
                c.score = 0;
                if (lm__cands_push(&acc, &c) < 0) {
                    lm__cands_dispose(&acc);
                    return LM_ENOMEM;
                }
                qsort(acc.v, acc.n, sizeof(*acc.v), by_chunk);
                at = find(&acc, x->chunk_no);
            }
            acc.v[at].score += 1.0 / (k + (double)i + 1);
        }
    }
    lm__cands_sort(&acc);
    lm__cands_dispose(out);
    *out = acc;
    return 0;
}

/* ---- expansion ---------------------------------------------------------------------------- */

static const char *const stopwords[] = {"a",    "an",   "and",  "are",  "as",   "at",
                                        "be",   "by",   "for",  "from", "has",  "in",
                                        "is",   "it",   "of",   "on",   "or",   "that",
                                        "the",  "to",   "was",  "were", "will", "with"};

static int is_stop(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof(stopwords) / sizeof(*stopwords); i++)
        if (strlen(stopwords[i]) == n && memcmp(stopwords[i], w, n) == 0)
            return 1;
    return 0;
}

static int word_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

static int casecmp_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static int add_variant(char ***v, size_t *n, int max, const char *s)
{
    if ((int)*n >= max || s[0] == '\0')
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (casecmp_eq((*v)[i], s))
            return 0;
    char *c = lm__strdup(s);
    if (c == NULL)
        return LM_ENOMEM;
    (*v)[(*n)++] = c;
    return 0;
}

void lm__variants_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        lm__free(v[i]);
    lm__free(v);
}

int lm__expand_variants(char ***out, size_t *n_out, const char *query, int max)
{
    char **v = NULL;
    size_t n = 0;
    lm_buf norm = LM_BUF_INIT, lower = LM_BUF_INIT, kw = LM_BUF_INIT, orv = LM_BUF_INIT,
           ph = LM_BUF_INIT;
    size_t ntok = 0;
    int rc = 0;

    *out = NULL;
    *n_out = 0;
    if (max < 1)
        max = 1;
    if ((v = lm__calloc((size_t)max, sizeof(char *))) == NULL)
        return LM_ENOMEM;
    /* Whitespace collapsed, and a lower-case copy. */
    for (const char *s = query; *s;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        const char *w = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            s++;
        if (s > w) {
            if (norm.size)
                lm__buf_putc(&norm, ' ');
            lm__buf_put(&norm, w, (size_t)(s - w));
        }
    }
    for (size_t i = 0; i < norm.size; i++) {
        char c = norm.ptr[i];
        lm__buf_putc(&lower, (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c);
    }
    if (lm__buf_oom(&norm) || lm__buf_oom(&lower)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = add_variant(&v, &n, max, query)) < 0)
        goto out;
    /* Tokens: runs of word characters of the lower-case query. */
    for (size_t round = 0; round < 2; round++) {
        int any_kept = 0;
        for (const char *s = lower.ptr; *s;) {
            while (*s && !word_char((unsigned char)*s))
                s++;
            const char *w = s;
            while (*s && word_char((unsigned char)*s))
                s++;
            size_t len = (size_t)(s - w);
            if (len == 0)
                continue;
            int stop = is_stop(w, len);
            if (round == 0) {
                ntok++;
                if (!stop) {
                    any_kept = 1;
                    if (kw.size)
                        lm__buf_putc(&kw, ' ');
                    lm__buf_put(&kw, w, len);
                }
            } else if (!stop) {
                /* OR variant: unique non-stop tokens in first-seen order. */
                int seen = 0;
                for (const char *t = orv.ptr; *t && !seen;) {
                    const char *e = strstr(t, " OR ");
                    size_t tl = e ? (size_t)(e - t) : strlen(t);
                    seen = tl == len && memcmp(t, w, len) == 0;
                    t = e ? e + 4 : t + tl;
                }
                if (!seen) {
                    if (orv.size)
                        lm__buf_puts(&orv, " OR ");
                    lm__buf_put(&orv, w, len);
                }
            }
        }
        if (round == 0 && !any_kept) {
            /* Only stop words: keep them all. */
            lm__buf_clear(&kw);
            lm__buf_puts(&kw, lower.ptr);
        }
    }
    lm__buf_printf(&ph, "\"%s\"", norm.ptr);
    if (lm__buf_oom(&kw) || lm__buf_oom(&orv) || lm__buf_oom(&ph)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (strcmp(kw.ptr, lower.ptr) != 0 && (rc = add_variant(&v, &n, max, kw.ptr)) < 0)
        goto out;
    if (strstr(orv.ptr, " OR ") != NULL && (rc = add_variant(&v, &n, max, orv.ptr)) < 0)
        goto out;
    if (ntok > 1 && (rc = add_variant(&v, &n, max, ph.ptr)) < 0)
        goto out;
    *out = v;
    *n_out = n;
    v = NULL;
out:
    lm__variants_free(v, n);
    lm_buf_dispose(&norm);
    lm_buf_dispose(&lower);
    lm_buf_dispose(&kw);
    lm_buf_dispose(&orv);
    lm_buf_dispose(&ph);
    return rc;
}

/* ---- lexical reranking ---------------------------------------------------------------------- */

/* Next ASCII [a-z0-9]+ token of @p s (case-folded into @p tok, at most cap-1 bytes). */
static const char *next_token(const char *s, char *tok, size_t cap, size_t *len)
{
    while (*s && !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
        s++;
    size_t n = 0;
    while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')) {
        if (n + 1 < cap)
            tok[n++] = (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s;
        s++;
    }
    tok[n] = '\0';
    *len = n;
    return s;
}

static int contains_token(const char *text, const char *tok)
{
    char t[64];
    size_t n;
    for (const char *s = text; *s;) {
        s = next_token(s, t, sizeof(t), &n);
        if (n && strcmp(t, tok) == 0)
            return 1;
    }
    return 0;
}

double lm__lexical_score(const char *query, const char *content, const char *metadata)
{
    char t[64];
    size_t n, n_content = 0;
    for (const char *s = content; *s;) {
        s = next_token(s, t, sizeof(t), &n);
        n_content += n > 0;
    }
    if (n_content == 0)
        return 0;
    double overlap = 0;
    int any = 0;
    for (const char *s = query; *s;) {
        s = next_token(s, t, sizeof(t), &n);
        if (n == 0)
            continue;
        any = 1;
        overlap += contains_token(content, t);
        if (metadata)
            overlap += contains_token(metadata, t);
    }
    if (!any)
        return 0;
    return overlap / log((double)n_content + 1);
}

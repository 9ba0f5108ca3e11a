/*
 * search/fuse.h: candidates of the search legs, their fusion (weighted reciprocal rank fusion for
 * hybrid, plain RRF across query variants), heuristic query expansion, and the lexical reranker.
 * No I/O.
 */
#ifndef LM_SEARCH_FUSE_H
#define LM_SEARCH_FUSE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm__cand {
    int64_t chunk_no;
    double score;      /* the score results are ordered by */
    double text_score; /* BM25, 0 when the keyword leg did not return the chunk */
    int text_rank;     /* 1-based, 0 when absent */
    double vec_score;  /* cosine similarity, 0 when absent */
    int vec_rank;
} lm__cand;

typedef struct lm__cands {
    lm__cand *v;
    size_t n, cap;
} lm__cands;

void lm__cands_dispose(lm__cands *c);
int lm__cands_push(lm__cands *c, const lm__cand *x);

/* Hybrid: fused = alpha / (k + vec_rank) + (1 - alpha) / (k + text_rank), a leg that did not
 * return the chunk contributes nothing. Sorted by fused score, ties by chunk_no. Each candidate
 * keeps both legs' scores and ranks. */
int lm__fuse_weighted(lm__cands *out, const lm__cands *text, const lm__cands *vec, double alpha,
                      int k);

/* Query variants: score = sum over lists of 1 / (k + rank); a chunk keeps the leg scores of its
 * best-ranked appearance. */
int lm__fuse_rrf(lm__cands *out, const lm__cands *lists, size_t n_lists, int k);

/* Sort by score descending, ties by chunk_no ascending (stable, deterministic). */
void lm__cands_sort(lm__cands *c);

/* Heuristic variants of @p query (llmemory's): the original, a keyword variant (stop words
 * removed), an OR variant and a phrase variant, de-duplicated case-insensitively, at most @p max
 * in all. *out is an array of heap strings (free with lm__variants_free). */
int lm__expand_variants(char ***out, size_t *n_out, const char *query, int max);
void lm__variants_free(char **v, size_t n);

/* llmemory's lexical reranker: query tokens (with repetition) found in the content or in the
 * metadata text, divided by ln(number of content tokens + 1). ASCII [a-z0-9]+ tokens. */
double lm__lexical_score(const char *query, const char *content, const char *metadata);

#endif

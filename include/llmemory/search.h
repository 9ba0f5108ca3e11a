/*
 * llmemory/search.h: searching one tenant's chunks, and the tenant's search history.
 *
 * Keyword search ranks with BM25 over the tenant's own statistics (document frequencies, chunk
 * count and average length are kept per tenant, so one tenant's data never changes another's
 * scores). By default the query uses web-search syntax: plain words are OR-ed, "quoted phrases"
 * must appear as phrases, -word excludes chunks containing the word. With the plain syntax
 * (lm_search_opts.syntax = LM_QUERY_PLAIN) the query is only text: its words are OR-ed, and
 * quotes and a leading '-' are punctuation (natural-language questions, text from an LLM, test
 * collections).
 *
 * Threads: safe to call from several threads on one lm_memory. Results are read-only once
 * returned and may be shared.
 */
#ifndef LLMEMORY_SEARCH_H
#define LLMEMORY_SEARCH_H

#include "common.h"
#include "doc.h"
#include "store.h"

LM_BEGIN_DECL

typedef enum lm_search_type {
    LM_SEARCH_TEXT = 0, /* BM25 keyword search */
    LM_SEARCH_VECTOR,   /* cosine similarity of embeddings (needs an embedding provider) */
    LM_SEARCH_HYBRID    /* both, fused by weighted reciprocal rank fusion */
} lm_search_type;

/** "text", "vector" or "hybrid". */
LM_EXTERN const char *lm_search_type_name(lm_search_type type);
/** Parse a search type name. @return 0 or LM_EINVAL (field "search_type"). */
LM_EXTERN int lm_search_type_parse(lm_search_type *out, const char *name);

/** How the query text is read (see the top of this file). */
typedef enum lm_query_syntax {
    LM_QUERY_WEB = 0, /* words OR-ed, "phrases" required, -word excluded (default) */
    LM_QUERY_PLAIN    /* words OR-ed, no operators */
} lm_query_syntax;

/** "web" or "plain". */
LM_EXTERN const char *lm_query_syntax_name(lm_query_syntax syntax);
/** Parse a syntax name. @return 0 or LM_EINVAL (field "syntax"). */
LM_EXTERN int lm_query_syntax_parse(lm_query_syntax *out, const char *name);

/** Options of lm_search(). NULL means defaults. All filters combine with AND. Version 1 (the
    fields up to rerank_top_k) is still accepted; syntax needs version 2. */
typedef struct lm_search_opts {
    unsigned int version;
    lm_search_type type;
    int limit;                        /* 1..max limit (100 by default); default 10 */
    const char *id_at_origin;         /* only this document key, or NULL */
    const char *const *id_at_origins; /* only these document keys (n_id_at_origins of them) */
    size_t n_id_at_origins;
    const char *metadata_filter;      /* JSON object the document's metadata must contain */
    int has_type;                     /* 1: only documents of @c doc_type */
    lm_doc_type doc_type;
    const char *date_from;            /* document_date >= this (ISO 8601), or NULL */
    const char *date_to;              /* document_date <= this (ISO 8601), or NULL */
    const char *text_config;          /* analyzer for the query; NULL: the memory's default */
    int no_history;                   /* 1: do not record this search in the history */
    /* Hybrid fusion: weighted reciprocal rank fusion,
       fused = alpha / (rrf_k + vector_rank) + (1 - alpha) / (rrf_k + text_rank). */
    double alpha;                     /* 0 keyword only .. 1 vector only; < 0: the default
                                         (0.4 with the local encoder, 0.01 with the
                                         built-in embedder, else 0.5) */
    int rrf_k;                        /* 0: 60 */
    int candidates;                   /* depth of each leg before fusion; 0: max(2 * limit, 50) */
    int with_documents;               /* 1: fill document_metadata of each hit */
    int include_parent_context;       /* 1: attach each hit's ancestors (parents) */
    int context_window;               /* levels of ancestors to attach; 0: 2 */
    int expand;                       /* 1: multi-query expansion (keyword, OR, phrase variants) */
    int max_variants;                 /* variants including the original; 0: 3 */
    int rerank;                       /* 1: rerank the top candidates (lexical, or the hook) */
    int rerank_top_k;                 /* candidates reranked; 0: 50 */
    lm_query_syntax syntax;           /* how the query is read; default LM_QUERY_WEB (version 2) */
    /* 1: search the tenant and every sub-tenant "<owner_id>/..." in one call. Each tenant is
       searched on its own (its own BM25 statistics, its own tenant transaction) and the lists
       are merged by reciprocal rank fusion: score = 1 / (rrf_k + rank in its tenant's list),
       ties by tenant name; hit.owner_id says whose each hit is. At most 100 tenants
       (LM_EINVAL otherwise). Whether the caller may see the sub-tenants is the caller's
       decision (the HTTP server allows it for keys with allow_subtenants). */
    int include_subtenants;
} lm_search_opts;

#define LM_SEARCH_OPTS_VERSION 2
#define LM_SEARCH_OPTS_INIT                                                                        \
    {LM_SEARCH_OPTS_VERSION, LM_SEARCH_TEXT, 10, NULL, NULL, 0, NULL, 0, LM_DOC_UNKNOWN, NULL, NULL, \
     NULL, 0, -1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, LM_QUERY_WEB, 0}
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_search_opts_init(lm_search_opts *opts, unsigned int version);

/** Estimated cost of a search with @p opts (NULL: defaults), in the units of
    LM_MAX_SEARCH_COST: candidates per leg x legs (2 for hybrid) x query variants + rerank_top_k.
    Servers weigh admission by it (a costly search takes more of its tenant's share). Options
    out of range are clamped (lm_search() refuses them). Never negative. */
LM_EXTERN long lm_search_cost(const lm_search_opts *opts);

/** One result. Strings are borrowed from the lm_results that holds it. */
typedef struct lm_hit {
    char chunk_id[LM_UUID_STRLEN + 1];
    char document_id[LM_UUID_STRLEN + 1];
    const char *id_at_origin;
    const char *document_name;
    lm_doc_type document_type;
    const char *content;
    const char *metadata;  /* chunk metadata, JSON object text */
    int rank;              /* 1-based position in the results */
    double score;          /* the score the results are ordered by */
    double text_score;     /* BM25 score of the keyword leg, or 0 when it did not match */
    int text_rank;         /* 1-based rank in the keyword leg, or 0 */
    double vector_score;   /* cosine similarity of the vector leg, or 0 */
    int vector_rank;       /* 1-based rank in the vector leg, or 0 */
    int chunk_level;
    int chunk_index;
    const char *document_metadata; /* document's metadata JSON (with_documents), else NULL */
    size_t n_context;              /* ancestors attached (include_parent_context) */
    const lm_chunk *context;       /* n_context chunks, nearest parent first; borrowed */
    const char *owner_id;          /* the tenant the hit belongs to */
} lm_hit;

typedef struct lm_results lm_results;

/**
 * Search the tenant's chunks.
 *
 * @param out   receives the results (possibly empty), freed with lm_results_free()
 * @param query 1-1000 bytes of UTF-8 in web-search syntax
 * @param opts  options or NULL
 * @return 0; LM_EINVAL (field names the argument) before any I/O; LM_ECONN, LM_EDB.
 *
 * Example:
 *     lm_search_opts o = LM_SEARCH_OPTS_INIT;
 *     lm_results *res = NULL;
 *     o.limit = 5;
 *     if (lm_search(&res, mem, "acme", "vacation policy -draft", &o) == 0) {
 *         for (size_t i = 0; i < lm_results_count(res); i++)
 *             printf("%.3f %s\n", lm_results_at(res, i)->score, lm_results_at(res, i)->content);
 *     }
 *     lm_results_free(res);
 */
LM_EXTERN int lm_search(lm_results **out,
                        lm_memory *mem,
                        const char *owner_id,
                        const char *query,
                        const lm_search_opts *opts);
LM_EXTERN size_t lm_results_count(const lm_results *res);
/** Result @p i (0-based), or NULL when out of range. Borrowed from @p res. */
LM_EXTERN const lm_hit *lm_results_at(const lm_results *res, size_t i);
/** Server-side time the search took, in milliseconds. */
LM_EXTERN double lm_results_elapsed_ms(const lm_results *res);
LM_EXTERN void lm_results_free(lm_results *res);

/** One recorded search. */
typedef struct lm_history_entry {
    char search_id[LM_UUID_STRLEN + 1];
    const char *query;
    lm_search_type type;
    const char *filters;   /* JSON object of the filters used */
    int result_count;
    double latency_ms;
    const char *created_at; /* ISO 8601 UTC */
} lm_history_entry;

typedef struct lm_history lm_history;

/**
 * The tenant's most recent searches, newest first.
 * @param limit 1..max limit
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_history_list(lm_history **out, lm_memory *mem, const char *owner_id, int limit);
LM_EXTERN size_t lm_history_count(const lm_history *h);
LM_EXTERN const lm_history_entry *lm_history_at(const lm_history *h, size_t i);
LM_EXTERN void lm_history_free(lm_history *h);

LM_END_DECL

#endif

/*
 * api/memory.h: the lm_memory handle shared by the api/ entry points.
 */
#ifndef LM_API_MEMORY_H
#define LM_API_MEMORY_H

#include "db/db.h"
#include "search/search.h"
#include "search/vector.h"

/* Default hybrid weight (vector share). With the built-in (lexical) embedder it was chosen on
 * SciFact's train queries for hash-v2 (docs/embeddings.md): its vectors mostly repeat what BM25
 * already knows, and every larger alpha scored below text search alone, so they only reorder
 * the deep ranks and add documents that the keyword leg missed. Other providers keep 0.5. */
#define LM__HYBRID_ALPHA_BUILTIN 0.01
/* With the local encoder (all-MiniLM-L6-v2, the default when installed), chosen the same way on
 * SciFact's train queries (docs/eval.md). */
#define LM__HYBRID_ALPHA_LOCAL   0.4
#define LM__HYBRID_ALPHA_DEFAULT 0.5
#define LM__RRF_K_DEFAULT        60

/* SQL text giving a timestamptz column as ISO 8601 UTC ("2024-05-01T10:00:00.000000Z"). */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

struct lm_memory {
    lm__db db;
    size_t max_content_bytes;
    int max_limit;
    int history;             /* record searches */
    int sql_functions;       /* call the tenant functions of 060_tenant_functions.sql (one round
                                trip an operation); 0 with $LLMEMORY_SQL_FUNCTIONS=off or
                                LLMEMORY_RLS=off: the statements, in a tenant transaction */
    char text_config[128];   /* default text search configuration */
    lm__bm25_params bm25;
    lm__vec_cfg vec;         /* vec.embedder NULL: no vector search */
    lm__vindex_bg vindex_bg; /* builds tenants' vector indexes off the request path */
    int own_embedder;        /* the memory created vec.embedder and frees it */
    int embed_mode;          /* LM_EMBED_SYNC or LM_EMBED_QUEUE */
    lm_rerank_cb rerank_fn;
    void *rerank_payload;
    int64_t quota_default[4]; /* documents, chunks, bytes, vectors; -1: none */
    double rate[2];           /* adds, searches a second; 0: none */
    double rate_burst_s;
    struct lm__buckets *buckets; /* NULL when no rate is set */
};

enum { LM__RATE_ADDS = 0, LM__RATE_SEARCHES = 1 };
/* Take a token of @p kind for the tenant: 0, or LM_ELIMIT (field "rate_adds"/"rate_searches",
   lm_rate_retry_after() set). */
int lm__rate_take(lm_memory *mem, int kind, const char *owner_id);
/* Set up / free the buckets at open / close (api/quota.c). */
int lm__rate_init(lm_memory *mem);
void lm__rate_dispose(lm_memory *mem);

/* Storage usage of a tenant (api/quota.c): documents, chunks, bytes, vectors. */
typedef struct lm__usage {
    int64_t v[4];
} lm__usage;
/* Read the tenant's usage inside @p tx. */
int lm__usage_read(lm__usage *out, lm_memory *mem, lm__tx *tx, const char *owner_id);
/* After a write inside @p tx (the tenant's writer lock held): LM_ELIMIT when a kind of usage
   grew past its limit (from @p before); the caller rolls back, so nothing is written. */
int lm__quota_check(lm_memory *mem, lm__tx *tx, const char *owner_id, const lm__usage *before);

/* Audit records (api/audit.c), with the thread's lm_audit_context_set() actor and source.
 * In @p tx (written with the action, or not at all); @p detail is a JSON object text or NULL. */
int lm__audit_in_tx(lm_memory *mem, lm__tx *tx, const char *owner_id, const char *action,
                    const char *outcome, const char *detail);
/* In a transaction of its own, after the action; a failure to write is logged. Keeps
 * lm_error_last() as it was (a failed action's error is what the caller reports). */
void lm__audit(lm_memory *mem, const char *owner_id, const char *action, const char *outcome,
               const char *detail);

#endif

/*
 * llmemory/ingest.h: bulk ingest. Many documents of one tenant in one call and one transaction,
 * their chunks (and vectors) streamed to the server with COPY instead of one statement per
 * document. Keyword statistics, quotas and usage stay exact, as with lm_doc_add().
 *
 * Threads: like lm_doc_add(); batches of different tenants run in parallel, batches of one
 * tenant one after the other (the tenant's writer lock).
 */
#ifndef LLMEMORY_INGEST_H
#define LLMEMORY_INGEST_H

#include "common.h"
#include "doc.h"
#include "store.h"

LM_BEGIN_DECL

/** One document of a batch. Every pointer is borrowed for the duration of the call. */
typedef struct lm_doc_input {
    const char *id_at_origin; /* as lm_doc_add(): the tenant's key, unique within the batch */
    const char *name;
    lm_doc_type type;
    const char *content;
    size_t content_len;
    const lm_doc_add_opts *opts; /* NULL: defaults */
} lm_doc_input;

/** Most documents one lm_doc_add_batch() call takes. */
#define LM_DOC_BATCH_MAX 10000

/**
 * Add (or re-index, by id at origin) @p n_docs documents of one tenant, all or nothing: the
 * whole batch is one transaction, and on any error nothing of it is written. Each document is
 * handled exactly as lm_doc_add() would (same validation, chunking, NUL stripping, embedding in
 * sync mode or queueing in queue mode, re-indexing of an existing id at origin); the chunks,
 * their keyword postings and their vectors are loaded with COPY through a staging table of the
 * session. Quotas are checked once for the batch, after the writes: a batch that would pass a
 * limit is refused whole (LM_ELIMIT), also when its first documents alone would fit. The
 * staging table is a temporary table of the connection: the role tenant work runs as needs the
 * TEMPORARY privilege on the database (PostgreSQL grants it to PUBLIC by default).
 *
 * @param results   array of @p n_docs entries filled in document order, or NULL; on error its
 *                  contents are unspecified; elapsed_ms is the whole batch's
 * @param failed    receives the index of the document the error is about, or @p n_docs when
 *                  the error concerns the batch as a whole (database, quota, rate); may be NULL
 * @param owner_id  tenant, as lm_doc_add()
 * @param docs      @p n_docs documents (1 .. LM_DOC_BATCH_MAX); an id at origin may appear
 *                  only once in a batch
 * @return 0; LM_EINVAL before any I/O (lm_error_last()->field names the argument, the message
 *         the document's position and id); LM_ELIMIT (quota or rate); LM_ECONN, LM_EDB,
 *         LM_ERETRY from the database.
 *
 * Example:
 *     lm_doc_input d[2] = {{"a", "A", LM_DOC_TEXT, ta, strlen(ta), NULL},
 *                          {"b", "B", LM_DOC_TEXT, tb, strlen(tb), NULL}};
 *     size_t bad;
 *     if (lm_doc_add_batch(NULL, &bad, mem, "acme", d, 2) < 0)
 *         fprintf(stderr, "document %zu: %s\n", bad, lm_error_last()->message);
 */
LM_EXTERN int lm_doc_add_batch(lm_doc_add_result *results,
                               size_t *failed,
                               lm_memory *mem,
                               const char *owner_id,
                               const lm_doc_input *docs,
                               size_t n_docs);

LM_END_DECL

#endif

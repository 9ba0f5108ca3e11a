/*
 * llmemory/doc.h: documents of one tenant: add (upsert + re-index), get, list, delete and
 * statistics. Every call takes the tenant (owner_id) explicitly; another tenant's document is
 * indistinguishable from a missing one.
 *
 * Threads: every function here may be called from several threads on one lm_memory (calls take a
 * connection from the memory's pool). Results are read-only once returned and may be shared.
 */
#ifndef LLMEMORY_DOC_H
#define LLMEMORY_DOC_H

#include "common.h"
#include "store.h"

LM_BEGIN_DECL

/** The 14 document types of llmemory. The type chooses chunk sizes and the chunker. */
typedef enum lm_doc_type {
    LM_DOC_PDF = 0,
    LM_DOC_MARKDOWN,
    LM_DOC_CODE,
    LM_DOC_TEXT,
    LM_DOC_HTML,
    LM_DOC_DOCX,
    LM_DOC_EMAIL,
    LM_DOC_REPORT,
    LM_DOC_CHAT,
    LM_DOC_PRESENTATION,
    LM_DOC_LEGAL_DOCUMENT,
    LM_DOC_TECHNICAL_DOC,
    LM_DOC_BUSINESS_REPORT,
    LM_DOC_UNKNOWN,
    LM_DOC_TYPE_COUNT
} lm_doc_type;

/** Lower-case name of @p type ("legal_document"); "unknown" for out-of-range values. */
LM_EXTERN const char *lm_doc_type_name(lm_doc_type type);
/**
 * Parse a type name (case-insensitive) into @p out.
 * @return 0, or LM_EINVAL (field "document_type") for an unrecognized name.
 */
LM_EXTERN int lm_doc_type_parse(lm_doc_type *out, const char *name);

/** How a document is split. HIERARCHICAL is llmemory's default; email and chat always use their
 *  own structure-aware splitters. */
typedef enum lm_chunk_strategy {
    LM_CHUNK_HIERARCHICAL = 0, /* parent/child token windows, sizes per document type */
    LM_CHUNK_SEMANTIC = 1      /* markdown by headings, email parts, chat messages, sentences */
} lm_chunk_strategy;

/** Options of lm_doc_add(). NULL means all defaults. */
typedef struct lm_doc_add_opts {
    unsigned int version;
    const char *document_date; /* ISO 8601 date or timestamp ("2024-05-01", "2024-05-01T10:00:00Z"), or NULL */
    const char *metadata;      /* JSON object text (<= 64 KiB, depth <= 10), or NULL for {} */
    const char *text_config;   /* PostgreSQL text search configuration for this document, or NULL
                                  for the memory's default ("english") */
    lm_chunk_strategy strategy;
} lm_doc_add_opts;

#define LM_DOC_ADD_OPTS_VERSION 1
#define LM_DOC_ADD_OPTS_INIT    {LM_DOC_ADD_OPTS_VERSION, NULL, NULL, NULL, LM_CHUNK_HIERARCHICAL}
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_doc_add_opts_init(lm_doc_add_opts *opts, unsigned int version);

/** What lm_doc_add() did. Filled by the call (caller-allocated). */
typedef struct lm_doc_add_result {
    char document_id[LM_UUID_STRLEN + 1];
    int created;         /* 1: new document; 0: an existing one was re-indexed */
    int chunk_count;     /* chunks stored */
    double elapsed_ms;   /* wall time of the whole call */
    int embedded;        /* chunks embedded during the call */
    int queued;          /* chunks left in the embedding queue (queue mode, or embedding failed) */
} lm_doc_add_result;

/**
 * Add a document, or re-index the tenant's document with the same @p id_at_origin.
 *
 * The document row is upserted on (owner_id, id_at_origin), keeping its document_id; its old
 * chunks are replaced by the new ones and the tenant's search statistics updated, all in one
 * transaction: on any error nothing changes. NUL bytes are stripped from the content.
 *
 * @param out          receives the document id and counts; may be NULL
 * @param owner_id     tenant: 1-255 bytes of [A-Za-z0-9_.-], optionally in '/'-separated segments
 * @param id_at_origin document key within the tenant: 1-255 bytes of [A-Za-z0-9_.@|:/-]
 * @param name         1-500 bytes
 * @param content      UTF-8 text of @p content_len bytes (at most the memory's content limit,
 *                     10 MiB by default); invalid UTF-8 is rejected
 * @return 0; LM_EINVAL (lm_error_last()->field names the argument) before any I/O;
 *         LM_ECONN, LM_EDB, LM_ERETRY from the database.
 *
 * Example:
 *     lm_doc_add_result r;
 *     if (lm_doc_add(&r, mem, "acme", "handbook-1", "Handbook", LM_DOC_MARKDOWN,
 *                    text, strlen(text), NULL) < 0)
 *         fprintf(stderr, "%s\n", lm_error_last()->message);
 */
LM_EXTERN int lm_doc_add(lm_doc_add_result *out,
                         lm_memory *mem,
                         const char *owner_id,
                         const char *id_at_origin,
                         const char *name,
                         lm_doc_type type,
                         const char *content,
                         size_t content_len,
                         const lm_doc_add_opts *opts);

/** A stored document. Strings are borrowed from the object that returned it. */
typedef struct lm_document {
    char document_id[LM_UUID_STRLEN + 1];
    const char *owner_id;
    const char *id_at_origin;
    lm_doc_type type;
    const char *name;
    const char *document_date; /* ISO 8601 UTC, or NULL when the document has none */
    const char *metadata;      /* JSON object text, never NULL */
    const char *text_config;   /* text search configuration used for the document */
    const char *created_at;    /* ISO 8601 UTC */
    const char *updated_at;    /* ISO 8601 UTC */
    int64_t chunk_count;
    int64_t content_bytes;     /* bytes of content after NUL stripping */
} lm_document;

/** A stored chunk. Strings are borrowed from the lm_doc that returned it. */
typedef struct lm_chunk {
    char chunk_id[LM_UUID_STRLEN + 1];
    char parent_chunk_id[LM_UUID_STRLEN + 1]; /* "" when the chunk has no parent */
    int chunk_index;  /* position in document order */
    int chunk_level;  /* 2 parent, 1 child, 0 flat (see docs/chunking.md) */
    int searchable;   /* 1 when keyword/vector search indexes the chunk */
    int token_count;
    const char *content;
    const char *content_hash; /* SHA-256 of the content, hex */
    const char *metadata;     /* JSON object text */
} lm_chunk;

typedef struct lm_doc lm_doc;

/**
 * Fetch one of the tenant's documents, optionally with its chunks (in document order).
 * @param out receives a new lm_doc, freed with lm_doc_free()
 * @return 0; LM_ENOTFOUND when the tenant has no such document (including when another tenant
 *         has it); LM_EINVAL for a malformed owner_id or document id; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_doc_get(lm_doc **out,
                         lm_memory *mem,
                         const char *owner_id,
                         const char *document_id,
                         int with_chunks);
/**
 * Fetch one of the tenant's documents by its id at origin (the tenant's own key for it, as given
 * to lm_doc_add()), optionally with its chunks. Like lm_doc_get() otherwise.
 * @param out receives a new lm_doc, freed with lm_doc_free()
 * @return 0; LM_ENOTFOUND when the tenant has no document with this id at origin (including when
 *         another tenant has one); LM_EINVAL for a malformed owner_id or id_at_origin; LM_ECONN,
 *         LM_EDB.
 */
LM_EXTERN int lm_doc_get_by_origin(lm_doc **out,
                                   lm_memory *mem,
                                   const char *owner_id,
                                   const char *id_at_origin,
                                   int with_chunks);
/** The document of @p doc. Borrowed; valid until lm_doc_free(@p doc). */
LM_EXTERN const lm_document *lm_doc_document(const lm_doc *doc);
/** Number of chunks fetched (0 unless lm_doc_get() was asked for them). */
LM_EXTERN size_t lm_doc_chunk_count(const lm_doc *doc);
/** Chunk @p i (0-based), or NULL when out of range. Borrowed from @p doc. */
LM_EXTERN const lm_chunk *lm_doc_chunk_at(const lm_doc *doc, size_t i);
/** Release @p doc. NULL-safe. */
LM_EXTERN void lm_doc_free(lm_doc *doc);

/** Sort key of lm_doc_list(). */
typedef enum lm_doc_order {
    LM_ORDER_CREATED_AT = 0,
    LM_ORDER_UPDATED_AT,
    LM_ORDER_DOCUMENT_NAME
} lm_doc_order;

/** Options of lm_doc_list(). NULL means defaults (20 newest first). */
typedef struct lm_doc_list_opts {
    unsigned int version;
    int limit;               /* 0..max limit (100 by default); default 20 */
    int64_t offset;          /* >= 0 */
    lm_doc_order order_by;
    int ascending;           /* 0: descending (default) */
    int has_type;            /* 1: only documents of @c type */
    lm_doc_type type;
    const char *metadata_filter; /* JSON object: documents whose metadata contains it, or NULL */
    /* 1: also the documents of every sub-tenant "<owner_id>/..." in the same order and page
       (lm_document.owner_id says whose); the caller decides whether that is allowed. */
    int include_subtenants;
} lm_doc_list_opts;

#define LM_DOC_LIST_OPTS_VERSION 1
#define LM_DOC_LIST_OPTS_INIT    {LM_DOC_LIST_OPTS_VERSION, 20, 0, LM_ORDER_CREATED_AT, 0, 0, LM_DOC_UNKNOWN, NULL, 0}
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_doc_list_opts_init(lm_doc_list_opts *opts, unsigned int version);

typedef struct lm_doc_page lm_doc_page;

/**
 * One page of the tenant's documents, and the total number that match the filters.
 * @param out receives the page, freed with lm_doc_page_free()
 * Ties in the sort key are broken by document id, so pages never overlap.
 * @return 0; LM_EINVAL (field names the option); LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_doc_list(lm_doc_page **out,
                          lm_memory *mem,
                          const char *owner_id,
                          const lm_doc_list_opts *opts);
LM_EXTERN size_t lm_doc_page_count(const lm_doc_page *page);
/** Total number of matching documents, ignoring limit and offset. */
LM_EXTERN int64_t lm_doc_page_total(const lm_doc_page *page);
/** Document @p i of the page, or NULL when out of range. Borrowed from @p page. */
LM_EXTERN const lm_document *lm_doc_page_at(const lm_doc_page *page, size_t i);
/** Release @p page. NULL-safe. */
LM_EXTERN void lm_doc_page_free(lm_doc_page *page);

/** The ids a delete removed (caller-owned). */
typedef struct lm_id_list lm_id_list;
LM_EXTERN size_t lm_id_list_count(const lm_id_list *ids);
/** Id @p i, or NULL when out of range. Borrowed from @p ids. */
LM_EXTERN const char *lm_id_list_at(const lm_id_list *ids, size_t i);
LM_EXTERN void lm_id_list_free(lm_id_list *ids);

/**
 * Delete the tenant's documents by id, or (when @p n_ids is 0) those whose metadata contains
 * @p metadata_filter. Ids the tenant does not own are skipped exactly like missing ones.
 * Chunks, search statistics and queued work go with the documents, in one transaction.
 * @param out receives the ids actually deleted (possibly none); may be NULL
 * @return 0; LM_EINVAL when neither ids nor a filter is given, or one is malformed; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_doc_delete(lm_id_list **out,
                            lm_memory *mem,
                            const char *owner_id,
                            const char *const *document_ids,
                            size_t n_ids,
                            const char *metadata_filter);

/**
 * lm_doc_delete by ids, restricted to the documents whose id_at_origin is @p id_at_origin (what
 * a credential bound to one origin may delete). Ids of other origins are skipped exactly like
 * missing ones. One statement in one transaction, however many ids.
 * @return 0; LM_EINVAL (no ids, more than 10000, a malformed id or origin); LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_doc_delete_at_origin(lm_id_list **out,
                                      lm_memory *mem,
                                      const char *owner_id,
                                      const char *id_at_origin,
                                      const char *const *document_ids,
                                      size_t n_ids);

/** Per-tenant statistics (caller-allocated). */
typedef struct lm_stats {
    int64_t document_count;
    int64_t chunk_count;
    int64_t total_bytes;                    /* content bytes of all documents */
    int64_t by_type[LM_DOC_TYPE_COUNT];     /* documents per lm_doc_type */
    char first_created[40];                 /* ISO 8601 UTC, "" when the tenant has none */
    char last_created[40];
} lm_stats;

/** Fill @p out with the tenant's statistics. @return 0; LM_EINVAL; LM_ECONN, LM_EDB. */
LM_EXTERN int lm_stats_get(lm_stats *out, lm_memory *mem, const char *owner_id);

/** What lm_tenant_erase_report() removed, per kind (caller-allocated). */
typedef struct lm_erase_report {
    int64_t documents;
    int64_t chunks;
    int64_t vectors;        /* stored embeddings, all providers */
    int64_t queue_entries;  /* embedding queue entries */
    int64_t postings;       /* keyword index postings */
    int64_t terms;          /* keyword statistics: per-term document frequencies */
    int64_t history;        /* recorded searches */
    int64_t vector_indexes; /* the tenant's own HNSW indexes (dropped) */
    int64_t api_keys;       /* API keys of the tenant (revoked or not) */
    int64_t other_rows;     /* rows of any other table with an owner_id column */
} lm_erase_report;

/**
 * Erase every trace of the tenant: documents, chunks, vectors, embedding queue entries, keyword
 * statistics and postings, search history, its own vector indexes, its API keys, quota and usage
 * rows, and the rows of every other table of the schema that has an owner_id column (found in
 * the catalog, so a table added later is erased too). Sub-tenants ("acme/x" of "acme") are
 * separate tenants and stay. The audit log keeps one record of the tenant: this erasure's, with
 * the counts.
 *
 * First the tenant is marked erased (one small transaction): from then on it is invisible to
 * every call (reads find nothing, writes fail with LM_ECONFLICT, its keys no longer
 * authenticate). Then its rows are deleted in small transactions, here on the calling thread;
 * the call returns when nothing is left and the owner id may be used again. A cleanup cut short
 * (a crash) resumes from the mark: lm_erasure_resume(), lm_erasure_run().
 *
 * @param out receives the counts per kind; may be NULL
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_tenant_erase_report(lm_erase_report *out, lm_memory *mem, const char *owner_id);

/**
 * lm_tenant_erase_report() reporting only the number of documents removed.
 * @param documents_out number of documents removed; may be NULL
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_tenant_erase(int64_t *documents_out, lm_memory *mem, const char *owner_id);

/**
 * Mark the tenant erased and return: it is invisible to every call when this returns, and its
 * rows are deleted by a background thread of @p mem in small batches, pausing between them so
 * other tenants are not slowed. Until that cleanup has finished, writes to the tenant fail with
 * LM_ECONFLICT. Erasing a tenant already marked does nothing more.
 *
 * @param out receives documents, chunks (from the tenant's usage) and api_keys (removed at
 *            once); the other counts are 0 (the erasure record gets them all at the end).
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB; LM_ERROR when no thread could be started (the mark
 *         stands: lm_erasure_run() finishes it).
 */
LM_EXTERN int lm_tenant_erase_start(lm_erase_report *out, lm_memory *mem, const char *owner_id);
/** Number of tenants marked erased whose cleanup has not finished (of every tenant: for
 *  operators). @return 0; LM_ECONN, LM_EDB. */
LM_EXTERN int lm_erasure_pending(int64_t *out, lm_memory *mem);
/** Start the background cleanup of every pending erasure (after a crash or in a server at
 *  start). @p pending_out: how many there are; may be NULL. @return 0; LM_ECONN, LM_EDB. */
LM_EXTERN int lm_erasure_resume(int64_t *pending_out, lm_memory *mem);
/** Finish every pending erasure on the calling thread, without pauses. @p cleaned_out: how many
 *  finished; may be NULL. @return 0; LM_ECONN, LM_EDB. */
LM_EXTERN int lm_erasure_run(int64_t *cleaned_out, lm_memory *mem);
/** Wait until the memory's background cleanup has nothing left to do. NULL-safe. */
LM_EXTERN void lm_erasure_wait(lm_memory *mem);

LM_END_DECL

#endif

/*
 * chunk/chunk.h: splitting a document's text into chunks (no I/O, no database).
 *
 * Hierarchical: parent windows (level 2) split into child windows (level 1), sizes per document
 * type (llmemory's table, with its short/long document adjustments). Semantic: markdown by
 * headings, email into headers/body/quoted/signature, chat per message. Email and chat always use
 * their semantic splitters. See docs/chunking.md for the rules and the token counter.
 */
#ifndef LM_CHUNK_CHUNK_H
#define LM_CHUNK_CHUNK_H

#include <stddef.h>

#include "llmemory/doc.h"

typedef struct lm__chunk {
    char *content;     /* heap copy, NUL-terminated, valid UTF-8 */
    size_t len;        /* bytes of content */
    int level;         /* llmemory's chunk_level: 2 parent, 1 child, 0 flat; 6 - heading level
                          for markdown sections (docs/chunking.md) */
    int parent;        /* index (into the list) of the parent chunk, or -1 */
    int searchable;    /* 0 when the content is fully covered by the chunk's children */
    int token_count;   /* lm__token_count(content) */
    size_t start, end; /* byte offsets of the content in the document text */
    const char *kind;  /* static string: "parent", "child", "section", "email_headers", ... */
    char *meta_json;   /* extra chunk metadata as JSON object text (heap), or NULL */
} lm__chunk;

typedef struct lm__chunk_list {
    lm__chunk *items; /* document order: a parent precedes its children */
    size_t count;
    size_t cap;
} lm__chunk_list;

/* Sizes in tokens for one document (after the length adjustments). */
typedef struct lm__chunk_sizes {
    int parent, child, overlap, child_overlap;
} lm__chunk_sizes;

/* llmemory's per-type sizes, adjusted for @p text_len bytes (< 1000: halved; > 50000: larger). */
lm__chunk_sizes lm__chunk_sizes_for(lm_doc_type type, size_t text_len);

/*
 * Split @p text (@p len bytes of valid UTF-8) into @p out (initialised by the caller with
 * {0}). Empty or whitespace-only text gives no chunks. Chunks never cut inside a UTF-8 sequence.
 * Returns 0 or LM_ENOMEM; on error @p out is left empty.
 */
int lm__chunk_document(lm__chunk_list *out,
                       const char *text,
                       size_t len,
                       lm_doc_type type,
                       lm_chunk_strategy strategy);

void lm__chunk_list_dispose(lm__chunk_list *list);

/* Number of tokens in @p s, by the documented approximation of cl100k_base (docs/chunking.md). */
int lm__token_count(const char *s, size_t len);

/*
 * Byte offset in @p s after its first @p n tokens (same approximation), or @p len when @p s has
 * no more than @p n tokens: the end of the last pre-tokenizer piece that fits in @p n tokens, so
 * words are not split; when even the first piece is longer (a long word), the token is mapped
 * proportionally onto that piece's bytes. The offset never falls inside a UTF-8 sequence, and is
 * > 0 whenever @p n > 0 and @p len > 0, so windows always make progress.
 */
size_t lm__token_offset(const char *s, size_t len, int n);

#endif

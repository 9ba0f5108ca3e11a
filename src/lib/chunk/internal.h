/*
 * chunk/internal.h: helpers shared by the chunk module's files (list building, token windows and
 * boundary-preferring cuts). Not used outside src/lib/chunk; the module's interface is chunk.h.
 */
#ifndef LM_CHUNK_INTERNAL_H
#define LM_CHUNK_INTERNAL_H

#include <stddef.h>

#include "chunk.h"

/* A byte range [start, end) of the document text. */
typedef struct lm__chunk_span {
    size_t start, end;
} lm__chunk_span;

typedef struct lm__chunk_spans {
    lm__chunk_span *items;
    size_t count;
    size_t cap;
} lm__chunk_spans;

void lm__chunk_spans_dispose(lm__chunk_spans *spans);

/*
 * Append text[start, end), trimmed of ASCII whitespace, to @p list as one chunk (searchable,
 * token_count filled). *index_out receives its index, or -1 when nothing is left after trimming
 * (then nothing is added). @p meta_json is taken: stored, or freed when the chunk is skipped or
 * on error. Returns 0 or LM_ENOMEM.
 */
int lm__chunk_push(int *index_out,
                   lm__chunk_list *list,
                   const char *text,
                   size_t start,
                   size_t end,
                   const char *kind,
                   int level,
                   int parent,
                   char *meta_json);

/*
 * Same for synthesized content (not a substring of the text): @p content (heap, @p len bytes,
 * NUL-terminated) and @p meta_json are taken in every case. @p start/@p end give the span of the
 * text the content was made from.
 */
int lm__chunk_push_take(int *index_out,
                        lm__chunk_list *list,
                        char *content,
                        size_t len,
                        size_t start,
                        size_t end,
                        const char *kind,
                        int level,
                        int parent,
                        char *meta_json);

/* Remove the last chunk of @p list (used to drop a child identical to its parent). */
void lm__chunk_pop(lm__chunk_list *list);

/*
 * Token windows over text[start, end) of at most @p size tokens, consecutive windows sharing about
 * @p overlap tokens, each cut at the best boundary (docs/chunking.md). With @p pack set, the
 * sentence-level search covers the whole window (greedy sentence packing) instead of its last
 * 20%. The last window ends at @p end; no window is contained in the previous one. Appends to
 * @p out; returns 0 or LM_ENOMEM.
 */
int lm__chunk_windows(lm__chunk_spans *out,
                      const char *text,
                      size_t start,
                      size_t end,
                      int size,
                      int overlap,
                      int pack);

/* Splitters (hierarchical in split.c, the structure-aware ones in semantic.c). */
int lm__chunk_hierarchical(lm__chunk_list *out,
                           const char *text,
                           size_t len,
                           lm__chunk_sizes sizes);
int lm__chunk_markdown(lm__chunk_list *out, const char *text, size_t len, int max_tokens);
int lm__chunk_email(lm__chunk_list *out, const char *text, size_t len);
int lm__chunk_chat(lm__chunk_list *out, const char *text, size_t len);
int lm__chunk_sentences(lm__chunk_list *out, const char *text, size_t len, int max_tokens);

#endif

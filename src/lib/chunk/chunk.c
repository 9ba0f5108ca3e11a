/*
 * chunk/chunk.c: lm__chunk_document, which picks the splitter for a document's type and
 * strategy. The splitters live in split.c (hierarchical windows) and semantic.c (markdown,
 * email, chat, sentences); the chunk list they fill is built by list.c.
 */
#include "internal.h"

/* Sentence packing size of the semantic strategy for types without structure (llmemory's
 * _create_text_chunks(text, 300)). */
#define SEMANTIC_TEXT_TOKENS 300

int lm__chunk_document(
    lm__chunk_list *out, const char *text, size_t len, lm_doc_type type, lm_chunk_strategy strategy)
{
    int rc;
    lm__chunk_sizes sizes = lm__chunk_sizes_for(type, len);

    if (type == LM_DOC_EMAIL)
        rc = lm__chunk_email(out, text, len);
    else if (type == LM_DOC_CHAT)
        rc = lm__chunk_chat(out, text, len);
    else if (strategy == LM_CHUNK_SEMANTIC && type == LM_DOC_MARKDOWN)
        rc = lm__chunk_markdown(out, text, len, sizes.child);
    else if (strategy == LM_CHUNK_SEMANTIC)
        rc = lm__chunk_sentences(out, text, len, SEMANTIC_TEXT_TOKENS);
    else
        rc = lm__chunk_hierarchical(out, text, len, sizes);
    if (rc < 0)
        lm__chunk_list_dispose(out);
    return rc;
}

/*
 * tests/fuzz/chunk.c: the chunkers. The first byte chooses the document type (markdown, email
 * and chat have their own semantic splitters; the others the hierarchical windows), the second
 * the strategy; the rest is the document. Like lm_doc_add, NUL bytes are dropped and text that
 * is not valid UTF-8 is refused before chunking. Every chunk must be valid UTF-8 and lie inside
 * the document, and a parent must come before its children.
 */
#include "fuzz.h"
#include "chunk/chunk.h"
#include "llmemory.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lm__chunk_list list = {0};
    lm_doc_type type;
    lm_chunk_strategy strategy;
    char *text;
    size_t len = 0;

    if (size < 2)
        return 0;
    type = (lm_doc_type)(data[0] % LM_DOC_TYPE_COUNT);
    strategy = (data[1] & 1) ? LM_CHUNK_SEMANTIC : LM_CHUNK_HIERARCHICAL;
    text = malloc(size - 2 + 1);
    if (text == NULL)
        return 0;
    for (size_t i = 2; i < size; i++)
        if (data[i] != '\0')
            text[len++] = (char)data[i];
    text[len] = '\0';
    if (!lm__utf8_valid(text, len)) {
        free(text);
        return 0;
    }
    if (lm__chunk_document(&list, text, len, type, strategy) == 0) {
        for (size_t i = 0; i < list.count; i++) {
            const lm__chunk *c = &list.items[i];
            if (!lm__utf8_valid(c->content, c->len) || strlen(c->content) != c->len ||
                c->start > c->end || c->end > len || c->parent >= (int)i || c->parent < -1 ||
                c->kind == NULL)
                abort();
        }
        (void)lm__token_count(text, len);
    }
    lm__chunk_list_dispose(&list);
    free(text);
    return 0;
}

/*
 * chunk/list.c: the chunk list and span list (building, disposal). The bottom of the chunk
 * module: the splitters (split.c, semantic.c) and the dispatcher (chunk.c) build on it, and it
 * depends on none of them.
 */
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "internal.h"

/* Bytes the chunker treats as whitespace when trimming chunk content. */
static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int reserve(lm__chunk_list *list)
{
    if (list->count < list->cap)
        return 0;
    size_t cap = list->cap ? list->cap * 2 : 16;
    lm__chunk *p = lm__realloc(list->items, cap * sizeof(*p));
    if (p == NULL)
        return LM_ENOMEM;
    list->items = p;
    list->cap = cap;
    return 0;
}

int lm__chunk_push_take(int *index_out,
                        lm__chunk_list *list,
                        char *content,
                        size_t len,
                        size_t start,
                        size_t end,
                        const char *kind,
                        int level,
                        int parent,
                        char *meta_json)
{
    *index_out = -1;
    if (reserve(list) < 0) {
        lm__free(content);
        lm__free(meta_json);
        return LM_ENOMEM;
    }
    lm__chunk *c = &list->items[list->count];
    c->content = content;
    c->len = len;
    c->level = level;
    c->parent = parent;
    c->searchable = 1;
    c->token_count = lm__token_count(content, len);
    c->start = start;
    c->end = end;
    c->kind = kind;
    c->meta_json = meta_json;
    *index_out = (int)list->count++;
    return 0;
}

int lm__chunk_push(int *index_out,
                   lm__chunk_list *list,
                   const char *text,
                   size_t start,
                   size_t end,
                   const char *kind,
                   int level,
                   int parent,
                   char *meta_json)
{
    *index_out = -1;
    while (start < end && is_ws(text[start]))
        start++;
    while (end > start && is_ws(text[end - 1]))
        end--;
    if (start == end) {
        lm__free(meta_json);
        return 0;
    }
    char *content = lm__strndup(text + start, end - start);
    if (content == NULL) {
        lm__free(meta_json);
        return LM_ENOMEM;
    }
    return lm__chunk_push_take(index_out, list, content, end - start, start, end, kind, level,
                               parent, meta_json);
}

void lm__chunk_pop(lm__chunk_list *list)
{
    if (list->count == 0)
        return;
    lm__chunk *c = &list->items[--list->count];
    lm__free(c->content);
    lm__free(c->meta_json);
    memset(c, 0, sizeof(*c));
}

void lm__chunk_list_dispose(lm__chunk_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++) {
        lm__free(list->items[i].content);
        lm__free(list->items[i].meta_json);
    }
    lm__free(list->items);
    list->items = NULL;
    list->count = list->cap = 0;
}

void lm__chunk_spans_dispose(lm__chunk_spans *spans)
{
    lm__free(spans->items);
    spans->items = NULL;
    spans->count = spans->cap = 0;
}

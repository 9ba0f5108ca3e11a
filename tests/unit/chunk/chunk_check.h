/*
 * tests/unit/chunk/chunk_check.h: invariants every chunk list must satisfy, shared by the chunk
 * module's unit tests (content is a trimmed, valid UTF-8 substring at start/end; token counts
 * filled; parents precede their children).
 */
#ifndef LM_TEST_CHUNK_CHECK_H
#define LM_TEST_CHUNK_CHECK_H

#include <string.h>

#include "chunk/chunk.h"
#include "runner.h"
#include "utf8.h"

static inline int chunk_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline void check_chunks(const lm__chunk_list *l, const char *text, size_t len)
{
    for (size_t i = 0; i < l->count; i++) {
        const lm__chunk *c = &l->items[i];
        ASSERT(c->content != NULL);
        ASSERT(c->len > 0);
        ASSERT_EQ_INT(strlen(c->content), c->len);
        ASSERT(lm__utf8_valid(c->content, c->len));
        ASSERT(!chunk_is_ws(c->content[0]));
        ASSERT(!chunk_is_ws(c->content[c->len - 1]));
        ASSERT(c->kind != NULL);
        ASSERT(c->start < c->end && c->end <= len);
        if (strcmp(c->kind, "chat_turn") != 0) {
            ASSERT_EQ_INT(c->end - c->start, c->len);
            ASSERT(memcmp(text + c->start, c->content, c->len) == 0);
        }
        ASSERT_EQ_INT(c->token_count, lm__token_count(c->content, c->len));
        ASSERT(c->token_count > 0);
        ASSERT(c->parent >= -1 && c->parent < (int)i);
        ASSERT(c->searchable == 0 || c->searchable == 1);
        ASSERT(c->level >= 0 && c->level <= 6);
    }
}

#endif

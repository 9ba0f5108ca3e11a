/*
 * http/arena.c: the per-request arena: a bump allocator over a chain of blocks, plus a list of
 * cleanups, all released at once when the request completes. Nothing allocated here may be kept
 * after the request (never store arena pointers in server-wide state).
 */
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BLOCK_BYTES ((size_t)8192)
#define ALIGN       (alignof(max_align_t))

struct srv_arena_block {
    srv_arena_block *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
};

struct srv_arena_cleanup {
    srv_arena_cleanup *next;
    void (*fn)(void *);
    void *p;
};

void srv_arena_init(srv_arena *a, size_t cap)
{
    memset(a, 0, sizeof(*a));
    a->cap = cap;
}

static srv_arena_block *new_block(srv_arena *a, size_t cap)
{
    srv_arena_block *b;

    if (cap > SIZE_MAX - sizeof(*b) || a->total + cap > a->cap)
        return NULL;
    b = malloc(sizeof(*b) + cap);
    if (b == NULL)
        return NULL;
    b->cap = cap;
    b->used = 0;
    a->total += cap;
    return b;
}

void *srv_arena_alloc(srv_arena *a, size_t n)
{
    srv_arena_block *b = a->blocks;
    size_t need;

    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ALIGN)
        return NULL;
    need = (n + ALIGN - 1) & ~(ALIGN - 1);
    if (b != NULL && b->cap - b->used >= need) {
        void *p = b->data + b->used;
        b->used += need;
        return p;
    }
    /* Large requests get a block of their own, behind the current one, so the current block's
       free space is not wasted. */
    if (need > BLOCK_BYTES / 4) {
        srv_arena_block *big = new_block(a, need);
        if (big == NULL)
            return NULL;
        big->used = need;
        if (b != NULL) {
            big->next = b->next;
            b->next = big;
        } else {
            big->next = NULL;
            a->blocks = big;
        }
        return big->data;
    }
    b = new_block(a, BLOCK_BYTES);
    if (b == NULL)
        return NULL;
    b->next = a->blocks;
    a->blocks = b;
    b->used = need;
    return b->data;
}

char *srv_arena_strndup(srv_arena *a, const char *s, size_t len)
{
    char *p;

    if (len == SIZE_MAX)
        return NULL;
    p = srv_arena_alloc(a, len + 1);
    if (p == NULL)
        return NULL;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *srv_arena_printf(srv_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    p = srv_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int srv_arena_defer(srv_arena *a, void (*fn)(void *), void *p)
{
    srv_arena_cleanup *c = srv_arena_alloc(a, sizeof(*c));

    if (c == NULL) {
        fn(p);
        return -1;
    }
    c->fn = fn;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

static void json_release(void *p)
{
    json_decref(p);
}

json_t *srv_arena_json(srv_arena *a, json_t *v)
{
    if (v == NULL)
        return NULL;
    return srv_arena_defer(a, json_release, v) == 0 ? v : NULL;
}

void srv_arena_dispose(srv_arena *a)
{
    /* Cleanups first: they may refer to arena memory. */
    for (srv_arena_cleanup *c = a->cleanups; c != NULL; c = c->next)
        c->fn(c->p);
    a->cleanups = NULL;
    for (srv_arena_block *b = a->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    a->blocks = NULL;
    a->total = 0;
}

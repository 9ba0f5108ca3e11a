/*
 * core/buf.c: growable NUL-terminated strings (lm_buf) with sticky out-of-memory state.
 */
#include "buf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

char lm_buf__initbuf[1];
static char oom_str[1];

void lm_buf_init(lm_buf *b)
{
    b->ptr = lm_buf__initbuf;
    b->size = 0;
    b->asize = 0;
}

void lm_buf_dispose(lm_buf *b)
{
    if (b == NULL)
        return;
    if (b->asize > 0)
        lm__free(b->ptr);
    lm_buf_init(b);
}

int lm__buf_oom(const lm_buf *b)
{
    if (b->ptr == oom_str) {
        lm__error_set_oom();
        return 1;
    }
    return 0;
}

int lm__buf_grow(lm_buf *b, size_t extra)
{
    if (b->ptr == oom_str)
        return LM_ENOMEM;
    size_t need = b->size + extra + 1;
    if (need <= b->asize)
        return 0;
    size_t n = b->asize ? b->asize : 64;
    while (n < need)
        n = n + n / 2 + 16;
    char *p = lm__realloc(b->asize ? b->ptr : NULL, n);
    if (p == NULL) {
        if (b->asize)
            lm__free(b->ptr);
        b->ptr = oom_str;
        b->size = b->asize = 0;
        return LM_ENOMEM;
    }
    if (b->asize == 0)
        p[0] = '\0';
    b->ptr = p;
    b->asize = n;
    return 0;
}

void lm__buf_put(lm_buf *b, const char *data, size_t len)
{
    if (lm__buf_grow(b, len) < 0)
        return;
    if (len)
        memcpy(b->ptr + b->size, data, len);
    b->size += len;
    b->ptr[b->size] = '\0';
}

void lm__buf_puts(lm_buf *b, const char *s)
{
    lm__buf_put(b, s, strlen(s));
}

void lm__buf_putc(lm_buf *b, char c)
{
    lm__buf_put(b, &c, 1);
}

void lm__buf_vprintf(lm_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0 || lm__buf_grow(b, (size_t)n) < 0)
        return;
    vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
    b->size += (size_t)n;
}

void lm__buf_printf(lm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lm__buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void lm__buf_clear(lm_buf *b)
{
    if (b->ptr == oom_str) {
        lm_buf_init(b);
        return;
    }
    b->size = 0;
    if (b->asize)
        b->ptr[0] = '\0';
}

void lm__buf_truncate(lm_buf *b, size_t len)
{
    if (b->asize && len < b->size) {
        b->size = len;
        b->ptr[len] = '\0';
    }
}

char *lm__buf_detach(lm_buf *b)
{
    if (b->ptr == oom_str) {
        lm_buf_init(b);
        lm__error_set_oom();
        return NULL;
    }
    char *p = b->asize ? b->ptr : lm__strdup("");
    lm_buf_init(b);
    return p;
}

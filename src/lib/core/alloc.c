/*
 * core/alloc.c: allocation seam with a fail-the-Nth-allocation hook for OOM tests. Failures set
 * LM_ENOMEM in the thread's error record; callers just return LM_ENOMEM.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static _Thread_local long fail_at;
static _Thread_local long alloc_count;

void lm__alloc_fail_at(long n)
{
    fail_at = n;
    alloc_count = 0;
}

long lm__alloc_count(void)
{
    return alloc_count;
}

static int should_fail(void)
{
    alloc_count++;
    if (fail_at > 0 && alloc_count == fail_at) {
        lm__error_set_oom();
        return 1;
    }
    return 0;
}

void *lm__malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        lm__error_set_oom();
    return p;
}

void *lm__calloc(size_t nmemb, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        lm__error_set_oom();
    return p;
}

void *lm__realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        lm__error_set_oom();
    return q;
}

void lm__free(void *p)
{
    free(p);
}

char *lm__strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *p = lm__malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *lm__strdup(const char *s)
{
    return s ? lm__strndup(s, strlen(s)) : NULL;
}

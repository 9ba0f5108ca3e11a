/*
 * core/alloc.h: the library's one allocation seam. Every allocation in src/lib goes through these
 * functions so that tests can make the Nth allocation fail (OOM torture). Raw malloc/free are
 * banned in src/lib (make lint checks).
 */
#ifndef LM_CORE_ALLOC_H
#define LM_CORE_ALLOC_H

#include <stddef.h>

void *lm__malloc(size_t n);
void *lm__calloc(size_t nmemb, size_t size);
void *lm__realloc(void *p, size_t n);
void lm__free(void *p);
/* Copies of strings; NULL on OOM (with LM_ENOMEM set). lm__strdup(NULL) returns NULL. */
char *lm__strdup(const char *s);
char *lm__strndup(const char *s, size_t n);

/* Test hook: make the @p n-th allocation from now fail (1 = the next one); 0 disables. */
void lm__alloc_fail_at(long n);
/* Number of allocations made since the hook was last armed. */
long lm__alloc_count(void);

#endif

/*
 * bench/python/cbench.c: the C side of the Python binding's overhead benchmark. Built as a small
 * shared library that overhead.py loads, so both sides drive the very same lm_memory (same
 * connections, same caches) in the same process, batch after batch. Each function times every
 * call with CLOCK_MONOTONIC and the whole batch's thread CPU time; the results are used exactly
 * as an application would (every hit's fields read, then freed).
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "llmemory.h"

static double ms(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int cbench_search(lm_memory *mem, const char *owner, const char *const *queries, size_t n,
                  int type, int limit, double *wall_ms, double *cpu_ms, size_t *hits);

int cbench_search(lm_memory *mem, const char *owner, const char *const *queries, size_t n,
                  int type, int limit, double *wall_ms, double *cpu_ms, size_t *hits)
{
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = (lm_search_type)type;
    o.limit = limit;
    double c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    size_t total = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        double t0 = ms(CLOCK_MONOTONIC);
        lm_results *r = NULL;
        int rc = lm_search(&r, mem, owner, queries[i], &o);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < lm_results_count(r); j++) {
            const lm_hit *h = lm_results_at(r, j);
            bytes += strlen(h->content) + strlen(h->metadata) + strlen(h->id_at_origin);
            total++;
        }
        lm_results_free(r);
        wall_ms[i] = ms(CLOCK_MONOTONIC) - t0;
    }
    *cpu_ms = ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    *hits = total + (bytes == 0);
    return 0;
}

int cbench_add(lm_memory *mem, const char *owner, const char *const *origins,
               const char *const *names, const char *const *contents, const char *metadata,
               size_t n, int type, double *wall_ms, double *cpu_ms);

int cbench_add(lm_memory *mem, const char *owner, const char *const *origins,
               const char *const *names, const char *const *contents, const char *metadata,
               size_t n, int type, double *wall_ms, double *cpu_ms)
{
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    o.metadata = metadata;
    double c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    for (size_t i = 0; i < n; i++) {
        double t0 = ms(CLOCK_MONOTONIC);
        lm_doc_add_result r;
        int rc = lm_doc_add(&r, mem, owner, origins[i], names[i], (lm_doc_type)type, contents[i],
                            strlen(contents[i]), &o);
        if (rc < 0)
            return rc;
        wall_ms[i] = ms(CLOCK_MONOTONIC) - t0;
    }
    *cpu_ms = ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    return 0;
}

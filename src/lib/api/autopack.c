/*
 * api/autopack.c: automatic background packing of the keyword postings index.
 *
 * Every chunk written adds one entry to each of its lexemes' posting lists, in the middle of the
 * index's key space, so page splits leave the index about half full and keyword search reads
 * more pages than it needs (docs/operations.md, "optimize"). lm_memory_optimize() rebuilds it
 * packed without blocking reads or writes. This file runs it without being asked: writers note
 * the chunks they committed, and once a memory has written at least the threshold (50,000 chunks
 * by default) and at least half as many as the schema's searchable chunks since the last
 * packing (the index has doubled), a background thread of the memory runs lm_memory_optimize().
 * A bulk load of any size is then packed at N, 2 N, 4 N, ... chunks: all the rebuilding costs
 * at most two builds of the final index, and at least half of the index is packed at any time.
 *
 * LLMEMORY_AUTO_OPTIMIZE: "off" (or 0) turns it off; a number sets the threshold in chunks.
 * Only this process's writes count; one optimizer runs per schema (its advisory lock), so
 * several processes never rebuild the index at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/memory.h"
#include "error.h"
#include "llmemory.h"
#include "prio.h"

#define AUTOPACK_DEFAULT_CHUNKS 50000

static void *autopack_main(void *arg)
{
    lm_memory *mem = arg;
    lm__autopack *ap = &mem->autopack;

    (void)lm__nice_background(lm__pool_bg_nice(&mem->db.pool)); /* core/prio.h */
    pthread_mutex_lock(&ap->mu);
    for (;;) {
        while (!ap->stop && ap->written < ap->threshold)
            pthread_cond_wait(&ap->cv, &ap->mu);
        if (ap->stop)
            break;
        int64_t written = ap->written;
        pthread_mutex_unlock(&ap->mu);

        /* Searchable chunks of the schema (the keyword statistics' own count). */
        int64_t total = -1;
        PGconn *c = NULL;
        if (lm__db_admin_acquire(&c, &mem->db) == 0) {
            PGresult *res = NULL;
            char sql[200];
            snprintf(sql, sizeof(sql), "SELECT coalesce(sum(chunk_count), 0) FROM %s.tenant_stats",
                     mem->db.qschema);
            if (lm__db_exec(&res, c, sql, 0, NULL) == 0 && PQntuples(res) == 1)
                total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            PQclear(res);
            lm__db_admin_release(&mem->db, c);
        }
        int pack = total >= 0 && written * 2 >= total;
        if (pack) {
            lm_optimize_report rep;
            if (lm_memory_optimize(mem, &rep) == 0)
                lm__db_log(&mem->db, LM_LOG_INFO,
                           "packed the keyword index after %lld chunks written: %lld -> %lld"
                           " pages in %.1f s",
                           (long long)written, rep.postings_pages_before,
                           rep.postings_pages_after, rep.elapsed_ms / 1000.0);
            else
                lm__db_log(&mem->db, LM_LOG_WARN, "automatic optimize failed: %s",
                           lm_error_last()->message);
            lm__error_clear();
        }

        pthread_mutex_lock(&ap->mu);
        /* Writes during the rebuild went into the new index as it was built: start over. A
           schema too large to pack yet keeps counting. */
        if (pack || total < 0)
            ap->written -= written;
        pthread_cond_broadcast(&ap->cv);
        if (!pack && !ap->stop) {
            /* Wait for more writes before asking again. */
            int64_t seen = ap->written;
            while (!ap->stop && ap->written < seen + ap->threshold)
                pthread_cond_wait(&ap->cv, &ap->mu);
        }
    }
    pthread_mutex_unlock(&ap->mu);
    return NULL;
}

void lm__autopack_init(lm_memory *mem)
{
    lm__autopack *ap = &mem->autopack;
    const char *v = getenv("LLMEMORY_AUTO_OPTIMIZE");
    memset(ap, 0, sizeof(*ap));
    pthread_mutex_init(&ap->mu, NULL);
    pthread_cond_init(&ap->cv, NULL);
    ap->threshold = AUTOPACK_DEFAULT_CHUNKS;
    if (v != NULL && v[0] != '\0') {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        if (strcmp(v, "off") == 0 || (end != v && *end == '\0' && n <= 0))
            ap->threshold = 0;
        else if (end != v && *end == '\0')
            ap->threshold = n;
        else
            lm__db_log(&mem->db, LM_LOG_WARN,
                       "LLMEMORY_AUTO_OPTIMIZE=\"%.40s\" is neither \"off\" nor a number of"
                       " chunks; using %d",
                       v, AUTOPACK_DEFAULT_CHUNKS);
    }
    ap->ready = 1;
}

void lm__autopack_note(lm_memory *mem, int64_t chunks)
{
    lm__autopack *ap = &mem->autopack;
    if (!ap->ready || ap->threshold <= 0 || chunks <= 0)
        return;
    pthread_mutex_lock(&ap->mu);
    ap->written += chunks;
    if (!ap->started && !ap->stop && ap->written >= ap->threshold) {
        /* The thread starts with the first packing a memory needs: read-only users and small
           writers never have one. */
        if (pthread_create(&ap->thread, NULL, autopack_main, mem) == 0)
            ap->started = 1;
        else
            ap->threshold = 0;
    }
    pthread_cond_broadcast(&ap->cv);
    pthread_mutex_unlock(&ap->mu);
}

void lm__autopack_dispose(lm_memory *mem)
{
    lm__autopack *ap = &mem->autopack;
    if (!ap->ready)
        return;
    pthread_mutex_lock(&ap->mu);
    ap->stop = 1;
    pthread_cond_broadcast(&ap->cv);
    pthread_mutex_unlock(&ap->mu);
    if (ap->started)
        pthread_join(ap->thread, NULL); /* a packing under way finishes first */
    pthread_cond_destroy(&ap->cv);
    pthread_mutex_destroy(&ap->mu);
    ap->ready = 0;
}

/*
 * llmemory/queue.h: the embedding queue. Chunks are queued when a memory embeds in queue mode,
 * when embedding during an add failed, or when the default provider changes (re-embedding).
 * Workers (lm_embed_run, `llmemory embed`) claim jobs with FOR UPDATE SKIP LOCKED under a lease:
 * a worker that dies leaves its jobs to be claimed again when the lease expires, and a job that
 * keeps failing is retried a limited number of times (with backoff), then marked dead. A job
 * leaves the queue when its vector is written; each chunk ends up with exactly one vector per
 * provider.
 *
 * Threads: safe to run several workers (threads or processes) at once.
 */
#ifndef LLMEMORY_QUEUE_H
#define LLMEMORY_QUEUE_H

#include "common.h"
#include "store.h"

LM_BEGIN_DECL

typedef struct lm_embed_run_opts {
    unsigned int version;
    int batch_size;   /* jobs claimed and embedded per batch; 0: 64 */
    int max_batches;  /* stop after this many batches; 0: until the queue has no ready job */
    int lease_s;      /* lease of a claimed batch in seconds; 0: 60 */
    int max_attempts; /* attempts before a job is dead; 0: 5 */
} lm_embed_run_opts;

#define LM_EMBED_RUN_OPTS_VERSION 1
#define LM_EMBED_RUN_OPTS_INIT    {LM_EMBED_RUN_OPTS_VERSION, 0, 0, 0, 0}
LM_EXTERN int lm_embed_run_opts_init(lm_embed_run_opts *opts, unsigned int version);

typedef struct lm_embed_run_result {
    int64_t claimed;  /* jobs claimed */
    int64_t embedded; /* vectors written */
    int64_t failed;   /* jobs that failed and will be retried */
    int64_t dead;     /* jobs that failed for the last time */
} lm_embed_run_result;

/**
 * Drain the queue of the memory's embedder (provider) for all tenants.
 * @return 0 (failures of individual jobs are counted, not returned); LM_EINVAL when the memory
 *         has no embedder; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_embed_run(lm_embed_run_result *out, lm_memory *mem, const lm_embed_run_opts *opts);

typedef struct lm_embed_queue_stats {
    int64_t pending;    /* waiting (including retries whose backoff has not passed) */
    int64_t processing; /* claimed under a lease */
    int64_t dead;       /* failed max_attempts times; see last_error in the queue table */
} lm_embed_queue_stats;

/** Counts of the queue's jobs for the memory's provider (all tenants). @return 0; LM_ECONN, LM_EDB. */
LM_EXTERN int lm_embed_queue_stats_get(lm_embed_queue_stats *out, lm_memory *mem);

/**
 * Re-embed with the memory's embedder (which lm_memory_open() made the default provider): queue
 * every searchable chunk of @p owner_id (NULL: every tenant) that has no vector of this provider,
 * and queue again the provider's jobs of those chunks that were dead (failed too often). The
 * workers (lm_embed_run, `llmemory embed`, the worker of `llmemory serve`) write the vectors;
 * until then vector search does not find the chunk (keyword search does). Another tenant's data
 * is never touched: an unknown tenant queues nothing. `llmemory reembed` switches a memory to the
 * default embedder with it (docs/embeddings.md).
 * @param waiting receives the number of the tenant's (or all tenants') chunks that now wait in
 *        the queue for this provider (queued by this call or before), or NULL
 * @return 0; LM_EINVAL (no embedder, invalid owner id); LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_reembed(lm_memory *mem, const char *owner_id, int64_t *waiting);

LM_END_DECL

#endif

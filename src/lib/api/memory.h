/*
 * api/memory.h: the lm_memory handle shared by the api/ entry points.
 */
#ifndef LM_API_MEMORY_H
#define LM_API_MEMORY_H

#include <pthread.h>

#include "db/db.h"
#include "llmemory/auth.h"
#include "llmemory/lifecycle.h"
#include "search/search.h"
#include "search/vector.h"

/* Default hybrid weight (vector share). With the built-in (lexical) embedder it was chosen on
 * SciFact's train queries for hash-v2 (docs/embeddings.md): its vectors mostly repeat what BM25
 * already knows, and every larger alpha scored below text search alone, so they only reorder
 * the deep ranks and add documents that the keyword leg missed. Other providers keep 0.5. */
#define LM__HYBRID_ALPHA_BUILTIN 0.01
/* With the local encoder (all-MiniLM-L6-v2, the default when installed), chosen the same way on
 * SciFact's train queries (docs/eval.md). */
#define LM__HYBRID_ALPHA_LOCAL   0.4
#define LM__HYBRID_ALPHA_DEFAULT 0.5
#define LM__RRF_K_DEFAULT        60

/* SQL text giving a timestamptz column as ISO 8601 UTC ("2024-05-01T10:00:00.000000Z"). */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Automatic background packing of the keyword index (api/autopack.c). */
typedef struct lm__autopack {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int ready, started, stop;
    int64_t threshold; /* chunks written before a packing is considered; 0: never */
    int64_t written;   /* chunks this memory wrote since the last packing */
} lm__autopack;

/* The erasure cleanup thread of a memory (api/erase.c), started on first use. */
typedef struct lm__erase_bg {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    pthread_t th;
    int started, busy, requested;
    volatile int stop;
} lm__erase_bg;
void lm__erase_bg_init(lm__erase_bg *bg);
/* Stop the thread after its current batch (the cleanup resumes later from the marks). */
void lm__erase_bg_dispose(lm__erase_bg *bg);

struct lm_memory {
    lm__db db;
    size_t max_content_bytes;
    int max_limit;
    int history;             /* record searches */
    int sql_functions;       /* call the tenant functions of 060_tenant_functions.sql (one round
                                trip an operation); 0 with $LLMEMORY_SQL_FUNCTIONS=off or
                                LLMEMORY_RLS=off: the statements, in a tenant transaction */
    char text_config[128];   /* default text search configuration */
    lm__bm25_params bm25;
    lm__vec_cfg vec;         /* vec.embedder NULL: no vector search */
    lm__vindex_bg vindex_bg; /* builds tenants' vector indexes off the request path */
    lm__erase_bg erase_bg;   /* cleans up erased tenants in the background */
    int own_embedder;        /* the memory created vec.embedder and frees it */
    int embed_mode;          /* LM_EMBED_SYNC or LM_EMBED_QUEUE */
    lm_rerank_cb rerank_fn;
    void *rerank_payload;
    int64_t quota_default[4]; /* documents, chunks, bytes, vectors; -1: none */
    double rate[2];           /* adds, searches a second; 0: none */
    double rate_burst_s;
    struct lm__buckets *buckets; /* rates, rate overrides, the usage meter */
    lm__autopack autopack;
    int own_admin;               /* db.admin is this memory's own pool (a migration URL) */
    struct lm__router *router;   /* schema and database modes: the tenants' memories */
    struct lm__authfails *authfails; /* authentication failures being aggregated (api/audit.c) */
    lm_quota_alerts alerts;      /* last lm_quota_alerts_get() (under buckets->meter_mu) */
    double alerts_at_ms;         /* when; 0: never */
    struct lm__keycache *keycache; /* verified API keys (api/keycache.c) */
    struct lm__shards *shards;   /* on a cluster proxy: the shards' memories (api/shards.c) */
};

/* The verified-key cache of lm_key_verify() (api/keycache.c). */
typedef struct lm__keycache lm__keycache;
/* A key's last use is recorded at most this often (api/keys.c). */
#define LM__KEY_USE_RESOLUTION_MS 60000.0
typedef struct lm__keyent {
    lm_principal who;
    char hash[65];     /* the stored SHA-256 of "<key_id>:<secret>", hex */
    double expires_ms; /* deadline on lm__now_ms()'s clock; 0: never */
    double used_ms;    /* when its last use was recorded (lm__now_ms()) */
} lm__keyent;
/* At open (LLMEMORY_KEY_CACHE) / close. */
int lm__keycache_init(lm_memory *mem);
void lm__keycache_dispose(lm_memory *mem);
/* 1 when the cache may be used for a verification now (on, not through a cluster proxy, the
   listener connected); *gen receives the generation to hand to lm__keycache_put(). Starts the
   listener on first use. */
int lm__keycache_begin(lm_memory *mem, uint64_t *gen);
/* 1 and *out when @p key_id is cached and not expired; *record_use 1 when its last use is due
   to be recorded. 0 otherwise. */
int lm__keycache_get(lm__keyent *out, lm_memory *mem, const char *key_id, int *record_use);
/* Cache a verified key, unless an invalidation happened since generation @p gen. */
void lm__keycache_put(lm_memory *mem, uint64_t gen, const lm__keyent *e);
/* Drop a key / every key of one owner (this process's revocations and erasures). */
void lm__keycache_forget(lm_memory *mem, const char *key_id);
void lm__keycache_forget_owner(lm_memory *mem, const char *owner_id);

/* Tenancy (api/tenancy.c). A routing memory (schema or database mode) hands each call that
 * names an owner to the tenant's memory. */
/* At open, after the memory itself: the router the options or environment ask for (none in
   the shared mode). It opens and closes tenant memories with @p open_fn (lm__memory_open_tenant)
   and @p close_fn (lm_memory_close). */
typedef int (*lm__tenant_open_fn)(lm_memory **out, lm_memory *base, const char *schema,
                                  const char *url, const char *migrate_url);
int lm__router_init(lm_memory *mem, const lm_memory_opts *opts, lm__tenant_open_fn open_fn,
                    void (*close_fn)(lm_memory *));
/* At close: closes every tenant memory (none may be in use) and frees the router. */
void lm__router_dispose(lm_memory *mem);
/* Call @p fn for each tenant memory open now (none in the shared mode), each kept open meanwhile;
   stops at the first failure and returns it. For the cross-tenant work of a routing memory
   (the embedding queue): tenants whose memory is not open wait until it is opened again. */
int lm__router_each(lm_memory *mem, int (*fn)(lm_memory *tenant, void *arg), void *arg);
/* Open the memory of one tenant with @p base's settings: on @p base's pools in schema
   @p schema when @p url is NULL, else on its own pools for @p url (and @p migrate_url). */
int lm__memory_open_tenant(lm_memory **out, lm_memory *base, const char *schema, const char *url,
                           const char *migrate_url);

/* On a cluster proxy (api/shards.c): the memories of the shards, for the maintenance that runs
 * on them (vector index builds, the embedding worker). */
/* At open, on a proxy: shard memories are opened with @p open_fn (lm__memory_open_tenant, the
   proxy memory's settings) and closed with @p close_fn. */
int lm__shards_init(lm_memory *mem, lm__tenant_open_fn open_fn, void (*close_fn)(lm_memory *));
/* lm__vindex_bg's route: the shard memory's database and vector settings for @p owner_id. */
int lm__shards_route(void *mem, const char *owner_id, lm__db **db, const lm__vec_cfg **cfg);
/* The memory of @p owner_id's shard, by the proxy's placement read now (each call reads it
   again: after a move it names the new shard). */
int lm__shards_memory(lm_memory *mem, const char *owner_id, lm_memory **out);
/* Call @p fn for every shard's memory; every shard is tried, the first failure returned. */
int lm__shards_each(lm_memory *mem, int (*fn)(lm_memory *shard_mem, void *arg), void *arg);
/* Ask the shards in order until @p fn returns 1 (found: 1 is returned, and the failures of the
   shards asked before are not); else as lm__shards_each (0, or the first failure). */
int lm__shards_find(lm_memory *mem, int (*fn)(lm_memory *shard_mem, void *arg), void *arg);
/* At close: closes the shards' memories. */
void lm__shards_dispose(lm_memory *mem);

typedef struct lm__routed {
    lm_memory *base;   /* the routing memory, or NULL when nothing was routed */
    lm_memory *tenant; /* handed back when the call returns */
} lm__routed;
int lm__route(lm__routed *r, lm_memory **mem, const char *owner_id);
void lm__route_end(lm__routed *r);
/* First statement of a public call that takes (mem, owner_id): in the schema and database
   modes @p mem becomes the tenant's memory for the rest of the call, and is handed back on
   every return (cleanup attribute). An invalid owner id leaves @p mem as it is: the call
   reports it. */
#define LM__ROUTE(mem, owner_id)                                                                   \
    lm__routed lm__routed_ __attribute__((cleanup(lm__route_end))) = {NULL, NULL};                \
    do {                                                                                           \
        int lm__route_rc_ = lm__route(&lm__routed_, &(mem), (owner_id));                          \
        if (lm__route_rc_ < 0)                                                                     \
            return lm__route_rc_;                                                                  \
    } while (0)

enum { LM__RATE_ADDS = 0, LM__RATE_SEARCHES = 1 };
/* Take a token of @p kind for the tenant: 0, or LM_ELIMIT (field "rate_adds"/"rate_searches",
   lm_rate_retry_after() set). */
int lm__rate_take(lm_memory *mem, int kind, const char *owner_id);
/* Usage metering (api/quota.c): every call admitted by lm__rate_take() is counted in memory per
   tenant and UTC day, and the counts are added to tenant_usage_daily at most about once a second
   (and before usage is read, and at close). */
int lm__meter_flush(lm_memory *mem);
/* Drop the unwritten counts of @p owner_id (its erasure). */
void lm__meter_forget(lm_memory *mem, const char *owner_id);
/* Set up / free the buckets at open / close (api/quota.c). */
int lm__rate_init(lm_memory *mem);
void lm__rate_dispose(lm_memory *mem);

/* Automatic packing (api/autopack.c): set up at open (LLMEMORY_AUTO_OPTIMIZE), stopped at
   close (a packing under way finishes first); writers note the chunks they committed. */
void lm__autopack_init(lm_memory *mem);
void lm__autopack_note(lm_memory *mem, int64_t chunks);
void lm__autopack_dispose(lm_memory *mem);

/* Storage usage of a tenant (api/quota.c): documents, chunks, bytes, vectors. */
typedef struct lm__usage {
    int64_t v[4];
} lm__usage;
/* Read the tenant's usage inside @p tx. */
int lm__usage_read(lm__usage *out, lm_memory *mem, lm__tx *tx, const char *owner_id);
/* After a write inside @p tx (the tenant's writer lock held): LM_ELIMIT when a kind of usage
   grew past its limit (from @p before); the caller rolls back, so nothing is written. */
int lm__quota_check(lm_memory *mem, lm__tx *tx, const char *owner_id, const lm__usage *before);

/* Audit records (api/audit.c), with the thread's lm_audit_context_set() actor and source.
 * In @p tx (written with the action, or not at all); @p detail is a JSON object text or NULL. */
/* The calling thread's audit actor ("library" when none was set) and source (NULL: none), for
   the server-side functions that write their audit record themselves. */
const char *lm__audit_actor(void);
const char *lm__audit_source(void);
int lm__audit_in_tx(lm_memory *mem, lm__tx *tx, const char *owner_id, const char *action,
                    const char *outcome, const char *detail);
/* In a transaction of its own, after the action; a failure to write is logged. Keeps
 * lm_error_last() as it was (a failed action's error is what the caller reports). */
void lm__audit(lm_memory *mem, const char *owner_id, const char *action, const char *outcome,
               const char *detail);

/* Authentication-failure records (api/audit.c): set up at open; at close the counts not yet
   reported are written. */
int lm__authfail_init(lm_memory *mem);
void lm__authfail_dispose(lm_memory *mem);

#endif

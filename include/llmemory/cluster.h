/*
 * llmemory/cluster.h: sharded mode. Tenants spread over several PostgreSQL databases (shards,
 * each an ordinary llmemory database: same migrations, own BM25 extension and pgvector) behind
 * one proxy database whose PL/Proxy functions route every tenant operation to the tenant's
 * shard: a per-tenant placement, else a hash of the owner over the shards given to
 * lm_cluster_init(). Operations over all tenants (the lm_all_ functions) run on every shard.
 * Applications use the proxy's URL as their database URL. docs/cluster.md has the design.
 *
 * Every call connects to the databases it names for its own duration (URLs or conninfo strings
 * as libpq takes them; a shard's URL must also work from the proxy's server and from the other
 * shards' servers, which connect to it). @p schema NULL: $LLMEMORY_SCHEMA, else "llmemory".
 * Errors: LM_EINVAL (arguments), LM_ECONN (a database cannot be reached), LM_ECONFLICT (the
 * cluster is not in the state the call needs), LM_EDB.
 */
#ifndef LLMEMORY_CLUSTER_H
#define LLMEMORY_CLUSTER_H

#include "llmemory/common.h"

LM_BEGIN_DECL

/** Largest number of shards. */
#define LM_CLUSTER_MAX_SHARDS 1024

/**
 * Make @p proxy_url's database the proxy of @p n shards: migrates each shard (as
 * lm_memory_open() does), gives shard k (in the order given) its identity range, installs the
 * routing tables and functions in the proxy and generates a routing function for every tenant
 * operation the shards define. The proxy database needs the plproxy extension available; it
 * must not already be a proxy (LM_ECONFLICT).
 */
LM_EXTERN int lm_cluster_init(const char *proxy_url, const char *const *shard_urls, size_t n,
                              const char *schema);

/**
 * Add one shard (migrated, next shard number in *@p shard_no when not NULL). Tenants stay where
 * they are; new tenants keep hashing over the shards of lm_cluster_init(); lm_cluster_rebalance()
 * or lm_cluster_move_tenant() fill the new shard.
 */
LM_EXTERN int lm_cluster_add_shard(const char *proxy_url, const char *shard_url,
                                   const char *schema, int *shard_no);

/**
 * After an upgrade: migrate every shard (all must be reachable), put identity columns that new
 * migrations added in their shard's range, and regenerate the proxy's routing functions from
 * the shards' catalog: every function lm_<op>(p_owner text, ...) of the schema runs on the
 * owner's shard, every lm_all_<op>(...) on all shards. *@p n_routed (if not NULL): how many
 * functions the proxy routes.
 */
LM_EXTERN int lm_cluster_sync(const char *proxy_url, const char *schema, int *n_routed);

/** One shard in lm_cluster_status(). */
typedef struct lm_cluster_shard {
    int shard_no;
    int reachable;      /* 1: answered; 0: the figures below are -1 */
    int in_hash;        /* 1: new tenants may hash onto it */
    int64_t tenants;    /* tenants with documents on it */
    int64_t documents;
    int64_t chunks;
    int64_t bytes;
    int64_t placed;     /* tenants the placement table pins to it */
    char conninfo[512]; /* as given, with any password replaced by "***" */
} lm_cluster_shard;

/**
 * The shards of the cluster with their sizes. *@p out (free with lm_cluster_status_free) holds
 * *@p n entries in shard order. A shard that cannot be reached is listed with reachable = 0.
 */
LM_EXTERN int lm_cluster_status(const char *proxy_url, const char *schema, lm_cluster_shard **out,
                                size_t *n);
LM_EXTERN void lm_cluster_status_free(lm_cluster_shard *shards);

/** The shard @p owner_id's operations run on now (*@p shard_no). */
LM_EXTERN int lm_cluster_shard_of(const char *proxy_url, const char *schema, const char *owner_id,
                                  int *shard_no);

/** What a tenant move did and how long each phase took (milliseconds). */
typedef struct lm_cluster_move_report {
    int from_shard;
    int to_shard;
    int64_t rows;      /* rows of the tenant copied (all tables) */
    double copy_ms;    /* publication, subscription and the initial copy */
    double index_ms;   /* the tenant's vector indexes built on the target */
    double pause_ms;   /* fence to switch: the writes of the tenant wait or retry this long */
    double cleanup_ms; /* replication dropped, the source's rows deleted */
    double total_ms;
} lm_cluster_move_report;

/**
 * Move @p owner_id's rows to shard @p to_shard online: filtered logical replication of every
 * tenant table (statistics and postings included), the tenant's vector indexes built on the
 * target, then a fenced cut-over (writes reaching the old shard afterwards fail with LM_ERETRY
 * and never land; reads go on throughout), and the old shard's rows deleted. The shards need
 * wal_level = logical, and the connecting role may create publications and subscriptions.
 * @p timeout_s bounds the copy (0: 3600). Moving to the shard it is on already does nothing.
 * @p report may be NULL.
 */
LM_EXTERN int lm_cluster_move_tenant(const char *proxy_url, const char *schema,
                                     const char *owner_id, int to_shard, int timeout_s,
                                     lm_cluster_move_report *report);

/** Called by lm_cluster_rebalance() before each move; a non-zero return stops it. */
typedef int (*lm_cluster_move_cb)(const char *owner_id, int from_shard, int to_shard,
                                  int64_t chunks, void *payload);

/**
 * Even out the shards' chunk counts: repeatedly moves from the fullest shard to the emptiest the
 * largest tenant that narrows their gap, at most @p max_moves times (0: 100). With @p dry_run it
 * only reports (through @p cb) what it would move. *@p moved (if not NULL): moves made (or
 * planned).
 */
LM_EXTERN int lm_cluster_rebalance(const char *proxy_url, const char *schema, int max_moves,
                                   int dry_run, lm_cluster_move_cb cb, void *payload, int *moved);

LM_END_DECL

#endif

/*
 * llmemory/store.h: opening and closing a memory (lm_memory), and managing the embedded
 * PostgreSQL cluster used when no database URL is configured.
 *
 * Threads: an lm_memory holds a connection pool and may be used by several threads at once;
 * each call takes a connection for its duration. lm_memory_open/close themselves are not
 * concurrent with other calls on the same memory.
 */
#ifndef LLMEMORY_STORE_H
#define LLMEMORY_STORE_H

#include "common.h"
#include "embed.h"

LM_BEGIN_DECL

typedef struct lm_memory lm_memory;

/** How lm_doc_add() embeds new chunks. */
enum {
    LM_EMBED_SYNC = 0, /* embed during the add (in batches); on failure the chunks are queued */
    LM_EMBED_QUEUE = 1 /* only queue the chunks; lm_embed_run() (or `llmemory embed`) embeds them */
};

/**
 * External reranker hook: score @p n candidate texts for @p query into @p scores_out (higher is
 * better). Return 0, or non-zero to fall back to the built-in lexical reranker.
 */
typedef int (*lm_rerank_cb)(double *scores_out,
                            const char *query,
                            const char *const *texts,
                            size_t n,
                            void *payload);

/**
 * Tenancy modes (docs/operations.md, "Tenancy modes", says when to choose which). In the schema
 * and database modes the memory lm_memory_open() returns routes every call that names an owner
 * (documents, search, history, statistics, export/import, erasure, quotas, audit, reembed) to
 * the memory of that owner's tenant: the owner id's first segment ("org-1" for "org-1/team"), so
 * a tenant and its sub-tenants share one schema or database. API keys stay in the routing
 * memory itself (lm_key_verify() finds the owner before any tenant is known).
 */
typedef enum lm_tenancy {
    LM_TENANCY_DEFAULT = 0,  /* $LLMEMORY_TENANCY (shared, schema or database), else shared */
    LM_TENANCY_SHARED = 1,   /* every tenant's rows in one schema, scoped by owner_id (and RLS) */
    LM_TENANCY_SCHEMA = 2,   /* one schema per tenant, all on the memory's connection pool */
    LM_TENANCY_DATABASE = 3  /* one database per tenant (tenant_url or tenant_map) */
} lm_tenancy;

/** Name of a tenancy mode ("shared", "schema", "database"); NULL for an unknown one. */
LM_EXTERN const char *lm_tenancy_name(lm_tenancy mode);
/** Parse a tenancy mode name. @return 0, or LM_EINVAL (field "tenancy"). */
LM_EXTERN int lm_tenancy_parse(lm_tenancy *out, const char *name);

/** Log levels for lm_log_cb. */
enum { LM_LOG_ERROR = 0, LM_LOG_WARN = 1, LM_LOG_INFO = 2, LM_LOG_DEBUG = 3 };

/** Log sink. The library never writes to stdout/stderr itself. */
typedef void (*lm_log_cb)(int level, const char *msg, void *payload);

/** Options of lm_memory_open(). NULL means defaults. */
typedef struct lm_memory_opts {
    unsigned int version;
    /* PostgreSQL connection URL or conninfo. NULL: $LLMEMORY_DATABASE_URL, then $DATABASE_URL,
       else the embedded cluster in @c home. */
    const char *database_url;
    /* Embedded cluster directory. NULL: $LLMEMORY_HOME, else ~/.local/share/llmemory
       (/var/lib/llmemory when run as root, where the server runs as the postgres user). */
    const char *home;
    /* Schema holding every object. NULL: $LLMEMORY_SCHEMA, else "llmemory".
       Must match [A-Za-z_][A-Za-z0-9_]{0,62}. */
    const char *schema;
    int pool_size;            /* connections kept; 0: 4 */
    int disable_history;      /* 1: searches are not recorded in search history */
    size_t max_content_bytes; /* 0: LM_MAX_DOC_BYTES */
    int max_limit;            /* largest search/list limit; 0: LM_MAX_SEARCH_LIMIT */
    const char *text_config;  /* default text search configuration; NULL: "english" */
    double bm25_k1;           /* 0: default (see docs/search.md) */
    double bm25_b;            /* < 0 or 0: default */
    int connect_timeout_s;    /* 0: 10 */
    lm_log_cb log_fn;
    int log_level;            /* messages above this level are not formatted */
    void *log_payload;
    /* Embeddings. The memory borrows @c embedder (it must outlive the memory). NULL: the
       embedder lm_embedder_from_env() describes (the built-in one unless configured). */
    lm_embedder *embedder;
    int no_embedder;            /* 1: no embeddings and no vector search */
    int embed_mode;             /* LM_EMBED_SYNC (default) or LM_EMBED_QUEUE */
    int vector_index_threshold; /* vectors of one tenant before it gets its own HNSW index;
                                   0: 500; < 0: never (exact search only) */
    int hnsw_m;                 /* 0: 24 */
    int hnsw_ef_construction;   /* 0: 128 */
    int hnsw_ef_search;         /* 0: per tenant graph, max(64, sqrt(nodes) / 2), x1.5 above
                                   768 dimensions; at least the search limit */
    lm_rerank_cb rerank_fn;     /* external reranker, or NULL for the lexical one */
    void *rerank_payload;
    /* Keyword search uses the llmemory_bm25 extension (exact BM25 top-k in C) when the server
       has it, and the pure-SQL path (same ranking) otherwise. 1: always the SQL path. */
    int no_bm25_extension;
    /* The keyword statement and the hydrate query are prepared once per pooled connection. 1 (or
       $LLMEMORY_PREPARED_STATEMENTS=off): never prepare, for a pooler in transaction mode that
       moves sessions between server connections. */
    int no_prepared_statements;
    /* Longest statement: PostgreSQL cancels one that runs longer (LM_ETIMEOUT), so no request
       holds a connection and its locks for ever. 0: $LLMEMORY_STATEMENT_TIMEOUT_MS, else 60000;
       < 0: none. Index builds, optimize and migrations are not limited. Transactions left idle
       are ended after 60 s. */
    int statement_timeout_ms;
    /* Default per-tenant quotas (lm_quota_set() overrides them per tenant): documents, chunks,
       content bytes and vectors. 0: none, unless $LLMEMORY_QUOTA_DOCUMENTS, ..._CHUNKS,
       ..._BYTES or ..._VECTORS gives one. */
    int64_t quota_documents;
    int64_t quota_chunks;
    int64_t quota_bytes;
    int64_t quota_vectors;
    /* Per-tenant rates (token buckets, per lm_memory): adds and searches a second, with bursts
       of @c rate_burst seconds' worth. 0: none, unless $LLMEMORY_RATE_ADDS or
       $LLMEMORY_RATE_SEARCHES gives one. */
    double rate_adds;
    double rate_searches;
    double rate_burst; /* 0: 10 seconds */
    /* URL of the tables' owner, used only for migrations, DDL (vector tables and indexes,
       optimize) and the library's cross-tenant maintenance (lm__db_admin_acquire: key
       verification, the embedding queue); @c database_url may then be a role that can create
       nothing. NULL: $LLMEMORY_MIGRATE_URL, else @c database_url. docs/operations.md. */
    const char *migrate_url;
    int tenancy; /* lm_tenancy; 0: $LLMEMORY_TENANCY, else LM_TENANCY_SHARED */
    /* Database mode: the URL of a tenant's database, where "{owner}" stands for the tenant's
       derived name (lm_tenant_name()), e.g. "postgresql:///tenant_{owner}". NULL:
       $LLMEMORY_TENANT_URL. A database that does not exist is created through the migration URL
       (else the tenant URL with dbname "postgres"). */
    const char *tenant_url;
    /* Database mode: a file of "owner URL" lines (# comments) naming each tenant's database;
       used instead of tenant_url. NULL: $LLMEMORY_TENANT_MAP. */
    const char *tenant_map;
    /* Schema and database modes: tenant memories kept open at most (least recently used ones
       are closed beyond, once no call uses them). 0: $LLMEMORY_TENANT_HANDLES, else 64. */
    int tenant_handles;
    /* Caps on the per-tenant vector indexes (all on one shared table, where each one costs
       every vector query's planning time): indexes of one tenant (one per provider), and of one
       tree (a tenant and its sub-tenants "<tenant>/..."). A tenant past a cap is searched
       exactly. 0: $LLMEMORY_VECTOR_INDEX_MAX_PER_TENANT / ..._PER_TREE, else 2 and 16;
       < 0: no cap. */
    int vector_index_max_per_tenant;
    int vector_index_max_per_tree;
} lm_memory_opts;

#define LM_MEMORY_OPTS_VERSION 1
#define LM_MEMORY_OPTS_INIT                                                                        \
    {LM_MEMORY_OPTS_VERSION, NULL, NULL, NULL, 0, 0, 0, 0, NULL, 0, 0, 0, NULL, LM_LOG_WARN, NULL,  \
     NULL, 0, LM_EMBED_SYNC, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, NULL,   \
     0, NULL, NULL, 0, 0, 0}
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_memory_opts_init(lm_memory_opts *opts, unsigned int version);

/**
 * Open a memory: connect (starting the embedded cluster first when no URL is configured),
 * create the schema and apply pending migrations under an advisory lock.
 *
 * @param out  receives the new memory; close it with lm_memory_close()
 * @param opts options, or NULL for defaults (environment variables apply)
 * @return 0; LM_EINVAL for bad options; LM_ECONN when the database cannot be reached;
 *         LM_EDB when a migration fails or an applied migration was modified; LM_EIO when the
 *         embedded cluster cannot be created or started.
 *
 * Example:
 *     lm_memory *mem = NULL;
 *     if (lm_memory_open(&mem, NULL) < 0) {
 *         fprintf(stderr, "llmemory: %s\n", lm_error_last()->message);
 *         return 1;
 *     }
 *     ...
 *     lm_memory_close(mem);
 */
LM_EXTERN int lm_memory_open(lm_memory **out, const lm_memory_opts *opts);

/** Close @p mem and its connections, after finishing the vector index builds it has pending
 * (see lm_memory_wait_index_builds()). NULL-safe. */
LM_EXTERN void lm_memory_close(lm_memory *mem);

/** Wait until the vector index builds that writes through @p mem started have finished. A
 * tenant whose vectors pass vector_index_threshold gets its HNSW index from a background thread
 * of the memory, not inside the lm_doc_add() that crossed it; its searches stay exact (and
 * complete) until the index is ready. Benchmarks and tests call this to measure the indexed
 * state; applications need not. The log callback may be called from that thread. NULL-safe. */
LM_EXTERN void lm_memory_wait_index_builds(lm_memory *mem);

/**
 * CPU priority of background work. The memory's own background threads (vector index builds,
 * keyword index packing, erasure cleanup) run with their nice value raised by this increment,
 * and so does any thread that calls lm_thread_background(); the pool gives such a thread a
 * connection of its own whose PostgreSQL backend runs at the same raised nice, when the server
 * is provably local (a Unix-socket connection to a process named postgres, that we may renice:
 * ours, or as root; never over TCP). Cheap work of other threads then gets a CPU first, and
 * background work still gets every CPU nobody else wants. Set by $LLMEMORY_BACKGROUND_NICE
 * (0 to 19; 0: off) when the memory is opened; default 10. Linux only (elsewhere nothing is
 * changed). NULL gives 0.
 */
LM_EXTERN int lm_memory_background_nice(const lm_memory *mem);

/**
 * Lower the calling thread's CPU priority for good: raise its nice by
 * lm_memory_background_nice(@p mem) (threads it starts inherit it). An unprivileged thread cannot
 * raise its priority again, so call this only on threads that stay background (a server's worker
 * of costly requests, a queue worker). 1 when lowered; 0 when the setting is off, the thread was
 * lowered already, or the system refused.
 */
LM_EXTERN int lm_thread_background(const lm_memory *mem);

/**
 * Lower the whole calling process's CPU priority for good, for a process that does nothing but
 * background work (such as the embedding worker process of `llmemory serve`): the calling
 * thread's nice becomes the process's nice at lm_memory_open() plus
 * lm_memory_background_nice(@p mem) (threads it starts inherit it, and the pool gives it
 * background connections, as lm_thread_background() does), and when the process leads its own
 * session and the kernel groups CPU time by session (autogroup), its session's group gets the
 * same nice. Under autogroup a thread's nice weighs only against the threads of its own session:
 * the group's nice is what competes with other sessions' work (a server's requests, the database
 * backends). A process that does not lead its session leaves the group alone, since it would
 * hold other processes too. Call it after lm_memory_open(); calling it again changes nothing.
 * 1 when something was lowered; 0 when the setting is off, it was lowered already, or the
 * system refused.
 */
LM_EXTERN int lm_process_background(const lm_memory *mem);

/**
 * The schema and database modes' name for a tenant (the owner id's first segment): its
 * characters that are not [a-z0-9] become '_' (letters lower-cased), cut to 24, then "_" and 12
 * hex digits of the SHA-256 of the exact segment, so two tenants never share a name: at most 37
 * bytes, a valid unquoted identifier. The schema is "t_" followed by it; the database URL puts
 * it where the template says "{owner}".
 * @param out  receives the name (64 bytes)
 * @return 0; LM_EINVAL (invalid owner id).
 */
LM_EXTERN int lm_tenant_name(char out[64], const char *owner_id);

/** The tenancy mode of @p mem (its configuration resolved). */
LM_EXTERN lm_tenancy lm_memory_tenancy(const lm_memory *mem);

/**
 * The memory that holds @p owner_id's data: @p mem itself in the shared mode, else the tenant's
 * own memory (its schema or database created and migrated on first use; concurrent first uses
 * wait for one another). The handle stays valid until lm_memory_tenant_release(); calls with
 * @p mem do this themselves, so most programs never need it.
 * @return 0; LM_EINVAL (invalid owner id; a tenant missing from the map file); LM_ECONN; LM_EDB
 *         (the tenant's database could not be created: the message says what to run); LM_EPERM.
 */
LM_EXTERN int lm_memory_tenant(lm_memory **out, lm_memory *mem, const char *owner_id);
/** Hand back a memory from lm_memory_tenant(). NULL-safe. */
LM_EXTERN void lm_memory_tenant_release(lm_memory *mem, lm_memory *tenant);

/** Tenant memories currently open (0 in the shared mode). */
LM_EXTERN int lm_memory_tenant_count(lm_memory *mem);

/** Schema name in use. Borrowed from @p mem. */
LM_EXTERN const char *lm_memory_schema(const lm_memory *mem);

/** The embedder the memory uses (its provider id says which vectors it searches), or NULL when
 *  it has none. Borrowed from @p mem. */
LM_EXTERN lm_embedder *lm_memory_embedder(const lm_memory *mem);

/**
 * Readiness: the database answers, and every migration this library knows has been applied to
 * the memory's schema (so documents, search and keys are usable).
 * @return 0; LM_ECONN (database unreachable); LM_EDB (a migration is missing).
 */
LM_EXTERN int lm_memory_ready(lm_memory *mem);

/** What lm_memory_optimize() did (caller-allocated). */
typedef struct lm_optimize_report {
    long long postings_pages_before; /* pages of the postings index before the rebuild */
    long long postings_pages_after;  /* ... and after */
    double elapsed_ms;               /* wall time of the whole call */
} lm_optimize_report;

/**
 * Maintenance after bulk loads: rebuilds the BM25 postings index without blocking reads or
 * writes (REINDEX INDEX CONCURRENTLY) and vacuums and analyzes the search tables.
 *
 * Postings arrive in the middle of the index's key space (each chunk adds one entry to the end
 * of each of its lexemes' lists), so page splits leave the index about half full. Keyword
 * search reads posting lists page by page; a packed index has ~40% fewer pages per list, which
 * is what the slowest keyword queries of large tenants spend their time on (docs/operations.md).
 * Results never change. Covers every tenant of the memory's schema; calls are serialised.
 * Needs the privileges of the tables' owner.
 *
 * @param report  may be NULL
 * @return 0; LM_ECONN; LM_EDB (e.g. not the owner of the tables).
 */
LM_EXTERN int lm_memory_optimize(lm_memory *mem, lm_optimize_report *report);

/** Connection-pool usage of a memory (caller-allocated). */
typedef struct lm_pool_usage {
    int size;   /* connections allowed at once (pool_size) */
    int open;   /* connections currently open */
    int in_use; /* connections taken by running calls */
} lm_pool_usage;

/** Fill @p out with @p mem's pool usage (a snapshot). Cannot fail for a valid @p mem. */
LM_EXTERN void lm_memory_pool_usage(lm_pool_usage *out, lm_memory *mem);

/** State of an embedded cluster (caller-allocated). */
typedef struct lm_db_info {
    int initialized;      /* a cluster exists in the home directory */
    int running;          /* its server is running */
    long pid;             /* server process id, or 0 */
    char home[512];       /* home directory */
    char socket_dir[512]; /* unix socket directory */
    char conninfo[1024];  /* libpq conninfo to reach it (no password, unix socket only) */
    char server_version[32];
} lm_db_info;

/**
 * Describe the embedded cluster in @p home (NULL: $LLMEMORY_HOME or the default). Does not start
 * anything. @return 0; LM_EINVAL; LM_EIO.
 */
LM_EXTERN int lm_db_status(lm_db_info *out, const char *home);
/**
 * Create (initdb) the embedded cluster if needed and start it if it is not running. Safe to call
 * from several processes at once: a lock file serialises them, and only one server starts.
 * When run as root, the server runs as the "postgres" user (PostgreSQL refuses to run as root).
 * @param out may be NULL. @return 0; LM_EIO (message says which step failed); LM_ETIMEOUT.
 */
LM_EXTERN int lm_db_start(lm_db_info *out, const char *home);
/** Stop the embedded cluster's server (fast shutdown). Not running is not an error. @return 0; LM_EIO. */
LM_EXTERN int lm_db_stop(const char *home);
/**
 * Append to @p out the SQL that creates the work role of tenant transactions when it is missing
 * (NOLOGIN, not a superuser, no BYPASSRLS), lets the connecting role switch to it, and grants it
 * what tenant work needs on @p schema: row-level security binds that role (docs/operations.md).
 * The schema's owner runs it; lm_memory_open() runs it itself when it can. @p schema NULL:
 * $LLMEMORY_SCHEMA, else "llmemory"; @p role NULL: $LLMEMORY_DB_ROLE, else "llmemory_app".
 * @return 0; LM_EINVAL (invalid name, field "schema" or "role"); LM_ENOMEM.
 */
LM_EXTERN int lm_db_roles_sql(lm_buf *out, const char *schema, const char *role);

/* ==== cancelling a caller's work ==== */

/** A handle that cancels the database work of the thread it is bound to (an MCP request that
 *  its client gave up on, say). Thread-safe: fire it from any thread. */
typedef struct lm_cancel lm_cancel;
/** A new handle, not fired. @return 0 or LM_ENOMEM. */
LM_EXTERN int lm_cancel_new(lm_cancel **out);
/** Free @p c (NULL is fine); it must not be bound on another thread or attached to work. */
LM_EXTERN void lm_cancel_free(lm_cancel *c);
/** Bind @p c to the calling thread (NULL unbinds): the library calls this thread makes while
 *  it is bound can be cancelled through it. @return the handle bound before. */
LM_EXTERN lm_cancel *lm_cancel_bind(lm_cancel *c);
/** Cancel: the running statement of the bound thread is stopped (PostgreSQL cancel request)
 *  and later ones are refused, so its call fails with LM_ECANCELED and its transaction rolls
 *  back. Stays fired until lm_cancel_reset(). @return the number of statements signalled. */
LM_EXTERN int lm_cancel_fire(lm_cancel *c);
/** 1 when @p c was fired (and not reset since). */
LM_EXTERN int lm_cancel_fired(const lm_cancel *c);
/** Make @p c usable for the next piece of work; call it while no work of the thread runs. */
LM_EXTERN void lm_cancel_reset(lm_cancel *c);

LM_END_DECL

#endif

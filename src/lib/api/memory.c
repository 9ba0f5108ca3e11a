/*
 * api/memory.c: opening a memory: resolve the database (URL, environment, or the embedded
 * cluster), build the connection pool, apply migrations. Also the version and option
 * initialisers.
 */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "db/embedded.h"
#include "embed/env.h"
#include "error.h"
#include "llmemory.h"
#include "prio.h"
#include "validate.h"

const char *lm_version(void)
{
    return LM_VERSION_STRING;
}

int lm_memory_background_nice(const lm_memory *mem)
{
    return mem != NULL ? lm__pool_bg_nice(&mem->db.pool) : 0;
}

int lm_thread_background(const lm_memory *mem)
{
    return lm__nice_background(lm_memory_background_nice(mem)) == 1;
}

int lm_process_background(const lm_memory *mem)
{
    if (lm_memory_background_nice(mem) <= 0)
        return 0;
    /* Above the nice the process had when the pool was made: the pool gives the thread
       background connections, and a second call finds it there already. */
    int nice = lm__pool_bg_level(&mem->db.pool);
    int thread = lm__nice_raise_self(nice) == 1;
    int group = lm__session_leader() && lm__autogroup_lower((int)getpid(), nice);
    return thread || group;
}

int lm_memory_opts_init(lm_memory_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_MEMORY_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_memory_opts version %u", version);
    lm_memory_opts d = LM_MEMORY_OPTS_INIT;
    *opts = d;
    return 0;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/*
 * The automatic embedder (LLMEMORY_EMBEDDER unset): the installed default model, else the
 * built-in one with a notice. A memory whose vectors come from the built-in embedder keeps it,
 * so its searches never compare vectors of two providers, until `llmemory reembed` (lm_reembed
 * with an explicit embedder) makes the model its default.
 */
static int choose_automatic(lm_memory *mem)
{
    char current[sizeof(mem->vec.provider_id)];
    int rc, fell_back = 0, dim = 0;

    if ((rc = lm__vector_default_provider(&mem->db, current, sizeof(current))) < 0)
        return rc;
    if (sscanf(current, "builtin-hash-v2-%d", &dim) == 1 && dim >= 8 && dim <= LM_MAX_EMBED_DIM) {
        if ((rc = lm_embedder_builtin_new(&mem->vec.embedder, dim)) < 0)
            return rc;
        mem->own_embedder = 1;
        lm__db_log(&mem->db, LM_LOG_INFO,
                   "this memory's vectors come from the built-in embedder (%s); "
                   "\"llmemory reembed\" switches it to the default model", current);
        return 0;
    }
    if ((rc = lm__embedder_default_new(&mem->vec.embedder, &fell_back)) < 0)
        return rc;
    mem->own_embedder = 1;
    if (fell_back)
        lm__db_log(&mem->db, LM_LOG_WARN,
                   "embedding model %s is not installed: using the built-in embedder (lexical, "
                   "not semantic); install it with scripts/models.sh", LM_DEFAULT_MODEL);
    return 0;
}

/* Open a memory. @p shared: the routing memory whose pools a schema-per-tenant memory uses
   (api/tenancy.c), or NULL for a memory with pools of its own. */
static int memory_open(lm_memory **out, const lm_memory_opts *opts, lm_memory *shared)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    lm_memory *mem = NULL;
    lm_buf conninfo = LM_BUF_INIT;
    const char *schema = NULL, *cfg = NULL, *url = NULL, *mig = NULL;
    int rc, pool_ready = 0, automatic = 0;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    if (opts != NULL) {
        if (opts->version != LM_MEMORY_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_memory_opts version %u", opts->version);
        o = *opts;
    }
    if (sodium_init() < 0)
        return lm__error_set(LM_ERROR, "could not initialize the random number generator");

    mem = lm__calloc(1, sizeof(*mem));
    if (mem == NULL)
        return LM_ENOMEM;
    schema = o.schema ? o.schema : env_nonempty("LLMEMORY_SCHEMA");
    if ((rc = lm__db_set_schema(&mem->db, schema ? schema : "llmemory")) < 0)
        goto out;
    cfg = o.text_config ? o.text_config : "english";
    if ((rc = lm__validate_text_config(cfg)) < 0)
        goto out;
    snprintf(mem->text_config, sizeof(mem->text_config), "%s", cfg);
    if (o.bm25_k1 < 0 || o.bm25_k1 > 10 || o.bm25_b < 0 || o.bm25_b > 1) {
        rc = lm__error_set_field(LM_EINVAL, "bm25", "BM25 parameters out of range");
        lm__error_detail("k1 must be in [0, 10] and b in [0, 1].");
        goto out;
    }
    mem->bm25.k1 = o.bm25_k1 > 0 ? o.bm25_k1 : LM__BM25_K1_DEFAULT;
    mem->bm25.b = o.bm25_b > 0 ? o.bm25_b : LM__BM25_B_DEFAULT;
    mem->max_content_bytes = o.max_content_bytes ? o.max_content_bytes : LM_MAX_DOC_BYTES;
    mem->max_limit = o.max_limit > 0 ? o.max_limit : LM_MAX_SEARCH_LIMIT;
    {
        static const char *const env[4] = {"LLMEMORY_QUOTA_DOCUMENTS", "LLMEMORY_QUOTA_CHUNKS",
                                           "LLMEMORY_QUOTA_BYTES", "LLMEMORY_QUOTA_VECTORS"};
        const int64_t given[4] = {o.quota_documents, o.quota_chunks, o.quota_bytes,
                                  o.quota_vectors};
        for (int i = 0; i < 4; i++) {
            const char *e = env_nonempty(env[i]);
            char *end = NULL;
            long long v = e ? strtoll(e, &end, 10) : 0;
            if (e != NULL && (*end != '\0' || v < 0)) {
                rc = lm__error_set(LM_EINVAL, "invalid $%s \"%.40s\"", env[i], e);
                lm__error_hint("Give a non-negative integer (0: no limit).");
                goto out;
            }
            if (given[i] < 0) {
                rc = lm__error_set(LM_EINVAL, "default quotas must not be negative");
                goto out;
            }
            v = given[i] > 0 ? given[i] : v;
            mem->quota_default[i] = v > 0 ? v : -1;
        }
        static const char *const renv[2] = {"LLMEMORY_RATE_ADDS", "LLMEMORY_RATE_SEARCHES"};
        const double rgiven[2] = {o.rate_adds, o.rate_searches};
        for (int i = 0; i < 2; i++) {
            const char *e = env_nonempty(renv[i]);
            char *end = NULL;
            double v = e ? strtod(e, &end) : 0;
            if ((e != NULL && (*end != '\0' || !(v >= 0))) || !(rgiven[i] >= 0)) {
                rc = lm__error_set(LM_EINVAL, "invalid rate %s", renv[i]);
                lm__error_hint("Give a non-negative number of operations a second (0: no limit).");
                goto out;
            }
            mem->rate[i] = rgiven[i] > 0 ? rgiven[i] : v;
        }
        if (!(o.rate_burst >= 0)) {
            rc = lm__error_set(LM_EINVAL, "rate_burst must not be negative");
            goto out;
        }
        mem->rate_burst_s = o.rate_burst > 0 ? o.rate_burst : 10.0;
        if ((rc = lm__rate_init(mem)) < 0)
            goto out;
    }
    mem->history = !o.disable_history;
    mem->db.log_fn = o.log_fn;
    mem->db.log_level = o.log_level;
    mem->db.log_payload = o.log_payload;
    if (o.embed_mode != LM_EMBED_SYNC && o.embed_mode != LM_EMBED_QUEUE) {
        rc = lm__error_set_field(LM_EINVAL, "embed_mode", "invalid embedding mode %d", o.embed_mode);
        goto out;
    }
    mem->embed_mode = o.embed_mode;
    mem->rerank_fn = o.rerank_fn;
    mem->rerank_payload = o.rerank_payload;
    mem->vec.index_threshold = o.vector_index_threshold ? o.vector_index_threshold : 500;
    {
        static const char *const cenv[2] = {"LLMEMORY_VECTOR_INDEX_MAX_PER_TENANT",
                                            "LLMEMORY_VECTOR_INDEX_MAX_PER_TREE"};
        const int cgiven[2] = {o.vector_index_max_per_tenant, o.vector_index_max_per_tree};
        const int cdef[2] = {2, 16};
        int cap[2];
        for (int i = 0; i < 2; i++) {
            const char *e = env_nonempty(cenv[i]);
            char *end = NULL;
            long v = e ? strtol(e, &end, 10) : 0;
            if (e != NULL && (*end != '\0' || v < -1 || v > 1000000)) {
                rc = lm__error_set(LM_EINVAL, "invalid $%s \"%.40s\"", cenv[i], e);
                lm__error_hint("Give a number of indexes (-1: no cap).");
                goto out;
            }
            cap[i] = cgiven[i] != 0 ? cgiven[i] : e != NULL && v != 0 ? (int)v : cdef[i];
        }
        mem->vec.max_per_tenant = cap[0] < 0 ? -1 : cap[0];
        mem->vec.max_per_tree = cap[1] < 0 ? -1 : cap[1];
    }
    /* 24 and 128 rather than pgvector's 16 and 64: with real sentence embeddings the thinner
       graph missed most of the true top 10 of some queries (docs/vector-search.md). */
    mem->vec.hnsw_m = o.hnsw_m > 0 ? o.hnsw_m : 24;
    mem->vec.hnsw_ef_construction = o.hnsw_ef_construction > 0 ? o.hnsw_ef_construction : 128;
    mem->vec.hnsw_ef_search = o.hnsw_ef_search > 0 ? o.hnsw_ef_search : 0; /* 0: per graph */
    if (mem->vec.hnsw_m > 100 || mem->vec.hnsw_ef_construction > 1000 || mem->vec.hnsw_ef_search > 1000) {
        rc = lm__error_set_field(LM_EINVAL, "hnsw", "HNSW parameters out of range");
        lm__error_detail("m must be at most 100, ef_construction and ef_search at most 1000.");
        goto out;
    }
    if (!o.no_embedder) {
        if (o.embedder != NULL) {
            mem->vec.embedder = o.embedder;
        } else if (lm__embedder_env_automatic()) {
            automatic = 1; /* chosen once the memory's current provider is known */
        } else {
            if ((rc = lm_embedder_from_env(&mem->vec.embedder)) < 0)
                goto out;
            mem->own_embedder = 1;
        }
    }

    url = o.database_url;
    if (url == NULL)
        url = env_nonempty("LLMEMORY_DATABASE_URL");
    if (url == NULL)
        url = env_nonempty("DATABASE_URL");
    mig = o.migrate_url ? o.migrate_url : env_nonempty("LLMEMORY_MIGRATE_URL");
    if (shared != NULL) {
        /* A tenant schema on the routing memory's pools: its settings apply. */
        lm__pool_init_shared(&mem->db.pool, &shared->db.pool);
        mem->db.admin = shared->db.admin;
        pool_ready = 1;
        goto pools_ready;
    }
    if (url != NULL) {
        lm__buf_puts(&conninfo, url);
        if (lm__buf_oom(&conninfo)) {
            rc = LM_ENOMEM;
            goto out;
        }
    } else if ((rc = lm__embedded_conninfo(&conninfo, o.home)) < 0) {
        goto out;
    }
    if ((rc = lm__pool_init(&mem->db.pool, conninfo.ptr, o.pool_size, o.connect_timeout_s)) < 0)
        goto out;
    pool_ready = 1;
    if (mig != NULL) {
        /* Migrations and DDL through the owner's URL; the work URL needs no such rights. */
        if ((mem->db.admin = lm__calloc(1, sizeof(*mem->db.admin))) == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__pool_init(mem->db.admin, mig, o.pool_size, o.connect_timeout_s)) < 0) {
            lm__free(mem->db.admin);
            mem->db.admin = NULL;
            goto out;
        }
        mem->own_admin = 1;
    }
    if (o.statement_timeout_ms == 0) {
        const char *st = env_nonempty("LLMEMORY_STATEMENT_TIMEOUT_MS");
        char *end = NULL;
        long v = 60000;
        if (st != NULL) {
            errno = 0;
            v = strtol(st, &end, 10);
            if (errno != 0 || *end != '\0' || v < 0 || v > INT_MAX) {
                rc = lm__error_set_field(LM_EINVAL, "statement_timeout",
                                         "invalid LLMEMORY_STATEMENT_TIMEOUT_MS \"%.40s\"", st);
                lm__error_detail("Give milliseconds, 0 for no limit.");
                goto out;
            }
        }
        mem->db.pool.statement_timeout_ms = (int)v;
    } else {
        mem->db.pool.statement_timeout_ms = o.statement_timeout_ms > 0 ? o.statement_timeout_ms : 0;
    }
    {
        /* $LLMEMORY_PREPARED_STATEMENTS=off does the same for programs that take no options. */
        const char *ps = env_nonempty("LLMEMORY_PREPARED_STATEMENTS");
        mem->db.pool.no_prepare = o.no_prepared_statements != 0 || (ps && strcmp(ps, "off") == 0);
        /* $LLMEMORY_SQL_FUNCTIONS=off keeps the statement path of earlier versions (to compare
           them, bench/sqlfunc/run.sh). */
        const char *fn = env_nonempty("LLMEMORY_SQL_FUNCTIONS");
        mem->sql_functions = !(fn && strcmp(fn, "off") == 0);
    }
    {
        int bg;
        if ((rc = lm__nice_env(&bg)) < 0)
            goto out;
        mem->db.pool.bg_nice = bg;
        if (mem->own_admin)
            mem->db.admin->bg_nice = bg;
    }
    if (mem->own_admin) {
        /* Migrations and index builds set their own timeouts; the rest is as for the work. */
        mem->db.admin->statement_timeout_ms = mem->db.pool.statement_timeout_ms;
        mem->db.admin->no_prepare = mem->db.pool.no_prepare;
    }
pools_ready: {
        /* Row-level security binds tenant work through the work role (docs/operations.md);
           $LLMEMORY_RLS=off runs it as the connecting role instead. */
        const char *rls = env_nonempty("LLMEMORY_RLS");
        const char *role = env_nonempty("LLMEMORY_DB_ROLE");
        if (rls && strcmp(rls, "off") != 0 && strcmp(rls, "on") != 0) {
            rc = lm__error_set_field(LM_EINVAL, "LLMEMORY_RLS",
                                     "invalid value \"%.40s\" for LLMEMORY_RLS", rls);
            lm__error_hint("Use on or off.");
            goto out;
        }
        if ((rc = lm__db_set_role(&mem->db, rls && strcmp(rls, "off") == 0 ? NULL
                                            : role ? role : "llmemory_app")) < 0)
            goto out;
    }
    if ((rc = lm__migrate(&mem->db)) < 0)
        goto out;
    if (mem->db.proxy) {
        /* A cluster proxy (src/lib/cluster): tenant operations run as its routing functions on
           the shards, which are migrated, registered and role-checked each on its own (the
           shards' functions switch to their recorded work role); the proxy has no tables for a
           work role to be confined on. */
        (void)lm__db_set_role(&mem->db, NULL);
        /* Per-tenant vector indexes are built on the tenant's shard (api/shards.c), with this
           memory's settings. */
        if ((rc = lm__vector_configure(&mem->db, &mem->vec)) < 0)
            goto out;
        if (!o.no_bm25_extension && (rc = lm__bm25_detect_proxy(&mem->db, &mem->bm25)) < 0)
            goto out;
    } else {
        if (automatic && (rc = choose_automatic(mem)) < 0)
            goto out;
        if ((rc = lm__vector_register(&mem->db, &mem->vec)) < 0)
            goto out;
        if ((rc = lm__db_setup_role(&mem->db)) < 0)
            goto out;
        /* The tenant functions switch to the work role that the set-up just recorded; with
           LLMEMORY_RLS=off tenant work stays on the URL's role, which only the statements do. */
        if (mem->db.role[0] == '\0')
            mem->sql_functions = 0;
        if (!o.no_bm25_extension && (rc = lm__bm25_detect(&mem->db, &mem->bm25)) < 0)
            goto out;
    }
    if (mem->db.proxy && (rc = lm__shards_init(mem, lm__memory_open_tenant, lm_memory_close)) < 0)
        goto out;
    lm__vindex_bg_init(&mem->vindex_bg, &mem->db, &mem->vec);
    if (mem->db.proxy) {
        mem->vindex_bg.route = lm__shards_route;
        mem->vindex_bg.route_arg = mem;
    }
    lm__autopack_init(mem);
    lm__erase_bg_init(&mem->erase_bg);
    if ((rc = lm__authfail_init(mem)) < 0 || (rc = lm__keycache_init(mem)) < 0) {
        lm__authfail_dispose(mem);
        lm__erase_bg_dispose(&mem->erase_bg);
        lm__autopack_dispose(mem);
        lm__vindex_bg_dispose(&mem->vindex_bg);
        lm__shards_dispose(mem);
        goto out;
    }
    *out = mem;
    mem = NULL;
out:
    if (mem != NULL) {
        if (pool_ready)
            lm__pool_dispose(&mem->db.pool);
        if (mem->own_admin) {
            lm__pool_dispose(mem->db.admin);
            lm__free(mem->db.admin);
        }
        if (mem->own_embedder)
            lm_embedder_free(mem->vec.embedder);
        lm__rate_dispose(mem);
        lm__free(mem);
    }
    lm_buf_dispose(&conninfo);
    return rc;
}

int lm_memory_open(lm_memory **out, const lm_memory_opts *opts)
{
    lm_memory *mem = NULL;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    if ((rc = memory_open(&mem, opts, NULL)) < 0)
        return rc;
    if ((rc = lm__router_init(mem, opts, lm__memory_open_tenant, lm_memory_close)) < 0) {
        lm__error_saved e;
        lm__error_save(&e); /* closing flushes the usage meter, which may touch the error */
        lm_memory_close(mem);
        lm__error_restore(&e);
        return rc;
    }
    *out = mem;
    return 0;
}

int lm__memory_open_tenant(lm_memory **out, lm_memory *base, const char *schema, const char *url,
                           const char *migrate_url)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;

    /* The routing memory's resolved settings, not the environment's: one configuration. */
    o.database_url = url;
    o.migrate_url = migrate_url;
    o.schema = schema;
    o.pool_size = base->db.pool.size;
    o.connect_timeout_s = base->db.pool.connect_timeout_s;
    o.statement_timeout_ms = base->db.pool.statement_timeout_ms > 0
                                 ? base->db.pool.statement_timeout_ms : -1;
    o.no_prepared_statements = base->db.pool.no_prepare;
    o.disable_history = !base->history;
    o.max_content_bytes = base->max_content_bytes;
    o.max_limit = base->max_limit;
    o.text_config = base->text_config;
    o.bm25_k1 = base->bm25.k1;
    o.bm25_b = base->bm25.b;
    o.no_bm25_extension = base->bm25.ext_schema[0] == '\0';
    o.log_fn = base->db.log_fn;
    o.log_level = base->db.log_level;
    o.log_payload = base->db.log_payload;
    o.embedder = base->vec.embedder;
    o.no_embedder = base->vec.embedder == NULL;
    o.embed_mode = base->embed_mode;
    o.vector_index_threshold = base->vec.index_threshold;
    o.hnsw_m = base->vec.hnsw_m;
    o.hnsw_ef_construction = base->vec.hnsw_ef_construction;
    o.hnsw_ef_search = base->vec.hnsw_ef_search;
    o.rerank_fn = base->rerank_fn;
    o.rerank_payload = base->rerank_payload;
    o.quota_documents = base->quota_default[0] > 0 ? base->quota_default[0] : 0;
    o.quota_chunks = base->quota_default[1] > 0 ? base->quota_default[1] : 0;
    o.quota_bytes = base->quota_default[2] > 0 ? base->quota_default[2] : 0;
    o.quota_vectors = base->quota_default[3] > 0 ? base->quota_default[3] : 0;
    o.rate_adds = base->rate[LM__RATE_ADDS];
    o.rate_searches = base->rate[LM__RATE_SEARCHES];
    o.rate_burst = base->rate_burst_s;
    o.tenancy = LM_TENANCY_SHARED;
    return memory_open(out, &o, url == NULL ? base : NULL);
}

void lm_memory_close(lm_memory *mem)
{
    if (mem == NULL)
        return;
    lm__router_dispose(mem); /* the tenants' memories first: they may use mem's pools */
    lm__erase_bg_dispose(&mem->erase_bg);   /* stops between batches: resumable */
    if (lm__meter_flush(mem) < 0)
        lm__error_clear();
    lm__keycache_dispose(mem);
    lm__authfail_dispose(mem);
    lm__vindex_bg_dispose(&mem->vindex_bg); /* finishes the pending index builds */
    lm__shards_dispose(mem);
    lm__autopack_dispose(mem);
    lm__rate_dispose(mem);
    lm__pool_dispose(&mem->db.pool);
    if (mem->own_admin) {
        lm__pool_dispose(mem->db.admin);
        lm__free(mem->db.admin);
    }
    if (mem->own_embedder)
        lm_embedder_free(mem->vec.embedder);
    lm__free(mem);
}

void lm_memory_wait_index_builds(lm_memory *mem)
{
    if (mem != NULL)
        lm__vindex_bg_wait(&mem->vindex_bg);
}

const char *lm_memory_schema(const lm_memory *mem)
{
    return mem ? mem->db.schema : NULL;
}

lm_embedder *lm_memory_embedder(const lm_memory *mem)
{
    return mem ? mem->vec.embedder : NULL;
}

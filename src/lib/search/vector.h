/*
 * search/vector.h: the vector leg and its storage. Vectors of one dimension share a table
 * (<schema>.vectors_<dim>) keyed by (owner_id, provider_id, chunk_id). There is no global ANN
 * index: a tenant is searched exactly over its own rows until it holds more than a threshold of
 * vectors, when it gets its own partial HNSW index (WHERE owner_id = ... AND provider_id = ...),
 * over a half-precision copy of the vectors where pgvector has halfvec; the few best candidates
 * of such a search are re-ranked by the full-precision distance. So the post-filter trap of one
 * global graph (small tenants losing their results) cannot occur.
 */
#ifndef LM_SEARCH_VECTOR_H
#define LM_SEARCH_VECTOR_H

#include <libpq-fe.h>
#include <pthread.h>

#include "buf.h"
#include "db/db.h"
#include "llmemory/embed.h"
#include "llmemory/search.h"

typedef struct lm__vec_cfg {
    lm_embedder *embedder; /* NULL: no vector search */
    char provider_id[128];
    int dim;
    char table[112];       /* quoted "schema".vectors_<dim> */
    char table_name[32];   /* vectors_<dim> */
    int index_threshold;   /* < 0: never build per-tenant indexes */
    int max_per_tenant;    /* indexes of one tenant; < 0: no cap */
    int max_per_tree;      /* indexes of a tenant and its sub-tenants; < 0: no cap */
    int hnsw_m, hnsw_ef_construction, hnsw_ef_search;
    int halfvec;           /* the server's pgvector has halfvec: indexes are built over it */
} lm__vec_cfg;

/* At open: create the vector table of the embedder's dimension if needed, register the provider
 * and make it the default; when the default changes, queue every searchable chunk for
 * re-embedding. */
int lm__vector_register(lm__db *db, lm__vec_cfg *cfg);
/* The embedder's dimension, provider and table names in @p cfg, without the database (a cluster
 * proxy: the shards register the provider each on their own). */
int lm__vector_configure(const lm__db *db, lm__vec_cfg *cfg);

/* The memory's default provider id into @p out (cap bytes), "" when it has none yet. */
int lm__vector_default_provider(lm__db *db, char *out, size_t cap);

/* '[x1,x2,...]' pgvector text of @p v. */
void lm__vector_literal(lm_buf *b, const float *v, int dim);

/* Embed @p n texts in batches (the embedder batches HTTP requests itself). */
int lm__vector_embed(const lm__vec_cfg *cfg, float *out, const char *const *texts,
                     const size_t *lens, size_t n);

/* The same for search queries (the model's query prefix, lm_embedder_embed_query()). */
int lm__vector_embed_query(const lm__vec_cfg *cfg, float *out, const char *const *texts,
                           const size_t *lens, size_t n);

typedef struct lm__vec_req {
    const char *owner_id;
    const float *query;   /* dim floats */
    int limit;
    const lm_search_opts *opts; /* filters */
} lm__vec_req;

/* The vector leg: columns chunk_no, similarity (1 - cosine distance), best first. */
int lm__vector_search(PGresult **out, lm__tx *tx, const lm__vec_cfg *cfg, const lm__vec_req *req);

/* SQL for the number of nodes in the tenant's graph, estimated from the index's size (one
 * node of d dimensions takes about 2d + 290 bytes in half precision, 4d + 290 in full, at
 * m = 16, 4% more at m = 24), which follows every insert without counting rows. Over $5 the
 * dimension, $6 the schema and the tenant's vector_indexes row vi. */
#define LM__VECTOR_NODES_SQL                                                                      \
    "(pg_relation_size(to_regclass(quote_ident($6) || '.' || quote_ident(vi.index_name)))"        \
    " / 8192.0 * greatest(1, floor(8160.0 / ((CASE vi.element_type WHEN 'halfvec' THEN 2"          \
    " ELSE 4 END) * $5::int + 290))))"

/* SQL for the ef_search of one search ($1 the fixed setting or 0, $4 the limit, and the above):
 * a graph of n nodes gets max(64, sqrt(n) / 2), half as much again above 768 dimensions, never
 * below the limit, at most pgvector's 1000; no graph (exact search) 40.
 * Why: on clustered data a 55,000-node graph searched with ef_search 40-64 sends some queries
 * into the wrong cluster (recall 0.0 for those, mean 0.956-0.976); 100-200 reach every
 * query's cluster (mean 0.994, worst 0.9). A 1,929-node graph of bench/scale --small got
 * 0.987 (worst 0.8) at 40, 0.997 (worst 0.9) at 64: hence the floor. docs/vector-search.md. */
#define LM__VECTOR_EF_SQL                                                                         \
    "least(1000, greatest($4::int, CASE WHEN $1::int > 0 THEN $1::int"                             \
    " WHEN vi.index_name IS NULL THEN 40"                                                         \
    " ELSE coalesce(ceil(CASE WHEN $5::int > 768 THEN 1.5 ELSE 1 END"                              \
    " * greatest(64, 0.5 * sqrt(" LM__VECTOR_NODES_SQL ")))::int, 40) END))"

/* maintenance_work_mem (kB) for building the graph of @p rows vectors of @p dim dimensions
 * (@p half: halfvec) at @p m: enough for pgvector to keep the whole graph in memory (a node
 * takes its value, about 200 bytes of bookkeeping and 2m neighbour slots of 16 bytes on its
 * lowest layer; a fifth more for the allocator and rows added during the build), at least 64 MB
 * and at most LM__VINDEX_BUILD_MEM_MAX_KB. Why: past the setting pgvector goes on inserting
 * into the graph on disk, several times slower; with a fixed 64 MB a 96,000-vector tenant took
 * 10 minutes, and tenants of more than about 40,000 vectors spilled. */
#define LM__VINDEX_BUILD_MEM_MIN_KB (64L * 1024)
#define LM__VINDEX_BUILD_MEM_MAX_KB (2048L * 1024)
long lm__vector_build_mem_kb(long rows, int dim, int half, int m);

/* After a write: give the tenant its own HNSW index once it passes the threshold. Runs outside
 * any transaction (CREATE INDEX CONCURRENTLY); failures are logged, not returned. */
void lm__vector_maybe_index(lm__db *db, const lm__vec_cfg *cfg, const char *owner_id);

/* Index builds off the request path: lm_doc_add() hands the tenant to one builder thread per
 * memory (started on first use) and returns; the thread runs lm__vector_maybe_index(). Until the
 * build has finished and recorded the index, the tenant's searches stay exact (the ORDER BY
 * matches no index), so there is no recall dip. */
typedef struct lm__vindex_bg {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    pthread_t th;
    int started, stop, busy;
    char **owners; /* pending tenants, each once */
    size_t n, cap;
    lm__db *db;
    const lm__vec_cfg *cfg;
    /* Set on a cluster proxy: where a tenant's index is built (its shard's database and vector
       settings); a failure is logged and the build skipped. */
    int (*route)(void *arg, const char *owner_id, lm__db **db, const lm__vec_cfg **cfg);
    void *route_arg;
} lm__vindex_bg;

void lm__vindex_bg_init(lm__vindex_bg *bg, lm__db *db, const lm__vec_cfg *cfg);
/* Queue @p owner_id for a check (and a build if it needs one). Out of memory or no thread:
   builds inline, as before. */
void lm__vindex_bg_request(lm__vindex_bg *bg, const char *owner_id);
/* Wait until nothing is pending or building. */
void lm__vindex_bg_wait(lm__vindex_bg *bg);
/* Finish what is pending, stop the thread (lm_memory_close()). */
void lm__vindex_bg_dispose(lm__vindex_bg *bg);

#endif

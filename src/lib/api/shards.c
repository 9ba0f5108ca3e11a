/*
 * api/shards.c: the maintenance of a memory opened on a cluster proxy (docs/cluster.md). Tenant
 * operations go through the proxy's routing functions; the work on a shard's data that is no
 * single function call runs on the shards themselves: each tenant's vector index is built on
 * the shard that holds the tenant (serialised per schema and capped per tenant there, as on one
 * server), and the embedding worker claims and writes on every shard. The memory opens a memory
 * for each shard on first need, with the URL the proxy's cluster_shards lists (the one
 * `llmemory cluster` uses too) and this memory's settings, and keeps it until it is closed.
 *
 * Concurrency: one mutex guards the list; a shard's memory is opened under it (rare: once per
 * shard), and used outside it (memories are thread-safe).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "error.h"

typedef struct shard {
    int no;
    char *url;
    lm_memory *mem;
} shard;

struct lm__shards {
    pthread_mutex_t mu;
    shard *v;
    size_t n, cap;
    lm__tenant_open_fn open_fn;
    void (*close_fn)(lm_memory *);
};

int lm__shards_init(lm_memory *mem, lm__tenant_open_fn open_fn, void (*close_fn)(lm_memory *))
{
    struct lm__shards *s = lm__calloc(1, sizeof(*s));
    if (s == NULL)
        return lm__error_set(LM_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->open_fn = open_fn;
    s->close_fn = close_fn;
    mem->shards = s;
    return 0;
}

/* The memory of shard @p no at @p url, opened now if this is its first use (or its URL
   changed: the older memory stays open until the proxy's memory closes). */
static int shard_memory(lm_memory *mem, int no, const char *url, lm_memory **out)
{
    struct lm__shards *s = mem->shards;
    shard *e = NULL;
    int rc = 0;
    *out = NULL;
    if (s == NULL)
        return lm__error_set(LM_EINVAL, "the memory is not on a cluster proxy");
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].no == no && strcmp(s->v[i].url, url) == 0) {
            *out = s->v[i].mem;
            goto out;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        shard *grown = lm__realloc(s->v, cap * sizeof(*grown));
        if (grown == NULL) {
            rc = lm__error_set(LM_ENOMEM, "out of memory");
            goto out;
        }
        s->v = grown;
        s->cap = cap;
    }
    e = &s->v[s->n];
    if ((e->url = lm__strdup(url)) == NULL) {
        rc = lm__error_set(LM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = s->open_fn(&e->mem, mem, mem->db.schema, url, NULL)) < 0) {
        lm__free(e->url);
        char msg[300];
        snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
        lm__error_set(rc, "could not open shard %d of the cluster", no);
        lm__error_detail("%s", msg);
        goto out;
    }
    e->no = no;
    e->mem->vec.max_per_tenant = mem->vec.max_per_tenant;
    e->mem->vec.max_per_tree = mem->vec.max_per_tree;
    *out = e->mem;
    s->n++;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The proxy's shards (@p owner_id NULL: all; else the tenant's), as (shard_no, conninfo) rows. */
static int shard_rows(lm_memory *mem, const char *owner_id, PGresult **out)
{
    PGconn *c = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *S = mem->db.qschema;
    const char *p[1] = {owner_id};
    int rc;
    *out = NULL;
    if (owner_id != NULL)
        lm__buf_printf(&sql, "SELECT s.shard_no, s.conninfo FROM %s.cluster_shards s"
                             " WHERE s.shard_no = %s.cluster_shard_of($1)", S, S);
    else
        lm__buf_printf(&sql, "SELECT s.shard_no, s.conninfo FROM %s.cluster_shards s"
                             " ORDER BY s.shard_no", S);
    if (lm__buf_oom(&sql))
        return LM_ENOMEM;
    if ((rc = lm__pool_acquire(&c, &mem->db.pool)) == 0) {
        rc = lm__db_exec(out, c, sql.ptr, owner_id ? 1 : 0, p);
        lm__pool_release(&mem->db.pool, c);
    }
    lm_buf_dispose(&sql);
    return rc;
}

int lm__shards_memory(lm_memory *mem, const char *owner_id, lm_memory **out)
{
    PGresult *r = NULL;
    int rc = shard_rows(mem, owner_id, &r);
    *out = NULL;
    if (rc == 0 && PQntuples(r) != 1)
        rc = lm__error_set(LM_ENOTFOUND, "the cluster has no shard for tenant \"%s\"", owner_id);
    if (rc == 0)
        rc = shard_memory(mem, (int)strtol(PQgetvalue(r, 0, 0), NULL, 10), PQgetvalue(r, 0, 1),
                          out);
    PQclear(r);
    return rc;
}

int lm__shards_route(void *arg, const char *owner_id, lm__db **db, const lm__vec_cfg **cfg)
{
    lm_memory *sm = NULL;
    int rc = lm__shards_memory(arg, owner_id, &sm);
    if (rc < 0)
        return rc;
    *db = &sm->db;
    *cfg = &sm->vec;
    return 0;
}

/* Every shard in order, one that is down or fails notwithstanding: the first failure is
   reported. With @p find, the walk stops at the first shard for which @p fn returns 1. */
static int walk(lm_memory *mem, int (*fn)(lm_memory *shard_mem, void *arg), void *arg, int find)
{
    PGresult *r = NULL;
    int rc = shard_rows(mem, NULL, &r), first = 0;
    lm__error_saved saved;
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        lm_memory *sm = NULL;
        rc = shard_memory(mem, (int)strtol(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1), &sm);
        if (rc == 0)
            rc = fn(sm, arg);
        if (rc < 0 && first == 0) {
            first = rc;
            lm__error_save(&saved);
        }
        if (find && rc == 1) {
            PQclear(r);
            lm__error_clear();
            return 1;
        }
    }
    PQclear(r);
    if (first < 0)
        lm__error_restore(&saved);
    return first;
}

int lm__shards_each(lm_memory *mem, int (*fn)(lm_memory *shard_mem, void *arg), void *arg)
{
    return walk(mem, fn, arg, 0);
}

int lm__shards_find(lm_memory *mem, int (*fn)(lm_memory *shard_mem, void *arg), void *arg)
{
    return walk(mem, fn, arg, 1);
}

void lm__shards_dispose(lm_memory *mem)
{
    struct lm__shards *s = mem->shards;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        s->close_fn(s->v[i].mem);
        lm__free(s->v[i].url);
    }
    lm__free(s->v);
    pthread_mutex_destroy(&s->mu);
    lm__free(s);
    mem->shards = NULL;
}

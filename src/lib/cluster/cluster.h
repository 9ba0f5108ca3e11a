/*
 * cluster/cluster.h: what cluster.c and move.c share: connections to the proxy and the shards
 * (libpq, outside any pool: cluster operations are rare and administrative) and the shard list.
 */
#ifndef LM_CLUSTER_INTERNAL_H
#define LM_CLUSTER_INTERNAL_H

#include <stddef.h>

#include "db/db.h"

/* One row of the proxy's cluster_shards. */
typedef struct lm__cluster_shard_row {
    int shard_no;
    int in_hash;
    char *conninfo;
} lm__cluster_shard_row;

/* The schema (NULL: $LLMEMORY_SCHEMA, else "llmemory") validated into db's schema fields. */
int lm__cluster_schema(lm__db *db, const char *schema);
/* Connect to @p url (@p what names it in errors), with llmemory.maintenance on for the session. */
int lm__cluster_connect(PGconn **out, const char *url, const char *what);
/* lm__cluster_connect() to a database that must be a proxy of db's schema (else LM_ECONFLICT). */
int lm__cluster_open_proxy(PGconn **out, const lm__db *db, const char *proxy_url);
/* lm__db_exec() of printf-formatted SQL. */
int lm__cluster_exec_fmt(PGconn *c, PGresult **out, int n, const char *const *params,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int lm__cluster_shards(PGconn *proxy, const lm__db *db, lm__cluster_shard_row **out, size_t *n);
void lm__cluster_shards_free(lm__cluster_shard_row *v, size_t n);

#endif

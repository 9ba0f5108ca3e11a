/*
 * cluster/cluster.c: sharded mode (llmemory/cluster.h, docs/cluster.md). The proxy database holds
 * the shard list, the per-tenant placement and one PL/Proxy function per tenant operation of the
 * shards, generated from their catalog (sync_routing): lm_<op>(p_owner, ...) runs on
 * cluster_shard_of(p_owner), lm_all_<op>(...) on every shard. PL/Proxy finds the shards through
 * the plproxy.get_cluster_* functions installed here, which read the schema's cluster_shards:
 * the cluster is named after the schema, its partitions are the shards in order, repeated up to
 * the next power of two (PL/Proxy's rule; a repeated database is run on once by RUN ON ALL).
 * Tenant moves are in move.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llmemory.h>
#include <llmemory/cluster.h>

#include "alloc.h"
#include "buf.h"
#include "cluster/cluster.h"
#include "error.h"

/* What a proxy database holds besides the routing functions. {{schema}} is the quoted schema,
   {{name}} the schema as a string literal (the cluster's name). */
static const char proxy_sql[] =
    "CREATE EXTENSION IF NOT EXISTS plproxy;\n"
    "CREATE SCHEMA IF NOT EXISTS plproxy;\n"
    /* The routing state: a version PL/Proxy compares to reload the partitions. */
    "CREATE SCHEMA IF NOT EXISTS {{schema}};\n"
    /* The version of each cluster's shard list, which PL/Proxy reads on every call (a plain
       lookup: no dynamic SQL on that path). */
    "CREATE TABLE IF NOT EXISTS plproxy.llmemory_clusters (\n"
    "    cluster_name text    NOT NULL PRIMARY KEY,\n"
    "    version      integer NOT NULL);\n"
    "INSERT INTO plproxy.llmemory_clusters (cluster_name, version) VALUES ({{name}}, 1)\n"
    "    ON CONFLICT (cluster_name) DO UPDATE SET version = plproxy.llmemory_clusters.version + 1;\n"
    "CREATE TABLE {{schema}}.cluster_shards (\n"
    "    shard_no integer     NOT NULL PRIMARY KEY CHECK (shard_no >= 0),\n"
    "    conninfo text        NOT NULL,\n"
    "    in_hash  boolean     NOT NULL,\n"
    "    added_at timestamptz NOT NULL DEFAULT now());\n"
    "CREATE TABLE {{schema}}.cluster_placement (\n"
    "    owner_id  text        NOT NULL PRIMARY KEY,\n"
    "    shard_no  integer     NOT NULL REFERENCES {{schema}}.cluster_shards,\n"
    "    version   bigint      NOT NULL DEFAULT 1,\n"
    "    placed_at timestamptz NOT NULL DEFAULT now());\n"
    /* What the library on the proxy reads at open instead of asking a shard: the BM25
       extension all shards have (its schema, whether tenant work calls it through the
       schema's llmemory_bm25_tenant function, its build id); no row when they differ. */
    "CREATE TABLE {{schema}}.cluster_settings (\n"
    "    key   text NOT NULL PRIMARY KEY,\n"
    "    value text NOT NULL);\n"
    /* The shard of a tenant: its placement, else a hash over the shards the cluster began with
       (a shard added later never changes where an unplaced tenant hashes). */
    "CREATE FUNCTION {{schema}}.cluster_shard_of(p_owner text) RETURNS integer\n"
    "LANGUAGE plpgsql STABLE AS $fn$\n" /* plpgsql: its plans are kept for the session */
    "DECLARE s integer;\n"
    "BEGIN\n"
    "    SELECT p.shard_no INTO s FROM {{schema}}.cluster_placement p WHERE p.owner_id = p_owner;\n"
    "    IF FOUND THEN\n"
    "        RETURN s;\n"
    "    END IF;\n"
    "    SELECT h.shard_no INTO s FROM {{schema}}.cluster_shards h WHERE h.in_hash\n"
    "     ORDER BY h.shard_no\n"
    "    OFFSET (hashtext(p_owner)::bigint & 2147483647)\n"
    "           % (SELECT count(*) FROM {{schema}}.cluster_shards c WHERE c.in_hash)\n"
    "     LIMIT 1;\n"
    "    RETURN s;\n"
    "END\n"
    "$fn$;\n"
    /* PL/Proxy's configuration: cluster = schema name. A shard connection gives up after 5 s
       (the operation then fails as unavailable) unless its conninfo says otherwise. */
    "CREATE OR REPLACE FUNCTION plproxy.get_cluster_version(cluster_name text) RETURNS integer\n"
    "LANGUAGE sql STABLE AS $fn$\n"
    "    SELECT c.version FROM plproxy.llmemory_clusters c WHERE c.cluster_name = $1\n"
    "$fn$;\n"    "CREATE OR REPLACE FUNCTION plproxy.get_cluster_partitions(cluster_name text)\n"
    "RETURNS SETOF text LANGUAGE plpgsql STABLE AS $fn$\n"
    "BEGIN\n"
    "    RETURN QUERY EXECUTE format(\n"
    "        'WITH s AS (SELECT shard_no, CASE WHEN conninfo ~ ''connect_timeout'' THEN conninfo'\n"
    "        '                  WHEN conninfo ~ ''^postgres(ql)?://'' THEN conninfo'\n"
    "        '                       || CASE WHEN strpos(conninfo, ''?'') > 0 THEN ''&'' ELSE ''?'' END'\n"
    "        '                       || ''connect_timeout=5'''\n"
    "        '                  ELSE conninfo || '' connect_timeout=5'' END AS c,'\n"
    "        '                  count(*) OVER () AS n FROM %I.cluster_shards)'\n"
    "        ' SELECT s.c FROM s, generate_series(0, (SELECT (2 ^ ceil(log(2, max(n))))::int - 1'\n"
    "        '                                          FROM s)) p'\n"
    "        '  WHERE s.shard_no = p %% s.n ORDER BY p', cluster_name);\n"
    "END\n"
    "$fn$;\n"
    "CREATE OR REPLACE FUNCTION plproxy.get_cluster_config(IN cluster_name text, OUT key text,\n"
    "                                                      OUT val text) RETURNS SETOF record\n"
    "LANGUAGE sql STABLE AS $fn$ SELECT 'connection_lifetime'::text, '1800'::text $fn$;\n"
    /* The marker lm_memory_open() looks for: this schema is a proxy, not a database to migrate. */
    "COMMENT ON TABLE {{schema}}.cluster_shards IS 'llmemory cluster proxy';\n";

int lm__cluster_schema(lm__db *db, const char *schema)
{
    const char *env = getenv("LLMEMORY_SCHEMA");
    if (schema == NULL || schema[0] == '\0')
        schema = env != NULL && env[0] != '\0' ? env : "llmemory";
    memset(db, 0, sizeof(*db));
    /* PL/Proxy's function bodies take plain (unquoted, so lower-case) names only. */
    for (const char *c = schema; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            return lm__error_set_field(LM_EINVAL, "schema",
                                       "the schema of a cluster must be lower case: \"%.63s\"",
                                       schema);
    return lm__db_set_schema(db, schema);
}

/* Replace {{schema}} with the quoted schema and {{name}} with the schema as a literal. */
static void expand(lm_buf *out, const char *sql, const lm__db *db)
{
    const char *p = sql;
    for (;;) {
        const char *a = strstr(p, "{{schema}}"), *b = strstr(p, "{{name}}");
        const char *q = a != NULL && (b == NULL || a < b) ? a : b;
        if (q == NULL) {
            lm__buf_puts(out, p);
            return;
        }
        lm__buf_put(out, p, (size_t)(q - p));
        if (q == a) {
            lm__buf_puts(out, db->qschema);
            p = q + strlen("{{schema}}");
        } else {
            lm__buf_printf(out, "'%s'", db->schema);
            p = q + strlen("{{name}}");
        }
    }
}

static void quiet(void *payload, const char *message)
{
    (void)payload;
    (void)message;
}

int lm__cluster_connect(PGconn **out, const char *url, const char *what)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "10", "llmemory cluster", NULL};
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return lm__error_set(LM_EINVAL, "no database URL for the %s", what);
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL)
        return lm__error_set(LM_ENOMEM, "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(c);
        lm__error_set(LM_ECONN, "could not connect to the %s", what);
        lm__error_detail("%s", msg);
        return LM_ECONN;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    /* The tables force row-level security on their owner too: this session reads and writes
       every tenant's rows under the maintenance policy. */
    PGresult *r = PQexec(c, "SELECT set_config('llmemory.maintenance', 'on', false)");
    int rc = lm__db_result(NULL, c, r);
    if (rc < 0) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return 0;
}

int lm__cluster_exec_fmt(PGconn *c, PGresult **out, int n, const char *const *params,
                         const char *fmt, ...)
{
    lm_buf sql = LM_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    lm__buf_vprintf(&sql, fmt, ap);
    va_end(ap);
    if (lm__buf_oom(&sql)) {
        lm_buf_dispose(&sql);
        return lm__error_set(LM_ENOMEM, "out of memory");
    }
    int rc = lm__db_exec(out, c, sql.ptr, n, params);
    lm_buf_dispose(&sql);
    return rc;
}

/* Whether @p c's database is a proxy of @p db's schema (the cluster_shards table). */
static int is_proxy(PGconn *c, const lm__db *db, int *yes)
{
    PGresult *r = NULL;
    const char *p[1] = {db->schema};
    int rc = lm__db_exec(&r, c,
                         "SELECT to_regclass(format('%I.cluster_shards', $1::text)) IS NOT NULL",
                         1, p);
    if (rc < 0)
        return rc;
    *yes = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

int lm__cluster_open_proxy(PGconn **out, const lm__db *db, const char *proxy_url)
{
    int yes = 0, rc = lm__cluster_connect(out, proxy_url, "proxy database");
    if (rc < 0)
        return rc;
    if ((rc = is_proxy(*out, db, &yes)) < 0 || !yes) {
        PQfinish(*out);
        *out = NULL;
        if (rc < 0)
            return rc;
        lm__error_set(LM_ECONFLICT, "the database is not a llmemory cluster proxy of schema \"%s\"",
                      db->schema);
        lm__error_hint("Create one with \"llmemory cluster init --proxy URL --shard URL...\".");
        return LM_ECONFLICT;
    }
    return 0;
}

int lm__cluster_shards(PGconn *proxy, const lm__db *db, lm__cluster_shard_row **out, size_t *n)
{
    PGresult *r = NULL;
    *out = NULL;
    *n = 0;
    int rc = lm__cluster_exec_fmt(proxy, &r, 0, NULL,
                                  "SELECT shard_no, conninfo, in_hash FROM %s.cluster_shards "
                                  "ORDER BY shard_no", db->qschema);
    if (rc < 0)
        return rc;
    size_t k = (size_t)PQntuples(r);
    lm__cluster_shard_row *v = lm__calloc(k ? k : 1, sizeof(*v));
    if (v == NULL) {
        PQclear(r);
        return lm__error_set(LM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < k; i++) {
        v[i].shard_no = (int)strtol(PQgetvalue(r, (int)i, 0), NULL, 10);
        v[i].conninfo = lm__strdup(PQgetvalue(r, (int)i, 1));
        v[i].in_hash = PQgetvalue(r, (int)i, 2)[0] == 't';
        if (v[i].conninfo == NULL) {
            PQclear(r);
            lm__cluster_shards_free(v, i);
            return lm__error_set(LM_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    *out = v;
    *n = k;
    return 0;
}

void lm__cluster_shards_free(lm__cluster_shard_row *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        lm__free(v[i].conninfo);
    lm__free(v);
}

/* Open the shard as an ordinary llmemory database (which migrates it), then give it its
   identity range. */
static int prepare_shard(const lm__db *db, const char *url, int shard_no)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    lm_memory *mem = NULL;
    PGconn *c = NULL;
    char no[16];
    int rc;
    o.database_url = url;
    o.schema = db->schema;
    if ((rc = lm_memory_open(&mem, &o)) < 0) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
        lm__error_set(rc, "could not prepare shard %d", shard_no);
        lm__error_detail("%s", msg);
        return rc;
    }
    lm_memory_close(mem);
    if ((rc = lm__cluster_connect(&c, url, "shard")) < 0)
        return rc;
    snprintf(no, sizeof(no), "%d", shard_no);
    const char *p[1] = {no};
    rc = lm__cluster_exec_fmt(c, NULL, 1, p, "SELECT %s.cluster_identity_range($1::integer)",
                              db->qschema);
    PQfinish(c);
    return rc;
}

/* The BM25 extension of the shards, recorded in the proxy's cluster_settings when every shard
   has the same (schema, tenant function, build id); otherwise nothing is recorded and searches
   through the proxy use the SQL path (same results, slower). */
static int record_bm25(PGconn *proxy, const lm__db *db, const lm__cluster_shard_row *v, size_t n)
{
    char got[3][128] = {"", "", ""};
    int same = n > 0, rc;
    char lit[80];
    snprintf(lit, sizeof(lit), "'%s'", db->schema);
    for (size_t i = 0; i < n && same; i++) {
        PGconn *c = NULL;
        PGresult *r = NULL, *b = NULL;
        if ((rc = lm__cluster_connect(&c, v[i].conninfo, "shard")) < 0)
            return rc;
        rc = lm__cluster_exec_fmt(c, &r, 0, NULL,
                                  "SELECT quote_ident(n.nspname), EXISTS (SELECT 1 FROM pg_proc p"
                                  "  WHERE p.proname = 'llmemory_bm25_tenant'"
                                  "    AND p.pronamespace = %s::regnamespace)"
                                  "  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                                  " WHERE e.extname = 'llmemory_bm25'",
                                  lit);
        if (rc == 0 && PQntuples(r) == 1)
            rc = lm__cluster_exec_fmt(c, &b, 0, NULL, "SELECT %s.llmemory_bm25_build_id()",
                                      PQgetvalue(r, 0, 0));
        if (rc < 0) {
            lm__error_clear(); /* an extension that cannot say its build is not used */
            rc = 0;
        }
        if (b != NULL) {
            const char *now[3] = {PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(b, 0, 0)};
            for (int k = 0; k < 3; k++) {
                if (i == 0)
                    snprintf(got[k], sizeof(got[k]), "%s", now[k]);
                else if (strcmp(got[k], now[k]) != 0)
                    same = 0;
            }
        } else {
            same = 0;
        }
        PQclear(r);
        PQclear(b);
        PQfinish(c);
    }
    rc = lm__cluster_exec_fmt(proxy, NULL, 0, NULL,
                              "DELETE FROM %s.cluster_settings WHERE key LIKE 'bm25\\_%%'",
                              db->qschema);
    if (rc == 0 && same) {
        const char *p[3] = {got[0], got[1], got[2]};
        rc = lm__cluster_exec_fmt(proxy, NULL, 3, p,
                                  "INSERT INTO %s.cluster_settings (key, value) VALUES"
                                  " ('bm25_ext_schema', $1), ('bm25_ext_tenant', $2),"
                                  " ('bm25_build_id', $3)",
                                  db->qschema);
    }
    return rc;
}

/* ---- routing: one proxy function per tenant operation of the shards ------------------------- */

/* Types of the schema that the operations' signatures use (composite and enum): the proxy
   needs their twins. The shard session runs with search_path = pg_catalog, so every type name
   below comes out qualified. */
static const char types_sql[] =
    "SELECT DISTINCT t.typname::text, t.typtype::text,"
    " CASE t.typtype WHEN 'c' THEN (SELECT string_agg(format('%%I %%s', a.attname,"
    "                                 format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)"
    "                             FROM pg_attribute a WHERE a.attrelid = t.typrelid"
    "                              AND a.attnum > 0 AND NOT a.attisdropped)"
    "  ELSE (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)"
    "          FROM pg_enum e WHERE e.enumtypid = t.oid) END"
    "  FROM pg_proc p"
    " CROSS JOIN LATERAL unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])"
    "                           || p.prorettype) u(oid)"
    "  JOIN pg_type t ON t.oid = u.oid OR t.typarray = u.oid"
    " WHERE p.pronamespace = %s::regnamespace AND p.proname LIKE 'lm\\_%%' AND p.prokind = 'f'"
    "   AND p.proname NOT LIKE 'lm\\_\\_%%'"
    "   AND t.typnamespace = %s::regnamespace AND t.typtype IN ('c', 'e')"
    " ORDER BY 1";

static const char funcs_sql[] =
    "SELECT p.proname::text, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),"
    "       coalesce(p.proargnames[1], '') = 'p_owner'"
    "         AND coalesce(p.proargmodes[1], 'i') = 'i' AND p.pronargs >= 1"
    "         AND p.proargtypes[0] = 'text'::regtype,"
    "       p.proname LIKE 'lm\\_all\\_%%', p.proretset, p.pronargs,"
    "       format_type(p.prorettype, NULL), p.prorettype::regtype::text,"
    /* whether the shard's function is closed to PUBLIC (REVOKE ... FROM PUBLIC): its proxy
       function is then closed too, or a call through the proxy (which reaches the shard as the
       cluster's role) would open it to every role of the proxy */
    "       p.proacl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
    "         WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'),"
    "       pg_get_function_identity_arguments(p.oid)"
    "  FROM pg_proc p"
    " WHERE p.pronamespace = %s::regnamespace AND p.proname LIKE 'lm\\_%%' AND p.prokind = 'f'"
    "   AND p.proname NOT LIKE 'lm\\_\\_%%'"
    " ORDER BY 1, 2";

/* The outer SQL of an lm_all_ function that returns one value: how the shards' values
   combine, or NULL when they cannot (such a function is not routed). */
static const char *combine_of(const char *rettype)
{
    static const char *const sums[] = {"bigint", "integer", "smallint", "numeric",
                                       "double precision", "real", NULL};
    for (int i = 0; sums[i]; i++)
        if (strcmp(rettype, sums[i]) == 0)
            return "sum";
    if (strcmp(rettype, "boolean") == 0)
        return "bool_and";
    return NULL;
}

static int route_one(PGconn *proxy, const lm__db *db, PGresult *f, int row, int *routed)
{
    const char *name = PQgetvalue(f, row, 0), *args = PQgetvalue(f, row, 1);
    const char *result = PQgetvalue(f, row, 2), *rettype = PQgetvalue(f, row, 7);
    int owner_first = PQgetvalue(f, row, 3)[0] == 't', all = PQgetvalue(f, row, 4)[0] == 't';
    int retset = PQgetvalue(f, row, 5)[0] == 't', nargs = (int)strtol(PQgetvalue(f, row, 6), NULL, 10);
    int closed = PQgetvalue(f, row, 9)[0] == 't';
    const char *ident = PQgetvalue(f, row, 10);
    lm_buf sql = LM_BUF_INIT;
    int rc = 0;

    if (all && !retset) {
        const char *agg = combine_of(rettype);
        if (agg == NULL) {
            /* Not routable: says so in lm_cluster_sync's count (n_routed) and the log. */
            return 0;
        }
        /* The shards' values through a set-returning twin, combined by the proxy. */
        lm__buf_printf(&sql,
                       "CREATE FUNCTION %s.\"cluster__%s\"(%s) RETURNS SETOF %s LANGUAGE plproxy"
                       " AS $pl$ CLUSTER '%s'; RUN ON ALL; TARGET %s.%s; $pl$;\n"
                       "CREATE FUNCTION %s.%s(%s) RETURNS %s LANGUAGE sql AS $fn$"
                       " SELECT %s(x)::%s FROM %s.\"cluster__%s\"(",
                       db->qschema, name, args, rettype, db->schema, db->schema, name,
                       db->qschema, name, args, result, agg, rettype, db->qschema, name);
        for (int i = 1; i <= nargs; i++)
            lm__buf_printf(&sql, "%s$%d", i > 1 ? ", " : "", i);
        lm__buf_puts(&sql, ") x $fn$;");
        if (closed)
            lm__buf_printf(&sql, "REVOKE ALL ON FUNCTION %s.\"cluster__%s\"(%s) FROM PUBLIC;",
                           db->qschema, name, ident);
    } else if (all) {
        lm__buf_printf(&sql,
                       "CREATE FUNCTION %s.%s(%s) RETURNS %s LANGUAGE plproxy AS $pl$"
                       " CLUSTER '%s'; RUN ON ALL; $pl$",
                       db->qschema, name, args, result, db->schema);
    } else if (owner_first) {
        lm__buf_printf(&sql,
                       "CREATE FUNCTION %s.%s(%s) RETURNS %s LANGUAGE plproxy AS $pl$"
                       " CLUSTER '%s'; RUN ON %s.cluster_shard_of(p_owner); $pl$",
                       db->qschema, name, args, result, db->schema, db->schema);
    } else {
        return 0; /* not a tenant operation: stays on the shards */
    }
    if (closed)
        lm__buf_printf(&sql, ";REVOKE ALL ON FUNCTION %s.%s(%s) FROM PUBLIC", db->qschema, name,
                       ident);
    if (lm__buf_oom(&sql))
        rc = lm__error_set(LM_ENOMEM, "out of memory");
    else if ((rc = lm__db_script(proxy, sql.ptr)) < 0) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
        lm__error_set(rc, "could not create the routing function of %s", name);
        lm__error_detail("%s", msg);
    } else
        (*routed)++;
    lm_buf_dispose(&sql);
    return rc;
}

/* Inside the caller's transaction on @p proxy: drop the generated functions and types, then
   create them again from shard @p shard's catalog. */
static int sync_routing(PGconn *proxy, PGconn *shard, const lm__db *db, int *n_routed)
{
    PGresult *types = NULL, *funcs = NULL, *old = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc, routed = 0;
    char lit[80];
    snprintf(lit, sizeof(lit), "'%s'", db->schema);

    if ((rc = lm__db_exec(NULL, shard, "SET search_path = pg_catalog", 0, NULL)) < 0 ||
        (rc = lm__cluster_exec_fmt(shard, &types, 0, NULL, types_sql, lit, lit)) < 0 ||
        (rc = lm__cluster_exec_fmt(shard, &funcs, 0, NULL, funcs_sql, lit)) < 0)
        goto out;
    /* What an earlier sync made: PL/Proxy functions, their SQL wrappers, the twin types. */
    rc = lm__cluster_exec_fmt(
        proxy, &old, 0, NULL,
        "SELECT format('DROP FUNCTION IF EXISTS %%s CASCADE', p.oid::regprocedure) FROM pg_proc p"
        " WHERE p.pronamespace = %s::regnamespace AND p.proname LIKE 'lm\\_%%'"
        "    OR p.pronamespace = %s::regnamespace AND p.proname LIKE 'cluster\\_\\_%%'"
        " UNION ALL SELECT format('DROP TYPE IF EXISTS %%s CASCADE', t.oid::regtype) FROM pg_type t"
        " LEFT JOIN pg_class c ON c.oid = t.typrelid"
        " WHERE t.typnamespace = %s::regnamespace AND (t.typtype = 'e' OR c.relkind = 'c')",
        lit, lit, lit);
    if (rc < 0)
        goto out;
    for (int i = 0; i < PQntuples(old) && rc == 0; i++)
        rc = lm__db_script(proxy, PQgetvalue(old, i, 0));
    for (int i = 0; i < PQntuples(types) && rc == 0; i++) {
        lm__buf_clear(&sql);
        if (PQgetvalue(types, i, 1)[0] == 'c')
            lm__buf_printf(&sql, "CREATE TYPE %s.\"%s\" AS (%s)", db->qschema,
                           PQgetvalue(types, i, 0), PQgetvalue(types, i, 2));
        else
            lm__buf_printf(&sql, "CREATE TYPE %s.\"%s\" AS ENUM (%s)", db->qschema,
                           PQgetvalue(types, i, 0), PQgetvalue(types, i, 2));
        rc = lm__buf_oom(&sql) ? lm__error_set(LM_ENOMEM, "out of memory")
                               : lm__db_script(proxy, sql.ptr);
    }
    for (int i = 0; i < PQntuples(funcs) && rc == 0; i++)
        rc = route_one(proxy, db, funcs, i, &routed);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(proxy, NULL, 0, NULL,
                                  "UPDATE plproxy.llmemory_clusters SET version = version + 1"
                                  " WHERE cluster_name = '%s'", db->schema);
    if (rc == 0 && n_routed)
        *n_routed = routed;
out:
    if (PQstatus(shard) == CONNECTION_OK)
        PQclear(PQexec(shard, "RESET search_path"));
    PQclear(types);
    PQclear(funcs);
    PQclear(old);
    lm_buf_dispose(&sql);
    return rc;
}

static int validate_urls(const char *proxy_url, const char *const *urls, size_t n)
{
    if (proxy_url == NULL || proxy_url[0] == '\0')
        return lm__error_set_field(LM_EINVAL, "proxy", "no proxy database URL given");
    if (n > LM_CLUSTER_MAX_SHARDS)
        return lm__error_set_field(LM_EINVAL, "shard", "more than %d shards",
                                   LM_CLUSTER_MAX_SHARDS);
    for (size_t i = 0; i < n; i++) {
        if (urls == NULL || urls[i] == NULL || urls[i][0] == '\0')
            return lm__error_set_field(LM_EINVAL, "shard", "empty shard URL");
        if (strcmp(urls[i], proxy_url) == 0)
            return lm__error_set_field(LM_EINVAL, "shard",
                                       "a shard cannot be the proxy database");
        for (size_t j = 0; j < i; j++)
            if (strcmp(urls[i], urls[j]) == 0)
                return lm__error_set_field(LM_EINVAL, "shard", "shard URL given twice: %s",
                                           urls[i]);
    }
    return 0;
}

LM_EXTERN int lm_cluster_init(const char *proxy_url, const char *const *shard_urls, size_t n,
                              const char *schema)
{
    lm__db db;
    PGconn *proxy = NULL, *first = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc, yes = 0, began = 0;

    if ((rc = lm__cluster_schema(&db, schema)) < 0 ||
        (rc = validate_urls(proxy_url, shard_urls, n)) < 0)
        return rc;
    if (n == 0)
        return lm__error_set_field(LM_EINVAL, "shard", "no shard given");
    for (size_t i = 0; i < n; i++)
        if ((rc = prepare_shard(&db, shard_urls[i], (int)i)) < 0)
            return rc;
    if ((rc = lm__cluster_connect(&proxy, proxy_url, "proxy database")) < 0)
        return rc;
    if ((rc = is_proxy(proxy, &db, &yes)) < 0)
        goto out;
    if (yes) {
        rc = lm__error_set(LM_ECONFLICT, "the database is a cluster proxy already");
        lm__error_hint("Use \"llmemory cluster add-shard\" to grow it.");
        goto out;
    }
    if ((rc = lm__cluster_connect(&first, shard_urls[0], "shard")) < 0)
        goto out;
    expand(&sql, proxy_sql, &db);
    if (lm__buf_oom(&sql)) {
        rc = lm__error_set(LM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = lm__db_exec(NULL, proxy, "BEGIN", 0, NULL)) < 0)
        goto out;
    began = 1;
    if ((rc = lm__db_script(proxy, sql.ptr)) < 0)
        goto out;
    /* The shards' functions may take or return pgvector's type. */
    if ((rc = lm__db_script(proxy, "DO $do$ BEGIN IF EXISTS (SELECT 1 FROM "
                                   "pg_available_extensions WHERE name = 'vector') THEN "
                                   "CREATE EXTENSION IF NOT EXISTS vector; END IF; END $do$")) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char no[24];
        snprintf(no, sizeof(no), "%zu", i);
        const char *p[2] = {no, shard_urls[i]};
        if ((rc = lm__cluster_exec_fmt(proxy, NULL, 2, p,
                                       "INSERT INTO %s.cluster_shards (shard_no, conninfo, in_hash)"
                                       " VALUES ($1::integer, $2, true)", db.qschema)) < 0)
            goto out;
    }
    if ((rc = sync_routing(proxy, first, &db, NULL)) < 0)
        goto out;
    {
        lm__cluster_shard_row *v = NULL;
        size_t k = 0;
        if ((rc = lm__cluster_shards(proxy, &db, &v, &k)) == 0)
            rc = record_bm25(proxy, &db, v, k);
        lm__cluster_shards_free(v, k);
        if (rc < 0)
            goto out;
    }
    rc = lm__db_exec(NULL, proxy, "COMMIT", 0, NULL);
    began = 0;
out:
    if (began && proxy != NULL && PQstatus(proxy) == CONNECTION_OK)
        PQclear(PQexec(proxy, "ROLLBACK"));
    lm_buf_dispose(&sql);
    if (first)
        PQfinish(first);
    if (proxy)
        PQfinish(proxy);
    return rc;
}

/* Every shard migrated and in its identity range, then the routing regenerated from the first
   shard, inside a transaction of its own. */
static int resync(PGconn *proxy, const lm__db *db, int *n_routed)
{
    lm__cluster_shard_row *v = NULL;
    size_t n = 0;
    PGconn *shard = NULL;
    int rc = lm__cluster_shards(proxy, db, &v, &n);
    if (rc < 0)
        return rc;
    if (n == 0)
        rc = lm__error_set(LM_ECONFLICT, "the cluster has no shard");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = prepare_shard(db, v[i].conninfo, v[i].shard_no);
    if (rc == 0)
        rc = lm__cluster_connect(&shard, v[0].conninfo, "shard");
    if (rc < 0) {
        lm__cluster_shards_free(v, n);
        return rc;
    }
    if ((rc = lm__db_exec(NULL, proxy, "BEGIN", 0, NULL)) == 0) {
        rc = sync_routing(proxy, shard, db, n_routed);
        if (rc == 0)
            rc = record_bm25(proxy, db, v, n);
        if (rc == 0)
            rc = lm__db_exec(NULL, proxy, "COMMIT", 0, NULL);
        else
            PQclear(PQexec(proxy, "ROLLBACK"));
    }
    lm__cluster_shards_free(v, n);
    PQfinish(shard);
    return rc;
}

LM_EXTERN int lm_cluster_sync(const char *proxy_url, const char *schema, int *n_routed)
{
    lm__db db;
    PGconn *proxy = NULL;
    int rc;
    if ((rc = lm__cluster_schema(&db, schema)) < 0 ||
        (rc = lm__cluster_open_proxy(&proxy, &db, proxy_url)) < 0)
        return rc;
    rc = resync(proxy, &db, n_routed);
    PQfinish(proxy);
    return rc;
}

LM_EXTERN int lm_cluster_add_shard(const char *proxy_url, const char *shard_url,
                                   const char *schema, int *shard_no)
{
    lm__db db;
    PGconn *proxy = NULL;
    lm__cluster_shard_row *v = NULL;
    size_t n = 0;
    int rc;
    char no[24];
    const char *one[1] = {shard_url}, *p[2] = {no, shard_url};

    if ((rc = lm__cluster_schema(&db, schema)) < 0 || (rc = validate_urls(proxy_url, one, 1)) < 0)
        return rc;
    if ((rc = lm__cluster_open_proxy(&proxy, &db, proxy_url)) < 0)
        return rc;
    if ((rc = lm__cluster_shards(proxy, &db, &v, &n)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].conninfo, shard_url) == 0) {
            rc = lm__error_set_field(LM_EEXISTS, "shard", "the database is shard %d already",
                                     v[i].shard_no);
            goto out;
        }
    if (n >= LM_CLUSTER_MAX_SHARDS) {
        rc = lm__error_set(LM_ELIMIT, "the cluster has %d shards, the most it can have",
                           LM_CLUSTER_MAX_SHARDS);
        goto out;
    }
    if ((rc = prepare_shard(&db, shard_url, (int)n)) < 0)
        goto out;
    snprintf(no, sizeof(no), "%zu", n);
    rc = lm__db_exec(NULL, proxy, "BEGIN", 0, NULL);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(proxy, NULL, 0, NULL,
                                  "LOCK %s.cluster_shards IN EXCLUSIVE MODE", db.qschema);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(proxy, NULL, 2, p,
                                  "INSERT INTO %s.cluster_shards (shard_no, conninfo, in_hash)"
                                  " VALUES ($1::integer, $2, false)", db.qschema);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(proxy, NULL, 0, NULL,
                                  "UPDATE plproxy.llmemory_clusters SET version = version + 1"
                                  " WHERE cluster_name = '%s'", db.schema);
    if (rc == 0)
        rc = lm__db_exec(NULL, proxy, "COMMIT", 0, NULL);
    if (rc < 0) {
        PQclear(PQexec(proxy, "ROLLBACK"));
        goto out;
    }
    if (shard_no)
        *shard_no = (int)n;
out:
    lm__cluster_shards_free(v, n);
    PQfinish(proxy);
    return rc;
}

LM_EXTERN int lm_cluster_shard_of(const char *proxy_url, const char *schema, const char *owner_id,
                                  int *shard_no)
{
    lm__db db;
    PGconn *proxy = NULL;
    PGresult *r = NULL;
    int rc;
    LM_ASSERT_ARG(owner_id != NULL && shard_no != NULL);
    if ((rc = lm__cluster_schema(&db, schema)) < 0 ||
        (rc = lm__cluster_open_proxy(&proxy, &db, proxy_url)) < 0)
        return rc;
    const char *p[1] = {owner_id};
    rc = lm__cluster_exec_fmt(proxy, &r, 1, p, "SELECT %s.cluster_shard_of($1)", db.qschema);
    if (rc == 0) {
        *shard_no = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(proxy);
    return rc;
}

LM_EXTERN int lm_cluster_status(const char *proxy_url, const char *schema, lm_cluster_shard **out,
                                size_t *n_out)
{
    lm__db db;
    PGconn *proxy = NULL;
    PGresult *r = NULL;
    lm_cluster_shard *v = NULL;
    size_t n = 0;
    int rc;
    LM_ASSERT_ARG(out != NULL && n_out != NULL);
    *out = NULL;
    *n_out = 0;
    if ((rc = lm__cluster_schema(&db, schema)) < 0 ||
        (rc = lm__cluster_open_proxy(&proxy, &db, proxy_url)) < 0)
        return rc;
    rc = lm__cluster_exec_fmt(
        proxy, &r, 0, NULL,
        "SELECT s.shard_no, s.conninfo, s.in_hash,"
        " regexp_replace(regexp_replace(s.conninfo, 'password\\s*=\\s*\\S+', 'password=***', 'g'),"
        "                '(://[^:/@]*:)[^@]*@', '\\1***@'),"
        " (SELECT count(*) FROM %s.cluster_placement p WHERE p.shard_no = s.shard_no)"
        " FROM %s.cluster_shards s ORDER BY s.shard_no",
        db.qschema, db.qschema);
    if (rc < 0)
        goto out;
    n = (size_t)PQntuples(r);
    if ((v = lm__calloc(n ? n : 1, sizeof(*v))) == NULL) {
        rc = lm__error_set(LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        lm_cluster_shard *s = &v[i];
        PGconn *c = NULL;
        PGresult *z = NULL;
        s->shard_no = (int)strtol(PQgetvalue(r, (int)i, 0), NULL, 10);
        s->in_hash = PQgetvalue(r, (int)i, 2)[0] == 't';
        snprintf(s->conninfo, sizeof(s->conninfo), "%s", PQgetvalue(r, (int)i, 3));
        s->placed = strtoll(PQgetvalue(r, (int)i, 4), NULL, 10);
        s->tenants = s->documents = s->chunks = s->bytes = -1;
        if (lm__cluster_connect(&c, PQgetvalue(r, (int)i, 1), "shard") == 0 &&
            lm__cluster_exec_fmt(c, &z, 0, NULL,
                                 "SELECT count(*), coalesce(sum(documents), 0),"
                                 " coalesce(sum(chunks), 0), coalesce(sum(bytes), 0)"
                                 " FROM %s.lm_all_tenant_sizes()", db.qschema) == 0) {
            s->reachable = 1;
            s->tenants = strtoll(PQgetvalue(z, 0, 0), NULL, 10);
            s->documents = strtoll(PQgetvalue(z, 0, 1), NULL, 10);
            s->chunks = strtoll(PQgetvalue(z, 0, 2), NULL, 10);
            s->bytes = strtoll(PQgetvalue(z, 0, 3), NULL, 10);
        }
        PQclear(z);
        if (c)
            PQfinish(c);
    }
    lm__error_clear();
    *out = v;
    *n_out = n;
    v = NULL;
out:
    lm__free(v);
    PQclear(r);
    PQfinish(proxy);
    return rc;
}

LM_EXTERN void lm_cluster_status_free(lm_cluster_shard *shards)
{
    lm__free(shards);
}

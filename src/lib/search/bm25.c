/*
 * search/bm25.c: the keyword leg: exact Okapi BM25 over the tenant's own statistics.
 *
 *   score(c) = sum over query lexemes t of  qtf(t) * idf(t) * tf(t,c) * (k1 + 1)
 *                                          / (tf(t,c) + k1 * (1 - b + b * dl(c) / avgdl))
 *   idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))          (Lucene's BM25 idf)
 *
 * N, avgdl and df come from tenant_stats/term_stats of this tenant only, so another tenant's
 * data never changes a score. Plain words are OR-ed; phrases and exclusions filter candidates
 * with the chunk's tsvector. Ties are broken by chunk_no, so results are deterministic.
 */
#include <stdio.h>
#include <string.h>

#include "search/search.h"

/* The build id the extension in @p schema reports, into @p id; "" when it cannot say (a version
   before 1.1, or a module file without the function). */
static void bm25_ext_build_id(PGconn *c, const char *schema, char *id, size_t size)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT %s.llmemory_bm25_build_id()", schema);
    PGresult *r = PQexec(c, sql);
    id[0] = '\0';
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(id, size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

#define LM__LOCK_CLASS_MIGRATE 0x4c4d0002

int lm__bm25_tenant_function(PGconn *c, lm__db *db, const char *ext_schema)
{
    lm_buf body = LM_BUF_INIT, sql = LM_BUF_INIT;
    PGresult *r = NULL;
    const char *S = db->qschema;
    char lock_sql[128];
    const char *lock_params[1] = {db->schema};
    int rc, locked = 0;

    /* The one-time filter runs before the scan: another tenant's name scores nothing. */
    lm__buf_printf(&body,
                   "SELECT t.chunk_no, t.score FROM %s.llmemory_bm25_search('%s.postings'::regclass,"
                   " '%s.term_stats'::regclass, '%s.tenant_stats'::regclass, $1, $2, $3, $4, $5,"
                   " $6) t WHERE $1 = pg_catalog.current_setting('llmemory.owner_id', true)",
                   ext_schema, S, S, S);
    lm__buf_printf(&sql,
                   "SELECT p.prosrc FROM pg_catalog.pg_proc p WHERE p.oid = pg_catalog.to_regprocedure("
                   "'%s.llmemory_bm25_tenant(text, regconfig, text, float8, float8, integer)')",
                   S);
    if (lm__buf_oom(&body) || lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&r, c, sql.ptr, 0, NULL)) < 0)
        goto out;
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), body.ptr) == 0)
        goto out; /* already there */
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%d, hashtext($1))",
             LM__LOCK_CLASS_MIGRATE);
    if ((rc = lm__db_exec(NULL, c, lock_sql, 1, lock_params)) < 0)
        goto out;
    locked = 1;
    lm__buf_clear(&sql);
    lm__buf_printf(&sql,
                   "CREATE OR REPLACE FUNCTION %s.llmemory_bm25_tenant(text, regconfig, text,"
                   " float8, float8, integer) RETURNS TABLE (chunk_no bigint, score float8)"
                   " LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog"
                   " AS $lm_fn$%s$lm_fn$",
                   S, body.ptr);
    rc = lm__buf_oom(&sql) ? LM_ENOMEM : lm__db_exec(NULL, c, sql.ptr, 0, NULL);
out:
    if (locked && PQstatus(c) == CONNECTION_OK) {
        snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%d, hashtext($1))",
                 LM__LOCK_CLASS_MIGRATE);
        PQclear(PQexecParams(c, lock_sql, 1, NULL, lock_params, NULL, NULL, 0));
    }
    PQclear(r);
    lm_buf_dispose(&body);
    lm_buf_dispose(&sql);
    return rc;
}

/* Whether the tenant function can score: the extension refuses tables whose policies bind the
   caller, so the function's owner must bypass row-level security (a superuser or BYPASSRLS). */
static int bm25_tenant_usable(PGconn *c, lm__db *db)
{
    lm_buf sql = LM_BUF_INIT;
    PGresult *r = NULL;
    int ok = 0;
    lm__buf_printf(&sql,
                   "SELECT o.rolsuper OR o.rolbypassrls FROM pg_catalog.pg_proc p"
                   " JOIN pg_catalog.pg_roles o ON o.oid = p.proowner"
                   " WHERE p.oid = pg_catalog.to_regprocedure('%s.llmemory_bm25_tenant(text,"
                   " regconfig, text, float8, float8, integer)')",
                   db->qschema);
    if (!lm__buf_oom(&sql) && lm__db_exec(&r, c, sql.ptr, 0, NULL) == 0)
        ok = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    if (!ok)
        lm__db_log(db, LM_LOG_WARN,
                   "keyword search uses the SQL path: the llmemory_bm25 extension does not read"
                   " tables under row-level security, and the owner of %s.llmemory_bm25_tenant"
                   " is bound by it (not a superuser, no BYPASSRLS)", db->qschema);
    lm__error_clear();
    PQclear(r);
    lm_buf_dispose(&sql);
    return ok;
}

int lm__bm25_detect(lm__db *db, lm__bm25_params *p)
{
    static const char find[] =
        "SELECT quote_ident(n.nspname), e.extversion IS DISTINCT FROM a.default_version"
        " FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " LEFT JOIN pg_available_extensions a ON a.name = e.extname"
        " WHERE e.extname = 'llmemory_bm25'";
    PGconn *c = NULL;
    PGresult *r = NULL;
    int rc;

    p->ext_schema[0] = '\0';
    if ((rc = lm__db_admin_acquire(&c, db)) < 0)
        return rc;
    r = PQexec(c, find);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
        PQclear(r);
        /* Available on the server but not created here: try (a trusted extension only needs
           CREATE on the database); failing that, the SQL path serves. */
        r = PQexec(c, "SELECT 1 FROM pg_available_extensions WHERE name = 'llmemory_bm25'");
        int available = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        r = NULL;
        if (available) {
            PQclear(PQexec(c, "CREATE EXTENSION IF NOT EXISTS llmemory_bm25"));
            r = PQexec(c, find);
        }
    } else if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
        /* Created by an older version: bring it to the installed one (the owner of a trusted
           extension may); when that fails, the build id check below decides. */
        PQclear(r);
        PQclear(PQexec(c, "ALTER EXTENSION llmemory_bm25 UPDATE"));
        r = PQexec(c, find);
    }
    if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        char id[80];
        bm25_ext_build_id(c, PQgetvalue(r, 0, 0), id, sizeof(id));
        if (db->role[0] && (rc = lm__bm25_tenant_function(c, db, PQgetvalue(r, 0, 0))) < 0) {
            /* Not fatal: the SQL path serves. */
            lm__db_log(db, LM_LOG_WARN, "could not create %s.llmemory_bm25_tenant: %s",
                       db->qschema, lm_error_last()->message);
            lm__error_clear();
            rc = 0;
            id[0] = '\0';
        }
        if (strcmp(id, lm__pgext_build_id) == 0 && (!db->role[0] || bm25_tenant_usable(c, db))) {
            snprintf(p->ext_schema, sizeof(p->ext_schema), "%s", PQgetvalue(r, 0, 0));
            p->ext_tenant = db->role[0] != '\0';
        }
        else
            lm__db_log(db, LM_LOG_WARN,
                       "the llmemory_bm25 extension in this database is %s%.12s, not build %.12s"
                       " of this llmemory: keyword search uses the SQL path (same results,"
                       " slower). Hint: install this version's extension (scripts/deps.sh or"
                       " make -C pgext install), then reconnect.",
                       id[0] ? "build " : "an unidentified build", id, lm__pgext_build_id);
    }
    lm__db_log(db, LM_LOG_INFO, "keyword search: %s",
               p->ext_schema[0] ? "llmemory_bm25 extension" : "SQL");
    PQclear(r);
    lm__db_admin_release(db, c);
    return 0;
}

int lm__bm25_detect_proxy(lm__db *db, lm__bm25_params *p)
{
    static const char find[] =
        "SELECT max(value) FILTER (WHERE key = 'bm25_ext_schema'),"
        "       max(value) FILTER (WHERE key = 'bm25_ext_tenant'),"
        "       max(value) FILTER (WHERE key = 'bm25_build_id')"
        "  FROM %s.cluster_settings";
    PGconn *c = NULL;
    PGresult *r = NULL;
    char sql[300];
    int rc;

    p->ext_schema[0] = '\0';
    p->ext_tenant = 0;
    if ((rc = lm__db_admin_acquire(&c, db)) < 0)
        return rc;
    snprintf(sql, sizeof(sql), find, db->qschema);
    rc = lm__db_exec(&r, c, sql, 0, NULL);
    if (rc == 0 && !PQgetisnull(r, 0, 0) && strcmp(PQgetvalue(r, 0, 2), lm__pgext_build_id) == 0) {
        snprintf(p->ext_schema, sizeof(p->ext_schema), "%s", PQgetvalue(r, 0, 0));
        p->ext_tenant = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    }
    if (rc < 0) { /* an older proxy: the SQL path serves */
        lm__error_clear();
        rc = 0;
    }
    lm__db_log(db, LM_LOG_INFO, "keyword search on the shards: %s",
               p->ext_schema[0] ? "llmemory_bm25 extension" : "SQL");
    PQclear(r);
    lm__db_admin_release(db, c);
    return rc;
}

int lm__bm25_search(PGresult **out, lm__tx *tx, const lm__search_req *req)
{
    lm__query q;
    lm__params p = {0};
    lm_buf sql = LM_BUF_INIT;
    const char *S = tx->db->qschema;
    char k1[32], b[32], limit[16];
    int rc, has_filters;
    const char *fixed[7];

    *out = NULL;
    lm__query_init(&q);
    if ((rc = lm__query_parse(&q, req->query,
                              req->opts != NULL ? req->opts->syntax : LM_QUERY_WEB)) < 0)
        goto out;
    snprintf(k1, sizeof(k1), "%.17g", req->bm25.k1);
    snprintf(b, sizeof(b), "%.17g", req->bm25.b);
    snprintf(limit, sizeof(limit), "%d", req->limit);
    /* $1 owner, $2 terms, $3 config, $4 k1, $5 b, $6 limit, $7 filter text (unused without
       filters: PostgreSQL accepts unreferenced parameters only when their types are known, so
       the filter text is passed only when the statement uses it). */
    fixed[0] = req->owner_id;
    fixed[1] = q.terms.ptr;
    fixed[2] = req->text_config;
    fixed[3] = k1;
    fixed[4] = b;
    fixed[5] = limit;
    fixed[6] = q.filter.ptr;
    for (size_t i = 0; i < 6; i++)
        if ((rc = lm__params_add(&p, fixed[i], 0)) < 0)
            goto out;

    has_filters = q.filter.size > 0 || (req->opts && (req->opts->id_at_origin ||
                                                      req->opts->n_id_at_origins ||
                                                      req->opts->metadata_filter ||
                                                      req->opts->has_type || req->opts->date_from ||
                                                      req->opts->date_to));
    lm__buf_printf(&sql,
        "WITH st AS ("
        "  SELECT chunk_count::float8 AS n,"
        "         greatest(total_len::float8 / greatest(chunk_count, 1), 1e-9) AS avgdl"
        "    FROM %s.tenant_stats WHERE owner_id = $1 AND chunk_count > 0),"
        " q AS ("
        "  SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS qtf"
        "    FROM unnest(to_tsvector($3::regconfig, $2)) u),"
        " w AS MATERIALIZED ("
        "  SELECT q.lexeme, q.qtf * ln(1 + (st.n - ts.df + 0.5) / (ts.df + 0.5)) AS w"
        "    FROM q JOIN %s.term_stats ts ON ts.owner_id = $1 AND ts.lexeme = q.lexeme"
        "    CROSS JOIN st WHERE ts.df > 0 ORDER BY q.lexeme COLLATE \"C\"),"
        " sc AS ("
        "  SELECT p.chunk_no,"
        "         sum(w.w * p.tf * ($4::float8 + 1)"
        "             / (p.tf + $4::float8 * (1 - $5::float8 + $5::float8 * p.doc_len / st.avgdl)))"
        "           AS score"
        "    FROM w JOIN %s.postings p ON p.owner_id = $1 AND p.lexeme = w.lexeme"
        "    CROSS JOIN st GROUP BY p.chunk_no%s)",
        S, S, S, has_filters ? "" : " ORDER BY score DESC, p.chunk_no LIMIT $6::int");
    if (!has_filters && req->bm25.ext_schema[0]) {
        /* The extension computes the same statistics CTEs and scores the postings with exact
           MaxScore pruning (docs/bm25-extension.md): same ranking, a fraction of the work. */
        if (req->bm25.ext_tenant) {
            lm__buf_clear(&sql);
            lm__buf_printf(&sql,
                           "SELECT t.chunk_no, t.score FROM %s.llmemory_bm25_tenant($1,"
                           " $3::regconfig, $2, $4::float8, $5::float8, $6::int) t"
                           " ORDER BY t.score DESC, t.chunk_no", S);
        } else {
            char tables[3][96];
            snprintf(tables[0], sizeof(tables[0]), "%s.postings", S);
            snprintf(tables[1], sizeof(tables[1]), "%s.term_stats", S);
            snprintf(tables[2], sizeof(tables[2]), "%s.tenant_stats", S);
            for (int i = 0; i < 3; i++)
                if ((rc = lm__params_add(&p, tables[i], 1)) < 0)
                    goto out;
            lm__buf_clear(&sql);
            lm__buf_printf(&sql,
                           "SELECT t.chunk_no, t.score FROM %s.llmemory_bm25_search($7::regclass,"
                           " $8::regclass, $9::regclass, $1, $3::regconfig, $2, $4::float8,"
                           " $5::float8, $6::int) t ORDER BY t.score DESC, t.chunk_no",
                           req->bm25.ext_schema);
        }
    } else if (!has_filters) {
        lm__buf_puts(&sql, " SELECT chunk_no, score FROM sc ORDER BY score DESC, chunk_no");
    } else {
        /* Filters apply before the limit: join the candidates to their chunk and document. */
        if ((rc = lm__params_add(&p, fixed[6], 0)) < 0)
            goto out;
        lm__buf_printf(&sql,
            ", fq AS (SELECT websearch_to_tsquery($3::regconfig, $7) AS fq)"
            " SELECT sc.chunk_no, sc.score"
            "   FROM sc JOIN %s.chunks c ON c.owner_id = $1 AND c.chunk_no = sc.chunk_no"
            "   JOIN %s.documents d ON d.owner_id = $1 AND d.document_id = c.document_id"
            "   CROSS JOIN fq"
            "  WHERE ($7 = '' OR numnode(fq.fq) = 0 OR c.search_vector @@ fq.fq)",
            S, S);
        if ((rc = lm__filter_sql(&sql, &p, req->opts)) < 0)
            goto out;
        lm__buf_puts(&sql, " ORDER BY sc.score DESC, sc.chunk_no LIMIT $6::int");
    }
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    /* The extension's statement is the same text for every tenant and query: a function call
       whose generic plan is its custom plan, so it is prepared once per connection. */
    if (!has_filters && req->bm25.ext_schema[0])
        rc = lm__db_exec_prepared(out, tx->conn, LM__STMT_BM25_EXT, sql.ptr, p.n, p.v);
    else
        rc = lm__db_exec(out, tx->conn, sql.ptr, p.n, p.v);
out:
    lm__params_dispose(&p);
    lm_buf_dispose(&sql);
    lm__query_dispose(&q);
    return rc;
}

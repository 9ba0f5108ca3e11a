-- 060_tenant_functions.sql: tenant operations as server-side functions, so that each one is a
-- single round trip (a single-node library calls them too) and so that a router (PL/Proxy) can
-- send a whole operation to the server that holds the tenant. {{schema}} is the quoted schema.
--
-- The convention every such function follows (docs/operations.md, "Server-side tenant
-- functions"):
--   * named {{schema}}.lm_<op>; the tenant's owner id is the FIRST argument, p_owner text;
--   * returns SETOF a row type (RETURNS TABLE) or a scalar;
--   * needs no session state from the caller: it calls {{schema}}.lm__enter(p_owner, write)
--     first, which sets the tenant for row-level security (set_config('llmemory.owner_id',
--     p_owner, true)), switches to the work role recorded in {{schema}}.work_role (the role
--     db/roles.c sets up; SET LOCAL ROLE, so row-level security binds the rest of the call
--     even when the caller connects as a superuser), and for writers takes the tenant's
--     advisory lock (the key of LM__TENANT_LOCK_SQL, db/db.h);
--   * operations over all tenants (operator statistics, queue workers, migrations) are named
--     {{schema}}.lm_all_<op> and take no p_owner;
--   * internal helpers are named lm__<name> and are not operations.
-- The settings and the role are transaction-local: called on its own (autocommit), a function
-- is one transaction and leaves nothing behind on the connection.
-- Partial indexes (the per-tenant HNSW graphs) must see the tenant as a constant: statements
-- whose plan depends on them run as dynamic SQL (EXECUTE ... USING, planned for the values of
-- each call), or the function carries SET plan_cache_mode = force_custom_plan.
-- A later change to a function is a new migration with CREATE OR REPLACE: applied migrations
-- never change (their checksums are recorded).

-- The work role tenant work switches to; one row, written by the role set-up (db/roles.c,
-- `llmemory db roles`). No row: tenant functions run as the calling role (LLMEMORY_RLS=off).
CREATE TABLE {{schema}}.work_role (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    role_name name    NOT NULL
);

CREATE FUNCTION {{schema}}.lm__enter(p_owner text, p_write boolean) RETURNS void
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    r name;
BEGIN
    IF p_owner IS NULL OR p_owner = '' THEN
        RAISE EXCEPTION 'owner_id must not be empty' USING ERRCODE = '22023';
    END IF;
    PERFORM pg_catalog.set_config('llmemory.owner_id', p_owner, true);
    SELECT w.role_name INTO r FROM {{schema}}.work_role w;
    IF r IS NOT NULL AND r <> current_user THEN
        PERFORM pg_catalog.set_config('role', r, true);
    END IF;
    IF p_write THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_owner, 1280114689));
    END IF;
END
$fn$;

-- A search of one query (search/bm25.c and search/vector.c hold the same legs as statements):
-- the keyword leg (p_type 'text', or 'hybrid' with p_alpha < 1) and/or the vector leg
-- ('vector', or 'hybrid' with p_alpha > 0), each p_depth deep, fused by weighted reciprocal
-- rank (hybrid), the best p_limit hydrated with their chunk and document, and the search recorded
-- in the history when p_history (its filters) is not NULL. Ranks are 1-based, 0: not in that leg.
--   keyword: p_terms (the query's words), p_tsfilter (its phrases and exclusions, '' for none),
--            p_config, BM25 p_k1 and p_b; p_bm25_ext the schema of the llmemory_bm25 extension
--            (NULL: SQL path), p_bm25_tenant whether to score through
--            {{schema}}.llmemory_bm25_tenant (the extension under row-level security);
--   vector:  p_qvec (a vector literal), p_provider, p_dim, p_ef (fixed hnsw.ef_search, 0: by the
--            tenant's graph size);
--   filters: p_id_at_origin, p_id_at_origins, p_metadata, p_document_type, p_date_from, p_date_to;
--   history: p_query, p_elapsed_ms (time spent before the call, e.g. embedding the query).
CREATE FUNCTION {{schema}}.lm_search(
    p_owner text, p_type text, p_limit integer, p_depth integer,
    p_terms text, p_tsfilter text, p_config text, p_k1 float8, p_b float8,
    p_bm25_ext text, p_bm25_tenant boolean,
    p_qvec text, p_provider text, p_dim integer, p_ef integer,
    p_alpha float8, p_rrf_k integer,
    p_id_at_origin text, p_id_at_origins text[], p_metadata jsonb, p_document_type text,
    p_date_from timestamptz, p_date_to timestamptz,
    p_history jsonb, p_query text, p_elapsed_ms float8)
RETURNS TABLE (chunk_no bigint, chunk_id uuid, document_id uuid, id_at_origin text,
               document_name text, document_type text, content text, metadata text,
               document_metadata text, chunk_level integer, chunk_index integer, score float8,
               text_score float8, text_rank integer, vector_score float8, vector_rank integer)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    t0 timestamptz := pg_catalog.clock_timestamp();
    want_text boolean := p_type = 'text' OR (p_type = 'hybrid' AND p_alpha < 1.0);
    want_vec boolean := p_type = 'vector' OR (p_type = 'hybrid' AND p_alpha > 0.0);
    doc_filters boolean := p_id_at_origin IS NOT NULL OR p_id_at_origins IS NOT NULL
                           OR p_metadata IS NOT NULL OR p_document_type IS NOT NULL
                           OR p_date_from IS NOT NULL OR p_date_to IS NOT NULL;
    filt text := '';
    tleg text;  -- the keyword leg's statement; NULL: the static one through the extension
    vleg text;
    elem text;
    idx text;
    ef integer;
    fetch_n integer;
    ord text;
    n bigint;
    t_no bigint[];
    t_sc float8[];
    v_no bigint[];
    v_sc float8[];
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    IF p_type NOT IN ('text', 'vector', 'hybrid') THEN
        RAISE EXCEPTION 'invalid search type "%"', p_type USING ERRCODE = '22023';
    END IF;
    -- The filters of search/filter.c, on the aliases d (documents) and c (chunks).
    IF p_id_at_origin IS NOT NULL THEN filt := filt || ' AND d.id_at_origin = $11'; END IF;
    IF p_id_at_origins IS NOT NULL THEN filt := filt || ' AND d.id_at_origin = ANY($12)'; END IF;
    IF p_metadata IS NOT NULL THEN filt := filt || ' AND d.metadata @> $13'; END IF;
    IF p_document_type IS NOT NULL THEN filt := filt || ' AND d.document_type = $14'; END IF;
    IF p_date_from IS NOT NULL THEN filt := filt || ' AND d.document_date >= $15'; END IF;
    IF p_date_to IS NOT NULL THEN filt := filt || ' AND d.document_date <= $16'; END IF;

    -- $1 owner, $2 terms, $3 config, $4 k1, $5 b, $6 depth, $7 phrase/exclusion filter,
    -- $8 query vector, $9 provider, $10 vector fetch, $11-$16 filters.
    IF want_text THEN
        IF NOT doc_filters AND p_tsfilter = '' AND p_bm25_ext IS NOT NULL THEN
            IF p_bm25_tenant THEN
                tleg := NULL; -- a static statement below
            ELSE
                tleg := format('SELECT t.chunk_no, t.score FROM %s.llmemory_bm25_search('
                               '''{{schema}}.postings''::regclass,'
                               ' ''{{schema}}.term_stats''::regclass,'
                               ' ''{{schema}}.tenant_stats''::regclass, $1, $3::regconfig, $2,'
                               ' $4, $5, $6) t', p_bm25_ext::regnamespace);
            END IF;
        ELSE
            tleg :=
                'WITH st AS ('
                '  SELECT chunk_count::float8 AS n,'
                '         greatest(total_len::float8 / greatest(chunk_count, 1), 1e-9) AS avgdl'
                '    FROM {{schema}}.tenant_stats WHERE owner_id = $1 AND chunk_count > 0),'
                ' q AS ('
                '  SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS qtf'
                '    FROM unnest(to_tsvector($3::regconfig, $2)) u),'
                ' w AS MATERIALIZED ('
                '  SELECT q.lexeme, q.qtf * ln(1 + (st.n - ts.df + 0.5) / (ts.df + 0.5)) AS w'
                '    FROM q JOIN {{schema}}.term_stats ts'
                '      ON ts.owner_id = $1 AND ts.lexeme = q.lexeme'
                '    CROSS JOIN st WHERE ts.df > 0 ORDER BY q.lexeme COLLATE "C"),'
                ' sc AS ('
                '  SELECT p.chunk_no,'
                '         sum(w.w * p.tf * ($4 + 1)'
                '             / (p.tf + $4 * (1 - $5 + $5 * p.doc_len / st.avgdl))) AS score'
                '    FROM w JOIN {{schema}}.postings p ON p.owner_id = $1 AND p.lexeme = w.lexeme'
                '    CROSS JOIN st GROUP BY p.chunk_no';
            IF NOT doc_filters AND p_tsfilter = '' THEN
                tleg := tleg || ' ORDER BY score DESC, p.chunk_no LIMIT $6)'
                             ' SELECT chunk_no, score FROM sc';
            ELSE
                tleg := tleg || '), fq AS (SELECT websearch_to_tsquery($3::regconfig, $7) AS fq)'
                    ' SELECT sc.chunk_no, sc.score'
                    '   FROM sc JOIN {{schema}}.chunks c'
                    '     ON c.owner_id = $1 AND c.chunk_no = sc.chunk_no'
                    '   JOIN {{schema}}.documents d'
                    '     ON d.owner_id = $1 AND d.document_id = c.document_id'
                    '   CROSS JOIN fq'
                    '  WHERE ($7 = '''' OR numnode(fq.fq) = 0 OR c.search_vector @@ fq.fq)'
                    || filt || ' ORDER BY sc.score DESC, sc.chunk_no LIMIT $6';
            END IF;
        END IF;
    END IF;

    IF want_vec THEN
        -- No parallel plans on a tenant-sized scan; iterative scans keep filtered HNSW searches
        -- from coming back short; ef_search by the tenant's graph (search/vector.h,
        -- LM__VECTOR_EF_SQL), never below the depth, at most 1000.
        SELECT vi.element_type, vi.index_name INTO elem, idx
          FROM {{schema}}.vector_indexes vi
         WHERE vi.owner_id = p_owner AND vi.provider_id = p_provider;
        ef := least(1000, greatest(p_depth, CASE
                  WHEN p_ef > 0 THEN p_ef
                  WHEN idx IS NULL THEN 40
                  ELSE coalesce(ceil(CASE WHEN p_dim > 768 THEN 1.5 ELSE 1 END
                       * greatest(64, 0.5 * sqrt(
                           pg_catalog.pg_relation_size(pg_catalog.to_regclass(
                               '{{schema}}.' || quote_ident(idx)))
                           / 8192.0 * greatest(1, floor(8160.0 / ((CASE elem WHEN 'halfvec'
                               THEN 2 ELSE 4 END) * p_dim + 290))))))::int, 40) END));
        PERFORM pg_catalog.set_config('hnsw.iterative_scan', 'relaxed_order', true),
                pg_catalog.set_config('max_parallel_workers_per_gather', '0', true),
                pg_catalog.set_config('hnsw.ef_search', ef::text, true);
        fetch_n := p_depth;
        IF elem = 'halfvec' THEN
            -- The graph ranks by half-precision distance: fetch up to twice the depth (within
            -- ef_search) and re-rank them by the exact distance.
            fetch_n := greatest(p_depth, least(2 * p_depth, ef));
            ord := format('v.embedding::halfvec(%s) <=> $8::halfvec(%s)', p_dim, p_dim);
        ELSE
            ord := format('v.embedding <=> $8::vector(%s)', p_dim);
        END IF;
        IF NOT doc_filters THEN
            vleg := format(
                'SELECT c.chunk_no, 1 - t.dist AS similarity FROM ('
                '  SELECT v.chunk_id, v.embedding <=> $8::vector(%s) AS dist'
                '    FROM {{schema}}.%I v WHERE v.owner_id = $1 AND v.provider_id = $9'
                '   ORDER BY %s LIMIT $10) t'
                '  JOIN {{schema}}.chunks c ON c.owner_id = $1 AND c.chunk_id = t.chunk_id'
                ' ORDER BY t.dist, c.chunk_no LIMIT $6',
                p_dim, 'vectors_' || p_dim, ord);
        ELSE
            vleg := format(
                'SELECT t.chunk_no, 1 - t.dist AS similarity FROM ('
                '  SELECT c.chunk_no, v.embedding <=> $8::vector(%s) AS dist'
                '  FROM {{schema}}.%I v'
                '  JOIN {{schema}}.chunks c ON c.owner_id = v.owner_id AND c.chunk_id = v.chunk_id'
                '  JOIN {{schema}}.documents d ON d.owner_id = c.owner_id'
                '   AND d.document_id = c.document_id'
                ' WHERE v.owner_id = $1 AND v.provider_id = $9%s'
                ' ORDER BY %s LIMIT $10) t ORDER BY t.dist, t.chunk_no LIMIT $6',
                p_dim, 'vectors_' || p_dim, filt, ord);
        END IF;
    END IF;

    -- Each leg's chunks best first (score, then chunk number), as arrays: only the legs are
    -- planned per call; the fusion and hydration below are one statement with a cached plan.
    IF want_text AND tleg IS NULL THEN
        SELECT array_agg(t.chunk_no ORDER BY t.score DESC, t.chunk_no),
               array_agg(t.score ORDER BY t.score DESC, t.chunk_no)
          INTO t_no, t_sc
          FROM {{schema}}.llmemory_bm25_tenant(p_owner, p_config::regconfig, p_terms, p_k1, p_b,
                                               p_depth) t;
    ELSIF want_text THEN
        EXECUTE 'SELECT array_agg(x.chunk_no ORDER BY x.score DESC, x.chunk_no),'
                ' array_agg(x.score ORDER BY x.score DESC, x.chunk_no) FROM (' || tleg || ') x'
           INTO t_no, t_sc
          USING p_owner, p_terms, p_config, p_k1, p_b, p_depth, p_tsfilter, p_qvec, p_provider,
                fetch_n, p_id_at_origin, p_id_at_origins, p_metadata, p_document_type,
                p_date_from, p_date_to;
    END IF;
    IF want_vec THEN
        EXECUTE 'SELECT array_agg(y.chunk_no ORDER BY y.similarity DESC, y.chunk_no),'
                ' array_agg(y.similarity ORDER BY y.similarity DESC, y.chunk_no)'
                ' FROM (' || vleg || ') y'
           INTO v_no, v_sc
          USING p_owner, p_terms, p_config, p_k1, p_b, p_depth, p_tsfilter, p_qvec, p_provider,
                fetch_n, p_id_at_origin, p_id_at_origins, p_metadata, p_document_type,
                p_date_from, p_date_to;
    END IF;
    -- One leg: its order is final (score, then chunk number); the best p_limit hydrated.
    IF p_type <> 'hybrid' THEN
        IF p_type = 'vector' THEN
            t_no := v_no;
            t_sc := v_sc;
        END IF;
        RETURN QUERY
            SELECT u.no, c.chunk_id, c.document_id, d.id_at_origin, d.document_name,
                   d.document_type, c.content, (d.metadata || c.metadata)::text,
                   d.metadata::text, c.chunk_level, c.chunk_index, u.sc,
                   CASE WHEN p_type = 'text' THEN u.sc ELSE 0 END,
                   CASE WHEN p_type = 'text' THEN u.rk::int ELSE 0 END,
                   CASE WHEN p_type = 'text' THEN 0 ELSE u.sc END,
                   CASE WHEN p_type = 'text' THEN 0 ELSE u.rk::int END
              FROM (SELECT * FROM unnest(t_no, t_sc) WITH ORDINALITY AS x (no, sc, rk)
                     ORDER BY x.rk LIMIT p_limit) u
              JOIN {{schema}}.chunks c ON c.owner_id = p_owner AND c.chunk_no = u.no
              JOIN {{schema}}.documents d
                ON d.owner_id = p_owner AND d.document_id = c.document_id
             ORDER BY u.rk;
    ELSE
        -- Two legs: ranks within each, fused as api/search.c does, the best p_limit hydrated.
        RETURN QUERY
            WITH tl AS (SELECT u.no AS chunk_no, u.sc AS score, u.rk::int AS rk
                          FROM unnest(t_no, t_sc) WITH ORDINALITY AS u (no, sc, rk)),
                 vl AS (SELECT u.no AS chunk_no, u.sc AS score, u.rk::int AS rk
                          FROM unnest(v_no, v_sc) WITH ORDINALITY AS u (no, sc, rk)),
                 f AS (SELECT coalesce(tl.chunk_no, vl.chunk_no) AS chunk_no,
                              coalesce(tl.score, 0) AS ts, coalesce(tl.rk, 0) AS tr,
                              coalesce(vl.score, 0) AS vs, coalesce(vl.rk, 0) AS vr,
                              CASE p_type WHEN 'text' THEN tl.score WHEN 'vector' THEN vl.score
                              ELSE coalesce(p_alpha / (p_rrf_k + vl.rk), 0)
                                   + coalesce((1 - p_alpha) / (p_rrf_k + tl.rk), 0) END AS score
                         FROM tl FULL JOIN vl ON vl.chunk_no = tl.chunk_no
                        ORDER BY 6 DESC, 1 LIMIT p_limit)
            SELECT f.chunk_no, c.chunk_id, c.document_id, d.id_at_origin, d.document_name,
                   d.document_type, c.content, (d.metadata || c.metadata)::text, d.metadata::text,
                   c.chunk_level, c.chunk_index, f.score, f.ts, f.tr, f.vs, f.vr
              FROM f JOIN {{schema}}.chunks c ON c.owner_id = p_owner AND c.chunk_no = f.chunk_no
              JOIN {{schema}}.documents d ON d.owner_id = p_owner AND d.document_id = c.document_id
             ORDER BY f.score DESC, f.chunk_no;
    END IF;
    IF p_history IS NOT NULL THEN
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO {{schema}}.search_history (owner_id, query_text, search_type, filters,
                                               result_count, latency_ms)
        VALUES (p_owner, p_query, p_type, p_history, n,
                coalesce(p_elapsed_ms, 0)
                + 1000 * extract(epoch FROM pg_catalog.clock_timestamp() - t0)::float8);
    END IF;
END
$fn$;

-- A document by id (p_document_id) or by id at origin (p_id_at_origin, when p_document_id is
-- NULL): first row the document (chunk columns NULL), then with p_with_chunks its chunks in
-- order (document columns NULL). No row: no such document of this tenant.
CREATE FUNCTION {{schema}}.lm_get(p_owner text, p_document_id uuid, p_id_at_origin text,
                                  p_with_chunks boolean)
RETURNS TABLE (document_id uuid, owner_id text, id_at_origin text, document_type text,
               document_name text, document_date text, metadata text, text_config text,
               created_at text, updated_at text, chunk_count bigint, content_bytes bigint,
               chunk_id uuid, parent_chunk_id text, chunk_index integer, chunk_level integer,
               searchable boolean, token_count integer, content text, content_hash text,
               chunk_metadata text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    doc uuid;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    RETURN QUERY
        SELECT d.document_id, d.owner_id, d.id_at_origin, d.document_type, d.document_name,
               to_char(d.document_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               d.metadata::text, d.text_config::text,
               to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               d.chunk_count::bigint, d.content_bytes,
               NULL::uuid, NULL::text, NULL::int, NULL::int, NULL::boolean, NULL::int, NULL::text,
               NULL::text, NULL::text
          FROM {{schema}}.documents d
         WHERE d.owner_id = p_owner
           AND CASE WHEN p_document_id IS NOT NULL THEN d.document_id = p_document_id
                    ELSE d.id_at_origin = p_id_at_origin END;
    IF NOT FOUND OR NOT p_with_chunks THEN
        RETURN;
    END IF;
    IF p_document_id IS NULL THEN
        SELECT d.document_id INTO doc FROM {{schema}}.documents d
         WHERE d.owner_id = p_owner AND d.id_at_origin = p_id_at_origin;
    ELSE
        doc := p_document_id;
    END IF;
    RETURN QUERY
        SELECT NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
               NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::bigint,
               c.chunk_id, coalesce(c.parent_chunk_id::text, ''), c.chunk_index, c.chunk_level,
               c.searchable, c.token_count, c.content, c.content_hash, c.metadata::text
          FROM {{schema}}.chunks c
         WHERE c.owner_id = p_owner AND c.document_id = doc
         ORDER BY c.chunk_index;
END
$fn$;

-- A page of the tenant's documents (with p_include_subtenants, its sub-tenants' too, through the
-- subtree_read policy of 022_subtree_read.sql), ordered by p_order ('created_at', 'updated_at'
-- or 'document_name') and then document_id, filtered by p_document_type and p_metadata. Every row
-- carries the total count; a page past the end is one row with only the total.
CREATE FUNCTION {{schema}}.lm_list(p_owner text, p_limit integer, p_offset bigint, p_order text,
                                   p_ascending boolean, p_include_subtenants boolean,
                                   p_document_type text, p_metadata jsonb)
RETURNS TABLE (document_id uuid, owner_id text, id_at_origin text, document_type text,
               document_name text, document_date text, metadata text, text_config text,
               created_at text, updated_at text, chunk_count bigint, content_bytes bigint,
               total bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    w text;
    dir text := CASE WHEN p_ascending THEN 'ASC' ELSE 'DESC' END;
    tot bigint;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    IF p_order NOT IN ('created_at', 'updated_at', 'document_name') THEN
        RAISE EXCEPTION 'invalid sort order "%"', p_order USING ERRCODE = '22023';
    END IF;
    IF p_include_subtenants THEN
        PERFORM pg_catalog.set_config('llmemory.owner_scope', p_owner, true);
        w := ' FROM {{schema}}.documents d'
             ' WHERE (d.owner_id = $1 OR starts_with(d.owner_id, $1 || ''/''))';
    ELSE
        w := ' FROM {{schema}}.documents d WHERE d.owner_id = $1';
    END IF;
    IF p_document_type IS NOT NULL THEN w := w || ' AND d.document_type = $2'; END IF;
    IF p_metadata IS NOT NULL THEN w := w || ' AND d.metadata @> $3'; END IF;
    EXECUTE 'SELECT count(*)' || w INTO tot USING p_owner, p_document_type, p_metadata;
    RETURN QUERY EXECUTE format(
        'SELECT d.document_id, d.owner_id, d.id_at_origin, d.document_type, d.document_name,'
        ' to_char(d.document_date AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"''),'
        ' d.metadata::text, d.text_config::text,'
        ' to_char(d.created_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"''),'
        ' to_char(d.updated_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"''),'
        ' d.chunk_count::bigint, d.content_bytes, $6'
        '%s ORDER BY d.%I %s, d.document_id %s LIMIT $4 OFFSET $5',
        w, p_order, dir, dir)
        USING p_owner, p_document_type, p_metadata, p_limit, p_offset, tot;
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                            NULL::bigint, NULL::bigint, tot;
    END IF;
END
$fn$;

-- Search history, newest first.
CREATE FUNCTION {{schema}}.lm_history(p_owner text, p_limit integer)
RETURNS TABLE (search_id uuid, query_text text, search_type text, filters text,
               result_count integer, latency_ms float8, created_at text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    RETURN QUERY
        SELECT h.search_id, h.query_text, h.search_type, h.filters::text, h.result_count,
               h.latency_ms,
               to_char(h.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM {{schema}}.search_history h
         WHERE h.owner_id = p_owner
         ORDER BY h.created_at DESC, h.search_id LIMIT p_limit;
END
$fn$;

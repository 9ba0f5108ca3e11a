-- 069_lifecycle_functions.sql: a tenant's erasure, export and import as server-side functions on
-- the convention of 060_tenant_functions.sql, so that a cluster proxy routes each call to the
-- tenant's shard (api/erase.c and api/lifecycle.c call them when the library's function path is
-- on). Each call is one transaction; the long operations go a batch or a page per call.
-- {{schema}} is the quoted schema.

-- ---- erasure (032_erasure.sql) ------------------------------------------------------------------

-- Mark the tenant erased, as api/erase.c's mark does: under its writer lock, its API keys
-- removed, the "tenant.erase" record written (p_actor, p_source) and kept by the mark. Returns
-- already = true (and nothing done) when it was marked before.
CREATE FUNCTION {{schema}}.lm_erase_mark(p_owner text, p_actor text, p_source text)
RETURNS TABLE (already boolean, documents bigint, chunks bigint, api_keys bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    r name;
    d bigint;
    c bigint;
    k bigint;
    aid bigint;
BEGIN
    IF p_owner IS NULL OR p_owner = '' THEN
        RAISE EXCEPTION 'owner_id must not be empty' USING ERRCODE = '22023';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_owner, 1280114689));
    IF {{schema}}.llmemory_tenant_erased(p_owner) THEN
        RETURN QUERY SELECT true, 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    SELECT w.role_name INTO r FROM {{schema}}.work_role w;
    PERFORM pg_catalog.set_config('llmemory.owner_id', p_owner, true);
    IF r IS NOT NULL AND r <> current_user THEN
        PERFORM pg_catalog.set_config('role', r, true);
    END IF;
    -- The audit log is append-only except for the erasure of its own tenant.
    PERFORM pg_catalog.set_config('llmemory.erasing', p_owner, true);
    SELECT coalesce((SELECT u.documents FROM {{schema}}.tenant_usage u WHERE u.owner_id = p_owner), 0),
           coalesce((SELECT u.chunks FROM {{schema}}.tenant_usage u WHERE u.owner_id = p_owner), 0)
      INTO d, c;
    -- The keys go at once: nothing authenticates as the tenant from now on.
    WITH x AS (DELETE FROM {{schema}}.api_keys a WHERE a.owner_id = p_owner RETURNING 1)
    SELECT count(*) INTO k FROM x;
    INSERT INTO {{schema}}.audit_log (owner_id, actor, action, source, outcome, detail)
    VALUES (p_owner, p_actor, 'tenant.erase', p_source, 'success',
            jsonb_build_object('state', 'started', 'documents', d, 'chunks', c, 'api_keys', k))
    RETURNING audit_id INTO aid;
    INSERT INTO {{schema}}.tenant_erasures (owner_id, audit_id, report)
    VALUES (p_owner, aid, jsonb_build_object('api_keys', k));
    RETURN QUERY SELECT false, d, c, k;
END
$fn$;

-- One step of the cleanup of an erased tenant (api/erase.c's clean, a call at a time): its own
-- vector indexes dropped (plainly, with a short lock timeout: no CONCURRENTLY inside a
-- function), then up to p_batch rows of the first of its tables that still has rows (dependents
-- first, the erasure record kept), each count added to the mark's report; when nothing was
-- left, the last step: the erasure record replaced by one with the final counts and the mark
-- removed. state: 'busy' (another cleaner holds the tenant), 'more', 'done' (this call
-- finished it; the report's final counts follow) or 'none' (no mark). As the tables' owner
-- under the maintenance policy, like the cleanup's admin connection.
CREATE FUNCTION {{schema}}.lm_erase_clean(p_owner text, p_batch integer)
RETURNS TABLE (state text, report jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    t record;
    n bigint;
    ix text;
    kind text;
    rep jsonb;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_owner, 1280114693)) THEN
        RETURN QUERY SELECT 'busy'::text, NULL::jsonb;
        RETURN;
    END IF;
    PERFORM set_config('llmemory.maintenance', 'on', true);
    PERFORM set_config('llmemory.erasing', p_owner, true);
    PERFORM set_config('enable_seqscan', 'off', true);
    IF NOT EXISTS (SELECT 1 FROM {{schema}}.tenant_erasures e WHERE e.owner_id = p_owner) THEN
        RETURN QUERY SELECT 'none'::text, NULL::jsonb;
        RETURN;
    END IF;
    PERFORM set_config('lock_timeout', '2s', true);
    FOR ix IN SELECT v.index_name FROM {{schema}}.vector_indexes v WHERE v.owner_id = p_owner LOOP
        EXECUTE format('DROP INDEX IF EXISTS {{schema}}.%I', ix);
    END LOOP;
    PERFORM set_config('lock_timeout', '0', true);
    FOR t IN
        SELECT c.relname::text AS name,
               CASE WHEN c.relname LIKE 'vectors\_%' THEN 'vectors'
                    WHEN c.relname = 'vector_indexes' THEN 'vector_indexes'
                    WHEN c.relname = 'embedding_queue' THEN 'queue_entries'
                    WHEN c.relname = 'postings' THEN 'postings'
                    WHEN c.relname = 'term_stats' THEN 'terms'
                    WHEN c.relname = 'search_history' THEN 'history'
                    WHEN c.relname IN ('chunks', 'documents', 'api_keys') THEN c.relname::text
                    ELSE 'other_rows' END AS kind,
               CASE WHEN c.relname = 'vector_indexes' THEN -1
                    WHEN c.relname LIKE 'vectors\_%' THEN 0
                    WHEN c.relname = 'embedding_queue' THEN 1
                    WHEN c.relname = 'postings' THEN 2
                    WHEN c.relname = 'term_stats' THEN 3
                    WHEN c.relname = 'search_history' THEN 4
                    WHEN c.relname = 'chunks' THEN 5
                    WHEN c.relname = 'documents' THEN 6
                    WHEN c.relname = 'api_keys' THEN 7
                    WHEN c.relname = 'audit_log' THEN 1000
                    ELSE 100 END AS ord
          FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE s.oid = '{{schema}}'::regnamespace AND c.relkind IN ('r', 'p')
           AND NOT c.relispartition AND a.attname = 'owner_id' AND NOT a.attisdropped
           AND c.relname <> 'tenant_erasures'
         ORDER BY 3, 1
    LOOP
        EXECUTE format('WITH d AS (DELETE FROM {{schema}}.%I WHERE ctid = ANY (ARRAY('
                       'SELECT ctid FROM {{schema}}.%I WHERE owner_id = $1%s LIMIT $2))'
                       ' AND owner_id = $1%s RETURNING 1) SELECT count(*) FROM d',
                       t.name, t.name,
                       CASE WHEN t.name = 'audit_log' THEN ' AND audit_id IS DISTINCT FROM $3'
                            ELSE '' END,
                       CASE WHEN t.name = 'audit_log' THEN ' AND audit_id IS DISTINCT FROM $3'
                            ELSE '' END)
            INTO n
            USING p_owner, p_batch,
                  (SELECT e.audit_id FROM {{schema}}.tenant_erasures e WHERE e.owner_id = p_owner);
        IF n > 0 THEN
            UPDATE {{schema}}.tenant_erasures e
               SET report = e.report || jsonb_build_object(t.kind,
                                coalesce((e.report->>t.kind)::bigint, 0) + n)
             WHERE e.owner_id = p_owner;
            -- A full batch: the table may have more; a short one emptied it.
            IF n >= p_batch THEN
                RETURN QUERY SELECT 'more'::text, NULL::jsonb;
                RETURN;
            END IF;
        END IF;
    END LOOP;
    -- Nothing left: the last step, under the tenant's writer lock.
    PERFORM pg_advisory_xact_lock(hashtextextended(p_owner, 1280114689));
    WITH e AS (DELETE FROM {{schema}}.tenant_erasures e WHERE e.owner_id = p_owner
               RETURNING e.audit_id, e.report),
         old AS (DELETE FROM {{schema}}.audit_log a USING e WHERE a.owner_id = p_owner
                 AND a.audit_id = e.audit_id RETURNING a.*),
         ins AS (INSERT INTO {{schema}}.audit_log (owner_id, at, actor, action, source, outcome,
                                                   detail)
                 SELECT p_owner, old.at, old.actor, old.action, old.source, old.outcome,
                        e.report || jsonb_build_object('state', 'finished')
                   FROM old, e RETURNING 1)
    SELECT e.report INTO rep FROM e;
    RETURN QUERY SELECT 'done'::text, rep;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_erase_clean(text, integer) FROM PUBLIC;

-- The marks waiting for a cleanup (through a proxy: every shard's; the caller orders them).
CREATE FUNCTION {{schema}}.lm_all_erasure_pending(p_limit integer)
RETURNS TABLE (owner_id text, erased_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY SELECT e.owner_id, e.erased_at FROM {{schema}}.tenant_erasures e
                  ORDER BY e.erased_at, e.owner_id LIMIT p_limit;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_erasure_pending(integer) FROM PUBLIC;

-- ---- export (api/lifecycle.c) -------------------------------------------------------------------

-- What stands for the tenant's state in an export: changes with every write of its documents
-- and chunks (each updates its usage row) and with its vectors. An export through pages checks
-- that every page saw the state its header did (otherwise it fails, retryably, and is redone).
CREATE FUNCTION {{schema}}.lm__export_stamp(p_owner text, p_provider text, p_dim integer,
                                            p_vectors boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v bigint := 0;
BEGIN
    IF p_vectors THEN
        EXECUTE format('SELECT count(*) FROM {{schema}}.%I v WHERE v.owner_id = $1'
                       ' AND v.provider_id = $2', 'vectors_' || p_dim)
            INTO v USING p_owner, p_provider;
    END IF;
    RETURN coalesce((SELECT u.xmin::text || ':' || u.documents || ':' || u.chunks
                       FROM {{schema}}.tenant_usage u WHERE u.owner_id = p_owner), '-')
           || ':' || v;
END
$fn$;

-- The export's header counts (vectors: of p_provider, when p_vectors), its time and its stamp.
CREATE FUNCTION {{schema}}.lm_export_head(p_owner text, p_provider text, p_dim integer,
                                          p_vectors boolean)
RETURNS TABLE (documents bigint, chunks bigint, vectors bigint, exported_at text, stamp text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v bigint := 0;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    IF p_vectors THEN
        EXECUTE format('SELECT count(*) FROM {{schema}}.%I v WHERE v.owner_id = $1'
                       ' AND v.provider_id = $2', 'vectors_' || p_dim)
            INTO v USING p_owner, p_provider;
    END IF;
    RETURN QUERY
        SELECT (SELECT count(*) FROM {{schema}}.documents d WHERE d.owner_id = p_owner),
               (SELECT count(*) FROM {{schema}}.chunks c WHERE c.owner_id = p_owner), v,
               to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               {{schema}}.lm__export_stamp(p_owner, p_provider, p_dim, p_vectors);
END
$fn$;

-- A page of the export's document records after (p_after_ts, p_after_id) in (created_at,
-- document_id) order (NULL: from the start), each with its key and the tenant's stamp.
CREATE FUNCTION {{schema}}.lm_export_documents(p_owner text, p_after_ts text, p_after_id uuid,
                                               p_limit integer, p_provider text, p_dim integer,
                                               p_vectors boolean)
RETURNS TABLE (key_ts text, key_id uuid, line text, stamp text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    f constant text := 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';
    s text;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    s := {{schema}}.lm__export_stamp(p_owner, p_provider, p_dim, p_vectors);
    RETURN QUERY
        SELECT to_char(d.created_at AT TIME ZONE 'UTC', f), d.document_id,
               json_build_object('type', 'document', 'document_id', d.document_id,
                   'id_at_origin', d.id_at_origin, 'document_type', d.document_type,
                   'document_name', d.document_name,
                   'document_date', to_char(d.document_date AT TIME ZONE 'UTC', f),
                   'metadata', d.metadata, 'text_config', d.text_config::text,
                   'content_bytes', d.content_bytes, 'chunk_count', d.chunk_count,
                   'created_at', to_char(d.created_at AT TIME ZONE 'UTC', f),
                   'updated_at', to_char(d.updated_at AT TIME ZONE 'UTC', f))::text, s
          FROM {{schema}}.documents d
         WHERE d.owner_id = p_owner
           AND (p_after_ts IS NULL
                OR (d.created_at, d.document_id)
                   > (p_after_ts::timestamptz, p_after_id))
         ORDER BY d.created_at, d.document_id LIMIT p_limit;
END
$fn$;

-- A page of the export's chunk records after chunk number p_after, in chunk_no order, with
-- their vectors of p_provider when p_vectors.
CREATE FUNCTION {{schema}}.lm_export_chunks(p_owner text, p_after bigint, p_limit integer,
                                            p_provider text, p_dim integer, p_vectors boolean)
RETURNS TABLE (key_no bigint, line text, stamp text)
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $fn$
#variable_conflict use_column
DECLARE
    s text;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    s := {{schema}}.lm__export_stamp(p_owner, p_provider, p_dim, p_vectors);
    RETURN QUERY EXECUTE format(
        'SELECT c.chunk_no, json_build_object(''type'', ''chunk'', ''chunk_id'', c.chunk_id,'
        ' ''document_id'', c.document_id, ''parent_chunk_id'', c.parent_chunk_id,'
        ' ''chunk_index'', c.chunk_index, ''chunk_level'', c.chunk_level,'
        ' ''searchable'', c.searchable, ''content'', c.content, ''content_hash'', c.content_hash,'
        ' ''token_count'', c.token_count, ''metadata'', c.metadata%s)::text, $5'
        '  FROM {{schema}}.chunks c%s'
        ' WHERE c.owner_id = $1 AND c.chunk_no > $2 ORDER BY c.chunk_no LIMIT $3',
        CASE WHEN p_vectors THEN ', ''embedding'', v.embedding::real[]' ELSE '' END,
        CASE WHEN p_vectors
             THEN format(' LEFT JOIN {{schema}}.%I v ON v.owner_id = c.owner_id'
                         ' AND v.provider_id = $4 AND v.chunk_id = c.chunk_id',
                         'vectors_' || p_dim)
             ELSE '' END)
        USING p_owner, coalesce(p_after, 0), p_limit, p_provider, s;
END
$fn$;

-- ---- import (api/lifecycle.c) -------------------------------------------------------------------

-- An import's records staged a batch per call until its stream has been read and checked, then
-- applied in one transaction (lm_import_apply) or discarded. Rows left by an import that never
-- finished are removed by the tenant's next import (after a day) or its erasure.
CREATE TABLE {{schema}}.import_staging (
    owner_id  text        NOT NULL,
    import_id uuid        NOT NULL,
    kind      smallint    NOT NULL CHECK (kind IN (0, 1)), -- 0 document, 1 chunk
    seq       bigint      NOT NULL,
    rec       jsonb       NOT NULL,
    staged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, import_id, kind, seq)
);
DO $do$
BEGIN
    IF to_regprocedure('{{schema}}.llmemory_protect_table(regclass)') IS NOT NULL THEN
        PERFORM {{schema}}.llmemory_protect_table('{{schema}}.import_staging'::regclass);
    END IF;
END
$do$;

-- Stage a batch: p_rows a JSON array of records of p_kind, numbered from p_seq + 1.
CREATE FUNCTION {{schema}}.lm_import_stage(p_owner text, p_import uuid, p_kind smallint,
                                           p_seq bigint, p_rows jsonb)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    INSERT INTO {{schema}}.import_staging (owner_id, import_id, kind, seq, rec)
    SELECT p_owner, p_import, p_kind, p_seq + t.o, t.e
      FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS t(e, o);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

CREATE FUNCTION {{schema}}.lm_import_discard(p_owner text, p_import uuid) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    DELETE FROM {{schema}}.import_staging s WHERE s.owner_id = p_owner AND s.import_id = p_import;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

-- Apply a staged import as api/lifecycle.c's stage_verify and stage_apply do, in one
-- transaction under the tenant's writer lock: the cross-record checks (SQLSTATE 22P04 with the
-- library's message when one fails), the writes, the quotas (p_limits, p_count_vectors as
-- lm_add), the vectors reused (p_reuse: the export's provider and dimension are this
-- memory's) or queued (p_queue), the "tenant.import" record; the staged rows removed.
CREATE FUNCTION {{schema}}.lm_import_apply(p_owner text, p_import uuid, p_provider text,
                                           p_dim integer, p_reuse boolean, p_queue boolean,
                                           p_limits bigint[], p_count_vectors boolean,
                                           p_actor text, p_source text, p_detail jsonb)
RETURNS TABLE (documents_created bigint, vectors_reused bigint, chunks_queued bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    kinds constant text[] := ARRAY['documents', 'chunks', 'bytes', 'vectors'];
    before bigint[];
    after bigint[];
    lim bigint[];
    a bigint;
    b bigint;
    c bigint;
    reused bigint := 0;
    queued bigint := 0;
    created bigint;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, true);
    DELETE FROM {{schema}}.import_staging s
     WHERE s.owner_id = p_owner AND s.staged_at < now() - interval '1 day';
    DROP TABLE IF EXISTS pg_temp.lm_import_documents, pg_temp.lm_import_chunks;
    CREATE TEMPORARY TABLE lm_import_documents (seq bigint NOT NULL, document_id uuid,
        id_at_origin text, document_type text, document_name text, document_date timestamptz,
        metadata jsonb, text_config regconfig, content_bytes bigint, created_at timestamptz,
        updated_at timestamptz, new_id uuid, existed boolean, PRIMARY KEY (document_id),
        UNIQUE (id_at_origin)) ON COMMIT DROP;
    CREATE TEMPORARY TABLE lm_import_chunks (seq bigint NOT NULL, chunk_id uuid,
        document_id uuid, parent_chunk_id uuid, chunk_index integer, chunk_level integer,
        searchable boolean, content text, content_hash text, token_count integer,
        metadata jsonb, embedding jsonb, new_id uuid, PRIMARY KEY (chunk_id)) ON COMMIT DROP;
    BEGIN
        INSERT INTO pg_temp.lm_import_documents (seq, document_id, id_at_origin, document_type,
            document_name, document_date, metadata, text_config, content_bytes, created_at,
            updated_at)
        SELECT s.seq, r.* FROM {{schema}}.import_staging s
         CROSS JOIN LATERAL jsonb_to_record(s.rec) AS r(document_id uuid, id_at_origin text,
               document_type text, document_name text, document_date timestamptz,
               metadata jsonb, text_config regconfig, content_bytes bigint,
               created_at timestamptz, updated_at timestamptz)
         WHERE s.owner_id = p_owner AND s.import_id = p_import AND s.kind = 0;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'the import holds the same document_id or id_at_origin twice'
            USING ERRCODE = '22P04';
    END;
    BEGIN
        INSERT INTO pg_temp.lm_import_chunks (seq, chunk_id, document_id, parent_chunk_id,
            chunk_index, chunk_level, searchable, content, content_hash, token_count, metadata,
            embedding)
        SELECT s.seq, r.* FROM {{schema}}.import_staging s
         CROSS JOIN LATERAL jsonb_to_record(s.rec) AS r(chunk_id uuid, document_id uuid,
               parent_chunk_id uuid, chunk_index integer, chunk_level integer,
               searchable boolean, content text, content_hash text, token_count integer,
               metadata jsonb, embedding jsonb)
         WHERE s.owner_id = p_owner AND s.import_id = p_import AND s.kind = 1;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'the import holds the same chunk_id twice' USING ERRCODE = '22P04';
    END;
    DELETE FROM {{schema}}.import_staging s WHERE s.owner_id = p_owner AND s.import_id = p_import;

    SELECT (SELECT count(*) FROM pg_temp.lm_import_chunks x WHERE NOT EXISTS
              (SELECT 1 FROM pg_temp.lm_import_documents d WHERE d.document_id = x.document_id)),
           (SELECT count(*) FROM pg_temp.lm_import_chunks x WHERE x.parent_chunk_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM pg_temp.lm_import_chunks p
                                WHERE p.chunk_id = x.parent_chunk_id
                                  AND p.document_id = x.document_id)),
           (SELECT count(*) FROM pg_temp.lm_import_chunks x
             WHERE x.content_hash <> encode(sha256(convert_to(x.content, 'UTF8')), 'hex'))
      INTO a, b, c;
    IF a > 0 THEN
        RAISE EXCEPTION '% chunks of the import belong to no document of it', a
            USING ERRCODE = '22P04';
    ELSIF b > 0 THEN
        RAISE EXCEPTION '% chunks of the import name a parent not in their document', b
            USING ERRCODE = '22P04';
    ELSIF c > 0 THEN
        RAISE EXCEPTION '% chunks of the import do not match their content_hash', c
            USING ERRCODE = '22P04';
    END IF;

    SELECT ARRAY[coalesce(u.documents, 0), coalesce(u.chunks, 0), coalesce(u.bytes, 0),
                 CASE WHEN p_count_vectors THEN coalesce(s.chunk_count, 0) ELSE 0 END]
      INTO before
      FROM (SELECT p_owner AS owner_id) o
      LEFT JOIN {{schema}}.tenant_usage u ON u.owner_id = o.owner_id
      LEFT JOIN {{schema}}.tenant_stats s ON s.owner_id = o.owner_id;
    -- The tenant's own document of the same origin keeps its id; otherwise the exported id,
    -- unless the tenant already uses it for another document.
    UPDATE pg_temp.lm_import_documents s SET new_id = coalesce(
        (SELECT d.document_id FROM {{schema}}.documents d WHERE d.owner_id = p_owner
            AND d.id_at_origin = s.id_at_origin),
        CASE WHEN EXISTS (SELECT 1 FROM {{schema}}.documents d WHERE d.owner_id = p_owner
            AND d.document_id = s.document_id) THEN gen_random_uuid() ELSE s.document_id END),
        existed = EXISTS (SELECT 1 FROM {{schema}}.documents d WHERE d.owner_id = p_owner
            AND d.id_at_origin = s.id_at_origin);
    DELETE FROM {{schema}}.chunks x WHERE x.owner_id = p_owner AND x.document_id IN
        (SELECT s.new_id FROM pg_temp.lm_import_documents s WHERE s.existed);
    UPDATE pg_temp.lm_import_chunks s SET new_id = CASE WHEN EXISTS
        (SELECT 1 FROM {{schema}}.chunks x WHERE x.owner_id = p_owner AND x.chunk_id = s.chunk_id)
        THEN gen_random_uuid() ELSE s.chunk_id END;
    WITH n AS (SELECT x.document_id, count(*) AS k FROM pg_temp.lm_import_chunks x
                GROUP BY x.document_id)
    INSERT INTO {{schema}}.documents AS d (owner_id, document_id, id_at_origin, document_type,
        document_name, document_date, metadata, text_config, content_bytes, chunk_count,
        created_at, updated_at)
    SELECT p_owner, s.new_id, s.id_at_origin, s.document_type, s.document_name, s.document_date,
           s.metadata, s.text_config, s.content_bytes, coalesce(n.k, 0), s.created_at,
           s.updated_at
      FROM pg_temp.lm_import_documents s LEFT JOIN n ON n.document_id = s.document_id
     ORDER BY s.seq
    ON CONFLICT (owner_id, id_at_origin) DO UPDATE SET
        document_type = excluded.document_type, document_name = excluded.document_name,
        document_date = excluded.document_date, metadata = excluded.metadata,
        text_config = excluded.text_config, content_bytes = excluded.content_bytes,
        chunk_count = excluded.chunk_count, created_at = excluded.created_at,
        updated_at = excluded.updated_at;
    -- Same text analysis as lm_add: the statistics, and so the scores, come out equal.
    INSERT INTO {{schema}}.chunks (owner_id, chunk_id, document_id, parent_chunk_id, chunk_index,
        chunk_level, searchable, content, content_hash, token_count, metadata, search_vector,
        doc_len)
    SELECT p_owner, x.new_id, d.new_id, pc.new_id, x.chunk_index, x.chunk_level, x.searchable,
           x.content, x.content_hash, x.token_count, x.metadata, v.tsv,
           (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)
              FROM unnest(v.tsv) u)
      FROM pg_temp.lm_import_chunks x
      JOIN pg_temp.lm_import_documents d ON d.document_id = x.document_id
      LEFT JOIN pg_temp.lm_import_chunks pc ON pc.chunk_id = x.parent_chunk_id
     CROSS JOIN LATERAL (SELECT to_tsvector(d.text_config, x.content) AS tsv) v
     ORDER BY x.seq;
    IF p_reuse THEN
        EXECUTE format('WITH i AS (INSERT INTO {{schema}}.%I (owner_id, provider_id, chunk_id,'
                       ' embedding) SELECT $1, $2, x.new_id, (x.embedding::text)::vector(%s)'
                       '   FROM pg_temp.lm_import_chunks x'
                       '  WHERE x.searchable AND x.embedding IS NOT NULL'
                       '    AND jsonb_typeof(x.embedding) = ''array'' RETURNING 1)'
                       ' SELECT count(*) FROM i', 'vectors_' || p_dim, p_dim)
            INTO reused USING p_owner, p_provider;
    END IF;
    IF p_queue THEN
        WITH i AS (INSERT INTO {{schema}}.embedding_queue (owner_id, provider_id, chunk_id)
                   SELECT p_owner, p_provider, x.new_id FROM pg_temp.lm_import_chunks x
                    WHERE x.searchable AND (NOT p_reuse OR x.embedding IS NULL
                          OR jsonb_typeof(x.embedding) <> 'array') RETURNING 1)
        SELECT count(*) INTO queued FROM i;
    END IF;
    SELECT count(*) INTO created FROM pg_temp.lm_import_documents s WHERE NOT s.existed;
    SELECT ARRAY[coalesce(u.documents, 0), coalesce(u.chunks, 0), coalesce(u.bytes, 0),
                 CASE WHEN p_count_vectors THEN coalesce(s.chunk_count, 0) ELSE 0 END],
           ARRAY[coalesce(q.max_documents, p_limits[1]), coalesce(q.max_chunks, p_limits[2]),
                 coalesce(q.max_bytes, p_limits[3]), coalesce(q.max_vectors, p_limits[4])]
      INTO after, lim
      FROM (SELECT p_owner AS owner_id) o
      LEFT JOIN {{schema}}.tenant_usage u ON u.owner_id = o.owner_id
      LEFT JOIN {{schema}}.tenant_stats s ON s.owner_id = o.owner_id
      LEFT JOIN {{schema}}.tenant_quotas q ON q.owner_id = o.owner_id;
    FOR i IN 1..4 LOOP
        IF lim[i] >= 0 AND after[i] > lim[i] AND after[i] > before[i] THEN
            RAISE EXCEPTION '% quota exceeded', kinds[i]
                USING ERRCODE = '53400', COLUMN = kinds[i],
                      DETAIL = format('The limit is %s %s; the tenant has %s, and this write'
                                      ' would make it %s.', lim[i], kinds[i], before[i], after[i]),
                      HINT = 'Delete documents, or raise the limit (llmemory quota set).';
        END IF;
    END LOOP;
    INSERT INTO {{schema}}.audit_log (owner_id, actor, action, source, outcome, detail)
    VALUES (p_owner, p_actor, 'tenant.import', p_source, 'success', coalesce(p_detail, '{}'));
    RETURN QUERY SELECT created, reused, queued;
END
$fn$;

-- ---- the embedding worker beyond its claim (063, api/queue.c) ------------------------------------
-- Over all tenants, under the maintenance policy like the claim: through a proxy each runs on
-- every shard, and a shard acts only on the queue entries it holds under the batch's lease.

-- The texts of the chunks a claim leased under p_token.
CREATE FUNCTION {{schema}}.lm_all_queue_texts(p_provider text, p_token uuid)
RETURNS TABLE (owner_id text, chunk_id text, content text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM pg_catalog.set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT c.owner_id, c.chunk_id::text, c.content
          FROM {{schema}}.embedding_queue q
          JOIN {{schema}}.chunks c ON c.owner_id = q.owner_id AND c.chunk_id = q.chunk_id
         WHERE q.provider_id = p_provider AND q.lease_token = p_token
           AND q.status = 'processing';
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_queue_texts(text, uuid) FROM PUBLIC;

-- Store the vectors of a batch (p_rows: [{owner_id, chunk_id, embedding}]) whose queue entries
-- are still leased under p_token, removing those entries; the vectors written.
CREATE FUNCTION {{schema}}.lm_all_queue_complete(p_provider text, p_dim integer, p_token uuid,
                                                 p_rows jsonb)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_catalog.set_config('llmemory.maintenance', 'on', true);
    EXECUTE format(
        'WITH x AS (SELECT * FROM jsonb_to_recordset($1)'
        '             AS x(owner_id text, chunk_id uuid, embedding text)),'
        ' mine AS (DELETE FROM {{schema}}.embedding_queue q USING x'
        '   WHERE q.owner_id = x.owner_id AND q.provider_id = $2 AND q.chunk_id = x.chunk_id'
        '     AND q.lease_token = $3 AND q.status = ''processing'''
        '   RETURNING q.owner_id, q.chunk_id),'
        ' ins AS (INSERT INTO {{schema}}.%I (owner_id, provider_id, chunk_id, embedding)'
        '   SELECT x.owner_id, $2, x.chunk_id, x.embedding::vector(%s)'
        '     FROM x JOIN mine ON mine.owner_id = x.owner_id AND mine.chunk_id = x.chunk_id'
        '   ON CONFLICT DO NOTHING RETURNING 1)'
        ' SELECT count(*) FROM ins', 'vectors_' || p_dim, p_dim)
        INTO n USING p_rows, p_provider, p_token;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_queue_complete(text, integer, uuid, jsonb) FROM PUBLIC;

-- Give a batch back: retried later (exponential backoff), or dead after p_max attempts.
CREATE FUNCTION {{schema}}.lm_all_queue_release(p_token uuid, p_max integer, p_error text)
RETURNS TABLE (status text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM pg_catalog.set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        UPDATE {{schema}}.embedding_queue q SET
            status = CASE WHEN q.attempts >= p_max THEN 'dead' ELSE 'pending' END,
            available_at = now() + make_interval(secs => least(300, power(2, q.attempts)::int)),
            lease_token = NULL, lease_until = NULL, last_error = p_error, updated_at = now()
         WHERE q.lease_token = p_token
        RETURNING q.status;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_queue_release(uuid, integer, text) FROM PUBLIC;

-- The queue's entries of p_provider by state (the caller adds the shards' rows up).
CREATE FUNCTION {{schema}}.lm_all_queue_stats(p_provider text)
RETURNS TABLE (pending bigint, processing bigint, dead bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM pg_catalog.set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT count(*) FILTER (WHERE q.status = 'pending'),
               count(*) FILTER (WHERE q.status = 'processing'),
               count(*) FILTER (WHERE q.status = 'dead')
          FROM {{schema}}.embedding_queue q WHERE q.provider_id = p_provider;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_queue_stats(text) FROM PUBLIC;

-- ---- delete bound to an origin (api/doc.c: lm_doc_delete_at_origin) ----------------------------
-- lm_delete of 061 for a key bound to one origin: of p_document_ids, only the tenant's
-- documents of id at origin p_id_at_origin; the ids deleted.
CREATE FUNCTION {{schema}}.lm_delete_at_origin(p_owner text, p_document_ids uuid[],
                                               p_id_at_origin text)
RETURNS TABLE (document_id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, true);
    RETURN QUERY
        DELETE FROM {{schema}}.documents d
         WHERE d.owner_id = p_owner AND d.document_id = ANY(p_document_ids)
           AND d.id_at_origin = p_id_at_origin
        RETURNING d.document_id;
END
$fn$;

-- 061_tenant_writes.sql: the tenant's writes as server-side functions, on the convention of
-- 060_tenant_functions.sql (lm_<op>, p_owner first, no session state, one round trip).
-- {{schema}} is the quoted schema.

-- Add a document, or replace the one with the same id at origin, with its chunks (p_chunks: the
-- JSON array api/doc.c builds, each chunk with "embedding" when p_vectors) and either their
-- vectors (p_vectors, in {{schema}}.vectors_<p_dim> of p_provider) or their places in the
-- embedding queue (p_queue). Quotas as api/quota.c checks them, after the write with the
-- writer lock held: p_limits are the library's default limits (documents, chunks, bytes,
-- vectors; -1 none), a tenant_quotas row overrides them, and p_count_vectors says whether the
-- tenant's searchable chunks count as vectors. A write that passes a limit it was within raises
-- SQLSTATE 53400 (message "<kind> quota exceeded", COLUMN the kind) and leaves nothing written.
CREATE FUNCTION {{schema}}.lm_add(
    p_owner text, p_document_id uuid, p_id_at_origin text, p_document_type text, p_name text,
    p_document_date timestamptz, p_metadata jsonb, p_config text, p_bytes bigint,
    p_chunk_count integer, p_chunks jsonb, p_provider text, p_dim integer, p_vectors boolean,
    p_queue boolean, p_limits bigint[], p_count_vectors boolean)
RETURNS TABLE (document_id uuid, created boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    kinds constant text[] := ARRAY['documents', 'chunks', 'bytes', 'vectors'];
    before bigint[];
    after bigint[];
    lim bigint[];
    doc uuid;
    is_new boolean;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, true);
    SELECT ARRAY[coalesce(u.documents, 0), coalesce(u.chunks, 0), coalesce(u.bytes, 0),
                 CASE WHEN p_count_vectors THEN coalesce(s.chunk_count, 0) ELSE 0 END]
      INTO before
      FROM (SELECT p_owner AS owner_id) o
      LEFT JOIN {{schema}}.tenant_usage u ON u.owner_id = o.owner_id
      LEFT JOIN {{schema}}.tenant_stats s ON s.owner_id = o.owner_id;
    INSERT INTO {{schema}}.documents AS d (owner_id, document_id, id_at_origin, document_type,
                                          document_name, document_date, metadata, text_config,
                                          content_bytes, chunk_count)
    VALUES (p_owner, p_document_id, p_id_at_origin, p_document_type, p_name, p_document_date,
            coalesce(p_metadata, '{}'), p_config::regconfig, p_bytes, p_chunk_count)
    ON CONFLICT (owner_id, id_at_origin) DO UPDATE SET
        document_type = excluded.document_type, document_name = excluded.document_name,
        document_date = excluded.document_date, metadata = excluded.metadata,
        text_config = excluded.text_config, content_bytes = excluded.content_bytes,
        chunk_count = excluded.chunk_count, updated_at = now()
    RETURNING d.document_id, (d.xmax = 0) INTO doc, is_new;
    IF NOT is_new THEN
        DELETE FROM {{schema}}.chunks c WHERE c.owner_id = p_owner AND c.document_id = doc;
    END IF;
    IF jsonb_array_length(p_chunks) > 0 THEN
        INSERT INTO {{schema}}.chunks (owner_id, chunk_id, document_id, parent_chunk_id,
                                       chunk_index, chunk_level, searchable, content,
                                       content_hash, token_count, metadata, search_vector,
                                       doc_len)
        SELECT p_owner, x.chunk_id, doc, x.parent_chunk_id, x.chunk_index, x.chunk_level,
               x.searchable, x.content, x.content_hash, x.token_count, x.metadata, v.tsv,
               (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)
                  FROM unnest(v.tsv) u)
          FROM jsonb_to_recordset(p_chunks) AS x(chunk_id uuid, parent_chunk_id uuid,
               chunk_index int, chunk_level int, searchable bool, content text,
               content_hash text, token_count int, metadata jsonb)
         CROSS JOIN LATERAL (SELECT to_tsvector(p_config::regconfig, x.content) AS tsv) v
         ORDER BY x.chunk_index;
    END IF;
    IF p_vectors THEN
        EXECUTE format('INSERT INTO {{schema}}.%I (owner_id, provider_id, chunk_id, embedding)'
                       ' SELECT $1, $2, x.chunk_id, x.embedding::vector(%s)'
                       '   FROM jsonb_to_recordset($3) AS x(chunk_id uuid, embedding text)'
                       '  WHERE x.embedding IS NOT NULL', 'vectors_' || p_dim, p_dim)
            USING p_owner, p_provider, p_chunks;
    ELSIF p_queue THEN
        INSERT INTO {{schema}}.embedding_queue (owner_id, provider_id, chunk_id)
        SELECT p_owner, p_provider, x.chunk_id
          FROM jsonb_to_recordset(p_chunks) AS x(chunk_id uuid, searchable bool)
         WHERE x.searchable;
    END IF;
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
    RETURN QUERY SELECT doc, is_new;
END
$fn$;

-- Delete the tenant's documents (with their chunks, vectors and postings) named by
-- p_document_ids, or else matching p_metadata (which must not be empty); the ids deleted.
CREATE FUNCTION {{schema}}.lm_delete(p_owner text, p_document_ids uuid[], p_metadata jsonb)
RETURNS TABLE (document_id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    ids uuid[];
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, true);
    IF p_document_ids IS NOT NULL THEN
        WITH del AS (DELETE FROM {{schema}}.documents d
                      WHERE d.owner_id = p_owner AND d.document_id = ANY(p_document_ids)
                     RETURNING d.document_id)
        SELECT array_agg(del.document_id) INTO ids FROM del;
    ELSIF p_metadata IS NOT NULL AND p_metadata <> '{}' THEN
        WITH del AS (DELETE FROM {{schema}}.documents d
                      WHERE d.owner_id = p_owner AND d.metadata @> p_metadata
                     RETURNING d.document_id)
        SELECT array_agg(del.document_id) INTO ids FROM del;
    ELSE
        RAISE EXCEPTION 'metadata filter for delete must not be empty' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT unnest(coalesce(ids, '{}'));
END
$fn$;

-- 001_schema.sql: documents, chunks, per-tenant BM25 statistics and postings, search history.
-- Every tenant table carries owner_id and its primary key starts with it, so a tenant's rows are
-- found (and can later be partitioned or sharded) by owner_id. {{schema}} is the quoted schema.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE {{schema}}.documents (
    owner_id      text        NOT NULL,
    document_id   uuid        NOT NULL,
    id_at_origin  text        NOT NULL,
    document_type text        NOT NULL CHECK (document_type IN (
                      'pdf', 'markdown', 'code', 'text', 'html', 'docx', 'email', 'report', 'chat',
                      'presentation', 'legal_document', 'technical_doc', 'business_report',
                      'unknown')),
    document_name text        NOT NULL,
    document_date timestamptz,
    metadata      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    text_config   regconfig   NOT NULL DEFAULT 'english',
    content_bytes bigint      NOT NULL DEFAULT 0,
    chunk_count   integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, document_id),
    CONSTRAINT documents_owner_origin_key UNIQUE (owner_id, id_at_origin)
);
CREATE INDEX documents_owner_created_idx ON {{schema}}.documents (owner_id, created_at, document_id);
CREATE INDEX documents_owner_updated_idx ON {{schema}}.documents (owner_id, updated_at, document_id);
CREATE INDEX documents_owner_name_idx ON {{schema}}.documents (owner_id, document_name, document_id);
CREATE INDEX documents_owner_date_idx ON {{schema}}.documents (owner_id, document_date);
CREATE INDEX documents_metadata_idx ON {{schema}}.documents USING gin (metadata jsonb_path_ops);

-- Chunks. chunk_no is a compact surrogate used by the postings; searchable is false for a
-- parent whose text is covered by its children (it serves as context only).
CREATE TABLE {{schema}}.chunks (
    owner_id        text        NOT NULL,
    chunk_id        uuid        NOT NULL,
    chunk_no        bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    document_id     uuid        NOT NULL,
    parent_chunk_id uuid,
    chunk_index     integer     NOT NULL,
    chunk_level     integer     NOT NULL,
    searchable      boolean     NOT NULL,
    content         text        NOT NULL,
    content_hash    text        NOT NULL,
    token_count     integer     NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    search_vector   tsvector    NOT NULL,
    doc_len         integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, chunk_id),
    CONSTRAINT chunks_chunk_no_key UNIQUE (owner_id, chunk_no),
    FOREIGN KEY (owner_id, document_id)
        REFERENCES {{schema}}.documents (owner_id, document_id) ON DELETE CASCADE,
    FOREIGN KEY (owner_id, parent_chunk_id)
        REFERENCES {{schema}}.chunks (owner_id, chunk_id) ON DELETE CASCADE
);
CREATE INDEX chunks_document_idx ON {{schema}}.chunks (owner_id, document_id, chunk_index);
CREATE INDEX chunks_parent_idx ON {{schema}}.chunks (owner_id, parent_chunk_id)
    WHERE parent_chunk_id IS NOT NULL;

-- BM25 statistics and postings, per tenant. Maintained by the triggers below in the same
-- transaction as every chunk insert/delete, so they are exact at all times.
CREATE TABLE {{schema}}.tenant_stats (
    owner_id    text   NOT NULL PRIMARY KEY,
    chunk_count bigint NOT NULL DEFAULT 0,
    total_len   bigint NOT NULL DEFAULT 0
);
CREATE TABLE {{schema}}.term_stats (
    owner_id text    NOT NULL,
    lexeme   text    NOT NULL,
    df       integer NOT NULL,
    PRIMARY KEY (owner_id, lexeme)
);
CREATE TABLE {{schema}}.postings (
    owner_id text    NOT NULL,
    lexeme   text    NOT NULL,
    chunk_no bigint  NOT NULL,
    tf       integer NOT NULL,
    doc_len  integer NOT NULL,
    -- tf and doc_len ride along in the index so scoring can read postings index-only.
    PRIMARY KEY (owner_id, lexeme, chunk_no) INCLUDE (tf, doc_len)
);

CREATE FUNCTION {{schema}}.chunks_index_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    INSERT INTO {{schema}}.postings (owner_id, lexeme, chunk_no, tf, doc_len)
    SELECT n.owner_id, t.lexeme, n.chunk_no, coalesce(array_length(t.positions, 1), 1), n.doc_len
      FROM new_rows n CROSS JOIN LATERAL unnest(n.search_vector) t
     WHERE n.searchable;
    -- Locks in a fixed order: the tenant's row, then its terms by lexeme.
    INSERT INTO {{schema}}.tenant_stats AS s (owner_id, chunk_count, total_len)
    SELECT owner_id, count(*), sum(doc_len) FROM new_rows WHERE searchable
     GROUP BY owner_id ORDER BY owner_id
    ON CONFLICT (owner_id) DO UPDATE
       SET chunk_count = s.chunk_count + excluded.chunk_count,
           total_len = s.total_len + excluded.total_len;
    INSERT INTO {{schema}}.term_stats AS s (owner_id, lexeme, df)
    SELECT n.owner_id, t.lexeme, count(*)
      FROM new_rows n CROSS JOIN LATERAL unnest(tsvector_to_array(n.search_vector)) t(lexeme)
     WHERE n.searchable
     GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (owner_id, lexeme) DO UPDATE SET df = s.df + excluded.df;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION {{schema}}.chunks_index_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    DELETE FROM {{schema}}.postings p
     USING old_rows o CROSS JOIN LATERAL unnest(tsvector_to_array(o.search_vector)) t(lexeme)
     WHERE o.searchable AND p.owner_id = o.owner_id AND p.lexeme = t.lexeme
       AND p.chunk_no = o.chunk_no;
    UPDATE {{schema}}.tenant_stats s
       SET chunk_count = s.chunk_count - d.n, total_len = s.total_len - d.len
      FROM (SELECT owner_id, count(*) AS n, sum(doc_len) AS len FROM old_rows
             WHERE searchable GROUP BY owner_id ORDER BY owner_id) d
     WHERE s.owner_id = d.owner_id;
    UPDATE {{schema}}.term_stats s SET df = s.df - d.n
      FROM (SELECT o.owner_id, t.lexeme, count(*) AS n
              FROM old_rows o CROSS JOIN LATERAL unnest(tsvector_to_array(o.search_vector)) t(lexeme)
             WHERE o.searchable GROUP BY 1, 2 ORDER BY 1, 2) d
     WHERE s.owner_id = d.owner_id AND s.lexeme = d.lexeme;
    DELETE FROM {{schema}}.term_stats s
     USING (SELECT DISTINCT o.owner_id, t.lexeme
              FROM old_rows o CROSS JOIN LATERAL unnest(tsvector_to_array(o.search_vector)) t(lexeme)
             WHERE o.searchable) d
     WHERE s.owner_id = d.owner_id AND s.lexeme = d.lexeme AND s.df <= 0;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER chunks_index_insert AFTER INSERT ON {{schema}}.chunks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION {{schema}}.chunks_index_insert();
CREATE TRIGGER chunks_index_delete AFTER DELETE ON {{schema}}.chunks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION {{schema}}.chunks_index_delete();

-- Chunks are immutable: re-indexing a document replaces them. Refuse updates that would
-- bypass the statistics triggers.
CREATE FUNCTION {{schema}}.chunks_refuse_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    RAISE EXCEPTION 'chunks cannot be updated' USING HINT = 'Re-add the document instead.';
END
$fn$;
CREATE TRIGGER chunks_refuse_update BEFORE UPDATE ON {{schema}}.chunks
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.chunks_refuse_update();

CREATE TABLE {{schema}}.search_history (
    owner_id     text             NOT NULL,
    search_id    uuid             NOT NULL DEFAULT gen_random_uuid(),
    query_text   text             NOT NULL,
    search_type  text             NOT NULL,
    filters      jsonb            NOT NULL DEFAULT '{}',
    result_count integer          NOT NULL,
    latency_ms   double precision NOT NULL,
    created_at   timestamptz      NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (owner_id, search_id)
);
CREATE INDEX search_history_owner_created_idx
    ON {{schema}}.search_history (owner_id, created_at DESC);

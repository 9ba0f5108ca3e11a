-- 030_quotas.sql: per-tenant storage usage, kept exact by triggers on documents, and per-tenant
-- quota overrides. Both tables carry owner_id like every tenant table (erased with the tenant,
-- and under the row-level security policies of 020 where that migration exists).
-- {{schema}} is the quoted schema.

-- Usage: documents, chunks and content bytes of each tenant. Maintained in the same transaction
-- as every document insert, update and delete (statement triggers over transition tables), so
-- a writer holding the tenant's write lock reads it exactly.
CREATE TABLE {{schema}}.tenant_usage (
    owner_id   text   NOT NULL PRIMARY KEY,
    documents  bigint NOT NULL DEFAULT 0,
    chunks     bigint NOT NULL DEFAULT 0,
    bytes      bigint NOT NULL DEFAULT 0
);

INSERT INTO {{schema}}.tenant_usage (owner_id, documents, chunks, bytes)
SELECT owner_id, count(*), coalesce(sum(chunk_count), 0), coalesce(sum(content_bytes), 0)
  FROM {{schema}}.documents GROUP BY owner_id;

CREATE FUNCTION {{schema}}.documents_usage() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {{schema}}.tenant_usage AS u (owner_id, documents, chunks, bytes)
        SELECT owner_id, count(*), sum(chunk_count), sum(content_bytes) FROM new_rows
         GROUP BY owner_id ORDER BY owner_id
        ON CONFLICT (owner_id) DO UPDATE
           SET documents = u.documents + excluded.documents, chunks = u.chunks + excluded.chunks,
               bytes = u.bytes + excluded.bytes;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE {{schema}}.tenant_usage u
           SET chunks = u.chunks + d.chunks, bytes = u.bytes + d.bytes
          FROM (SELECT n.owner_id, sum(n.chunk_count - o.chunk_count) AS chunks,
                       sum(n.content_bytes - o.content_bytes) AS bytes
                  FROM new_rows n JOIN old_rows o
                    ON o.owner_id = n.owner_id AND o.document_id = n.document_id
                 GROUP BY n.owner_id ORDER BY n.owner_id) d
         WHERE u.owner_id = d.owner_id;
    ELSE
        UPDATE {{schema}}.tenant_usage u
           SET documents = u.documents - d.documents, chunks = u.chunks - d.chunks,
               bytes = u.bytes - d.bytes
          FROM (SELECT owner_id, count(*) AS documents, sum(chunk_count) AS chunks,
                       sum(content_bytes) AS bytes
                  FROM old_rows GROUP BY owner_id ORDER BY owner_id) d
         WHERE u.owner_id = d.owner_id;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER documents_usage_insert AFTER INSERT ON {{schema}}.documents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION {{schema}}.documents_usage();
CREATE TRIGGER documents_usage_update AFTER UPDATE ON {{schema}}.documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION {{schema}}.documents_usage();
CREATE TRIGGER documents_usage_delete AFTER DELETE ON {{schema}}.documents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION {{schema}}.documents_usage();

-- Per-tenant overrides of the configured default limits. NULL: the default; -1: no limit.
CREATE TABLE {{schema}}.tenant_quotas (
    owner_id      text        NOT NULL PRIMARY KEY,
    max_documents bigint      CHECK (max_documents >= -1),
    max_chunks    bigint      CHECK (max_chunks >= -1),
    max_bytes     bigint      CHECK (max_bytes >= -1),
    max_vectors   bigint      CHECK (max_vectors >= -1),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Under the row-level security of 020 when it ran before this migration.
DO $do$
BEGIN
    IF to_regprocedure('{{schema}}.llmemory_protect_table(regclass)') IS NOT NULL THEN
        PERFORM {{schema}}.llmemory_protect_table('{{schema}}.tenant_usage'::regclass);
        PERFORM {{schema}}.llmemory_protect_table('{{schema}}.tenant_quotas'::regclass);
    END IF;
END
$do$;

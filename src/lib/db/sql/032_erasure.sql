-- 032_erasure.sql: erasure in two steps. Marking a tenant erased (one small transaction: a row
-- in tenant_erasures, its API keys removed, the erasure record written) makes it invisible to
-- every call at once: each tenant transaction asks llmemory_tenant_erased() as it starts
-- (db/tx.c), and an erased tenant's transactions run as no tenant at all, so row-level security
-- shows them no row and lets them write none. The rows themselves are then deleted in small
-- batches (api/erase.c), each its own short transaction, by whichever process runs the cleanup;
-- the mark survives a crash, so the cleanup resumes where it stopped. The last batch deletes the
-- mark: only then may the owner id be used again. {{schema}} is the quoted schema.

CREATE TABLE {{schema}}.tenant_erasures (
    owner_id  text        NOT NULL PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now(),
    audit_id  bigint,                                -- the erasure record kept in audit_log
    report    jsonb       NOT NULL DEFAULT '{}'      -- rows removed so far, per kind
        CHECK (jsonb_typeof(report) = 'object')
);

DO $do$
BEGIN
    IF to_regprocedure('{{schema}}.llmemory_protect_table(regclass)') IS NOT NULL THEN
        PERFORM {{schema}}.llmemory_protect_table('{{schema}}.tenant_erasures'::regclass);
    END IF;
END
$do$;
-- The owner (the role running this migration, which also owns the function below) may read
-- every mark; the work role still sees only its own tenant's.
DO $do$
BEGIN
    EXECUTE format('CREATE POLICY erased_read ON {{schema}}.tenant_erasures FOR SELECT TO %I'
                   ' USING (true)', current_user);
END
$do$;

-- Whether @owner is marked erased. SECURITY DEFINER so that the work role may ask before its
-- tenant is set; it answers for the one name it is given and reveals nothing else. VOLATILE:
-- it reads with a snapshot of its own, so a writer that waited for the tenant's lock sees an
-- erasure committed meanwhile.
CREATE FUNCTION {{schema}}.llmemory_tenant_erased(owner text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
    SELECT EXISTS (SELECT 1 FROM {{schema}}.tenant_erasures e WHERE e.owner_id = owner)
$fn$;

-- The cleanup deletes postings, keyword statistics and counters of the erased tenant by
-- themselves, a batch at a time; while it deletes that tenant's chunks (llmemory.erasing set
-- to the tenant, transaction-locally, in the cleanup's own transactions) the per-chunk upkeep
-- of those tables is skipped. Otherwise the function is 006's.
CREATE OR REPLACE FUNCTION {{schema}}.chunks_index_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    erasing text := current_setting('llmemory.erasing', true);
BEGIN
    IF erasing IS NOT NULL AND erasing <> ''
       AND NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.owner_id <> erasing) THEN
        RETURN NULL;
    END IF;
    WITH gone AS MATERIALIZED (
        SELECT o.owner_id, t.lexeme, o.chunk_no
          FROM old_rows o CROSS JOIN LATERAL unnest(tsvector_to_array(o.search_vector)) t(lexeme)
         WHERE o.searchable)
    DELETE FROM {{schema}}.postings p
     USING gone g
     WHERE p.owner_id = g.owner_id AND p.lexeme = g.lexeme AND p.chunk_no = g.chunk_no;
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

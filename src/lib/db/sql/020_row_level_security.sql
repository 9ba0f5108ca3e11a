-- 020_row_level_security.sql: row-level security, forced, on every table that holds a tenant's
-- rows (every table with an owner_id column, including the per-dimension vector tables created
-- later by src/lib/search/vector.c, which calls {{schema}}.llmemory_protect_table the same way).
--
-- Two permissive policies per table:
--   tenant       rows of the tenant set transaction-locally by every tenant transaction
--                (set_config('llmemory.owner_id', <tenant>, true), db/tx.c); outside one the
--                setting is unset or '' and nothing matches, so a statement sees no row and may
--                write none.
--   maintenance  every row, only for the role that ran this migration (the tables' owner), and
--                only while its session sets llmemory.maintenance = 'on' (db/tx.c,
--                lm__db_admin_acquire): migrations, optimize, the embedding worker, key
--                verification and vector index builds. The library's work role never matches it.
-- FORCE makes the owner obey the policies too; superusers and BYPASSRLS roles skip them, which
-- is why tenant transactions switch to a role that is neither (docs/operations.md).
-- The tenant qual is a plain text equality, which PostgreSQL may use as an index condition, and
-- every query keeps its own owner_id = $1 so partial per-tenant indexes still match.

CREATE FUNCTION {{schema}}.llmemory_protect_table(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant ON %s', tbl);
    EXECUTE format('CREATE POLICY tenant ON %s'
                   ' USING (owner_id = current_setting(''llmemory.owner_id'', true))'
                   ' WITH CHECK (owner_id = current_setting(''llmemory.owner_id'', true))', tbl);
    EXECUTE format('DROP POLICY IF EXISTS maintenance ON %s', tbl);
    EXECUTE format('CREATE POLICY maintenance ON %s TO %I'
                   ' USING (current_setting(''llmemory.maintenance'', true) = ''on'')'
                   ' WITH CHECK (current_setting(''llmemory.maintenance'', true) = ''on'')',
                   tbl, current_user);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.llmemory_protect_table(regclass) FROM PUBLIC;

SELECT {{schema}}.llmemory_protect_table(c.oid)
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = '{{schema}}'::regnamespace AND c.relkind IN ('r', 'p')
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'owner_id' AND NOT a.attisdropped)
 ORDER BY c.relname;

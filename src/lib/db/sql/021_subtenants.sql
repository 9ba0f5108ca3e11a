-- 021_subtenants.sql: the sub-tenants ("<tenant>/...") of the transaction's tenant, for searches
-- that span a tenant and its sub-tenants (lm_search_opts.include_subtenants). Under row-level
-- security the work role sees only its own tenant's rows, so this function runs as the owner
-- (SECURITY DEFINER, fixed search_path) under the maintenance policy, which it turns on only
-- for its own query (a function's SET clause on a custom setting needs a superuser), and
-- returns names only: each sub-tenant is then searched in a tenant transaction of its own. It
-- cannot be pointed at another prefix: the prefix is the transaction's tenant.
-- {{schema}} is the quoted schema.
CREATE FUNCTION {{schema}}.llmemory_subtenants() RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
AS $fn$
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT s.owner_id FROM {{schema}}.tenant_stats s
         WHERE s.chunk_count > 0
           AND starts_with(s.owner_id, current_setting('llmemory.owner_id', true) || '/')
         ORDER BY s.owner_id COLLATE "C";
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;

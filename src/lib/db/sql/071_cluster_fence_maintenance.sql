-- 071_cluster_fence_maintenance.sql: the fence of 070 for maintenance writes too (docs/cluster.md).
-- {{schema}} is the quoted schema.
--
-- 070's statement trigger keys a write by the transaction's tenant. Maintenance work (the
-- embedding worker's claims and vector writes, the usage meter, optimize, erasure clean-up) runs
-- under llmemory.maintenance and writes rows of many tenants in one statement, with no tenant
-- set, so it passed the fence: a vector written on the old shard after the switch was lost. A
-- row trigger, fired only in maintenance mode (its WHEN clause costs tenant writes nothing),
-- checks each row's tenant the same way: the tenant's fence lock shared (held to the end of
-- the transaction, so the cut-over's exclusive lock waits for it), then the fence row; a fenced
-- tenant's row fails the statement with SQLSTATE 40001. The rows that follow a checked row of
-- the same tenant in the transaction are not checked again (its lock is held: no fence can
-- commit before the transaction ends).
--
-- llmemory.fence_bypass names the one tenant whose rows the move itself writes (its marker, the
-- clean-up of the source, the slate of the target): only the cluster's sessions set it.
CREATE FUNCTION {{schema}}.tenant_fence_check_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    o text;
    dest text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        o := OLD.owner_id;
    ELSE
        o := NEW.owner_id;
    END IF;
    IF o IS NULL OR o = current_setting('llmemory.fence_ok', true)
       OR o = current_setting('llmemory.fence_bypass', true) THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtextextended(o, 1280114790));
    SELECT f.moved_to INTO dest FROM {{schema}}.tenant_fence f WHERE f.owner_id = o;
    IF FOUND THEN
        RAISE EXCEPTION 'tenant "%" has moved to shard "%"', o, dest
            USING ERRCODE = '40001',
                  HINT = 'Retry: the tenant''s operations now run on its new shard.';
    END IF;
    PERFORM set_config('llmemory.fence_ok', o, true);
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$fn$;

CREATE OR REPLACE FUNCTION {{schema}}.cluster_fence_table(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                    WHERE tgrelid = tbl AND tgname = 'tenant_fence') THEN
        EXECUTE format('CREATE TRIGGER tenant_fence BEFORE INSERT OR UPDATE OR DELETE ON %s'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.tenant_fence_check()',
                       tbl);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                    WHERE tgrelid = tbl AND tgname = 'tenant_fence_maintenance') THEN
        EXECUTE format('CREATE TRIGGER tenant_fence_maintenance BEFORE INSERT OR UPDATE OR DELETE'
                       ' ON %s FOR EACH ROW'
                       ' WHEN (current_setting(''llmemory.maintenance'', true) = ''on'')'
                       ' EXECUTE FUNCTION {{schema}}.tenant_fence_check_row()', tbl);
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.cluster_fence_table(regclass) FROM PUBLIC;

SELECT {{schema}}.cluster_fence_table(t) FROM {{schema}}.cluster_tenant_tables() t;

-- 063's claim, skipping fenced tenants: a tenant that moved away (its rows here wait for the
-- clean-up) or one arriving by a move (its rows here are a copy until the cut-over) is claimed
-- on the shard that serves it. The row trigger above still refuses a claim that races a fence.
CREATE OR REPLACE FUNCTION {{schema}}.lm_all_queue_claim(p_provider text, p_batch integer,
                                                         p_lease integer, p_token uuid)
RETURNS TABLE (owner_id text, chunk_id text, attempts integer)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM pg_catalog.set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        WITH c AS (SELECT e.owner_id, e.provider_id, e.chunk_id FROM {{schema}}.embedding_queue e
                    WHERE e.provider_id = p_provider
                      AND ((e.status = 'pending' AND e.available_at <= now())
                        OR (e.status = 'processing' AND e.lease_until < now()))
                      AND NOT EXISTS (SELECT 1 FROM {{schema}}.tenant_fence f
                                       WHERE f.owner_id = e.owner_id)
                    ORDER BY e.available_at, e.created_at LIMIT p_batch FOR UPDATE SKIP LOCKED),
             u AS (UPDATE {{schema}}.embedding_queue q SET status = 'processing',
                          attempts = q.attempts + 1,
                          lease_until = now() + make_interval(secs => p_lease),
                          lease_token = p_token, updated_at = now()
                     FROM c WHERE q.owner_id = c.owner_id AND q.provider_id = c.provider_id
                      AND q.chunk_id = c.chunk_id
                   RETURNING q.owner_id, q.chunk_id::text, q.attempts)
        SELECT u.owner_id, u.chunk_id, u.attempts FROM u;
END
$fn$;

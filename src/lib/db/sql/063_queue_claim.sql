-- 063_queue_claim.sql: the embedding worker's claim over all tenants as a server-side function,
-- on the convention of 060_tenant_functions.sql (no tenant: lm_all_<op>, no p_owner).
-- {{schema}} is the quoted schema.

-- Claim up to p_batch ready jobs of p_provider (pending and due, or processing with an expired
-- lease) for p_lease seconds under p_token. The queue's rows show only through the maintenance
-- policy of 020_row_level_security.sql, which binds the tables' owner alone: the function sets
-- llmemory.maintenance for its own transaction, so the owner needs no session state, and any
-- other role (the work role) still sees no row and claims nothing.
CREATE FUNCTION {{schema}}.lm_all_queue_claim(p_provider text, p_batch integer, p_lease integer,
                                              p_token uuid)
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

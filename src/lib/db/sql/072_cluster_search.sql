-- 072_cluster_search.sql: the searches that a cluster proxy cannot route as one function call
-- (docs/cluster.md). {{schema}} is the quoted schema.
--
-- Searches with query variants, a rerank or parent context run the library's statements, which
-- no PL/Proxy call carries: on a proxy the library runs them on the tenant's shard directly, in
-- one transaction, and checks the fence last (lm__fence_check). A tenant fenced here has moved
-- (or is arriving and not yet switched to): the search fails with 40001 and the library reads
-- the placement again. Checked after the reads, in READ COMMITTED: a move deletes the source's
-- rows only after its fence has committed, so a check that finds no fence proves the reads
-- before it saw every row.
CREATE FUNCTION {{schema}}.lm__fence_check(p_owner text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    dest text;
BEGIN
    SELECT f.moved_to INTO dest FROM {{schema}}.tenant_fence f WHERE f.owner_id = p_owner;
    IF FOUND THEN
        RAISE EXCEPTION 'tenant "%" has moved to shard "%"', p_owner, dest
            USING ERRCODE = '40001',
                  HINT = 'Retry: the tenant''s operations now run on its new shard.';
    END IF;
END
$fn$;

-- A search including sub-tenants names them with llmemory_subtenants() (021), which sees only
-- the tenant's own shard; a sub-tenant hashes on its own name and may live on another. Through
-- the proxy this runs on every shard (RUN ON ALL), and the library searches each sub-tenant with
-- a routed search of its own.
CREATE FUNCTION {{schema}}.lm_all_subtenants(p_owner text) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
    IF {{schema}}.llmemory_tenant_erased(p_owner) THEN
        RETURN;
    END IF;
    PERFORM set_config('llmemory.owner_id', p_owner, true);
    RETURN QUERY SELECT s FROM {{schema}}.llmemory_subtenants() s;
END
$fn$;

-- 073_cluster_key_tree.sql: the API keys of a tenant and its sub-tenants through a cluster proxy
-- (docs/cluster.md). {{schema}} is the quoted schema.
--
-- A sub-tenant hashes on its own name, so its keys may live on another shard than its parent's:
-- lm_key_list(owner, true) and lm_key_revoke(owner, true, key), routed to the parent's shard,
-- would miss them. Through the proxy these run on every shard (RUN ON ALL): each returns the
-- keys of the owner and its sub-tenants that it holds. Closed to PUBLIC like 067's.
CREATE FUNCTION {{schema}}.lm_all_key_list_tree(p_owner text)
RETURNS TABLE (key_id text, owner_id text, origin text, scope text, allow_subtenants boolean,
               name text, created_at text, expires_at text, revoked_at text, last_used_at text,
               created timestamptz)
LANGUAGE sql STABLE AS $fn$
    SELECT * FROM {{schema}}.lm__key_rows(p_owner, true)
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_key_list_tree(text) FROM PUBLIC;

CREATE FUNCTION {{schema}}.lm_all_key_revoke_tree(p_owner text, p_key_id text)
RETURNS TABLE (key_id text, owner_id text)
LANGUAGE sql AS $fn$
    SELECT * FROM {{schema}}.lm__key_revoke(p_owner, true, p_key_id)
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_key_revoke_tree(text, text) FROM PUBLIC;

-- 065_key_lookup.sql: the API key lookup of lm_key_verify() (api/keys.c), which runs before every
-- request of the HTTP server, as one prepared call with the key id bound: it reads the key row
-- under the maintenance policy (020) and leaves the setting as it found it, so the connection
-- goes back to its pool unchanged. SECURITY DEFINER as the tables' owner, the only role that
-- policy admits; callable by that owner alone. {{schema}} is the quoted schema.
CREATE FUNCTION {{schema}}.lm__key_lookup(p_key_id text)
RETURNS TABLE (owner_id text, origin text, scope text, allow_subtenants boolean, hash text,
               revoked boolean, expired boolean, stale boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT k.owner_id, coalesce(k.origin, ''), k.scope, k.allow_subtenants, k.hash,
               k.revoked_at IS NOT NULL, k.expires_at IS NOT NULL AND k.expires_at <= now(),
               -- last_used_at is refreshed at most once a minute (api/keys.c)
               k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds'
          FROM {{schema}}.api_keys k WHERE k.key_id = p_key_id;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm__key_lookup(text) FROM PUBLIC;

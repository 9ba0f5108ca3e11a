-- 066_key_notify.sql: what the verified-key cache of lm_key_verify() (api/keycache.c) needs.
--
-- Every change to a key that can make a cached verification wrong (revocation, expiry, owner,
-- scope, origin, secret, deletion by a tenant's erasure, TRUNCATE) sends NOTIFY llmemory_keys
-- with the key id as payload ("*" for a TRUNCATE: every key). A server that caches keys listens
-- on a dedicated connection and drops the key at once; notifications are sent at commit, so a
-- rolled-back revocation invalidates nothing. The refresh of last_used_at (once a minute per
-- key) sends none. {{schema}} is the quoted schema.
CREATE FUNCTION {{schema}}.lm__key_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('llmemory_keys', '*');
    ELSE
        PERFORM pg_notify('llmemory_keys', OLD.key_id);
    END IF;
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm__key_notify() FROM PUBLIC;

CREATE TRIGGER api_keys_notify_update AFTER UPDATE ON {{schema}}.api_keys FOR EACH ROW
    WHEN ((OLD.key_id, OLD.owner_id, OLD.origin, OLD.scope, OLD.allow_subtenants, OLD.hash,
           OLD.expires_at, OLD.revoked_at)
          IS DISTINCT FROM
          (NEW.key_id, NEW.owner_id, NEW.origin, NEW.scope, NEW.allow_subtenants, NEW.hash,
           NEW.expires_at, NEW.revoked_at))
    EXECUTE FUNCTION {{schema}}.lm__key_notify();
CREATE TRIGGER api_keys_notify_delete AFTER DELETE ON {{schema}}.api_keys FOR EACH ROW
    EXECUTE FUNCTION {{schema}}.lm__key_notify();
CREATE TRIGGER api_keys_notify_truncate AFTER TRUNCATE ON {{schema}}.api_keys FOR EACH STATEMENT
    EXECUTE FUNCTION {{schema}}.lm__key_notify();

-- lm__key_lookup (065) with the time left before the key expires (seconds by the database's
-- clock, NULL: never), which the cache turns into a deadline on its own monotonic clock, so a
-- cached key stops verifying when it expires whatever the two machines' clocks say.
CREATE FUNCTION {{schema}}.lm__key_lookup_ttl(p_key_id text)
RETURNS TABLE (owner_id text, origin text, scope text, allow_subtenants boolean, hash text,
               revoked boolean, expired boolean, stale boolean, expires_in double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT k.owner_id, coalesce(k.origin, ''), k.scope, k.allow_subtenants, k.hash,
               k.revoked_at IS NOT NULL, k.expires_at IS NOT NULL AND k.expires_at <= now(),
               k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds',
               extract(epoch FROM k.expires_at - now())::double precision
          FROM {{schema}}.api_keys k WHERE k.key_id = p_key_id;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm__key_lookup_ttl(text) FROM PUBLIC;

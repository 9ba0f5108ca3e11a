-- 067_keys_audit_functions.sql: API keys, the audit log and the readiness check as server-side
-- functions on the convention of 060_tenant_functions.sql, so that the library, and with it
-- `llmemory serve`, works through a cluster proxy (src/lib/cluster) exactly as on one server:
-- the proxy routes lm_<op>(p_owner, ...) to the tenant's shard and runs lm_all_<op> on every
-- shard, returning all rows (or the sum of one number). {{schema}} is the quoted schema.
--
-- API keys are the server's bookkeeping, read and written under the maintenance policy of 020
-- (as api/keys.c does on an admin connection): these functions are SECURITY DEFINER as the
-- tables' owner, set llmemory.maintenance for their own transaction and are callable by that
-- owner alone. A key lives on its owner's shard (created there, moved with the tenant); a key
-- is looked up by its id alone, which does not name the owner, so the lookup runs on every
-- shard and exactly one returns the row (docs/cluster.md, "API keys").

CREATE FUNCTION {{schema}}.lm_key_create(p_owner text, p_key_id text, p_origin text, p_scope text,
                                         p_allow_subtenants boolean, p_name text, p_hash text,
                                         p_expires_at timestamptz)
RETURNS TABLE (created_at text, expires_at text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    IF p_owner IS NULL OR p_owner = '' THEN
        RAISE EXCEPTION 'owner_id must not be empty' USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        INSERT INTO {{schema}}.api_keys AS k (key_id, owner_id, origin, scope, allow_subtenants,
                                              name, hash, expires_at)
        SELECT p_key_id, p_owner, p_origin, p_scope, p_allow_subtenants, p_name, p_hash,
               p_expires_at
         WHERE p_expires_at IS NULL OR p_expires_at > now()
        RETURNING to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                  coalesce(to_char(k.expires_at AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '');
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_key_create(text, text, text, text, boolean, text, text,
                                                timestamptz) FROM PUBLIC;

-- The keys of one owner (with its subtenants: those of them on the same shard), or of every
-- owner of this database (lm_all_key_list: the caller orders the shards' rows).
CREATE FUNCTION {{schema}}.lm__key_rows(p_owner text, p_with_subtenants boolean)
RETURNS TABLE (key_id text, owner_id text, origin text, scope text, allow_subtenants boolean,
               name text, created_at text, expires_at text, revoked_at text, last_used_at text,
               created timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
    f text := 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT k.key_id, k.owner_id, k.origin, k.scope, k.allow_subtenants, k.name,
               to_char(k.created_at AT TIME ZONE 'UTC', f),
               to_char(k.expires_at AT TIME ZONE 'UTC', f),
               to_char(k.revoked_at AT TIME ZONE 'UTC', f),
               to_char(k.last_used_at AT TIME ZONE 'UTC', f), k.created_at
          FROM {{schema}}.api_keys k
         WHERE p_owner IS NULL OR k.owner_id = p_owner
            OR (p_with_subtenants AND starts_with(k.owner_id, p_owner || '/'))
         ORDER BY k.created_at, k.key_id;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm__key_rows(text, boolean) FROM PUBLIC;

CREATE FUNCTION {{schema}}.lm_key_list(p_owner text, p_with_subtenants boolean)
RETURNS TABLE (key_id text, owner_id text, origin text, scope text, allow_subtenants boolean,
               name text, created_at text, expires_at text, revoked_at text, last_used_at text,
               created timestamptz)
LANGUAGE sql STABLE AS $fn$
    SELECT * FROM {{schema}}.lm__key_rows(p_owner, p_with_subtenants)
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_key_list(text, boolean) FROM PUBLIC;

CREATE FUNCTION {{schema}}.lm_all_key_list()
RETURNS TABLE (key_id text, owner_id text, origin text, scope text, allow_subtenants boolean,
               name text, created_at text, expires_at text, revoked_at text, last_used_at text,
               created timestamptz)
LANGUAGE sql STABLE AS $fn$
    SELECT * FROM {{schema}}.lm__key_rows(NULL, false)
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_key_list() FROM PUBLIC;

-- Revoke a key (the first revocation time stays); p_owner NULL: whoever owns it. The key
-- revoked, none when there is no such key (of that owner).
CREATE FUNCTION {{schema}}.lm__key_revoke(p_owner text, p_with_subtenants boolean, p_key_id text)
RETURNS TABLE (key_id text, owner_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        UPDATE {{schema}}.api_keys k SET revoked_at = coalesce(k.revoked_at, now())
         WHERE k.key_id = p_key_id
           AND (p_owner IS NULL OR k.owner_id = p_owner
                OR (p_with_subtenants AND starts_with(k.owner_id, p_owner || '/')))
        RETURNING k.key_id, k.owner_id;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm__key_revoke(text, boolean, text) FROM PUBLIC;

CREATE FUNCTION {{schema}}.lm_key_revoke(p_owner text, p_with_subtenants boolean, p_key_id text)
RETURNS TABLE (key_id text, owner_id text)
LANGUAGE sql AS $fn$
    SELECT * FROM {{schema}}.lm__key_revoke(p_owner, p_with_subtenants, p_key_id)
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_key_revoke(text, boolean, text) FROM PUBLIC;

CREATE FUNCTION {{schema}}.lm_all_key_revoke(p_key_id text)
RETURNS TABLE (key_id text, owner_id text)
LANGUAGE sql AS $fn$
    SELECT * FROM {{schema}}.lm__key_revoke(NULL, false, p_key_id)
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_key_revoke(text) FROM PUBLIC;

-- The lookup of lm_key_verify() (065) on every shard: the one that holds the key returns it.
CREATE FUNCTION {{schema}}.lm_all_key_lookup(p_key_id text)
RETURNS TABLE (owner_id text, origin text, scope text, allow_subtenants boolean, hash text,
               revoked boolean, expired boolean, stale boolean)
LANGUAGE sql STABLE AS $fn$
    SELECT * FROM {{schema}}.lm__key_lookup(p_key_id)
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_key_lookup(text) FROM PUBLIC;

-- Record a key's use (api/keys.c refreshes it at most once a minute); the rows touched.
CREATE FUNCTION {{schema}}.lm_all_key_touch(p_key_id text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
    n bigint;
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    UPDATE {{schema}}.api_keys SET last_used_at = now() WHERE key_id = p_key_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_key_touch(text) FROM PUBLIC;

-- Append one record to the tenant's audit log, as the tenant (its row-level security: a tenant
-- being erased has no log to write to). The record's id.
CREATE FUNCTION {{schema}}.lm_audit_write(p_owner text, p_actor text, p_action text,
                                          p_source text, p_outcome text, p_detail jsonb)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    id bigint;
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    INSERT INTO {{schema}}.audit_log (owner_id, actor, action, source, outcome, detail)
    VALUES (p_owner, p_actor, p_action, p_source, p_outcome, coalesce(p_detail, '{}'))
    RETURNING audit_id INTO id;
    RETURN id;
END
$fn$;

-- The tenant's latest p_limit audit records, newest first.
CREATE FUNCTION {{schema}}.lm_audit_list(p_owner text, p_limit integer)
RETURNS TABLE (audit_id bigint, at text, actor text, action text, source text, outcome text,
               detail text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    RETURN QUERY
        SELECT a.audit_id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               a.actor, a.action, a.source, a.outcome, a.detail::text
          FROM {{schema}}.audit_log a WHERE a.owner_id = p_owner
         ORDER BY a.audit_id DESC LIMIT p_limit;
END
$fn$;

-- The server's own log (owner_id ''): the latest p_limit records of this database; through a
-- proxy the caller orders the shards' rows by time.
CREATE FUNCTION {{schema}}.lm_all_audit_server(p_limit integer)
RETURNS TABLE (audit_id bigint, at text, actor text, action text, source text, outcome text,
               detail text, at_ts timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT a.audit_id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               a.actor, a.action, a.source, a.outcome, a.detail::text, a.at
          FROM {{schema}}.audit_log a WHERE a.owner_id = ''
         ORDER BY a.audit_id DESC LIMIT p_limit;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_audit_server(integer) FROM PUBLIC;

-- An authentication failure (api/audit.c): in the log of the key's tenant when this database
-- holds the key (not being erased), else nowhere; p_server: write it to the server's log when
-- the key is not here (one server; through a proxy the library asks every shard for the key
-- first and writes an unknown key's failure to the server log of shard 0 alone). Rows written.
CREATE FUNCTION {{schema}}.lm_all_audit_auth_failure(p_key_id text, p_actor text, p_source text,
                                                     p_detail jsonb, p_server boolean)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
    o text;
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    SELECT k.owner_id INTO o FROM {{schema}}.api_keys k
     WHERE k.key_id = p_key_id AND NOT {{schema}}.llmemory_tenant_erased(k.owner_id);
    IF o IS NULL AND NOT p_server THEN
        PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
        RETURN 0;
    END IF;
    INSERT INTO {{schema}}.audit_log (owner_id, actor, action, source, outcome, detail)
    VALUES (coalesce(o, ''), p_actor, 'auth.failure', p_source, 'failure', p_detail);
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
    RETURN 1;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_audit_auth_failure(text, text, text, jsonb, boolean)
    FROM PUBLIC;

-- The migrations of p_names this database has not applied (lm_memory_ready: through a proxy,
-- every shard's).
CREATE FUNCTION {{schema}}.lm_all_migrations_missing(p_names text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $fn$
    SELECT n FROM unnest(p_names) n
     WHERE NOT EXISTS (SELECT 1 FROM {{schema}}.schema_migrations m WHERE m.filename = n)
$fn$;

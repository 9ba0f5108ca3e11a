-- 064_usage_functions.sql: the usage meter (033) as tenant functions in the convention of 060,
-- so that a cluster proxy routes them to the tenant's shard like every other tenant operation.
-- The library calls them when it talks to a proxy; on one server it keeps writing every owner's
-- counts in one statement on an admin connection (api/quota.c). {{schema}} is the quoted schema.

-- Add a tenant's counts (one row per UTC day); nothing for a tenant being erased. Writes as the
-- tables' owner under the maintenance policy, like the library's own meter flush: the counts
-- are the server's bookkeeping, not the tenant's data. Returns the rows written.
CREATE FUNCTION {{schema}}.lm_usage_add(p_owner text, p_days date[], p_searches bigint[],
                                        p_adds bigint[])
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
    n integer;
BEGIN
    IF p_owner IS NULL OR p_owner = '' THEN
        RAISE EXCEPTION 'owner_id must not be empty' USING ERRCODE = '22023';
    END IF;
    IF {{schema}}.llmemory_tenant_erased(p_owner) THEN
        RETURN 0;
    END IF;
    PERFORM set_config('llmemory.maintenance', 'on', true);
    INSERT INTO {{schema}}.tenant_usage_daily AS u (owner_id, day, searches, adds)
    SELECT p_owner, t.d, t.s, t.a FROM unnest(p_days, p_searches, p_adds) t(d, s, a)
     ORDER BY t.d
    ON CONFLICT (owner_id, day) DO UPDATE SET searches = u.searches + excluded.searches,
                                              adds = u.adds + excluded.adds;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_usage_add(text, date[], bigint[], bigint[]) FROM PUBLIC;

-- A tenant's searches and adds for the last p_days UTC days, today first (0 on days without).
CREATE FUNCTION {{schema}}.lm_usage_days(p_owner text, p_days integer)
RETURNS TABLE (day text, searches bigint, adds bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    RETURN QUERY
        SELECT to_char(g.day, 'YYYY-MM-DD'), coalesce(u.searches, 0)::bigint,
               coalesce(u.adds, 0)::bigint
          FROM (SELECT ((now() AT TIME ZONE 'UTC')::date - i) AS day
                  FROM generate_series(0, p_days - 1) i) g
          LEFT JOIN {{schema}}.tenant_usage_daily u ON u.owner_id = p_owner AND u.day = g.day
         ORDER BY g.day DESC;
END
$fn$;

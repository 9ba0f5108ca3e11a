-- 068_quota_functions.sql: quotas, rates and the operator's usage views as server-side
-- functions on the convention of 060_tenant_functions.sql, so that a cluster proxy routes them
-- (api/quota.c calls them when the library's function path is on). {{schema}} is the quoted
-- schema.

-- The tenant's usage (documents, chunks, bytes; vectors: its searchable chunks when
-- p_count_vectors) and its overrides (NULL: the library's default), read as the tenant.
CREATE FUNCTION {{schema}}.lm_quota_get(p_owner text, p_count_vectors boolean)
RETURNS TABLE (documents bigint, chunks bigint, bytes bigint, vectors bigint,
               max_documents bigint, max_chunks bigint, max_bytes bigint, max_vectors bigint,
               rate_adds float8, rate_searches float8)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    RETURN QUERY
        SELECT coalesce(u.documents, 0)::bigint, coalesce(u.chunks, 0)::bigint,
               coalesce(u.bytes, 0)::bigint,
               CASE WHEN p_count_vectors THEN coalesce(s.chunk_count, 0)::bigint ELSE 0::bigint END,
               q.max_documents, q.max_chunks, q.max_bytes, q.max_vectors,
               q.rate_adds::float8, q.rate_searches::float8
          FROM (SELECT p_owner AS owner_id) o
          LEFT JOIN {{schema}}.tenant_usage u ON u.owner_id = o.owner_id
          LEFT JOIN {{schema}}.tenant_stats s ON s.owner_id = o.owner_id
          LEFT JOIN {{schema}}.tenant_quotas q ON q.owner_id = o.owner_id;
END
$fn$;

-- Set the tenant's storage limits (p_rates false: p_max_*, NULL for the default) or its rates
-- (p_rates true: p_rate_adds, p_rate_searches, NULL for the default), with the "quota.set"
-- audit record (actor, source, detail), in one transaction with the tenant's writer lock.
CREATE FUNCTION {{schema}}.lm_quota_set(p_owner text, p_rates boolean,
                                        p_max_documents bigint, p_max_chunks bigint,
                                        p_max_bytes bigint, p_max_vectors bigint,
                                        p_rate_adds float8, p_rate_searches float8,
                                        p_actor text, p_source text, p_detail jsonb)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, true);
    IF p_rates THEN
        INSERT INTO {{schema}}.tenant_quotas AS q (owner_id, rate_adds, rate_searches)
        VALUES (p_owner, p_rate_adds, p_rate_searches)
        ON CONFLICT (owner_id) DO UPDATE
            SET rate_adds = excluded.rate_adds, rate_searches = excluded.rate_searches,
                updated_at = now();
    ELSE
        INSERT INTO {{schema}}.tenant_quotas AS q (owner_id, max_documents, max_chunks,
                                                   max_bytes, max_vectors)
        VALUES (p_owner, p_max_documents, p_max_chunks, p_max_bytes, p_max_vectors)
        ON CONFLICT (owner_id) DO UPDATE
            SET max_documents = excluded.max_documents, max_chunks = excluded.max_chunks,
                max_bytes = excluded.max_bytes, max_vectors = excluded.max_vectors,
                updated_at = now();
    END IF;
    INSERT INTO {{schema}}.audit_log (owner_id, actor, action, source, outcome, detail)
    VALUES (p_owner, p_actor, 'quota.set', p_source, 'success', coalesce(p_detail, '{}'));
END
$fn$;

-- The tenant's rate overrides as the rate limiter reads them (no tenant transaction: a refused
-- call costs no more); no row: none.
CREATE FUNCTION {{schema}}.lm_quota_rates(p_owner text)
RETURNS TABLE (rate_adds float8, rate_searches float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY SELECT q.rate_adds::float8, q.rate_searches::float8
                   FROM {{schema}}.tenant_quotas q WHERE q.owner_id = p_owner;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_quota_rates(text) FROM PUBLIC;

-- Every tenant's usage with the limits in force (p_defaults: the library's default limits of
-- documents, chunks, bytes, vectors; -1 none); p_percent > 0: only tenants at p_percent % of a
-- limit or more; the first p_limit by p_sort (a column: owner_id ascending, the others
-- descending). Through a proxy each shard returns its first p_limit and the caller orders and
-- cuts the union the same way.
CREATE FUNCTION {{schema}}.lm_all_usage_list(p_count_vectors boolean, p_defaults bigint[],
                                             p_percent integer, p_sort text, p_limit integer)
RETURNS TABLE (owner_id text, documents bigint, chunks bigint, bytes bigint, vectors bigint,
               l0 bigint, l1 bigint, l2 bigint, l3 bigint, searches_today bigint,
               adds_today bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    IF p_sort NOT IN ('owner_id', 'documents', 'chunks', 'bytes', 'vectors', 'searches_today',
                      'adds_today') THEN
        RAISE EXCEPTION 'invalid sort column "%"', p_sort USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY EXECUTE format(
        'SELECT * FROM (SELECT u.owner_id, u.documents::bigint, u.chunks::bigint, u.bytes::bigint,'
        '  CASE WHEN $1 THEN coalesce(s.chunk_count, 0)::bigint ELSE 0::bigint END AS vectors,'
        '  coalesce(q.max_documents, $2[1]) AS l0, coalesce(q.max_chunks, $2[2]) AS l1,'
        '  coalesce(q.max_bytes, $2[3]) AS l2, coalesce(q.max_vectors, $2[4]) AS l3,'
        '  coalesce(m.searches, 0)::bigint AS searches_today,'
        '  coalesce(m.adds, 0)::bigint AS adds_today'
        '  FROM {{schema}}.tenant_usage u LEFT JOIN {{schema}}.tenant_stats s ON s.owner_id = u.owner_id'
        '  LEFT JOIN {{schema}}.tenant_quotas q ON q.owner_id = u.owner_id'
        '  LEFT JOIN {{schema}}.tenant_usage_daily m ON m.owner_id = u.owner_id'
        '   AND m.day = (now() AT TIME ZONE ''UTC'')::date) t'
        ' WHERE $3 <= 0 OR (l0 >= 0 AND documents * 100 >= $3 * l0)'
        '    OR (l1 >= 0 AND chunks * 100 >= $3 * l1) OR (l2 >= 0 AND bytes * 100 >= $3 * l2)'
        '    OR (l3 >= 0 AND vectors * 100 >= $3 * l3)'
        ' ORDER BY %I%s, owner_id LIMIT $4',
        p_sort, CASE WHEN p_sort = 'owner_id' THEN '' ELSE ' DESC' END)
        USING p_count_vectors, p_defaults, p_percent, p_limit;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_usage_list(boolean, bigint[], integer, text, integer)
    FROM PUBLIC;

-- Near-quota alert counts of this database: tenants, then for 80, 95 and 100 % the tenants at
-- that share of their documents, chunks, bytes and vectors limit (p_defaults as above). Through
-- a proxy the caller adds the shards' rows up.
CREATE FUNCTION {{schema}}.lm_all_quota_alerts(p_count_vectors boolean, p_defaults bigint[])
RETURNS TABLE (tenants bigint, c80 bigint[], c95 bigint[], c100 bigint[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_column
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        WITH t AS (
            SELECT ARRAY[u.documents::bigint, u.chunks::bigint, u.bytes::bigint,
                         CASE WHEN p_count_vectors THEN coalesce(s.chunk_count, 0)::bigint
                              ELSE 0::bigint END] AS used,
                   ARRAY[coalesce(q.max_documents, p_defaults[1]),
                         coalesce(q.max_chunks, p_defaults[2]),
                         coalesce(q.max_bytes, p_defaults[3]),
                         coalesce(q.max_vectors, p_defaults[4])] AS lim
              FROM {{schema}}.tenant_usage u
              LEFT JOIN {{schema}}.tenant_stats s ON s.owner_id = u.owner_id
              LEFT JOIN {{schema}}.tenant_quotas q ON q.owner_id = u.owner_id)
        SELECT (SELECT count(*) FROM t),
               (SELECT array_agg((SELECT count(*) FROM t WHERE t.lim[k] >= 0
                                     AND t.used[k] * 100 >= 80 * t.lim[k]) ORDER BY k)
                  FROM generate_series(1, 4) k),
               (SELECT array_agg((SELECT count(*) FROM t WHERE t.lim[k] >= 0
                                     AND t.used[k] * 100 >= 95 * t.lim[k]) ORDER BY k)
                  FROM generate_series(1, 4) k),
               (SELECT array_agg((SELECT count(*) FROM t WHERE t.lim[k] >= 0
                                     AND t.used[k] * 100 >= 100 * t.lim[k]) ORDER BY k)
                  FROM generate_series(1, 4) k);
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_quota_alerts(boolean, bigint[]) FROM PUBLIC;

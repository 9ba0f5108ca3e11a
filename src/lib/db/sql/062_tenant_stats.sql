-- 062_tenant_stats.sql: the tenant's statistics as a server-side function, on the convention of
-- 060_tenant_functions.sql. {{schema}} is the quoted schema.

-- Totals of the tenant's documents (the same on every row) and the count of each document
-- type, one row per type present; a tenant without documents gets one row, document_type NULL.
CREATE FUNCTION {{schema}}.lm_stats(p_owner text)
RETURNS TABLE (documents bigint, chunks bigint, bytes bigint, first_created text,
               last_created text, document_type text, type_count bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM {{schema}}.lm__enter(p_owner, false);
    RETURN QUERY
        WITH t AS (SELECT d.document_type, count(*) AS n, sum(d.chunk_count) AS c,
                          sum(d.content_bytes) AS b, min(d.created_at) AS lo,
                          max(d.created_at) AS hi
                     FROM {{schema}}.documents d WHERE d.owner_id = p_owner
                    GROUP BY d.document_type)
        SELECT a.n, a.c, a.b,
               to_char(a.lo AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               to_char(a.hi AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               t.document_type, t.n
          FROM (SELECT coalesce(sum(t.n), 0)::bigint AS n, coalesce(sum(t.c), 0)::bigint AS c,
                       coalesce(sum(t.b), 0)::bigint AS b, min(t.lo) AS lo, max(t.hi) AS hi
                  FROM t) a
          LEFT JOIN t ON true;
END
$fn$;

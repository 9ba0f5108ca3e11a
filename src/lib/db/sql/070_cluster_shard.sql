-- 070_cluster_shard.sql: what a database needs to serve as a shard of a sharded installation
-- (src/lib/cluster, docs/cluster.md). Harmless on a single node: the fence table stays empty and
-- the identity ranges are set only by `llmemory cluster init` and `add-shard`.
-- {{schema}} is the quoted schema.
--
-- The fence. Moving a tenant to another shard ends with a cut-over: the tenant's row here, after
-- which every write of that tenant to this database fails with SQLSTATE 40001 (retryable: the
-- caller retries and the proxy routes it to the new shard) and never lands. The check is a
-- statement trigger on every tenant table keyed by the transaction's tenant (the setting that
-- row-level security reads). It takes the tenant's fence lock shared; the cut-over takes it
-- exclusively before it writes the fence row, so a writer that passed the check has committed
-- before the fence commits, and one that comes later waits and then sees the row. Replication
-- apply does not fire triggers, so a target shard receives the tenant's rows unhindered.
CREATE TABLE {{schema}}.tenant_fence (
    owner_id  text        NOT NULL PRIMARY KEY,
    moved_to  text        NOT NULL,
    fenced_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
REVOKE ALL ON {{schema}}.tenant_fence FROM PUBLIC;
-- Like every table with owner_id, under forced row-level security; but a tenant may only read
-- its own fence row (the check below runs in the tenant's transaction), never write one: the
-- maintenance policy (the cluster's sessions) is the only writer.
ALTER TABLE {{schema}}.tenant_fence ENABLE ROW LEVEL SECURITY;
ALTER TABLE {{schema}}.tenant_fence FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON {{schema}}.tenant_fence FOR SELECT
    USING (owner_id = current_setting('llmemory.owner_id', true));
CREATE POLICY maintenance ON {{schema}}.tenant_fence TO CURRENT_USER
    USING (current_setting('llmemory.maintenance', true) = 'on')
    WITH CHECK (current_setting('llmemory.maintenance', true) = 'on');

CREATE FUNCTION {{schema}}.tenant_fence_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    o text := current_setting('llmemory.owner_id', true);
    dest text;
BEGIN
    IF o IS NULL OR o = '' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtextextended(o, 1280114790));
    SELECT f.moved_to INTO dest FROM {{schema}}.tenant_fence f WHERE f.owner_id = o;
    IF FOUND THEN
        RAISE EXCEPTION 'tenant "%" has moved to shard "%"', o, dest
            USING ERRCODE = '40001',
                  HINT = 'Retry: the tenant''s operations now run on its new shard.';
    END IF;
    RETURN NULL;
END
$fn$;

-- Adds the fence trigger to a tenant table (every table with owner_id; the vector tables of later
-- dimensions get it from llmemory_protect_table below, as src/lib/search/vector.c calls that).
CREATE FUNCTION {{schema}}.cluster_fence_table(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                    WHERE tgrelid = tbl AND tgname = 'tenant_fence') THEN
        EXECUTE format('CREATE TRIGGER tenant_fence BEFORE INSERT OR UPDATE OR DELETE ON %s'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.tenant_fence_check()',
                       tbl);
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.cluster_fence_table(regclass) FROM PUBLIC;

SELECT {{schema}}.cluster_fence_table(c.oid)
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = '{{schema}}'::regnamespace AND c.relkind IN ('r', 'p')
   AND c.relname <> 'tenant_fence'
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'owner_id' AND NOT a.attisdropped)
 ORDER BY c.relname;

-- 020's function, unchanged, plus the fence trigger.
CREATE OR REPLACE FUNCTION {{schema}}.llmemory_protect_table(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant ON %s', tbl);
    EXECUTE format('CREATE POLICY tenant ON %s'
                   ' USING (owner_id = current_setting(''llmemory.owner_id'', true))'
                   ' WITH CHECK (owner_id = current_setting(''llmemory.owner_id'', true))', tbl);
    EXECUTE format('DROP POLICY IF EXISTS maintenance ON %s', tbl);
    EXECUTE format('CREATE POLICY maintenance ON %s TO %I'
                   ' USING (current_setting(''llmemory.maintenance'', true) = ''on'')'
                   ' WITH CHECK (current_setting(''llmemory.maintenance'', true) = ''on'')',
                   tbl, current_user);
    PERFORM {{schema}}.cluster_fence_table(tbl);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.llmemory_protect_table(regclass) FROM PUBLIC;

-- The tenant tables (every table with owner_id but the fence): what a move publishes, copies,
-- compares and cleans up.
CREATE FUNCTION {{schema}}.cluster_tenant_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
    SELECT c.oid::regclass
      FROM pg_catalog.pg_class c
     WHERE c.relnamespace = '{{schema}}'::regnamespace AND c.relkind IN ('r', 'p')
       AND c.relname <> 'tenant_fence'
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname = 'owner_id' AND NOT a.attisdropped)
     ORDER BY c.relname
$fn$;

-- Per-shard identity ranges: shard k draws every identity column (chunks.chunk_no,
-- audit_log.audit_id, ...) from [k * 2^40 + 1, (k + 1) * 2^40], so rows copied in from another
-- shard never collide with the ones this shard numbers. Rows numbered before (a database that
-- becomes shard 0) keep their numbers; the sequence restarts past the largest in the range.
-- Idempotent: a column in its range already is left alone (`llmemory cluster sync` runs it on
-- every shard, for identity columns that later migrations add).
CREATE FUNCTION {{schema}}.cluster_identity_range(p_shard integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    r record;
    lo bigint;
    hi bigint;
    nxt bigint;
BEGIN
    IF p_shard IS NULL OR p_shard < 0 OR p_shard > 8000000 THEN
        RAISE EXCEPTION 'invalid shard number %', p_shard USING ERRCODE = '22023';
    END IF;
    lo := p_shard::bigint * 1099511627776 + 1;
    hi := (p_shard::bigint + 1) * 1099511627776;
    FOR r IN SELECT a.attrelid::regclass AS tbl, a.attname
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
              WHERE c.relnamespace = '{{schema}}'::regnamespace AND a.attidentity <> ''
                AND NOT a.attisdropped
              ORDER BY 1, 2 LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_sequences q
                    WHERE format('%I.%I', q.schemaname, q.sequencename)::regclass
                          = pg_catalog.pg_get_serial_sequence(r.tbl::text, r.attname)::regclass
                      AND q.min_value = lo AND q.max_value = hi) THEN
            CONTINUE; -- in its range already
        END IF;
        -- No row numbered between the maximum and the restart.
        EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', r.tbl);
        EXECUTE format('SELECT coalesce(max(%I) + 1, $1) FROM %s WHERE %I BETWEEN $1 AND $2',
                       r.attname, r.tbl, r.attname) INTO nxt USING lo, hi;
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET START WITH %s SET MINVALUE %s'
                       ' SET MAXVALUE %s'
                       ' RESTART WITH %s', r.tbl, r.attname, lo, lo, hi, nxt);
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.cluster_identity_range(integer) FROM PUBLIC;

-- A tenant's rows, table by table: the row count and a digest of the rows' text. Two databases
-- that hold the same rows of the tenant (the same numbers, statistics and postings included)
-- give the same answer: the check of a move, and of routing (a tenant operation: the proxy
-- routes it to the tenant's shard like every lm_ function whose first argument is p_owner).
-- Operator-only (revoked from PUBLIC): it reads under the maintenance policy.
CREATE FUNCTION {{schema}}.lm_tenant_digest(p_owner text)
RETURNS TABLE (table_name text, row_count bigint, digest text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    t regclass;
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    FOR t IN SELECT * FROM {{schema}}.cluster_tenant_tables() LOOP
        table_name := (SELECT c.relname::text FROM pg_catalog.pg_class c WHERE c.oid = t);
        EXECUTE format('SELECT count(*), md5(coalesce(string_agg(x.r, E''\n'' ORDER BY x.r), ''''))'
                       ' FROM (SELECT t::text COLLATE "C" AS r FROM %s t WHERE t.owner_id = $1) x',
                       t) INTO row_count, digest USING p_owner;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_tenant_digest(text) FROM PUBLIC;

-- Every tenant of this database with its size: an operation over all tenants (the proxy runs
-- every lm_all_ function on every shard and returns all rows). Rebalancing reads it.
CREATE FUNCTION {{schema}}.lm_all_tenant_sizes()
RETURNS TABLE (owner_id text, documents bigint, chunks bigint, bytes bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
    prev text := current_setting('llmemory.maintenance', true);
BEGIN
    PERFORM set_config('llmemory.maintenance', 'on', true);
    RETURN QUERY
        SELECT u.owner_id, u.documents, u.chunks, u.bytes FROM {{schema}}.tenant_usage u
         WHERE (u.documents > 0 OR u.chunks > 0)
           AND NOT EXISTS (SELECT 1 FROM {{schema}}.tenant_fence f WHERE f.owner_id = u.owner_id)
         ORDER BY u.owner_id COLLATE "C";
    PERFORM set_config('llmemory.maintenance', coalesce(prev, ''), true);
END
$fn$;
REVOKE ALL ON FUNCTION {{schema}}.lm_all_tenant_sizes() FROM PUBLIC;

-- 033_usage_daily.sql: searches and adds per tenant and UTC day. The library counts calls in
-- memory and adds them here in one statement at most about once a second (api/quota.c), so a
-- call costs no write of its own. Erased with the tenant like every owner_id table.
-- Per-tenant rate overrides join the storage overrides of 030 (operations a second; NULL: the
-- configured default; -1: no limit). {{schema}} is the quoted schema.

CREATE TABLE {{schema}}.tenant_usage_daily (
    owner_id text   NOT NULL,
    day      date   NOT NULL,
    searches bigint NOT NULL DEFAULT 0,
    adds     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_id, day)
);

DO $do$
BEGIN
    IF to_regprocedure('{{schema}}.llmemory_protect_table(regclass)') IS NOT NULL THEN
        PERFORM {{schema}}.llmemory_protect_table('{{schema}}.tenant_usage_daily'::regclass);
    END IF;
END
$do$;

ALTER TABLE {{schema}}.tenant_quotas
    ADD COLUMN rate_adds     double precision CHECK (rate_adds = -1 OR rate_adds >= 0),
    ADD COLUMN rate_searches double precision CHECK (rate_searches = -1 OR rate_searches >= 0);

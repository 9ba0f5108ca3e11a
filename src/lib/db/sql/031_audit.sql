-- 031_audit.sql: the audit log: append-only records of administrative and security events of a
-- tenant (keys created and revoked, erasure, export, import, quota changes), with who (actor),
-- what (action, detail), when, from where (source) and the outcome. Rows are never updated;
-- they are deleted only by the erasure of their tenant, which then writes the erasure record
-- itself, so that record is all that is left. {{schema}} is the quoted schema.

CREATE TABLE {{schema}}.audit_log (
    owner_id  text        NOT NULL,
    audit_id  bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor     text        NOT NULL,
    action    text        NOT NULL,
    source    text,
    outcome   text        NOT NULL CHECK (outcome IN ('success', 'failure')),
    detail    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    PRIMARY KEY (owner_id, audit_id)
);

CREATE FUNCTION {{schema}}.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.owner_id = current_setting('llmemory.erasing', true) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only'
        USING HINT = 'Audit records go only with the erasure of their tenant.';
END
$fn$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {{schema}}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.audit_log_append_only();

DO $do$
BEGIN
    IF to_regprocedure('{{schema}}.llmemory_protect_table(regclass)') IS NOT NULL THEN
        PERFORM {{schema}}.llmemory_protect_table('{{schema}}.audit_log'::regclass);
    END IF;
END
$do$;

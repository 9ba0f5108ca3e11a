-- 022_subtree_read.sql: listing a tenant's documents together with its sub-tenants'
-- (lm_doc_list_opts.include_subtenants). A tenant transaction that also sets
-- llmemory.owner_scope (transaction-local, to its own tenant; db/tx.c) may READ the documents of
-- every "<tenant>/..." sub-tenant. SELECT only: writes stay bound to the tenant policy, and an
-- unset or empty scope matches nothing (no owner id starts with "/"). {{schema}} is the quoted
-- schema.
CREATE POLICY subtree_read ON {{schema}}.documents FOR SELECT
    USING (starts_with(owner_id, current_setting('llmemory.owner_scope', true) || '/'));

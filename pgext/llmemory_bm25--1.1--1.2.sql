-- llmemory_bm25--1.1--1.2.sql: llmemory_prefault_buffers(), which maps the shared buffer pool's
-- resident pages into the calling backend's page table (llmemory_prefault.c).
\echo Use "ALTER EXTENSION llmemory_bm25 UPDATE" to load this file. \quit

CREATE FUNCTION llmemory_prefault_buffers()
RETURNS bigint
AS 'MODULE_PATHNAME', 'llmemory_prefault_buffers'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION llmemory_prefault_buffers() IS
'Maps every resident page of the shared buffer pool into this backend''s page table (no new '
'memory is allocated), so that later queries do not take a page fault on their first touch of '
'each buffer; returns the number of pages. llmemory calls it once per new connection.';

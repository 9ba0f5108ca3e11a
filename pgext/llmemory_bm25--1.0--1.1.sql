-- llmemory_bm25--1.0--1.1.sql: llmemory_bm25_build_id(), the build id of the installed module.
\echo Use "ALTER EXTENSION llmemory_bm25 UPDATE" to load this file. \quit

CREATE FUNCTION llmemory_bm25_build_id()
RETURNS text
AS 'MODULE_PATHNAME', 'llmemory_bm25_build_id'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION llmemory_bm25_build_id() IS
'SHA-256 over the sources this module was built from (pgext/build-id.sh); llmemory uses the '
'extension only when it equals the id of its own tree.';

-- llmemory_bm25--1.0.sql: exact BM25 top-k over llmemory's postings table (see
-- docs/bm25-extension.md). The caller computes the statistics; this scores and ranks.
\echo Use "CREATE EXTENSION llmemory_bm25" to load this file. \quit

CREATE FUNCTION llmemory_bm25_topk(
    postings regclass,
    owner_id text,
    lexemes  text[],
    weights  double precision[],
    k1       double precision,
    b        double precision,
    avgdl    double precision,
    k        integer)
RETURNS TABLE (chunk_no bigint, score double precision)
AS 'MODULE_PATHNAME', 'llmemory_bm25_topk'
LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10;

COMMENT ON FUNCTION llmemory_bm25_topk(regclass, text, text[], double precision[],
                                       double precision, double precision, double precision,
                                       integer) IS
'Top k chunks of one tenant by Okapi BM25: sum over i of weights[i] * tf * (k1 + 1) / '
'(tf + k1 * (1 - b + b * doc_len / avgdl)) over the postings of (owner_id, lexemes[i]); '
'ordered by score desc, chunk_no asc.';

CREATE FUNCTION llmemory_bm25_search(
    postings     regclass,
    term_stats   regclass,
    tenant_stats regclass,
    owner_id     text,
    config       regconfig,
    query        text,
    k1           double precision,
    b            double precision,
    k            integer)
RETURNS TABLE (chunk_no bigint, score double precision)
AS 'MODULE_PATHNAME', 'llmemory_bm25_search'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 10;

COMMENT ON FUNCTION llmemory_bm25_search(regclass, regclass, regclass, text, regconfig, text,
                                         double precision, double precision, integer) IS
'llmemory_bm25_topk() with the statistics of llmemory''s BM25 query: weights qtf * idf from '
'term_stats, N and avgdl from tenant_stats, lexemes from to_tsvector(config, query).';

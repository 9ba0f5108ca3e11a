-- bench/bm25/load.sql: loads SciFact into schema "bench" and builds three tenants through our own
-- migration's triggers (so postings, term_stats and tenant_stats are shaped exactly like production).
-- Expects bench.raw_corpus(line), bench.raw_queries(line) and bench.raw_qrels filled by run.sh.
-- Tenants: t1k = 1,000 chunks, t10k = 10,000, t100k = 100,000 (corpus copies 0..19, truncated).
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE TABLE bench.corpus AS
SELECT ord::int AS ord, j->>'_id' AS id,
       coalesce(j->>'title', '') || ' ' || coalesce(j->>'text', '') AS content
  FROM (SELECT row_number() OVER () AS ord, line::jsonb AS j FROM bench.raw_corpus) x;
ALTER TABLE bench.corpus ADD PRIMARY KEY (ord);
-- Analyse each distinct text once; copies reuse the tsvector.
ALTER TABLE bench.corpus ADD COLUMN tsv tsvector, ADD COLUMN dl int;
UPDATE bench.corpus SET tsv = to_tsvector('english', content);
UPDATE bench.corpus c
   SET dl = (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0) FROM unnest(c.tsv) u);

CREATE TABLE bench.queries AS
SELECT q.j->>'_id' AS id, q.j->>'text' AS text
  FROM (SELECT line::jsonb AS j FROM bench.raw_queries) q
 WHERE q.j->>'_id' IN (SELECT query_id FROM bench.raw_qrels);
ALTER TABLE bench.queries ADD PRIMARY KEY (id);

-- One document and one chunk per (copy, corpus row); inserted in batches of at most 5,000 chunks
-- so the statement-level triggers see modest transition tables.
CREATE FUNCTION bench.build_tenant(p_owner text, p_n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ncorpus int := (SELECT count(*) FROM bench.corpus);
    lo int := 0;
    hi int;
BEGIN
    WHILE lo < p_n LOOP
        hi := least(lo + 5000, p_n);
        CREATE TEMP TABLE batch ON COMMIT DROP AS
        SELECT gen_random_uuid() AS document_id, gen_random_uuid() AS chunk_id, g.i,
               c.id || CASE WHEN g.i / ncorpus = 0 THEN '' ELSE '#' || (g.i / ncorpus) END AS origin,
               c.content, c.tsv, c.dl
          FROM generate_series(lo, hi - 1) g(i)
          JOIN bench.corpus c ON c.ord = g.i % ncorpus + 1;
        INSERT INTO bench.documents (owner_id, document_id, id_at_origin, document_type,
                                     document_name, content_bytes, chunk_count)
        SELECT p_owner, document_id, origin, 'text', origin, octet_length(content), 1
          FROM batch ORDER BY i;
        INSERT INTO bench.chunks (owner_id, chunk_id, document_id, chunk_index, chunk_level,
                                  searchable, content, content_hash, token_count, search_vector,
                                  doc_len)
        SELECT p_owner, chunk_id, document_id, 0, 0, true, content, md5(content), dl, tsv, dl
          FROM batch ORDER BY i;
        DROP TABLE batch;
        lo := hi;
    END LOOP;
END $$;

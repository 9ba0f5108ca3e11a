-- 005_postings_check.sql: what BM25 scoring assumes of every posting, as a schema guarantee
-- instead of a property of the triggers: tf >= 1 and doc_len >= 0. The llmemory_bm25 extension's
-- pruning bound (weight * (k1 + 1)) relies on it. {{schema}} is the quoted schema.
ALTER TABLE {{schema}}.postings
    ADD CONSTRAINT postings_tf_doc_len_check CHECK (tf >= 1 AND doc_len >= 0);

-- 004_vector_index_element.sql: a tenant's HNSW index may be built over a half-precision copy
-- of its vectors (the expression embedding::halfvec(dim), pgvector >= 0.7): half the bytes per
-- graph node read, and up to 4,000 dimensions instead of 2,000. Search reads which kind a
-- tenant's index is, so its ORDER BY matches the index expression. Indexes built before keep
-- 'vector'. {{schema}} is the quoted schema.
ALTER TABLE {{schema}}.vector_indexes
    ADD COLUMN element_type text NOT NULL DEFAULT 'vector'
        CHECK (element_type IN ('vector', 'halfvec'));

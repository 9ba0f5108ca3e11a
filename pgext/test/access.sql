-- pgext/test/access.sql: the extension must not read what the caller may not: no SELECT, no
-- scoring; row-level security on, refusal; wrong tables, refusal. And a database owner who is
-- not a superuser may install it (trusted extension).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE ROLE agree_reader LOGIN;
GRANT USAGE ON SCHEMA agree TO agree_reader;

CREATE FUNCTION agree.expect_error(p_sql text, p_state text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE p_sql;
    RAISE EXCEPTION 'expected SQLSTATE % from: %', p_state, p_sql;
EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE <> p_state THEN
        RAISE;
    END IF;
    RETURN 'ok (' || SQLSTATE || '): ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION agree.expect_error(text, text) TO agree_reader;

SET ROLE agree_reader;
SELECT agree.expect_error($$SELECT * FROM llmemory_bm25_topk('agree.postings', 'a', '{w2}',
    '{1}', 0.9, 0.4, 50, 10)$$, '42501') AS no_select;
RESET ROLE;
GRANT SELECT ON agree.postings TO agree_reader;
SET ROLE agree_reader;
DO $$
BEGIN
    IF (SELECT count(*) FROM llmemory_bm25_topk('agree.postings', 'a', '{w2}', '{1}', 0.9, 0.4,
                                                 50, 10)) <> 10 THEN
        RAISE EXCEPTION 'scoring failed after SELECT was granted';
    END IF;
END $$;
RESET ROLE;
ALTER TABLE agree.postings ENABLE ROW LEVEL SECURITY;
SET ROLE agree_reader;
SELECT agree.expect_error($$SELECT * FROM llmemory_bm25_topk('agree.postings', 'a', '{w2}',
    '{1}', 0.9, 0.4, 50, 10)$$, '0A000') AS row_level_security;
RESET ROLE;
ALTER TABLE agree.postings DISABLE ROW LEVEL SECURITY;

SELECT agree.expect_error($$SELECT * FROM llmemory_bm25_topk('agree.term_stats', 'a', '{w2}',
    '{1}', 0.9, 0.4, 50, 10)$$, '42703') AS not_postings;
CREATE TABLE agree.postings_noindex (LIKE agree.postings);
SELECT agree.expect_error($$SELECT * FROM llmemory_bm25_topk('agree.postings_noindex', 'a',
    '{w2}', '{1}', 0.9, 0.4, 50, 10)$$, '42704') AS no_index;
SELECT agree.expect_error($$SELECT * FROM llmemory_bm25_topk('agree.postings', 'a',
    '{w2,w3}', '{1}', 0.9, 0.4, 50, 10)$$, '2202E') AS length_mismatch;
SELECT agree.expect_error($$SELECT * FROM llmemory_bm25_topk('agree.postings', 'a',
    '{w2}', '{NaN}', 0.9, 0.4, 50, 10)$$, '22023') AS nan_weight;

CREATE ROLE agree_dbo LOGIN;
CREATE DATABASE agree_trusted OWNER agree_dbo;
\c agree_trusted agree_dbo
CREATE EXTENSION llmemory_bm25;
SELECT 'ok: a database owner installed the trusted extension' AS trusted;

-- pgext/test/agree.sql: data and checks for check-agree.sh (schema "agree", made by llmemory's
-- own migration). The reference is the pure-SQL BM25 of src/lib/search/bm25.c with its sum()
-- made deterministic (ORDER BY the lexeme's position), so scores must match bit for bit.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION llmemory_bm25;

CREATE TABLE agree.log (phase text, what text, detail text);
CREATE TABLE agree.counts (phase text, checks int, mismatches int);

-- n chunks for `owner` (one document each); words w2..w3000, log-uniform (Zipf-like), 5-100
-- words per chunk; every 50th chunk repeats an earlier text so that scores tie.
CREATE FUNCTION agree.add_chunks(p_owner text, p_n int, p_seed int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM setseed(p_seed / 1000.0);
    CREATE TEMP TABLE batch ON COMMIT DROP AS
    SELECT g AS i, gen_random_uuid() AS document_id, gen_random_uuid() AS chunk_id,
           (SELECT string_agg('w' || (1 + floor(exp(random() * ln(3000))))::int, ' ')
              FROM generate_series(1, 5 + (random() * 95)::int + g * 0)) AS content
      FROM generate_series(1, p_n) g;
    UPDATE batch b SET content = b2.content
      FROM batch b2 WHERE b.i % 50 = 0 AND b2.i = b.i - 7;
    INSERT INTO agree.documents (owner_id, document_id, id_at_origin, document_type,
                                 document_name)
    SELECT p_owner, document_id, p_seed || '-' || i, 'text', 'd' || i FROM batch ORDER BY i;
    INSERT INTO agree.chunks (owner_id, chunk_id, document_id, chunk_index, chunk_level,
                              searchable, content, content_hash, token_count, search_vector,
                              doc_len)
    SELECT p_owner, chunk_id, document_id, 0, 0, true, content, md5(content), 0, v.tsv,
           (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)
              FROM unnest(v.tsv) u)
      FROM batch CROSS JOIN LATERAL (SELECT to_tsvector('english', content) AS tsv) v
     ORDER BY i;
    DROP TABLE batch;
END $$;

-- The statistics of bm25.c (CTEs st, q, w): avgdl and the (lexeme, weight) arrays, in lexeme
-- order (C collation), the order both paths add contributions in.
CREATE FUNCTION agree.stats(p_owner text, p_query text,
                            OUT avgdl float8, OUT lx text[], OUT wt float8[])
LANGUAGE sql STABLE AS $$
WITH st AS (
  SELECT chunk_count::float8 AS n,
         greatest(total_len::float8 / greatest(chunk_count, 1), 1e-9) AS avgdl
    FROM agree.tenant_stats WHERE owner_id = p_owner AND chunk_count > 0),
 q AS (
  SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS qtf
    FROM unnest(to_tsvector('english'::regconfig, p_query)) u),
 w AS MATERIALIZED (
  SELECT q.lexeme, q.qtf * ln(1 + (st.n - ts.df + 0.5) / (ts.df + 0.5)) AS w
    FROM q JOIN agree.term_stats ts ON ts.owner_id = p_owner AND ts.lexeme = q.lexeme
    CROSS JOIN st WHERE ts.df > 0 ORDER BY q.lexeme COLLATE "C")
SELECT st.avgdl, a.lx, a.wt
  FROM st, (SELECT array_agg(w.lexeme ORDER BY w.lexeme COLLATE "C") AS lx,
                   array_agg(w.w ORDER BY w.lexeme COLLATE "C") AS wt FROM w) a
$$;

-- bm25.c's scoring over given arrays, summing each chunk's contributions in array order.
CREATE FUNCTION agree.ref(p_owner text, p_lx text[], p_wt float8[], p_k1 float8, p_b float8,
                          p_avgdl float8, p_k int, OUT chunks bigint[], OUT scores float8[])
LANGUAGE sql STABLE AS $$
WITH t AS (SELECT u.lexeme, u.w, u.ord
             FROM unnest(p_lx, p_wt) WITH ORDINALITY u(lexeme, w, ord)),
 sc AS (
  SELECT p.chunk_no,
         sum(t.w * p.tf * (p_k1 + 1) / (p.tf + p_k1 * (1 - p_b + p_b * p.doc_len / p_avgdl))
             ORDER BY t.ord) AS score
    FROM t JOIN agree.postings p ON p.owner_id = p_owner AND p.lexeme = t.lexeme
   GROUP BY p.chunk_no ORDER BY score DESC, p.chunk_no LIMIT p_k)
SELECT array_agg(chunk_no ORDER BY score DESC, chunk_no),
       array_agg(score ORDER BY score DESC, chunk_no)
  FROM sc
$$;

-- One comparison; logs and counts a mismatch.
CREATE FUNCTION agree.same(p_phase text, p_what text, p_ref_c bigint[], p_ref_s float8[],
                           p_c bigint[], p_s float8[]) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    IF p_ref_c IS NOT DISTINCT FROM p_c AND p_ref_s IS NOT DISTINCT FROM p_s THEN
        RETURN 0;
    END IF;
    INSERT INTO agree.log VALUES (p_phase, p_what,
        format('ref %s %s got %s %s', p_ref_c, p_ref_s, p_c, p_s));
    RETURN 1;
END $$;

-- Checks one query on one tenant with one parameter set, both entry points, pruning on and off.
CREATE FUNCTION agree.check(p_phase text, p_owner text, p_query text, p_k1 float8, p_b float8,
                            p_k int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    r record;
    c bigint[];
    sc float8[];
    bad int := 0;
    what text := format('%s k1=%s b=%s k=%s %L', p_owner, p_k1, p_b, p_k, p_query);
BEGIN
    SELECT * INTO s FROM agree.stats(p_owner, p_query);
    IF s.lx IS NULL THEN
        SELECT * INTO r FROM agree.ref(p_owner, '{}', '{}', p_k1, p_b, 1, p_k);
    ELSE
        SELECT * INTO r FROM agree.ref(p_owner, s.lx, s.wt, p_k1, p_b, s.avgdl, p_k);
    END IF;
    FOR i IN 0 .. 1 LOOP
        PERFORM set_config('llmemory_bm25.pruning', CASE WHEN i = 0 THEN 'on' ELSE 'off' END,
                           true);
        SELECT array_agg(t.chunk_no), array_agg(t.score) INTO c, sc
          FROM llmemory_bm25_search('agree.postings', 'agree.term_stats', 'agree.tenant_stats',
                                    p_owner, 'english', p_query, p_k1, p_b, p_k) t;
        bad := bad + agree.same(p_phase, 'search pruning=' || (i = 0) || ' ' || what,
                                r.chunks, r.scores, c, sc);
        IF s.lx IS NOT NULL THEN
            SELECT array_agg(t.chunk_no), array_agg(t.score) INTO c, sc
              FROM llmemory_bm25_topk('agree.postings', p_owner, s.lx, s.wt, p_k1, p_b,
                                      s.avgdl, p_k) t;
            bad := bad + agree.same(p_phase, 'topk pruning=' || (i = 0) || ' ' || what,
                                    r.chunks, r.scores, c, sc);
        END IF;
    END LOOP;
    PERFORM set_config('llmemory_bm25.pruning', 'on', true);
    RETURN bad;
END $$;

-- Random queries of 1-16 words drawn like the text (so common and rare words mix), over all
-- tenants and a spread of parameters, including k1 = 0 (every chunk of a lexeme ties).
CREATE FUNCTION agree.run_checks(p_phase text, p_queries int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    q text;
    n int := 0;
    bad int := 0;
    prm record;
BEGIN
    PERFORM setseed(0.42);
    FOR j IN 1 .. p_queries LOOP
        SELECT string_agg('w' || (1 + floor(exp(random() * ln(3500))))::int, ' ')
          INTO q FROM generate_series(1, 1 + (random() * 15)::int + j * 0);
        FOR prm IN SELECT * FROM (VALUES (0.9, 0.4, 10), (1.2, 0.75, 10), (0.9, 0.4, 1),
                                         (0.9, 0.4, 100), (0.0, 0.5, 10), (2.0, 1.0, 3),
                                         (0.9, 0.0, 10)) v(k1, b, k)
                  WHERE j % 3 = 0 OR (v.k1 = 0.9 AND v.b = 0.4 AND v.k = 10) LOOP
            FOR o IN 1 .. 3 LOOP
                bad := bad + agree.check(p_phase, (ARRAY['a', 'b', 'c'])[o], q, prm.k1, prm.b,
                                         prm.k);
                n := n + 4;
            END LOOP;
        END LOOP;
    END LOOP;
    -- Edge cases: a word no chunk has, an empty query, k larger than the matches.
    bad := bad + agree.check(p_phase, 'a', 'nosuchword', 0.9, 0.4, 10)
               + agree.check(p_phase, 'a', '', 0.9, 0.4, 10)
               + agree.check(p_phase, 'c', 'w2 w3 w4', 0.9, 0.4, 100000)
               + agree.check(p_phase, 'nobody', 'w2', 0.9, 0.4, 10);
    n := n + 16;
    INSERT INTO agree.counts VALUES (p_phase, n, bad);
    RETURN format('%s: %s comparisons, %s mismatches', p_phase, n, bad);
END $$;

-- Weights the SQL path never produces: negative, zero, repeated lexemes (no pruning then).
CREATE FUNCTION agree.odd_weights(p_phase text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    r record;
    c bigint[];
    sc float8[];
    bad int := 0;
    lx text[] := ARRAY['w2', 'w7', 'w7', 'w300', 'w3'];
    wts float8[][] := ARRAY[ARRAY[1.5, -0.5, 2.0, 3.0, 0.0], ARRAY[0.0, 0.0, 0.0, 0.0, 0.0],
                            ARRAY[0.1, 5.0, 5.0, 0.2, 0.3]];
    w float8[];
BEGIN
    SELECT * INTO s FROM agree.stats('a', 'w2');
    FOR i IN 1 .. 3 LOOP
        w := ARRAY(SELECT unnest(wts[i:i][1:5]));
        SELECT * INTO r FROM agree.ref('a', lx, w, 0.9, 0.4, s.avgdl, 10);
        SELECT array_agg(t.chunk_no), array_agg(t.score) INTO c, sc
          FROM llmemory_bm25_topk('agree.postings', 'a', lx, w, 0.9, 0.4, s.avgdl, 10) t;
        bad := bad + agree.same(p_phase, 'odd weights ' || i, r.chunks, r.scores, c, sc);
    END LOOP;
    INSERT INTO agree.counts VALUES (p_phase, 3, bad);
    RETURN format('%s: 3 comparisons, %s mismatches', p_phase, bad);
END $$;

CREATE FUNCTION agree.wait_for_writer() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. 12000 LOOP
        IF EXISTS (SELECT FROM pg_stat_activity WHERE wait_event = 'PgSleep'
                      AND pid <> pg_backend_pid()) THEN
            RETURN;
        END IF;
        IF i > 20 AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE state <> 'idle'
                                     AND backend_type = 'client backend'
                                     AND pid <> pg_backend_pid()) THEN
            RAISE EXCEPTION 'the concurrent writer is gone';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RAISE EXCEPTION 'the concurrent writer did not start';
END $$;

CREATE FUNCTION agree.stop_writer() RETURNS void LANGUAGE sql AS $$
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid();
    SELECT pg_sleep(0.2);
$$;

CREATE FUNCTION agree.summary() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n int;
    bad int;
    l record;
BEGIN
    SELECT sum(checks), sum(mismatches) INTO n, bad FROM agree.counts;
    FOR l IN SELECT * FROM agree.log LIMIT 20 LOOP
        RAISE WARNING 'mismatch [%] %: %', l.phase, l.what, l.detail;
    END LOOP;
    IF bad > 0 THEN
        RAISE EXCEPTION 'check-agree: % comparisons, % mismatches', n, bad;
    END IF;
    RETURN format('check-agree: %s comparisons, 0 mismatches', n);
END $$;

-- Interleaved tenants: chunk_no ranges of a, b and c overlap, as in a shared table.
-- Tenant a gets 26,000 chunks, enough for its commonest lexemes' lists to run under more than
-- one level-1 page of the btree (the skip arrays' page-to-page hand-over).
SELECT count(agree.add_chunks(o, n, seed)) AS batches
  FROM (VALUES ('a', 6500, 1), ('b', 600, 2), ('c', 60, 3), ('a', 6500, 4), ('b', 600, 5),
               ('c', 60, 6), ('a', 6500, 7), ('b', 600, 8), ('a', 6500, 9), ('c', 60, 10))
       v(o, n, seed);
\echo fresh rows (visibility map not set):
SELECT agree.run_checks('fresh', 12);
DELETE FROM agree.chunks WHERE owner_id IN ('a', 'b') AND chunk_no % 10 = 1;
\echo deleted rows, not vacuumed:
SELECT agree.run_checks('deleted', 12);
VACUUM (ANALYZE) agree.postings;
VACUUM agree.chunks;
\echo vacuumed:
SELECT agree.run_checks('vacuumed', 12);
SELECT count(agree.add_chunks('a', 1500, 11)) AS batches;
\echo vacuumed plus fresh rows:
SELECT agree.run_checks('mixed', 12);
SELECT agree.odd_weights('odd weights');

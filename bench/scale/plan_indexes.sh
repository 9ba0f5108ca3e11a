#!/bin/bash
# bench/scale/plan_indexes.sh: planning time of the library's vector statement against the
# number of partial HNSW indexes on its table (0, 200, 1,000, 2,000 tenants with a graph), in a
# scratch schema "pe" of the database $LLMEMORY_TEST_DATABASE_URL (dropped at the end): the
# first plan in a new backend (every index's relation cache entry is built), then the median
# of 30 more in the same backend. bench/RESULTS.md section 10.
set -eu
U=${LLMEMORY_TEST_DATABASE_URL:?set LLMEMORY_TEST_DATABASE_URL}
psql "$U" -qAt <<'SQL'
DROP SCHEMA IF EXISTS pe CASCADE; CREATE SCHEMA pe;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE pe.vectors_384 (owner_id text NOT NULL, provider_id text NOT NULL, chunk_id bigint NOT NULL,
  embedding vector(384) NOT NULL, PRIMARY KEY (owner_id, provider_id, chunk_id));
CREATE TABLE pe.chunks (owner_id text NOT NULL, chunk_id bigint NOT NULL, chunk_no bigint, PRIMARY KEY (owner_id, chunk_id));
INSERT INTO pe.vectors_384 SELECT 't' || lpad(t::text, 5, '0'), 'p', k,
  (SELECT array_agg(random())::vector(384) FROM generate_series(1, 384) WHERE k > 0)
  FROM generate_series(0, 1999) t, generate_series(1, 3) k;
INSERT INTO pe.chunks SELECT owner_id, chunk_id, chunk_id FROM pe.vectors_384;
ANALYZE pe.vectors_384; ANALYZE pe.chunks;
SQL
Q="SELECT c.chunk_no, 1 - t.dist FROM (SELECT v.chunk_id, v.embedding <=> (SELECT embedding FROM pe.vectors_384 LIMIT 1) AS dist FROM pe.vectors_384 v WHERE v.owner_id = 't00007' AND v.provider_id = 'p' ORDER BY v.embedding::halfvec(384) <=> (SELECT embedding FROM pe.vectors_384 LIMIT 1)::halfvec(384) LIMIT 20) t JOIN pe.chunks c ON c.owner_id = 't00007' AND c.chunk_id = t.chunk_id ORDER BY t.dist, c.chunk_no LIMIT 10"
have=0
for n in 0 200 1000 2000; do
  for ((i = have; i < n; i++)); do
    printf "CREATE INDEX ON pe.vectors_384 USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops) WHERE owner_id = 't%05d' AND provider_id = 'p';\n" "$i"
  done | psql "$U" -qAt
  have=$n
  # fresh backend: first plan (relcache of every index built), then 30 more in the same backend
  out=$( { for k in $(seq 31); do echo "EXPLAIN (ANALYZE, SUMMARY, TIMING OFF) $Q;"; done; } | psql "$U" -qAt | grep "Planning Time" | sed 's/.*: //; s/ ms//')
  first=$(echo "$out" | head -1)
  med=$(echo "$out" | tail -n +2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "partial indexes $n: planning first in a fresh backend $first ms, then median of 30 $med ms"
done
psql "$U" -qAtc "DROP SCHEMA pe CASCADE"

#!/bin/sh
# bench/scifact/run.sh: keyword search quality and latency on BEIR SciFact (test split), three
# systems in one go, on one throwaway PostgreSQL cluster, scored by one scorer:
#   1. llmemory's BM25 (`llmemory eval`: ingest, search every judged query, TREC run);
#   2. llmemory's original query (websearch_to_tsquery + ts_rank_cd, top 100 chunks) in SQL
#      over the same ingested chunks, timed per statement by psql;
#   3. Lucene 8 BM25 (Debian liblucene8-java; k1 0.9, b 0.4, EnglishAnalyzer, title + text in
#      one field, OR of the query terms): LuceneBm25.java, compiled here with javac.
# All three runs are scored with `llmemory eval --score-run`; a table and the checks follow.
#
#   bench/scifact/run.sh [DATASET_DIR]     (default: ../shared/data/scifact from the repo root)
# Environment: BENCH_OUT (output directory, default build/bench/scifact), LUCENE_CP (class path
# of lucene-core, lucene-analyzers-common, lucene-queryparser; default: /usr/share/java),
# LUCENE_WARMUP (untimed passes over the queries before Lucene's timed one; default 5).
# LLMEMORY_EMBEDDER (default none: the corpus is ingested without embeddings).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/scifact
. "$here/common.sh"
bench_init "${1:-}"
split="test"
status=0

bench_build
bench_cluster
psql_() { psql "$LLMEMORY_DATABASE_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

# ---- 1. llmemory BM25 ------------------------------------------------------------------------
# One untimed pass over every query first (--warmup), as for the other two systems.
echo "== llmemory eval (ingest $data, then BM25 search)"
"$llmemory" eval "$data" --owner "$owner" --split "$split" --keep --warmup 100000 --no-progress \
    --run "$out/llmemory-bm25.run" --tag llmemory-bm25 >"$out/llmemory-eval.txt"
cat "$out/llmemory-eval.txt"
ours_p50=$(eval_p50 "$out/llmemory-eval.txt")

# ---- 2. websearch_to_tsquery + ts_rank_cd ----------------------------------------------------
# The Python llmemory's text search, verbatim (its schema had a GIN index on search_vector, so
# one is added here; llmemory's own BM25 does not use it). Queries load from queries.jsonl with
# a CSV quote and delimiter that never occur, so each line arrives whole and unescaped.
echo "== PostgreSQL websearch_to_tsquery + ts_rank_cd"
psql_ -v owner="$owner" >/dev/null <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.raw (n bigserial, line text);
\copy bench.raw (line) FROM '$data/queries.jsonl' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
CREATE TABLE bench.qrels (n bigserial, query_id text, corpus_id text, score int);
\copy bench.qrels (query_id, corpus_id, score) FROM '$data/qrels/$split.tsv' WITH (FORMAT csv, DELIMITER E'\t', HEADER true)
CREATE TABLE bench.queries AS
SELECT j.qid AS id, j.text, r.ord
  FROM (SELECT line::jsonb->>'_id' AS qid, line::jsonb->>'text' AS text FROM bench.raw) j
  JOIN (SELECT query_id, min(n) AS ord FROM bench.qrels GROUP BY query_id) r ON r.query_id = j.qid;
CREATE INDEX IF NOT EXISTS bench_chunks_search_vector_gin ON llmemory.chunks USING gin (search_vector);
ANALYZE llmemory.chunks;
ANALYZE llmemory.documents;
\pset tuples_only on
\pset format unaligned
\o $out/tsrank.sql
SELECT '\timing on';
SELECT format('SELECT %L, d.id_at_origin, ts_rank_cd(c.search_vector, websearch_to_tsquery(''english'', %L)) AS rank'
              ' FROM llmemory.chunks c JOIN llmemory.documents d ON c.document_id = d.document_id'
              ' WHERE c.search_vector @@ websearch_to_tsquery(''english'', %L) AND d.owner_id = %L'
              ' ORDER BY rank DESC LIMIT 100;', id, text, text, :'owner')
  FROM bench.queries ORDER BY ord;
\o
SQL
# One statement per query; psql's \timing is the client-side time of each (parse, plan, run,
# transfer). First pass warms up, the second is measured. Rows are chunks: a document keeps its
# first (best) row, as llmemory eval does.
psql_ -A -t -F ' ' -f "$out/tsrank.sql" >/dev/null
psql_ -A -t -F ' ' -f "$out/tsrank.sql" >"$out/tsrank.out"
rm -f "$out/tsrank-latency.txt"
awk -v run="$out/pg-ts_rank_cd.run" -v lat="$out/tsrank-latency.txt" '
    $1 == "Time:" { print $2 > lat; next }
    NF == 3 { k = $1 " " $2; if (!(k in seen)) { seen[k] = 1; r[$1]++
              print $1, "Q0", $2, r[$1], $3, "pg-ts_rank_cd" > run } }
    END { close(run); close(lat) }' "$out/tsrank.out"
touch "$out/pg-ts_rank_cd.run"
tsrank_p50=$(median_of "$out/tsrank-latency.txt")
echo "statements timed: $(wc -l <"$out/tsrank-latency.txt"), median $tsrank_p50 ms"

# ---- 3. Lucene 8 BM25 ------------------------------------------------------------------------
echo "== Lucene BM25 (k1 0.9, b 0.4, EnglishAnalyzer, flat)"
lucene_p50=-
lucene_warmup=${LUCENE_WARMUP:-5}
jar() { ls /usr/share/java/"$1"-8*.jar 2>/dev/null | head -n 1; }
cp=${LUCENE_CP:-$(jar lucene-core):$(jar lucene-analyzers-common):$(jar lucene-queryparser)}
if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    echo "bench: javac/java not found: install a JDK (scripts/deps.sh --bench) to run Lucene" >&2
    status=1
elif [ -z "${LUCENE_CP:-}" ] && { [ -z "$(jar lucene-core)" ] || [ -z "$(jar lucene-analyzers-common)" ]; }; then
    echo "bench: Lucene 8 jars not found in /usr/share/java: install liblucene8-java (scripts/deps.sh --bench, or set LUCENE_CP)" >&2
    status=1
else
    classes=$(mktemp -d)
    javac -nowarn -d "$classes" -cp "$cp" "$here/LuceneBm25.java"
    java -cp "$cp:$classes" LuceneBm25 "$data/corpus.jsonl" "$data/queries.jsonl" \
        "$data/qrels/$split.tsv" "$out/lucene-bm25.run" 100 "$lucene_warmup" >"$out/lucene.txt"
    cat "$out/lucene.txt"
    rm -rf "$classes"
    lucene_p50=$(awk '$2 == "latency_ms" { sub("p50=", "", $3); print $3 }' "$out/lucene.txt")
fi

# ---- scores ----------------------------------------------------------------------------------
echo "== scores (llmemory eval --score-run, trec_eval semantics, $split split)"
printf '\n%-34s %8s %11s %8s %14s\n' system nDCG@10 Recall@100 MRR@10 "p50 latency ms"
row() { # label run p50
    if [ ! -f "$2" ]; then
        printf '%-34s %8s %11s %8s %14s\n' "$1" - - - -
        return
    fi
    "$llmemory" eval "$data" --split "$split" --score-run "$2" >"$2.score"
    printf '%-34s %8s %11s %8s %14s\n' "$1" "$(metric "$2.score" nDCG@10)" \
        "$(metric "$2.score" Recall@100)" "$(metric "$2.score" MRR@10)" "$3"
}
row "llmemory BM25" "$out/llmemory-bm25.run" "$ours_p50"
row "PostgreSQL ts_rank_cd (websearch)" "$out/pg-ts_rank_cd.run" "$tsrank_p50"
row "Lucene 8.7 BM25 (0.9/0.4, flat)" "$out/lucene-bm25.run" "$lucene_p50"
echo
printf '%s\n' "Latency: llmemory = one lm_search call, client side over the unix socket, after one" \
    "untimed pass; ts_rank_cd = psql \\timing per statement, after one untimed pass; Lucene =" \
    "in-process search + stored-id fetch, after $lucene_warmup untimed passes (JIT warm-up)." \
    "Runs and logs: $out"

# ---- checks ----------------------------------------------------------------------------------
check() { # description, awk condition over $1 (ours nDCG) $2 (ours R@100) $3 (lucene nDCG)
    if echo "$ours_ndcg $ours_recall $lucene_ndcg" | awk "{ exit !($2) }"; then
        echo "check ok:     $1"
    else
        echo "check FAILED: $1"
        status=1
    fi
}
ours_ndcg=$(metric "$out/llmemory-bm25.run.score" nDCG@10)
ours_recall=$(metric "$out/llmemory-bm25.run.score" Recall@100)
lucene_ndcg=$( [ -f "$out/lucene-bm25.run.score" ] && metric "$out/lucene-bm25.run.score" nDCG@10 || echo -1)
echo
check "llmemory nDCG@10 >= 0.685" '$1 >= 0.685'
check "llmemory nDCG@10 >= Lucene nDCG@10 in this run" '$3 >= 0 && $1 >= $3'
check "llmemory Recall@100 >= 0.91" '$2 >= 0.91'
check "Lucene reproduces nDCG@10 0.6789" '$3 == 0.6789'
exit $status

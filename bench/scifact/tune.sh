#!/bin/sh
# bench/scifact/tune.sh: choose llmemory's BM25 k1 and b on SciFact's TRAIN queries (809), never
# on the test queries the quality check uses. Ingests once (BM25 parameters apply at query time,
# so the same chunks serve every point), evaluates a grid with `llmemory eval --no-ingest
# --bm25-k1 --bm25-b --split train`, prints it best first, then scores the best train point and
# the library's default on the test split for reference.
#
#   bench/scifact/tune.sh [DATASET_DIR]    (default: ../shared/data/scifact from the repo root)
# Environment: K1S and BS (space-separated grids), BENCH_OUT (output directory),
# LLMEMORY_EMBEDDER (default none: the corpus is ingested without embeddings).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/scifact/common.sh"
bench_init "${1:-}"
k1s=${K1S:-0.6 0.9 1.2 1.5}
bs=${BS:-0.3 0.4 0.6 0.75}

bench_build
bench_cluster

echo "== ingest (and the library's default parameters on train)"
"$llmemory" eval "$data" --owner "$owner" --split train --keep --no-progress >"$out/tune-default.txt"
cat "$out/tune-default.txt"

echo "== grid on the train split"
: >"$out/tune-grid.txt"
for k1 in $k1s; do
    for b in $bs; do
        f=$out/tune-train-$k1-$b.txt
        "$llmemory" eval "$data" --owner "$owner" --split train --no-ingest --no-progress \
            --bm25-k1 "$k1" --bm25-b "$b" >"$f"
        line="$k1 $b $(metric "$f" nDCG@10) $(metric "$f" Recall@100) $(metric "$f" MRR@10)"
        echo "$line" | tee -a "$out/tune-grid.txt"
    done
done

echo
printf '%-6s %-6s %8s %11s %8s   (train, %s queries)\n' k1 b nDCG@10 Recall@100 MRR@10 \
    "$(awk '$1 == "dataset" { print $5; exit }' "$out/tune-default.txt" | tr -d '(')"
sort -k3,3gr -k4,4gr "$out/tune-grid.txt" | awk '{ printf "%-6s %-6s %8s %11s %8s\n", $1, $2, $3, $4, $5 }'

best=$(sort -k3,3gr -k4,4gr "$out/tune-grid.txt" | head -n 1)
bk1=$(echo "$best" | awk '{ print $1 }')
bb=$(echo "$best" | awk '{ print $2 }')
echo
echo "== test split: best train point (k1 $bk1, b $bb) and the library's default"
"$llmemory" eval "$data" --owner "$owner" --split test --no-ingest --no-progress \
    --bm25-k1 "$bk1" --bm25-b "$bb" >"$out/tune-test-best.txt"
"$llmemory" eval "$data" --owner "$owner" --split test --no-ingest --no-progress \
    >"$out/tune-test-default.txt"
printf '%-22s %8s %11s %8s\n' "" nDCG@10 Recall@100 MRR@10
for x in best default; do
    f=$out/tune-test-$x.txt
    printf '%-22s %8s %11s %8s\n' "test, $x" "$(metric "$f" nDCG@10)" "$(metric "$f" Recall@100)" \
        "$(metric "$f" MRR@10)"
done

#!/bin/sh
# bench/scifact/hybrid.sh: text, vector and hybrid search with the built-in embedder on SciFact.
# Chooses the hybrid default alpha on the TRAIN queries (a grid), then reports all three search
# types on the test queries. Ingests once, with embeddings.
#
#   bench/scifact/hybrid.sh [DATASET_DIR]
# Environment: ALPHAS (grid, default "0.1 0.2 0.3 0.4 0.5 0.6 0.7"), BENCH_OUT.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/scifact/common.sh"
LLMEMORY_EMBEDDER=${LLMEMORY_EMBEDDER:-builtin}
export LLMEMORY_EMBEDDER
bench_init "${1:-}"
alphas=${ALPHAS:-0.1 0.2 0.3 0.4 0.5 0.6 0.7}

bench_build
bench_cluster

echo "== ingest with embeddings ($LLMEMORY_EMBEDDER), text search on train"
"$llmemory" eval "$data" --owner "$owner" --split train --keep --no-progress >"$out/hy-train-text.txt"
cat "$out/hy-train-text.txt"
"$llmemory" eval "$data" --owner "$owner" --split train --no-ingest --no-progress --type vector \
    >"$out/hy-train-vector.txt"

echo "== alpha grid on the train split"
: >"$out/hy-grid.txt"
for a in $alphas; do
    f=$out/hy-train-$a.txt
    "$llmemory" eval "$data" --owner "$owner" --split train --no-ingest --no-progress \
        --type hybrid --alpha "$a" >"$f"
    echo "$a $(metric "$f" nDCG@10) $(metric "$f" Recall@100)" | tee -a "$out/hy-grid.txt"
done
best=$(sort -k2,2gr "$out/hy-grid.txt" | head -n 1 | cut -d' ' -f1)
echo "text (train):   $(metric "$out/hy-train-text.txt" nDCG@10)"
echo "vector (train): $(metric "$out/hy-train-vector.txt" nDCG@10)"
echo "best alpha on train: $best"

echo "== test split"
for t in text vector hybrid; do
    extra=""
    [ "$t" = hybrid ] && extra="--alpha $best"
    # shellcheck disable=SC2086
    "$llmemory" eval "$data" --owner "$owner" --split test --no-ingest --no-progress --type "$t" \
        $extra >"$out/hy-test-$t.txt"
done
"$llmemory" eval "$data" --owner "$owner" --split test --no-ingest --no-progress --type hybrid \
    >"$out/hy-test-hybrid-default.txt"
printf '\n%-22s %8s %11s %8s %10s\n' "search (test)" nDCG@10 Recall@100 MRR@10 "p50 ms"
for t in text vector hybrid hybrid-default; do
    f=$out/hy-test-$t.txt
    printf '%-22s %8s %11s %8s %10s\n' "$t" "$(metric "$f" nDCG@10)" "$(metric "$f" Recall@100)" \
        "$(metric "$f" MRR@10)" "$(eval_p50 "$f")"
done

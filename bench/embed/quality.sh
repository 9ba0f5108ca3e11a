#!/bin/sh
# bench/embed/quality.sh: offline retrieval quality of the built-in embedder on SciFact (or any
# BEIR dataset), no PostgreSQL: exact cosine over the library's chunks, nDCG@10 and Recall@100
# per split, and, given keyword-search runs, a document-level weighted-RRF alpha grid.
# Usage: bench/embed/quality.sh [DATASET_DIR] [-- quality options]
#   e.g. bench/embed/quality.sh ../shared/data/scifact -d 1024 -s train
#        bench/embed/quality.sh ../shared/data/scifact -r train=bm25-train.run -s train
# Runs are TREC runs of the text search: `llmemory eval DATASET --split train --run FILE`.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$root/../shared/data/scifact}
[ $# -gt 0 ] && shift
make -C "$root" --no-print-directory build/debug/libllmemory.a >/dev/null
out=$root/build/bench/embed
mkdir -p "$out"
# shellcheck disable=SC2046
cc -std=c11 -O2 -I"$root/include" -I"$root/src/lib" -I"$root/src/lib/core" \
    "$root/bench/embed/quality.c" "$root/build/debug/libllmemory.a" \
    $(pkg-config --cflags --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$out/quality"
exec "$out/quality" "$@" "$data"

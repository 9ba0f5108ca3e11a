# bench/scifact/common.sh: what run.sh and tune.sh share (sourced, not run): paths, the build,
# a throwaway PostgreSQL cluster that goes away on exit, and reading `llmemory eval` output.
# Expects $root (the repository root) to be set by the caller.

bench_init() { # DATASET_DIR argument (may be empty)
    data=${1:-$root/../shared/data/scifact}
    if [ ! -f "$data/corpus.jsonl" ] || [ ! -f "$data/queries.jsonl" ]; then
        echo "bench: no BEIR dataset in \"$data\" (corpus.jsonl, queries.jsonl, qrels/)" >&2
        exit 2
    fi
    data=$(cd "$data" && pwd)
    out=${BENCH_OUT:-$root/build/bench/scifact}
    mkdir -p "$out"
    llmemory=$root/build/debug/llmemory
    owner=${BENCH_OWNER:-eval}
}

bench_build() {
    echo "== build"
    make -C "$root" --no-print-directory -s all
    if ! "$llmemory" eval --help >/dev/null 2>&1; then
        echo "bench: $llmemory has no eval command" >&2
        exit 1
    fi
}

bench_cleanup() {
    if [ -n "${LLMEMORY_TEST_PG_DIR:-}" ]; then
        sh "$root/scripts/pg-test-cluster.sh" stop "$LLMEMORY_TEST_PG_DIR"
        LLMEMORY_TEST_PG_DIR=
    fi
}

# A throwaway cluster (unix socket only; as root the server runs as postgres), stopped and
# removed when the script exits however it exits.
bench_cluster() {
    echo "== start a throwaway PostgreSQL cluster"
    LLMEMORY_TEST_PG_DIR=
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    eval "$(sh "$root/scripts/pg-test-cluster.sh" start)"
    LLMEMORY_DATABASE_URL=$LLMEMORY_TEST_DATABASE_URL
    export LLMEMORY_DATABASE_URL
    unset DATABASE_URL LLMEMORY_SCHEMA 2>/dev/null || true
    # Keyword search needs no embeddings; computing them would double the ingest time.
    LLMEMORY_EMBEDDER=${LLMEMORY_EMBEDDER:-none}
    export LLMEMORY_EMBEDDER
}

# Field of `llmemory eval` human output: metric FILE "nDCG@10" -> 0.6948
metric() {
    awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}
# Median search latency from `llmemory eval` human output.
eval_p50() {
    awk '$1 == "latency" && $2 == "ms" { print $4; exit }' "$1"
}
# Median of a file of numbers, one a line (linear interpolation, like llmemory eval).
median_of() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        p = 0.5 * (NR - 1); lo = int(p); f = p - lo
        if (lo + 2 > NR) printf "%.2f\n", v[NR]; else printf "%.2f\n", v[lo + 1] + (v[lo + 2] - v[lo + 1]) * f }'
}

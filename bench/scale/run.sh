#!/bin/sh
# bench/scale/run.sh: build the library and bench/scale/scale_bench.c, start a throwaway
# PostgreSQL 15 cluster (scripts/pg-test-cluster.sh, or use $LLMEMORY_TEST_DATABASE_URL when it
# is set), run the workload, stop the cluster. Arguments go to scale_bench; --data defaults to
# $SCIFACT_DIR or ../shared/data/scifact beside the repository.
#   bench/scale/run.sh --small                        smoke run, under two minutes
#   bench/scale/run.sh                                1,000,000 chunks over 10,000 tenants
#   bench/scale/run.sh --dim 1536 --chunks 200000     other shapes (scale_bench.c lists them)
#   bench/scale/run.sh --load-only                    ingest against raw COPY only (no queries)
#   SCALE_BENCH_KEEP=1 bench/scale/run.sh --load-only, then bench/scale/run.sh --reuse, against
#   one cluster ($LLMEMORY_TEST_DATABASE_URL): the load, then the queries over the kept rows
#   bench/scale/run.sh depth                          hybrid candidate depth against recall on
#                                                     SciFact, default embedder (depth_bench.c)
#   bench/scale/run.sh recall [--dim 1536] [--ef 0,40] vector recall@10 against exact search with
#                                                     real embeddings of SciFact (recall_bench.c)
#   bench/scale/run.sh cold [--fresh] [--runs N] sb 384 t00000 t00010 ...
#                                                     a tenant's first vector searches against
#                                                     the next ones, on the kept rows of a
#                                                     --load-only/--reuse run (cold_probe.c)
set -eu
cd "$(dirname "$0")/../.."
if [ "${1:-}" = cold ]; then
    shift
    mkdir -p build/bench/scale
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L $(pkg-config --cflags libpq) \
        bench/scale/cold_probe.c $(pkg-config --libs libpq) -o build/bench/scale/cold_probe
    exec build/bench/scale/cold_probe "$@"
fi
b=${LLMEMORY_BUILD:-build/debug}
make --no-print-directory "$b/libllmemory.a" >/dev/null
mkdir -p build/bench/scale
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude \
    $(pkg-config --cflags libpq jansson) bench/scale/scale_bench.c bench/common/bench.c \
    "$b/libllmemory.a" \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o build/bench/scale/scale_bench
prog=scale_bench
case "${1:-}" in depth | recall)
    prog=${1}_bench
    shift
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude \
        $(pkg-config --cflags libpq jansson) "bench/scale/$prog.c" bench/scale/beir.c \
        "$b/libllmemory.a" $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm \
        -o "build/bench/scale/$prog"
    ;;
esac
data=${SCIFACT_DIR:-../shared/data/scifact}
case " $* " in *" --data "*) data= ;; esac
started=
if [ -z "${LLMEMORY_TEST_DATABASE_URL:-}" ]; then
    eval "$(scripts/pg-test-cluster.sh start)"
    export LLMEMORY_TEST_DATABASE_URL
    started=$LLMEMORY_TEST_PG_DIR
    trap 'scripts/pg-test-cluster.sh stop "$started"' EXIT INT TERM
fi
if [ -n "$data" ]; then
    "build/bench/scale/$prog" --data "$data" "$@"
else
    "build/bench/scale/$prog" "$@"
fi

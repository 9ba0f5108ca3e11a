#!/bin/sh
# tests/smoke/scale.sh BUILD_DIR: bench/scale --small against the suite's database (about a
# minute): loads 10,000 chunks over 100 Zipf-sized tenants through the library, compares with
# the naive global index, and fails when our vector recall@10 is below 0.99 mean or 0.8 for any
# query. Skipped when the SciFact data ($SCIFACT_DIR or ../shared/data/scifact) is absent.
# Prints "smoke: N passed, N failed, N skipped".
set -u
b=${1:?usage: $0 BUILD_DIR}
data=${SCIFACT_DIR:-../shared/data/scifact}
if [ ! -f "$data/corpus.jsonl" ]; then
    echo "no SciFact corpus in $data"
    echo "smoke: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
mkdir -p "$b/bench"
san=
case "$b" in *asan*) san="-fsanitize=address,undefined" ;; esac
# shellcheck disable=SC2046,SC2086
if ! cc $san -std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude \
    $(pkg-config --cflags libpq jansson) bench/scale/scale_bench.c bench/common/bench.c \
    "$b/libllmemory.a" \
    $(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm -o "$b/bench/scale_bench"; then
    echo "smoke: 0 passed, 1 failed"
    exit 1
fi
if nice -n 10 "$b/bench/scale_bench" --data "$data" --small; then
    echo "smoke: 1 passed, 0 failed"
else
    echo "smoke: 0 passed, 1 failed"
    exit 1
fi

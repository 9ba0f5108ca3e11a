#!/bin/sh
# Runs each libFuzzer target of a FUZZ=1 build for a bounded time (`make fuzz`), one after the
# other, and adds what it found to the corpus in the tree:
#   - inputs that reach code the corpus did not are merged into tests/fuzz/corpus/<target>/
#     (libFuzzer's -merge=1 keeps only those);
#   - an input that crashed, leaked or hit undefined behaviour is copied there as
#     crash-<sha1>, so that the replay in `make check` fails until the defect is fixed (rename it
#     regress-<what>-<n> with the fix).
# Ends with one line per target: executions, seconds, corpus size before and after, findings.
#   tests/fuzz/fuzz.sh build/fuzz SECONDS [TARGET...]
set -u
b=${1:?usage: tests/fuzz/fuzz.sh BUILD_DIR SECONDS [TARGET...]}
secs=${2:-60}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
targets=$*
[ -n "$targets" ] || targets=$(ls "$b"/tests/fuzz/ | sed -n 's/-fuzzer$//p')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
summary=$work/summary
failed=0
for t in $targets; do
    fz=$b/tests/fuzz/$t-fuzzer
    corpus=tests/fuzz/corpus/$t
    [ -x "$fz" ] || { echo "fuzz: no $fz (make FUZZ=1 fuzz-build)" >&2; exit 2; }
    mkdir -p "$corpus" "$work/$t/new" "$work/$t/art"
    before=$(ls "$corpus" | wc -l)
    echo "== $t ($secs s)"
    # -max_len: inputs up to 64 KiB (documents, bodies); -timeout: one input may take 10 s.
    "$fz" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t/art/" "$work/$t/new" "$corpus" \
        >"$work/$t/log" 2>&1
    status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -n 1)
    findings=0
    for a in "$work/$t"/art/*; do
        [ -f "$a" ] || continue
        findings=$((findings + 1))
        cp "$a" "$corpus/crash-$(sha1sum "$a" | cut -c1-40)"
    done
    if [ "$findings" -gt 0 ] || [ "$status" -ne 0 ]; then
        failed=1
        grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$work/$t/log" | head -n 30
    fi
    # Keep what reaches new code (and only that) in the tree's corpus.
    "$fz" -merge=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/$t/" \
        "$corpus" "$work/$t/new" \
        >"$work/$t/merge.log" 2>&1 || true
    after=$(ls "$corpus" | wc -l)
    echo "fuzz $t: ${execs:-?} executions in $secs s, corpus $before -> $after, findings $findings (exit $status)" |
        tee -a "$summary"
done
echo "== summary"
cat "$summary"
exit $failed

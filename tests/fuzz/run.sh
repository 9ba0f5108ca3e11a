#!/bin/sh
# Replays every fuzz target's corpus (tests/fuzz/corpus/<target>/) through the target built with
# gcc and the replay driver (tests/fuzz/replay.c), in the build directory given; tests/run.sh runs
# it for the debug and the ASan+UBSan builds. Ends with "fuzz: N passed, N failed" (one per file).
#   tests/fuzz/run.sh build/debug
set -u
b=${1:?usage: tests/fuzz/run.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
passed=0 failed=0
for src in tests/fuzz/*.c; do
    t=$(basename "$src" .c)
    [ "$t" = replay ] && continue
    bin=$b/tests/fuzz/$t-replay
    if [ ! -x "$bin" ]; then
        echo "# $t: $bin is not built"
        failed=$((failed + 1))
        continue
    fi
    out=$("$bin" "tests/fuzz/corpus/$t" 2>&1)
    status=$?
    echo "$out" | tail -n 20
    line=$(echo "$out" | grep -E "^fuzz-$t: [0-9]+ passed, [0-9]+ failed" | tail -n 1)
    if [ -z "$line" ]; then
        echo "# $t: the replay ended without its summary (exit status $status)"
        failed=$((failed + 1))
        continue
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "# $t: exit status $status"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

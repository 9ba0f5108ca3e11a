#!/bin/sh
# Runs the Python package's tests against one build's libllmemory.so, in the pinned virtual
# environment (scripts/python-env.sh). Ends with "python: N passed, N failed, N skipped".
#   sh python/tests/run.sh build/debug
# An ASan build's library cannot be loaded into CPython without LD_PRELOAD of the sanitizer
# runtime (and CPython's own allocations then flood the leak report), so it is skipped.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
b=${1:?usage: $0 BUILD_DIR}
case "$b" in /*) ;; *) b=$root/$b ;; esac
if [ "$(basename "$b")" = asan ] || nm -D "$b/libllmemory.so" 2>/dev/null | grep -q __asan_init; then
    echo "python: 0 passed, 0 failed, 1 skipped (sanitizer build: not loadable into CPython)"
    exit 0
fi
py=$(sh "$root/scripts/python-env.sh") || { echo "python: 0 passed, 1 failed (no virtual environment)"; exit 1; }
export LLMEMORY_LIBRARY="$b/libllmemory.so"
cd "$root/python" && exec "$py" -m pytest -q -p no:cacheprovider tests

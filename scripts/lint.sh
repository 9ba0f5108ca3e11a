#!/bin/sh
# Static checks: banned functions in the library, one-way folder dependencies (by include and by
# symbol, on the objects of BUILD_DIR), cppcheck, and clang-format drift (reported, not fixed;
# run `make format` to fix).
#   scripts/lint.sh [BUILD_DIR]      (default build/debug)
set -u
cd "$(dirname "$0")/.."
status=0
sh scripts/check-deps.sh . "${1:-build/debug}" || status=1
banned='\<(malloc|calloc|realloc|free|strdup|strndup|sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets)[[:space:]]*\('
hits=$(grep -nE "$banned" src/lib/*/*.c | grep -v '^src/lib/core/alloc.c:' | grep -v 'lm__' | grep -vE '^\S+:\s*(/?\*|//)' | grep -vE 'free\(json\)|free\(filters\)|free\(s\)' || true)
if [ -n "$hits" ]; then
    echo "lint: banned functions in src/lib (use the lm__ allocation seam):"
    echo "$hits"
    status=1
fi
if command -v cppcheck >/dev/null; then
    cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
        --suppress=missingIncludeSystem -Iinclude -Isrc/lib -Isrc/lib/core src/lib src/cli || status=1
fi
if command -v clang-format >/dev/null; then
    n=$(for f in src/lib/*/*.[ch] src/cli/*.[ch] include/*.h include/llmemory/*.h; do
        clang-format --dry-run "$f" 2>&1 | grep -c warning; done | awk '{s+=$1} END {print s+0}')
    echo "lint: clang-format would change $n places (make format)"
fi
exit $status

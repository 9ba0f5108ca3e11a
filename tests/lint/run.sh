#!/bin/sh
# The folder dependency check (scripts/check-deps.sh) passes on this tree and catches planted
# violations: an upward include, upward and sibling symbol references, core using another folder,
# the library using the CLI or the server, the CLI including a library-private header, and a
# circle between the files of one folder.
#   tests/lint/run.sh BUILD_DIR
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
b=$(cd "${1:?usage: tests/lint/run.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [ -f "$tmp/out" ] && sed 's/^/     /' "$tmp/out"; }

# fresh copy of the sources and objects in $tmp/t (tree) and $tmp/o (objects)
fresh() {
    rm -rf "$tmp/t" "$tmp/o"
    mkdir -p "$tmp/t" "$tmp/o"
    cp -R "$root/src" "$root/include" "$tmp/t/"
    cp -R "$b/src" "$tmp/o/"
    [ -d "$b/gen" ] && cp -R "$b/gen" "$tmp/o/"
    find "$tmp/o" -type f ! -name '*.o' -delete
}

# plant OBJ_PATH C_SOURCE: compile a one-file object into the copied objects
plant() {
    mkdir -p "$(dirname "$tmp/o/$1")"
    printf '%s\n' "$2" >"$tmp/plant.c"
    cc -c -fPIC -o "$tmp/o/$1" "$tmp/plant.c"
}

# expect NAME PATTERN: the check fails and says PATTERN
expect() {
    if sh "$root/scripts/check-deps.sh" "$tmp/t" "$tmp/o" >"$tmp/out" 2>&1; then
        bad "$1 (check passed)"
    elif grep -q "$2" "$tmp/out"; then
        ok "$1"
    else
        bad "$1 (no \"$2\" in the report)"
    fi
}

if sh "$root/scripts/check-deps.sh" "$root" "$b" >"$tmp/out" 2>&1; then ok "this tree is clean"; else bad "this tree is clean"; fi

fresh
sed -i 's|^#include "search/search.h"|#include "search/search.h"\n#include "api/memory.h"|' "$tmp/t/src/lib/search/filter.c"
expect "search including an api header" 'filter.c:[0-9]*: #include "api/memory.h": search may not use api (upward)'

fresh
plant src/lib/search/planted.o 'const char *lm_version(void); const char *f(void); const char *f(void) { return lm_version(); }'
expect "search using a symbol of api" 'search/planted.o uses lm_version (defined in src/lib/api/memory.o): search may not use api'

fresh
plant src/lib/core/planted.o 'int lm__db_exec(void); int g(void); int g(void) { return lm__db_exec(); }'
expect "core using a symbol of db" 'core/planted.o uses lm__db_exec.*core may not use db'

fresh
plant src/lib/chunk/planted.o 'int lm_embedder_dim(void *e); int h(void); int h(void) { return lm_embedder_dim(0); }'
expect "chunk using its sibling embed" 'chunk may not use embed (sibling)'

fresh
plant src/lib/api/planted.o 'void srv_dispatch(void *r); void k(void *r); void k(void *r) { srv_dispatch(r); }'
expect "the library using the server" 'api/planted.o uses srv_dispatch.*api may not use http'

fresh
plant src/lib/db/planted.o 'int cli_cmd_search(int c, char **v); int m(void); int m(void) { return cli_cmd_search(0, 0); }'
expect "the library using the CLI" 'db/planted.o uses cli_cmd_search.*db may not use cli'

fresh
sed -i '0,/^#include "cmd.h"/s||#include "cmd.h"\n#include "search/search.h"|' "$tmp/t/src/cli/cmd_search.c"
expect "the CLI including a library-private header" 'cmd_search.c:[0-9]*: #include "search/search.h": the cli sees only'

fresh
plant src/http/planted.o 'int lm__db_exec(void); int n(void); int n(void) { return lm__db_exec(); }'
expect "the server using a hidden library symbol" 'http/planted.o uses lm__db_exec.*http uses a hidden library symbol of db'

fresh
plant src/lib/chunk/planted_a.o 'void lm__planted_b(void); void lm__planted_a(void); void lm__planted_a(void) { lm__planted_b(); }'
plant src/lib/chunk/planted_b.o 'void lm__planted_a(void); void lm__planted_b(void); void lm__planted_b(void) { lm__planted_a(); }'
expect "a circle between two files of chunk" 'files of chunk use each other in a circle: .*planted_'

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

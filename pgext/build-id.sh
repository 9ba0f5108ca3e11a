#!/bin/sh
# pgext/build-id.sh: the build id of the llmemory_bm25 extension in this tree, a SHA-256 over its
# sources (Makefile, C, headers, SQL scripts, control file, this script). The module compiles it in
# and reports it through llmemory_bm25_build_id(); the library compares it with the id of its own
# tree (src/lib/search/bm25.c) and scripts/deps.sh with the installed module.
set -eu
cd "$(dirname "$0")"
LC_ALL=C
export LC_ALL
for f in Makefile build-id.sh *.c *.h *.sql *.control; do
    [ -f "$f" ] && printf '%s\n' "$f" && cat "$f"
done | sha256sum | cut -d' ' -f1

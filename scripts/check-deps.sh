#!/bin/sh
# Folder dependencies run one way (docs/design notes in STYLE.md section 1):
#
#   core  <-  db, chunk, embed  <-  search  <-  api  <-  eval, cluster  <-  mcp  <-  http  <-  cli
#
# A folder may use its own files and folders to its left, never one to its right and never a
# sibling (db, chunk and embed do not use each other). The front ends (the MCP protocol layer,
# the HTTP server and the CLI) include only the public headers (include/), core's helpers, their
# own headers and those of front ends to their left (the server includes mcp/mcp.h, the CLI
# http/http.h). Checked two ways:
#   includes: every #include "..." of src/ resolved to the folder that holds the header;
#   symbols:  every undefined symbol of an object (nm) resolved to the folder whose object
#             defines it, and, for the front ends, the library symbol must be public (not a hidden
#             lm__ helper) unless it comes from core.
#   circles:  inside a folder, the files' symbol references contain no loop (tsort); folders
#             listed in DEPS_CIRCLES_ALLOWED (none by default) are exempt.
#   scripts/check-deps.sh [ROOT [OBJDIR]]     (defaults: the repository, build/debug)
# With DEPS_PICTURE=1 it also prints which folder uses which (includes and symbols together).
# Exit 0 when clean, 1 with one line per violation.
set -u
root=$(cd "${1:-$(dirname "$0")/..}" && pwd) || exit 2
objdir=${2:-$root/build/debug}
[ -d "$objdir" ] && objdir=$(cd "$objdir" && pwd)
cd "$root" || exit 2

# folder of a source path: src/lib/X/... -> X, src/http/... -> http, src/cli/... -> cli
folder_of() {
    case $1 in
    src/lib/*/*) echo "$1" | cut -d/ -f3 ;;
    src/mcp/*) echo mcp ;;
    src/http/*) echo http ;;
    src/cli/*) echo cli ;;
    gen/models*) echo embed ;;  # the pinned model checksums belong to embed
    gen/*) echo db ;;           # generated migrations and the extension's build id: db
    *) echo "?" ;;
    esac
}

edges=$(mktemp)
trap 'rm -f "$edges" "$edges.def" "$edges.use"' EXIT INT TERM

# ---- includes ------------------------------------------------------------------------------
for f in $(find src -name '*.[ch]' | sort); do
    from=$(folder_of "$f")
    dir=$(dirname "$f")
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
        n=${line%%:*}
        h=$(echo "$line" | sed -E 's/.*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/')
        if [ -f "$dir/$h" ]; then
            p=$(cd "$dir" && cd "$(dirname "$h")" && pwd)/$(basename "$h")
            p=${p#"$root"/}
            to=$(folder_of "$p")
        elif [ -f "src/lib/$h" ]; then
            to=$(folder_of "src/lib/$h")
        elif [ -f "src/lib/core/$h" ]; then
            to=core
        elif [ -f "include/$h" ]; then
            to=public
        else
            to="?"
        fi
        echo "inc $from $to $f:$n $h"
    done
done >>"$edges"

# ---- symbols -------------------------------------------------------------------------------
if [ -d "$objdir/src" ]; then
    for o in $(cd "$objdir" && find src gen -name '*.o' 2>/dev/null | sort); do
        src=${o%.o}
        f=$(folder_of "$src")
        # defined: name folder object visibility (readelf: DEFAULT or HIDDEN)
        readelf -sW "$objdir/$o" | awk -v f="$f" -v o="$src" \
            '$5=="GLOBAL" && $7!="UND" && $8!="" {print $8, f, o, $6}' >>"$edges.def"
        nm -u "$objdir/$o" | awk -v f="$f" -v o="$src" '{print $2, f, o}' >>"$edges.use"
    done
    touch "$edges.def" "$edges.use"
    awk 'NR==FNR {fold[$1]=$2; obj[$1]=$3; vis[$1]=$4; next}
         ($1 in fold) {print "sym", $2, fold[$1], $3, $1, obj[$1], vis[$1]}' \
        "$edges.def" "$edges.use" >>"$edges"
else
    echo "check-deps: no objects under $objdir (build first); symbols not checked" >&2
fi

if [ "${DEPS_PICTURE:-0}" = 1 ]; then
    echo "folder -> folders it uses (includes and symbols):"
    awk '$2!=$3 && $3!="public" && $3!="?" {u[$2]=u[$2] " " $3}
         END {for (f in u) {n=split(u[f], a, " "); delete s; out="";
              for (i=1;i<=n;i++) if (!(a[i] in s)) {s[a[i]]=1; out=out " " a[i]}
              print "  " f " ->" out}}' "$edges" | sort
fi

circles=0
for d in $(awk '$1=="sym" && $2==$3 {print $2}' "$edges" | sort -u); do
    case " ${DEPS_CIRCLES_ALLOWED-} " in *" $d "*) continue ;; esac
    loop=$(awk -v d="$d" '$1=="sym" && $2==d && $3==d && $4!=$6 {print $4, $6}' "$edges" |
        sort -u | tsort 2>&1 >/dev/null | grep -v 'input contains a loop' | sed 's/^tsort: //')
    if [ -n "$loop" ]; then
        echo "check-deps: files of $d use each other in a circle:" $loop
        circles=1
    fi
done

awk '
function rank(f) {
    if (f == "core") return 0
    if (f == "db" || f == "chunk" || f == "embed") return 1
    if (f == "search") return 2
    if (f == "api") return 3
    if (f == "eval" || f == "cluster") return 4
    if (f == "mcp") return 5
    if (f == "http") return 6
    if (f == "cli") return 7
    return -1
}
function front(f) { return f == "cli" || f == "http" || f == "mcp" }
{
    kind = $1; from = $2; to = $3; where = $4
    if (to == from || to == "public") next
    bad = ""
    if (to == "?" && kind == "inc") bad = "unknown header " $5
    else if (rank(from) < 0) bad = "file outside the known folders"
    else if (front(from) && kind == "inc" && to != "core" && !(front(to) && rank(to) < rank(from)))
        bad = "the " from " sees only include/, core and its own headers: " $5 " is in " to
    else if (rank(to) >= rank(from))
        bad = from " may not use " to " (" (rank(to) == rank(from) ? "sibling" : "upward") ")"
    else if (kind == "sym" && front(from) && !front(to) && to != "core" && $7 != "DEFAULT")
        bad = from " uses a hidden library symbol of " to
    if (bad == "") next
    if (kind == "inc") printf "check-deps: %s: #include \"%s\": %s\n", where, $5, bad
    else printf "check-deps: %s.o uses %s (defined in %s.o): %s\n", where, $5, $6, bad
    n++
}
END { exit n > 0 }' "$edges" && [ "$circles" -eq 0 ]

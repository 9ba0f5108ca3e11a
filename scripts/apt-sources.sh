#!/bin/sh
# APT configuration helpers for scripts/deps.sh, kept apart so tests can run them against a
# temporary configuration tree (tests/scripts/apt_sources_test.sh).
#   scripts/apt-sources.sh mirror [ROOT]   the first Debian archive URI configured under
#                                          ROOT/etc/apt (default ROOT: /), from deb822 files
#                                          (sources.list.d/*.sources) or the classic one-line
#                                          format (sources.list, sources.list.d/*.list)
#   scripts/apt-sources.sh newest PREFIX   reads `apt-cache showsrc` output on stdin; prints the
#                                          newest Version: that starts with PREFIX
# Exit status 1 (with a message on stderr) when nothing qualifies.
set -eu

# A Debian archive entry: a suite of Debian itself (codename or alias, not -security/-updates/
# -backports, which live on other paths or lack packages) with the main component.
# Entries written by llmemory itself (llmemory-*.sources) are skipped.
suites='stable oldstable oldoldstable testing unstable sid experimental buster bullseye bookworm trixie forky duke'

# deb822: stanzas separated by blank lines; "Field: value" with indented continuation lines.
mirror_deb822() { # file
    awk -v suites="$suites" '
        function flush() {
            if (types ~ /(^| )deb(-src)?( |$)/ && tolower(enabled) != "no" && uri != "" &&
                uri !~ /^cdrom:/ && comps ~ /(^| )main( |$)/ && !found) {
                n = split(suite, s, " ")
                for (i = 1; i <= n; i++)
                    if (index(" " suites " ", " " s[i] " ")) { print uri; found = 1; break }
            }
            types = uri = suite = comps = field = ""; enabled = "yes"
        }
        BEGIN { enabled = "yes" }
        /^#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ {                       # continuation of the previous field
            v = $0; gsub(/^[ \t]+|[ \t]+$/, "", v)
            if (field == "uris" && uri == "") uri = v
            else if (field == "suites") suite = suite " " v
            else if (field == "components") comps = comps " " v
            else if (field == "types") types = types " " v
            next
        }
        {
            p = index($0, ":"); if (p == 0) next
            field = tolower(substr($0, 1, p - 1)); v = substr($0, p + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", v); gsub(/[ \t]+/, " ", v)
            if (field == "types") types = v
            else if (field == "uris") { split(v, u, " "); uri = u[1] }
            else if (field == "suites") suite = v
            else if (field == "components") comps = v
            else if (field == "enabled") enabled = v
        }
        END { flush() }
    ' "$1"
}

# One-line format: deb [ options ] URI SUITE COMPONENT...
mirror_oneline() { # file
    awk -v suites="$suites" '
        { sub(/#.*/, "") }
        $1 == "deb" || $1 == "deb-src" {
            i = 2
            if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            uri = $i; suite = $(i + 1); main = 0
            for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
            if (uri != "" && uri !~ /^cdrom:/ && main && suite != "" && index(" " suites " ", " " suite " ")) {
                print uri; exit
            }
        }
    ' "$1"
}

mirror() { # root
    etc=${1%/}/etc/apt
    for f in "$etc"/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case $(basename "$f") in llmemory-*) continue ;; esac
        uri=$(mirror_deb822 "$f")
        [ -z "$uri" ] || { echo "$uri"; return 0; }
    done
    for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(mirror_oneline "$f")
        [ -z "$uri" ] || { echo "$uri"; return 0; }
    done
    echo "deps: no Debian mirror found in $etc/sources.list or $etc/sources.list.d/*.sources," \
        "*.list: need an enabled deb entry for a Debian suite (such as bookworm) with component" \
        "main, whose URI is then used to fetch pgvector's source package" >&2
    return 1
}

newest() { # prefix; showsrc text on stdin
    best=
    for v in $(sed -n 's/^Version: *//p'); do
        case $v in "$1"*) ;; *) continue ;; esac
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done
    [ -n "$best" ] || { echo "deps: no source package version $1* in the index" >&2; return 1; }
    echo "$best"
}

case "${1:-}" in
mirror) mirror "${2:-/}" ;;
newest) newest "${2:?usage: $0 newest PREFIX}" ;;
*)
    echo "usage: $0 mirror [ROOT] | newest PREFIX" >&2
    exit 2
    ;;
esac

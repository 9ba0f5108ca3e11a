# scripts/apt-sources.sh mirror: the Debian mirror deps.sh reuses for pgvector's source package,
# read from temporary APT configuration trees in both formats (deb822 and one-line).
set -u
script=$SCRIPTS_ROOT/scripts/apt-sources.sh
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
failures=0
# expect NAME WANT: the mirror found under $root (or "FAIL" when none must be found).
expect() {
    local got status
    got=$(sh "$script" mirror "$root" 2>"$root/err")
    status=$?
    if [ "$2" = FAIL ]; then
        if [ "$status" -ne 1 ] || [ -n "$got" ] || ! grep -q "no Debian mirror found in $root/etc/apt" "$root/err"; then
            echo "$1: expected exit 1 and a message, got status $status, \"$got\", $(cat "$root/err")"
            failures=$((failures + 1))
        fi
    elif [ "$status" -ne 0 ] || [ "$got" != "$2" ]; then
        echo "$1: expected $2, got status $status, \"$got\" $(cat "$root/err")"
        failures=$((failures + 1))
    fi
}
reset() { rm -rf "$root/etc"; mkdir -p "$root/etc/apt/sources.list.d"; }

reset
expect "no configuration at all" FAIL

# Debian 12's default: deb822 with the security archive in a second stanza.
reset
cat >"$root/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
SRC
expect "deb822" http://mirror.example/debian

# Security first, a disabled stanza, a third-party repository, continuation lines.
reset
cat >"$root/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
URIs: http://vendor.example/repo
Suites: nodistro
Components: main

Types: deb deb-src
URIs:
 http://second.example/debian
 http://third.example/debian
Suites: bookworm-updates
 bookworm
Components: contrib
 main
SRC
expect "deb822 continuation lines, skipped stanzas" http://second.example/debian

# Our own deb-src entry (left by an interrupted run) is never the answer.
reset
printf 'Types: deb-src\nURIs: http://ours.example/debian\nSuites: trixie\nComponents: main\n' \
    >"$root/etc/apt/sources.list.d/llmemory-trixie-src.sources"
expect "only llmemory's own entry" FAIL

# The classic one-line format, with options, comments and a cdrom entry first.
reset
cat >"$root/etc/apt/sources.list" <<'SRC'
# deb http://commented.example/debian bookworm main
deb cdrom:[Debian GNU/Linux 12]/ bookworm main
deb http://mirror.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://classic.example/debian bookworm main contrib
SRC
expect "sources.list" http://classic.example/debian

# One-line entries in sources.list.d/*.list; components without main do not count.
reset
: >"$root/etc/apt/sources.list"
echo "deb http://nomain.example/debian bookworm contrib non-free" >"$root/etc/apt/sources.list.d/a.list"
echo "deb http://list.example/debian stable main" >"$root/etc/apt/sources.list.d/b.list"
expect "sources.list.d/*.list" http://list.example/debian

# Only entries deps.sh cannot use: say so.
reset
echo "deb http://vendor.example/apt nodistro main" >"$root/etc/apt/sources.list"
printf 'Types: deb\nURIs: http://x.example/debian\nSuites: bookworm\nComponents: contrib\n' \
    >"$root/etc/apt/sources.list.d/x.sources"
expect "nothing usable" FAIL

# The newest 0.8.x version in `apt-cache showsrc` output.
got=$(printf 'Package: pgvector\nVersion: 0.8.0-1\n\nPackage: pgvector\nVersion: 0.8.1-2\n\nPackage: pgvector\nVersion: 0.9.0-1\nVersion: 0.8.1-10\n' |
    sh "$script" newest 0.8.)
[ "$got" = 0.8.1-10 ] || { echo "newest: expected 0.8.1-10, got \"$got\""; failures=$((failures + 1)); }
if printf 'Version: 0.7.4-1\n' | sh "$script" newest 0.8. >/dev/null 2>&1; then
    echo "newest: 0.7.4-1 taken for 0.8.x"
    failures=$((failures + 1))
fi
[ "$failures" -eq 0 ]

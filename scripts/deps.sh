#!/usr/bin/env bash
# Installs everything llmemory needs on Debian 12, and builds pgvector 0.8.0 from Debian's own
# source package when the `vector` extension is missing. Idempotent: safe to run again; it only
# does work that is still missing. Run as root, or as a user with sudo.
set -euo pipefail

PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
PGVECTOR_VERSION=0.8.0-1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

# Build and run-time packages. Keep this list in one place: the README points here.
packages=(
    build-essential pkg-config ca-certificates
    postgresql-$PG_MAJOR postgresql-contrib postgresql-server-dev-$PG_MAJOR libpq-dev dpkg-dev
    libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libsodium-dev libssl-dev
    libxml2-dev libpoppler-glib-dev
    curl default-jre-headless liblucene8-java
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
updated=0
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    updated=1
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's postgresql-common may have created a default cluster on port 5432; llmemory never uses
# it (tests and the embedded database run their own clusters on unix sockets).

# pgvector: no binary package exists for PostgreSQL 15 on Debian 12, so build Debian's own source
# package from the trixie suite with PGXS. The deb-src entry reuses the first URIs: value of the
# system's debian.sources, so no mirror is hard-coded here.
sharedir=$("$PG_CONFIG" --sharedir)
if [ ! -f "$sharedir/extension/vector.control" ]; then
    echo "deps: building pgvector $PGVECTOR_VERSION from Debian's source package"
    src=/etc/apt/sources.list.d/debian.sources
    uri=$(awk '/^URIs:/ {print $2; exit}' "$src")
    [ -n "$uri" ] || { echo "deps: no URIs: line in $src" >&2; exit 1; }
    list=/etc/apt/sources.list.d/llmemory-trixie-src.sources
    if [ ! -f "$list" ]; then
        printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$uri" | "${SUDO[@]}" tee "$list" >/dev/null
        updated=0
    fi
    [ "$updated" -eq 1 ] || "${SUDO[@]}" apt-get update -qq
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (
        cd "$tmp"
        apt-get source -qq pgvector="$PGVECTOR_VERSION" >/dev/null 2>&1 || apt-get source pgvector="$PGVECTOR_VERSION"
        cd pgvector-*/
        make -s OPTFLAGS="" PG_CONFIG="$PG_CONFIG" >/dev/null
        "${SUDO[@]}" make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
    )
fi

# Our own PostgreSQL extension (exact BM25 top-k), when this tree has one. It is rebuilt only
# when its sources differ from what was installed (a checksum stamp beside the control file), so
# a user without root rights is not asked for sudo when nothing changed.
if [ -f "$here/pgext/Makefile" ]; then
    sum=$(cat "$here/pgext/Makefile" "$here"/pgext/*.c "$here"/pgext/*.sql "$here"/pgext/*.control |
        sha256sum | cut -d' ' -f1)
    stamp="$sharedir/extension/llmemory_bm25.srcsum"
    if [ ! -f "$sharedir/extension/llmemory_bm25.control" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        echo "deps: building the llmemory_bm25 extension"
        make -s -C "$here/pgext" PG_CONFIG="$PG_CONFIG" >/dev/null
        "${SUDO[@]}" make -s -C "$here/pgext" install PG_CONFIG="$PG_CONFIG" >/dev/null
        echo "$sum" | "${SUDO[@]}" tee "$stamp" >/dev/null
        make -s -C "$here/pgext" clean PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1 || true
    fi
fi

# Sentence-embedding models for the local embedder (pinned checksums; see the script).
"$here/scripts/models.sh"

echo "deps: ok (PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}'), pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$sharedir/extension/vector.control"))"

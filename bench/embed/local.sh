#!/bin/sh
# bench/embed/local.sh: speed and memory of the local encoder (see local_bench.c).
# Usage: bench/embed/local.sh [MODEL_DIR] [runs] [chunks-per-run]
#   MODEL_DIR defaults to $LLMEMORY_TEST_MODEL_DIR. Without a model, a random model of the
#   MiniLM-L6 shape is generated (bench/embed/random_model.c) so the speed can still be measured.
#   With PYTHON=<python with numpy, onnx, onnxruntime> ONNX Runtime runs the same model beside it.
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory build/debug/libllmemory.a >/dev/null
out=build/bench/embed
mkdir -p "$out"
libs="$(pkg-config --libs libpq jansson libsodium libcurl) -lpthread -lm"
# shellcheck disable=SC2086
cc -std=c11 -O2 -Iinclude -Isrc/lib $(pkg-config --cflags jansson) bench/embed/local_bench.c \
    build/debug/libllmemory.a $libs -o "$out/local_bench"
model=${1:-${LLMEMORY_TEST_MODEL_DIR:-}}
if [ -z "$model" ] || [ ! -f "$model/model.safetensors" ]; then
    cc -std=c11 -O2 bench/embed/random_model.c -lm -o "$out/random_model"
    model="$out/random-minilm-l6"
    "$out/random_model" "$model"
    echo "(no model given: a random model of the MiniLM-L6 shape)"
fi
"$out/local_bench" "$model" "${2:-5}" "${3:-16}"
# ONNX Runtime side by side, when the python given as $PYTHON (default python3) has it.
py=${PYTHON:-python3}
if "$py" -c 'import numpy, onnx, onnxruntime' 2>/dev/null; then
    "$py" bench/embed/ort_compare.py "$model" "$out" "${3:-16}" 2>/dev/null
else
    echo "(ONNX Runtime comparison skipped: $py lacks numpy, onnx or onnxruntime; see bench/embed/ort_compare.py)"
fi

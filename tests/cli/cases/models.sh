# `models list|path|verify` with a fake model in LLMEMORY_MODELS_DIR: the path of a model, a clear
# error naming the missing or corrupt file, exit 3 for a model that is not installed.
export LLMEMORY_MODELS_DIR=$CLI_TMP/models
mkdir -p "$LLMEMORY_MODELS_DIR/tiny"
printf '{}' >"$LLMEMORY_MODELS_DIR/tiny/config.json"
printf '[PAD]\n' >"$LLMEMORY_MODELS_DIR/tiny/vocab.txt"
# safetensors: 8-byte little-endian header length (2), then the JSON header "{}".
printf '\002\000\000\000\000\000\000\000{}' >"$LLMEMORY_MODELS_DIR/tiny/model.safetensors"

run_raw models list
expect_status 0
expect_out "tiny"
expect_out "$LLMEMORY_MODELS_DIR/tiny"
run_raw models list --json
expect_status 0
expect_out "\"search_path\""
expect_out "\"name\": \"tiny\""

run_raw models path tiny
expect_status 0
[ "$OUT" = "$LLMEMORY_MODELS_DIR/tiny" ] || fail "models path printed \"$OUT\""
run_raw models verify tiny "$LLMEMORY_MODELS_DIR/tiny"
expect_status 0
expect_out "tiny: ok (3 files checked)"

run_raw models path absent
expect_status 3
expect_err 'embedding model "absent" is not installed'
expect_err "Searched: $LLMEMORY_MODELS_DIR"

rm "$LLMEMORY_MODELS_DIR/tiny/vocab.txt"
run_raw models verify tiny
expect_status 3
expect_err "tiny/vocab.txt\" is missing"
printf '[PAD]\n' >"$LLMEMORY_MODELS_DIR/tiny/vocab.txt"
printf 'garbage' >"$LLMEMORY_MODELS_DIR/tiny/model.safetensors"
run_raw models verify tiny
expect_status 2
expect_err "tiny/model.safetensors\" is not a valid safetensors file"

run_raw models frobnicate
expect_status 2
expect_err 'unknown models command "frobnicate"'

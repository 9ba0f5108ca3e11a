# `reembed` switches a memory to the configured embedder through the queue: the chunks wait until
# --run (or `embed`) writes their vectors; --owner limits it to one owner; other owners' chunks
# are untouched by an --owner run. Its own schema, since it changes the default provider.
requires_db
schema=${CLI_SCHEMA}_re
trap 'psql "$LLMEMORY_DATABASE_URL" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true' EXIT
rr() { _run /dev/null --schema "$schema" "$@"; }
export LLMEMORY_EMBEDDER=builtin LLMEMORY_EMBED_DIM=64
printf 'the kiwi is a flightless bird of New Zealand\n' >"$CLI_TMP/a.txt"
printf 'mangos ripen in the tropical summer heat\n' >"$CLI_TMP/b.txt"
rr add --owner one "$CLI_TMP/a.txt"
expect_status 0
rr add --owner two "$CLI_TMP/b.txt"
expect_status 0
rr reembed
expect_status 0
expect_out "provider builtin-hash-v2-64: 0 chunks to embed"

# A new provider (another dimension): everything waits for it, nothing is embedded yet.
export LLMEMORY_EMBED_DIM=32
rr reembed --owner one --json
expect_status 0
[ "$(json provider_id)" = builtin-hash-v2-32 ] || fail "provider_id: $(json provider_id)"
[ "$(json to_embed)" = 1 ] || fail "to_embed: $(json to_embed)"
[ "$(json pending)" = 2 ] || fail "pending: $(json pending)"
rr search --owner one kiwi --type vector
expect_status 0
expect_out "no results"
rr reembed --owner one --run
expect_status 0
expect_out "embedded 2 chunks"
expect_out "queue: 0 pending, 0 dead"
rr search --owner one kiwi --type vector
expect_status 0
expect_out "kiwi"
rr search --owner two kiwi --type vector
expect_status 0
printf '%s\n' "$OUT" | grep -q kiwi && fail "owner two sees owner one's document"

rr reembed --owner "bad owner"
expect_status 2
export LLMEMORY_EMBEDDER=none
rr reembed
expect_status 2
expect_err "no embedder"

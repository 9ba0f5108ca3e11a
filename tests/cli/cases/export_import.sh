# export writes a checksummed JSON Lines stream of one owner; import restores it into another
# owner with the same search results, is idempotent, and rejects a truncated or corrupt file
# without writing anything.
requires_db
a=${CASE_OWNER_PREFIX}-a
b=${CASE_OWNER_PREFIX}-b
c=${CASE_OWNER_PREFIX}-c
ingest_samples "$a" acme
run export --owner "$a" --vectors --output "$CLI_TMP/a.jsonl"
expect_status 0
head -n 1 "$CLI_TMP/a.jsonl" | grep -q '"format":"llmemory-export","version":1' ||
    fail "no header line"
tail -n 1 "$CLI_TMP/a.jsonl" | grep -q '"type":"trailer"' || fail "no trailer line"
grep -q '"embedding" : \[' "$CLI_TMP/a.jsonl" || fail "--vectors wrote no embeddings"
run export --owner "$a"
expect_status 0
expect_no_out '"embedding"'
# Nothing but the data on stdout (no progress bar: stderr is not a terminal).
expect_no_err "exporting"
run_in "$CLI_TMP/a.jsonl" import --owner "$b" --json
expect_status 0
[ "$(json documents_created)" = "6" ] || fail "import did not create 6 documents"
[ "$(json chunks_queued)" = "0" ] || fail "vectors were not reused"
run search --owner "$a" --type hybrid expenses
sa=$OUT
run search --owner "$b" --type hybrid expenses
[ "$OUT" = "$sa" ] || fail "search results differ after the round trip"
run import --owner "$b" "$CLI_TMP/a.jsonl"
expect_status 0
expect_out "6 documents (0 new)"
run stats --owner "$b" --json
[ "$(json document_count)" = "6" ] || fail "second import duplicated documents"
# Truncated and corrupt files: rejected, the target owner stays empty.
head -c 2000 "$CLI_TMP/a.jsonl" >"$CLI_TMP/trunc.jsonl"
run import --owner "$c" "$CLI_TMP/trunc.jsonl"
expect_status 2
expect_err "nothing was imported"
sed '0,/Acme/s//Acmf/' "$CLI_TMP/a.jsonl" >"$CLI_TMP/corrupt.jsonl"
run import --owner "$c" "$CLI_TMP/corrupt.jsonl"
expect_status 2
expect_err "checksum mismatch"
run stats --owner "$c" --json
[ "$(json document_count)" = "0" ] || fail "a rejected import wrote documents"
run import --owner "$c" "$CLI_TMP/missing.jsonl"
expect_status 3

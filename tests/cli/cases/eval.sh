# eval on a small BEIR collection: metrics as text and JSON, a run file that scores the same
# with --score-run, the owner erased unless --keep, another owner untouched, queries read as
# plain text unless --syntax web, and a broken collection refused with exit status 1 before
# anything is ingested.
requires_db
owner=${CASE_OWNER_PREFIX}eval
other=${CASE_OWNER_PREFIX}other
d="$CLI_TMP/beir"
mkdir -p "$d/qrels"
cat >"$d/corpus.jsonl" <<'JSON'
{"_id": "d1", "title": "Volcanoes", "text": "Magma rises through the crust and erupts as lava."}
{"_id": "d2", "title": "Glaciers", "text": "Ice sheets carve valleys as they move downhill."}
{"_id": "d3", "title": "Reefs", "text": "Coral reefs shelter fish in warm shallow seas."}
JSON
cat >"$d/queries.jsonl" <<'JSON'
{"_id": "q1", "text": "lava magma"}
{"_id": "q2", "text": "glaciers carving valleys"}
{"_id": "q3", "text": "coral reef fish"}
{"_id": "q4", "text": "\"erupting lava\" -magma"}
JSON
printf 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq4\td1\t1\n' >"$d/qrels/test.tsv"
printf 'an unrelated note about lava\n' >"$CLI_TMP/note.txt"
run add --owner "$other" "$CLI_TMP/note.txt"
expect_status 0

run eval --owner "$owner" --depth 10 --no-progress --run "$CLI_TMP/run.txt" "$d"
expect_status 0
expect_out "nDCG@10      1.0000"
expect_out "no results   0 of 4 queries"
expect_out "ingested     3 documents"
expect_out "run file     $CLI_TMP/run.txt"
grep -q '^q1 Q0 d1 1 ' "$CLI_TMP/run.txt" || fail "run file lacks q1's first document"
run stats --owner "$owner" --json
[ "$(json document_count)" = "0" ] || fail "the evaluation owner was not erased"
run stats --owner "$other" --json
[ "$(json document_count)" = "1" ] || fail "another owner lost documents"

run eval --json --score-run "$CLI_TMP/run.txt" "$d"
expect_status 0
expect_json
[ "$(json ndcg_at_10)" = "1.0" ] || [ "$(json ndcg_at_10)" = "1" ] || fail "scored run differs"

# In web syntax q4 needs the phrase "erupting lava" and excludes magma: nothing matches.
run eval --owner "$owner" --depth 10 --syntax web --keep --json "$d"
expect_status 0
[ "$(json ingest.documents)" = "3" ] || fail "ingest count"
[ "$(json queries_no_hits)" = "1" ] || fail "web syntax: q4 should find nothing"
[ "$(json syntax)" = "web" ] || fail "syntax not reported"
run stats --owner "$owner" --json
[ "$(json document_count)" = "3" ] || fail "--keep did not keep the owner"
run erase --owner "$owner" --yes
expect_status 0

printf '{"_id": "q1", "text": "lava"}\nnot json\n' >"$d/queries.jsonl"
run eval --owner "$owner" --depth 10 "$d"
expect_status 1
expect_err "line 2"
run stats --owner "$owner" --json
[ "$(json document_count)" = "0" ] || fail "a broken collection was ingested"

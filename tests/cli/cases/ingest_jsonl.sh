# ingest --jsonl: one document a line, added in batches; a line that is not a document, or a
# document the library refuses, fails alone (the batch is retried one by one) and the exit
# status is 1; ingesting again re-indexes; standard input works; DIR and --jsonl exclude each
# other.
requires_db
owner=${CASE_OWNER_PREFIX}
f=$CLI_TMP/docs.jsonl
{
    printf '{"id_at_origin": "a", "content": "Giraffes sleep standing up.", "name": "Giraffes"}\n'
    printf '\n'
    printf '{"id_at_origin": "b", "content": "Okapis live in rainforests.", "type": "markdown",'
    printf ' "metadata": {"team": "zoo"}, "document_date": "2024-05-01"}\n'
    printf 'not json\n'
    printf '{"id_at_origin": "c", "content": "Narwhals have tusks.", "document_date": "yesterday"}\n'
    printf '{"id_at_origin": "d", "content": "Tab\\tand back\\\\slash stay."}\n'
    printf '{"content": "no id"}\n'
} >"$f"
run ingest --owner "$owner" --no-progress --json --jsonl "$f"
expect_status 1
expect_json
[ "$(json ingested)" = "3" ] || fail "expected 3 ingested"
[ "$(json failed)" = "3" ] || fail "expected 3 failed"
json results.*.path | grep -qx "line 4" || fail "line 4 reported"
run list --owner "$owner" --json
expect_json
[ "$(json total)" = "3" ] || fail "expected 3 documents"
json documents.*.metadata.team | grep -qx "zoo" || fail "metadata"
ids1=$(json documents.*.document_id | sort)
run get --owner "$owner" --origin d --chunks --json
expect_status 0
expect_out 'back\\slash'

grep -v -e 'not json' -e yesterday -e 'no id' "$f" >"$CLI_TMP/good.jsonl"
run_in "$CLI_TMP/good.jsonl" ingest --owner "$owner" --json --jsonl -
expect_status 0
expect_json
[ "$(json ingested)" = "3" ] || fail "re-ingest count"
json results.*.created | grep -qx true && fail "re-ingest created new documents"
run list --owner "$owner" --json
[ "$(json documents.*.document_id | sort)" = "$ids1" ] || fail "re-ingest changed ids"
run search --owner "$owner" okapis
expect_out "Okapis"

run ingest --owner "$owner" --jsonl "$f" "$CLI_TMP"
expect_status 2
expect_err "not both"

# A file that fails is reported as 'could not ingest "path": ...', the rest are ingested, the
# summary counts both, and the exit status is 1. Ingesting again re-indexes (same ids).
requires_db
owner=${CASE_OWNER_PREFIX}
d=$CLI_TMP/docs
mkdir -p "$d/sub" "$d/.git"
printf 'Giraffes sleep standing up.\n' >"$d/good.txt"
printf 'this is not a PDF at all' >"$d/broken.pdf"
printf '<html><body><p>Okapis live in rainforests.</p></body></html>' >"$d/sub/page.html"
printf '# Narwhal notes\n\nNarwhals have tusks.\n' >"$d/sub/notes.MD"
printf 'ignored: hidden directory\n' >"$d/.git/config.txt"
printf 'ignored: not a known extension\n' >"$d/data.csv"
run ingest --owner "$owner" --no-progress "$d"
expect_status 1
expect_out "ingested 3 files"
expect_out "1 failed"
expect_err 'llmemory: could not ingest "broken.pdf": '
run list --owner "$owner" --json
expect_json
[ "$(json total)" = "3" ] || fail "expected 3 documents"
json documents.*.id_at_origin | grep -qx "sub/page.html" || fail "sub/page.html id at origin"
json documents.*.metadata.source_path | grep -qx "sub/notes.MD" || fail "source_path metadata"
ids1=$(json documents.*.document_id | sort)

rm "$d/broken.pdf"
run ingest --owner "$owner" --no-progress --json "$d"
expect_status 0
expect_json
[ "$(json ingested)" = "3" ] || fail "re-ingest count"
json results.*.created | grep -qx true && fail "re-ingest created new documents"
run list --owner "$owner" --json
[ "$(json documents.*.document_id | sort)" = "$ids1" ] || fail "re-ingest changed ids"

run search --owner "$owner" okapis
expect_out "(sub/page.html)"

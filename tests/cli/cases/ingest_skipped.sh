# ingest reports the files it passes over and why (other extensions, no extension, links to
# directories, broken links), on standard error and in the summary and --json; they are not
# failures (exit status 0). Hidden files are not looked at.
requires_db
owner=${CASE_OWNER_PREFIX}
d=$CLI_TMP/skip
mkdir -p "$d/sub" "$d/.git"
printf 'Kinkajou facts.\n' >"$d/a.txt"
printf '# Tapir\n\nTapirs swim.\n' >"$d/sub/b.md"
printf 'binary' >"$d/c.docx"
printf 'all:\n' >"$d/Makefile"
printf 'hidden\n' >"$d/.hidden.txt"
printf 'x\n' >"$d/.git/config.txt"
ln -s "$d/sub" "$d/link-to-sub"
ln -s "$d/nowhere.txt" "$d/broken.txt"
run ingest --owner "$owner" --no-progress "$d"
expect_status 0
expect_out "ingested 2 files"
expect_out "0 failed, 4 skipped"
expect_err 'skipped "c.docx": unsupported file type ".docx"'
expect_err 'skipped "Makefile": no file name extension'
expect_err 'skipped "link-to-sub": symbolic link to a directory'
expect_err 'skipped "broken.txt": broken symbolic link'
expect_no_err "hidden"
run ingest --owner "$owner" --no-progress --json "$d"
expect_status 0
expect_json
[ "$(json ingested)" = 2 ] || fail "ingested: $(json ingested)"
[ "$(json skipped)" = 4 ] || fail "skipped: $(json skipped)"
[ "$(json skipped_files.*.path | sort | tr '\n' ' ')" = "Makefile broken.txt c.docx link-to-sub " ] ||
    fail "skipped_files: $(json skipped_files.*.path | tr '\n' ' ')"
json skipped_files.*.reason | grep -q '^unsupported file type ".docx"' || fail "no reason for c.docx"

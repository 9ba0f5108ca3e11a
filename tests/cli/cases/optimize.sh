# optimize packs the keyword index and vacuums; searches give the same results afterwards; it
# refuses --url (it works on the database) and extra arguments.
requires_db
a=${CASE_OWNER_PREFIX}-a
ingest_samples "$a" acme
run search --owner "$a" --no-history "vacation policy"
expect_status 0
before=$OUT
run optimize
expect_status 0
expect_out "postings index"
expect_out "vacuumed and analyzed"
run optimize --json
expect_status 0
expect_json
[ "$(json postings_pages_after)" -gt 0 ] || fail "no page count after"
run search --owner "$a" --no-history "vacation policy"
expect_status 0
[ "$OUT" = "$before" ] || fail "results changed after optimize"
run optimize extra
expect_status 2
run_raw --url http://127.0.0.1:9 optimize
expect_status 2
expect_err "not with --url"

# stats counts what was ingested; history lists searches (not --no-history ones); erase removes
# everything of one owner only.
requires_db
a=${CASE_OWNER_PREFIX}-a
b=${CASE_OWNER_PREFIX}-b
ingest_samples "$a" acme
ingest_samples "$b" globex
run stats --owner "$a"
expect_status 0
expect_out "documents      6"
run search --owner "$a" expenses
expect_status 0
expect_out "1. "
run search --owner "$a" --no-history secretquery
expect_status 0
expect_out "no results"
run history --owner "$a"
expect_status 0
expect_out "expenses"
expect_no_out "secretquery"
run history --owner "$b"
expect_status 0
expect_out "no searches"
run erase --owner "$a" --yes
expect_status 0
expect_out "6 documents deleted"
run stats --owner "$a" --json
expect_status 0
[ "$(json document_count)" = "0" ] || fail "erase left documents"
run history --owner "$a"
expect_status 0
expect_out "no searches"
run stats --owner "$b" --json
expect_status 0
[ "$(json document_count)" = "5" ] || fail "erase touched another owner"
# --no-wait: invisible at once, the cleanup left for later; --resume finishes it, after which the
# owner id is free again.
run erase --owner "$b" --yes --no-wait
expect_status 0
expect_out "invisible now, 5 documents"
run stats --owner "$b" --json
expect_status 0
[ "$(json document_count)" = "0" ] || fail "erased owner still visible"
run erase --resume
expect_status 0
expect_out "pending erasure"
run erase --resume --json
expect_status 0
[ "$(json erasures_finished)" = "0" ] || fail "a second resume found work"
ingest_samples "$b" globex
run stats --owner "$b" --json
expect_status 0
[ "$(json document_count)" = "5" ] || fail "owner id not usable after the cleanup"

# quota set/get: limits per owner, "none" and "default", usage; an add past a limit fails and
# writes nothing.
requires_db
a=${CASE_OWNER_PREFIX}-a
run quota get --owner "$a" --json
expect_status 0
[ "$(json documents.limit)" = "null" ] || fail "no default limit expected"
[ "$(json documents.setting)" = "default" ] || fail "setting"
run quota set --owner "$a" --documents 1 --bytes none
expect_status 0
expect_out "documents                0               1  1"
printf 'One document.\n' >"$CLI_TMP/one.txt"
printf 'Two documents.\n' >"$CLI_TMP/two.txt"
run add --owner "$a" "$CLI_TMP/one.txt"
expect_status 0
run add --owner "$a" "$CLI_TMP/two.txt"
expect_err "documents quota exceeded"
expect_err "The limit is 1 documents"
run stats --owner "$a" --json
[ "$(json document_count)" = "1" ] || fail "the refused add wrote a document"
run quota set --owner "$a" --documents default
expect_status 0
run add --owner "$a" "$CLI_TMP/two.txt"
expect_status 0
run quota set --owner "$a"
expect_status 2
run quota set --owner "$a" --documents -3
expect_status 2
run quota frob --owner "$a"
expect_status 2
# The operator's view: every owner, sorted, with the owners near a quota flagged.
b=${CASE_OWNER_PREFIX}-b
run quota set --owner "$b" --documents 1
run add --owner "$b" "$CLI_TMP/one.txt"
expect_status 0
run stats --all --sort documents --json
expect_status 0
run stats --all --sort documents --limit 100000
expect_status 0
expect_out "near the limit of documents"
run stats --all --sort nonsense
expect_status 2
run stats --all --owner "$b"
expect_status 2
# --near-quota PCT lists only the owners at PCT % of a limit or more ($b is at 100% of its
# documents; $a has no limit left).
run stats --all --near-quota 80 --json
expect_status 0
[ "$(json count)" = "1" ] || fail "near-quota should list one owner"
[ "$(json owners.0.owner_id)" = "$b" ] || fail "near-quota lists the wrong owner"
[ "$(json owners.0.near_limit)" = "documents" ] || fail "near_limit"
run stats --owner "$b" --near-quota 80
expect_status 2
# Rates per owner, in operations a minute: one add a minute, the second is refused; another
# owner is not limited; "default" lifts it again.
run quota set --owner "$b" --documents none --adds-per-minute 1 --searches-per-minute none
expect_status 0
expect_out "adds                  rate           1/min  1/min"
run quota get --owner "$b" --json
[ "$(json adds_per_minute.limit)" = "1" ] || fail "adds_per_minute limit $(json adds_per_minute.limit)"
[ "$(json searches_per_minute.setting)" = "none" ] || fail "searches setting"
# (Buckets are per process: one ingest of two files makes two adds in one.)
mkdir -p "$CLI_TMP/pair"
printf 'Three documents.\n' >"$CLI_TMP/pair/three.txt"
printf 'Four documents.\n' >"$CLI_TMP/pair/four.txt"
printf 'Three documents.\n' >"$CLI_TMP/three.txt"
run ingest --owner "$b" "$CLI_TMP/pair"
expect_err "too many adds for this tenant"
run ingest --owner "$a" "$CLI_TMP/pair"
expect_status 0
run quota set --owner "$b" --adds-per-minute default
expect_status 0
run add --owner "$b" "$CLI_TMP/three.txt"
expect_status 0
run quota set --owner "$b" --adds-per-minute -1
expect_status 2
# Usage per day: the adds and searches of this owner, not another's.
run search --owner "$b" documents
run stats --owner "$b" --json
expect_status 0
[ "$(json usage.searches_today)" = "1" ] || fail "searches_today $(json usage.searches_today)"
[ "$(json usage.adds_today)" = "3" ] || fail "adds_today $(json usage.adds_today)"
run stats --owner "$b"
expect_out "searches today 1"

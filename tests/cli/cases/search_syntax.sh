# search --syntax plain reads the query as text only (quotes and a leading "-" are no
# operators); the default web syntax keeps phrases and exclusions. Another owner's documents
# are never found, in either syntax.
requires_db
owner=${CASE_OWNER_PREFIX}a
other=${CASE_OWNER_PREFIX}b
printf 'The vacation policy gives employees 25 days a year.\n' >"$CLI_TMP/policy.txt"
printf 'Draft: vacation rules for contractors.\n' >"$CLI_TMP/draft.txt"
printf 'Draft vacation policy of another company, 30 days.\n' >"$CLI_TMP/theirs.txt"
run add --owner "$owner" "$CLI_TMP/policy.txt"
run add --owner "$owner" "$CLI_TMP/draft.txt"
run add --owner "$other" "$CLI_TMP/theirs.txt"
expect_status 0

run search --owner "$owner" --json -- vacation -draft
expect_status 0
[ "$(json syntax)" = "web" ] || fail "default syntax is \"$(json syntax)\""
[ "$(json count)" = "1" ] || fail "web: -draft should exclude one document"
run search --owner "$owner" --syntax plain --json -- vacation -draft
expect_status 0
[ "$(json syntax)" = "plain" ] || fail "syntax is \"$(json syntax)\""
[ "$(json count)" = "2" ] || fail "plain: -draft is a word, both documents match"
run search --owner "$owner" --json '"days vacation"'
[ "$(json count)" = "0" ] || fail "web: the phrase \"days vacation\" is in no document"
run search --owner "$owner" --syntax plain --json '"days vacation"'
[ "$(json count)" = "2" ] || fail "plain: quotes are text"
json 'results.*.content' | grep -q '25 days' || fail "plain: the policy is missing"
json 'results.*.content' | grep -q 'another company' && fail "another owner's document found"
run search --owner "$owner" --syntax lucene vacation
expect_status 2
expect_err 'invalid query syntax "lucene" (web or plain)'

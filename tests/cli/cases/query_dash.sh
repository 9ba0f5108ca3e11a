# A query word starting with "-" (an exclusion) is part of the query when it cannot be an
# option: its first letter is none of the command's short options. A lone unknown letter is
# still an error, with a hint to put "--" before the query.
requires_db
owner=${CASE_OWNER_PREFIX}
ingest_samples "$owner" acme
run search --owner "$owner" vacation -sick --json
expect_status 0
expect_json
[ "$(json query)" = "vacation -sick" ] || fail "query is \"$(json query)\""
run search --owner "$owner" -sick vacation --json
expect_status 0
[ "$(json query)" = "-sick vacation" ] || fail "query is \"$(json query)\""
run search --owner "$owner" --json -- -n vacation
expect_status 0
[ "$(json query)" = "-n vacation" ] || fail "query after -- is \"$(json query)\""
run search --owner "$owner" -Z vacation
expect_status 2
expect_err 'unrecognized option "-Z"'
expect_err 'hint: Put "--" before arguments that start with "-"'
# Elsewhere an unknown "-word" stays an error.
run list --owner "$owner" -sick
expect_status 2
expect_err 'unrecognized option "-s"'

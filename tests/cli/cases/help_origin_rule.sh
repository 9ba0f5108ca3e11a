# "add --help" states the rule the library enforces on ids at origin (lm__validate_id_at_origin:
# letters, digits and _ - . @ | : /), and an id with "/" is accepted as the help says.
run_raw add --help
expect_status 0
expect_out "Letters, digits and _ - . @ | : / only"
expect_no_out "becomes \":\""
requires_db
owner=${CASE_OWNER_PREFIX}
printf 'Lynx notes.\n' >"$CLI_TMP/lynx.txt"
run add --owner "$owner" --origin docs/lynx.txt "$CLI_TMP/lynx.txt" --json
expect_status 0
[ "$(json id_at_origin)" = "docs/lynx.txt" ] || fail "id at origin is \"$(json id_at_origin)\""

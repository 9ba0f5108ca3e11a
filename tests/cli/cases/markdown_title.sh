# A markdown document's title (its name) is a first-line "# Title" or a first line underlined
# with "===" or "---" (setext headings); YAML-style front matter ("---" first) is not a title.
requires_db
owner=${CASE_OWNER_PREFIX}
d=$CLI_TMP/md
mkdir -p "$d"
printf 'Margay Notes\n============\n\nMargays climb down trees head first.\n' >"$d/a.md"
printf '\r\n  Serval Notes  \r\n---\r\n\r\nServals jump high.\r\n' >"$d/b.md"
printf -- '---\ntitle: x\n---\nCaracals have tufted ears.\n' >"$d/c.md"
printf '# Ocelot Notes #\n\nOcelots hunt at night.\n' >"$d/d.md"
run ingest --owner "$owner" --no-progress --json "$d"
expect_status 0
expect_json
[ "$(json results.0.name)" = "Margay Notes" ] || fail "=== heading is not the name"
[ "$(json results.1.name)" = "Serval Notes" ] || fail "--- heading is not the name"
[ "$(json results.2.name)" = "c.md" ] || fail "front matter taken as a title"
[ "$(json results.3.name)" = "Ocelot Notes" ] || fail "# heading is not the name"

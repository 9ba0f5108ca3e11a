# Text extraction: HTML through libxml2's parser (script, style and head dropped, entities
# decoded, <title> as the name), PDF through poppler (both pages), Latin-1 text converted to
# UTF-8, a markdown "# Title" as the name.
requires_db
owner=${CASE_OWNER_PREFIX}
d=$CLI_TMP/html
mkdir -p "$d"
cat >"$d/page.html" <<'X'
<html><head><title> Capybara   Facts </title><style>.quokkastyle{}</style>
<script>var wombatsecret = "wombatsecret";</script></head>
<body><h1>Capybaras</h1><p>Capybaras are the largest rodents &amp; love water.</p>
<script>document.write("wombatsecret")</script><noscript>dingonoscript</noscript></body></html>
X
run ingest --owner "$owner" --no-progress "$d"
expect_status 0
run search --owner "$owner" wombatsecret
expect_status 0
expect_out "no results"
run search --owner "$owner" dingonoscript
expect_out "no results"
run search --owner "$owner" quokkastyle
expect_out "no results"
run search --owner "$owner" rodents --json
expect_json
[ "$(json results.0.document_name)" = "Capybara Facts" ] || fail "title is not the name"
json results.0.content | grep -q "rodents & love water" || fail "entity not decoded"

cp "$CLI_ROOT/samples/acme/roadmap.pdf" "$d/roadmap.pdf"
printf 'Cr\xe8me br\xfbl\xe9e recipe for the caf\xe9.\n' >"$d/latin1.txt"
printf '# Ocelot Field Guide\n\nOcelots hunt at night.\n' >"$d/ocelot.md"
run ingest --owner "$owner" --no-progress "$d"
expect_status 0
expect_out "ingested 4 files"
run search --owner "$owner" "billing engine" --json
expect_json
[ "$(json results.0.id_at_origin)" = "roadmap.pdf" ] || fail "PDF page 1 text not found"
run search --owner "$owner" "sync protocol" --json
[ "$(json results.0.id_at_origin)" = "roadmap.pdf" ] || fail "PDF page 2 text not found"
run search --owner "$owner" "crème brûlée" --json
expect_json
[ "$(json results.0.id_at_origin)" = "latin1.txt" ] || fail "Latin-1 text not found by UTF-8 words"
run search --owner "$owner" ocelots --json
[ "$(json results.0.document_name)" = "Ocelot Field Guide" ] || fail "markdown title is not the name"

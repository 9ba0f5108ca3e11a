# A storage quota refuses the add that would pass it: 413 with the kind, the limit and the usage
# in the error, and nothing written; another tenant is not limited.
k=$(new_key "$P-acme")
kb=$(new_key "$P-globex")
cli quota set --owner "$P-acme" --documents 2
[ "$RC" -eq 0 ] || fail "quota set: $ERR"
add_doc "$k" a "First document." >/dev/null
add_doc "$k" b "Second document." >/dev/null
post "$k" /v1/documents '{"id_at_origin":"c","content":"Third document."}'
expect_status 413
expect_error limit_exceeded
expect_json error.field documents
expect_json error.limit 2
expect_json error.usage 2
# Re-adding an existing document is fine.
post "$k" /v1/documents '{"id_at_origin":"b","content":"Second document, edited."}'
expect_status 200
get "$k" /v1/statistics
expect_json document_count 2
add_doc "$kb" a "Globex has no quota." >/dev/null
add_doc "$kb" b "Globex has no quota." >/dev/null
add_doc "$kb" c "Globex has no quota." >/dev/null
cli quota get --owner "$P-acme" --json
OUTB=$BODY
BODY=$OUT
expect_json documents.limit 2
expect_json documents.usage 2
BODY=$OUTB

# Two owners with the same sample file names: searches, lists and gets of one owner never show
# the other's documents; another owner's document id is "not found" (exit 3).
requires_db
a=${CASE_OWNER_PREFIX}-acme
b=${CASE_OWNER_PREFIX}-globex
ingest_samples "$a" acme
ingest_samples "$b" globex

run list --owner "$a" --json --limit 100
expect_json
a_ids=$(json documents.*.document_id | sort)
run list --owner "$b" --json --limit 100
expect_json
b_ids=$(json documents.*.document_id | sort)
[ -n "$a_ids" ] && [ -n "$b_ids" ] || fail "nothing ingested"
[ -z "$(comm -12 <(echo "$a_ids") <(echo "$b_ids"))" ] || fail "owners share document ids"

# The same id at origin exists for both, as different documents.
run search --owner "$a" "vacation days" --json
expect_json
json results.*.id_at_origin | grep -qx "handbook/vacation.md" || fail "acme's vacation page not found"
for id in $(json results.*.document_id); do
    echo "$a_ids" | grep -qx "$id" || fail "acme's search returned a document that is not acme's: $id"
done
json results.*.content | grep -q "Globex" && fail "acme's search shows Globex text"
acme_vacation=$(json results.0.document_id)

run search --owner "$b" "vacation days" --json
expect_json
for id in $(json results.*.document_id); do
    echo "$b_ids" | grep -qx "$id" || fail "globex's search returned a document that is not globex's: $id"
done
json results.*.content | grep -q "25 vacation days" && fail "globex's search shows acme's text"

# Words only the other owner has find nothing.
run search --owner "$b" "sign-on billing roadmap"
expect_status 0
expect_out "no results"

run get --owner "$b" "$acme_vacation"
expect_status 3
[ -z "$OUT" ] || fail "stdout is not empty"
case $ERR in *"not found"* | *"does not exist"*) ;; *) fail "stderr does not say not found" ;; esac

run delete --owner "$b" "$acme_vacation"
expect_status 3
run get --owner "$a" "$acme_vacation"
expect_status 0
expect_out "handbook/vacation.md"

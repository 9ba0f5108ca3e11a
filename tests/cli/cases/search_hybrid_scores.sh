# Hybrid results print something a person can compare: the fused score with enough digits that
# hits of different ranks differ, and each leg's rank and score ("rank -" where a leg missed).
requires_db
owner=${CASE_OWNER_PREFIX}
ingest_samples "$owner" acme
run search --owner "$owner" --type hybrid vacation policy
expect_status 0
scores=$(printf '%s\n' "$OUT" | sed -n 's/^[0-9]*\. \[\([^]]*\)\].*/\1/p')
[ "$(printf '%s\n' "$scores" | wc -l)" -ge 4 ] || fail "expected at least 4 hybrid hits"
[ "$(printf '%s\n' "$scores" | sort -u | wc -l)" -eq "$(printf '%s\n' "$scores" | wc -l)" ] ||
    fail "hybrid hits print the same score: $(echo $scores)"
expect_out "   text rank 1 ("
expect_out "text rank -, vector rank "

# The CLI against the server (--url/--key, or LLMEMORY_URL/LLMEMORY_API_KEY) prints what it
# prints locally; the owner comes from the key.
owner=$P-acme
k=$(new_key "$owner")
printf 'Employees get 25 vacation days.\n\nTravel is booked early.\n' >"$HTTP_TMP/policy.txt"
printf '# Guide\n\nOnboarding steps for vacation planning.\n' >"$HTTP_TMP/guide.md"
r() { "$HTTP_BIN" --url "$HTTP_URL" --key "$k" "$@" >"$HTTP_TMP/out" 2>"$HTTP_TMP/err" </dev/null; RC=$?; OUT=$(cat "$HTTP_TMP/out"); ERR=$(cat "$HTTP_TMP/err"); sanitizer_check $RC; }
l() { cli "$@" ; }

r add "$HTTP_TMP/policy.txt" -m dept=hr --date 2024-05-01
[ "$RC" = 0 ] || fail "remote add: $ERR"
case $OUT in "added "*' "policy.txt" (text, '*) ;; *) fail "remote add printed: $OUT" ;; esac
id=$(echo "$OUT" | cut -d' ' -f2)
r add "$HTTP_TMP/guide.md" --json
[ "$RC" = 0 ] || fail "remote add --json: $ERR"
printf '%s' "$OUT" | grep -q '"type": "markdown"' || fail "add --json: $OUT"
gid=$(printf '%s' "$OUT" | sed -n 's/.*"document_id": "\(.*\)".*/\1/p')
r add "$HTTP_TMP/policy.txt" -m dept=hr --date 2024-05-01
case $OUT in "re-indexed $id "*) ;; *) fail "remote re-add printed: $OUT" ;; esac

for args in "list" "list --json" "list --asc --order name -n 1 --offset 1" "list -t markdown" \
    "get $id" "get $id --json" "get $id --chunks" "get $gid --chunks --json" \
    "search vacation" "search vacation --json --no-history" "search vacation -m dept=hr" \
    "search vacation --origin guide.md -n 1" "search vacation --with-documents" \
    "search vacation --type hybrid --alpha 0.5" "search vacation --context 1 --json" \
    "search vacation -policy --syntax plain --json" "search vacation -policy --json" \
    "stats" "stats --json"; do
    r $args
    [ "$RC" = 0 ] || fail "remote $args: $RC $ERR"
    remote=$OUT
    l $args --owner "$owner"
    [ "$RC" = 0 ] || fail "local $args: $RC $ERR"
    # Search timings differ between runs.
    if [ "$remote" != "$OUT" ] && [ "$(printf '%s' "$remote" | grep -v elapsed_ms)" != "$(printf '%s' "$OUT" | grep -v elapsed_ms)" ]; then
        diff <(printf '%s\n' "$OUT") <(printf '%s\n' "$remote") | head -n 20 | sed 's/^/# /'
        fail "\"$args\" differs between local and remote"
    fi
done

# --owner may name the key's tenant, and nothing else.
r stats --owner "$owner"
[ "$RC" = 0 ] || fail "matching --owner refused"
r stats --owner "$P-other"
[ "$RC" = 1 ] || fail "foreign --owner: exit $RC"
case $ERR in *"owner_id does not match the credentials"*) ;; *) fail "foreign --owner: $ERR" ;; esac
# LLMEMORY_OWNER is not sent in remote mode.
LLMEMORY_OWNER=$P-other "$HTTP_BIN" --url "$HTTP_URL" --key "$k" stats >/dev/null 2>&1 ||
    fail "LLMEMORY_OWNER was used in remote mode"

# Environment variables instead of options.
LLMEMORY_URL=$HTTP_URL LLMEMORY_API_KEY=$k "$HTTP_BIN" search vacation -n 1 >"$HTTP_TMP/o" 2>&1 ||
    fail "environment: $(cat "$HTTP_TMP/o")"
grep -q '^1\. ' "$HTTP_TMP/o" || fail "environment search: $(cat "$HTTP_TMP/o")"

# Errors: not found (3), bad key (1), unreachable (4), invalid input (2).
r get 00000000-0000-4000-8000-000000000000
[ "$RC" = 3 ] || fail "missing get: exit $RC"
case $ERR in "llmemory: document \"00000000-0000-4000-8000-000000000000\" does not exist"*) ;; *) fail "missing get: $ERR" ;; esac
r delete "$gid" 00000000-0000-4000-8000-000000000000
[ "$RC" = 3 ] || fail "delete with a missing id: exit $RC"
case $OUT in "deleted $gid"*"1 document deleted") ;; *) fail "delete printed: $OUT" ;; esac
case $ERR in *'document "00000000-0000-4000-8000-000000000000" does not exist'*) ;; *) fail "delete: $ERR" ;; esac
r delete -m dept=hr --json
[ "$RC" = 0 ] || fail "delete by metadata: $ERR"
printf '%s' "$OUT" | grep -q "$id" || fail "delete by metadata: $OUT"
r search "x" --type fuzzy
[ "$RC" = 2 ] || fail "bad type: exit $RC"
"$HTTP_BIN" --url "$HTTP_URL" --key lmk_bad stats >/dev/null 2>"$HTTP_TMP/e"
rc=$?
sanitizer_check $rc
[ $rc = 1 ] || fail "bad key: exit status"
grep -q "invalid API key" "$HTTP_TMP/e" || fail "bad key: $(cat "$HTTP_TMP/e")"
grep -q "lmk_bad" "$HTTP_TMP/e" && fail "the key was printed"
"$HTTP_BIN" --url "$HTTP_URL" stats >/dev/null 2>"$HTTP_TMP/e"
rc=$?
sanitizer_check $rc
[ $rc = 1 ] || fail "no key: exit status"
grep -q "no credentials" "$HTTP_TMP/e" || fail "no key: $(cat "$HTTP_TMP/e")"
"$HTTP_BIN" --url http://127.0.0.1:1 --key "$k" stats >/dev/null 2>"$HTTP_TMP/e"
rc=$?
sanitizer_check $rc
[ $rc = 4 ] || fail "unreachable: exit status"
grep -q "could not reach the server" "$HTTP_TMP/e" || fail "unreachable: $(cat "$HTTP_TMP/e")"
"$HTTP_BIN" --url "$HTTP_URL" --key "$k" keys list >/dev/null 2>&1
rc=$?
sanitizer_check $rc
[ $rc = 2 ] || fail "keys with --url should be a usage error"
true

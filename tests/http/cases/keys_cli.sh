# `llmemory keys create|list|revoke`: the key is printed once on stdout; only its hash is stored.
cli keys create --owner "$P-acme" --scope read --name "ci bot" --expires 30d
[ "$RC" = 0 ] || fail "create: $ERR"
key=$OUT
case $key in lmk_????????????????_*) ;; *) fail "key format: $key" ;; esac
[ ${#key} = 85 ] || fail "key length ${#key}"
kid=$(printf '%s' "$key" | cut -c5-20)
case $ERR in *"created key $kid for owner \"$P-acme\" (scope read, expires 20"*) ;; *) fail "create message: $ERR" ;; esac
case $ERR in *"$key"* | *"$(printf '%s' "$key" | cut -c22-)"*) fail "the secret is on stderr" ;; esac

cli keys create --owner "$P-acme" --json --subtenants --origin user-1 --scope admin
[ "$RC" = 0 ] || fail "create --json: $ERR"
BODY=$OUT
expect_json owner_id "$P-acme"
expect_json scope admin
expect_json allow_subtenants true
expect_json origin user-1
expect_json expires_at null
k2=$(json key_id)

# Only a hash is stored: the secret appears nowhere in the table.
if command -v psql >/dev/null 2>&1; then
    secret=$(printf '%s' "$key" | cut -c22-)
    dump=$(psql "$HTTP_DB" -qAt -c "SELECT row_to_json(k) FROM $HTTP_SCHEMA.api_keys k WHERE key_id = '$kid'")
    [ -n "$dump" ] || fail "no row for the key"
    case $dump in *"$secret"*) fail "the secret is stored" ;; esac
    printf '%s' "$dump" | grep -q '"hash":"[0-9a-f]\{64\}"' || fail "no hash: $dump"
fi

cli keys list --owner "$P-acme"
[ "$RC" = 0 ] || fail "list: $ERR"
printf '%s\n' "$OUT" | grep -q "^$kid  active   read .* $P-acme  \"ci bot\"$" || fail "list: $OUT"
printf '%s\n' "$OUT" | grep -q "^$k2  active   admin .* $P-acme/...  origin user-1$" || fail "list: $OUT"
printf '%s\n' "$OUT" | tail -n 1 | grep -qx "2 keys" || fail "list count: $OUT"
case $OUT in *"$(printf '%s' "$key" | cut -c22-)"*) fail "list shows the secret" ;; esac
cli keys list --owner "$P-acme" --json
BODY=$OUT
expect_json count 2
expect_json keys.0.state active
cli keys list
[ "$RC" = 0 ] || fail "list all: $ERR"

cli keys revoke "$kid"
[ "$RC" = 0 ] || fail "revoke: $ERR"
[ "$OUT" = "revoked $kid" ] || fail "revoke: $OUT"
cli keys list --owner "$P-acme" --json
BODY=$OUT
expect_json keys.0.state revoked
cli keys revoke --owner "$P-other" "$k2"
[ "$RC" = 3 ] || fail "revoke with another owner: exit $RC"
cli keys revoke 0123456789abcdef
[ "$RC" = 3 ] || fail "revoke unknown: exit $RC"
cli keys revoke nothex
[ "$RC" = 2 ] || fail "revoke malformed: exit $RC"

# Usage errors exit 2.
cli keys create
[ "$RC" = 2 ] || fail "create without owner: $RC"
cli keys create --owner "$P-acme" --scope root
[ "$RC" = 2 ] || fail "bad scope: $RC"
cli keys create --owner "bad owner"
[ "$RC" = 2 ] || fail "bad owner: $RC"
cli keys create --owner "$P-acme" --expires 2001-01-01
[ "$RC" = 2 ] || fail "past expiry: $RC"
case $ERR in *"not in the future"*) ;; *) fail "past expiry: $ERR" ;; esac
cli keys create --owner "$P-acme" --expires soon
[ "$RC" = 2 ] || fail "bad expiry: $RC"
cli keys frobnicate
[ "$RC" = 2 ] || fail "bad subcommand: $RC"
cli keys
[ "$RC" = 2 ] || fail "no subcommand: $RC"
cli keys list --subtenants
[ "$RC" = 2 ] || fail "--subtenants without --owner: $RC"
true

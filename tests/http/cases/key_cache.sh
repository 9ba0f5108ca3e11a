# The verified-key cache (api/keycache.c): a key used once is verified from memory afterwards,
# yet a wrong secret, expiry, revocation and erasure by another process (NOTIFY), and the loss of
# the listening connection all take effect; with --key-cache 0 every request reads the key.
command -v psql >/dev/null 2>&1 || skip "psql is needed to change keys behind the server's back"
sql() { psql "$HTTP_DB" -qAt -v ON_ERROR_STOP=1 -c "$1" >/dev/null || fail "psql: $1"; }
# Changes made with the notification trigger off reach no cache: they show what is cached.
silently() {
    sql "BEGIN; ALTER TABLE $HTTP_SCHEMA.api_keys DISABLE TRIGGER api_keys_notify_update;
         $1; ALTER TABLE $HTTP_SCHEMA.api_keys ENABLE TRIGGER api_keys_notify_update; COMMIT"
}
start_server "$HTTP_TMP/on" --threads 4
ON=$SURL ONPID=$SPID
start_server "$HTTP_TMP/off" --threads 2 --key-cache 0
OFF=$SURL OFFPID=$SPID
# at URL KEY PATH: GET on one of the two servers
at() {
    local url=$1 key=$2 path=$3
    LAST_REQ="GET $path ($url)"
    STATUS=$(curl -sS -o "$HTTP_TMP/body" -w '%{http_code}' --max-time 30 \
        -H "Authorization: Bearer $key" "$url$path")
    BODY=$(cat "$HTTP_TMP/body")
}
# until_401 URL KEY TEXT: the key is refused with TEXT within 2 s (NOTIFY delivery)
until_401() {
    local i
    for i in $(seq 1 40); do
        at "$1" "$2" /v1/whoami
        [ "$STATUS" = 401 ] && { expect_body "$3"; return 0; }
        [ "$STATUS" = 200 ] || fail "expected 200 or 401"
        sleep 0.05
    done
    fail "still accepted 2 s later"
}
kid() { printf '%s' "$1" | cut -c5-20; }

# cached KEY: the caching server answers KEY from its cache (its listener connects after the
# first verification): a silent change of the scope (write -> read) is not seen. Leaves the
# key's scope "read" in the table and "write" in the cache.
cached() {
    local i
    for i in $(seq 1 100); do
        silently "UPDATE $HTTP_SCHEMA.api_keys SET scope = 'write' WHERE key_id = '$(kid "$1")'"
        at "$ON" "$1" /v1/whoami
        silently "UPDATE $HTTP_SCHEMA.api_keys SET scope = 'read' WHERE key_id = '$(kid "$1")'"
        at "$ON" "$1" /v1/whoami
        [ "$(json scope)" = write ] && return 0
        sleep 0.05
    done
    fail "the key is not answered from the cache"
}

# Cached: a change that sends no notification is not seen by the caching server; the other one
# reads the key on every request.
k=$(new_key "$P-acme")
at "$ON" "$k" /v1/whoami
expect_status 200
expect_json owner_id "$P-acme"
cached "$k"
at "$OFF" "$k" /v1/whoami
expect_status 200
expect_json scope read
silently "UPDATE $HTTP_SCHEMA.api_keys SET scope = 'write' WHERE key_id = '$(kid "$k")'"

# A wrong secret with a cached key id is refused like an unknown key, on both servers.
bad="lmk_$(kid "$k")_$(printf '%064d' 0)"
at "$ON" "$bad" /v1/whoami
expect_status 401
expect_body "invalid API key"
at "$OFF" "$bad" /v1/whoami
expect_status 401
at "$ON" "$k" /v1/whoami
expect_status 200

# Cross-tenant: cached keys of two tenants keep to their own tenant.
kg=$(new_key "$P-globex")
post "$k" /v1/documents '{"id_at_origin":"a","content":"Acme memo about caching keys."}'
expect_status 201
post "$kg" /v1/documents '{"id_at_origin":"g","content":"Globex memo about caching keys."}'
expect_status 201
gdoc=$(json document_id)
for url in "$ON" "$OFF"; do
    for _ in 1 2; do
        at "$url" "$k" "/v1/search?q=caching&no_history=true"
        expect_status 200
        [ "$(json results.*.id_at_origin)" = a ] || fail "acme sees: $(json results.*.id_at_origin)"
        at "$url" "$kg" "/v1/search?q=caching&no_history=true"
        [ "$(json results.*.id_at_origin)" = g ] || fail "globex sees: $(json results.*.id_at_origin)"
        at "$url" "$k" "/v1/search?q=caching&owner_id=$P-globex"
        expect_status 403
        at "$url" "$k" "/v1/documents/$gdoc"
        expect_status 404
    done
done

# Revocation by another process (the CLI): refused within 2 s on both servers.
k2=$(new_key "$P-acme")
at "$ON" "$k2" /v1/whoami
expect_status 200
cli keys revoke "$(kid "$k2")"
[ "$RC" = 0 ] || fail "keys revoke: $ERR"
until_401 "$ON" "$k2" "revoked"
at "$OFF" "$k2" /v1/whoami
expect_status 401
expect_body "revoked"

# Revocation through the caching server itself: refused on the next request.
k3=$(new_key "$P-acme" --scope admin)
at "$ON" "$k3" /v1/whoami
expect_status 200
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $k3" \
    "$ON/v1/keys/$(kid "$k3")")
case $code in 200 | 204) ;; *) fail "revoke through the API: $code" ;; esac
at "$ON" "$k3" /v1/whoami
expect_status 401
expect_body "revoked"

# Expiry is honoured from the cache (no notification is sent when a key merely expires).
k4=$(new_key "$P-acme" --expires 2s)
at "$ON" "$k4" /v1/whoami
expect_status 200
at "$ON" "$k4" /v1/whoami
expect_status 200
sleep 2.2
at "$ON" "$k4" /v1/whoami
expect_status 401
expect_body "expired"

# Erasure of the tenant by another process drops its cached keys.
ke=$(new_key "$P-initech")
at "$ON" "$ke" /v1/whoami
expect_status 200
cli erase --owner "$P-initech" --yes
[ "$RC" = 0 ] || fail "erase: $ERR"
until_401 "$ON" "$ke" "invalid API key"

# The listening connection lost: the cache is emptied and bypassed (a change that sends no
# notification is then seen), and used again once the connection is back.
k5=$(new_key "$P-acme")
at "$ON" "$k5" /v1/whoami
expect_status 200
silently "UPDATE $HTTP_SCHEMA.api_keys SET revoked_at = now() WHERE key_id = '$(kid "$k5")'"
at "$ON" "$k5" /v1/whoami
expect_status 200
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'llmemory-keys'
       AND pid <> pg_backend_pid()"
until_401 "$ON" "$k5" "revoked"
# Back: the cache answers again.
k6=$(new_key "$P-acme")
cached "$k6"
cli keys revoke "$(kid "$k6")"
until_401 "$ON" "$k6" "revoked"

stop_server "$ONPID"
stop_server "$OFFPID"

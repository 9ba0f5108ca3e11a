# JWT bearer tokens: HS256 (shared secret) and RS256 (public key); the tenant comes from the
# owner_id claim. Strict alg checks (no "none", no HS256 made with the public key), exp and nbf
# (with leeway), signature and claims.
now=$(date +%s)
exp=$((now + 3600))
hs() { perl "$HTTP_JWT" hs256 "$HTTP_JWT_SECRET" "$@"; }
rs() { perl "$HTTP_JWT" rs256 "$HTTP_RSA_KEY" "$@"; }

t=$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp,\"scope\":\"write\"}")
get "$t" /v1/whoami
expect_status 200
expect_json owner_id "$P-acme"
expect_json auth jwt
expect_json scope write
expect_json key_id null
post "$t" /v1/documents '{"id_at_origin":"j1","content":"Token tenant text about vacations."}'
expect_status 201
expect_json owner_id "$P-acme"
d=$(json document_id)

# The data is the claim's tenant's: an API key of that tenant sees it, another does not.
k=$(new_key "$P-acme" --scope read)
get "$k" "/v1/documents/$d"
expect_status 200
kb=$(new_key "$P-other")
get "$kb" "/v1/documents/$d"
expect_status 404

r=$(rs "{\"owner_id\":\"$P-acme\",\"exp\":$exp,\"scope\":\"llmemory:read other\"}")
get "$r" "/v1/search?q=vacations"
expect_status 200
expect_json count 1
expect_json owner_id "$P-acme"
get "$r" /v1/whoami
expect_json scope read
# Scope defaults to read; read tokens cannot write.
t=$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}")
get "$t" /v1/whoami
expect_json scope read
post "$t" /v1/documents '{"id_at_origin":"j2","content":"x"}'
expect_status 403
# Scope as an array; the forged owner rule applies to tokens too.
t=$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp,\"scope\":[\"read\",\"write\"]}")
get "$t" "/v1/statistics?owner_id=$P-other"
expect_status 403
get "$t" /v1/whoami
expect_json scope write
# Sub-tenants only when the token says so.
t=$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp,\"allow_subtenants\":true}")
get "$t" "/v1/statistics?owner_id=$P-acme/t"
expect_status 200
t=$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}")
get "$t" "/v1/statistics?owner_id=$P-acme/t"
expect_status 403

refused() { # description, token
    get "$2" /v1/whoami
    [ "$STATUS" = 401 ] || fail "$1: got $STATUS"
    expect_error unauthenticated
}
refused "expired" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$((now - 600))}")"
refused "no exp" "$(hs "{\"owner_id\":\"$P-acme\"}")"
refused "exp not a number" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":\"soon\"}")"
refused "not yet valid" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp,\"nbf\":$((now + 600))}")"
refused "no tenant" "$(hs "{\"sub\":\"$P-acme\",\"exp\":$exp}")"
refused "bad tenant" "$(hs "{\"owner_id\":\"a b\",\"exp\":$exp}")"
refused "tenant not a string" "$(hs "{\"owner_id\":42,\"exp\":$exp}")"
refused "alg none" "$(perl "$HTTP_JWT" none - "{\"owner_id\":\"$P-acme\",\"exp\":$exp}")"
refused "alg none signed" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}" '{"alg":"none"}')"
refused "alg HS512" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}" '{"alg":"HS512"}')"
refused "RS256 header on an HS256 signature" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}" '{"alg":"RS256"}')"
printf '%s' "$(cat "$HTTP_RSA_PUB")" >"$HTTP_TMP/pub-as-secret"
refused "HS256 with the public key as secret" \
    "$(perl "$HTTP_JWT" hs256 "$HTTP_TMP/pub-as-secret" "{\"owner_id\":\"$P-acme\",\"exp\":$exp}")"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$HTTP_TMP/other-secret"
refused "wrong secret" \
    "$(perl "$HTTP_JWT" hs256 "$HTTP_TMP/other-secret" "{\"owner_id\":\"$P-acme\",\"exp\":$exp}")"
refused "crit header" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}" '{"alg":"HS256","crit":["x"]}')"
# Tampered payload: a valid token's claims swapped for another tenant's.
good=$(rs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}")
forged=$(rs "{\"owner_id\":\"$P-other\",\"exp\":$exp}")
refused "tampered claims" "$(echo "$good" | cut -d. -f1).$(echo "$forged" | cut -d. -f2).$(echo "$good" | cut -d. -f3)"
refused "two parts" "$(echo "$good" | cut -d. -f1-2)"
refused "four parts" "$good.x"
refused "bad base64" "$(echo "$good" | cut -d. -f1).@@@.$(echo "$good" | cut -d. -f3)"
refused "header not JSON" "$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}" 'not json')"

# Within the leeway (60 s), a just-expired token still works.
t=$(hs "{\"owner_id\":\"$P-acme\",\"exp\":$((now - 5))}")
get "$t" /v1/whoami
expect_status 200

# A server without JWT settings refuses tokens (keys still work).
start_server "$HTTP_TMP/nojwt"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(hs "{\"owner_id\":\"$P-acme\",\"exp\":$exp}")" "$SURL/v1/whoami")
[ "$STATUS" = 401 ] || fail "JWT accepted without configuration: $STATUS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $k" "$SURL/v1/whoami")
[ "$STATUS" = 200 ] || fail "key refused: $STATUS"
stop_server "$SPID"

# A custom tenant claim, issuer and audience.
printf 'short' >"$HTTP_TMP/short"
"$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" serve --port 0 \
    --jwt-secret-file "$HTTP_TMP/short" >"$HTTP_TMP/short.log" 2>&1
rc=$?
sanitizer_check $rc
[ $rc = 2 ] || fail "a short secret was accepted"
grep -q "too short" "$HTTP_TMP/short.log" || fail "no message for a short secret"
start_server "$HTTP_TMP/custom" --jwt-secret-file "$HTTP_JWT_SECRET" --jwt-tenant-claim tenant \
    --jwt-issuer https://issuer.example --jwt-audience llmemory --jwt-default-scope write
call() { STATUS=$(curl -s -o "$HTTP_TMP/b" -w '%{http_code}' -H "Authorization: Bearer $1" "$SURL/v1/whoami"); BODY=$(cat "$HTTP_TMP/b"); }
call "$(hs "{\"tenant\":\"$P-acme\",\"iss\":\"https://issuer.example\",\"aud\":[\"x\",\"llmemory\"],\"exp\":$exp}")"
[ "$STATUS" = 200 ] || fail "custom claims refused: $BODY"
expect_json owner_id "$P-acme"
expect_json scope write
call "$(hs "{\"tenant\":\"$P-acme\",\"iss\":\"https://evil.example\",\"aud\":\"llmemory\",\"exp\":$exp}")"
[ "$STATUS" = 401 ] || fail "wrong issuer accepted"
call "$(hs "{\"tenant\":\"$P-acme\",\"iss\":\"https://issuer.example\",\"aud\":\"other\",\"exp\":$exp}")"
[ "$STATUS" = 401 ] || fail "wrong audience accepted"
call "$(hs "{\"owner_id\":\"$P-acme\",\"iss\":\"https://issuer.example\",\"aud\":\"llmemory\",\"exp\":$exp}")"
[ "$STATUS" = 401 ] || fail "token without the tenant claim accepted"
stop_server "$SPID"

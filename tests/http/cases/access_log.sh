# One structured access line per request: request id, tenant, route, status, duration; never
# bodies, queries, keys or secrets.
k=$(new_key "$P-acme")
secret_word=confidentialpayload
post "$k" /v1/documents "{\"id_at_origin\":\"log1\",\"content\":\"The $secret_word text.\"}" \
    -H "X-Request-Id: logcase-add-1"
expect_status 201
d=$(json document_id)
get "$k" "/v1/search?q=$secret_word" -H "X-Request-Id: logcase-search-1"
expect_status 200
get "$k" "/v1/documents/$d" -H "X-Request-Id: logcase-get-1"
req GET /v1/whoami -H "Authorization: Bearer lmk_0000000000000000_$(printf '%064d' 1)" \
    -H "X-Request-Id: logcase-bad-1"
expect_status 401
log=$HTTP_ACCESS_LOG
# A line is written when its request completes, which may be just after the client has the reply.
for id in logcase-add-1 logcase-search-1 logcase-get-1 logcase-bad-1; do
    wait_until "the access line of $id" grep -q "req=$id " "$log"
done
line=$(grep 'req=logcase-add-1 ' "$log")
[ "$(printf '%s\n' "$line" | grep -c .)" = 1 ] || fail "expected one line for the add: $line"
for kv in "msg=access" "method=POST" "route=/v1/documents" "status=201" "tenant=$P-acme" \
    "auth=key" "key=$(printf '%s' "$k" | cut -c5-20)" " ms=" " in=" " out="; do
    case $line in *"$kv"*) ;; *) fail "add line lacks $kv: $line" ;; esac
done
case $line in ts=20*) ;; *) fail "no timestamp: $line" ;; esac
line=$(grep 'req=logcase-search-1 ' "$log")
for kv in "route=/v1/search" "status=200" "search=text" "search_ms="; do
    case $line in *"$kv"*) ;; *) fail "search line lacks $kv: $line" ;; esac
done
line=$(grep 'req=logcase-get-1 ' "$log")
case $line in *'route=/v1/documents/{document_id}'*) ;; *) fail "get line: $line" ;; esac
line=$(grep 'req=logcase-bad-1 ' "$log")
case $line in *"status=401"*"error=unauthenticated"*) ;; *) fail "401 line: $line" ;; esac
case $line in *tenant=*) fail "a refused request has a tenant: $line" ;; esac
# Nothing sensitive, anywhere in the logs.
for f in "$log" "$HTTP_SERVER_LOG"; do
    grep -q "$secret_word" "$f" && fail "document text or query in $f"
    grep -q "$(printf '%s' "$k" | cut -c22-)" "$f" && fail "key secret in $f"
    grep -q "$(printf '%064d' 1)" "$f" && fail "presented secret in $f"
    grep -q "$(cat "$HTTP_JWT_SECRET")" "$f" && fail "JWT secret in $f"
done
# Every line is key=value.
grep -v '^ts=[^ ]* level=[a-z]* ' "$log" | head -n 3 | grep -q . && fail "malformed access lines"
true

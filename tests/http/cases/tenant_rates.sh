# Library rates per tenant (LLMEMORY_RATE_SEARCHES on a server of its own): past the burst a
# search answers 429 with Retry-After and the field naming the rate; another tenant is not held.
# The server of this case only: started and stopped here.
k=$(new_key "$P-acme")
kb=$(new_key "$P-globex")
# A port of the kernel's choosing: a port derived from the pid may be taken by another server
# (two suites running at once), and the case then waited a minute for a server that could not bind.
LLMEMORY_RATE_SEARCHES=0.01 start_server "$HTTP_TMP/rates"
spid=$SPID
url=$SURL
code() { curl -s -o "$HTTP_TMP/rb" -D "$HTTP_TMP/rh" -w '%{http_code}' -H "Authorization: Bearer $1" "$url/v1/search?q=x&no_history=true"; }
# Burst: 10 seconds' worth at 0.01 a second is less than one token, so one search is allowed.
c1=$(code "$k")
c2=$(code "$k")
h2=$(tr -d '\r' <"$HTTP_TMP/rh")
b2=$(cat "$HTTP_TMP/rb")
c3=$(code "$kb")
kill "$spid"
wait "$spid" 2>/dev/null
[ "$c1" = 200 ] || fail "first search: $c1"
[ "$c2" = 429 ] || fail "second search: $c2"
printf '%s\n' "$h2" | grep -qi '^retry-after: [1-9][0-9]*$' || fail "no Retry-After: $h2"
case $b2 in *'"field":"rate_searches"'*) ;; *) fail "error does not name the rate: $b2" ;; esac
[ "$c3" = 200 ] || fail "another tenant was held: $c3"

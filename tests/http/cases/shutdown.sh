# Graceful shutdown: on SIGTERM the server stops accepting connections, the request in flight
# (a slow upload) completes normally, and the server exits 0. Also a unix socket listener.
k=$(new_key "$P-acme")
start_server "$HTTP_TMP/srv" --threads 2
perl -e 'print "{\"id_at_origin\":\"slow\",\"content\":\"", "slow upload words " x 12000, "\"}"' \
    >"$HTTP_TMP/slow.json"
# About 216 KB at 80 KB/s: under way for about 3 seconds.
curl -s -o "$HTTP_TMP/slow.out" -w '%{http_code}' --limit-rate 80K -H 'Expect:' \
    -H "Authorization: Bearer $k" -H 'Content-Type: application/json' \
    --data-binary @"$HTTP_TMP/slow.json" "$SURL/v1/documents" >"$HTTP_TMP/slow.code" &
cpid=$!
sleep 1
kill -TERM "$SPID"
sleep 0.3
kill -0 "$SPID" 2>/dev/null || fail "the server exited with a request in flight"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SURL/healthz")
[ "$c" = 000 ] || fail "a new connection was accepted while draining ($c)"
wait "$cpid"
[ "$(cat "$HTTP_TMP/slow.code")" = 201 ] || fail "in-flight request got $(cat "$HTTP_TMP/slow.code"): $(cat "$HTTP_TMP/slow.out")"
grep -q '"created":true' "$HTTP_TMP/slow.out" || fail "reply: $(cat "$HTTP_TMP/slow.out")"
for _ in $(seq 1 300); do
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$SPID" 2>/dev/null && fail "the server did not exit after draining"
wait "$SPID"
[ $? = 0 ] || fail "exit status"
grep -q 'msg="shutting down" signal=SIGTERM in_flight=1' "$HTTP_TMP/srv/log" || fail "no drain line"
grep -q 'msg=stopped' "$HTTP_TMP/srv/log" || fail "no stopped line"
# The document is really there.
get "$k" /v1/documents
expect_json total 1

# Unix socket.
sock=$HTTP_TMP/s.sock
"$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" serve --unix "$sock" \
    >"$HTTP_TMP/unix.log" 2>&1 &
upid=$!
echo "$upid" >>"$HTTP_TMP/pids"
for _ in $(seq 1 300); do
    [ -S "$sock" ] && grep -q listening "$HTTP_TMP/unix.log" && break
    sleep 0.1
done
c=$(curl -s -o "$HTTP_TMP/u" -w '%{http_code}' --unix-socket "$sock" -H "Authorization: Bearer $k" http://localhost/v1/statistics)
[ "$c" = 200 ] || fail "unix socket: $c"
grep -q '"document_count":1' "$HTTP_TMP/u" || fail "unix socket reply"
kill -INT "$upid"
wait "$upid"
[ $? = 0 ] || fail "unix socket server exit status"
[ -e "$sock" ] && fail "socket file left behind"
# A port in use is reported (exit 4), not a crash.
port=${HTTP_URL##*:}
"$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" serve --port "$port" \
    >"$HTTP_TMP/busy.log" 2>&1
rc=$?
sanitizer_check $rc
[ $rc = 4 ] || fail "busy port: exit status"
grep -q "could not start the HTTP server" "$HTTP_TMP/busy.log" || fail "busy port message"
true

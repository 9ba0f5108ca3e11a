# Graceful shutdown: on SIGTERM the server stops accepting connections, the request in flight
# (an upload the client holds) completes normally, and the server exits 0. Also a unix socket listener.
k=$(new_key "$P-acme")
start_server "$HTTP_TMP/srv" --threads 2
perl -e 'print "{\"id_at_origin\":\"slow\",\"content\":\"", "slow upload words " x 12000, "\"}"' \
    >"$HTTP_TMP/slow.json"
# The request in flight is held by the client, not by a transfer rate: it sends the headers with
# "Expect: 100-continue", waits for the server's "100 Continue" (the server is handling the
# request now), and sends the body only when the case creates the file "go".
perl -MIO::Socket::INET -e '
    my ($port, $key, $file, $dir) = @ARGV;
    open(my $fh, "<", $file) or die "$file: $!";
    my $body = do { local $/; <$fh> };
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port) or die "connect: $!";
    $s->autoflush(1);
    print $s "POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $key\r\n",
        "Content-Type: application/json\r\nContent-Length: ", length($body), "\r\n",
        "Expect: 100-continue\r\nConnection: close\r\n\r\n";
    my $line = <$s>;
    defined $line && $line =~ m{^HTTP/1\.1 100} or die "no 100 Continue: ", $line // "EOF";
    while (defined($line = <$s>) && $line ne "\r\n") {}
    open(my $m, ">", "$dir/in-flight") and close($m);
    select(undef, undef, undef, 0.05) until -e "$dir/go";
    print $s $body;
    print do { local $/; <$s> };
' "${SURL##*:}" "$k" "$HTTP_TMP/slow.json" "$HTTP_TMP" >"$HTTP_TMP/slow.out" 2>&1 &
cpid=$!
client_waits() { [ -e "$HTTP_TMP/in-flight" ] || { kill -0 "$cpid" 2>/dev/null || fail "client: $(cat "$HTTP_TMP/slow.out")"; false; }; }
wait_until "the request to be in flight" client_waits
kill -TERM "$SPID"
wait_until "the server to start draining" grep -q 'msg="shutting down"' "$HTTP_TMP/srv/log"
kill -0 "$SPID" 2>/dev/null || fail "the server exited with a request in flight"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SURL/healthz")
[ "$c" = 000 ] || fail "a new connection was accepted while draining ($c)"
touch "$HTTP_TMP/go"
wait "$cpid" || fail "client: $(cat "$HTTP_TMP/slow.out")"
head -n 1 "$HTTP_TMP/slow.out" | grep -q '^HTTP/1.1 201' || fail "in-flight request got: $(cat "$HTTP_TMP/slow.out")"
grep -q '"created":true' "$HTTP_TMP/slow.out" || fail "reply: $(cat "$HTTP_TMP/slow.out")"
server_gone() { ! kill -0 "$SPID" 2>/dev/null; }
wait_until "the server to exit after draining" server_gone
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
unix_up() { [ -S "$sock" ] && grep -q listening "$HTTP_TMP/unix.log"; }
wait_until "the unix socket server to listen" unix_up
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

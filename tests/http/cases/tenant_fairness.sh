# Per-tenant share of the workers: a tenant runs at most --tenant-requests requests at once, more
# of them wait without holding a worker (up to --tenant-queue), beyond that 429 with
# Retry-After; another tenant is served meanwhile. A's writers are held by holding A's write
# lock from outside.
command -v psql >/dev/null 2>&1 || skip "psql is needed to hold a tenant's lock"
ka=$(new_key "$P-a" --scope write)
kb=$(new_key "$P-b")
start_server "$HTTP_TMP/srv" --threads 2 --tenant-requests 1 --tenant-queue 1
tenant_lock_hold "$P-a"
addbg() { # N: add a document as A in the background; status in $HTTP_TMP/a$N
    curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $ka" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"id_at_origin\":\"f$1\",\"name\":\"f\",\"content\":\"fair words\"}" \
        "$SURL/v1/documents" >"$HTTP_TMP/a$1" &
    bg="$bg $!"
}
bg=
addbg 1
wait_until "A's first writer to wait on its lock" tenant_lock_writer_waits "$P-a" "$HTTP_TMP/a1"
addbg 2
sleep 0.5
addbg 3
# One of A's later requests waits (parked), the other is refused at once.
refused() { grep -q 429 "$HTTP_TMP/a2" 2>/dev/null || grep -q 429 "$HTTP_TMP/a3" 2>/dev/null; }
wait_until "a 429 for the tenant over its share" refused
# B is served while A holds one of the two workers and has another request waiting.
t0=$(date +%s%N)
code=$(curl -s -o "$HTTP_TMP/b" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $kb" \
    "$SURL/v1/search?q=fair")
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$code" = 200 ] || fail "tenant B got $code"
[ "$ms" -lt 3000 ] || fail "tenant B waited $ms ms"
tenant_lock_release "$P-a"
# shellcheck disable=SC2086
wait $bg
for n in 1 2 3; do echo "a$n: $(cat "$HTTP_TMP/a$n")"; done
[ "$(cat "$HTTP_TMP/a1")" = 201 ] || fail "A's first add got $(cat "$HTTP_TMP/a1")"
s23="$(cat "$HTTP_TMP/a2") $(cat "$HTTP_TMP/a3")"
case $s23 in "201 429" | "429 201") ;; *) fail "A's later adds got $s23" ;; esac
stop_server "$SPID"

# /readyz and /metrics answer from the server's last database check, on MHD's thread: with the
# only worker held by a writer waiting on its lock they still answer at once.
start_server "$HTTP_TMP/srv1" --threads 1
tenant_lock_hold "$P-a"
bg=
addbg 9
wait_until "the only worker to wait on A's lock" tenant_lock_writer_waits "$P-a" "$HTTP_TMP/a9"
for path in /readyz /metrics; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$SURL$path")
    [ "$code" = 200 ] || fail "$path answered $code (or not within 1 s) with every worker busy"
done
tenant_lock_release "$P-a"
# shellcheck disable=SC2086
wait $bg
[ "$(cat "$HTTP_TMP/a9")" = 201 ] || fail "the held add got $(cat "$HTTP_TMP/a9")"
stop_server "$SPID"

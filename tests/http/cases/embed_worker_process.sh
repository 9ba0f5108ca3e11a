# The background embedding worker is a process of its own (embedworker.c): started by the
# server in a session of its own at the background CPU priority (under the kernel's autogroup,
# its session's group too), woken by the server after an add, started again when it dies, and
# gone when the server stops or is killed. `--embed-worker thread` keeps it a thread of the
# server. Either way, vector search finds what was added, and only for its tenant.
[ "$(uname -s)" = Linux ] || skip "the worker process needs /proc/self/exe"
grep -q 'embed_worker=process' "$HTTP_SERVER_LOG" || fail "server did not log embed_worker=process"
k=$(new_key "$P-ew")
k2=$(new_key "$P-ew2")
worker_of() { # the server's worker process: PID
    local c
    for c in $(pgrep -P "$1"); do
        grep -q -- '--embed-worker-fd' /proc/"$c"/cmdline 2>/dev/null && { echo "$c"; return 0; }
    done
    return 1
}
field() { # field N of /proc/PID/stat (after the command name)
    sed 's/.*) //' /proc/"$1"/stat | awk -v n="$2" '{print $(n - 2)}'
}
finds() { # KEY QUERY ORIGIN: vector search finds ORIGIN within 20 s
    local i
    for i in $(seq 1 200); do
        get "$1" "/v1/search?q=$2&type=vector"
        expect_status 200
        [ "$(json count)" -ge 1 ] && [ "$(json results.0.id_at_origin)" = "$3" ] && return 0
        sleep 0.1
    done
    fail "vector search did not find $3 within 20 s"
}
main_url=$HTTP_URL

LLMEMORY_BACKGROUND_NICE=10 start_server "$HTTP_TMP/ew"
HTTP_URL=$SURL
wait_until "the worker process" worker_of "$SPID" >/dev/null
w=$(worker_of "$SPID")
# Its own session, at the background nice; the server's threads are not lowered.
[ "$(field "$w" 6)" = "$w" ] || fail "worker $w is not the leader of its session ($(field "$w" 6))"
base=$(field "$SPID" 19)
want=$((base + 10 > 19 ? 19 : base + 10))
wait_until "the worker's nice" sh -c "[ \"\$(sed 's/.*) //' /proc/$w/stat | awk '{print \$17}')\" = $want ]"
[ "$(field "$SPID" 19)" = "$base" ] || fail "the server's main thread was lowered"
if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    wait_until "the worker's autogroup nice" sh -c "grep -q ' nice $want\$' /proc/$w/autogroup"
    # The server's group keeps nice 0. A process whose session was never made since boot (the
    # init process's, as some CI runners start their jobs) is in the root group, which is no
    # autogroup: the kernel then shows an empty file, and there is nothing to lower.
    g=$(cat /proc/"$SPID"/autogroup)
    case "$g" in "" | *" nice 0") ;; *) fail "the server's autogroup was lowered: $g" ;; esac
fi
add_doc "$k" glacier "Crampons and an ice axe are needed to cross the glacier safely." >/dev/null
finds "$k" "crampons+ice+axe" glacier
get "$k2" "/v1/search?q=crampons+ice+axe&type=vector"
expect_status 200
expect_json count 0

# Killed, it is started again (after a pause) and embeds what was added meanwhile.
kill -KILL "$w"
add_doc "$k" orchard "Apple trees in the orchard are pruned in late winter." >/dev/null
wait_until "a new worker" sh -c "p=\$(pgrep -P $SPID) && [ -n \"\$p\" ] && [ \"\$p\" != $w ]"
finds "$k" "pruning+apple+trees" orchard
grep -q 'msg="embedding worker exited" pid='"$w"' exit="signal 9"' "$HTTP_TMP/ew/log" ||
    fail "the worker's death was not logged"
w2=$(worker_of "$SPID")
# A graceful stop ends it too.
stop_server "$SPID"
kill -0 "$w2" 2>/dev/null && fail "worker $w2 outlived the server"
grep -q 'msg="embedding worker stopped" pid='"$w2"' exit="status 0"' "$HTTP_TMP/ew/log" ||
    fail "the worker's stop was not logged"

# A killed server: the worker sees its pipe end and exits.
start_server "$HTTP_TMP/ew-kill"
wait_until "the worker process" worker_of "$SPID" >/dev/null
w=$(worker_of "$SPID")
kill -KILL "$SPID"
wait "$SPID" 2>/dev/null
wait_until "the orphaned worker to exit" sh -c "! kill -0 $w 2>/dev/null"

# A thread of the server instead: no child process, and it embeds all the same.
start_server "$HTTP_TMP/ew-thread" --embed-worker thread
HTTP_URL=$SURL
grep -q 'embed_worker=thread' "$HTTP_TMP/ew-thread/log" || fail "no embed_worker=thread"
worker_of "$SPID" >/dev/null && fail "a worker process in thread mode"
add_doc "$k" harbour "Fishing boats return to the harbour before the storm." >/dev/null
finds "$k" "boats+harbour+storm" harbour
stop_server "$SPID"
HTTP_URL=$main_url

# A bad mode is refused before anything starts.
cli serve --port 0 --embed-worker elsewhere
[ "$RC" = 2 ] || fail "bad --embed-worker: status $RC"
case $ERR in *'invalid value "elsewhere" for option "--embed-worker"'*) ;; *) fail "message: $ERR" ;; esac

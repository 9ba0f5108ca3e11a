# Costly work at a lower CPU priority (workers.c, db/pool.c): a search weighing more than one
# slot runs on a background worker (llmemory_http_background_requests_total), whose thread and
# PostgreSQL backend run at the raised nice ($LLMEMORY_BACKGROUND_NICE, default 10), and it
# answers exactly what the same search answers when cheap. With the setting 0 nothing is
# lowered. Another tenant's search is not affected either way. Where the kernel's autogroup is
# on, each backend is a CPU group of its own, and the background backends' group gets the nice.
ka=$(new_key "$P-a" --scope write)
kb=$(new_key "$P-b")
printf 'background-priority-operator-token\n' >"$HTTP_TMP/op"
background() { # the counter in /metrics (rendered at most every 250 ms)
    sleep 0.3
    curl -s --max-time 5 -H "Authorization: Bearer background-priority-operator-token" \
        "$SURL/metrics" | sed -n 's/^llmemory_http_background_requests_total //p'
}
nices() { # the nice of each of the server's threads, one a line
    sed 's/.*) //' /proc/"$SPID"/task/*/stat | awk '{print $17}'
}
results() { # KEY QUERY-STRING: the ranked ids and scores of a search
    get "$1" "/v1/search?q=lantern+harbour&$2"
    expect_status 200
    json 'results.*.id_at_origin' | tr '\n' ' '
    json 'results.*.score' | tr '\n' ' '
}
for setting in 10 0; do
    LLMEMORY_BACKGROUND_NICE=$setting start_server "$HTTP_TMP/srv$setting" --threads 4 \
        --search-slot-cost 100 --operator-token-file "$HTTP_TMP/op"
    main_url=$HTTP_URL
    HTTP_URL=$SURL # get/post below go to this server
    base=$(sed 's/.*) //' /proc/"$SPID"/stat | awk '{print $17}')
    want=$((base + setting > 19 ? 19 : base + setting))
    if [ "$setting" = 10 ]; then
        add_doc "$ka" lamp "the lantern by the harbour wall" >/dev/null
        add_doc "$ka" quay "a harbour quay without a lantern" >/dev/null
        add_doc "$ka" hill "a hill far from the sea" >/dev/null
    fi
    [ "$(background)" = 0 ] || fail "background requests before any: $(background)"
    cheap=$(results "$ka" "type=text&no_history=true")
    [ "$(background)" = 0 ] || fail "a cheap search ran on a background worker (setting $setting)"
    costly=$(results "$ka" "type=text&no_history=true&candidates=300")
    [ "$costly" = "$cheap" ] || fail "costly search answered [$costly], cheap [$cheap]"
    case $cheap in "lamp quay "*) ;; *) fail "unexpected results [$cheap]" ;; esac
    # Another tenant sees none of it.
    get "$kb" "/v1/search?q=lantern+harbour&candidates=300&no_history=true"
    expect_status 200
    expect_json count 0
    ag=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)
    if [ "$setting" = 10 ]; then
        [ "$(background)" = 2 ] || fail "costly searches on background workers: $(background), want 2; nices $(nices | tr "\n" " ")"
        nices | grep -qx "$want" || fail "no server thread at nice $want: $(nices | tr '\n' ' ')"
        nices | grep -qx "$base" || fail "no server thread at nice $base"
        # The background workers' backends run at the same nice (when we may renice them).
        if [ "$(id -u)" = 0 ] && command -v psql >/dev/null 2>&1; then
            n=0 g=0 other=
            for pid in $(psql "$HTTP_DB" -qAt -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'llmemory'"); do
                [ -r /proc/"$pid"/stat ] || continue
                if [ "$(sed 's/.*) //' /proc/"$pid"/stat | awk '{print $17}')" = "$want" ]; then
                    n=$((n + 1))
                    # Under autogroup its group (the backend leads its own session) as well.
                    [ "$(sed 's/.* nice //' /proc/"$pid"/autogroup 2>/dev/null)" = "$want" ] && g=$((g + 1))
                else
                    other="$other $(sed 's/.* nice //' /proc/"$pid"/autogroup 2>/dev/null)"
                fi
            done
            [ "$n" -ge 1 ] || fail "no llmemory backend at nice $want"
            if [ "$ag" = 1 ]; then
                [ "$g" = "$n" ] || fail "$g of $n background backends' autogroups at nice $want"
                case " $other " in *" $want "*) fail "a normal backend's autogroup at nice $want:$other" ;; esac
            fi
        fi
    else
        [ "$(background)" = 0 ] || fail "background requests with the setting 0: $(background)"
        nices | grep -vqx "$base" && fail "a server thread at another nice: $(nices | tr '\n' ' ')"
    fi
    HTTP_URL=$main_url
    stop_server "$SPID"
done

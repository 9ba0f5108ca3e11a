# tests/http/lib.sh: helpers sourced by every tests/http/cases/*.sh case (see run.sh).
#
#   req METHOD PATH [CURL ARG...]   one request to the test server; sets STATUS, BODY, HDRS and
#                                   records "METHOD PATH STATUS" for the OpenAPI check
#   get KEY PATH / del KEY PATH     GET / DELETE with "Authorization: Bearer KEY"
#   post KEY PATH JSON              POST a JSON body with the key
#   expect_status N...              the last request got one of these statuses
#   expect_body TEXT / expect_no_body TEXT   the body contains / does not contain TEXT
#   expect_header TEXT              the response headers contain TEXT (case-insensitive)
#   json PATH                       values at PATH in BODY, one per line ("a.b.*.c"; "*" = all)
#   expect_json PATH VALUE          json PATH is exactly VALUE
#   expect_error CODE               the body is {"error":{"code":CODE,...}} with a message
#   cli ARG...                      run llmemory against the test database (OUT, ERR, RC)
#   wait_until WHAT CMD...          run CMD until it succeeds (every 0.05 s, up to 60 s), else
#                                   fail "timed out waiting for WHAT": wait for events, not times
#   fail MESSAGE / skip MESSAGE
# Tenants are unique per case: use $P (the case's prefix) in owner ids.

STATUS=0 BODY="" HDRS="" OUT="" ERR="" RC=0
P=$(printf '%s' "$HTTP_CASE" | tr -c 'A-Za-z0-9\n' '-')

fail() {
    echo "# FAIL: $*"
    echo "# last request: ${LAST_REQ:-}"
    echo "# status: $STATUS"
    printf '%s\n' "$BODY" | head -c 2000 | sed 's/^/#   /'
    echo
    exit 1
}

skip() {
    echo "# $*"
    exit 77
}

req() {
    local method=$1 path=$2
    shift 2
    LAST_REQ="$method $path"
    curl -sS -o "$HTTP_TMP/body" -D "$HTTP_TMP/hdrs" -w '%{http_code}' -X "$method" \
        --max-time 120 "$@" "$HTTP_URL$path" >"$HTTP_TMP/code" 2>"$HTTP_TMP/curlerr"
    STATUS=$(cat "$HTTP_TMP/code")
    BODY=$(cat "$HTTP_TMP/body")
    HDRS=$(tr -d '\r' <"$HTTP_TMP/hdrs")
    echo "$method ${path%%\?*} $STATUS" >>"$HTTP_TRACE"
}

get() {
    local key=$1 path=$2
    shift 2
    req GET "$path" -H "Authorization: Bearer $key" "$@"
}

del() {
    local key=$1 path=$2
    shift 2
    req DELETE "$path" -H "Authorization: Bearer $key" "$@"
}

post() {
    local key=$1 path=$2 data=$3
    shift 3
    req POST "$path" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        --data-binary "$data" "$@"
}

expect_status() {
    local s
    for s in "$@"; do
        [ "$STATUS" = "$s" ] && return 0
    done
    fail "expected status $*, got $STATUS"
}

expect_body() {
    case $BODY in *"$1"*) ;; *) fail "body lacks \"$1\"" ;; esac
}

expect_no_body() {
    case $BODY in *"$1"*) fail "body contains \"$1\"" ;; esac
}

expect_header() {
    printf '%s\n' "$HDRS" | grep -qiF -- "$1" || fail "headers lack \"$1\""
}

# JSON through perl's core JSON::PP.
_json() {
    printf '%s' "$1" | perl -MJSON::PP -e '
        local $/; my $d = eval { JSON::PP->new->utf8->allow_nonref->decode(<STDIN>) };
        if (!defined $d && $@) { print STDERR $@; exit 3 }
        my @cur = ($d);
        for my $k (grep { length } split /\./, ($ARGV[0] // "")) {
            my @next;
            for my $v (@cur) {
                if (ref $v eq "ARRAY") { push @next, $k eq "*" ? @$v : ($v->[$k]) }
                elsif (ref $v eq "HASH") { push @next, $k eq "*" ? values %$v : ($v->{$k}) }
            }
            @cur = @next;
        }
        for my $v (@cur) {
            if (!defined $v) { print "null\n" }
            elsif (JSON::PP::is_bool($v)) { print $v ? "true\n" : "false\n" }
            elsif (ref $v) { print JSON::PP->new->canonical->encode($v), "\n" }
            else { print "$v\n" }
        }' "$2"
}

json() {
    _json "$BODY" "$1" || fail "body is not valid JSON"
}

expect_json() {
    local got
    got=$(json "$1")
    [ "$got" = "$2" ] || fail "$1 is \"$got\", expected \"$2\""
}

expect_error() {
    expect_json error.code "$1"
    [ -n "$(json error.message)" ] || fail "error has no message"
    printf '%s' "$BODY" | grep -q '"detail"' || fail "error has no detail member"
}

wait_until() {
    local what=$1 i
    shift
    for i in $(seq 1 1200); do
        "$@" && return 0
        sleep 0.05
    done
    fail "timed out waiting for $what"
}

# Sessions holding (granted) or waiting for (waiting) tenant OWNER's write lock: the advisory
# lock of LM__TENANT_LOCK_SQL (db/db.h), its 64-bit key split into classid and objid. Other
# advisory locks (index builds, migrations, maintenance of other servers) do not count.
tenant_lock_rows() { # OWNER: the pg_locks condition for its write lock
    echo "locktype = 'advisory' AND objsubid = 1
        AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('$1', 1280114689)"
}
tenant_lock_count() { # OWNER granted|waiting
    local g=true
    [ "$2" = waiting ] && g=false
    psql "$HTTP_DB" -qAt -c "SELECT count(*) FROM pg_locks
        WHERE $(tenant_lock_rows "$1") AND granted = $g"
}
tenant_lock_held() { [ "$(tenant_lock_count "$1" granted)" -ge 1 ]; }
tenant_lock_waited() { [ "$(tenant_lock_count "$1" waiting)" -ge 1 ]; }
# For wait_until: a writer of OWNER waits on its lock. The writer's request puts its status in
# FILE when it ends: if it ended without ever waiting, the case fails at once, with that status.
tenant_lock_writer_waits() { # OWNER FILE
    tenant_lock_waited "$1" && return 0
    [ -s "$2" ] && fail "a writer of $1 ended ($(cat "$2")) without waiting on its lock"
    return 1
}
# Hold tenant OWNER's write lock from outside (a session sleeping in a transaction, at most
# 120 s) until tenant_lock_release: the tenant's writers wait as long as the case needs, however
# slow the machine. Returns once the lock is held.
tenant_lock_hold() { # OWNER
    psql "$HTTP_DB" -qAt -c "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('$1', 1280114689));
        SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
    TENANT_LOCK_PID=$!
    echo "$TENANT_LOCK_PID" >>"$HTTP_TMP/pids"
    wait_until "$1's write lock to be held" tenant_lock_held "$1"
}
# Cancel the holder's sleep: its transaction ends and the lock goes to the writers waiting.
tenant_lock_release() { # OWNER
    psql "$HTTP_DB" -qAt -c "SELECT pg_cancel_backend(pid) FROM pg_locks
        WHERE $(tenant_lock_rows "$1") AND granted" >/dev/null
    wait "$TENANT_LOCK_PID" 2>/dev/null
    return 0
}

cli() {
    "$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" "$@" \
        >"$HTTP_TMP/out" 2>"$HTTP_TMP/err" </dev/null
    RC=$?
    OUT=$(cat "$HTTP_TMP/out")
    ERR=$(cat "$HTTP_TMP/err")
    sanitizer_check $RC
}

# A sanitizer error (exit status 86, see tests/run.sh) fails the case at once, whatever status
# the case expects. Every direct call of $HTTP_BIN whose status a case checks goes through it.
sanitizer_check() {
    [ "$1" -ne 86 ] || fail "sanitizer error (exit status 86; the report is below the case)"
}

# A new key: new_key OWNER [keys create options...]; prints the key.
new_key() {
    local owner=$1
    shift
    "$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" keys create --owner "$owner" \
        "$@" 2>/dev/null </dev/null
}

# Add a document as KEY; prints its id. add_doc KEY ORIGIN CONTENT [EXTRA JSON MEMBERS]
add_doc() {
    local key=$1 origin=$2 content=$3 extra=${4:-}
    post "$key" /v1/documents "{\"id_at_origin\":\"$origin\",\"name\":\"$origin\",\"content\":\"$content\"${extra:+,$extra}}"
    case $STATUS in 200 | 201) ;; *) fail "could not add $origin" ;; esac
    json document_id
}

# Start another server (for cases that need their own settings): start_server DIR ARGS...
# Sets SPID and SURL.
start_server() {
    local dir=$1
    shift
    mkdir -p "$dir"
    rm -f "$dir/port"
    "$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" serve --port 0 \
        --port-file "$dir/port" "$@" >"$dir/log" 2>&1 &
    SPID=$!
    # run.sh kills whatever a failing case leaves running.
    echo "$SPID" >>"$HTTP_TMP/pids"
    for _ in $(seq 1 300); do
        [ -s "$dir/port" ] && break
        kill -0 "$SPID" 2>/dev/null || { cat "$dir/log"; fail "server did not start"; }
        sleep 0.1
    done
    [ -s "$dir/port" ] || fail "server did not write its port"
    SURL=http://127.0.0.1:$(cat "$dir/port")
}

# Stop a server started by start_server with SIGTERM; fails unless it exits 0 within 60 s.
stop_server() {
    local pid=$1 rc
    kill -TERM "$pid"
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "server did not stop"; }
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] || fail "server exited with status $rc"
}

# tests/cli/lib.sh: helpers sourced by every tests/cli/cases/*.sh case (see run.sh).
#
#   run ARG...            run llmemory --schema <test schema> ARG... with stdin from /dev/null;
#                         sets OUT (stdout), ERR (stderr) and STATUS
#   run_in FILE ARG...    the same, with stdin from FILE
#   run_raw ARG...        without the --schema option
#   expect_status N       the last run exited with N
#   expect_out / expect_err TEXT          stdout/stderr contains TEXT
#   expect_no_out / expect_no_err TEXT    ... does not contain TEXT
#   expect_out_is / expect_err_is <<EOF   stdout/stderr is exactly the here-document
#   expect_json           stdout is one valid JSON document
#   json PATH             print the values at PATH in stdout's JSON, one per line
#                         (PATH: keys and array indexes joined by ".", "*" = every element)
#   requires_db           skip the case unless LLMEMORY_DATABASE_URL is set
#   ingest_samples OWNER  ingest samples/acme (or globex) for OWNER
#   fail MESSAGE          fail the case
#   sanitizer_check N     fail the case when N is the sanitizer's exit status (run does this)
# Owners should be unique per case (use $CASE_OWNER_PREFIX) so cases do not depend on order.

OUT="" ERR="" STATUS=0
CASE_OWNER_PREFIX=$(printf '%s' "$CLI_CASE" | tr -c 'A-Za-z0-9_\n' '-')

fail() {
    echo "# FAIL: $*"
    echo "# last command: ${LAST_CMD:-}"
    echo "# status: $STATUS"
    echo "# stdout:"
    printf '%s\n' "$OUT" | head -n 40 | sed 's/^/#   /'
    echo "# stderr:"
    printf '%s\n' "$ERR" | head -n 40 | sed 's/^/#   /'
    exit 1
}

skip() {
    echo "# $*"
    exit 77
}

requires_db() {
    [ -n "${LLMEMORY_DATABASE_URL:-}" ] || skip "no database (LLMEMORY_DATABASE_URL is not set)"
}

_run() {
    local input=$1
    shift
    LAST_CMD="llmemory $*"
    "$CLI_BIN" "$@" <"$input" >"$CLI_TMP/out" 2>"$CLI_TMP/err"
    STATUS=$?
    OUT=$(cat "$CLI_TMP/out")
    ERR=$(cat "$CLI_TMP/err")
    sanitizer_check $STATUS
}

# A sanitizer error (exit status 86, see tests/run.sh) fails the case at once, whatever status
# the case expects.
sanitizer_check() {
    [ "$1" -ne 86 ] || fail "sanitizer error (exit status 86; the report is below the case)"
}

run() { _run /dev/null --schema "$CLI_SCHEMA" "$@"; }
run_in() {
    local f=$1
    shift
    _run "$f" --schema "$CLI_SCHEMA" "$@"
}
run_raw() { _run /dev/null "$@"; }

expect_status() {
    [ "$STATUS" -eq "$1" ] || fail "expected exit status $1, got $STATUS"
}

expect_out() {
    case $OUT in *"$1"*) ;; *) fail "stdout lacks \"$1\"" ;; esac
}
expect_err() {
    case $ERR in *"$1"*) ;; *) fail "stderr lacks \"$1\"" ;; esac
}
expect_no_out() {
    case $OUT in *"$1"*) fail "stdout contains \"$1\"" ;; esac
}
expect_no_err() {
    case $ERR in *"$1"*) fail "stderr contains \"$1\"" ;; esac
}
expect_out_is() {
    local want
    want=$(cat)
    [ "$OUT" = "$want" ] || fail "stdout differs from the expected text:
$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$OUT"))"
}
expect_err_is() {
    local want
    want=$(cat)
    [ "$ERR" = "$want" ] || fail "stderr differs from the expected text:
$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$ERR"))"
}

# JSON through perl's core JSON::PP (perl comes with build-essential), else python3.
_json() {
    if perl -MJSON::PP -e 1 2>/dev/null; then
        printf '%s' "$OUT" | perl -MJSON::PP -e '
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
            exit 0 if $ARGV[1];
            for my $v (@cur) {
                if (!defined $v) { print "null\n" }
                elsif (JSON::PP::is_bool($v)) { print $v ? "true\n" : "false\n" }
                elsif (ref $v) { print JSON::PP->new->canonical->encode($v), "\n" }
                else { print "$v\n" }
            }' "$@"
    elif command -v python3 >/dev/null 2>&1; then
        printf '%s' "$OUT" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception as e:
    print(e, file=sys.stderr); sys.exit(3)
cur = [d]
for k in [k for k in (sys.argv[1] if len(sys.argv) > 1 else "").split(".") if k]:
    nxt = []
    for v in cur:
        if isinstance(v, list): nxt += v if k == "*" else [v[int(k)]]
        elif isinstance(v, dict): nxt += list(v.values()) if k == "*" else [v.get(k)]
    cur = nxt
if len(sys.argv) > 2: sys.exit(0)
for v in cur:
    if v is None: print("null")
    elif v is True or v is False: print("true" if v else "false")
    elif isinstance(v, (dict, list)): print(json.dumps(v, sort_keys=True))
    else: print(v)' "$@"
    else
        skip "neither perl JSON::PP nor python3 is available"
    fi
}

expect_json() {
    _json "" 1 >/dev/null 2>"$CLI_TMP/json-err" || fail "stdout is not valid JSON: $(cat "$CLI_TMP/json-err")"
}

json() {
    _json "$1" || fail "stdout is not valid JSON"
}

ingest_samples() {
    local owner=$1 corpus=$2
    run ingest --owner "$owner" --no-progress "$CLI_ROOT/samples/$corpus"
    expect_status 0
}

# scripts/deps.sh as a user without root rights and without sudo: it lists the missing packages
# and the command that installs them, and exits 1, before trying anything. Benchmark-only
# packages are asked for only with --bench. Runs with a PATH of its own (a fake id and
# dpkg-query, no sudo), so it changes nothing on the machine.
set -u
deps=$SCRIPTS_ROOT/scripts/deps.sh
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for t in bash sh dirname basename grep sed awk cat cut tr sha256sum cmp; do
    p=$(command -v "$t") || { echo "skip: $t not found"; exit 77; }
    ln -s "$p" "$bin/$t"
done
printf '#!/bin/sh\necho 1000\n' >"$bin/id"
# dpkg-query -W -f=FORMAT PACKAGE: installed unless named in $FAKE_MISSING.
cat >"$bin/dpkg-query" <<'FAKE'
#!/bin/sh
for p; do :; done
case " $FAKE_MISSING " in *" $p "*) exit 1 ;; esac
echo "install ok installed"
FAKE
chmod +x "$bin/id" "$bin/dpkg-query"
failures=0
run() { # expected status, then deps.sh arguments
    local want=$1
    shift
    out=$(PATH=$bin FAKE_MISSING=$missing bash "$deps" "$@" 2>&1)
    status=$?
    [ "$status" -eq "$want" ] || { echo "deps.sh $*: exit $status, expected $want: $out"; failures=$((failures + 1)); }
}
has() { printf '%s\n' "$out" | grep -qF -- "$1" || { echo "missing \"$1\" in: $out"; failures=$((failures + 1)); }; }
hasnt() { ! printf '%s\n' "$out" | grep -qF -- "$1" || { echo "unexpected \"$1\" in: $out"; failures=$((failures + 1)); }; }

missing="libjansson-dev default-jdk-headless liblucene8-java"
run 1
has "deps: missing: Debian packages libjansson-dev"
has "no root rights and no sudo"
has "apt-get update && apt-get install --no-install-recommends libjansson-dev"
hasnt "command not found"
hasnt "default-jdk-headless"

run 1 --bench
has "apt-get install --no-install-recommends libjansson-dev default-jdk-headless liblucene8-java"

run 2 --no-such-flag
has "unknown argument \"--no-such-flag\""
[ "$failures" -eq 0 ]

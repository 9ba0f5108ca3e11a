# A sanitizer error in a program a CLI case runs fails the case, even one that expects the
# program to fail: tests/cli/run.sh gives sanitizer errors their own exit status (86) and
# collects their reports. Here a stand-in for llmemory behaves like a sanitizer build that finds
# an error: it writes a report where ASAN_OPTIONS says (log_path) and exits with its exitcode.
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/llmemory" <<'FAKE'
#!/bin/sh
opt() { printf '%s' "$ASAN_OPTIONS" | tr ':' '\n' | sed -n "s/^$1=//p" | tail -n 1; }
lp=$(opt log_path)
msg="ERROR: AddressSanitizer: heap-buffer-overflow (stand-in)"
if [ -n "$lp" ]; then echo "$msg" >"$lp.$$"; else echo "$msg" >&2; fi
ec=$(opt exitcode)
exit "${ec:-1}"
FAKE
chmod +x "$work/llmemory"
out=$(LLMEMORY_TEST_DATABASE_URL= LLMEMORY_DATABASE_URL= bash "$SCRIPTS_ROOT/tests/cli/run.sh" "$work/llmemory" usage_errors 2>&1)
fail=0
for want in "not ok 1 - usage_errors" "sanitizer error (exit status 86" \
    "heap-buffer-overflow (stand-in)" "cli: 0 passed, 1 failed"; do
    case $out in *"$want"*) ;; *) echo "missing \"$want\""; fail=1 ;; esac
done
[ "$fail" -eq 0 ] || { echo "$out"; exit 1; }

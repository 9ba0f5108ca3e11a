# Every command answers --help on stdout with exit 0, and the main help lists the commands and
# the exit status table. The commands are taken from the main help itself, so a new command is
# checked without editing this case.
run_raw --help
expect_status 0
expect_out "Exit status:"
expect_out "  3  not found"
commands=$(printf '%s\n' "$OUT" | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
for cmd in init add ingest search list get delete stats history erase db; do
    printf '%s\n' "$commands" | grep -qx "$cmd" || fail "main help does not list \"$cmd\""
done
for cmd in $commands; do
    run_raw "$cmd" --help
    expect_status 0
    expect_out "Usage: llmemory $cmd"
    [ -z "$ERR" ] || fail "\"$cmd --help\" wrote to stderr"
    run_raw help "$cmd"
    expect_status 0
    expect_out "Usage: llmemory $cmd"
    run_raw "$cmd" -h
    expect_status 0
    expect_out "Usage: llmemory $cmd"
done
for args in -h help; do
    run_raw $args
    expect_status 0
    for cmd in $commands; do
        expect_out "  $cmd "
    done
done
run_raw --version
expect_status 0
expect_out "llmemory 0."

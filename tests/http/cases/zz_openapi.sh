# docs/openapi.yaml matches the server: every documented path and method was exercised by the
# cases before this one (they run in name order; this one is last), every answer to a
# documented operation has a documented status, and requests to anything undocumented only ever
# got 404 or 405 (the server has no undocumented endpoint).
spec=$HTTP_ROOT/docs/openapi.yaml
[ -f "$spec" ] || fail "no $spec"
[ -s "$HTTP_TRACE" ] || skip "no requests were recorded (run all cases)"
perl -e '
    my ($spec, $trace) = @ARGV;
    open(my $f, "<", $spec) or die "$spec: $!";
    my (%ops, $in_paths, $path, $method, $in_resp);
    while (<$f>) {
        chomp;
        if (/^(\S[^:]*):/) { $in_paths = ($1 eq "paths"); next }
        next unless $in_paths;
        if (/^  (\/\S*):\s*$/) { $path = $1; $method = undef; next }
        if (/^    (get|put|post|delete|patch|head|options):\s*$/) {
            $method = uc $1; $ops{"$method $path"} = {}; $in_resp = 0; next
        }
        next unless defined $method;
        if (/^      responses:\s*$/) { $in_resp = 1; next }
        if (/^      \S/) { $in_resp = 0; next }
        if ($in_resp && /^        \x27?(\d{3})\x27?:/) { $ops{"$method $path"}{$1} = 1 }
    }
    close $f;
    die "no operations found in $spec\n" unless %ops;
    my %re;
    for my $op (keys %ops) {
        my ($m, $p) = split / /, $op, 2;
        (my $r = quotemeta $p) =~ s/\\\{[^\/]*?\\\}/[^\/]+/g;
        $re{$op} = qr/^$r$/;
        die "$op documents no responses\n" unless %{$ops{$op}};
    }
    open(my $t, "<", $trace) or die "$trace: $!";
    my (%seen, @bad);
    while (<$t>) {
        chomp;
        my ($m, $p, $s) = split / /;
        my $matched;
        for my $op (keys %ops) {
            my ($om) = split / /, $op;
            next unless $om eq $m && $p =~ $re{$op};
            $matched = $op;
            last;
        }
        if (!$matched) {
            push @bad, "undocumented request $m $p answered $s" unless $s eq "404" || $s eq "405";
            next;
        }
        $seen{$matched}++;
        push @bad, "$matched answered $s, which is not documented" unless $ops{$matched}{$s};
    }
    for my $op (sort keys %ops) {
        push @bad, "$op is documented but no case exercised it" unless $seen{$op};
    }
    my %u; @bad = grep { !$u{$_}++ } @bad;
    print "# $_\n" for @bad;
    printf "# %d documented operations, %d requests checked\n", scalar(keys %ops), $. // 0;
    exit(@bad ? 1 : 0);
' "$spec" "$HTTP_TRACE" || fail "docs/openapi.yaml and the server disagree"

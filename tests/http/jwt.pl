#!/usr/bin/perl
# tests/http/jwt.pl: make JWTs for the tests with core Perl (and the openssl program for RS256).
#   jwt.pl hs256 SECRET_FILE CLAIMS_JSON [HEADER_JSON]
#   jwt.pl rs256 PRIVATE_KEY_PEM CLAIMS_JSON [HEADER_JSON]
#   jwt.pl none - CLAIMS_JSON                 (alg "none", empty signature)
# The header defaults to {"alg":"HS256"|"RS256"|"none","typ":"JWT"}; the JSON texts are used
# as given (so tests can send anything).
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64);
use File::Temp qw(tempfile);

sub b64url { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; return $s }

my ($alg, $keyfile, $claims, $header) = @ARGV;
die "usage: jwt.pl hs256|rs256|none KEY CLAIMS [HEADER]\n" unless defined $claims;
$header //= '{"alg":"' . ($alg eq 'hs256' ? 'HS256' : $alg eq 'rs256' ? 'RS256' : 'none')
    . '","typ":"JWT"}';
my $input = b64url($header) . '.' . b64url($claims);
my $sig = '';
if ($alg eq 'hs256') {
    open(my $f, '<', $keyfile) or die "$keyfile: $!";
    local $/;
    my $secret = <$f>;
    $secret =~ s/[\r\n]+$//;
    $sig = hmac_sha256($input, $secret);
} elsif ($alg eq 'rs256') {
    my ($fh, $tmp) = tempfile(UNLINK => 1);
    print $fh $input;
    close $fh;
    $sig = `openssl dgst -sha256 -sign '$keyfile' '$tmp'`;
    die "openssl failed\n" if $? != 0;
}
print $input . '.' . b64url($sig) . "\n";

# GET /v1/audit (admin scope): the tenant's audit records with who (the key) and from where;
# never another tenant's; after an erasure only the erasure record is left.
ka=$(new_key "$P-acme" --scope admin)
kw=$(new_key "$P-acme")
kb=$(new_key "$P-globex" --scope admin)
add_doc "$kw" a "Alpha report." >/dev/null
get "$kw" /v1/export
expect_status 200
post "$ka" /v1/keys '{"scope":"read"}'
expect_status 201
get "$ka" "/v1/audit?limit=10"
expect_status 200
expect_json owner_id "$P-acme"
expect_json records.0.action key.create
expect_json records.0.outcome success
expect_json records.0.source 127.0.0.1
case "$(json records.0.actor)" in key:*) ;; *) fail "actor is not the key" ;; esac
expect_json records.1.action tenant.export
expect_json records.1.source 127.0.0.1
case "$(json records.1.actor)" in key:*) ;; *) fail "the export's actor is not the key" ;; esac
get "$kb" /v1/audit
expect_status 200
expect_no_body "tenant.export"
get "$kw" /v1/audit
expect_status 403
get "$ka" "/v1/audit?limit=0"
expect_status 422
del "$ka" /v1/tenant
expect_status 200
ka2=$(new_key "$P-acme" --scope admin)
get "$ka2" /v1/audit
expect_status 200
# The erasure record, then the key created since (by the CLI).
expect_json records.1.action tenant.erase
[ "$(json count)" = 2 ] || fail "erasure left more than its record"
# A refused credential is recorded (key id, reason, address) in the key's tenant's log only; the
# same failure again within the minute writes no record of its own.
ki=$(new_key "$P-initech" --scope admin)
kid=$(printf %s "$ki" | cut -c5-20)
zeros=$(printf '0%.0s' $(seq 64))
for _ in $(seq 20); do get "lmk_${kid}_$zeros" /v1/statistics; done
expect_status 401
get "$ki" /v1/audit
expect_status 200
expect_json records.0.action auth.failure
expect_json records.0.outcome failure
expect_json records.0.detail.key_id "$kid"
expect_json records.0.detail.reason invalid
expect_json records.0.detail.failures 1
expect_json records.0.source 127.0.0.1
[ "$(json 'records.*.action' | grep -c auth.failure)" = 1 ] || fail "one record expected"
expect_no_body "$zeros"
get "$kb" /v1/audit
expect_no_body "$kid"
# A key of no known owner goes to the server's log (for operators, through the CLI).
get "lmk_00000000000000aa_$zeros" /v1/statistics
expect_status 401
out=$("$HTTP_BIN" --database-url "$HTTP_DB" --schema "$HTTP_SCHEMA" audit --server --json \
    </dev/null 2>/dev/null)
case $out in *'"key_id": "00000000000000aa"'* | *'"key_id":"00000000000000aa"'*) ;;
*) fail "the server's log lacks the unknown key: $out" ;; esac

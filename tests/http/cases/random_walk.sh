# The seeded random walk of issue 12 over real HTTP requests (tests/http/walk.py): 8 tenants,
# nested (a parent's key has no sub-tenant rights) and sharing id_at_origin values; after every
# step no tenant sees, counts, changes or deletes another's data, and no tenant's scores move
# when only others' data changes. A short walk here; a long one is
#   HTTP_CASE_TIMEOUT=3600 WALK_STEPS=5000 WALK_SEED=N WALK_LOG=FILE \
#       bash tests/http/run.sh build/debug/llmemory random_walk
: >"$HTTP_TMP/keys"
for t in a a/x a/y b b/x c d e; do
    k=$(new_key "$P-$t") && [ -n "$k" ] || fail "could not create a key for $P-$t"
    echo "$P-$t $k" >>"$HTTP_TMP/keys"
done
# Its own server, embedding synchronously: a tenant's scores may then change only with its data.
start_server "$HTTP_TMP/srv" --sync-embed
python3 "$HTTP_ROOT/tests/http/walk.py" --url "$SURL" --keys "$HTTP_TMP/keys" \
    --steps "${WALK_STEPS:-100}" --seed "${WALK_SEED:-20261206}" >"$HTTP_TMP/walk.log" 2>&1
rc=$?
cat "$HTTP_TMP/walk.log"
[ -z "${WALK_LOG:-}" ] || cp "$HTTP_TMP/walk.log" "$WALK_LOG"
[ "$rc" -eq 0 ] || fail "the random walk failed"
stop_server "$SPID"

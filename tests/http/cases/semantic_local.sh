# With the default model installed (skipped otherwise): a server on the local encoder, in a
# schema of its own, embeds in the background and its vector search finds a paraphrase that
# shares no words with the query ("vehicle" for a note about an automobile), over real HTTP.
"$HTTP_BIN" models path >/dev/null 2>&1 || skip "the default model is not installed (scripts/models.sh)"
schema=${HTTP_SCHEMA}_local
dir=$HTTP_TMP/local
mkdir -p "$dir"
cleanup_local() {
    [ -n "${lpid:-}" ] && kill -KILL "$lpid" 2>/dev/null
    psql "$HTTP_DB" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
}
trap cleanup_local EXIT
key=$("$HTTP_BIN" --database-url "$HTTP_DB" --schema "$schema" keys create --owner "$P-sem" \
    --scope write 2>/dev/null </dev/null)
[ -n "$key" ] || fail "could not create a key"
LLMEMORY_EMBEDDER=local "$HTTP_BIN" --database-url "$HTTP_DB" --schema "$schema" serve --port 0 \
    --port-file "$dir/port" >"$dir/log" 2>&1 &
lpid=$!
echo "$lpid" >>"$HTTP_TMP/pids"
for _ in $(seq 1 300); do
    [ -s "$dir/port" ] && break
    kill -0 "$lpid" 2>/dev/null || { cat "$dir/log"; fail "server did not start"; }
    sleep 0.1
done
[ -s "$dir/port" ] || fail "server did not write its port"
grep -q 'embedder=local:all-MiniLM-L6-v2:' "$dir/log" || fail "server is not on the local model: $(cat "$dir/log")"
HTTP_URL=http://127.0.0.1:$(cat "$dir/port")
add_doc "$key" car "My automobile needs new winter tyres before December." >/dev/null
add_doc "$key" cake "Bake the sponge for forty minutes at 180 degrees." >/dev/null
found=0
for _ in $(seq 1 300); do
    get "$key" "/v1/search?q=when+to+change+the+tires+on+my+vehicle&type=vector&limit=1"
    expect_status 200
    if [ "$(json count)" = 1 ] && [ "$(json results.0.id_at_origin)" = car ]; then
        found=1
        break
    fi
    sleep 0.1
done
[ "$found" = 1 ] || fail "vector search did not find the paraphrase within 30 s"
get "$key" "/v1/search?q=vehicle&type=text"
expect_json count 0
kill -TERM "$lpid"
wait "$lpid" || fail "server exited with status $?"
lpid=

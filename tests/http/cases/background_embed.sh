# The server embeds in the background: an add returns once the document is stored and
# keyword-searchable, and vector search finds it once the embedding worker has written its
# vectors (polled here over HTTP). The server logs which mode it runs in.
grep -q 'embedding=background' "$HTTP_SERVER_LOG" || fail "server did not log embedding=background"
k=$(new_key "$P-bg")
add_doc "$k" "glacier" "Crampons and an ice axe are needed to cross the glacier safely." >/dev/null
expect_status 201
get "$k" "/v1/search?q=crampons&type=text"
expect_status 200
expect_json count 1
found=0
for _ in $(seq 1 100); do
    get "$k" "/v1/search?q=crampons+ice+axe&type=vector"
    expect_status 200
    if [ "$(json count)" = 1 ]; then
        found=1
        break
    fi
    sleep 0.1
done
[ "$found" = 1 ] || fail "vector search did not find the document within 10 s"
expect_json results.0.id_at_origin glacier
# Another tenant's vector search sees nothing of it.
k2=$(new_key "$P-bg2")
get "$k2" "/v1/search?q=crampons+ice+axe&type=vector"
expect_status 200
expect_json count 0

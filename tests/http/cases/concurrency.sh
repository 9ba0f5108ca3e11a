# Many clients of two tenants at once: every reply is 2xx and every result is the caller's own.
ka=$(new_key "$P-a")
kb=$(new_key "$P-b")
add_doc "$ka" a0 "Shared words alphamark lorem ipsum." >/dev/null
add_doc "$kb" b0 "Shared words betamark lorem ipsum." >/dev/null
worker() { # key, marker, other marker, n, worker number
    local i c
    for i in $(seq 1 "$4"); do
        if [ $((i % 4)) = 0 ]; then
            c=$(curl -s -o "$HTTP_TMP/w$2$5-$i" -w '%{http_code}' -H "Authorization: Bearer $1" \
                -H 'Content-Type: application/json' \
                --data-binary "{\"id_at_origin\":\"$2-$5-$i\",\"content\":\"Shared words $2 lorem $i.\"}" \
                "$HTTP_URL/v1/documents")
        else
            c=$(curl -s -o "$HTTP_TMP/w$2$5-$i" -w '%{http_code}' -H "Authorization: Bearer $1" \
                "$HTTP_URL/v1/search?q=shared+words+lorem&limit=20")
            grep -q "$3" "$HTTP_TMP/w$2$5-$i" && echo "cross-tenant result in $2 $i"
        fi
        case $c in 2??) ;; *) echo "status $c for $2 $i: $(cat "$HTTP_TMP/w$2$5-$i")" ;; esac
    done
}
for j in 1 2 3 4; do
    worker "$ka" alphamark betamark 12 "$j" >"$HTTP_TMP/r-a$j" &
    worker "$kb" betamark alphamark 12 "$j" >"$HTTP_TMP/r-b$j" &
done
wait
problems=$(cat "$HTTP_TMP"/r-*)
[ -z "$problems" ] || fail "$problems"
get "$ka" /v1/statistics
expect_json document_count 13
get "$kb" /v1/statistics
expect_json document_count 13

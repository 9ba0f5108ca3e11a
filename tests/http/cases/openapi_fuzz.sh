# OpenAPI-driven fuzz: schemathesis (pinned, build/openapi-venv: scripts/python-env.sh openapi)
# generates requests for every operation of docs/openapi.yaml, valid and invalid, and checks
# every response: no 5xx, a documented status and content type, and a body that matches the
# documented schema. It acts as an admin-scope JWT for one tenant (so that the keys it creates
# or revokes cannot lock it out) with owner_id fixed to that tenant; DELETE /v1/tenant is left
# out (it is tested in tenant_erase). A short, seeded run here; a long one is
#   HTTP_CASE_TIMEOUT=3600 OPENAPI_FUZZ_EXAMPLES=200 OPENAPI_FUZZ_SEED=N OPENAPI_FUZZ_LOG=FILE \
#       bash tests/http/run.sh build/debug/llmemory openapi_fuzz
py=$(sh "$HTTP_ROOT/scripts/python-env.sh" openapi 2>"$HTTP_TMP/venv.log") ||
    { cat "$HTTP_TMP/venv.log"; fail "could not create the schemathesis environment"; }
st=$(dirname "$py")/st
owner=$P-st
exp=$(($(date +%s) + 3600))
tok=$(perl "$HTTP_JWT" hs256 "$HTTP_JWT_SECRET" \
    "{\"owner_id\":\"$owner\",\"scope\":\"admin\",\"exp\":$exp}") || fail "could not make a JWT"
# Something to find, list and fetch.
for i in 1 2 3; do
    post "$tok" /v1/documents "{\"id_at_origin\":\"doc-$i\",\"name\":\"Doc $i\",\"content\":\"vacation policy number $i\",\"metadata\":{\"n\":$i}}"
    expect_status 201
done
# Its own server with room for the longest documented query string (beyond the default
# --max-header, 32K, a head gets 414/431).
start_server "$HTTP_TMP/srv" --max-header 1M --jwt-secret-file "$HTTP_JWT_SECRET"
printf '[parameters]\n"query.owner_id" = "%s"\n' "$owner" >"$HTTP_TMP/schemathesis.toml"
PYTHONPATH=$HTTP_ROOT/tests/openapi SCHEMATHESIS_HOOKS=hooks \
    "$st" --no-color --config-file "$HTTP_TMP/schemathesis.toml" run "$HTTP_ROOT/docs/openapi.yaml" \
    --url "$SURL" -H "Authorization: Bearer $tok" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path-regex '^/v1/tenant$' --phases examples,coverage,fuzzing -w 1 \
    --max-examples "${OPENAPI_FUZZ_EXAMPLES:-6}" --seed "${OPENAPI_FUZZ_SEED:-20261206}" \
    --request-timeout 60 >"$HTTP_TMP/st.log" 2>&1
rc=$?
[ -z "${OPENAPI_FUZZ_LOG:-}" ] || cp "$HTTP_TMP/st.log" "$OPENAPI_FUZZ_LOG"
grep -E '^ *[0-9]+ generated' "$HTTP_TMP/st.log" | sed 's/^ */# schemathesis: /'
if [ "$rc" -ne 0 ]; then
    cat "$HTTP_TMP/st.log"
    fail "schemathesis found responses that break docs/openapi.yaml (exit status $rc)"
fi
stop_server "$SPID"

# Remote mode against a port held by some other program: the CLI says that the server is not an
# llmemory server (exit status 4, as for one that cannot be reached) instead of reporting the
# other program's 404 as "not found".
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
cat >"$CLI_TMP/other.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply(404, "text/html", b"<html><body>Not Found</body></html>")
    def do_POST(self):
        self.reply(200, "text/plain", b"hello")
    def do_DELETE(self):
        self.reply(404, "application/json", json.dumps({"error": "not found"}).encode())
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$CLI_TMP/other.py" >"$CLI_TMP/port" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$CLI_TMP/port" ] && break; sleep 0.1; done
port=$(cat "$CLI_TMP/port")
[ -n "$port" ] || fail "the stand-in server did not start"
url=http://127.0.0.1:$port
run_raw --url "$url" --key k list
expect_status 4
expect_err "llmemory: the server at --url is not an llmemory server"
expect_err 'HTTP status 404 and content type "text/html"'
expect_err "hint: Check --url or LLMEMORY_URL"
run_raw --url "$url" --key k search vacation
expect_status 4
expect_err "is not an llmemory server"
run_raw --url "$url" --key k delete 11111111-1111-4111-8111-111111111111
expect_status 4
expect_err "is not an llmemory server"

/*
 * tests/fuzz/http_request.c: HTTP requests through the server's own code: MHD parses the request
 * (query string decoding included) on a socket pair, and the server's router and handlers take it
 * from there: query parameters, the JSON body, owner_id, the bearer token (JWT, HS256), every
 * option a handler reads. The memory behind the server has no database (the library answers each
 * call with an error after the handler's checks), so only the parsing is exercised; the MCP
 * endpoint and the public endpoints have targets or tests of their own and are answered 404.
 *
 * Input: a request line "METHOD TARGET", header lines, an empty line, then the body, all with
 * "\n" line ends. The target adds Host, Content-Length and "Connection: close" (and drops the
 * client's own framing headers), so that every input is one complete request. Without an
 * Authorization or X-API-Key header the request is taken as authenticated for tenant
 * "fuzz-org/team" (admin scope, sub-tenants allowed).
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "fuzz.h"
#include "internal.h"

typedef struct fuzz_req {
    srv_request r;
    lm_buf body;
} fuzz_req;

static srv_server server;

static void reply_404(srv_request *r)
{
    srv_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "not fuzzed here", NULL, NULL, NULL);
}

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *conn,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload,
                                  size_t *upload_size,
                                  void **con_cls)
{
    fuzz_req *fr = *con_cls;
    srv_request *r;
    enum MHD_Result ok;

    (void)cls;
    (void)version;
    if (fr == NULL) {
        fr = calloc(1, sizeof(*fr));
        if (fr == NULL)
            abort();
        r = &fr->r;
        r->srv = &server;
        r->conn = conn;
        r->search_type = -1;
        r->method = method;
        r->url = url;
        snprintf(r->id, sizeof(r->id), "fuzz");
        srv_arena_init(&r->arena, ((size_t)1 << 20) + 65536);
        *con_cls = fr;
        return MHD_YES;
    }
    r = &fr->r;
    if (*upload_size > 0) {
        lm__buf_put(&fr->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->resp == NULL) {
        r->body = fr->body.ptr;
        r->body_len = fr->body.size;
        if (srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION) == NULL &&
            srv_header(r, "X-API-Key") == NULL) {
            r->authenticated = 1;
            r->auth_kind = "key";
            snprintf(r->who.owner_id, sizeof(r->who.owner_id), "fuzz-org/team");
            snprintf(r->who.key_id, sizeof(r->who.key_id), "0123456789abcdef");
            r->who.scope = LM_SCOPE_ADMIN;
            r->who.allow_subtenants = 1;
            r->tenant = r->who.owner_id;
        }
        srv_route_match(r);
        if (r->route != NULL && (r->route->scope == 0 || strcmp(r->route->pattern, "/mcp") == 0))
            reply_404(r);
        else if (srv_dispatch_begin(r) == 0)
            srv_dispatch_finish(r);
        if (r->resp == NULL)
            abort(); /* every path replies */
        r->body = NULL;
    }
    ok = MHD_queue_response(conn, (unsigned int)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ok;
}

static void on_completed(void *cls,
                         struct MHD_Connection *conn,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    fuzz_req *fr = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (fr == NULL)
        return;
    if (fr->r.resp != NULL)
        MHD_destroy_response(fr->r.resp);
    srv_arena_dispose(&fr->r.arena);
    lm_buf_dispose(&fr->body);
    free(fr);
    *con_cls = NULL;
}

static struct MHD_Daemon *daemon_once(void)
{
    static struct MHD_Daemon *d;
    if (d == NULL) {
        char err[200];
        srv_log_init(-1, NULL);
        server.cfg.max_body = (size_t)1 << 20;
        server.cfg.jwt_secret = "fuzz-secret-0123456789abcdef0123456789abcdef";
        if (srv_jwt_new(&server.jwt, &server.cfg, err, sizeof(err)) < 0)
            abort();
        d = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL,
                             on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, 1U, MHD_OPTION_END);
        if (d == NULL)
            abort();
    }
    return d;
}

/* Header lines the target sets itself. */
static int framing_header(const char *line, size_t n)
{
    static const char *const names[] = {"content-length:", "transfer-encoding:", "connection:",
                                        "host:", "expect:", "upgrade:"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (n >= strlen(names[i]) && strncasecmp(line, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct MHD_Daemon *d = daemon_once();
    lm_buf req = LM_BUF_INIT;
    const char *p = (const char *)data, *end = p + size, *nl, *body;
    struct sockaddr_in addr;
    int sv[2];
    char buf[4096];

    /* Request line: no CR or NUL (MHD refuses those before any of our code runs). */
    nl = memchr(p, '\n', size);
    if (nl == NULL || memchr(p, '\0', (size_t)(nl - p)) != NULL || memchr(p, '\r', (size_t)(nl - p)))
        return 0;
    lm__buf_put(&req, p, (size_t)(nl - p));
    lm__buf_puts(&req, " HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
    p = nl + 1;
    while (p < end && *p != '\n') {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        if (!framing_header(p, (size_t)(nl - p)) && memchr(p, '\r', (size_t)(nl - p)) == NULL &&
            memchr(p, '\0', (size_t)(nl - p)) == NULL) {
            lm__buf_put(&req, p, (size_t)(nl - p));
            lm__buf_puts(&req, "\r\n");
        }
        p = nl < end ? nl + 1 : end;
    }
    body = p < end ? p + 1 : end;
    lm__buf_printf(&req, "Content-Length: %zu\r\n\r\n", (size_t)(end - body));
    lm__buf_put(&req, body, (size_t)(end - body));
    if (lm__buf_oom(&req) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        lm_buf_dispose(&req);
        return 0;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    if (MHD_add_connection(d, sv[0], (const struct sockaddr *)&addr, sizeof(addr)) != MHD_YES) {
        close(sv[0]);
        close(sv[1]);
        lm_buf_dispose(&req);
        return 0;
    }
    /* Send the request (the socket buffer holds up to a few hundred KiB; MHD reads as we go),
       then read until MHD closes the connection. */
    {
        size_t sent = 0;
        int idle = 0;
        while (idle < 2000) {
            ssize_t n;
            int progress = 0;
            if (sent < req.size) {
                n = send(sv[1], req.ptr + sent, req.size - sent, MSG_NOSIGNAL);
                if (n > 0) {
                    sent += (size_t)n;
                    progress = 1;
                }
            }
            MHD_run(d);
            n = recv(sv[1], buf, sizeof(buf), 0);
            if (n == 0)
                break;
            if (n > 0) {
                progress = 1;
                /* FUZZ_HTTP_SHOW=1: print the replies (to see what a corpus reaches). */
                if (getenv("FUZZ_HTTP_SHOW") != NULL)
                    fwrite(buf, 1, (size_t)n, stderr);
            }
            idle = progress ? 0 : idle + 1;
        }
    }
    close(sv[1]);
    /* Let MHD see the close and complete the request. */
    for (int i = 0; i < 4; i++)
        MHD_run(d);
    lm_buf_dispose(&req);
    return 0;
}

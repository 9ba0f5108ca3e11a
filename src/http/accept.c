/*
 * http/accept.c: accepting connections. libmicrohttpd accepts at most one connection per round
 * of its poll loop, and not at all while it is at its connection limit: under a reconnect storm
 * (many clients closing and reconnecting) connections closed faster than they were accepted, the
 * listen queue filled up, the kernel dropped new SYNs, and a new client waited for TCP's
 * retransmissions (1 s, 3 s...). So the server accepts on a thread of its own and hands each
 * socket to MHD (MHD_add_connection), which never listens itself.
 *
 * At --max-connections, a new connection makes room for itself (conns.c: an idle connection
 * closes, or the heaviest client address's is told to close after its reply) and takes one of
 * the reserve slots (max / 8, at least 16) meanwhile. Past the reserve, it gets an immediate 503
 * and is closed. The listen queue never builds up, and a new client is served at once whatever
 * the count.
 *
 * Before a connection goes to MHD, its first request head is read here (peeked: the bytes stay in
 * the socket for MHD) and checked against --max-header and the HTTP/1.x grammar, so that an
 * oversized or malformed head gets 414, 431, 400 or 505 in the JSON error shape instead of
 * libmicrohttpd's own HTML page. The head deadline holds here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* A connection accepted but not yet handed to MHD (its first head is not complete yet). Only
   the accept thread touches these. */
typedef struct pending {
    int fd;
    socklen_t len;
    struct sockaddr_storage ss;
    double since; /* accepted at (srv_now_ms()) */
    size_t index; /* in acceptor.list */
} pending;

static struct {
    pending **list;
    size_t n, cap;
    char *peek; /* max_header + 1 bytes */
    int epfd;
} acc = {NULL, 0, 0, NULL, -1};

static int token_char(unsigned char c);

/* Answer with a complete JSON error and close (and record it: srv_early_record). What the client already sent is read first, so
   that closing does not reset the connection before the answer arrives. */
static void reply_close(int fd, const char *status, const char *code, const char *message,
                        const char *detail, int retry_after, const char *reason,
                        const char *method, const struct sockaddr *sa, size_t bytes_in)
{
    char body[512], top[256], buf[8192];
    int nb = snprintf(body, sizeof(body),
                      "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"detail\":\"%s\","
                      "\"request_id\":null}}\n",
                      code, message, detail);
    int nh = snprintf(top, sizeof(top),
                      "HTTP/1.1 %s\r\nContent-Type: application/json\r\n%sConnection: close\r\n"
                      "Content-Length: %d\r\n\r\n",
                      status, retry_after ? "Retry-After: 1\r\n" : "", nb);

    ssize_t got;
    size_t out = 0;

    for (int i = 0; i < 8 && (got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0; i++)
        if (bytes_in == 0)
            bytes_in = (size_t)got; /* what came before the head was peeked is not counted */
    if (send(fd, top, (size_t)nh, MSG_NOSIGNAL | MSG_DONTWAIT) == nh) {
        out = (size_t)nh;
        if (send(fd, body, (size_t)nb, MSG_NOSIGNAL | MSG_DONTWAIT) == nb)
            out += (size_t)nb;
    }
    shutdown(fd, SHUT_WR);
    close(fd);
    srv_early_record(atoi(status), code, reason, method, sa, bytes_in, out);
}

/* The method of the request line in buf[0..n) when it reads as one (a token of at most 15
   bytes), else "": for the access log of an early answer. */
static void head_method(char out[16], const char *buf, size_t n)
{
    size_t i = 0, j = 0;

    out[0] = '\0';
    while (i < n && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    for (; i < n && j < 15 && token_char((unsigned char)buf[i]); i++)
        out[j++] = buf[i];
    if (i < n && buf[i] == ' ')
        out[j] = '\0';
    else
        out[0] = '\0';
}

static void pending_drop(srv_server *s, pending *p, int close_fd)
{
    acc.list[p->index] = acc.list[--acc.n];
    acc.list[p->index]->index = p->index;
    epoll_ctl(acc.epfd, EPOLL_CTL_DEL, p->fd, NULL);
    if (close_fd >= 0)
        close(p->fd);
    atomic_fetch_sub(&s->admitted, 1);
    free(p);
}

#define MAX_HEADER_LINES(limit) ((limit) / 128 < 32 ? 32 : (int)((limit) / 128))

static int token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* What is wrong with the request head in buf[0..n) (a complete head ends with an empty line):
   NULL when it is complete and well-formed, "" when it is incomplete so far; else the status
   line, with *code, *message and *detail set. */
static const char *head_problem(const char *buf, size_t n, size_t limit, const char **code,
                                const char **message, const char **detail, const char **reason)
{
    const char *p = buf, *end = buf + n, *line, *eol, *sp1, *sp2, *head_end = NULL;
    size_t head_len = 0; /* through the empty line that ends the head */
    int http11, host = 0, lines = 0;

    *code = "parse_error";
    while (p < end && (*p == '\r' || *p == '\n')) /* empty lines before a request are allowed */
        p++;
    for (const char *q = p; q < end; q++) {
        if (*q == '\n' && ((q + 1 < end && q[1] == '\n') ||
                           (q + 2 < end && q[1] == '\r' && q[2] == '\n'))) {
            head_end = q + 1;
            head_len = (size_t)(head_end - buf) + (q[1] == '\n' ? 1 : 2);
            break;
        }
    }
    eol = memchr(p, '\n', (size_t)(end - p));
    if (head_end == NULL) {
        if (n < limit)
            return "";
        *code = "payload_too_large";
        if (eol == NULL) {
            *reason = "uri_too_long";
            *message = "request line is too long";
            *detail = "The request line (method, path and query string) must fit in --max-header.";
            return "414 URI Too Long";
        }
        *reason = "headers_too_large";
        *message = "request headers are too large";
        *detail = "The request line and headers must fit in --max-header.";
        return "431 Request Header Fields Too Large";
    }
    if (head_len > limit) {
        *code = "payload_too_large";
        *reason = "headers_too_large";
        *message = "request headers are too large";
        *detail = "The request line and headers must fit in --max-header.";
        return "431 Request Header Fields Too Large";
    }
    /* The request line: METHOD SP TARGET SP HTTP/x.y */
    *reason = "malformed_request_line";
    *message = "malformed request line";
    *detail = "Expected \\\"METHOD /path HTTP/1.1\\\".";
    line = p;
    sp1 = memchr(line, ' ', (size_t)(eol - line));
    sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1)
        return "400 Bad Request";
    for (const char *q = line; q < sp1; q++)
        if (!token_char((unsigned char)*q))
            return "400 Bad Request";
    for (const char *q = sp1 + 1; q < sp2; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return "400 Bad Request";
    {
        size_t vl = (size_t)(eol - sp2 - 1);
        const char *v = sp2 + 1;
        if (vl > 0 && v[vl - 1] == '\r')
            vl--;
        if (vl != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
            v[7] < '0' || v[7] > '9')
            return "400 Bad Request";
        if (v[5] != '1') {
            *reason = "http_version";
            *message = "HTTP version not supported";
            *detail = "This server speaks HTTP/1.0 and HTTP/1.1.";
            return "505 HTTP Version Not Supported";
        }
        http11 = v[7] != '0';
    }
    /* Header lines: NAME ":" VALUE, or a continuation (folded) line. */
    *reason = "malformed_header";
    *message = "malformed header line";
    *detail = "Each header line must be \\\"Name: value\\\".";
    for (line = eol + 1; line < head_end; line = eol + 1) {
        const char *colon;
        eol = memchr(line, '\n', (size_t)(head_end - line));
        if (eol == NULL || eol == line || (eol == line + 1 && *line == '\r'))
            break;
        if (*line == ' ' || *line == '\t') {
            if (lines == 0)
                return "400 Bad Request";
            continue;
        }
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line)
            return "400 Bad Request";
        for (const char *q = line; q < colon; q++)
            if (!token_char((unsigned char)*q))
                return "400 Bad Request";
        if (colon - line == 4 && strncasecmp(line, "host", 4) == 0)
            host = 1;
        /* MHD keeps a record per header in the same memory as the head. */
        if (++lines > MAX_HEADER_LINES(limit)) {
            *code = "payload_too_large";
            *reason = "too_many_headers";
            *message = "too many request header lines";
            *detail = "At most --max-header / 128 header lines (at least 32) are accepted.";
            return "431 Request Header Fields Too Large";
        }
    }
    if (http11 && !host) {
        *reason = "missing_host";
        *message = "missing Host header";
        *detail = "HTTP/1.1 requests must carry a Host header.";
        return "400 Bad Request";
    }
    return NULL;
}

/* Data (or the end of the stream) arrived on a pending connection: hand it to MHD once its head
   is complete and well-formed, answer in JSON when it is not. */
static void pending_read(srv_server *s, pending *p, int hangup)
{
    size_t limit = s->cfg.max_header;
    ssize_t got = recv(p->fd, acc.peek, limit + 1, MSG_PEEK | MSG_DONTWAIT);
    const char *status, *code = NULL, *message = NULL, *detail = NULL, *reason = "other";

    if (got < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        pending_drop(s, p, 1);
        return;
    }
    if (got == 0) {
        pending_drop(s, p, 1); /* closed before a request: nothing to answer */
        return;
    }
    status = head_problem(acc.peek, (size_t)got, limit, &code, &message, &detail, &reason);
    if (status != NULL && status[0] == '\0') {
        if (hangup)
            pending_drop(s, p, 1); /* the client gave up on its head */
        return;                    /* more to come */
    }
    if (status != NULL) {
        int fd = p->fd;
        struct sockaddr_storage ss = p->ss;
        char method[16];
        head_method(method, acc.peek, (size_t)got);
        pending_drop(s, p, -1);
        reply_close(fd, status, code, message, detail, 0, reason, method,
                    (struct sockaddr *)&ss, (size_t)got);
        return;
    }
    {
        int fd = p->fd;
        struct sockaddr_storage ss = p->ss;
        socklen_t len = p->len;
        pending_drop(s, p, -1);
        atomic_fetch_add(&s->admitted, 1);
        /* MHD closes the socket itself when it cannot take it (per-address limit, memory). */
        if (MHD_add_connection(s->daemon, fd, (struct sockaddr *)&ss, len) != MHD_YES)
            atomic_fetch_sub(&s->admitted, 1);
    }
}

/* The pending connection accepted longest ago, if at least SRV_EVICT_MIN_IDLE_MS ago. */
static pending *oldest_pending(void)
{
    pending *o = NULL;
    double now = srv_now_ms();

    for (size_t i = 0; i < acc.n; i++)
        if (now - acc.list[i]->since >= SRV_EVICT_MIN_IDLE_MS &&
            (o == NULL || acc.list[i]->since < o->since))
            o = acc.list[i];
    return o;
}

static void admit(srv_server *s, int fd, const struct sockaddr *sa, socklen_t len)
{
    int max = s->cfg.max_connections, reserve = srv_conn_reserve(max);
    int n = atomic_load(&s->admitted);
    struct epoll_event ev;
    pending *p;

    if (n >= max) {
        /* A client still sending its first head for a quarter second or more goes first. */
        pending *o = oldest_pending();
        if (o != NULL) {
            pending_drop(s, o, 1);
            n--;
        } else {
            srv_conns_make_room();
        }
    }
    /* Connections cut, or closing after a reply already queued, leave within a round of MHD's
       loop: their slots are taken now. MHD's own limit is twice ours, so the overlap always
       fits. */
    if ((n >= max && n - srv_conns_leaving() >= max + reserve) || n >= 2 * (max + reserve) - 16) {
        reply_close(fd, "503 Service Unavailable", "unavailable",
                    "server is at its connection limit",
                    "Every connection slot is serving a request.", 1, "connection_limit", NULL, sa,
                    0);
        return;
    }
    if (acc.n == acc.cap) {
        size_t cap = acc.cap ? acc.cap * 2 : 256;
        pending **l = realloc(acc.list, cap * sizeof(*l));
        if (l == NULL) {
            close(fd);
            return;
        }
        acc.list = l;
        acc.cap = cap;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        close(fd);
        return;
    }
    p->fd = fd;
    p->len = len <= sizeof(p->ss) ? len : sizeof(p->ss);
    memcpy(&p->ss, sa, p->len);
    p->since = srv_now_ms();
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = p;
    if (epoll_ctl(acc.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(p);
        close(fd);
        return;
    }
    p->index = acc.n;
    acc.list[acc.n++] = p;
    atomic_fetch_add(&s->admitted, 1);
    pending_read(s, p, 0); /* the head may be there already */
}

static void accept_all(srv_server *s)
{
    /* Everything queued, then back to waiting. */
    for (int i = 0; i < 256 && !atomic_load(&s->accept_stop); i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept(s->listen_fd, (struct sockaddr *)&ss, &len), fl;
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: leave the queue to the kernel for a moment. */
                srv_log(SRV_LOG_WARN, NULL, "accept failed", "error", strerror(errno),
                        (const char *)NULL);
                poll(NULL, 0, 50);
            }
            return;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        admit(s, fd, (struct sockaddr *)&ss, len);
    }
}

static void *acceptor_main(void *arg)
{
    srv_server *s = arg;
    struct epoll_event evs[64];
    double last_sweep = srv_now_ms();

    while (!atomic_load(&s->accept_stop)) {
        int n = epoll_wait(acc.epfd, evs, 64, 250);
        double now;
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                accept_all(s);
            else
                pending_read(s, evs[i].data.ptr,
                             (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
        }
        /* The head deadline holds here too. */
        now = srv_now_ms();
        if (now - last_sweep >= 250) {
            last_sweep = now;
            for (size_t i = 0; i < acc.n;) {
                if (now - acc.list[i]->since >= s->cfg.head_timeout_s * 1000.0)
                    pending_drop(s, acc.list[i], 1);
                else
                    i++;
            }
        }
    }
    while (acc.n > 0)
        pending_drop(s, acc.list[0], 1);
    return NULL;
}

int srv_acceptor_start(srv_server *s)
{
    int fl = fcntl(s->listen_fd, F_GETFL);
    struct epoll_event ev;

    if (fl < 0 || fcntl(s->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    acc.peek = malloc(s->cfg.max_header + 1);
    acc.epfd = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* the listening socket */
    if (acc.peek == NULL || acc.epfd < 0 ||
        epoll_ctl(acc.epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
        goto fail;
    atomic_store(&s->accept_stop, 0);
    if (pthread_create(&s->acceptor, NULL, acceptor_main, s) != 0)
        goto fail;
    s->acceptor_running = 1;
    return 0;
fail:
    if (acc.epfd >= 0)
        close(acc.epfd);
    acc.epfd = -1;
    free(acc.peek);
    acc.peek = NULL;
    return -1;
}

void srv_acceptor_stop(srv_server *s)
{
    if (!s->acceptor_running)
        return;
    atomic_store(&s->accept_stop, 1);
    /* New clients are refused by the kernel from now on, and epoll_wait() returns. */
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    s->acceptor_running = 0;
    close(acc.epfd);
    acc.epfd = -1;
    free(acc.peek);
    acc.peek = NULL;
    free(acc.list);
    acc.list = NULL;
    acc.n = acc.cap = 0;
}

int srv_conn_reserve(int max_connections)
{
    return max_connections / 8 < 16 ? 16 : max_connections / 8;
}

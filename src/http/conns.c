/*
 * http/conns.c: accepting connections, the open connections and their deadlines.
 *
 * Accepting. libmicrohttpd accepts at most one connection per round of its poll loop, and not at
 * all while it is at its connection limit. Under a reconnect storm (many clients closing and
 * reconnecting) connections closed faster than they were accepted, the listen queue filled up,
 * the kernel dropped new SYNs, and a new client waited for TCP's retransmissions (1 s, 3 s...).
 * So the server accepts on a thread of its own (srv_acceptor_*) and hands each socket to MHD
 * (MHD_add_connection), which never listens itself. At --max-connections, each new connection
 * makes room for itself: the connection that has waited longest for its next request head (an
 * idle kept-alive one, or one that trickles its head) is closed; when none is idle, a connection
 * of the client address that holds the most is told to close after its reply in progress, and
 * the new one takes a reserve slot (max / 8, at least 16) meanwhile. Past the reserve, a new
 * connection gets an immediate 503 and is closed. The listen queue never builds up, and a new
 * client is served at once whatever the count; a client holding many connections pays for it.
 *
 * Deadlines. libmicrohttpd's idle timeout restarts with every byte, so a client that trickles a
 * header line every few seconds would hold its connection for ever (slowloris). Each connection
 * is tracked from the moment it is accepted: its request head must be complete within
 * --head-timeout of the connection opening (or, on a kept-alive connection, within the idle
 * timeout of the previous reply), and its body within --body-timeout of the end of the head. The
 * main thread sweeps every quarter second and shuts down the socket of a connection past its
 * deadline; MHD then sees the end of the stream and closes it the ordinary way. A request that
 * is being handled (a worker holds it, or its reply is being sent) has no deadline here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

struct srv_conn {
    srv_conn *prev, *next;
    int fd;
    double deadline;   /* srv_now_ms(); 0: none */
    double idle_since; /* waiting for a request head since (srv_now_ms()); 0: in a request */
    int cut;           /* shut down by the sweep or to make room */
    int shed;          /* close after the reply in progress, to make room */
    unsigned slot;     /* of the client address in per_address */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static srv_conn *head;
/* Open connections per client address, by a hash of the address (collisions only merge
   counts: this picks whom to shed, MHD enforces the exact per-address limit). */
#define N_SLOTS 4096
static int per_address[N_SLOTS];

/* A connection idle for less than this is never closed to make room: a new client is idle from
   accept until its head has been read. */
#define EVICT_MIN_IDLE_MS 250.0

static unsigned address_slot(const struct sockaddr *sa)
{
    const unsigned char *p = NULL;
    size_t n = 0;
    uint32_t h = 2166136261u;

    if (sa != NULL && sa->sa_family == AF_INET) {
        p = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        n = 4;
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        p = (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % N_SLOTS;
}

void srv_connection_cb(void *cls,
                       struct MHD_Connection *conn,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    srv_server *s = cls;
    srv_conn *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        atomic_fetch_add(&s->open_connections, 1);
        c = calloc(1, sizeof(*c));
        if (c == NULL || info == NULL) {
            free(c);
            *socket_context = NULL;
            return;
        }
        c->fd = info->connect_fd;
        c->idle_since = srv_now_ms();
        c->deadline = c->idle_since + s->cfg.head_timeout_s * 1000.0;
        c->slot = address_slot(ai != NULL ? ai->client_addr : NULL);
        pthread_mutex_lock(&mu);
        per_address[c->slot]++;
        c->next = head;
        if (head != NULL)
            head->prev = c;
        head = c;
        pthread_mutex_unlock(&mu);
        *socket_context = c;
        return;
    }
    /* MHD_CONNECTION_NOTIFY_CLOSED: reported before MHD closes the socket, so the sweep (under
       the same lock) never shuts down a descriptor that was reused. */
    atomic_fetch_sub(&s->open_connections, 1);
    atomic_fetch_sub(&s->admitted, 1);
    if (c == NULL)
        return;
    pthread_mutex_lock(&mu);
    per_address[c->slot]--;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&mu);
    free(c);
    *socket_context = NULL;
}

srv_conn *srv_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

void srv_conn_deadline(srv_conn *c, double ms_from_now)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&mu);
    c->deadline = ms_from_now > 0 ? srv_now_ms() + ms_from_now : 0;
    c->idle_since = 0;
    pthread_mutex_unlock(&mu);
}

void srv_conn_idle(srv_conn *c, double ms_from_now)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&mu);
    c->idle_since = srv_now_ms();
    c->deadline = c->idle_since + ms_from_now;
    pthread_mutex_unlock(&mu);
}

/* Delayed replies, in no order (a sweep looks at all of them). */
static srv_request *delayed;

void srv_conn_delay(srv_request *r, double ms)
{
    /* Suspended on MHD's thread before the sweep can see it: the resume always follows. */
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&mu);
    r->delayed_until = srv_now_ms() + ms;
    r->delayed_next = delayed;
    delayed = r;
    pthread_mutex_unlock(&mu);
}

static void resume_due(int all)
{
    double now = srv_now_ms();
    srv_request *due = NULL;

    pthread_mutex_lock(&mu);
    for (srv_request **pp = &delayed; *pp != NULL;) {
        srv_request *r = *pp;
        if (all || r->delayed_until <= now) {
            *pp = r->delayed_next;
            r->delayed_next = due;
            due = r;
        } else {
            pp = &r->delayed_next;
        }
    }
    pthread_mutex_unlock(&mu);
    while (due != NULL) {
        srv_request *next = due->delayed_next;
        MHD_resume_connection(due->conn); /* MHD then sends the prepared reply */
        due = next;
    }
}

int srv_conns_sweep(srv_server *s)
{
    double now = srv_now_ms();
    int n = 0;

    resume_due(atomic_load(&s->draining));
    pthread_mutex_lock(&mu);
    for (srv_conn *c = head; c != NULL; c = c->next) {
        if (c->cut || c->deadline == 0 || now < c->deadline)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        n++;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

int srv_conn_shed(srv_conn *c)
{
    int shed;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&mu);
    shed = c->shed;
    pthread_mutex_unlock(&mu);
    return shed;
}

/* Make room for one new connection: shut down the connection that has waited longest (at least
   EVICT_MIN_IDLE_MS) for a request head; failing that, mark a connection of the client address
   that holds the most to close after its reply in progress (an idle one closes at once).
   Returns 2 when a connection was closed, 1 when one was marked, 0 when there was none. */
static int make_room(void)
{
    srv_conn *oldest = NULL, *heavy = NULL;
    double now = srv_now_ms();

    pthread_mutex_lock(&mu);
    for (srv_conn *c = head; c != NULL; c = c->next) {
        if (c->cut)
            continue;
        if (c->idle_since > 0 && now - c->idle_since >= EVICT_MIN_IDLE_MS &&
            (oldest == NULL || c->idle_since < oldest->idle_since))
            oldest = c;
        if (!c->shed && (heavy == NULL || per_address[c->slot] > per_address[heavy->slot]))
            heavy = c;
    }
    if (oldest == NULL && heavy != NULL && heavy->idle_since > 0 &&
        now - heavy->idle_since >= EVICT_MIN_IDLE_MS)
        oldest = heavy;
    if (oldest != NULL) {
        shutdown(oldest->fd, SHUT_RDWR);
        oldest->cut = 1;
    } else if (heavy != NULL) {
        heavy->shed = 1;
    }
    pthread_mutex_unlock(&mu);
    return oldest != NULL ? 2 : heavy != NULL;
}

/* ---- the accept thread ----------------------------------------------------------------------- */

/* Every slot, reserve included, is busy with a request: answer 503 at once and close. What the
   client already sent is read first, so that closing does not reset the connection before the
   answer arrives. */
static void refuse(int fd)
{
    static const char body[] =
        "{\"error\":{\"code\":\"unavailable\",\"message\":\"server is at its connection "
        "limit\",\"detail\":\"Every connection slot is serving a request.\",\"hint\":\"Retry "
        "after the time in Retry-After.\"}}\n";
    char buf[8192], status[256];
    int n = snprintf(status, sizeof(status),
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                     sizeof(body) - 1);
    ssize_t got;

    for (int i = 0; i < 8 && (got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0; i++)
        ;
    if (send(fd, status, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
        (void)!send(fd, body, sizeof(body) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void admit(srv_server *s, int fd, const struct sockaddr *sa, socklen_t len)
{
    int max = s->cfg.max_connections, reserve = srv_conn_reserve(max);
    int n = atomic_load(&s->admitted), room = 0;

    if (n >= max)
        room = make_room();
    /* A closed connection leaves within a round of MHD's loop: its slot is taken now (MHD's own
       limit is twice ours, so the overlap always fits). */
    if (n >= max + reserve && !(room == 2 && n < 2 * (max + reserve) - 16)) {
        atomic_fetch_add(&s->refused, 1);
        refuse(fd);
        return;
    }
    atomic_fetch_add(&s->admitted, 1);
    /* MHD closes the socket itself when it cannot take it (per-address limit, memory). */
    if (MHD_add_connection(s->daemon, fd, sa, len) != MHD_YES)
        atomic_fetch_sub(&s->admitted, 1);
}

static void *acceptor_main(void *arg)
{
    srv_server *s = arg;
    struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};

    while (!atomic_load(&s->accept_stop)) {
        if (poll(&p, 1, 1000) < 0 && errno != EINTR)
            break;
        /* Everything queued, then back to poll. */
        for (int i = 0; i < 256 && !atomic_load(&s->accept_stop); i++) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            int fd = accept(s->listen_fd, (struct sockaddr *)&ss, &len);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    /* Out of descriptors: leave the queue to the kernel for a moment. */
                    srv_log(SRV_LOG_WARN, NULL, "accept failed", "error", strerror(errno),
                            (const char *)NULL);
                    poll(NULL, 0, 50);
                }
                break;
            }
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            admit(s, fd, (struct sockaddr *)&ss, len);
        }
    }
    return NULL;
}

int srv_acceptor_start(srv_server *s)
{
    int fl = fcntl(s->listen_fd, F_GETFL);

    if (fl < 0 || fcntl(s->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    atomic_store(&s->accept_stop, 0);
    if (pthread_create(&s->acceptor, NULL, acceptor_main, s) != 0)
        return -1;
    s->acceptor_running = 1;
    return 0;
}

void srv_acceptor_stop(srv_server *s)
{
    if (!s->acceptor_running)
        return;
    atomic_store(&s->accept_stop, 1);
    /* New clients are refused by the kernel from now on, and poll() returns. */
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    s->acceptor_running = 0;
}

int srv_conn_reserve(int max_connections)
{
    return max_connections / 8 < 16 ? 16 : max_connections / 8;
}

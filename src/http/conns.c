/*
 * http/conns.c: the open connections and their deadlines, and making room at the connection
 * limit (the accept thread, accept.c, asks for it).
 *
 * Deadlines. libmicrohttpd's idle timeout restarts with every byte, so a client that trickles a
 * header line every few seconds would hold its connection for ever (slowloris). Each connection
 * is tracked from the moment MHD gets it: its request head must be complete within
 * --head-timeout of the connection opening (or, on a kept-alive connection, within the idle
 * timeout of the previous reply), and its body within --body-timeout of the end of the head. The
 * main thread sweeps every quarter second and shuts down the socket of a connection past its
 * deadline; MHD then sees the end of the stream and closes it the ordinary way. A request that
 * is being handled (a worker holds it, or its reply is being sent) has no deadline here.
 *
 * Room. At --max-connections, each new connection makes room for itself: the connection that has
 * waited longest for its next request head (an idle kept-alive one, or one that trickles its
 * head) is closed; when none is idle, a connection of the client address that holds the most is
 * told to close after its reply in progress. A client holding many connections pays for it.
 *
 * Delayed replies. A reply can be held back (srv_conn_delay: the connection is suspended and
 * costs nothing) and is sent when the sweep finds it due.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "internal.h"

struct srv_conn {
    srv_conn *prev, *next;
    int fd;
    double deadline;   /* srv_now_ms(); 0: none */
    double idle_since; /* waiting for a request head since (srv_now_ms()); 0: in a request */
    int cut;           /* on its way out: shut down (sweep, room), or closing after its reply */
    int shed;          /* close after the reply in progress, to make room */
    unsigned slot;     /* of the client address in per_address */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static srv_conn *head;
/* Open connections per client address, by a hash of the address (collisions only merge
   counts: this picks whom to shed, MHD enforces the exact per-address limit). */
#define N_SLOTS 4096
static int per_address[N_SLOTS];
/* Connections cut (shut down) that MHD has not closed yet: gone within a round of its loop. */
static int leaving;

/* Count @p c as on its way out (once), with the mutex held. */
static void mark_leaving(srv_conn *c)
{
    if (!c->cut)
        leaving++;
}

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
    if (c->cut)
        leaving--;
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
        mark_leaving(c);
        c->cut = 1;
        n++;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

int srv_conns_leaving(void)
{
    int n;

    pthread_mutex_lock(&mu);
    n = leaving;
    pthread_mutex_unlock(&mu);
    return n;
}

int srv_conn_reply_closes(srv_conn *c, int close)
{
    if (c == NULL)
        return close;
    pthread_mutex_lock(&mu);
    close = close || c->shed;
    /* Its client may reconnect as soon as the reply's end arrives, before MHD's next round
       reports this one closed: from now on its slot counts as free (leaving), or a burst of
       such reconnects would seem to overflow the reserve and get 503. */
    if (close) {
        mark_leaving(c);
        c->cut = 1;
    }
    pthread_mutex_unlock(&mu);
    return close;
}

/* Make room for one new connection: shut down the connection that has waited longest (at least
   SRV_EVICT_MIN_IDLE_MS) for a request head; failing that, mark a connection of the client address
   that holds the most to close after its reply in progress (an idle one closes at once).
   Returns 2 when a connection was closed, 1 when one was marked, 0 when there was none. */
int srv_conns_make_room(void)
{
    srv_conn *oldest = NULL, *heavy = NULL;
    double now = srv_now_ms();

    pthread_mutex_lock(&mu);
    for (srv_conn *c = head; c != NULL; c = c->next) {
        if (c->cut)
            continue;
        if (c->idle_since > 0 && now - c->idle_since >= SRV_EVICT_MIN_IDLE_MS &&
            (oldest == NULL || c->idle_since < oldest->idle_since))
            oldest = c;
        if (!c->shed && (heavy == NULL || per_address[c->slot] > per_address[heavy->slot]))
            heavy = c;
    }
    if (oldest == NULL && heavy != NULL && heavy->idle_since > 0 &&
        now - heavy->idle_since >= SRV_EVICT_MIN_IDLE_MS)
        oldest = heavy;
    if (oldest != NULL) {
        shutdown(oldest->fd, SHUT_RDWR);
        mark_leaving(oldest);
        oldest->cut = 1;
    } else if (heavy != NULL) {
        heavy->shed = 1;
    }
    pthread_mutex_unlock(&mu);
    return oldest != NULL ? 2 : heavy != NULL;
}

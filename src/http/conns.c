/*
 * http/conns.c: the open connections and their deadlines. libmicrohttpd's idle timeout restarts
 * with every byte, so a client that trickles a header line every few seconds would hold its
 * connection for ever (slowloris). Each connection is tracked from the moment it is accepted:
 * its request head must be complete within --head-timeout of the connection opening (or, on a
 * kept-alive connection, within the idle timeout of the previous reply), and its body within
 * --body-timeout of the end of the head. The main thread sweeps every quarter second and shuts
 * down the socket of a connection past its deadline; MHD then sees the end of the stream and
 * closes it the ordinary way. A request that is being handled (a worker holds it, or its reply
 * is being sent) has no deadline here.
 *
 * The count of open connections also tells the access handler when the server is nearly full:
 * replies then carry "Connection: close", so kept-alive clients cannot hold every slot and new
 * clients get their turn in the accept queue.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "internal.h"

struct srv_conn {
    srv_conn *prev, *next;
    int fd;
    double deadline; /* srv_now_ms(); 0: none */
    int cut;         /* shut down by the sweep */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static srv_conn *head;

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
        atomic_fetch_add(&s->open_connections, 1);
        c = calloc(1, sizeof(*c));
        if (c == NULL || info == NULL) {
            free(c);
            *socket_context = NULL;
            return;
        }
        c->fd = info->connect_fd;
        c->deadline = srv_now_ms() + s->cfg.head_timeout_s * 1000.0;
        pthread_mutex_lock(&mu);
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
    if (c == NULL)
        return;
    pthread_mutex_lock(&mu);
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
    pthread_mutex_unlock(&mu);
}

int srv_conns_sweep(void)
{
    double now = srv_now_ms();
    int n = 0;

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

int srv_server_crowded(srv_server *s)
{
    /* Seven eighths full. */
    return atomic_load(&s->open_connections) >= s->cfg.max_connections - s->cfg.max_connections / 8;
}

/*
 * bench/relay/relay.c: what relaying every byte of every connection would cost the server
 * (docs/http.md, "Answers libmicrohttpd gives itself"). A single-threaded epoll relay: each
 * accepted client gets a connection of its own to the server, and bytes are copied both ways
 * through a user-space buffer (read/write, as a relay that parses request heads on the way
 * must). Not part of the server: bench/relay/run.sh measures requests through it against
 * requests sent directly, in the same run.
 *   relay LISTEN_PORT SERVER_PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct end {
    int fd;
    int dead; /* closed in this batch of events; freed after it */
    struct end *peer;
} end;

static int nonblock(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void drop(int ep, end *e)
{
    end *p = e->peer;
    epoll_ctl(ep, EPOLL_CTL_DEL, e->fd, NULL);
    epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
    close(e->fd);
    close(p->fd);
    e->dead = p->dead = 1;
}

/* Copy what is readable on e to its peer (a blocking-enough write: loopback, small replies). */
static int pump(end *e, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(e->fd, buf, cap), off = 0;
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        while (off < n) {
            ssize_t w = write(e->peer->fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EAGAIN)
                continue;
            if (w <= 0)
                return -1;
            off += w;
        }
    }
}

int main(int argc, char **argv)
{
    static char buf[65536];
    struct sockaddr_in la = {0}, sa = {0};
    struct epoll_event ev, evs[256];
    int lfd, ep, one = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: relay LISTEN_PORT SERVER_PORT\n");
        return 2;
    }
    la.sin_family = sa.sin_family = AF_INET;
    la.sin_addr.s_addr = sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    la.sin_port = htons((unsigned short)atoi(argv[1]));
    sa.sin_port = htons((unsigned short)atoi(argv[2]));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&la, sizeof(la)) < 0 || listen(lfd, 1024) < 0) {
        perror("relay: listen");
        return 1;
    }
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        end *gone[512];
        int ngone = 0;
        for (int i = 0; i < n; i++) {
            end *e = evs[i].data.ptr;
            if (e != NULL && e->dead)
                continue;
            if (e == NULL) {
                int c = accept(lfd, NULL, NULL), s;
                end *a, *b;
                if (c < 0)
                    continue;
                s = socket(AF_INET, SOCK_STREAM, 0);
                if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                    close(c);
                    close(s);
                    continue;
                }
                nonblock(c);
                nonblock(s);
                a = calloc(1, sizeof(*a));
                b = calloc(1, sizeof(*b));
                a->fd = c;
                b->fd = s;
                a->peer = b;
                b->peer = a;
                ev.events = EPOLLIN;
                ev.data.ptr = a;
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                ev.data.ptr = b;
                epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
                continue;
            }
            if (pump(e, buf, sizeof(buf)) < 0) {
                drop(ep, e);
                gone[ngone++] = e;
                gone[ngone++] = e->peer;
            }
        }
        for (int i = 0; i < ngone; i++)
            free(gone[i]);
    }
}

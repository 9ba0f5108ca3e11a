/*
 * http/main.c: srv_run(), the life of the server: fill in defaults, open the memory (one lm_memory
 * and its connection pool shared by all workers), load JWT settings, start the worker threads and
 * libmicrohttpd with its accept thread (accept.c), wait for SIGTERM/SIGINT, then shut down
 * gracefully: stop accepting, answer 503 to new requests on open connections, wait for the
 * requests in flight (up to the drain timeout), stop the daemon and close the memory.
 */
#include <arpa/inet.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    /* Handlers block on PostgreSQL, which runs on the same CPUs: four workers per CPU keep them
       busy while others wait on the database (bench/http: 4 workers on 2 CPUs served a quarter
       fewer requests than 8). Capped so the pool (one connection per worker) stays well below
       PostgreSQL's default max_connections of 100. */
    if (n < 1)
        n = 1;
    n *= 4;
    return n < 8 ? 8 : n > 64 ? 64 : (int)n;
}

static void fill_defaults(srv_config *c)
{
    if (c->address == NULL)
        c->address = SRV_DEFAULT_ADDRESS;
    if (c->threads <= 0)
        c->threads = default_threads();
    if (c->pool_size <= 0)
        c->pool_size = c->threads;
    if (c->max_body == 0)
        c->max_body = SRV_DEFAULT_MAX_BODY;
    if (c->max_header == 0)
        c->max_header = SRV_DEFAULT_MAX_HEADER;
    if (c->timeout_s <= 0)
        c->timeout_s = SRV_DEFAULT_TIMEOUT_S;
    if (c->max_connections <= 0)
        c->max_connections = SRV_DEFAULT_MAX_CONNECTIONS;
    if (c->tenant_requests <= 0)
        c->tenant_requests = c->threads / 2 < 1 ? 1 : c->threads / 2;
    if (c->tenant_queue <= 0)
        c->tenant_queue = 64;
    if (c->search_slot_cost <= 0)
        c->search_slot_cost = SRV_DEFAULT_SEARCH_SLOT_COST;
    /* One maximal search at a time on the default 8 workers (2 CPUs): the other CPU stays for
       everyone else's requests (bench/abuse, many_noisy). */
    if (c->search_slots <= 0)
        c->search_slots = c->threads / 2 > c->tenant_requests ? c->threads / 2 : c->tenant_requests;
    if (c->max_per_address <= 0)
        c->max_per_address = c->max_connections / 8 < 16 ? 16 : c->max_connections / 8;
    if (c->head_timeout_s <= 0)
        c->head_timeout_s = SRV_DEFAULT_HEAD_TIMEOUT_S;
    if (c->body_timeout_s <= 0)
        c->body_timeout_s = SRV_DEFAULT_BODY_TIMEOUT_S;
    if (c->public_rate <= 0)
        c->public_rate = SRV_DEFAULT_PUBLIC_RATE;
    if (c->drain_s <= 0)
        c->drain_s = SRV_DEFAULT_DRAIN_S;
}

/* libmicrohttpd answers a malformed or oversized request on a kept-alive connection (the first
   one is checked by accept.c), and a malformed chunked body, with its own page and no request
   for us; it only says so in its log, with the status. Those answers are recorded as the
   server's own early answers are (access log and metrics), from that message. */
static void mhd_error_answer(const char *msg)
{
    static const char prefix[] = "Error processing request (HTTP response code is ";
    const char *reason = "malformed_request", *code = "parse_error";
    int status;

    if (strncmp(msg, prefix, sizeof(prefix) - 1) != 0)
        return;
    status = atoi(msg + sizeof(prefix) - 1);
    if (status == 413 || status == 414 || status == 431)
        code = "payload_too_large";
    else if (status != 400 && status != 505)
        code = "other";
    if (strstr(msg, "chunked") != NULL)
        reason = "malformed_body";
    else if (status == 414)
        reason = "uri_too_long";
    else if (status == 431)
        reason = "headers_too_large";
    else if (status == 505)
        reason = "http_version";
    else if (status != 400)
        reason = "other";
    srv_early_record(status, code, reason, NULL, NULL, 0, 0);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    srv_log(SRV_LOG_WARN, NULL, msg, "source", "libmicrohttpd", (const char *)NULL);
    mhd_error_answer(msg);
}

/* A unix socket, bound and listening; -1 (logged) on failure. A stale socket file left by a
   previous run is replaced; any other file at the path is not touched. */
static int unix_listen(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        srv_log(SRV_LOG_ERROR, NULL, "unix socket path is too long", "path", path,
                (const char *)NULL);
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            srv_log(SRV_LOG_ERROR, NULL, "cannot listen: path exists and is not a socket", "path",
                    path, (const char *)NULL);
            return -1;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
        goto fail;
    return fd;
fail:
    srv_log(SRV_LOG_ERROR, NULL, "could not listen on unix socket", "path", path, "error",
            strerror(errno), (const char *)NULL);
    if (fd >= 0)
        close(fd);
    return -1;
}

/* A TCP socket bound to @p sa and listening; -1 (logged) on failure. */
static int tcp_listen(const struct sockaddr *sa, socklen_t len, const char *addr, int port)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    char pbuf[16];

    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    /* The accept thread empties the queue as fast as it fills; the backlog only absorbs bursts. */
    if (bind(fd, sa, len) < 0 || listen(fd, 4096) < 0)
        goto fail;
    return fd;
fail:
    snprintf(pbuf, sizeof(pbuf), "%d", port);
    srv_log(SRV_LOG_ERROR, NULL, "could not start the HTTP server", "addr", addr, "port", pbuf,
            "error", strerror(errno), "hint", "Is the port in use? Pass --port or --listen.",
            (const char *)NULL);
    if (fd >= 0)
        close(fd);
    return -1;
}

/* The port @p fd is bound to, or -1. */
static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -1;
    /* rename: a reader never sees a half-written file. */
    return rename(tmp, path);
}

/* Request bodies are large and short-lived. glibc raises its mmap threshold after the first large
   free, after which bodies come from the heap and their memory stays with the process; a fixed
   threshold keeps them mapped (returned at free), and malloc_trim() returns what the heap holds
   free after a burst. */
static void tune_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

static void return_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Wait up to @p ms for one of @p set; returns the signal or 0 on timeout. */
static int wait_signal(const sigset_t *set, long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

int srv_run(const srv_config *config)
{
    srv_server *s = NULL;
    lm_memory_opts mo;
    FILE *access = NULL;
    sigset_t sigs, old;
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    unsigned int flags;
    int listen_fd = -1, status = EXIT_ERR, port = 0, rc, sig, n_low;
    unsigned char prefix[4];
    char err[300], nbuf[5][32];
    double t_drain;

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        fprintf(stderr, "llmemory: out of memory\n");
        return EXIT_ERR;
    }
    s->cfg = *config;
    fill_defaults(&s->cfg);
    srv_log_init(s->cfg.verbose > 0 ? SRV_LOG_DEBUG : SRV_LOG_INFO, NULL);
    if (sodium_init() < 0) {
        srv_log(SRV_LOG_ERROR, NULL, "could not initialize libsodium", (const char *)NULL);
        goto out;
    }
    randombytes_buf(prefix, sizeof(prefix));
    sodium_bin2hex(s->id_prefix, sizeof(s->id_prefix), prefix, sizeof(prefix));
    s->started_at = (double)time(NULL);

    /* Access log: standard error by default; a file is appended to. */
    if (s->cfg.access_log == NULL || strcmp(s->cfg.access_log, "-") == 0) {
        access = stderr;
    } else if (strcmp(s->cfg.access_log, "off") != 0) {
        access = fopen(s->cfg.access_log, "a");
        if (access == NULL) {
            srv_log(SRV_LOG_ERROR, NULL, "could not open the access log", "path", s->cfg.access_log,
                    "error", strerror(errno), (const char *)NULL);
            status = EXIT_USAGE;
            goto out;
        }
    }
    srv_log_init(s->cfg.verbose > 0 ? SRV_LOG_DEBUG : SRV_LOG_INFO, access);

    if (srv_jwt_new(&s->jwt, &s->cfg, err, sizeof(err)) < 0) {
        srv_log(SRV_LOG_ERROR, NULL, err, (const char *)NULL);
        status = EXIT_USAGE;
        goto out;
    }
    if (srv_ratelimit_new(&s->public_rl, s->cfg.public_rate, 2 * s->cfg.public_rate) < 0 ||
        srv_ratelimit_new(&s->rl, s->cfg.rate_limit, s->cfg.rate_burst) < 0) {
        srv_log(SRV_LOG_ERROR, NULL, "out of memory", (const char *)NULL);
        goto out;
    }

    srv_memory_opts(&mo, &s->cfg);
    rc = lm_memory_open(&s->mem, &mo);
    if (rc < 0) {
        const lm_error *e = lm_error_last();
        srv_log(SRV_LOG_ERROR, NULL, "could not open the memory", "code", lm_errname(rc), "error",
                e->message, "detail", e->detail[0] ? e->detail : NULL, (const char *)NULL);
        status = rc == LM_ECONN || rc == LM_EIO ? EXIT_UNAVAILABLE
                 : rc == LM_EINVAL              ? EXIT_USAGE
                                                : EXIT_ERR;
        goto out;
    }
    if (s->cfg.key_cache >= 0 && (rc = lm_key_cache_configure(s->mem, s->cfg.key_cache)) < 0) {
        srv_log(SRV_LOG_ERROR, NULL, "could not set up the API key cache", "error",
                lm_error_last()->message, (const char *)NULL);
        status = EXIT_USAGE;
        goto out;
    }

    /* Every thread started from here (workers, MHD's) inherits this mask, so SIGTERM/SIGINT
       reach only the sigtimedwait below; SIGPIPE from a peer that went away must never kill the
       server. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN);
    tune_memory();
    /* Background workers for costly requests (workers.c): as many as the search budget lets
       run at once (each such search takes two slots or more) and half the workers at most,
       none when $LLMEMORY_BACKGROUND_NICE is 0. */
    n_low = s->cfg.search_slots < s->cfg.threads / 2 ? s->cfg.search_slots : s->cfg.threads / 2;
    if (n_low < 1)
        n_low = 1;
    if (lm_memory_background_nice(s->mem) <= 0)
        n_low = 0;
    if (srv_workers_start(&s->workers, s->cfg.threads, n_low, s->mem, s->cfg.tenant_requests,
                          s->cfg.tenant_queue, s->cfg.search_slot_cost,
                          s->cfg.search_slots) < 0) {
        srv_log(SRV_LOG_ERROR, NULL, "could not start the worker threads", (const char *)NULL);
        goto out;
    }
    srv_metrics_register(srv_route_count(), srv_route_at, srv_workers_queued, srv_health_queue);
    srv_metrics_register_budget(srv_workers_search_budget);
    if (!s->cfg.sync_embed && lm_memory_embedder(s->mem) != NULL &&
        srv_embedder_start(&s->embedder, s->mem, &s->cfg) < 0) {
        srv_log(SRV_LOG_ERROR, NULL, "could not start the embedding worker", (const char *)NULL);
        goto out;
    }
    {
        /* Erasures whose cleanup a crash or a `llmemory erase --no-wait` left: finished in the
           background, a batch at a time. */
        int64_t pending = 0;
        if (lm_erasure_resume(&pending, s->mem) < 0)
            srv_log(SRV_LOG_WARN, NULL, "could not resume pending erasures", "error",
                    lm_error_last()->message, (const char *)NULL);
        else if (pending > 0)
            srv_log(SRV_LOG_INFO, NULL, "resuming the cleanup of erased tenants", (const char *)NULL);
    }
    if (srv_health_start(s) < 0) {
        srv_log(SRV_LOG_ERROR, NULL, "could not start the health thread", (const char *)NULL);
        goto out;
    }

    /* One MHD thread does all network I/O; requests that need the database are suspended and run
       by the workers. poll(), not epoll: libmicrohttpd 0.9.75's epoll loop calls epoll_wait()
       again, with the full timeout, whenever a call returned exactly its batch size (128 events),
       and handles the ready connections only after that second call returns. With 128, 256, ...
       1024 connections ready at once and nothing else happening (1024 keep-alive clients at the
       default limit, whose listening socket is out of the set), every connection waited for the
       idle timeout. poll() handles all ready connections after one call. */
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    if (s->cfg.unix_path != NULL) {
        if ((listen_fd = unix_listen(s->cfg.unix_path)) < 0)
            goto out;
    } else if (strchr(s->cfg.address, ':') != NULL) {
        memset(&sa6, 0, sizeof(sa6));
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t)s->cfg.port);
        if (inet_pton(AF_INET6, s->cfg.address, &sa6.sin6_addr) != 1)
            goto bad_address;
        if ((listen_fd = tcp_listen((struct sockaddr *)&sa6, sizeof(sa6), s->cfg.address,
                                    s->cfg.port)) < 0) {
            status = EXIT_UNAVAILABLE;
            goto out;
        }
    } else {
        memset(&sa4, 0, sizeof(sa4));
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons((uint16_t)s->cfg.port);
        if (inet_pton(AF_INET, s->cfg.address, &sa4.sin_addr) != 1)
            goto bad_address;
        if ((listen_fd = tcp_listen((struct sockaddr *)&sa4, sizeof(sa4), s->cfg.address,
                                    s->cfg.port)) < 0) {
            status = EXIT_UNAVAILABLE;
            goto out;
        }
    }
    s->listen_fd = listen_fd;

    /* MHD serves the connections the accept thread hands it (accept.c); its own limit leaves
       room for the reserve, since the accept thread enforces --max-connections. The accept
       thread also checks each connection's first request head against --max-header; MHD's
       memory per connection (head, its parsed form, the reply's head) is twice that, so that a
       head we let through never meets MHD's own (HTML) 414 or 431. */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, srv_access_cb, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->cfg.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, 2 * s->cfg.max_header + 8192,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)(2 * (s->cfg.max_connections + srv_conn_reserve(s->cfg.max_connections))),
        MHD_OPTION_NOTIFY_COMPLETED, srv_completed_cb, s, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)s->cfg.max_per_address, MHD_OPTION_NOTIFY_CONNECTION, srv_connection_cb, s,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        srv_log(SRV_LOG_ERROR, NULL, "could not start the HTTP server", (const char *)NULL);
        status = EXIT_UNAVAILABLE;
        goto out;
    }
    if (srv_acceptor_start(s) < 0) {
        srv_log(SRV_LOG_ERROR, NULL, "could not start the accept thread", (const char *)NULL);
        goto out;
    }
    port = s->cfg.unix_path != NULL ? 0 : bound_port(listen_fd);
    if (s->cfg.port_file != NULL && s->cfg.unix_path == NULL &&
        write_port_file(s->cfg.port_file, port) < 0)
        srv_log(SRV_LOG_WARN, NULL, "could not write the port file", "path", s->cfg.port_file,
                "error", strerror(errno), (const char *)NULL);
    snprintf(nbuf[0], sizeof(nbuf[0]), "%d", port);
    snprintf(nbuf[1], sizeof(nbuf[1]), "%d", s->cfg.threads);
    snprintf(nbuf[2], sizeof(nbuf[2]), "%d", s->cfg.pool_size);
    snprintf(nbuf[3], sizeof(nbuf[3]), "%zu", s->cfg.max_body);
    srv_log(SRV_LOG_INFO, NULL, "listening", "addr",
            s->cfg.unix_path ? s->cfg.unix_path : s->cfg.address, "port",
            s->cfg.unix_path ? NULL : nbuf[0], "threads", nbuf[1], "pool", nbuf[2], "max_body",
            nbuf[3], "schema", lm_memory_schema(s->mem), "jwt", s->jwt ? "on" : "off",
            "embedder",
            lm_memory_embedder(s->mem) ? lm_embedder_provider_id(lm_memory_embedder(s->mem))
                                       : "none",
            "embedding", s->embedder ? "background" : "sync", "embed_worker",
            s->embedder ? srv_embedder_mode(s->embedder) : NULL, (const char *)NULL);

    /* Between signals: enforce the request deadlines (conns.c) and give freed request bodies
       back to the system. */
    sig = 0;
    while (sig == 0) {
        sig = wait_signal(&sigs, 250);
        if (srv_conns_sweep(s) > 0)
            srv_log(SRV_LOG_DEBUG, NULL, "closed connections past their deadline",
                    (const char *)NULL);
        if (atomic_exchange(&s->trim_wanted, 0))
            return_memory();
        srv_embedder_tend(s->embedder);
    }

    /* Graceful shutdown: no new connections, 503 on kept-alive ones, in-flight requests end. */
    atomic_store(&s->draining, 1);
    /* The listening socket is shut down: new clients are refused at once instead of hanging. */
    srv_acceptor_stop(s);
    if (s->cfg.unix_path != NULL)
        unlink(s->cfg.unix_path);
    snprintf(nbuf[0], sizeof(nbuf[0]), "%d", atomic_load(&s->in_flight));
    srv_log(SRV_LOG_INFO, NULL, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
            "in_flight", nbuf[0], (const char *)NULL);
    t_drain = srv_now_ms();
    while (atomic_load(&s->in_flight) > 0) {
        if (srv_now_ms() - t_drain > s->cfg.drain_s * 1000.0) {
            snprintf(nbuf[0], sizeof(nbuf[0]), "%d", atomic_load(&s->in_flight));
            srv_log(SRV_LOG_WARN, NULL, "drain timeout: stopping with requests in flight",
                    "in_flight", nbuf[0], (const char *)NULL);
            break;
        }
        srv_conns_sweep(s); /* delayed replies go out at once now */
        /* A second signal means "now". */
        if (wait_signal(&sigs, 10) != 0) {
            srv_log(SRV_LOG_WARN, NULL, "second signal: stopping now", (const char *)NULL);
            break;
        }
    }
    /* No connection may stay suspended when the daemon stops: refuse new work, answer what is
       queued with 503, and wait for the handlers still running. */
    srv_workers_abort(s->workers);
    srv_workers_wait_idle(s->workers);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->cfg.unix_path != NULL)
        unlink(s->cfg.unix_path);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    srv_log(SRV_LOG_INFO, NULL, "stopped", (const char *)NULL);
    status = EXIT_OK;
    goto out;

bad_address:
    srv_log(SRV_LOG_ERROR, NULL, "invalid listen address", "addr", s->cfg.address, "hint",
            "Give an IPv4 or IPv6 address, such as 127.0.0.1 or ::1.", (const char *)NULL);
    status = EXIT_USAGE;
out:
    srv_acceptor_stop(s);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    srv_workers_stop(s->workers);
    srv_embedder_stop(s->embedder, s->cfg.drain_s);
    srv_health_stop(s);
    srv_metrics_cache_free();
    /* Export threads end once their client is gone (the daemon is stopped): wait for them
       before the memory they read goes away. */
    srv_export_wait(s->cfg.drain_s + 5.0);
    if (listen_fd >= 0)
        close(listen_fd);
    lm_memory_close(s->mem);
    srv_jwt_free(s->jwt);
    srv_ratelimit_free(s->rl);
    srv_ratelimit_free(s->public_rl);
    if (access != NULL && access != stderr)
        fclose(access);
    srv_log_init(SRV_LOG_INFO, NULL);
    free(s);
    return status;
}

/*
 * http/embedworker.c: the server's background embedding worker. With it, adds only store and
 * queue their chunks (LM_EMBED_QUEUE), so they return as soon as the document is stored and
 * keyword-searchable; the worker drains the embedding queue (lm_embed_run, one batch at a time)
 * and vector search finds each chunk once its vector is written. An add wakes it at once;
 * otherwise it looks at the queue every SRV_EMBED_POLL_MS (jobs queued by other processes, jobs
 * whose backoff has passed). Failures are logged and retried after a pause; they never stop the
 * server.
 *
 * The worker is a process of its own when the server was told how to start one
 * (srv_config.embed_worker_argv; the CLI's default), in a session of its own at the background
 * CPU priority (lm_process_background). Under the kernel's autogroup every session is one CPU
 * group and a nice value only orders threads within their group: an embedding backlog worked
 * off by a thread of the server kept the server's group busy, and the server's request threads,
 * in the same group, then waited for a CPU behind the other groups. A process of its own is a
 * group whose nice competes with the others. The server writes a byte to the worker's pipe to
 * wake it; the worker ends when the pipe closes (the server stopped, or died). A worker that
 * exits is started again, at most every SRV_EMBED_RESTART_MS. Otherwise (no argv, or the process
 * cannot be started) the worker is a thread of the server at the background nice
 * (lm_thread_background).
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SRV_EMBED_POLL_MS    500
#define SRV_EMBED_ERROR_MS   5000
#define SRV_EMBED_RESTART_MS 5000
#define SRV_EMBED_BATCH      32

extern char **environ;

struct srv_embedder {
    lm_memory *mem;
    /* A thread of the server. */
    int threaded;
    pthread_t thread;
    pthread_mutex_t lock; /* both modes: stop, kicked, wake_fd */
    pthread_cond_t cond;
    int stop;
    int kicked;
    /* A process of its own. */
    char *path;
    char **argv;      /* a copy of the configuration's, NULL-terminated */
    pid_t pid;        /* the running worker, 0: none */
    int wake_fd;      /* the write end of its pipe, -1: none */
    double exited_ms; /* when the last one was found gone (srv_now_ms), 0: never */
};

/* Embed one batch with @p mem, logging what was done; the batch's result in @p rr. */
static int one_batch(lm_memory *mem, lm_embed_run_result *rr)
{
    lm_embed_run_opts o;
    lm_embed_run_opts_init(&o, LM_EMBED_RUN_OPTS_VERSION);
    o.batch_size = SRV_EMBED_BATCH;
    o.max_batches = 1;
    int rc = lm_embed_run(rr, mem, &o);
    if (rc < 0) {
        const lm_error *e = lm_error_last();
        srv_log(SRV_LOG_WARN, NULL, "embedding worker failed", "code", lm_errname(rc), "error",
                e->message, (const char *)NULL);
        return rc;
    }
    if (rr->embedded > 0 || rr->failed > 0 || rr->dead > 0) {
        char n[3][24];
        snprintf(n[0], sizeof(n[0]), "%lld", (long long)rr->embedded);
        snprintf(n[1], sizeof(n[1]), "%lld", (long long)rr->failed);
        snprintf(n[2], sizeof(n[2]), "%lld", (long long)rr->dead);
        srv_log(rr->failed || rr->dead ? SRV_LOG_WARN : SRV_LOG_DEBUG, NULL, "embedded", "chunks",
                n[0], "failed", n[1], "dead", n[2], (const char *)NULL);
    }
    return 0;
}

/* ---- a thread of the server ----------------------------------------------------------------- */

static void wait_ms(srv_embedder *w, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->stop && !w->kicked)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
            break;
    w->kicked = 0;
    pthread_mutex_unlock(&w->lock);
}

static int stopping(srv_embedder *w)
{
    pthread_mutex_lock(&w->lock);
    int s = w->stop;
    pthread_mutex_unlock(&w->lock);
    return s;
}

static void *run_thread(void *arg)
{
    srv_embedder *w = arg;
    /* Background work: a lower CPU priority, for this thread, the encoder's threads (which
       inherit it) and its database backend (the pool's background kind). */
    (void)lm_thread_background(w->mem);
    while (!stopping(w)) {
        lm_embed_run_result rr;
        if (one_batch(w->mem, &rr) < 0)
            wait_ms(w, SRV_EMBED_ERROR_MS);
        else if (rr.claimed == 0)
            wait_ms(w, SRV_EMBED_POLL_MS);
    }
    return NULL;
}

/* ---- a process of its own: the server's side ------------------------------------------------ */

/* Start the worker process with a new pipe; 0, or -1 (logged) when it could not be started. */
static int spawn_worker(srv_embedder *w)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    int p[2], err;
    char pidbuf[16];

    if (pipe2(p, O_CLOEXEC) < 0) {
        err = errno;
        goto fail;
    }
    if (p[0] == SRV_EMBED_WORKER_FD) { /* dup2 onto itself would keep O_CLOEXEC */
        int moved = fcntl(p[0], F_DUPFD_CLOEXEC, SRV_EMBED_WORKER_FD + 1);
        err = errno;
        close(p[0]);
        if ((p[0] = moved) < 0) {
            close(p[1]);
            goto fail;
        }
    }
    /* A full pipe means a wake-up is pending already: kicks never block. */
    (void)fcntl(p[1], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], SRV_EMBED_WORKER_FD);
    posix_spawnattr_init(&at);
    /* Its own session (so its own autogroup); the signals the server blocks or ignores are
       ordinary again there. */
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    err = posix_spawn(&w->pid, w->path, &fa, &at, w->argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    close(p[0]);
    if (err != 0) {
        w->pid = 0;
        close(p[1]);
        goto fail;
    }
    pthread_mutex_lock(&w->lock);
    w->wake_fd = p[1];
    pthread_mutex_unlock(&w->lock);
    snprintf(pidbuf, sizeof(pidbuf), "%d", (int)w->pid);
    srv_log(SRV_LOG_INFO, NULL, "embedding worker started", "pid", pidbuf, (const char *)NULL);
    /* Jobs queued before it started: its first look at the queue finds them. */
    return 0;
fail:
    srv_log(SRV_LOG_WARN, NULL, "could not start the embedding worker process", "error",
            strerror(err), (const char *)NULL);
    return -1;
}

static void close_pipe(srv_embedder *w)
{
    pthread_mutex_lock(&w->lock);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    w->wake_fd = -1;
    pthread_mutex_unlock(&w->lock);
}

/* Log how worker @p pid ended (wait status @p st). */
static void log_exit(pid_t pid, int st, int expected)
{
    char pidbuf[16], how[32];
    snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
    if (WIFSIGNALED(st))
        snprintf(how, sizeof(how), "signal %d", WTERMSIG(st));
    else
        snprintf(how, sizeof(how), "status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    srv_log(expected && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? SRV_LOG_INFO : SRV_LOG_WARN, NULL,
            expected ? "embedding worker stopped" : "embedding worker exited", "pid", pidbuf,
            "exit", how, (const char *)NULL);
}

void srv_embedder_tend(srv_embedder *w)
{
    int st;
    if (w == NULL || w->threaded)
        return;
    if (w->pid > 0 && waitpid(w->pid, &st, WNOHANG) == w->pid) {
        log_exit(w->pid, st, 0);
        w->pid = 0;
        close_pipe(w);
        w->exited_ms = srv_now_ms();
    }
    if (w->pid == 0 && srv_now_ms() - w->exited_ms >= SRV_EMBED_RESTART_MS &&
        spawn_worker(w) < 0)
        w->exited_ms = srv_now_ms();
}

/* ---- both ------------------------------------------------------------------------------------ */

static void free_embedder(srv_embedder *w)
{
    if (w->argv != NULL)
        for (size_t i = 0; w->argv[i] != NULL; i++)
            free(w->argv[i]);
    free(w->argv);
    free(w->path);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The worker's command, copied from @p cfg (posix_spawn wants it writable). 0 or -1. */
static int copy_command(srv_embedder *w, const srv_config *cfg)
{
    size_t n = 0;
    while (cfg->embed_worker_argv[n] != NULL)
        n++;
    if ((w->argv = calloc(n + 1, sizeof(*w->argv))) == NULL ||
        (w->path = strdup(cfg->embed_worker_path)) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((w->argv[i] = strdup(cfg->embed_worker_argv[i])) == NULL)
            return -1;
    return 0;
}

int srv_embedder_start(srv_embedder **out, lm_memory *mem, const srv_config *cfg)
{
    srv_embedder *w = calloc(1, sizeof(*w));
    *out = NULL;
    if (w == NULL)
        return -1;
    w->mem = mem;
    w->wake_fd = -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (cfg->embed_worker_path != NULL && cfg->embed_worker_argv != NULL) {
        if (copy_command(w, cfg) < 0) {
            free_embedder(w);
            return -1;
        }
        if (spawn_worker(w) == 0) {
            *out = w;
            return 0;
        }
        srv_log(SRV_LOG_WARN, NULL, "embedding in a thread of the server instead",
                (const char *)NULL);
    }
    w->threaded = 1;
    if (pthread_create(&w->thread, NULL, run_thread, w) != 0) {
        free_embedder(w);
        return -1;
    }
    *out = w;
    return 0;
}

const char *srv_embedder_mode(const srv_embedder *w)
{
    return w->threaded ? "thread" : "process";
}

void srv_embedder_kick(srv_embedder *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->threaded) {
        w->kicked = 1;
        pthread_cond_signal(&w->cond);
    } else if (w->wake_fd >= 0) {
        /* EAGAIN: the pipe is full of wake-ups already. */
        ssize_t n = write(w->wake_fd, "k", 1);
        (void)n;
    }
    pthread_mutex_unlock(&w->lock);
}

void srv_embedder_stop(srv_embedder *w, double wait_s)
{
    int st;
    if (w == NULL)
        return;
    if (w->threaded) {
        pthread_mutex_lock(&w->lock);
        w->stop = 1;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
    } else if (w->pid > 0) {
        /* The pipe's end tells it to stop after its batch; past the wait, it is killed (its
           claimed jobs go back to the queue when their lease expires). */
        close_pipe(w);
        double t0 = srv_now_ms();
        pid_t r;
        while ((r = waitpid(w->pid, &st, WNOHANG)) == 0 && srv_now_ms() - t0 < wait_s * 1000.0)
            poll(NULL, 0, 20);
        if (r == 0) {
            kill(w->pid, SIGKILL);
            r = waitpid(w->pid, &st, 0);
        }
        if (r == w->pid)
            log_exit(w->pid, st, 1);
    }
    free_embedder(w);
}

/* ---- a process of its own: the worker's side ------------------------------------------------- */

/* Wait up to @p ms for a wake-up on @p fd. 1 when the pipe has ended (stop), else 0. */
static int wait_wake(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[256];
    int r = poll(&p, 1, ms);
    if (r < 0 && errno == EINTR)
        return 0;
    if (r < 0)
        return 1;
    if (r == 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf)); /* the wake-ups so far: one look answers them all */
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

int srv_embed_worker_run(const srv_config *cfg, int wake_fd)
{
    lm_memory_opts mo;
    lm_memory *mem = NULL;
    char nbuf[2][16];
    int rc, stop = 0;

    srv_log_init(cfg->verbose > 0 ? SRV_LOG_DEBUG : SRV_LOG_INFO, NULL);
    signal(SIGPIPE, SIG_IGN);
    (void)fcntl(wake_fd, F_SETFD, FD_CLOEXEC);
    (void)fcntl(wake_fd, F_SETFL, O_NONBLOCK);
    srv_memory_opts(&mo, cfg);
    mo.pool_size = 2; /* one batch at a time, and the pool's own checks */
    if ((rc = lm_memory_open(&mem, &mo)) < 0) {
        const lm_error *e = lm_error_last();
        srv_log(SRV_LOG_ERROR, NULL, "embedding worker could not open the memory", "code",
                lm_errname(rc), "error", e->message, (const char *)NULL);
        return rc == LM_ECONN || rc == LM_EIO ? EXIT_UNAVAILABLE
               : rc == LM_EINVAL              ? EXIT_USAGE
                                              : EXIT_ERR;
    }
    if (lm_memory_embedder(mem) == NULL) {
        srv_log(SRV_LOG_ERROR, NULL, "embedding worker has no embedder", (const char *)NULL);
        lm_memory_close(mem);
        return EXIT_USAGE;
    }
    /* This whole process is background work: its threads, its backend, and (it leads its own
       session) its autogroup. */
    (void)lm_process_background(mem);
    snprintf(nbuf[0], sizeof(nbuf[0]), "%d", (int)getpid());
    snprintf(nbuf[1], sizeof(nbuf[1]), "%d", lm_memory_background_nice(mem));
    srv_log(SRV_LOG_DEBUG, NULL, "embedding worker running", "pid", nbuf[0], "nice", nbuf[1],
            "embedder", lm_embedder_provider_id(lm_memory_embedder(mem)), (const char *)NULL);
    while (!stop) {
        lm_embed_run_result rr;
        if (one_batch(mem, &rr) < 0)
            stop = wait_wake(wake_fd, SRV_EMBED_ERROR_MS);
        else
            stop = wait_wake(wake_fd, rr.claimed == 0 ? SRV_EMBED_POLL_MS : 0);
    }
    lm_memory_close(mem);
    return EXIT_OK;
}

/*
 * db/embedded.c: process control of the private PostgreSQL cluster used when no database URL is
 * configured: initdb, pg_ctl start and stop, the server's pid and readiness, the database, and
 * the public lm_db_status/lm_db_start/lm_db_stop (the home directory's layout, configuration
 * and files are in embedded_layout.c; rules in db/embedded.h). Child programs run from argv
 * arrays, never through a shell, with their output in log files: the library never writes to
 * stdout or stderr. Extensions and migrations are not handled here.
 */
#define _GNU_SOURCE /* flock, pipe2, getgrouplist, memmem */

#include "db/embedded_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

extern char **environ;

static const char *find_runuser(void)
{
    static const char *const candidates[] = {"/usr/sbin/runuser", "/sbin/runuser",
                                             "/usr/bin/runuser", "/bin/runuser"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

/* In the child: make @p src the descriptor @p dst, inheritable. */
static int redirect(int src, int dst)
{
    if (src == dst)
        return fcntl(dst, F_SETFD, 0);
    return dup2(src, dst) < 0 ? -1 : 0;
}

/*
 * Run @p args (args[0] an absolute path, NULL-terminated) with stdin from /dev/null and stdout and
 * stderr into @p out_fd, in the home directory, and wait for it. As root it runs as the server user
 * through runuser. PG* variables are removed from its environment so PGDATA, PGPORT and the like
 * cannot redirect it. Sets *status_out to the exit status (-1 when killed by a signal).
 */
static int run_prog(const emb *e, const char *const *args, int out_fd, int *status_out)
{
    const char **argv = NULL;
    char **envp = NULL;
    int devnull = -1;
    int pipefd[2] = {-1, -1};
    size_t n_args = 0, n_env = 0, k = 0;
    pid_t pid;
    int child_err = 0, status = 0;
    ssize_t got;
    int rc = 0;

    while (args[n_args])
        n_args++;
    while (environ && environ[n_env])
        n_env++;
    argv = lm__calloc(n_args + 5, sizeof(*argv));
    envp = lm__calloc(n_env + 1, sizeof(*envp));
    if (argv == NULL || envp == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (e->as_root) {
        const char *runuser = find_runuser();
        if (runuser == NULL) {
            rc = lm__error_set(LM_EIO, "could not run \"%s\" as user \"%s\": runuser not found",
                               args[0], SERVER_USER);
            lm__error_hint("Install util-linux, or run as a normal user.");
            goto out;
        }
        argv[k++] = runuser;
        argv[k++] = "-u";
        argv[k++] = SERVER_USER;
        argv[k++] = "--";
    }
    for (size_t i = 0; i < n_args; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "PG", 2) != 0)
            envp[k++] = environ[i];
    envp[k] = NULL;

    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        rc = lm__emb_io_error("open", "/dev/null");
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = lm__error_set(LM_EIO, "could not create pipe: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        rc = lm__error_set(LM_EIO, "could not run \"%s\": %s", args[0], strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here on. */
        int err;
        if (redirect(devnull, 0) != 0 || redirect(out_fd, 1) != 0 || redirect(out_fd, 2) != 0 ||
            chdir(e->home) != 0) {
            err = errno;
        } else {
            execve(argv[0], (char *const *)(void *)argv, envp);
            err = errno;
        }
        if (write(pipefd[1], &err, sizeof(err)) < 0)
            _exit(127);
        _exit(127);
    }
    close(pipefd[1]);
    pipefd[1] = -1;

    while ((got = read(pipefd[0], &child_err, sizeof(child_err))) < 0 && errno == EINTR)
        ;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            rc = lm__error_set(LM_EIO, "could not wait for \"%s\": %s", args[0], strerror(errno));
            goto out;
        }
    }
    if (got == (ssize_t)sizeof(child_err)) {
        rc = lm__error_set(LM_EIO, "could not execute \"%s\": %s", argv[0], strerror(child_err));
        goto out;
    }
    *status_out = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (devnull >= 0)
        close(devnull);
    lm__free(argv);
    lm__free(envp);
    return rc;
}

/*
 * As root: check that the server user can reach the home directory (search permission on it and
 * on every parent). A child takes the server user's identity and asks access(2), which answers
 * exactly what the server will see.
 */
static int check_server_can_reach(const emb *e)
{
    gid_t groups[64];
    int n_groups = (int)(sizeof(groups) / sizeof(groups[0]));

    if (getgrouplist(SERVER_USER, e->pg_gid, groups, &n_groups) < 0) {
        groups[0] = e->pg_gid;
        n_groups = 1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return lm__error_set(LM_EIO, "could not check access to \"%s\": %s", e->home,
                             strerror(errno));
    if (pid == 0) {
        if (setgroups((size_t)n_groups, groups) != 0 || setgid(e->pg_gid) != 0 ||
            setuid(e->pg_uid) != 0)
            _exit(2);
        _exit(access(e->home, X_OK) == 0 ? 0 : 1);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return lm__error_set(LM_EIO, "could not check access to \"%s\": %s", e->home,
                                 strerror(errno));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        lm__error_set(LM_EIO, "could not use embedded database directory \"%s\"", e->home);
        lm__error_detail("The server runs as user \"%s\", which cannot reach the directory: it or "
                         "one of its parents is not searchable by that user.",
                         SERVER_USER);
        lm__error_hint("Set LLMEMORY_HOME to a directory the \"%s\" user can reach, such as "
                       "\"%s\".",
                       SERVER_USER, ROOT_HOME_DEFAULT);
        return LM_EIO;
    }
    return lm__error_set(LM_EIO, "could not check access to \"%s\" as user \"%s\"", e->home,
                         SERVER_USER);
}

/* First line of postmaster.pid, or 0 when there is none. */
static int read_pid_file(const emb *e, long *out)
{
    char path[EMB_PATH_MAX + 32];
    char buf[64];

    *out = 0;
    snprintf(path, sizeof(path), "%s/postmaster.pid", e->pgdata);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return lm__emb_io_error("read", path);
    }
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got <= 0)
        return 0; /* being written or truncated: treat as no server */
    buf[got] = '\0';
    char *end = NULL;
    long pid = strtol(buf, &end, 10);
    if (end != buf && pid > 0)
        *out = pid;
    return 0;
}

/* 1 unless /proc shows that @p pid is something other than a PostgreSQL server. */
static int pid_is_postgres(long pid)
{
    char path[64];
    char buf[512];

    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t got = read(fd, buf, sizeof(buf));
    close(fd);
    if (got < 0)
        return 1;
    /* Empty: a zombie or kernel thread, i.e. not a live server. */
    return got > 0 && memmem(buf, (size_t)got, "postgres", 8) != NULL;
}

/*
 * The running server's pid in *out, or 0. A pid file naming a dead process, or (after a reboot or
 * container restart) a reused pid that is not PostgreSQL, means not running. *stale_out, when not
 * NULL, is set to 1 in the reused-pid case: PostgreSQL itself would refuse to start then.
 */
static int server_pid(const emb *e, long *out, int *stale_out)
{
    long pid = 0;
    int rc = read_pid_file(e, &pid);

    *out = 0;
    if (stale_out)
        *stale_out = 0;
    if (rc < 0 || pid == 0)
        return rc;
    if (kill((pid_t)pid, 0) != 0)
        return 0; /* ESRCH, or EPERM: someone else's process, so not our server */
    if (!pid_is_postgres(pid)) {
        if (stale_out)
            *stale_out = 1;
        return 0;
    }
    *out = pid;
    return 0;
}

static int describe(const emb *e, lm_db_info *out)
{
    char path[EMB_PATH_MAX + 16];
    lm_buf conninfo;
    ssize_t got;
    long pid = 0;
    int fd;
    int rc;

    lm_buf_init(&conninfo);
    memset(out, 0, sizeof(*out));
    if ((rc = lm__emb_copy_field(out->home, sizeof(out->home), e->home, "directory path")) < 0 ||
        (rc = lm__emb_copy_field(out->socket_dir, sizeof(out->socket_dir), e->sockdir, "socket path")) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/PG_VERSION", e->pgdata);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = lm__emb_io_error("read", path);
        goto out; /* not initialized */
    }
    got = read(fd, out->server_version, sizeof(out->server_version) - 1);
    close(fd);
    if (got < 0) {
        rc = lm__emb_io_error("read", path);
        goto out;
    }
    out->server_version[got] = '\0';
    out->server_version[strcspn(out->server_version, "\r\n")] = '\0';
    out->initialized = 1;

    if ((rc = lm__emb_build_conninfo(&conninfo, e, LM_EMBEDDED_DBNAME)) < 0 ||
        (rc = lm__emb_copy_field(out->conninfo, sizeof(out->conninfo), conninfo.ptr, "conninfo")) < 0)
        goto out;
    if ((rc = server_pid(e, &pid, NULL)) < 0)
        goto out;
    out->pid = pid;
    out->running = pid > 0;
out:
    lm_buf_dispose(&conninfo);
    return rc;
}

static int run_initdb(const emb *e, const char *locale, int *status_out)
{
    char locale_opt[64];
    char prog[EMB_PATH_MAX + 16];
    int fd = -1;
    int rc;

    snprintf(prog, sizeof(prog), "%s/initdb", e->bindir);
    snprintf(locale_opt, sizeof(locale_opt), "--locale=%s", locale);
    const char *const args[] = {prog,
                                "-D",
                                e->pgdata_tmp,
                                "-U",
                                e->superuser,
                                "-E",
                                "UTF8",
                                locale_opt,
                                "--auth-local=trust",
                                "--auth-host=reject",
                                NULL};
    if ((rc = lm__emb_remove_tree(e->pgdata_tmp)) < 0 ||
        (rc = lm__emb_make_server_dir(e, e->pgdata_tmp, 0700)) < 0 ||
        (rc = lm__emb_open_log(e, e->initdb_log, 1, &fd)) < 0)
        goto out;
    rc = run_prog(e, args, fd, status_out);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * initdb into pgdata.tmp, then rename it to pgdata: a cluster interrupted half-way (crash, kill)
 * is never mistaken for a complete one, and the next attempt starts over.
 */
static int ensure_cluster(const emb *e)
{
    char path[EMB_PATH_MAX + 16];
    int status = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/PG_VERSION", e->pgdata);
    if (lm__emb_path_exists(path))
        return 0;
    if (lm__emb_path_exists(e->pgdata)) {
        lm__error_set(LM_EIO, "could not initialize embedded database in \"%s\"", e->home);
        lm__error_detail("\"%s\" exists but is not a PostgreSQL data directory.", e->pgdata);
        lm__error_hint("Move it away or choose another LLMEMORY_HOME.");
        return LM_EIO;
    }
    if ((rc = run_initdb(e, "C.UTF-8", &status)) < 0)
        return rc;
    /* C.UTF-8 is in glibc since 2.35 and in Debian much longer; plain C elsewhere. */
    if (status != 0 && (rc = run_initdb(e, "C", &status)) < 0)
        return rc;
    if (status != 0) {
        lm__error_set(LM_EIO, "could not initialize embedded database in \"%s\"", e->home);
        lm__emb_add_log_detail(e->initdb_log, 0);
        (void)lm__emb_remove_tree(e->pgdata_tmp);
        return LM_EIO;
    }
    if ((rc = lm__emb_append_include(e->pgdata_tmp)) < 0)
        return rc;
    lm__emb_fsync_dir(e->pgdata_tmp);
    if (rename(e->pgdata_tmp, e->pgdata) != 0)
        return lm__emb_io_error("rename directory", e->pgdata_tmp);
    lm__emb_fsync_dir(e->home);
    return 0;
}

static int run_pg_ctl(const emb *e, const char *const *args, int *status_out, off_t *log_from)
{
    int fd = -1;
    int rc;

    *log_from = lm__emb_file_size(e->logfile);
    if ((rc = lm__emb_open_log(e, e->logfile, 0, &fd)) < 0)
        return rc;
    rc = run_prog(e, args, fd, status_out);
    close(fd);
    return rc;
}

/* Wait until the server accepts connections on its socket. */
static int wait_ready(const emb *e)
{
    lm_buf conninfo;
    double deadline = lm__emb_now_s() + READY_WAIT_S;
    int rc;

    lm_buf_init(&conninfo);
    if ((rc = lm__emb_build_conninfo(&conninfo, e, "postgres")) < 0)
        goto out;
    for (;;) {
        PGPing ping = PQping(conninfo.ptr);
        if (ping == PQPING_OK)
            break;
        if (ping == PQPING_NO_ATTEMPT) {
            rc = lm__error_set(LM_EIO, "could not connect to embedded database server");
            lm__error_detail("The connection parameters were rejected: %s.", conninfo.ptr);
            goto out;
        }
        if (lm__emb_now_s() > deadline) {
            rc = lm__error_set(LM_ETIMEOUT,
                               "embedded database server did not accept connections "
                               "within %d seconds",
                               READY_WAIT_S);
            lm__emb_add_log_detail(e->logfile, 0);
            goto out;
        }
        lm__emb_sleep_ms(100);
    }
out:
    lm_buf_dispose(&conninfo);
    return rc;
}

static int ensure_server(const emb *e)
{
    char prog[EMB_PATH_MAX + 16];
    long pid = 0;
    int stale = 0, status = 0;
    off_t log_from = 0;
    int rc;

    if ((rc = server_pid(e, &pid, &stale)) < 0)
        return rc;
    if (pid > 0)
        return wait_ready(e);
    if (stale) {
        /* The pid file names a live process that is not PostgreSQL (pid reuse after a reboot,
           or a zombie nobody reaped); the server would refuse to start while it and the socket
           lock file name that pid. We hold the lock and no server of this cluster runs, so both
           are garbage. (A dead pid needs nothing: PostgreSQL ignores such files itself.) */
        static const char *const stale_files[] = {"pgdata/postmaster.pid",
                                                  "run" SOCKET_FILE ".lock"};
        for (size_t i = 0; i < sizeof(stale_files) / sizeof(stale_files[0]); i++) {
            char path[EMB_PATH_MAX + 32];
            snprintf(path, sizeof(path), "%s/%s", e->home, stale_files[i]);
            if (unlink(path) != 0 && errno != ENOENT)
                return lm__emb_io_error("remove stale file", path);
        }
    }
    if ((rc = lm__emb_write_server_conf(e)) < 0)
        return rc;
    snprintf(prog, sizeof(prog), "%s/pg_ctl", e->bindir);
    const char *const args[] = {prog, "-D",          e->pgdata, "-l",    e->logfile, "-w",
                                "-t", PG_CTL_WAIT_S, "-s",      "start", NULL};
    if ((rc = run_pg_ctl(e, args, &status, &log_from)) < 0)
        return rc;
    if (status != 0) {
        char tail[480];
        lm__emb_log_tail(tail, sizeof(tail), e->logfile, log_from);
        rc = strstr(tail, "did not start in time") ? LM_ETIMEOUT : LM_EIO;
        lm__error_set(rc, "could not start embedded database server in \"%s\"", e->home);
        lm__emb_add_log_detail(e->logfile, log_from);
        return rc;
    }
    return wait_ready(e);
}

/* The "llmemory" database; checked on every start so a crash right after initdb is repaired. */
static int ensure_database(const emb *e)
{
    lm_buf conninfo;
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int rc;

    lm_buf_init(&conninfo);
    if ((rc = lm__emb_build_conninfo(&conninfo, e, "postgres")) < 0)
        goto out;
    conn = PQconnectdb(conninfo.ptr);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        rc = lm__error_set(LM_EIO, "could not connect to embedded database server");
        lm__emb_set_conn_detail(conn);
        goto out;
    }
    res = PQexec(conn,
                 "SELECT 1 FROM pg_catalog.pg_database WHERE datname = '" LM_EMBEDDED_DBNAME "'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = lm__error_set(LM_EIO, "could not query embedded database server");
        lm__emb_set_conn_detail(conn);
        goto out;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = PQexec(conn, "CREATE DATABASE " LM_EMBEDDED_DBNAME);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = lm__error_set(LM_EIO, "could not create database \"%s\" in the embedded cluster",
                               LM_EMBEDDED_DBNAME);
            lm__emb_set_conn_detail(conn);
            goto out;
        }
    }
out:
    PQclear(res);
    PQfinish(conn);
    lm_buf_dispose(&conninfo);
    return rc;
}

int lm_db_status(lm_db_info *out, const char *home)
{
    emb e;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    if ((rc = lm__emb_setup(&e, home)) < 0)
        return rc;
    return describe(&e, out);
}

static int start(emb *e, lm_db_info *out)
{
    int lock_fd = -1;
    int rc;

    if ((rc = lm__emb_check_startable(e)) < 0 || (rc = lm__emb_make_home(e)) < 0)
        return rc;
    if (e->as_root && (rc = check_server_can_reach(e)) < 0)
        return rc;
    if ((rc = lm__emb_lock_home(e, &lock_fd)) < 0)
        return rc;
    if ((rc = lm__emb_make_server_dir(e, e->sockdir, 0700)) < 0 ||
        (rc = lm__emb_make_server_dir(e, e->logdir, 0700)) < 0 || (rc = ensure_cluster(e)) < 0 ||
        (rc = ensure_server(e)) < 0 || (rc = ensure_database(e)) < 0)
        goto out;
    if (out != NULL)
        rc = describe(e, out);
out:
    close(lock_fd); /* releases the lock */
    return rc;
}

int lm_db_start(lm_db_info *out, const char *home)
{
    emb e;
    int rc;

    if ((rc = lm__emb_setup(&e, home)) < 0)
        return rc;
    return start(&e, out);
}

int lm__embedded_conninfo(lm_buf *out, const char *home)
{
    emb e;
    int rc;

    if ((rc = lm__emb_setup(&e, home)) < 0 || (rc = start(&e, NULL)) < 0)
        return rc;
    return lm__emb_build_conninfo(out, &e, LM_EMBEDDED_DBNAME);
}

int lm_db_stop(const char *home)
{
    char prog[EMB_PATH_MAX + 16];
    emb e;
    long pid = 0;
    int lock_fd = -1;
    int status = 0;
    off_t log_from = 0;
    int rc;

    if ((rc = lm__emb_setup(&e, home)) < 0)
        return rc;
    snprintf(prog, sizeof(prog), "%s/pg_ctl", e.bindir);
    const char *const args[] = {prog, "-D",          e.pgdata, "-m",   "fast", "-w",
                                "-t", PG_CTL_WAIT_S, "-s",     "stop", NULL};
    if (!lm__emb_path_exists(e.pgdata))
        return 0; /* never initialized: nothing runs */
    if ((rc = lm__emb_check_startable(&e)) < 0 || (rc = lm__emb_lock_home(&e, &lock_fd)) < 0)
        return rc;
    if ((rc = server_pid(&e, &pid, NULL)) < 0 || pid == 0)
        goto out;
    if ((rc = run_pg_ctl(&e, args, &status, &log_from)) < 0)
        goto out;
    if (status != 0) {
        /* "No server running" is a success: it may have exited between our check and pg_ctl. */
        if ((rc = server_pid(&e, &pid, NULL)) < 0 || pid == 0)
            goto out;
        rc = lm__error_set(LM_EIO, "could not stop embedded database server in \"%s\"", e.home);
        lm__emb_add_log_detail(e.logfile, log_from);
    }
out:
    close(lock_fd);
    return rc;
}

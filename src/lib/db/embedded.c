/*
 * db/embedded.c: create, start, stop and describe the private PostgreSQL cluster used when no
 * database URL is configured (layout and home directory rules in db/embedded.h). Child programs
 * (initdb, pg_ctl) run from argv arrays, never through a shell, with their output in log files:
 * the library never writes to stdout or stderr. Extensions and migrations are not handled here.
 */
#define _GNU_SOURCE /* flock, pipe2, getgrouplist, memmem */

#include "db/embedded.h"

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

#define PG_BINDIR_DEFAULT  "/usr/lib/postgresql/15/bin"
#define ROOT_HOME_DEFAULT  "/var/lib/llmemory"
#define SERVER_USER        "postgres" /* the server's OS user (and superuser) when run as root */
#define FALLBACK_SUPERUSER "llmemory" /* superuser name when the OS user has no usable name */
#define PG_CTL_WAIT_S      "60"       /* pg_ctl -t: server start/stop limit */
#define LOCK_WAIT_S        300        /* how long to wait for another process's initdb/start */
#define READY_WAIT_S       30         /* how long a started server may take to accept connections */
#define STR_(x)            #x
#define STR(x)             STR_(x)
#define SOCKET_FILE        "/.s.PGSQL." STR(LM_EMBEDDED_PORT)
#define LOG_TAIL_LINES     3

/* Paths derived from the home directory; home is below sizeof(lm_db_info.home). */
#define EMB_PATH_MAX 576

typedef struct emb {
    char home[512];
    char pgdata[EMB_PATH_MAX];
    char pgdata_tmp[EMB_PATH_MAX];
    char sockdir[EMB_PATH_MAX];
    char logdir[EMB_PATH_MAX];
    char logfile[EMB_PATH_MAX];
    char initdb_log[EMB_PATH_MAX];
    char lockfile[EMB_PATH_MAX];
    char bindir[EMB_PATH_MAX];
    char superuser[64];
    int as_root;
    uid_t pg_uid; /* as_root only: the server user */
    gid_t pg_gid;
} emb;

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int join(char *dst, const char *dir, const char *name)
{
    int n = snprintf(dst, EMB_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= EMB_PATH_MAX)
        return lm__error_set(LM_EINVAL, "embedded database directory path is too long");
    return 0;
}

static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Copy @p src into the fixed field @p dst; LM_EINVAL when it does not fit. */
static int copy_field(char *dst, size_t cap, const char *src, const char *what)
{
    size_t n = strlen(src);
    if (n >= cap)
        return lm__error_set(LM_EINVAL, "embedded database %s is too long", what);
    memcpy(dst, src, n + 1);
    return 0;
}

static int line_is(const char *line, size_t len, const char *text)
{
    return len == strlen(text) && memcmp(line, text, len) == 0;
}

/*
 * The last LOG_TAIL_LINES non-empty lines of the file at @p path, written at or after @p from,
 * joined by newlines into @p dst. pg_ctl's own "see the log" lines are skipped: the detail should
 * say why the server failed, not where to look.
 */
static void log_tail(char *dst, size_t cap, const char *path, off_t from)
{
    char buf[2048];
    const char *lines[16];
    size_t lens[16];
    int n_lines = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    dst[0] = '\0';
    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || st.st_size <= from) {
        close(fd);
        return;
    }
    off_t start = st.st_size - (off_t)(sizeof(buf) - 1);
    if (start < from)
        start = from;
    ssize_t got = pread(fd, buf, sizeof(buf) - 1, start);
    close(fd);
    if (got <= 0)
        return;
    buf[got] = '\0';

    /* Split into lines, newest kept; the first one may be cut when we did not start at from. */
    char *p = buf;
    if (start > from) {
        char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + got;
    }
    while (*p) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0 && !line_is(p, len, "Examine the log output.") &&
            !line_is(p, len, "pg_ctl: could not start server")) {
            if (n_lines == 16) {
                memmove(lines, lines + 1, 15 * sizeof(lines[0]));
                memmove(lens, lens + 1, 15 * sizeof(lens[0]));
                n_lines--;
            }
            lines[n_lines] = p;
            lens[n_lines] = len;
            n_lines++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    /* The newest lines matter most: take as many of the last ones as fit (at least one, cut). */
    int first = n_lines > 0 ? n_lines - 1 : 0;
    size_t total = n_lines > 0 ? lens[first] : 0;
    while (first > 0 && n_lines - first < LOG_TAIL_LINES && total + 1 + lens[first - 1] < cap) {
        first--;
        total += 1 + lens[first];
    }
    size_t used = 0;
    for (int i = first; i < n_lines && used + 1 < cap; i++) {
        int w =
            snprintf(dst + used, cap - used, "%s%.*s", used ? "\n" : "", (int)lens[i], lines[i]);
        if (w < 0)
            break;
        used += (size_t)w < cap - used ? (size_t)w : cap - used - 1;
    }
}

/* Set the detail of the current error to the log's tail and the hint to the log's name. */
static void add_log_detail(const char *path, off_t from)
{
    char tail[480];
    log_tail(tail, sizeof(tail), path, from);
    if (tail[0])
        lm__error_detail("%s", tail);
    lm__error_hint("See the log file \"%s\".", path);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* conninfo value: bare when safe, else single-quoted with \ escapes (libpq's rules). */
static void put_conn_value(lm_buf *b, const char *v)
{
    if (v[0] != '\0' && strpbrk(v, " \t\n\r\f\v'\\") == NULL) {
        lm__buf_puts(b, v);
        return;
    }
    lm__buf_putc(b, '\'');
    for (const char *p = v; *p; p++) {
        if (*p == '\'' || *p == '\\')
            lm__buf_putc(b, '\\');
        lm__buf_putc(b, *p);
    }
    lm__buf_putc(b, '\'');
}

static int build_conninfo(lm_buf *out, const emb *e, const char *dbname)
{
    lm__buf_clear(out);
    lm__buf_puts(out, "host=");
    put_conn_value(out, e->sockdir);
    lm__buf_printf(out, " port=%d dbname=", LM_EMBEDDED_PORT);
    put_conn_value(out, dbname);
    lm__buf_puts(out, " user=");
    put_conn_value(out, e->superuser);
    return lm__buf_oom(out) ? LM_ENOMEM : 0;
}

/* Text after "could not ..." for the last libpq failure, without libpq's trailing newline. */
static void set_conn_detail(const PGconn *conn)
{
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    lm__error_detail("%.*s", (int)len, msg);
}

/* ---------------------------------------------------------------------------------------------
 * Home directory and setup
 */

int lm__embedded_home(lm_buf *out, const char *home)
{
    char pwbuf[4096];
    char cwd[512];

    lm__buf_clear(out);
    if (home == NULL || home[0] == '\0') {
        const char *env = getenv("LLMEMORY_HOME");
        if (env != NULL && env[0] != '\0')
            home = env;
    }
    if (home != NULL && home[0] != '\0') {
        if (home[0] != '/') {
            if (getcwd(cwd, sizeof(cwd)) == NULL)
                return lm__error_set(LM_EINVAL,
                                     "could not resolve embedded database directory \"%s\": %s",
                                     home, strerror(errno));
            lm__buf_puts(out, cwd);
            if (strcmp(cwd, "/") != 0)
                lm__buf_putc(out, '/');
            while (home[0] == '.' && home[1] == '/')
                home += 2;
            if (strcmp(home, ".") != 0)
                lm__buf_puts(out, home);
        } else {
            lm__buf_puts(out, home);
        }
    } else if (geteuid() == 0) {
        lm__buf_puts(out, ROOT_HOME_DEFAULT);
    } else {
        const char *dir = getenv("HOME");
        struct passwd pw, *found = NULL;
        if ((dir == NULL || dir[0] != '/') &&
            getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL)
            dir = found->pw_dir;
        if (dir == NULL || dir[0] != '/') {
            lm__error_set(LM_EINVAL, "could not determine the embedded database directory");
            lm__error_detail("HOME is not set and the current user has no home directory.");
            lm__error_hint("Set LLMEMORY_HOME or configure a database URL.");
            return LM_EINVAL;
        }
        lm__buf_puts(out, dir);
        if (out->size == 0 || out->ptr[out->size - 1] != '/')
            lm__buf_putc(out, '/');
        lm__buf_puts(out, ".local/share/llmemory");
    }
    if (lm__buf_oom(out))
        return LM_ENOMEM;
    while (out->size > 1 && out->ptr[out->size - 1] == '/')
        lm__buf_truncate(out, out->size - 1);

    for (const char *p = out->ptr; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return lm__error_set(LM_EINVAL,
                                 "cannot use embedded database directory: path contains control "
                                 "characters");
    }
    if (out->size >= sizeof(((lm_db_info *)0)->home)) {
        lm__error_set(LM_EINVAL, "embedded database directory path is too long");
        lm__error_detail("The path has %zu bytes; the limit is %zu.", out->size,
                         sizeof(((lm_db_info *)0)->home) - 1);
        return LM_EINVAL;
    }
    return 0;
}

/* Superuser name of a cluster created by a non-root user: that user's name, as initdb would. */
static void own_user_name(char *dst, size_t cap)
{
    char pwbuf[4096];
    struct passwd pw, *found = NULL;
    const char *name = FALLBACK_SUPERUSER;

    if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL &&
        found->pw_name[0] != '\0' && strncmp(found->pw_name, "pg_", 3) != 0 &&
        strlen(found->pw_name) < cap)
        name = found->pw_name;
    snprintf(dst, cap, "%s", name);
}

static int emb_setup(emb *e, const char *home)
{
    lm_buf b;
    const char *bindir = getenv("LLMEMORY_PG_BINDIR");
    int rc;

    lm_buf_init(&b);
    memset(e, 0, sizeof(*e));
    if ((rc = lm__embedded_home(&b, home)) < 0)
        goto out;
    memcpy(e->home, b.ptr, b.size + 1);
    if ((rc = join(e->pgdata, e->home, "pgdata")) < 0 ||
        (rc = join(e->pgdata_tmp, e->home, "pgdata.tmp")) < 0 ||
        (rc = join(e->sockdir, e->home, "run")) < 0 || (rc = join(e->logdir, e->home, "log")) < 0 ||
        (rc = join(e->logfile, e->logdir, "postgresql.log")) < 0 ||
        (rc = join(e->initdb_log, e->logdir, "initdb.log")) < 0 ||
        (rc = join(e->lockfile, e->home, ".lock")) < 0)
        goto out;
    if (bindir == NULL || bindir[0] == '\0')
        bindir = PG_BINDIR_DEFAULT;
    if ((rc = copy_field(e->bindir, sizeof(e->bindir), bindir, "program directory")) < 0)
        goto out;
    e->as_root = geteuid() == 0;
    if (e->as_root)
        snprintf(e->superuser, sizeof(e->superuser), "%s", SERVER_USER);
    else
        own_user_name(e->superuser, sizeof(e->superuser));
out:
    lm_buf_dispose(&b);
    return rc;
}

/* What starting needs beyond emb_setup: a socket path that fits, the programs, the server user. */
static int emb_check_startable(emb *e)
{
    char prog[EMB_PATH_MAX + 16];

    if (strlen(e->sockdir) + strlen(SOCKET_FILE) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        lm__error_set(LM_EINVAL, "cannot use embedded database directory \"%s\": path is too long",
                      e->home);
        lm__error_detail("Unix socket paths are limited to %zu bytes, so the directory path may "
                         "have at most %zu bytes.",
                         sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
                         sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - strlen(SOCKET_FILE) -
                             strlen("/run"));
        lm__error_hint("Set LLMEMORY_HOME to a shorter path.");
        return LM_EINVAL;
    }
    snprintf(prog, sizeof(prog), "%s/pg_ctl", e->bindir);
    if (access(prog, X_OK) != 0) {
        lm__error_set(LM_EIO, "could not find the PostgreSQL server programs in \"%s\"", e->bindir);
        lm__error_detail("\"%s\": %s.", prog, strerror(errno));
        lm__error_hint("Install PostgreSQL 15 or set LLMEMORY_PG_BINDIR.");
        return LM_EIO;
    }
    if (e->as_root) {
        char pwbuf[4096];
        struct passwd pw, *found = NULL;
        if (getpwnam_r(SERVER_USER, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || found == NULL) {
            lm__error_set(LM_EIO,
                          "cannot run the embedded database as root: user \"%s\" does not "
                          "exist",
                          SERVER_USER);
            lm__error_detail("PostgreSQL refuses to run as root, so the server runs as \"%s\".",
                             SERVER_USER);
            lm__error_hint("Install the PostgreSQL server package, or run as a normal user.");
            return LM_EIO;
        }
        e->pg_uid = found->pw_uid;
        e->pg_gid = found->pw_gid;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Directories and files
 */

static int io_error(const char *what, const char *path)
{
    return lm__error_set(LM_EIO, "could not %s \"%s\": %s", what, path, strerror(errno));
}

/* mkdir -p for the home directory. Directories we create as root are made reachable (0755/0711)
   whatever the umask, since the server user must traverse them. */
static int make_home(const emb *e)
{
    char path[sizeof(e->home)];
    size_t len = strlen(e->home);

    memcpy(path, e->home, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        int leaf = saved == '\0';
        mode_t mode = leaf ? (e->as_root ? 0711 : 0700) : 0755;
        if (mkdir(path, mode) == 0) {
            if ((e->as_root || leaf) && chmod(path, mode) != 0)
                return io_error("change permissions of directory", path);
        } else if (errno != EEXIST) {
            return io_error("create directory", path);
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(e->home, &st) != 0)
        return io_error("access directory", e->home);
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return io_error("use embedded database directory", e->home);
    }
    return 0;
}

/* Create @p path with @p mode if missing; as root, hand it to the server user. */
static int make_server_dir(const emb *e, const char *path, mode_t mode)
{
    struct stat st;

    if (mkdir(path, mode) == 0) {
        if (chmod(path, mode) != 0)
            return io_error("change permissions of directory", path);
        if (e->as_root && chown(path, e->pg_uid, e->pg_gid) != 0)
            return io_error("change owner of directory", path);
        return 0;
    }
    if (errno != EEXIST)
        return io_error("create directory", path);
    if (stat(path, &st) != 0)
        return io_error("access directory", path);
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return io_error("use directory", path);
    }
    return 0;
}

/* Open a log file for appending (or truncated), owned by the server user when root. */
static int open_log(const emb *e, const char *path, int truncate, int *fd_out)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0600);
    if (fd < 0)
        return io_error("open log file", path);
    if (e->as_root && fchown(fd, e->pg_uid, e->pg_gid) != 0) {
        int rc = io_error("change owner of log file", path);
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    LM_UNUSED(st);
    LM_UNUSED(flag);
    LM_UNUSED(ftw);
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf; a missing @p path is not an error. */
static int remove_tree(const char *path)
{
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return io_error("remove directory", path);
    return 0;
}

static void fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/*
 * Take the home directory's lock (flock, so it is released when the process dies). Polling with
 * a deadline rather than blocking: a wedged holder becomes LM_ETIMEOUT, not a hang.
 */
static int lock_home(const emb *e, int *fd_out)
{
    int fd = open(e->lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    double deadline = now_s() + LOCK_WAIT_S;

    if (fd < 0)
        return io_error("open lock file", e->lockfile);
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            int rc = io_error("lock file", e->lockfile);
            close(fd);
            return rc;
        }
        if (now_s() > deadline) {
            close(fd);
            lm__error_set(LM_ETIMEOUT, "could not lock embedded database directory \"%s\"",
                          e->home);
            lm__error_detail("Another process held \"%s\" for more than %d seconds.", e->lockfile,
                             LOCK_WAIT_S);
            return LM_ETIMEOUT;
        }
        sleep_ms(20);
    }
    *fd_out = fd;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Child processes
 */

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
        rc = io_error("open", "/dev/null");
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

/* ---------------------------------------------------------------------------------------------
 * Server state
 */

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
        return io_error("read", path);
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
    if ((rc = copy_field(out->home, sizeof(out->home), e->home, "directory path")) < 0 ||
        (rc = copy_field(out->socket_dir, sizeof(out->socket_dir), e->sockdir, "socket path")) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/PG_VERSION", e->pgdata);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = io_error("read", path);
        goto out; /* not initialized */
    }
    got = read(fd, out->server_version, sizeof(out->server_version) - 1);
    close(fd);
    if (got < 0) {
        rc = io_error("read", path);
        goto out;
    }
    out->server_version[got] = '\0';
    out->server_version[strcspn(out->server_version, "\r\n")] = '\0';
    out->initialized = 1;

    if ((rc = build_conninfo(&conninfo, e, LM_EMBEDDED_DBNAME)) < 0 ||
        (rc = copy_field(out->conninfo, sizeof(out->conninfo), conninfo.ptr, "conninfo")) < 0)
        goto out;
    if ((rc = server_pid(e, &pid, NULL)) < 0)
        goto out;
    out->pid = pid;
    out->running = pid > 0;
out:
    lm_buf_dispose(&conninfo);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Creating and starting (all under the lock)
 */

/* Quote @p dir as one element of unix_socket_directories inside a postgresql.conf string. */
static void put_conf_socket_dir(lm_buf *b, const char *dir)
{
    lm__buf_puts(b, "'\""); /* conf string, then a double-quoted list element */
    for (const char *p = dir; *p; p++) {
        if (*p == '\'')
            lm__buf_puts(b, "''");
        else if (*p == '\\')
            lm__buf_puts(b, "\\\\");
        else if (*p == '"')
            lm__buf_puts(b, "\"\"");
        else
            lm__buf_putc(b, *p);
    }
    lm__buf_puts(b, "\"'");
}

/* Write a whole file (replacing it through a rename), owned by the server user when root. */
static int write_file(const emb *e, const char *path, const lm_buf *text)
{
    char tmp[EMB_PATH_MAX + 32];
    int rc = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_error("create file", tmp);
    size_t done = 0;
    while (done < text->size) {
        ssize_t w = write(fd, text->ptr + done, text->size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = io_error("write file", tmp);
            goto out;
        }
        done += (size_t)w;
    }
    if (e->as_root && fchown(fd, e->pg_uid, e->pg_gid) != 0) {
        rc = io_error("change owner of file", tmp);
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = io_error("write file", tmp);
        goto out;
    }
out:
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = io_error("rename file", tmp);
    if (rc < 0)
        (void)unlink(tmp);
    return rc;
}

/*
 * pgdata/llmemory.conf, included from postgresql.conf and rewritten before every start so the
 * socket directory follows the home directory if it is moved. No TCP: listen_addresses is empty.
 */
static int write_server_conf(const emb *e)
{
    char path[EMB_PATH_MAX + 16];
    lm_buf text;
    int rc;

    lm_buf_init(&text);
    snprintf(path, sizeof(path), "%s/llmemory.conf", e->pgdata);
    lm__buf_puts(&text, "# Written by llmemory before each start of the embedded server; put your "
                        "own settings\n# at the end of postgresql.conf instead.\n"
                        "listen_addresses = ''\n"
                        "unix_socket_directories = ");
    put_conf_socket_dir(&text, e->sockdir);
    lm__buf_printf(&text,
                   "\nunix_socket_permissions = 0700\n"
                   "port = %d\n"
                   "max_connections = 100\n"
                   "shared_buffers = '128MB'\n",
                   LM_EMBEDDED_PORT);
    if (lm__buf_oom(&text)) {
        rc = LM_ENOMEM;
        goto out;
    }
    rc = write_file(e, path, &text);
out:
    lm_buf_dispose(&text);
    return rc;
}

static int append_include(const char *pgdata)
{
    static const char line[] = "\n# Added by llmemory: settings of the embedded cluster. Settings "
                               "below this line override them.\ninclude_if_exists = "
                               "'llmemory.conf'\n";
    char path[EMB_PATH_MAX + 32];
    int rc = 0;

    snprintf(path, sizeof(path), "%s/postgresql.conf", pgdata);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return io_error("open file", path);
    if (write(fd, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1) || fsync(fd) != 0)
        rc = io_error("write file", path);
    close(fd);
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
    if ((rc = remove_tree(e->pgdata_tmp)) < 0 ||
        (rc = make_server_dir(e, e->pgdata_tmp, 0700)) < 0 ||
        (rc = open_log(e, e->initdb_log, 1, &fd)) < 0)
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
    if (path_exists(path))
        return 0;
    if (path_exists(e->pgdata)) {
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
        add_log_detail(e->initdb_log, 0);
        (void)remove_tree(e->pgdata_tmp);
        return LM_EIO;
    }
    if ((rc = append_include(e->pgdata_tmp)) < 0)
        return rc;
    fsync_dir(e->pgdata_tmp);
    if (rename(e->pgdata_tmp, e->pgdata) != 0)
        return io_error("rename directory", e->pgdata_tmp);
    fsync_dir(e->home);
    return 0;
}

static int run_pg_ctl(const emb *e, const char *const *args, int *status_out, off_t *log_from)
{
    int fd = -1;
    int rc;

    *log_from = file_size(e->logfile);
    if ((rc = open_log(e, e->logfile, 0, &fd)) < 0)
        return rc;
    rc = run_prog(e, args, fd, status_out);
    close(fd);
    return rc;
}

/* Wait until the server accepts connections on its socket. */
static int wait_ready(const emb *e)
{
    lm_buf conninfo;
    double deadline = now_s() + READY_WAIT_S;
    int rc;

    lm_buf_init(&conninfo);
    if ((rc = build_conninfo(&conninfo, e, "postgres")) < 0)
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
        if (now_s() > deadline) {
            rc = lm__error_set(LM_ETIMEOUT,
                               "embedded database server did not accept connections "
                               "within %d seconds",
                               READY_WAIT_S);
            add_log_detail(e->logfile, 0);
            goto out;
        }
        sleep_ms(100);
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
                return io_error("remove stale file", path);
        }
    }
    if ((rc = write_server_conf(e)) < 0)
        return rc;
    snprintf(prog, sizeof(prog), "%s/pg_ctl", e->bindir);
    const char *const args[] = {prog, "-D",          e->pgdata, "-l",    e->logfile, "-w",
                                "-t", PG_CTL_WAIT_S, "-s",      "start", NULL};
    if ((rc = run_pg_ctl(e, args, &status, &log_from)) < 0)
        return rc;
    if (status != 0) {
        char tail[480];
        log_tail(tail, sizeof(tail), e->logfile, log_from);
        rc = strstr(tail, "did not start in time") ? LM_ETIMEOUT : LM_EIO;
        lm__error_set(rc, "could not start embedded database server in \"%s\"", e->home);
        add_log_detail(e->logfile, log_from);
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
    if ((rc = build_conninfo(&conninfo, e, "postgres")) < 0)
        goto out;
    conn = PQconnectdb(conninfo.ptr);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        rc = lm__error_set(LM_EIO, "could not connect to embedded database server");
        set_conn_detail(conn);
        goto out;
    }
    res = PQexec(conn,
                 "SELECT 1 FROM pg_catalog.pg_database WHERE datname = '" LM_EMBEDDED_DBNAME "'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = lm__error_set(LM_EIO, "could not query embedded database server");
        set_conn_detail(conn);
        goto out;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = PQexec(conn, "CREATE DATABASE " LM_EMBEDDED_DBNAME);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = lm__error_set(LM_EIO, "could not create database \"%s\" in the embedded cluster",
                               LM_EMBEDDED_DBNAME);
            set_conn_detail(conn);
            goto out;
        }
    }
out:
    PQclear(res);
    PQfinish(conn);
    lm_buf_dispose(&conninfo);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Public entry points
 */

int lm_db_status(lm_db_info *out, const char *home)
{
    emb e;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    if ((rc = emb_setup(&e, home)) < 0)
        return rc;
    return describe(&e, out);
}

static int start(emb *e, lm_db_info *out)
{
    int lock_fd = -1;
    int rc;

    if ((rc = emb_check_startable(e)) < 0 || (rc = make_home(e)) < 0)
        return rc;
    if (e->as_root && (rc = check_server_can_reach(e)) < 0)
        return rc;
    if ((rc = lock_home(e, &lock_fd)) < 0)
        return rc;
    if ((rc = make_server_dir(e, e->sockdir, 0700)) < 0 ||
        (rc = make_server_dir(e, e->logdir, 0700)) < 0 || (rc = ensure_cluster(e)) < 0 ||
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

    if ((rc = emb_setup(&e, home)) < 0)
        return rc;
    return start(&e, out);
}

int lm__embedded_conninfo(lm_buf *out, const char *home)
{
    emb e;
    int rc;

    if ((rc = emb_setup(&e, home)) < 0 || (rc = start(&e, NULL)) < 0)
        return rc;
    return build_conninfo(out, &e, LM_EMBEDDED_DBNAME);
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

    if ((rc = emb_setup(&e, home)) < 0)
        return rc;
    snprintf(prog, sizeof(prog), "%s/pg_ctl", e.bindir);
    const char *const args[] = {prog, "-D",          e.pgdata, "-m",   "fast", "-w",
                                "-t", PG_CTL_WAIT_S, "-s",     "stop", NULL};
    if (!path_exists(e.pgdata))
        return 0; /* never initialized: nothing runs */
    if ((rc = emb_check_startable(&e)) < 0 || (rc = lock_home(&e, &lock_fd)) < 0)
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
        add_log_detail(e.logfile, log_from);
    }
out:
    close(lock_fd);
    return rc;
}

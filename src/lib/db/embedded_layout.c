/*
 * db/embedded_layout.c: the configuration and layout half of the embedded cluster: the home
 * directory and the paths under it, the server user, directories and their modes, the lock
 * file, the server's configuration files, reading the server log for error details, and the
 * conninfo that reaches the cluster. Starting and stopping processes is in embedded.c.
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

double lm__emb_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lm__emb_sleep_ms(long ms)
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

int lm__emb_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Copy @p src into the fixed field @p dst; LM_EINVAL when it does not fit. */
int lm__emb_copy_field(char *dst, size_t cap, const char *src, const char *what)
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
void lm__emb_log_tail(char *dst, size_t cap, const char *path, off_t from)
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
void lm__emb_add_log_detail(const char *path, off_t from)
{
    char tail[480];
    lm__emb_log_tail(tail, sizeof(tail), path, from);
    if (tail[0])
        lm__error_detail("%s", tail);
    lm__error_hint("See the log file \"%s\".", path);
}

off_t lm__emb_file_size(const char *path)
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

int lm__emb_build_conninfo(lm_buf *out, const emb *e, const char *dbname)
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
void lm__emb_set_conn_detail(const PGconn *conn)
{
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    lm__error_detail("%.*s", (int)len, msg);
}

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

int lm__emb_setup(emb *e, const char *home)
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
    if ((rc = lm__emb_copy_field(e->bindir, sizeof(e->bindir), bindir, "program directory")) < 0)
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
int lm__emb_check_startable(emb *e)
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

int lm__emb_io_error(const char *what, const char *path)
{
    return lm__error_set(LM_EIO, "could not %s \"%s\": %s", what, path, strerror(errno));
}

int lm__emb_make_home(const emb *e)
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
                return lm__emb_io_error("change permissions of directory", path);
        } else if (errno != EEXIST) {
            return lm__emb_io_error("create directory", path);
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(e->home, &st) != 0)
        return lm__emb_io_error("access directory", e->home);
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return lm__emb_io_error("use embedded database directory", e->home);
    }
    return 0;
}

/* Create @p path with @p mode if missing; as root, hand it to the server user. */
int lm__emb_make_server_dir(const emb *e, const char *path, mode_t mode)
{
    struct stat st;

    if (mkdir(path, mode) == 0) {
        if (chmod(path, mode) != 0)
            return lm__emb_io_error("change permissions of directory", path);
        if (e->as_root && chown(path, e->pg_uid, e->pg_gid) != 0)
            return lm__emb_io_error("change owner of directory", path);
        return 0;
    }
    if (errno != EEXIST)
        return lm__emb_io_error("create directory", path);
    if (stat(path, &st) != 0)
        return lm__emb_io_error("access directory", path);
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return lm__emb_io_error("use directory", path);
    }
    return 0;
}

/* Open a log file for appending (or truncated), owned by the server user when root. */
int lm__emb_open_log(const emb *e, const char *path, int truncate, int *fd_out)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0600);
    if (fd < 0)
        return lm__emb_io_error("open log file", path);
    if (e->as_root && fchown(fd, e->pg_uid, e->pg_gid) != 0) {
        int rc = lm__emb_io_error("change owner of log file", path);
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
int lm__emb_remove_tree(const char *path)
{
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return lm__emb_io_error("remove directory", path);
    return 0;
}

void lm__emb_fsync_dir(const char *path)
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
int lm__emb_lock_home(const emb *e, int *fd_out)
{
    int fd = open(e->lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    double deadline = lm__emb_now_s() + LOCK_WAIT_S;

    if (fd < 0)
        return lm__emb_io_error("open lock file", e->lockfile);
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            int rc = lm__emb_io_error("lock file", e->lockfile);
            close(fd);
            return rc;
        }
        if (lm__emb_now_s() > deadline) {
            close(fd);
            lm__error_set(LM_ETIMEOUT, "could not lock embedded database directory \"%s\"",
                          e->home);
            lm__error_detail("Another process held \"%s\" for more than %d seconds.", e->lockfile,
                             LOCK_WAIT_S);
            return LM_ETIMEOUT;
        }
        lm__emb_sleep_ms(20);
    }
    *fd_out = fd;
    return 0;
}

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
        return lm__emb_io_error("create file", tmp);
    size_t done = 0;
    while (done < text->size) {
        ssize_t w = write(fd, text->ptr + done, text->size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = lm__emb_io_error("write file", tmp);
            goto out;
        }
        done += (size_t)w;
    }
    if (e->as_root && fchown(fd, e->pg_uid, e->pg_gid) != 0) {
        rc = lm__emb_io_error("change owner of file", tmp);
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = lm__emb_io_error("write file", tmp);
        goto out;
    }
out:
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = lm__emb_io_error("rename file", tmp);
    if (rc < 0)
        (void)unlink(tmp);
    return rc;
}

long lm__emb_shared_buffers_mb(unsigned long long phys_bytes)
{
    unsigned long long mb = phys_bytes / 8 / (1024 * 1024);
    if (mb < EMB_SHARED_BUFFERS_MIN_MB)
        return EMB_SHARED_BUFFERS_MIN_MB;
    if (mb > EMB_SHARED_BUFFERS_MAX_MB)
        return EMB_SHARED_BUFFERS_MAX_MB;
    return (long)mb;
}

int lm__emb_memory_setting_valid(const char *v)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB"};
    size_t n = 0;
    while (v[n] >= '0' && v[n] <= '9')
        n++;
    if (n == 0 || n > 9)
        return 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(v + n, units[i]) == 0)
            return 1;
    return 0;
}

unsigned long long lm__emb_read_limit_file(const char *path)
{
    char buf[64];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return 0; /* "max": no limit */
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end != '\0' && *end != '\n')
        return 0;
    return v;
}

/* The memory limit of this process's cgroup (v2 memory.max, v1 memory.limit_in_bytes, at its
   own path and at the root, which is its own inside a container), the smallest found; 0: none. */
static unsigned long long cgroup_memory_limit(void)
{
    char line[1024], path[1200];
    unsigned long long best = 0;
    static const char *const roots[] = {"/sys/fs/cgroup/memory.max",
                                        "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        unsigned long long v = lm__emb_read_limit_file(roots[i]);
        if (v > 0 && (best == 0 || v < best))
            best = v;
    }
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *ctl = strchr(line, ':'), *cg = ctl ? strchr(ctl + 1, ':') : NULL;
        if (cg == NULL)
            continue;
        *cg++ = '\0';
        cg[strcspn(cg, "\n")] = '\0';
        ctl++;
        if (ctl[0] == '\0')
            snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", cg);
        else if (strstr(ctl, "memory") != NULL)
            snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", cg);
        else
            continue;
        unsigned long long v = lm__emb_read_limit_file(path);
        if (v > 0 && (best == 0 || v < best))
            best = v;
    }
    if (f != NULL)
        fclose(f);
    return best;
}

unsigned long long lm__emb_memory_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    unsigned long long phys =
        pages > 0 && size > 0 ? (unsigned long long)pages * (unsigned long long)size : 0;
    unsigned long long limit = cgroup_memory_limit();
    return limit > 0 && (phys == 0 || limit < phys) ? limit : phys;
}

/* The server's library directory holds pg_prewarm (contrib; Debian's postgresql-15 has it)? */
static int have_pg_prewarm(const emb *e)
{
    static const char *const rel[] = {"/../lib/pg_prewarm.so", "/../lib/postgresql/pg_prewarm.so"};
    char path[EMB_PATH_MAX + 48];
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", e->bindir, rel[i]);
        if (access(path, R_OK) == 0)
            return 1;
    }
    return 0;
}

/*
 * pgdata/llmemory.conf, included from postgresql.conf and rewritten before every start so the
 * socket directory follows the home directory if it is moved. No TCP: listen_addresses is empty.
 * Memory is sized to the machine (an existing cluster gets it at its next start):
 * shared_buffers an eighth of physical memory (or of the cgroup's limit where smaller), 128 MB to 8 GB, or $LLMEMORY_SHARED_BUFFERS;
 * effective_cache_size half of physical memory. With pg_prewarm installed it is preloaded, and
 * its autoprewarm worker reloads the pages that were in shared buffers after a restart.
 */
int lm__emb_write_server_conf(const emb *e)
{
    char path[EMB_PATH_MAX + 16], sb[32];
    lm_buf text;
    int rc;
    unsigned long long phys = lm__emb_memory_bytes();
    const char *env = getenv("LLMEMORY_SHARED_BUFFERS");
    long sb_mb = lm__emb_shared_buffers_mb(phys);

    if (env != NULL && env[0] != '\0') {
        if (!lm__emb_memory_setting_valid(env)) {
            lm__error_set(LM_EINVAL, "invalid value for LLMEMORY_SHARED_BUFFERS: \"%s\"", env);
            lm__error_hint("Give a size with a unit, such as 512MB or 2GB.");
            return LM_EINVAL;
        }
        snprintf(sb, sizeof(sb), "%s", env);
    } else {
        snprintf(sb, sizeof(sb), "%ldMB", sb_mb);
    }
    long ecs_mb = (long)(phys / 2 / (1024 * 1024));
    if (ecs_mb < sb_mb)
        ecs_mb = sb_mb;
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
                   "shared_buffers = '%s'\n"
                   "effective_cache_size = '%ldMB'\n",
                   LM_EMBEDDED_PORT, sb, ecs_mb);
    if (have_pg_prewarm(e))
        lm__buf_puts(&text, "shared_preload_libraries = 'pg_prewarm'\n");
    if (lm__buf_oom(&text)) {
        rc = LM_ENOMEM;
        goto out;
    }
    rc = write_file(e, path, &text);
out:
    lm_buf_dispose(&text);
    return rc;
}

int lm__emb_append_include(const char *pgdata)
{
    static const char line[] = "\n# Added by llmemory: settings of the embedded cluster. Settings "
                               "below this line override them.\ninclude_if_exists = "
                               "'llmemory.conf'\n";
    char path[EMB_PATH_MAX + 32];
    int rc = 0;

    snprintf(path, sizeof(path), "%s/postgresql.conf", pgdata);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return lm__emb_io_error("open file", path);
    if (write(fd, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1) || fsync(fd) != 0)
        rc = lm__emb_io_error("write file", path);
    close(fd);
    return rc;
}

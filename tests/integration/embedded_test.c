/*
 * tests/integration/embedded_test.c: the embedded cluster manager (src/lib/db/embedded.c) against
 * real PostgreSQL 15 programs. Each test gets a fresh home under /tmp; the body runs in a child
 * process so the parent can always stop the server and remove the directory, even when the body
 * fails. Works as root (the server then runs as "postgres") and as a normal user.
 */
#define _GNU_SOURCE /* nftw, mkdtemp */

#include <errno.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/embedded.h"
#include "db/embedded_internal.h"
#include "llmemory/error.h"
#include "llmemory/store.h"
#include "runner.h"

enum { BODY_TIMEOUT_S = 150 };

typedef void (*home_fn)(const char *home);

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

static void remove_tree(const char *path)
{
    (void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under /tmp; as root also searchable by "postgres" (mkdtemp makes 0700). */
static void make_tmp_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/lmemb-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
    if (geteuid() == 0)
        ASSERT(chmod(dir, 0711) == 0);
}

/*
 * Run @p body(home) in a child with its own timeout, then stop the server and remove the home
 * whatever happened, and report the child's result.
 */
static void with_home(home_fn body)
{
    char dir[64];
    int status = 0;

    make_tmp_dir(dir, sizeof(dir));
    lm_test_timeout(BODY_TIMEOUT_S + 90);
    fflush(stdout);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        alarm(BODY_TIMEOUT_S);
        body(dir);
        fflush(stdout);
        _exit(0);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int stop_rc = lm_db_stop(dir);
    char stop_msg[512];
    snprintf(stop_msg, sizeof(stop_msg), "%s", lm_error_last()->message);
    remove_tree(dir);
    if (WIFSIGNALED(status))
        lm_test_fail(__FILE__, __LINE__, "test body killed by signal %d%s", WTERMSIG(status),
                     WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        lm_test_skip("see above");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        lm_test_fail(__FILE__, __LINE__, "test body failed");
    if (stop_rc != 0)
        lm_test_fail(__FILE__, __LINE__, "lm_db_stop failed: %s", stop_msg);
}

static void check_select_1(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    ASSERT(conn != NULL);
    if (PQstatus(conn) != CONNECTION_OK)
        lm_test_fail(__FILE__, __LINE__, "connect \"%s\": %s", conninfo, PQerrorMessage(conn));
    PGresult *res =
        PQexec(conn, "SELECT 1, current_database(), current_setting('listen_addresses')");
    ASSERT_EQ_INT(PQresultStatus(res), PGRES_TUPLES_OK);
    ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "1");
    ASSERT_EQ_STR(PQgetvalue(res, 0, 1), LM_EMBEDDED_DBNAME);
    ASSERT_EQ_STR(PQgetvalue(res, 0, 2), ""); /* no TCP */
    PQclear(res);
    PQfinish(conn);
}

static size_t count_in_file(const char *path, const char *needle)
{
    char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f == NULL)
        return 0;
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[got] = '\0';
    for (const char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ------------------------------------------------------------------------------------------- */

static void body_status_fresh(const char *dir)
{
    char home[128], path[160];
    lm_db_info info;

    snprintf(home, sizeof(home), "%s/fresh", dir);
    ASSERT_OK(lm_db_status(&info, home));
    ASSERT_EQ_INT(info.initialized, 0);
    ASSERT_EQ_INT(info.running, 0);
    ASSERT_EQ_INT(info.pid, 0);
    ASSERT_EQ_STR(info.home, home);
    snprintf(path, sizeof(path), "%s/run", home);
    ASSERT_EQ_STR(info.socket_dir, path);
    ASSERT_EQ_STR(info.conninfo, "");
    ASSERT_OK(lm_db_stop(home));     /* not running is not an error */
    ASSERT(access(home, F_OK) != 0); /* status and stop create nothing */
}

TEST(test_db_embedded__status_of_fresh_home)
{
    with_home(body_status_fresh);
}

static void body_start_connect(const char *home)
{
    char path[160];
    lm_db_info info;
    lm_buf conninfo;
    struct stat st;

    /* Leftovers of an interrupted initdb must not matter. */
    snprintf(path, sizeof(path), "%s/pgdata.tmp", home);
    ASSERT(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/pgdata.tmp/garbage", home);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fclose(f);

    ASSERT_OK(lm_db_start(&info, home));
    ASSERT_EQ_INT(info.initialized, 1);
    ASSERT_EQ_INT(info.running, 1);
    ASSERT(info.pid > 0);
    ASSERT_EQ_STR(info.home, home);
    ASSERT_EQ_STR(info.server_version, "15");
    ASSERT(strstr(info.conninfo, "dbname=llmemory") != NULL);
    ASSERT(strncmp(info.conninfo, "host=", 5) == 0);
    check_select_1(info.conninfo);

    snprintf(path, sizeof(path), "%s/pgdata.tmp", home);
    ASSERT(access(path, F_OK) != 0);
    ASSERT(stat(info.socket_dir, &st) == 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0700);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        ASSERT(pw != NULL);
        ASSERT_EQ_INT(st.st_uid, pw->pw_uid);
    } else {
        ASSERT_EQ_INT(st.st_uid, geteuid());
    }

    lm_buf_init(&conninfo);
    ASSERT_OK(lm__embedded_conninfo(&conninfo, home));
    ASSERT_EQ_STR(conninfo.ptr, info.conninfo);
    lm_buf_dispose(&conninfo);

    lm_db_info st_info;
    ASSERT_OK(lm_db_status(&st_info, home));
    ASSERT_EQ_INT(st_info.running, 1);
    ASSERT_EQ_INT(st_info.pid, info.pid);
    ASSERT_EQ_STR(st_info.conninfo, info.conninfo);
}

TEST(test_db_embedded__start_creates_and_connects)
{
    with_home(body_start_connect);
}

static void body_start_twice(const char *home)
{
    lm_db_info a, b;

    ASSERT_OK(lm_db_start(&a, home));
    ASSERT_OK(lm_db_start(&b, home));
    ASSERT(a.pid > 0);
    ASSERT_EQ_INT(b.pid, a.pid);
    ASSERT_OK(lm_db_start(NULL, home));
}

TEST(test_db_embedded__start_twice_is_noop)
{
    with_home(body_start_twice);
}

enum { N_RACERS = 3 };

static void body_concurrent_start(const char *home)
{
    int fds[2];
    pid_t kids[N_RACERS];
    long pids[N_RACERS];
    char log[160];

    ASSERT(pipe(fds) == 0);
    for (int i = 0; i < N_RACERS; i++) {
        kids[i] = fork();
        ASSERT(kids[i] >= 0);
        if (kids[i] == 0) {
            lm_db_info info;
            long pid = -1;
            int rc = lm_db_start(&info, home);
            if (rc == 0)
                pid = info.pid;
            else
                printf("# racer %d: %s: %s\n", i, lm_errname(rc), lm_error_last()->message);
            fflush(stdout);
            _exit(write(fds[1], &pid, sizeof(pid)) == (ssize_t)sizeof(pid) && rc == 0 ? 0 : 1);
        }
    }
    close(fds[1]);
    for (int i = 0; i < N_RACERS; i++) {
        int status = 0;
        while (waitpid(kids[i], &status, 0) < 0 && errno == EINTR)
            ;
        ASSERT(WIFEXITED(status));
        ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    }
    for (int i = 0; i < N_RACERS; i++)
        ASSERT_EQ_INT(read(fds[0], &pids[i], sizeof(pids[i])), sizeof(pids[i]));
    close(fds[0]);
    ASSERT(pids[0] > 0);
    for (int i = 1; i < N_RACERS; i++)
        ASSERT_EQ_INT(pids[i], pids[0]);

    lm_db_info info;
    ASSERT_OK(lm_db_status(&info, home));
    ASSERT_EQ_INT(info.running, 1);
    ASSERT_EQ_INT(info.pid, pids[0]);
    snprintf(log, sizeof(log), "%s/log/postgresql.log", home);
    ASSERT_EQ_INT(count_in_file(log, "ready to accept connections"), 1);
    check_select_1(info.conninfo);
}

TEST(test_db_embedded__concurrent_start_runs_one_server)
{
    with_home(body_concurrent_start);
}

static void body_stop_restart(const char *home)
{
    lm_db_info info;

    ASSERT_OK(lm_db_start(&info, home));
    ASSERT_EQ_INT(info.running, 1);
    ASSERT_OK(lm_db_stop(home));
    ASSERT_OK(lm_db_status(&info, home));
    ASSERT_EQ_INT(info.initialized, 1);
    ASSERT_EQ_INT(info.running, 0);
    ASSERT_EQ_INT(info.pid, 0);
    ASSERT(info.conninfo[0] != '\0'); /* filled whenever initialized */
    ASSERT_EQ_INT(PQping(info.conninfo), PQPING_NO_RESPONSE);
    ASSERT_OK(lm_db_stop(home)); /* already stopped */

    ASSERT_OK(lm_db_start(&info, home));
    ASSERT_EQ_INT(info.running, 1);
    check_select_1(info.conninfo);
}

TEST(test_db_embedded__stop_then_start_again)
{
    with_home(body_stop_restart);
}

/* One setting of the running embedded server, as text. */
static void show_setting(const char *conninfo, const char *sql, char *out, size_t cap)
{
    PGconn *conn = PQconnectdb(conninfo);
    ASSERT(conn != NULL);
    ASSERT_EQ_INT(PQstatus(conn), CONNECTION_OK);
    PGresult *res = PQexec(conn, sql);
    ASSERT_EQ_INT(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
}

static void body_memory_sized(const char *home)
{
    static const char sb_mb[] = "SELECT setting::bigint * current_setting('block_size')::bigint"
                                " / 1048576 FROM pg_settings WHERE name = 'shared_buffers'";
    lm_db_info info;
    char conf[160], want[64], got[64];
    unsigned long long phys =
        (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE);
    ASSERT(lm__emb_memory_bytes() > 0 && lm__emb_memory_bytes() <= phys);
    long mb = lm__emb_shared_buffers_mb(lm__emb_memory_bytes());

    ASSERT(mb >= 128 && mb <= 8192);
    ASSERT_EQ_INT(lm__emb_shared_buffers_mb(0), 128);
    ASSERT_EQ_INT(lm__emb_shared_buffers_mb(24ULL << 30), 3072);
    ASSERT_EQ_INT(lm__emb_shared_buffers_mb(1ULL << 40), 8192);

    /* The default: sized to this machine, written to llmemory.conf, in force. */
    unsetenv("LLMEMORY_SHARED_BUFFERS");
    ASSERT_OK(lm_db_start(&info, home));
    snprintf(conf, sizeof(conf), "%s/pgdata/llmemory.conf", home);
    snprintf(want, sizeof(want), "shared_buffers = '%ldMB'", mb);
    ASSERT_EQ_INT((long)count_in_file(conf, want), 1);
    ASSERT_EQ_INT((long)count_in_file(conf, "effective_cache_size = '"), 1);
    show_setting(info.conninfo, sb_mb, got, sizeof(got));
    snprintf(want, sizeof(want), "%ld", mb);
    ASSERT_EQ_STR(got, want);
    if (access("/usr/lib/postgresql/15/lib/pg_prewarm.so", R_OK) == 0) {
        show_setting(info.conninfo, "SHOW shared_preload_libraries", got, sizeof(got));
        ASSERT_EQ_STR(got, "pg_prewarm");
        show_setting(info.conninfo, "SHOW pg_prewarm.autoprewarm", got, sizeof(got));
        ASSERT_EQ_STR(got, "on");
    }

    /* The environment's size, taken by the existing cluster at its next start. */
    ASSERT_OK(lm_db_stop(home));
    setenv("LLMEMORY_SHARED_BUFFERS", "160MB", 1);
    ASSERT_OK(lm_db_start(&info, home));
    show_setting(info.conninfo, sb_mb, got, sizeof(got));
    ASSERT_EQ_STR(got, "160");

    /* A bad value: a clear error, and the server is not started with it. */
    ASSERT_OK(lm_db_stop(home));
    static const char *const bad[] = {"lots", "512", "512 MB", "-1GB", "1PB", "MB"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("LLMEMORY_SHARED_BUFFERS", bad[i], 1);
        ASSERT_ERR(lm_db_start(NULL, home), LM_EINVAL);
        ASSERT(strstr(lm_error_last()->message, "LLMEMORY_SHARED_BUFFERS") != NULL);
        ASSERT_OK(lm_db_status(&info, home));
        ASSERT_EQ_INT(info.running, 0);
    }
    ASSERT(lm__emb_memory_setting_valid("64kB") && lm__emb_memory_setting_valid("2GB"));

    /* cgroup limit files: a number, "max" (none), missing. */
    char lim[200];
    snprintf(lim, sizeof(lim), "%s/memory.max", home);
    FILE *f = fopen(lim, "w");
    ASSERT(f != NULL);
    fputs("2147483648\n", f);
    fclose(f);
    ASSERT(lm__emb_read_limit_file(lim) == 2147483648ULL);
    ASSERT_EQ_INT(lm__emb_shared_buffers_mb(lm__emb_read_limit_file(lim)), 256);
    f = fopen(lim, "w");
    ASSERT(f != NULL);
    fputs("max\n", f);
    fclose(f);
    ASSERT(lm__emb_read_limit_file(lim) == 0);
    snprintf(lim, sizeof(lim), "%s/none", home);
    ASSERT(lm__emb_read_limit_file(lim) == 0);
    unsetenv("LLMEMORY_SHARED_BUFFERS");
}

TEST(test_db_embedded__memory_sized_to_machine)
{
    with_home(body_memory_sized);
}

static void body_not_a_cluster(const char *home)
{
    char path[160];

    snprintf(path, sizeof(path), "%s/pgdata", home);
    ASSERT(mkdir(path, 0700) == 0);
    ASSERT_ERR(lm_db_start(NULL, home), LM_EIO);
    ASSERT(strstr(lm_error_last()->message, "could not initialize") != NULL);
}

TEST(test_db_embedded__pgdata_that_is_not_a_cluster_fails)
{
    with_home(body_not_a_cluster);
}

TEST(test_db_embedded__home_resolution)
{
    char cwd[512], want[600];
    lm_buf b;

    lm_buf_init(&b);
    ASSERT_OK(lm__embedded_home(&b, "/srv/llm//"));
    ASSERT_EQ_STR(b.ptr, "/srv/llm");

    ASSERT(getcwd(cwd, sizeof(cwd)) != NULL);
    ASSERT_OK(lm__embedded_home(&b, "./rel/dir"));
    snprintf(want, sizeof(want), "%s%srel/dir", cwd, strcmp(cwd, "/") ? "/" : "");
    ASSERT_EQ_STR(b.ptr, want);

    ASSERT(setenv("LLMEMORY_HOME", "/tmp/from-env", 1) == 0);
    ASSERT_OK(lm__embedded_home(&b, NULL));
    ASSERT_EQ_STR(b.ptr, "/tmp/from-env");
    ASSERT_OK(lm__embedded_home(&b, "/explicit"));
    ASSERT_EQ_STR(b.ptr, "/explicit");

    ASSERT(unsetenv("LLMEMORY_HOME") == 0);
    ASSERT(setenv("HOME", "/home/someone", 1) == 0);
    ASSERT_OK(lm__embedded_home(&b, ""));
    ASSERT_EQ_STR(b.ptr,
                  geteuid() == 0 ? "/var/lib/llmemory" : "/home/someone/.local/share/llmemory");

    ASSERT_ERR(lm__embedded_home(&b, "/tmp/bad\nname"), LM_EINVAL);
    lm_buf_dispose(&b);
}

TEST(test_db_embedded__socket_path_too_long)
{
    char home[200];

    memset(home, 'a', sizeof(home) - 1);
    memcpy(home, "/tmp/", 5);
    home[100] = '\0';
    ASSERT_ERR(lm_db_start(NULL, home), LM_EINVAL);
    ASSERT(access(home, F_OK) != 0);
}

TEST(test_db_embedded__root_home_unreachable_by_postgres)
{
    char dir[64], home[96];

    if (geteuid() != 0)
        lm_test_skip("only meaningful as root");
    snprintf(dir, sizeof(dir), "/tmp/lmemb-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL); /* 0700: "postgres" cannot traverse it */
    snprintf(home, sizeof(home), "%s/home", dir);
    int rc = lm_db_start(NULL, home);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
    remove_tree(dir);
    ASSERT_EQ_INT(rc, LM_EIO);
    ASSERT(strstr(msg, "could not use embedded database directory") != NULL);
}

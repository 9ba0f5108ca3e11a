/*
 * tests/integration/prio_test.c: background work at a lower CPU priority (core/prio.h,
 * db/pool.c). A thread lowered by lm_thread_background() runs at the raised nice (and so do the
 * threads it starts), its pooled connections' PostgreSQL backends run at the same nice, the
 * other threads' backends do not, the backend is never reniced unless the connection is
 * provably local, and $LLMEMORY_BACKGROUND_NICE=0 turns it all off.
 */
#define _DEFAULT_SOURCE /* syscall */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/memory.h"
#include "db/db.h"
#include "prio.h"
#include "support.h"

/* Field 19 (nice) of /proc/<pid>/stat, or of the thread @p tid of this process; -100: none. */
static int nice_of(int pid, int tid)
{
    char path[64], buf[1024];
    FILE *f;
    size_t n;
    int field = 2, nice = -100;

    if (tid > 0)
        snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    else
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -100;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    if (p == NULL)
        return -100;
    for (p++; *p != '\0' && field < 19; p++)
        if (*p == ' ')
            field++;
    if (field == 19)
        nice = atoi(p);
    return nice;
}

/* The nice of process @p pid's autogroup, from /proc/<pid>/autogroup ("/autogroup-N nice K");
   -100: none. */
static int group_nice_of(int pid)
{
    char path[64], buf[128];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/autogroup", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -100;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strstr(buf, " nice ");
    return p != NULL ? atoi(p + 6) : -100;
}

static int my_tid(void)
{
    return (int)syscall(SYS_gettid);
}

/* Whether we may renice @p pid: root, or the same user. */
static int may_renice(int pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d", pid);
    return stat(path, &st) == 0 && (geteuid() == 0 || st.st_uid == geteuid());
}

typedef struct {
    lm_memory *m;
    int lowered, lowered_again;
    int nice, child_nice;
    int backend_pid, backend_nice, backend_group_nice;
    int found;
} bg_result;

static void *child_main(void *arg)
{
    *(int *)arg = nice_of(0, my_tid());
    return NULL;
}

static void *bg_main(void *arg)
{
    bg_result *r = arg;
    pthread_t th;
    PGconn *c = NULL;

    r->lowered = lm_thread_background(r->m);
    r->lowered_again = lm_thread_background(r->m);
    r->nice = nice_of(0, my_tid());
    if (pthread_create(&th, NULL, child_main, &r->child_nice) == 0)
        pthread_join(th, NULL);
    if (lm__pool_acquire(&c, &r->m->db.pool) == 0) {
        r->backend_pid = PQbackendPID(c);
        r->backend_nice = nice_of(r->backend_pid, 0);
        r->backend_group_nice = group_nice_of(r->backend_pid);
        lm__pool_release(&r->m->db.pool, c);
    }
    /* The library works as ever on such a thread: same results. */
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_TEXT;
    lm_results *res = NULL;
    if (lm_search(&res, r->m, "prio-owner", "lantern harbour", &so) == 0)
        r->found = (int)lm_results_count(res);
    lm_results_free(res);
    return NULL;
}

/* Run bg_main on a new thread over @p m, into @p r. */
static void run_background(lm_memory *m, bg_result *r)
{
    pthread_t th;
    memset(r, 0, sizeof(*r));
    r->m = m;
    ASSERT_EQ_INT(pthread_create(&th, NULL, bg_main, r), 0);
    pthread_join(th, NULL);
}

static void normal_backend(lm_memory *m, int *pid, int *nice)
{
    PGconn *c = NULL;
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    *pid = PQbackendPID(c);
    *nice = nice_of(*pid, 0);
    lm__pool_release(&m->db.pool, c);
}

TEST(test_prio__background_thread_and_its_backend)
{
    unsetenv("LLMEMORY_BACKGROUND_NICE");
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.pool_size = 2;
    lm_memory *m = test_memory_opts(&o);
    int base = lm__nice_base(), pid0, nice0, pid1, nice1;
    bg_result r;

    ASSERT_EQ_INT(lm_memory_background_nice(m), LM__BACKGROUND_NICE_DEFAULT);
    test_add(m, "prio-owner", "p1", "the lantern by the harbour wall", NULL);
    normal_backend(m, &pid0, &nice0);
    ASSERT(nice0 > -100);

    run_background(m, &r);
    int want = base + LM__BACKGROUND_NICE_DEFAULT > 19 ? 19 : base + LM__BACKGROUND_NICE_DEFAULT;
    ASSERT_EQ_INT(r.lowered, 1);
    ASSERT_EQ_INT(r.lowered_again, 0); /* not twice */
    ASSERT_EQ_INT(r.nice, want);
    ASSERT_EQ_INT(r.child_nice, want); /* threads it starts (the encoder's) inherit it */
    ASSERT(r.backend_pid != pid0);     /* never a normal thread's connection */
    if (may_renice(r.backend_pid)) {
        ASSERT_EQ_INT(r.backend_nice, want);
        if (lm__sched_autogroup()) {
            /* Each backend leads its own session, so under autogroup its group's nice is what
               weighs against the server and the other backends. */
            ASSERT_EQ_INT(getsid(r.backend_pid), r.backend_pid);
            ASSERT_EQ_INT(r.backend_group_nice, want);
            ASSERT_EQ_INT((int)m->db.pool.reniced, 2);
        } else {
            ASSERT_EQ_INT((int)m->db.pool.reniced, 1);
        }
    }
    ASSERT_EQ_INT(r.found, 1);
    /* This (normal) thread still gets a backend at the normal nice. */
    normal_backend(m, &pid1, &nice1);
    ASSERT_EQ_INT(pid1, pid0);
    ASSERT_EQ_INT(nice1, nice0);
    ASSERT(nice1 != want);
    if (lm__sched_autogroup())
        ASSERT(group_nice_of(pid1) != want);
    lm_memory_close(m);
}

TEST(test_prio__full_pool_switches_kinds)
{
    unsetenv("LLMEMORY_BACKGROUND_NICE");
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.pool_size = 1;
    lm_memory *m = test_memory_opts(&o);
    int pid0, nice0, pid1, nice1;
    bg_result r;

    test_add(m, "prio-owner", "p1", "the lantern by the harbour wall", NULL);
    normal_backend(m, &pid0, &nice0);
    run_background(m, &r);
    /* One connection allowed: the normal one was closed for a background one, and back. */
    ASSERT(r.backend_pid != pid0);
    ASSERT_EQ_INT(r.found, 1);
    normal_backend(m, &pid1, &nice1);
    ASSERT(pid1 != r.backend_pid);
    ASSERT_EQ_INT(nice1, nice0);
    ASSERT_EQ_INT(m->db.pool.open, 1);
    lm_memory_close(m);
}

TEST(test_prio__zero_turns_it_off)
{
    setenv("LLMEMORY_BACKGROUND_NICE", "0", 1);
    lm_memory *m = test_memory();
    int base = lm__nice_base(), pid0, nice0;
    bg_result r;

    ASSERT_EQ_INT(lm_memory_background_nice(m), 0);
    test_add(m, "prio-owner", "p1", "the lantern by the harbour wall", NULL);
    normal_backend(m, &pid0, &nice0);
    run_background(m, &r);
    ASSERT_EQ_INT(r.lowered, 0);
    ASSERT_EQ_INT(r.nice, base);
    ASSERT(r.backend_pid > 0);
    ASSERT_EQ_INT(r.backend_nice, nice0); /* one kind of connection, none reniced */
    ASSERT_EQ_INT((int)m->db.pool.reniced, 0);
    ASSERT_EQ_INT(r.found, 1);
    lm_memory_close(m);
    unsetenv("LLMEMORY_BACKGROUND_NICE");
}

TEST(test_prio__bad_setting_is_refused)
{
    static const char *const bad[] = {"x", "-1", "20", "5 "};
    test_env_refused("LLMEMORY_BACKGROUND_NICE", bad, sizeof(bad) / sizeof(bad[0]));
}

TEST(test_prio__autogroup_is_read_from_the_kernel)
{
    FILE *f = fopen("/proc/sys/kernel/sched_autogroup_enabled", "r");
    int want = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &want) != 1)
            want = 0;
        fclose(f);
    }
    ASSERT_EQ_INT(lm__sched_autogroup(), want == 1);
}

/* In a child process, lm_process_background() from its main thread: 0 when what it did matches
   @p own_session (the child then leads a session of its own), else a code of what failed. */
static int process_background_child(lm_memory *m, int own_session)
{
    int base = m->db.pool.base_nice, inc = lm_memory_background_nice(m);
    int want = base + inc > 19 ? 19 : base + inc, group0;

    if (own_session && setsid() < 0)
        return 2;
    group0 = group_nice_of((int)getpid());
    if (lm_process_background(m) != 1)
        return 3;
    if (nice_of((int)getpid(), 0) != want)
        return 4;
    if (lm__sched_autogroup()) {
        /* Its own session's group is lowered; a group it shares with others never is. */
        if (own_session && group_nice_of((int)getpid()) != want)
            return 5;
        if (!own_session && group_nice_of((int)getpid()) != group0)
            return 6;
    }
    if (lm_process_background(m) != 0 || nice_of((int)getpid(), 0) != want)
        return 7; /* a second call changes nothing */
    return 0;
}

TEST(test_prio__a_background_process_lowers_its_own_session)
{
    setenv("LLMEMORY_BACKGROUND_NICE", "7", 1);
    lm_memory *m = test_memory();
    int group = group_nice_of((int)getpid()), nice = nice_of((int)getpid(), 0);

    ASSERT_EQ_INT(lm_process_background(NULL), 0);
    for (int own = 0; own <= 1; own++) {
        int st = -1;
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0)
            _exit(process_background_child(m, own));
        ASSERT_EQ_INT((int)waitpid(pid, &st, 0), (int)pid);
        ASSERT(WIFEXITED(st));
        ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    }
    /* The calling process is as it was. */
    ASSERT_EQ_INT(group_nice_of((int)getpid()), group);
    ASSERT_EQ_INT(nice_of((int)getpid(), 0), nice);
    lm_memory_close(m);
    unsetenv("LLMEMORY_BACKGROUND_NICE");
}

TEST(test_prio__only_local_backends_are_reniced)
{
    lm_memory *m = test_memory();
    PGconn *c = NULL;
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    int pid = PQbackendPID(c);
    const char *host = PQhost(c);
    /* The test cluster listens on a Unix socket only. */
    ASSERT(host != NULL && host[0] == '/');
    ASSERT_EQ_INT(lm__db_backend_local(host, pid), 1);
    /* Over TCP the pid is the server machine's: never, even when it names a local postgres. */
    ASSERT_EQ_INT(lm__db_backend_local("127.0.0.1", pid), 0);
    ASSERT_EQ_INT(lm__db_backend_local("db.example.org", pid), 0);
    ASSERT_EQ_INT(lm__db_backend_local("@abstract", pid), 0);
    ASSERT_EQ_INT(lm__db_backend_local(NULL, pid), 0);
    /* A local process that is not postgres (this one), or none. */
    ASSERT_EQ_INT(lm__db_backend_local(host, (int)getpid()), 0);
    ASSERT_EQ_INT(lm__db_backend_local(host, 0), 0);
    ASSERT_EQ_INT(lm__db_backend_local(host, -1), 0);
    lm__pool_release(&m->db.pool, c);
    lm_memory_close(m);
}

/* Threads of this process at nice @p nice. */
static int threads_at(int nice)
{
    char path[300];
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s", e->d_name);
        if (nice_of(0, atoi(path)) == nice)
            n++;
    }
    closedir(d);
    return n;
}

TEST(test_prio__the_library_background_threads_are_lowered)
{
    unsetenv("LLMEMORY_BACKGROUND_NICE");
    lm_memory *m = test_memory();
    int base = lm__nice_base();
    int want = base + LM__BACKGROUND_NICE_DEFAULT > 19 ? 19 : base + LM__BACKGROUND_NICE_DEFAULT;
    lm_erase_report rep;

    ASSERT_EQ_INT(threads_at(want), 0);
    test_add(m, "prio-erased", "p1", "words of a tenant about to be erased", NULL);
    /* The erasure cleanup runs on the memory's background thread. */
    ASSERT_OK(lm_tenant_erase_start(&rep, m, "prio-erased"));
    for (int i = 0; i < 200 && threads_at(want) == 0; i++)
        usleep(25000);
    /* (The threads it starts, such as a vector index builder, inherit the nice.) */
    ASSERT(threads_at(want) >= 1);
    lm_memory_close(m);
    ASSERT_EQ_INT(threads_at(want), 0); /* joined */
}

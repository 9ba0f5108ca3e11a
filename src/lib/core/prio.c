/*
 * core/prio.c: see prio.h.
 */
#define _DEFAULT_SOURCE /* syscall */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "error.h"
#include "prio.h"

#if defined(__linux__)
/* The calling thread: on Linux, PRIO_PROCESS with a thread id names that one thread. */
static id_t self_id(void)
{
    return (id_t)syscall(SYS_gettid);
}

int lm__nice_self(void)
{
    errno = 0;
    int n = getpriority(PRIO_PROCESS, self_id());
    return n == -1 && errno != 0 ? 0 : n;
}

int lm__nice_base(void)
{
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)getpid());
    return n == -1 && errno != 0 ? 0 : n;
}

int lm__nice_background(int inc)
{
    int n = lm__nice_self();
    if (inc <= 0 || n > lm__nice_base())
        return 0;
    n += inc;
    return setpriority(PRIO_PROCESS, self_id(), n > 19 ? 19 : n) == 0 ? 1 : -1;
}

int lm__nice_raise_self(int nice)
{
    if (nice > 19)
        nice = 19;
    if (lm__nice_self() >= nice)
        return 0;
    return setpriority(PRIO_PROCESS, self_id(), nice) == 0 ? 1 : -1;
}

int lm__session_leader(void)
{
    return getsid(0) == getpid();
}

int lm__nice_of_pid(int pid)
{
    errno = 0;
    int n = pid > 0 ? getpriority(PRIO_PROCESS, (id_t)pid) : -1;
    return pid <= 0 || (n == -1 && errno != 0) ? 20 : n;
}

int lm__nice_set_pid(int pid, int nice)
{
    if (pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    return setpriority(PRIO_PROCESS, (id_t)pid, nice > 19 ? 19 : nice);
}

int lm__autogroup_nice_of_pid(int pid)
{
    char path[64];
    FILE *f;
    int n = 20;

    snprintf(path, sizeof(path), "/proc/%d/autogroup", pid);
    if (pid <= 0 || (f = fopen(path, "r")) == NULL)
        return 20;
    /* "/autogroup-123 nice 0" */
    if (fscanf(f, "%*s nice %d", &n) != 1)
        n = 20;
    fclose(f);
    return n;
}

int lm__autogroup_nice_set_pid(int pid, int nice)
{
    char path[64], val[16];
    int len, tries = 0;

    if (pid <= 0 || getsid((pid_t)pid) != (pid_t)pid) {
        errno = ESRCH; /* not a session of its own: its group holds other processes too */
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/%d/autogroup", pid);
    len = snprintf(val, sizeof(val), "%d\n", nice > 19 ? 19 : nice);
    for (;;) {
        FILE *f = fopen(path, "w");
        if (f == NULL)
            return -1;
        int ok = fwrite(val, 1, (size_t)len, f) == (size_t)len;
        int err = ok ? 0 : errno;
        if (fclose(f) != 0 && ok) {
            ok = 0;
            err = errno;
        }
        if (ok)
            return 0;
        /* Without CAP_SYS_ADMIN the kernel takes one such change per 100 ms, machine-wide. */
        if (err != EAGAIN || ++tries > 5) {
            errno = err;
            return -1;
        }
        struct timespec ts = {0, 110 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
#else
int lm__nice_self(void)
{
    return 0;
}

int lm__nice_base(void)
{
    return 0;
}

int lm__nice_background(int inc)
{
    (void)inc;
    return 0;
}

int lm__nice_raise_self(int nice)
{
    (void)nice;
    return 0;
}

int lm__session_leader(void)
{
    return 0;
}

int lm__nice_of_pid(int pid)
{
    (void)pid;
    return 20;
}

int lm__nice_set_pid(int pid, int nice)
{
    (void)pid;
    (void)nice;
    errno = ENOSYS;
    return -1;
}

int lm__autogroup_nice_of_pid(int pid)
{
    (void)pid;
    return 20;
}

int lm__autogroup_nice_set_pid(int pid, int nice)
{
    (void)pid;
    (void)nice;
    errno = ENOSYS;
    return -1;
}
#endif

int lm__sched_autogroup(void)
{
#if defined(__linux__)
    FILE *f = fopen("/proc/sys/kernel/sched_autogroup_enabled", "r");
    int on = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &on) != 1)
            on = 0;
        fclose(f);
    }
    return on == 1;
#else
    return 0;
#endif
}

int lm__autogroup_lower(int pid, int nice)
{
    return lm__sched_autogroup() && lm__autogroup_nice_of_pid(pid) < nice &&
           lm__autogroup_nice_set_pid(pid, nice) == 0;
}

int lm__nice_env(int *out)
{
    const char *v = getenv("LLMEMORY_BACKGROUND_NICE");
    char *end = NULL;
    long n;

    *out = LM__BACKGROUND_NICE_DEFAULT;
    if (v == NULL || v[0] == '\0')
        return 0;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < 0 || n > 19) {
        lm__error_set(LM_EINVAL, "invalid $LLMEMORY_BACKGROUND_NICE \"%.40s\"", v);
        lm__error_hint("Give a nice increment from 0 (off) to 19.");
        return LM_EINVAL;
    }
    *out = (int)n;
    return 0;
}

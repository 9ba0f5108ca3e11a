/*
 * core/prio.h: CPU priority (nice) of the calling thread, for work that may wait: the
 * library's background threads and, in the server, costly requests run at a raised nice so
 * that cheap requests of other tenants get a CPU first (docs/operations.md, "CPU priority").
 * On Linux the nice value belongs to each thread and new threads inherit their creator's; an
 * unprivileged thread cannot lower it again, so it is raised only on threads that stay
 * background. Elsewhere these do nothing.
 */
#ifndef LM_CORE_PRIO_H
#define LM_CORE_PRIO_H

/* The default of $LLMEMORY_BACKGROUND_NICE. */
#define LM__BACKGROUND_NICE_DEFAULT 10

/* The calling thread's nice value (0 when it cannot be read). */
int lm__nice_self(void);
/* The nice value of the process's main thread (the base that background threads raise). */
int lm__nice_base(void);
/* Make the calling thread a background one: raise its nice by @p inc (the result at most 19),
   unless @p inc is 0 or its nice is above the process's already (a thread started by a
   background thread). 1 when raised, 0 when left as it was, -1 when the system refused. */
int lm__nice_background(int inc);
/* Raise the calling thread's nice to @p nice (at most 19) when it is below: 1 when raised, 0 when
   it was at or above it already, -1 when the system refused. */
int lm__nice_raise_self(int nice);
/* 1 when the calling process leads its own session (its autogroup, when the kernel uses them,
   holds only it and its children). */
int lm__session_leader(void);
/* The nice value of process @p pid (20 when it cannot be read: never lowered then). */
int lm__nice_of_pid(int pid);
/* Set the nice value of process @p pid (another process); 0, or -1 with errno. */
int lm__nice_set_pid(int pid, int nice);
/* 1 when the kernel groups processes by session for CPU time (autogroup,
   /proc/sys/kernel/sched_autogroup_enabled): each session's processes then share one group's
   fair share, and a thread's nice weighs only against threads of its own session. A server's
   threads share one session, so their nice values still order them; every PostgreSQL backend
   leads a session of its own (PostgreSQL's children call setsid()), so a backend's own nice
   changes nothing there, and its group's nice (below) is what competes. 0 when off or unknown. */
int lm__sched_autogroup(void);
/* The nice value of process @p pid's autogroup (/proc/<pid>/autogroup), 20 when unknown. */
int lm__autogroup_nice_of_pid(int pid);
/* Set the nice value of process @p pid's autogroup, only when the process leads its own session
   (else ESRCH: the group would hold other processes too). Without CAP_SYS_ADMIN the kernel
   takes one such change per 100 ms machine-wide: EAGAIN is retried a few times, 110 ms apart.
   0, or -1 with errno. */
int lm__autogroup_nice_set_pid(int pid, int nice);
/* Where the kernel uses autogroup: raise the nice of process @p pid's group to @p nice when it is
   below (under lm__autogroup_nice_set_pid's rules). 1 when raised, else 0. */
int lm__autogroup_lower(int pid, int nice);
/* Read $LLMEMORY_BACKGROUND_NICE into @p *out: unset or empty gives the default; 0 when valid,
   LM_EINVAL (with the error set) when it is not an integer in [0, 19]. */
int lm__nice_env(int *out);

#endif

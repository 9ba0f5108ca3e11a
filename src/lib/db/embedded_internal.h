/*
 * db/embedded_internal.h: what the two halves of the embedded cluster share: the layout of one
 * home directory (struct emb, filled by lm__emb_setup) and the configuration and file helpers of
 * embedded_layout.c that the process control in embedded.c uses. Private to src/lib/db.
 */
#ifndef LM_DB_EMBEDDED_INTERNAL_H
#define LM_DB_EMBEDDED_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "db/embedded.h"

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

/* Monotonic seconds; sleep for @p ms milliseconds. */
double lm__emb_now_s(void);
void lm__emb_sleep_ms(long ms);

int lm__emb_path_exists(const char *path);

/* Copy @p src into the fixed field @p dst; LM_EINVAL when it does not fit. */
int lm__emb_copy_field(char *dst, size_t cap, const char *src, const char *what);

/*
 * The last LOG_TAIL_LINES non-empty lines of the file at @p path, written at or after @p from,
 * joined by newlines into @p dst. pg_ctl's own "see the log" lines are skipped: the detail should
 * say why the server failed, not where to look.
 */
void lm__emb_log_tail(char *dst, size_t cap, const char *path, off_t from);

/* Set the detail of the current error to the log's tail and the hint to the log's name. */
void lm__emb_add_log_detail(const char *path, off_t from);

off_t lm__emb_file_size(const char *path);

int lm__emb_build_conninfo(lm_buf *out, const emb *e, const char *dbname);

/* Text after "could not ..." for the last libpq failure, without libpq's trailing newline. */
void lm__emb_set_conn_detail(const PGconn *conn);

/* Fill @p e for the home directory @p home (NULL: as lm__embedded_home): paths, programs, the
   superuser and, as root, the server user. 0; LM_EINVAL; LM_ENOMEM. */
int lm__emb_setup(emb *e, const char *home);

/* What starting needs beyond lm__emb_setup: a socket path that fits, the programs, the server user. */
int lm__emb_check_startable(emb *e);

int lm__emb_io_error(const char *what, const char *path);

int lm__emb_make_home(const emb *e);

/* Create @p path with @p mode if missing; as root, hand it to the server user. */
int lm__emb_make_server_dir(const emb *e, const char *path, mode_t mode);

/* Open a log file for appending (or truncated), owned by the server user when root. */
int lm__emb_open_log(const emb *e, const char *path, int truncate, int *fd_out);

/* rm -rf; a missing @p path is not an error. */
int lm__emb_remove_tree(const char *path);

void lm__emb_fsync_dir(const char *path);

/*
 * Take the home directory's lock (flock, so it is released when the process dies). Polling with
 * a deadline rather than blocking: a wedged holder becomes LM_ETIMEOUT, not a hang.
 */
int lm__emb_lock_home(const emb *e, int *fd_out);

/* The embedded server's default shared_buffers in MB for @p phys_bytes of physical memory: an
   eighth, clamped to EMB_SHARED_BUFFERS_MIN_MB..EMB_SHARED_BUFFERS_MAX_MB. */
#define EMB_SHARED_BUFFERS_MIN_MB 128
#define EMB_SHARED_BUFFERS_MAX_MB 8192
long lm__emb_shared_buffers_mb(unsigned long long phys_bytes);

/* Physical memory, or this process's cgroup memory limit where smaller (a container sees the
   host's memory); 0 when unknown. */
unsigned long long lm__emb_memory_bytes(void);

/* The number in a cgroup memory limit file (memory.max, memory.limit_in_bytes); 0 when the
   file is missing or says "max". */
unsigned long long lm__emb_read_limit_file(const char *path);

/* 1 when @p v is a PostgreSQL memory size with a unit ("512MB", "2GB"; kB, MB, GB, TB). */
int lm__emb_memory_setting_valid(const char *v);

/*
 * pgdata/llmemory.conf, included from postgresql.conf and rewritten before every start so the
 * socket directory follows the home directory if it is moved. No TCP: listen_addresses is empty.
 * shared_buffers: $LLMEMORY_SHARED_BUFFERS, else lm__emb_shared_buffers_mb() of the machine's
 * memory (its cgroup's limit where smaller) (LM_EINVAL for a bad value); effective_cache_size half the memory; pg_prewarm
 * preloaded (autoprewarm) when the server has it.
 */
int lm__emb_write_server_conf(const emb *e);

int lm__emb_append_include(const char *pgdata);

#endif

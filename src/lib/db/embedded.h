/*
 * db/embedded.h: the private PostgreSQL 15 cluster used when no database URL is configured
 * (lm_db_status/lm_db_start/lm_db_stop in llmemory/store.h, plus the helpers lm_memory_open
 * needs). It creates, starts and stops the cluster; it does not create extensions or apply
 * migrations (db/migrate.c does).
 *
 * Layout under the home directory:
 *     pgdata/              the cluster (initdb runs in pgdata.tmp, then renames it)
 *     run/                 unix socket directory, mode 0700; the server listens on no TCP port
 *     log/postgresql.log   server log (pg_ctl -l); log/initdb.log: output of the last initdb
 *     .lock                flock(2) lock serialising initdb, start and stop between processes
 *
 * Home directory: the argument, else $LLMEMORY_HOME, else ~/.local/share/llmemory; when run as
 * root the default is /var/lib/llmemory instead, because the server then runs as the "postgres"
 * user (through runuser(1)) and must be able to reach the directory, which it cannot under /root.
 * Server programs come from $LLMEMORY_PG_BINDIR, else /usr/lib/postgresql/15/bin.
 *
 * Threads: the functions may be called from several threads and processes at once; the lock file
 * serialises them.
 */
#ifndef LM_DB_EMBEDDED_H
#define LM_DB_EMBEDDED_H

#include "llmemory/common.h"
#include "llmemory/store.h"

#define LM_EMBEDDED_DBNAME "llmemory"
/* No TCP port is opened: the port only names the socket file (run/.s.PGSQL.5432). */
#define LM_EMBEDDED_PORT 5432

/*
 * Resolve the embedded cluster's home directory into @p out (absolute, no trailing slash):
 * @p home if not NULL or empty, else $LLMEMORY_HOME, else the default (see above).
 * Returns 0; LM_EINVAL when the path is too long or contains control characters, or no default can
 * be found; LM_ENOMEM.
 */
int lm__embedded_home(lm_buf *out, const char *home);

/*
 * Make sure the cluster in @p home (NULL: as lm__embedded_home) exists and runs, like
 * lm_db_start(), then write the libpq conninfo reaching its "llmemory" database into @p out:
 * "host=<socket dir> port=5432 dbname=llmemory user=<superuser>". Returns 0; LM_EINVAL; LM_EIO;
 * LM_ETIMEOUT; LM_ENOMEM.
 */
int lm__embedded_conninfo(lm_buf *out, const char *home);

#endif

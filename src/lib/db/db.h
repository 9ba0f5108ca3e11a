/*
 * db/db.h: everything the library says to PostgreSQL goes through here: the connection pool,
 * statement helpers that turn server errors into lm error codes, per-tenant transactions, and
 * migrations. Callers never hold a PGconn outside an lm__tx.
 *
 * Tenant transactions (lm__tx_begin) are the one place a tenant's work starts: each sets the
 * tenant with SET LOCAL (set_config(..., true)) so row-level security policies can rely on it,
 * and write transactions first take the tenant's advisory lock, so all writers of one tenant are
 * serialised and take their row locks in the same order (no deadlocks).
 */
#ifndef LM_DB_DB_H
#define LM_DB_DB_H

#include <libpq-fe.h>
#include <pthread.h>

#include "buf.h"
#include "llmemory/store.h"

typedef struct lm__pool {
    /* Non-NULL: a pool of another owner that this one stands for (the shared pool of a
       schema-per-tenant memory, api/tenancy.c): acquire, release and discard go there. */
    struct lm__pool *shared;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *conninfo;
    int size;     /* connections allowed at once */
    int open;     /* connections created and not closed */
    int n_idle;
    PGconn **idle;
    int connect_timeout_s;
    int statement_timeout_ms; /* 0: none */
    int no_prepare; /* lm__db_exec_prepared() only executes (lm_memory_opts.no_prepared_statements) */
    /* Background connections (pool.c): a thread whose nice is above base_nice gets one whose
       PostgreSQL backend runs at base_nice + bg_nice when the server is local; bg_nice 0: one
       kind of connection for all (set after lm__pool_init, before the first acquire). */
    int bg_nice;
    int base_nice; /* the process's nice when the pool was made */
    int low_max;   /* background connections open at most (the rest stay for the others) */
    int n_low;     /* background connections open, listed in low[] */
    PGconn **low;
    long reniced;  /* settings made on background backends: nice, autogroup's nice (tests) */
    int prefault_left; /* places of the pool whose first connection is still to map the server's
                          shared buffers (pool.c); 0 with $LLMEMORY_PREFAULT=off */
    long prefaulted;   /* backends that did (tests) */
} lm__pool;

typedef struct lm__db {
    lm__pool pool;
    /* Connections of the tables' owner (migrations, DDL, the cross-tenant maintenance of
       lm__db_admin_acquire) when a separate migration URL is configured; NULL: @c pool. */
    lm__pool *admin;
    char schema[64];   /* validated identifier */
    char qschema[72];  /* quoted identifier for SQL text */
    char role[64];     /* work role of tenant transactions (validated); "" with LLMEMORY_RLS=off */
    char qrole[72];    /* quoted role for SQL text */
    int proxy;         /* 1: the database is a cluster proxy (src/lib/cluster): lm__migrate()
                          leaves it alone, and tenant work runs as the connecting role */
    lm_log_cb log_fn;
    int log_level;
    void *log_payload;
} lm__db;

/* Validate a schema name ([A-Za-z_][A-Za-z0-9_]{0,62}) and fill db->schema/qschema. */
int lm__db_set_schema(lm__db *db, const char *schema);
/* The role tenant transactions work as (same rule as a schema name); NULL or "" turns the
 * switch off (tenant work then runs as the connecting role). */
int lm__db_set_role(lm__db *db, const char *role);
/* The SQL that creates the work role (when missing) and grants it what tenant work needs on
 * the schema (db/roles.c). Run by the schema's owner; idempotent. */
int lm__db_roles_sql(lm_buf *out, const lm__db *db);
/* Run it on @p conn and check that the role can be used: exists, is neither superuser nor
 * BYPASSRLS, owns no table of the schema, and the connecting role may SET ROLE to it. */
int lm__db_roles_apply(PGconn *conn, const lm__db *db);
/* lm__db_roles_apply() on an admin connection under the schema's migration lock (no-op when
 * the switch is off). Called on open after the migrations and the vector tables. */
int lm__db_setup_role(lm__db *db);

/* LM_EINVAL (error set) when $LLMEMORY_PREFAULT is not on, off, 1, 0 or empty. */
int lm__pool_init(lm__pool *pool, const char *conninfo, int size, int connect_timeout_s);
/* A pool that stands for @p shared (which must outlive it): nothing of its own is opened. */
void lm__pool_init_shared(lm__pool *pool, lm__pool *shared);
void lm__pool_dispose(lm__pool *pool);
/* Take a connection (connecting if needed; waits while all are in use). */
int lm__pool_acquire(PGconn **out, lm__pool *pool);
/* Give it back; a broken connection or one left inside a transaction is closed. */
void lm__pool_release(lm__pool *pool, PGconn *conn);
/* Close it instead (a connection whose session state could not be restored). */
void lm__pool_discard(lm__pool *pool, PGconn *conn);
/* The nice increment of @p pool's background connections (0: none), after its shared pool. */
int lm__pool_bg_nice(const lm__pool *pool);
/* The nice of @p pool's background work: the process's nice when the pool was made plus the
   increment, at most 19 (after its shared pool). */
int lm__pool_bg_level(const lm__pool *pool);
/* 1 when @p pid is provably the PostgreSQL backend of a connection to this machine: @p host (the
   connection's PQhost) is a Unix socket directory and the process is named "postgres". Never for
   TCP connections, whose backend pid is another machine's. */
int lm__db_backend_local(const char *host, int pid);

/* A pooled connection for the library's cross-tenant work (migrations, optimize, the embedding
 * worker, key verification, vector index builds): it runs as the connecting role (the tables'
 * owner) with llmemory.maintenance = on for the session, the setting the "maintenance" policy
 * of 020_row_level_security.sql requires. Release with lm__db_admin_release(), which resets it
 * (or closes the connection when it cannot). Never used for a tenant's own data. */
int lm__db_admin_acquire(PGconn **out, lm__db *db);
void lm__db_admin_release(lm__db *db, PGconn *conn);

/* Run a statement with text parameters (NULL entries are SQL NULL). On success *out (if not
 * NULL) receives the result, which the caller PQclear()s. Errors set lm_error_last() from the
 * server's message/detail/hint/SQLSTATE and return the mapped code. */
int lm__db_exec(PGresult **out, PGconn *conn, const char *sql, int n_params, const char *const *params);
/* Statements prepared once per connection (db/prepared.c). The text for one id must be the
 * same on every call through one pool. */
typedef enum lm__stmt {
    LM__STMT_BM25_EXT = 0, /* the keyword leg on the llmemory_bm25 extension (search/bm25.c) */
    LM__STMT_HYDRATE,      /* chunk and document fields of a page of results (api/search.c) */
    LM__STMT_FN_SEARCH,    /* calls of the tenant functions of 060_tenant_functions.sql */
    LM__STMT_FN_GET,
    LM__STMT_FN_LIST,
    LM__STMT_FN_HISTORY,
    LM__STMT_FN_DELETE,
    LM__STMT_FN_STATS,
    LM__STMT_FN_USAGE_ADD, /* 064_usage_functions.sql, through a cluster proxy */
    LM__STMT_FN_USAGE_DAYS,
    LM__STMT_KEY_LOOKUP,   /* lm__key_lookup of 065_key_lookup.sql (api/keys.c) */
    LM__STMT_KEY_LOOKUP_TTL, /* lm__key_lookup_ttl of 066_key_notify.sql (api/keycache.c) */
    LM__STMT_FN_AUDIT_WRITE, /* 067_keys_audit_functions.sql (api/audit.c) */
    LM__STMT_FN_AUDIT_LIST,
    LM__STMT_FN_QUOTA_GET, /* 068_quota_functions.sql (api/quota.c) */
    LM__STMT_FN_QUOTA_SET,
    LM__STMT_FN_ERASE_MARK, /* 069_lifecycle_functions.sql (api/erase.c, api/lifecycle.c) */
    LM__STMT_FN_ERASE_CLEAN,
    LM__STMT_FN_EXPORT,
    LM__STMT_FN_IMPORT,
} lm__stmt;
/* Called once per new connection (pool.c): attaches the per-connection statement set; with
 * @p no_prepare, statements are never prepared on it. */
int lm__db_conn_setup(PGconn *conn, int no_prepare);
/* lm__db_exec() of a statement prepared on first use on this connection (then reused). */
int lm__db_exec_prepared(PGresult **out, PGconn *conn, lm__stmt stmt, const char *sql, int n_params,
                         const char *const *params);
/* Cancellation (db/cancel.c) of the work of a thread that bound an lm_cancel: the pool attaches
   each connection it hands out on that thread to the handle (lm__cancel_attach) and detaches it
   when the connection comes back; the statement helpers refuse to start once the handle fired
   (lm__cancel_check: LM_ECANCELED) and report a statement the handle cancelled as LM_ECANCELED. */
int lm__cancel_attach(PGconn *conn);
void lm__cancel_detach(PGconn *conn);
int lm__cancel_check(void);
/* 1 when the calling thread's handle fired (a 57014 error is then the cancellation). */
int lm__cancel_fired_here(void);

/* Run a multi-statement script with the simple query protocol (migrations). */
int lm__db_script(PGconn *conn, const char *sql);
/* Takes @p res (from any PQexec* call): on success hands it to *out (or clears it), otherwise
 * maps the error into lm_error_last(), clears it and returns the code. */
int lm__db_result(PGresult **out, PGconn *conn, PGresult *res);
/* Map a failed result (or, when res is NULL, the connection's error) into lm_error_last(). */
int lm__db_error(PGconn *conn, const PGresult *res);

typedef struct lm__tx {
    lm__db *db;
    PGconn *conn;
    int open;
    int erased; /* the tenant is marked erased (only with LM__TX_ERASED) */
} lm__tx;

/* SNAPSHOT: a REPEATABLE READ, READ ONLY transaction (one consistent view for an export).
 * A tenant marked erased (api/erase.c) is invisible: its READ and SNAPSHOT transactions run as
 * no tenant (row-level security shows no row; without a work role they fail with
 * LM_ECONFLICT), and its WRITE transactions fail with LM_ECONFLICT until the cleanup has
 * finished. LM__TX_ERASED (or'ed into WRITE) is the erasure's own: it proceeds as the tenant
 * and reports the mark in tx->erased. */
enum { LM__TX_READ = 0, LM__TX_WRITE = 1, LM__TX_SNAPSHOT = 2, LM__TX_ERASED = 8 };

/* The tenant writer lock of owner $1: one 64-bit key, a seeded 64-bit hash of the owner_id
   (seed 0x4c4d0001, the lock class of earlier versions). With hashtext()'s 32 bits two tenants
   could share a lock (a sub-tenant name that collides is found in minutes; around 10^5 tenants
   it happens by chance), and one then waited for the other's writes. */
#define LM__TENANT_LOCK_SQL "pg_advisory_xact_lock(hashtextextended($1, 1280114689))"

/* One call of a tenant function (060_tenant_functions.sql: SELECT * FROM <schema>.lm_<op>(...)),
 * a transaction of its own on a pooled connection: the function sets the tenant, the work role
 * and the writer lock itself, so the operation is one round trip. Prepared once per connection. */
int lm__db_call(PGresult **out, lm__db *db, lm__stmt stmt, const char *sql, int n_params,
                const char *const *params);

/* Begin a transaction for @p owner_id (already validated). */
int lm__tx_begin(lm__tx *tx, lm__db *db, const char *owner_id, int mode);
/* Take the tenant's writer lock inside a transaction begun as READ (a writer that prepares
 * its work first and writes last, like an import staging a whole stream). */
int lm__tx_lock(lm__tx *tx, const char *owner_id);
int lm__tx_commit(lm__tx *tx);
/* Roll back if still open and release the connection. Safe to call twice. */
void lm__tx_end(lm__tx *tx);

/* Database-per-tenant helpers (db/tenantdb.c). The database name of a URL or conninfo into
 * @p out ("" when it names none); LM_EINVAL when it does not parse. */
int lm__conninfo_dbname(char *out, size_t n, const char *conninfo);
/* Append @p conninfo with its database name replaced by @p dbname (keyword=value form). */
int lm__conninfo_with_dbname(lm_buf *out, const char *conninfo, const char *dbname);
/* Create database @p dbname through @p conninfo (any database of the cluster) unless it exists.
 * @return 0 (created, or created by someone else meanwhile); 1 (it existed already); LM_ECONN;
 * LM_EPERM or LM_EDB with a hint naming the statement an operator runs. */
int lm__db_create_database(const char *conninfo, const char *dbname, int connect_timeout_s);

/* Apply pending migrations (advisory lock, one transaction each, checksums recorded). */
/* Apply the migrations, unless the schema is a cluster proxy's (its cluster_shards table):
 * then db->proxy becomes 1 and nothing is written (the shards are migrated each on its own). */
int lm__migrate(lm__db *db);

/* Library log helper: the level is checked before formatting. */
void lm__db_log(const lm__db *db, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

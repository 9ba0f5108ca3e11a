/*
 * cluster/move.c: online tenant moves and rebalancing (llmemory/cluster.h, docs/cluster.md).
 *
 * A move of tenant T from shard S to shard D:
 *   1. clean slate on D (rows, indexes, fence or replication a failed move left behind);
 *   2. S publishes every tenant table filtered WHERE (owner_id = T) (statistics and postings
 *      too: apply does not fire the triggers that keep them); D subscribes, copies, then
 *      streams S's later changes; D builds T's vector indexes;
 *   3. cut-over: S fences T (the fence row of 070_cluster_shard.sql, committed after every write
 *      of T in flight: the fence lock), in the same transaction touching one published row of T
 *      as a marker; once D has applied the marker it has every write of T, and the proxy's
 *      placement switches to D. Writes of T between fence and switch fail retryably on S;
 *      reads are served by S until the switch and by D after it;
 *   4. replication dropped, T's rows and indexes deleted from S (the fence row stays, for the
 *      writes that were routed before the switch and arrive late).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llmemory/cluster.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "cluster/cluster.h"
#include "error.h"

#define FENCE_LOCK_SQL "pg_advisory_xact_lock(hashtextextended($1, 1280114790))"
#define CATCHUP_TIMEOUT_MS 30000.0
/* A marker's commit is flushed at once, whatever the server's synchronous_commit: the source
   streams only flushed WAL, and with synchronous_commit = off the WAL writer would flush it up
   to wal_writer_delay (200 ms by default) later, each time, in the write pause. */
#define SYNC_COMMIT_SQL "SET LOCAL synchronous_commit = local"
#define MOVE_BUILD_MEM "512MB"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run each row's first column of @p r as a statement on @p c. */
static int run_rows(PGconn *c, PGresult *r)
{
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = lm__db_script(c, PQgetvalue(r, i, 0));
    return rc;
}

/* Delete every row of @p owner from @p c's tenant tables, and the tenant's vector indexes:
   documents first (their chunks and queue entries go with them, and the chunk triggers take
   the postings and statistics), then what is left table by table. The audit log lets only an
   erasure delete, which the session setting llmemory.erasing names. */
static int delete_tenant(PGconn *c, const lm__db *db, const char *owner)
{
    PGresult *r = NULL;
    const char *p[1] = {owner};
    int rc;
    lm_buf lit = LM_BUF_INIT;
    lm__buf_printf(&lit, "'%s'", db->schema);
    rc = lm__cluster_exec_fmt(c, &r, 1, p,
                              "SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %%I.%%I', %s,"
                              " index_name) FROM %s.vector_indexes WHERE owner_id = $1",
                              lit.ptr, db->qschema);
    if (rc == 0)
        rc = run_rows(c, r);
    PQclear(r);
    r = NULL;
    if (rc == 0)
        rc = lm__db_exec(NULL, c, "BEGIN", 0, NULL);
    if (rc == 0)
        rc = lm__db_exec(NULL, c, "SELECT set_config('llmemory.erasing', $1, true),"
                                  " set_config('llmemory.fence_bypass', $1, true)", 1, p);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(c, NULL, 1, p,
                                  "DELETE FROM %s.documents WHERE owner_id = $1", db->qschema);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(c, &r, 0, NULL,
                                  "SELECT format('DELETE FROM %%s WHERE owner_id = $1', t)"
                                  "  FROM %s.cluster_tenant_tables() t", db->qschema);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = lm__db_exec(NULL, c, PQgetvalue(r, i, 0), 1, p);
    PQclear(r);
    if (rc == 0)
        rc = lm__db_exec(NULL, c, "COMMIT", 0, NULL);
    else
        PQclear(PQexec(c, "ROLLBACK"));
    lm_buf_dispose(&lit);
    return rc;
}

/* Drop the replication of a move of @p name (subscription on the target, which drops its slot
   on the source, then the publication), whatever of it exists. */
static int drop_replication(PGconn *src, PGconn *dst, const char *name)
{
    PGresult *r = NULL;
    const char *p[1] = {name};
    int rc = lm__db_exec(&r, dst, "SELECT 1 FROM pg_subscription WHERE subname = $1", 1, p);
    if (rc == 0 && PQntuples(r) > 0) {
        rc = lm__cluster_exec_fmt(dst, NULL, 0, NULL, "DROP SUBSCRIPTION \"%s\"", name);
    }
    PQclear(r);
    r = NULL;
    if (rc == 0)
        rc = lm__cluster_exec_fmt(src, NULL, 0, NULL, "DROP PUBLICATION IF EXISTS \"%s\"", name);
    /* A slot left by a subscription that could not drop it (the source was down then). */
    if (rc == 0)
        rc = lm__db_exec(NULL, src,
                         "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                         " WHERE slot_name = $1 AND NOT active", 1, p);
    return rc;
}

/* Tenant tables whose replica identity lacks owner_id (a row filter must be able to read it
   on update and delete) get REPLICA IDENTITY FULL. */
static int fix_replica_identity(PGconn *c, const lm__db *db)
{
    PGresult *r = NULL;
    int rc = lm__cluster_exec_fmt(
        c, &r, 0, NULL,
        "SELECT format('ALTER TABLE %%s REPLICA IDENTITY FULL', t)"
        "  FROM %s.cluster_tenant_tables() t JOIN pg_class c ON c.oid = t"
        " WHERE c.relreplident = 'd' AND NOT EXISTS ("
        "   SELECT 1 FROM pg_index i JOIN pg_attribute a"
        "     ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
        "    WHERE i.indrelid = t AND i.indisprimary AND a.attname = 'owner_id')",
        db->qschema);
    if (rc == 0)
        rc = run_rows(c, r);
    PQclear(r);
    return rc;
}

/* The target must hold every tenant table of the source (a vector table appears when a
   provider of its dimension is first registered). */
static int same_tables(PGconn *src, PGconn *dst, const lm__db *db, int to_shard)
{
    PGresult *a = NULL, *b = NULL;
#define TABLES_SQL "SELECT string_agg(t::text, ',' ORDER BY t::text) FROM %s.cluster_tenant_tables() t"
    int rc = lm__cluster_exec_fmt(src, &a, 0, NULL, TABLES_SQL, db->qschema);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(dst, &b, 0, NULL, TABLES_SQL, db->qschema);
#undef TABLES_SQL
    if (rc == 0 && strcmp(PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0)) != 0) {
        rc = lm__error_set(LM_ECONFLICT, "shard %d does not have the same tenant tables", to_shard);
        lm__error_detail("Source: %s. Target: %s.", PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0));
        lm__error_hint("Open the target with the same embedders (its vector tables are created "
                       "then), and run the same llmemory version on every shard.");
    }
    PQclear(a);
    PQclear(b);
    return rc;
}

/* Replication errors on the target (a copy or an apply that failed; the worker would retry it
   for ever): the move stops instead of waiting out its timeout. */
static int replication_failed(PGconn *dst, const char *name)
{
    PGresult *r = NULL;
    const char *p[1] = {name};
    int rc = lm__db_exec(&r, dst,
                         "SELECT coalesce(sum(apply_error_count + sync_error_count), 0)"
                         "  FROM pg_stat_subscription_stats WHERE subname = $1",
                         1, p);
    if (rc < 0)
        return rc;
    long errors = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (errors > 0) {
        lm__error_set(LM_EDB, "the replication of the tenant failed on the target shard");
        lm__error_hint("The target's server log says why.");
        return LM_EDB;
    }
    return 0;
}

static int wait_copied(PGconn *dst, const char *name, int timeout_s)
{
    const char *p[1] = {name};
    double t0 = lm__now_ms();
    for (;;) {
        PGresult *r = NULL;
        int rc = lm__db_exec(&r, dst,
                             "SELECT count(*), count(*) FILTER (WHERE r.srsubstate <> 'r')"
                             "  FROM pg_subscription s JOIN pg_subscription_rel r"
                             "    ON r.srsubid = s.oid WHERE s.subname = $1",
                             1, p);
        if (rc < 0)
            return rc;
        int all = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        int waiting = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        if (all > 0 && waiting == 0)
            return 0;
        if ((rc = replication_failed(dst, name)) < 0)
            return rc;
        if (lm__now_ms() - t0 > timeout_s * 1000.0)
            return lm__error_set(LM_ETIMEOUT, "the copy of the tenant took longer than %d s",
                                 timeout_s);
        sleep_ms(20);
    }
}

/* Wait until the target has applied the source's changes up to @p lsn. */
static int wait_applied(PGconn *dst, const char *name, const char *lsn, double timeout_ms)
{
    const char *p[2] = {name, lsn};
    double t0 = lm__now_ms(), checked = t0;
    for (;;) {
        PGresult *r = NULL;
        int rc = lm__db_exec(&r, dst,
                             "SELECT coalesce(bool_or(os.remote_lsn > $2::pg_lsn), false)"
                             "  FROM pg_subscription s"
                             "  JOIN pg_replication_origin o ON o.roname = 'pg_' || s.oid"
                             "  JOIN pg_replication_origin_status os ON os.local_id = o.roident"
                             " WHERE s.subname = $1", 2, p);
        if (rc < 0)
            return rc;
        int done = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (done)
            return 0;
        if (lm__now_ms() - t0 > timeout_ms) {
            lm__error_set(LM_ETIMEOUT, "the target shard did not catch up in %.0f s",
                          timeout_ms / 1000);
            lm__error_hint("The target applies the tenant's writes slower than they come: "
                           "move it when it writes less, or to a less loaded shard.");
            return LM_ETIMEOUT;
        }
        /* a long wait: replication that fails (and retries for ever) ends it */
        if (lm__now_ms() - checked > 1000) {
            if ((rc = replication_failed(dst, name)) < 0)
                return rc;
            checked = lm__now_ms();
        }
        sleep_ms(lm__now_ms() - t0 > 100 ? 5 : 1);
    }
}

/* The marker: a change of one published row of the tenant (its tenant_usage row, unchanged in
   value), in the caller's transaction on the source; *lsn is where the source's WAL stands after
   it. Once the target has applied past that, it has every change of the tenant committed before
   the marker's transaction. */
static int write_marker(PGconn *src, const lm__db *db, const char *owner, char *lsn, size_t cap)
{
    PGresult *r = NULL;
    const char *po[1] = {owner};
    int rc = lm__cluster_exec_fmt(src, NULL, 1, po,
                                  "INSERT INTO %s.tenant_usage AS u (owner_id) VALUES ($1)"
                                  " ON CONFLICT (owner_id) DO UPDATE SET documents = u.documents",
                                  db->qschema);
    if (rc == 0 && (rc = lm__db_exec(&r, src, "SELECT pg_current_wal_insert_lsn()", 0, NULL)) == 0)
        snprintf(lsn, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* The catch-up before the fence: markers until the target applies one within CATCHUP_CLOSE_MS of
   its commit, so that the fenced catch-up, the write pause, has only the last moments' writes
   left. A large tenant's copy and index builds leave minutes of writes to stream (with a writer
   through the proxy during a 100,000-chunk move here: more than the 30 s that the fenced wait
   allows); the rounds go on while the lag shrinks, up to the move's timeout. */
#define CATCHUP_CLOSE_MS 50.0
static int catch_up(PGconn *src, PGconn *dst, const lm__db *db, const char *owner,
                    const char *name, double timeout_ms)
{
    char lsn[64];
    double start = lm__now_ms();
    for (int round = 0;; round++) {
        double t0 = lm__now_ms();
        /* (the position read before the commit: the target's progress passes it on applying) */
        int rc = lm__db_exec(NULL, src, "BEGIN", 0, NULL);
        if (rc == 0)
            rc = lm__db_exec(NULL, src, SYNC_COMMIT_SQL, 0, NULL);
        if (rc == 0)
            rc = write_marker(src, db, owner, lsn, sizeof(lsn));
        if (rc == 0)
            rc = lm__db_exec(NULL, src, "COMMIT", 0, NULL);
        else
            PQclear(PQexec(src, "ROLLBACK"));
        double left = timeout_ms - (lm__now_ms() - start);
        if (rc < 0 || (rc = wait_applied(dst, name, lsn, left > 1000 ? left : 1000)) < 0)
            return rc;
        /* close enough; or, after a few rounds, as close as the writes let it come (the
           fenced wait stops the writes: what is left is applied then) */
        double lag = lm__now_ms() - t0;
        if (lag < CATCHUP_CLOSE_MS || (round >= 8 && lag < CATCHUP_TIMEOUT_MS / 10))
            break;
    }
    return 0;
}

/* Build on the target the tenant's vector indexes that the source has and the target lacks
   (the definitions of the source's; one the target has is not touched: after the fence this
   takes no lock on the vector table). */
static int build_indexes(PGconn *src, PGconn *dst, const lm__db *db, const char *owner)
{
    PGresult *r = NULL;
    const char *p[1] = {owner};
    lm_buf lit = LM_BUF_INIT;
    lm__buf_printf(&lit, "'%s'", db->schema);
    int rc = lm__cluster_exec_fmt(
        src, &r, 1, p,
        "SELECT regexp_replace(pg_get_indexdef(i.oid), '^CREATE INDEX ',"
        "                      'CREATE INDEX CONCURRENTLY IF NOT EXISTS '),"
        "       format('%%I.%%I', %s, i.relname)"
        "  FROM %s.vector_indexes v"
        "  JOIN pg_class i ON i.relname = v.index_name AND i.relnamespace = %s::regnamespace"
        " WHERE v.owner_id = $1",
        lit.ptr, db->qschema, lit.ptr);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        PGresult *e = NULL;
        const char *pn[1] = {PQgetvalue(r, i, 1)};
        rc = lm__db_exec(&e, dst, "SELECT to_regclass($1) IS NULL", 1, pn);
        /* One build at a time, in memory: a graph that outgrows maintenance_work_mem (64 MB
           by default, which a tenant of 100,000 vectors of 384 dimensions outgrows) goes on
           built from disk pages, several times slower. */
        if (rc == 0 && PQgetvalue(e, 0, 0)[0] == 't')
            rc = lm__db_script(dst, "SET maintenance_work_mem = '" MOVE_BUILD_MEM "';"
                                    " SET max_parallel_maintenance_workers = 0");
        if (rc == 0 && PQgetvalue(e, 0, 0)[0] == 't')
            rc = lm__db_script(dst, PQgetvalue(r, i, 0));
        PQclear(e);
    }
    PQclear(r);
    lm_buf_dispose(&lit);
    return rc;
}

LM_EXTERN int lm_cluster_move_tenant(const char *proxy_url, const char *schema,
                                     const char *owner_id, int to_shard, int timeout_s,
                                     lm_cluster_move_report *report)
{
    lm__db db;
    PGconn *proxy = NULL, *src = NULL, *dst = NULL;
    PGresult *r = NULL;
    lm__cluster_shard_row *v = NULL;
    lm_buf sql = LM_BUF_INIT;
    lm_cluster_move_report rep;
    char name[64], lsn[64], to[16], arriving[64];
    const char *src_url = NULL, *dst_url = NULL;
    int rc, from = -1, replicating = 0, fenced = 0, arrived = 0;
    size_t n = 0;
    double t0 = lm__now_ms(), t;

    memset(&rep, 0, sizeof(rep));
    if (report)
        memset(report, 0, sizeof(*report));
    if (owner_id == NULL || owner_id[0] == '\0' || strlen(owner_id) > LM_MAX_OWNER_ID_BYTES)
        return lm__error_set_field(LM_EINVAL, "owner_id", "invalid owner_id");
    if (timeout_s <= 0)
        timeout_s = 3600;
    if ((rc = lm__cluster_schema(&db, schema)) < 0 ||
        (rc = lm__cluster_open_proxy(&proxy, &db, proxy_url)) < 0)
        return rc;
    const char *po[1] = {owner_id};
    if ((rc = lm__cluster_shards(proxy, &db, &v, &n)) < 0 ||
        (rc = lm__cluster_exec_fmt(proxy, &r, 1, po, "SELECT %s.cluster_shard_of($1),"
                                   " 'lm_move_' || left(md5($1), 16)", db.qschema)) < 0)
        goto out;
    from = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(name, sizeof(name), "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    r = NULL;
    for (size_t i = 0; i < n; i++) {
        if (v[i].shard_no == from)
            src_url = v[i].conninfo;
        if (v[i].shard_no == to_shard)
            dst_url = v[i].conninfo;
    }
    rep.from_shard = from;
    rep.to_shard = to_shard;
    if (dst_url == NULL) {
        rc = lm__error_set_field(LM_EINVAL, "shard", "no shard %d in the cluster", to_shard);
        goto out;
    }
    if (from == to_shard) {
        rc = 0;
        goto out;
    }
    if ((rc = lm__cluster_connect(&src, src_url, "source shard")) < 0 ||
        (rc = lm__cluster_connect(&dst, dst_url, "target shard")) < 0)
        goto out;

    /* 1. clean slate on the target, where the tenant is fenced until the cut-over: its rows
       there are a copy in the making, which no maintenance work may touch (the embedding
       worker claims its queue entries on the source) */
    snprintf(arriving, sizeof(arriving), "shard %d (arriving from shard %d)", to_shard, from);
    if ((rc = drop_replication(src, dst, name)) < 0 || (rc = delete_tenant(dst, &db, owner_id)) < 0 ||
        (rc = lm__cluster_exec_fmt(dst, NULL, 2, (const char *const[]){owner_id, arriving},
                                   "INSERT INTO %s.tenant_fence (owner_id, moved_to)"
                                   " VALUES ($1, $2) ON CONFLICT (owner_id) DO UPDATE"
                                   " SET moved_to = excluded.moved_to,"
                                   " fenced_at = clock_timestamp()", db.qschema)) < 0 ||
        (arrived = 1, rc = same_tables(src, dst, &db, to_shard)) < 0 ||
        (rc = fix_replica_identity(src, &db)) < 0 || (rc = fix_replica_identity(dst, &db)) < 0)
        goto out;

    /* 2. publish, subscribe, copy, build the indexes */
    rc = lm__cluster_exec_fmt(src, &r, 2, (const char *const[]){name, owner_id},
                              "SELECT format('CREATE PUBLICATION %%I FOR TABLE %%s', $1::text,"
                              " string_agg(format('%%s WHERE (owner_id = %%L)', t, $2::text),"
                              " ', ')) FROM %s.cluster_tenant_tables() t", db.qschema);
    if (rc < 0)
        goto out;
    replicating = 1;
    rc = lm__db_script(src, PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (rc < 0)
        goto out;
    rc = lm__db_exec(&r, dst, "SELECT format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I"
                              " WITH (slot_name = %L)', $1::text, $2::text, $1::text, $1::text)",
                     2, (const char *const[]){name, src_url});
    if (rc < 0)
        goto out;
    rc = lm__db_script(dst, PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (rc < 0 || (rc = wait_copied(dst, name, timeout_s)) < 0)
        goto out;
    t = lm__now_ms();
    rep.copy_ms = t - t0;
    if ((rc = build_indexes(src, dst, &db, owner_id)) < 0)
        goto out;
    rep.index_ms = lm__now_ms() - t;
    /* What the source wrote during the copy and the builds, streamed before the fence; and an
       index the source built meanwhile */
    if ((rc = catch_up(src, dst, &db, owner_id, name, timeout_s * 1000.0 - (lm__now_ms() - t0))) < 0 ||
        (rc = build_indexes(src, dst, &db, owner_id)) < 0)
        goto out;

    /* 3. cut-over */
    t = lm__now_ms();
    snprintf(to, sizeof(to), "%d", to_shard);
    {
        char dest[32];
        snprintf(dest, sizeof(dest), "shard %d", to_shard);
        const char *pf[2] = {owner_id, dest};
        rc = lm__db_exec(NULL, src, "BEGIN", 0, NULL);
        if (rc == 0)
            rc = lm__db_exec(NULL, src, "SELECT " FENCE_LOCK_SQL, 1, po);
        if (rc == 0)
            rc = lm__db_exec(NULL, src, SYNC_COMMIT_SQL, 0, NULL);
        if (rc == 0)
            rc = lm__db_exec(NULL, src, "SELECT set_config('llmemory.fence_bypass', $1, true)",
                             1, po);
        if (rc == 0)
            rc = lm__cluster_exec_fmt(src, NULL, 2, pf,
                                      "INSERT INTO %s.tenant_fence (owner_id, moved_to)"
                                      " VALUES ($1, $2) ON CONFLICT (owner_id) DO UPDATE"
                                      " SET moved_to = excluded.moved_to,"
                                      " fenced_at = clock_timestamp()", db.qschema);
        /* The marker, in the fence's transaction */
        if (rc == 0)
            rc = write_marker(src, &db, owner_id, lsn, sizeof(lsn));
        if (rc == 0)
            rc = lm__db_exec(NULL, src, "COMMIT", 0, NULL);
        else
            PQclear(PQexec(src, "ROLLBACK"));
        if (rc < 0)
            goto out;
        fenced = 1;
    }
    if ((rc = wait_applied(dst, name, lsn, CATCHUP_TIMEOUT_MS)) < 0)
        goto out;
    /* The source's index set is final now (its builder's record of a new one is a fenced
       write); the target lifts its fence. Jobs the source's embedding worker had claimed can no
       longer be written there: their leases end, so the target's worker redoes them now. */
    if ((rc = build_indexes(src, dst, &db, owner_id)) < 0 ||
        (rc = lm__db_exec(NULL, dst, "BEGIN", 0, NULL)) < 0)
        goto out;
    rc = lm__db_exec(NULL, dst, "SELECT set_config('llmemory.fence_bypass', $1, true)", 1, po);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(dst, NULL, 1, po,
                                  "UPDATE %s.embedding_queue SET lease_until = now()"
                                  " WHERE owner_id = $1 AND status = 'processing'", db.qschema);
    if (rc == 0)
        rc = lm__cluster_exec_fmt(dst, NULL, 1, po,
                                  "DELETE FROM %s.tenant_fence WHERE owner_id = $1", db.qschema);
    if (rc == 0)
        rc = lm__db_exec(NULL, dst, "COMMIT", 0, NULL);
    else
        PQclear(PQexec(dst, "ROLLBACK"));
    if (rc < 0)
        goto out;
    rc = lm__cluster_exec_fmt(proxy, NULL, 2, (const char *const[]){owner_id, to},
                              "INSERT INTO %s.cluster_placement AS p (owner_id, shard_no)"
                              " VALUES ($1, $2::integer) ON CONFLICT (owner_id) DO UPDATE"
                              " SET shard_no = excluded.shard_no, version = p.version + 1,"
                              " placed_at = now()", db.qschema);
    if (rc < 0)
        goto out;
    fenced = arrived = 0; /* the source's fence stays: the tenant lives on the target now */
    rep.pause_ms = lm__now_ms() - t;

    /* 4. clean-up of the source */
    t = lm__now_ms();
    if ((rc = lm__cluster_exec_fmt(dst, &r, 1, po,
                                   "SELECT coalesce(sum(d.row_count), 0)"
                                   "  FROM %s.lm_tenant_digest($1) d", db.qschema)) == 0) {
        rep.rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        r = NULL;
    }
    if (rc == 0 && (rc = drop_replication(src, dst, name)) == 0)
        replicating = 0;
    if (rc == 0)
        rc = delete_tenant(src, &db, owner_id);
    rep.cleanup_ms = lm__now_ms() - t;
out:
    if (rc < 0) {
        int code = lm_error_last()->code;
        char msg[400], detail[400], hint[400];
        snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
        snprintf(detail, sizeof(detail), "%s", lm_error_last()->detail);
        snprintf(hint, sizeof(hint), "%s", lm_error_last()->hint);
        /* Undo what stands in the way of the tenant's work on its (unchanged) shard. */
        if (fenced && src && PQstatus(src) == CONNECTION_OK)
            lm__cluster_exec_fmt(src, NULL, 1, po,
                                 "DELETE FROM %s.tenant_fence WHERE owner_id = $1", db.qschema);
        if (replicating && src && dst)
            drop_replication(src, dst, name);
        /* The target's copy stays fenced (a later move starts with a clean slate there) */
        if (arrived && dst && PQstatus(dst) == CONNECTION_OK)
            lm__cluster_exec_fmt(dst, NULL, 2, (const char *const[]){owner_id, arriving},
                                 "INSERT INTO %s.tenant_fence (owner_id, moved_to)"
                                 " VALUES ($1, $2) ON CONFLICT (owner_id) DO NOTHING", db.qschema);
        lm__error_set(code, "%s", msg);
        if (detail[0])
            lm__error_detail("%s", detail);
        if (hint[0])
            lm__error_hint("%s", hint);
    }
    rep.total_ms = lm__now_ms() - t0;
    if (report)
        *report = rep;
    PQclear(r);
    lm_buf_dispose(&sql);
    lm__cluster_shards_free(v, n);
    if (src)
        PQfinish(src);
    if (dst)
        PQfinish(dst);
    PQfinish(proxy);
    return rc;
}

LM_EXTERN int lm_cluster_rebalance(const char *proxy_url, const char *schema, int max_moves,
                                   int dry_run, lm_cluster_move_cb cb, void *payload, int *moved)
{
    lm__db db;
    PGconn *proxy = NULL;
    PGresult *r = NULL;
    lm__cluster_shard_row *v = NULL;
    size_t n = 0, nt = 0;
    int64_t *load = NULL;
    int rc, done = 0;
    struct tenant {
        char *owner;
        int shard;
        int64_t chunks;
    } *ts = NULL;

    if (moved)
        *moved = 0;
    if (max_moves <= 0)
        max_moves = 100;
    if ((rc = lm__cluster_schema(&db, schema)) < 0 ||
        (rc = lm__cluster_open_proxy(&proxy, &db, proxy_url)) < 0)
        return rc;
    if ((rc = lm__cluster_shards(proxy, &db, &v, &n)) < 0 ||
        (rc = lm__cluster_exec_fmt(proxy, &r, 0, NULL,
                                   "SELECT z.owner_id, %s.cluster_shard_of(z.owner_id), z.chunks"
                                   "  FROM %s.lm_all_tenant_sizes() z ORDER BY z.chunks DESC, 1",
                                   db.qschema, db.qschema)) < 0)
        goto out;
    nt = (size_t)PQntuples(r);
    load = lm__calloc(n ? n : 1, sizeof(*load));
    ts = lm__calloc(nt ? nt : 1, sizeof(*ts));
    if (load == NULL || ts == NULL) {
        rc = lm__error_set(LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        ts[i].owner = PQgetvalue(r, (int)i, 0);
        ts[i].shard = (int)strtol(PQgetvalue(r, (int)i, 1), NULL, 10);
        ts[i].chunks = strtoll(PQgetvalue(r, (int)i, 2), NULL, 10);
        if (ts[i].shard >= 0 && (size_t)ts[i].shard < n)
            load[ts[i].shard] += ts[i].chunks;
    }
    while (done < max_moves && n > 1) {
        size_t hi = 0, lo = 0;
        for (size_t s = 1; s < n; s++) {
            if (load[s] > load[hi])
                hi = s;
            if (load[s] < load[lo])
                lo = s;
        }
        int64_t gap = load[hi] - load[lo];
        struct tenant *best = NULL;
        /* The largest tenant of the fullest shard that narrows the gap (moving c changes it to
           |gap - 2c|, smaller when 0 < c < gap). */
        for (size_t i = 0; i < nt; i++)
            if ((size_t)ts[i].shard == hi && ts[i].chunks > 0 && ts[i].chunks < gap &&
                (best == NULL || ts[i].chunks > best->chunks))
                best = &ts[i];
        if (best == NULL)
            break;
        if (cb && cb(best->owner, (int)hi, (int)lo, best->chunks, payload) != 0)
            break;
        if (!dry_run && (rc = lm_cluster_move_tenant(proxy_url, schema, best->owner, (int)lo, 0,
                                                     NULL)) < 0)
            goto out;
        load[hi] -= best->chunks;
        load[lo] += best->chunks;
        best->shard = (int)lo;
        done++;
    }
    if (moved)
        *moved = done;
out:
    lm__free(ts);
    lm__free(load);
    PQclear(r);
    lm__cluster_shards_free(v, n);
    PQfinish(proxy);
    return rc;
}

/*
 * tests/integration/prefault_test.c: a new pooled connection maps the server's resident shared
 * buffers into its backend's page table once (db/pool.c, llmemory_prefault_buffers() of the
 * llmemory_bm25 extension), so later searches do not fault each buffer in on first touch;
 * $LLMEMORY_PREFAULT=off turns it off, and a bad setting is refused. Only the first connection of
 * each place of the pool pays for it, not the ones that replace a connection of the other kind. The effect is read from the
 * backend itself: RssShmem in /proc/<pid>/status counts the shared pages in its page table.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/memory.h"
#include "db/db.h"
#include "support.h"

/* RssShmem (kB) of process @p pid, -1 when unreadable. */
static long rss_shmem_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "RssShmem: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static long scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)
                 ? atol(PQgetvalue(r, 0, 0))
                 : -1;
    PQclear(r);
    return v;
}

/* "SELECT <the extension's schema>.llmemory_prefault_buffers()" into @p sql. */
static void prefault_call(PGconn *c, char *sql, size_t cap)
{
    PGresult *r = PQexec(c, "SELECT quote_ident(n.nspname) FROM pg_extension e"
                            " JOIN pg_namespace n ON n.oid = e.extnamespace"
                            " WHERE e.extname = 'llmemory_bm25'");
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    snprintf(sql, cap, "SELECT %s.llmemory_prefault_buffers()", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* With the setting @p setting: a memory whose pool holds two connections at once, the second
   opened after a table of about 16 MB was read through shared buffers; that second backend's
   RssShmem, the pool's count of prefaulted backends into @p prefaulted. */
static long second_backend_shmem(const char *setting, long *prefaulted)
{
    if (setting != NULL)
        setenv("LLMEMORY_PREFAULT", setting, 1);
    else
        unsetenv("LLMEMORY_PREFAULT");
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.pool_size = 2;
    lm_memory *m = test_memory_opts(&o);
    PGconn *a = NULL, *b = NULL;
    char sql[256];

    ASSERT_OK(lm__pool_acquire(&a, &m->db.pool));
    snprintf(sql, sizeof(sql),
             "CREATE TABLE %s.prefault_fill AS SELECT g, repeat('x', 400) AS pad"
             " FROM generate_series(1, 32000) g",
             m->db.qschema);
    PQclear(PQexec(a, sql));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.prefault_fill", m->db.qschema);
    ASSERT(scalar(a, sql) == 32000);
    ASSERT_OK(lm__pool_acquire(&b, &m->db.pool)); /* a new backend: a is held */
    ASSERT(a != b);
    long kb = rss_shmem_kb(PQbackendPID(b));
    *prefaulted = m->db.pool.prefaulted;
    lm__pool_release(&m->db.pool, b);
    lm__pool_release(&m->db.pool, a);
    lm_memory_close(m);
    unsetenv("LLMEMORY_PREFAULT");
    return kb;
}

TEST(test_prefault__a_new_backend_maps_the_resident_buffers)
{
    long on_count = 0, off_count = 0;
    long on = second_backend_shmem(NULL, &on_count);
    long off = second_backend_shmem("off", &off_count);

    /* The second connection was prefaulted (the first too, unless it was opened before the
       memory's opening brought the extension to 1.2: the first open after an upgrade). */
    ASSERT(on_count >= 1);
    printf("# RssShmem of the second backend: %ld kB prefaulted, %ld kB not\n", on, off);
    ASSERT_EQ_INT((int)off_count, 0);
    if (on >= 0 && off >= 0) {
        /* At least the 16 MB table's buffers more than a backend that maps as it goes. */
        ASSERT(on >= off + 12 * 1024);
    }
}

TEST(test_prefault__only_resident_pages_and_no_new_memory)
{
    lm_memory *m = test_memory();
    PGconn *c = NULL;
    ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
    /* The function maps what is in memory already: calling it again finds the same pages and
       the backend's mapped shared memory does not grow past the buffer pool's size. */
    char call[160];
    prefault_call(c, call, sizeof(call));
    long pages = scalar(c, call);
    long again = scalar(c, call);
    long pool_kb = scalar(c, "SELECT setting::bigint * 8 FROM pg_settings"
                             " WHERE name = 'shared_buffers'");
    ASSERT(pages > 0);
    ASSERT(again >= pages * 9 / 10 && again <= pages * 11 / 10 + 16);
    ASSERT(pages * 4 <= pool_kb + 4);
    long kb = rss_shmem_kb(PQbackendPID(c));
    if (kb >= 0)
        ASSERT(kb >= pages * 4 * 9 / 10);
    lm__pool_release(&m->db.pool, c);
    lm_memory_close(m);
}

TEST(test_prefault__bad_setting_is_refused)
{
    static const char *const bad[] = {"yes", "2", "of", " on"};
    test_env_refused("LLMEMORY_PREFAULT", bad, sizeof(bad) / sizeof(bad[0]));
}

/* A background thread's acquire: with a pool of one, it closes the idle normal connection and
   opens one of its own kind. */
static void *background_acquire(void *arg)
{
    lm_memory *m = arg;
    PGconn *c = NULL;
    (void)lm_thread_background(m);
    if (lm__pool_acquire(&c, &m->db.pool) == 0)
        lm__pool_release(&m->db.pool, c);
    return NULL;
}

TEST(test_prefault__replacements_do_not_pay_again)
{
    unsetenv("LLMEMORY_PREFAULT");
    unsetenv("LLMEMORY_BACKGROUND_NICE");
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.pool_size = 1;
    lm_memory *m = test_memory_opts(&o);
    PGconn *c = NULL;
    pthread_t th;
    int pids[3], n = 0;

    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            ASSERT_EQ_INT(pthread_create(&th, NULL, background_acquire, m), 0);
            pthread_join(th, NULL);
        }
        ASSERT_OK(lm__pool_acquire(&c, &m->db.pool));
        pids[n++] = PQbackendPID(c);
        lm__pool_release(&m->db.pool, c);
    }
    /* The connection was replaced twice (for the background thread, and back), and only one
       connection of the three or four opened prefaulted. */
    ASSERT(pids[1] != pids[0]);
    ASSERT_EQ_INT(m->db.pool.open, 1);
    ASSERT_EQ_INT((int)m->db.pool.prefaulted, 1);
    lm_memory_close(m);
}

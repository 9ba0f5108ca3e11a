/*
 * bench/lifecycle/lifecycle_bench.c: tenant lifecycle throughput on one database.
 *
 *   1. load: a large tenant ("big", LIFECYCLE_BENCH_CHUNKS chunks, default 100,000) through
 *      lm_doc_add, and a small one ("small", 300 documents) that is searched later;
 *   2. export "big" (with and without vectors) into a counting sink, against a baseline in the
 *      same run: one plain SELECT of the same chunk rows over libpq;
 *   3. import that export into "big2", against the load rate through lm_doc_add;
 *   4. erase "big2" while a thread searches "small" continuously (lm_tenant_erase_start: the
 *      mark, then the memory's background cleanup): the time until "big2" is invisible, the time
 *      until its cleanup has finished, and the other tenant's p50/p99 before and during.
 * LIFECYCLE_BENCH_ERASE_ONLY=1 measures step 4 alone, on tenants built quickly: a seed tenant of
 * LIFECYCLE_BENCH_SEED chunks (default 4,000) loaded through lm_doc_add and copied with SQL
 * (new ids, the same rows, postings and vectors built by the triggers and an INSERT ... SELECT)
 * until "big2" and "big3" hold the target; "big3" is then erased by the synchronous call
 * (lm_tenant_erase_report, the same batches on the calling thread, no pauses) for comparison.
 * These copies get no HNSW index of their own (vector_index_threshold -1): a real tenant that
 * large has one, which the cleanup drops first.
 * Each step reports wall seconds, CPU seconds of this process and of the PostgreSQL server
 * processes (from /proc), and chunks per second of each.
 *   lifecycle_bench DB_URL SCHEMA
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "llmemory.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double self_cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of every process named "postgres" (server, backends, workers). Backends that
 * exited meanwhile are lost, so steps keep their connections open. */
static double server_cpu(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    while (d && (e = readdir(d)) != NULL) {
        char path[300], buf[1024];
        FILE *f;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *c = strchr(buf, '('), *r = strrchr(buf, ')');
        if (c == NULL || r == NULL || strncmp(c + 1, "postgres", 8) != 0)
            continue;
        unsigned long ut = 0, st = 0;
        /* fields after ")": state(3) ... utime(14) stime(15) */
        char *p = r + 2;
        for (int i = 3; i < 14 && p; i++)
            p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
        if (p && sscanf(p, "%lu %lu", &ut, &st) == 2)
            total += (double)(ut + st) / (double)hz;
    }
    if (d)
        closedir(d);
    return total;
}

typedef struct step {
    double t0, c0, s0;
} step;

static void step_begin(step *s)
{
    s->t0 = now_s();
    s->c0 = self_cpu();
    s->s0 = server_cpu();
}

static void step_end(const step *s, const char *name, double units, const char *unit)
{
    double wall = now_s() - s->t0, cpu = self_cpu() - s->c0, srv = server_cpu() - s->s0;
    if (srv < 0) {
        /* A backend exited during the step (its CPU left with it): no server figure. */
        printf("%-28s wall %8.2f s  cpu(client) %7.2f s  cpu(server)     n/a    %10.0f %s/s wall\n",
               name, wall, cpu, units / wall, unit);
        fflush(stdout);
        return;
    }
    printf("%-28s wall %8.2f s  cpu(client) %7.2f s  cpu(server) %7.2f s  %10.0f %s/s wall"
           "  %10.0f %s/cpu-s\n",
           name, wall, cpu, srv, units / wall, unit, units / (cpu + srv > 0 ? cpu + srv : 1),
           unit);
    fflush(stdout);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s (%s)\n", what, lm_error_last()->message, lm_errname(rc));
    exit(1);
}

static const char *const words[] = {
    "vacation", "policy",  "budget",   "travel",   "report",  "quarterly", "revenue", "contract",
    "security", "network", "employee", "training", "invoice", "customer",  "support", "release",
    "roadmap",  "meeting", "benefits", "payroll",  "office",  "hardware",  "license", "audit",
    "incident", "backup",  "deadline", "supplier", "quality", "safety",    "project", "design"};

static void doc_text(char *out, size_t cap, unsigned seed, int words_n)
{
    size_t k = 0;
    for (int i = 0; i < words_n && k + 16 < cap; i++) {
        seed = seed * 1103515245u + 12345u;
        k += (size_t)snprintf(out + k, cap - k, "%s%s", words[(seed >> 16) % 32],
                              i % 12 == 11 ? ". " : " ");
    }
    out[k] = '\0';
}

/* ---- streams ---- */
typedef struct {
    char *p;
    size_t n, cap, pos;
} membuf;

static int mb_write(const char *d, size_t len, void *payload)
{
    membuf *m = payload;
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
        if (m->p == NULL)
            return LM_ENOMEM;
    }
    memcpy(m->p + m->n, d, len);
    m->n += len;
    return 0;
}

static int count_write(const char *d, size_t len, void *payload)
{
    (void)d;
    *(size_t *)payload += len;
    return 0;
}

static long mb_read(char *buf, size_t cap, void *payload)
{
    membuf *m = payload;
    size_t k = m->n - m->pos < cap ? m->n - m->pos : cap;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (long)k;
}

/* ---- the searcher of the other tenant ---- */
#define MAX_SAMPLES 200000
typedef struct {
    lm_memory *m;
    atomic_int stop;
    double at[MAX_SAMPLES], ms[MAX_SAMPLES];
    atomic_int n;
} searcher;

static void *search_loop(void *arg)
{
    searcher *s = arg;
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.no_history = 1;
    unsigned seed = 7;
    while (!atomic_load(&s->stop)) {
        char q[64];
        lm_results *r = NULL;
        seed = seed * 1103515245u + 12345u;
        snprintf(q, sizeof(q), "%s %s", words[(seed >> 16) % 32], words[(seed >> 8) % 32]);
        double t = now_s();
        if (lm_search(&r, s->m, "small", q, &o) != 0)
            die("search small", -1);
        double ms = (now_s() - t) * 1000;
        lm_results_free(r);
        int i = atomic_fetch_add(&s->n, 1);
        if (i < MAX_SAMPLES) {
            s->at[i] = t;
            s->ms[i] = ms;
        }
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pct(const searcher *s, double from, double to, const char *label)
{
    int n = atomic_load(&s->n) < MAX_SAMPLES ? atomic_load(&s->n) : MAX_SAMPLES, k = 0;
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++)
        if (s->at[i] >= from && s->at[i] < to)
            v[k++] = s->ms[i];
    qsort(v, (size_t)k, sizeof(double), cmp_d);
    if (k > 0)
        printf("other tenant %-15s searches %6d  p50 %7.2f ms  p99 %7.2f ms\n", label, k,
               v[k / 2], v[(int)(k * 0.99)]);
    else
        printf("other tenant %-15s no searches\n", label);
    free(v);
}

/* ---- erase: invisibility, cleanup, and the other tenant's latency ---- */

static void erase_measure(lm_memory *m, const char *owner, int background)
{
    searcher *se = calloc(1, sizeof(*se));
    pthread_t th;
    lm_erase_report rep;
    step s;
    int rc;
    se->m = m;
    pthread_create(&th, NULL, search_loop, se);
    sleep(5);
    double t_erase = now_s(), t_invisible, t_done;
    step_begin(&s);
    rc = background ? lm_tenant_erase_start(&rep, m, owner) : lm_tenant_erase_report(&rep, m, owner);
    if (rc != 0)
        die("erase", rc);
    {
        /* Every call now sees nothing of the tenant. */
        lm_results *r = NULL;
        lm_search_opts o = LM_SEARCH_OPTS_INIT;
        lm_stats st;
        o.no_history = 1;
        if (lm_search(&r, m, owner, "vacation policy", &o) != 0 || lm_results_count(r) != 0)
            die("erased tenant still visible", -1);
        lm_results_free(r);
        if (lm_stats_get(&st, m, owner) != 0 || st.document_count != 0)
            die("erased tenant still counted", -1);
        t_invisible = now_s();
    }
    if (background)
        lm_erasure_wait(m);
    t_done = now_s();
    {
        int64_t pending = -1;
        if (lm_erasure_pending(&pending, m) != 0 || pending != 0)
            die("cleanup not finished", -1);
    }
    step_end(&s, background ? "erase (mark + background)" : "erase (synchronous)",
             (double)rep.chunks, "chunks");
    sleep(2);
    atomic_store(&se->stop, 1);
    pthread_join(th, NULL);
    printf("erase %s: %lld documents, %lld chunks%s\n", owner, (long long)rep.documents,
           (long long)rep.chunks, background ? " (counted at the mark)" : "");
    printf("time to invisibility %.3f s; time to full cleanup %.2f s\n", t_invisible - t_erase,
           t_done - t_erase);
    pct(se, t_erase - 5, t_erase, "before erase");
    pct(se, t_erase, t_done, "during erase");
    free(se);
}

/* A tenant of @p target chunks: copies of "seed" (new ids), with SQL. */
static void replicate(PGconn *pg, const char *schema, const char *owner, int64_t seed_chunks,
                      int64_t target)
{
    for (int k = 0; (int64_t)k * seed_chunks < target; k++) {
        const char *p[2] = {owner, NULL};
        char ks[16];
        snprintf(ks, sizeof(ks), "%d", k);
        p[1] = ks;
        PGresult *r;
        const char *stmts[3];
        char a[1024], b2[2048], c[1024];
        snprintf(a, sizeof(a),
                 "INSERT INTO \"%s\".documents (owner_id, document_id, id_at_origin, document_type,"
                 " document_name, metadata, content_bytes, chunk_count)"
                 " SELECT $1, md5($2 || document_id::text)::uuid, id_at_origin || '-' || $2,"
                 " document_type, document_name, metadata, content_bytes, chunk_count"
                 " FROM \"%s\".documents WHERE owner_id = 'seed'",
                 schema, schema);
        snprintf(b2, sizeof(b2),
                 "INSERT INTO \"%s\".chunks (owner_id, chunk_id, document_id, parent_chunk_id,"
                 " chunk_index, chunk_level, searchable, content, content_hash, token_count,"
                 " metadata, search_vector, doc_len)"
                 " SELECT $1, md5($2 || chunk_id::text)::uuid, md5($2 || document_id::text)::uuid,"
                 " CASE WHEN parent_chunk_id IS NULL THEN NULL"
                 " ELSE md5($2 || parent_chunk_id::text)::uuid END,"
                 " chunk_index, chunk_level, searchable, content, content_hash, token_count,"
                 " metadata, search_vector, doc_len"
                 " FROM \"%s\".chunks WHERE owner_id = 'seed' ORDER BY chunk_level, chunk_no",
                 schema, schema);
        snprintf(c, sizeof(c),
                 "INSERT INTO \"%s\".vectors_384 (owner_id, provider_id, chunk_id, embedding)"
                 " SELECT $1, provider_id, md5($2 || chunk_id::text)::uuid, embedding"
                 " FROM \"%s\".vectors_384 WHERE owner_id = 'seed'",
                 schema, schema);
        stmts[0] = a;
        stmts[1] = b2;
        stmts[2] = c;
        for (int i = 0; i < 3; i++) {
            r = PQexecParams(pg, stmts[i], 2, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fprintf(stderr, "replicate: %s", PQerrorMessage(pg));
                exit(1);
            }
            PQclear(r);
        }
    }
}

static int erase_only(lm_memory *m, PGconn *pg, const char *schema, long target)
{
    long seed_target = getenv("LIFECYCLE_BENCH_SEED") ? atol(getenv("LIFECYCLE_BENCH_SEED")) : 4000;
    char text[4096];
    int64_t chunks = 0;
    step s;
    int rc;
    step_begin(&s);
    for (int i = 0; chunks < seed_target; i++) {
        char origin[32];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "doc-%d", i);
        doc_text(text, sizeof(text), (unsigned)i, 300);
        if ((rc = lm_doc_add(&r, m, "seed", origin, origin, LM_DOC_TEXT, text, strlen(text),
                             NULL)) != 0)
            die("add", rc);
        chunks += r.chunk_count;
    }
    step_end(&s, "load seed (lm_doc_add)", (double)chunks, "chunks");
    for (int i = 0; i < 300; i++) {
        char origin[32];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "s-%d", i);
        doc_text(text, sizeof(text), (unsigned)(i + 99991), 120);
        if ((rc = lm_doc_add(&r, m, "small", origin, origin, LM_DOC_TEXT, text, strlen(text),
                             NULL)) != 0)
            die("add small", rc);
    }
    const char *big[2] = {"big2", "big3"};
    for (int t = 0; t < 2; t++) {
        step_begin(&s);
        replicate(pg, schema, big[t], chunks, target);
        lm_stats st;
        if ((rc = lm_stats_get(&st, m, big[t])) != 0)
            die("stats", rc);
        step_end(&s, "copy seed (SQL)", (double)st.chunk_count, "chunks");
        printf("%s: %lld documents, %lld chunks\n", big[t], (long long)st.document_count,
               (long long)st.chunk_count);
    }
    PQclear(PQexec(pg, "CHECKPOINT"));
    {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".postings WHERE owner_id = 'big2'",
                 schema);
        PGresult *r = PQexec(pg, sql);
        printf("big2 postings: %s\n", PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "?");
        PQclear(r);
    }
    if (getenv("LIFECYCLE_BENCH_SYNC_FIRST") != NULL) {
        erase_measure(m, "big3", 0);
        erase_measure(m, "big2", 1);
    } else {
        erase_measure(m, "big2", 1);
        erase_measure(m, "big3", 0);
    }
    return 0;
}

static void bench_log(int level, const char *msg, void *payload)
{
    (void)level;
    (void)payload;
    fprintf(stderr, "  [log] %s\n", msg);
}

int main(int argc, char **argv)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m = NULL;
    long target = getenv("LIFECYCLE_BENCH_CHUNKS") ? atol(getenv("LIFECYCLE_BENCH_CHUNKS")) : 100000;
    lm_stats st;
    step s;
    int rc;
    char text[4096];

    if (argc != 3) {
        fprintf(stderr, "usage: lifecycle_bench DB_URL SCHEMA\n");
        return 2;
    }
    mo.database_url = argv[1];
    mo.schema = argv[2];
    mo.pool_size = 8;
    if (getenv("LIFECYCLE_BENCH_ERASE_ONLY") != NULL)
        mo.vector_index_threshold = -1;
    if (getenv("LIFECYCLE_BENCH_VERBOSE") != NULL) {
        mo.log_fn = bench_log;
        mo.log_level = LM_LOG_DEBUG;
    }
    if ((rc = lm_memory_open(&m, &mo)) != 0)
        die("open", rc);
    PGconn *pg = PQconnectdb(argv[1]);
    if (getenv("LIFECYCLE_BENCH_ERASE_ONLY") != NULL) {
        rc = erase_only(m, pg, argv[2], target);
        PQfinish(pg);
        lm_memory_close(m);
        return rc;
    }

    /* 1. load */
    step_begin(&s);
    int64_t chunks = 0;
    for (int i = 0; chunks < target; i++) {
        char origin[32];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "doc-%d", i);
        doc_text(text, sizeof(text), (unsigned)i, 300);
        if ((rc = lm_doc_add(&r, m, "big", origin, origin, LM_DOC_TEXT, text, strlen(text),
                             NULL)) != 0)
            die("add", rc);
        chunks += r.chunk_count;
    }
    step_end(&s, "load big (lm_doc_add)", (double)chunks, "chunks");
    for (int i = 0; i < 300; i++) {
        char origin[32];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "s-%d", i);
        doc_text(text, sizeof(text), (unsigned)(i + 99991), 120);
        if ((rc = lm_doc_add(&r, m, "small", origin, origin, LM_DOC_TEXT, text, strlen(text),
                             NULL)) != 0)
            die("add small", rc);
    }
    lm_memory_optimize(m, NULL);
    if ((rc = lm_stats_get(&st, m, "big")) != 0)
        die("stats", rc);
    printf("big: %lld documents, %lld chunks\n", (long long)st.document_count,
           (long long)st.chunk_count);

    /* 2. export, against one plain SELECT of the same rows */
    {
        char sql[256];
        step_begin(&s);
        snprintf(sql, sizeof(sql),
                 "SELECT chunk_id, document_id, content, metadata FROM \"%s\".chunks"
                 " WHERE owner_id = 'big' ORDER BY chunk_no",
                 argv[2]);
        PGresult *r = PQexec(pg, sql);
        size_t bytes = 0;
        for (int i = 0; i < PQntuples(r); i++)
            bytes += (size_t)PQgetlength(r, i, 2);
        PQclear(r);
        step_end(&s, "baseline: one SELECT", (double)st.chunk_count, "chunks");
        (void)bytes;
    }
    size_t counted = 0;
    lm_export_opts eo = LM_EXPORT_OPTS_INIT;
    step_begin(&s);
    if ((rc = lm_tenant_export(NULL, m, "big", &eo, count_write, &counted)) != 0)
        die("export", rc);
    step_end(&s, "export (no vectors)", (double)st.chunk_count, "chunks");
    printf("  export size %.1f MB\n", (double)counted / 1e6);
    membuf mb = {0};
    eo.with_vectors = 1;
    step_begin(&s);
    if ((rc = lm_tenant_export(NULL, m, "big", &eo, mb_write, &mb)) != 0)
        die("export vectors", rc);
    step_end(&s, "export (with vectors)", (double)st.chunk_count, "chunks");
    printf("  export size %.1f MB (held in memory by this benchmark for the import)\n",
           (double)mb.n / 1e6);

    /* 3. import */
    lm_import_result ir;
    step_begin(&s);
    if ((rc = lm_tenant_import(&ir, m, "big2", NULL, mb_read, &mb)) != 0)
        die("import", rc);
    step_end(&s, "import (vectors reused)", (double)ir.counts.chunks, "chunks");
    free(mb.p);

    /* 4. erase big2 while "small" is searched */
    erase_measure(m, "big2", 1);
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("client peak RSS %ld MB\n", u.ru_maxrss / 1024);
    PQfinish(pg);
    lm_memory_close(m);
    return 0;
}

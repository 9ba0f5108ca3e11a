/*
 * bench/scale/cold_probe.c: what the first vector search of a tenant costs the server, and why:
 * the library's vector statement (its ef_search rule, the half-precision graph's top 20
 * re-ranked exactly, bench/RESULTS.md section 10) run RUNS times in a row per tenant, each under
 * EXPLAIN (ANALYZE, BUFFERS), with the backend's CPU time and minor page faults around it
 * (/proc/<pid>/schedstat and stat: the server must run on this machine).
 *
 *   cold_probe [--fresh] [--runs N] SCHEMA DIM TENANT...
 *
 * One backend serves every tenant in turn, unless --fresh: a new connection (a new backend,
 * whose relation and catalog caches start empty) for each tenant. The query vector is the
 * tenant's first stored vector, read on another connection beforehand. Per run: backend CPU
 * ms, planning and execution ms, and shared buffers hit / read while planning and executing.
 * Environment: LLMEMORY_DATABASE_URL (or LLMEMORY_TEST_DATABASE_URL) names the database.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PGconn *connect_or_die(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cold_probe: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "cold_probe: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    return r;
}

/* CPU time (ms) the backend @p pid has run, from /proc/<pid>/schedstat (ns). */
static double backend_cpu_ms(long pid)
{
    char path[64];
    unsigned long long ns = 0;
    snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%llu", &ns) != 1) {
        fprintf(stderr, "cold_probe: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return (double)ns / 1e6;
}

/* Minor page faults of the backend @p pid (/proc/<pid>/stat, field 10): a first touch of a
   shared buffer's memory by this process maps it into its page table. */
static long backend_minflt(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    long v = -1;
    /* After ")": state ppid pgrp session tty tpgid flags minflt */
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %ld", &v) != 1)
        return -1;
    return v;
}

/* "shared hit=H read=R" of an EXPLAIN line into @p hr (added). */
static void add_buffers(const char *line, long hr[2])
{
    const char *h = strstr(line, "shared hit="), *r = strstr(line, "read=");
    if (strstr(line, "Buffers: shared") == NULL)
        return;
    if (h != NULL)
        hr[0] += strtol(h + 11, NULL, 10);
    if (r != NULL && (h == NULL || r > h))
        hr[1] += strtol(r + 5, NULL, 10);
}

int main(int argc, char **argv)
{
    const char *url = getenv("LLMEMORY_DATABASE_URL");
    int fresh = 0, runs = 3, i = 1;
    if (url == NULL || url[0] == '\0')
        url = getenv("LLMEMORY_TEST_DATABASE_URL");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--fresh") == 0)
            fresh = 1;
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else
            break;
    }
    if (url == NULL || argc - i < 3 || runs < 1) {
        fprintf(stderr, "usage: cold_probe [--fresh] [--runs N] SCHEMA DIM TENANT...\n");
        return 2;
    }
    const char *schema = argv[i], *dim = argv[i + 1];
    char prelude[1024], stmt[2048], vsql[256];
    snprintf(vsql, sizeof(vsql),
             "SELECT embedding::text, provider_id FROM \"%s\".vectors_%s WHERE owner_id = $1"
             " ORDER BY chunk_id LIMIT 1", schema, dim);
    /* As lm__vector_search(): ef_search from the graph's size, then the statement. */
    snprintf(prelude, sizeof(prelude),
             "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
             " set_config('max_parallel_workers_per_gather', '0', true),"
             " set_config('hnsw.ef_search', least(1000, greatest(10, coalesce(ceil(greatest(64,"
             " 0.5 * sqrt(pg_relation_size(to_regclass(quote_ident('%s') || '.' ||"
             " quote_ident(vi.index_name))) / 8192.0 * greatest(1, floor(8160.0 / (2 * %s +"
             " 290))))))::int, 40)))::text, true), vi.index_name"
             " FROM (VALUES (1)) one (x) LEFT JOIN \"%s\".vector_indexes vi"
             " ON vi.owner_id = $1", schema, dim, schema);
    snprintf(stmt, sizeof(stmt),
             "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) SELECT c.chunk_no, 1 - t.dist FROM ("
             " SELECT v.chunk_id, v.embedding <=> $2::vector(%s) AS dist"
             " FROM \"%s\".vectors_%s v WHERE v.owner_id = $1 AND v.provider_id = $3"
             " ORDER BY v.embedding::halfvec(%s) <=> $2::halfvec(%s) LIMIT 20) t"
             " JOIN \"%s\".chunks c ON c.owner_id = $1 AND c.chunk_id = t.chunk_id"
             " ORDER BY t.dist, c.chunk_no LIMIT 10", dim, schema, dim, dim, dim, schema);
    PGconn *aux = connect_or_die(url), *c = NULL;
    long pid = 0;
    printf("| tenant | run | backend CPU ms | planning ms | execution ms |"
           " planning hit / read | execution hit / read | minor faults |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (int t = i + 2; t < argc; t++) {
        const char *p1[] = {argv[t]};
        PGresult *vr = q(aux, vsql, 1, p1);
        if (PQntuples(vr) != 1) {
            fprintf(stderr, "cold_probe: tenant %s has no vectors\n", argv[t]);
            return 1;
        }
        char *vec = strdup(PQgetvalue(vr, 0, 0)), *prov = strdup(PQgetvalue(vr, 0, 1));
        PQclear(vr);
        if (c == NULL || fresh) {
            if (c != NULL)
                PQfinish(c);
            c = connect_or_die(url);
            PGresult *pr = q(c, "SELECT pg_backend_pid()", 0, NULL);
            pid = atol(PQgetvalue(pr, 0, 0));
            PQclear(pr);
        }
        for (int k = 0; k < runs; k++) {
            const char *p3[] = {argv[t], vec, prov};
            double c0 = backend_cpu_ms(pid);
            long f0 = backend_minflt(pid);
            PQclear(q(c, "BEGIN", 0, NULL));
            PGresult *er = q(c, prelude, 1, p1);
            int graph = !PQgetisnull(er, 0, 3);
            PQclear(er);
            er = q(c, stmt, 3, p3);
            PQclear(q(c, "COMMIT", 0, NULL));
            double cpu = backend_cpu_ms(pid) - c0;
            long faults = backend_minflt(pid) - f0;
            double plan = 0, exec = 0;
            long pb[2] = {0, 0}, eb[2] = {0, 0};
            int in_planning = 0, top_seen = 0;
            for (int j = 0; j < PQntuples(er); j++) {
                const char *l = PQgetvalue(er, j, 0);
                if (strncmp(l, "Planning:", 9) == 0)
                    in_planning = 1;
                else if (strncmp(l, "Planning Time:", 14) == 0)
                    plan = atof(l + 14);
                else if (strncmp(l, "Execution Time:", 15) == 0)
                    exec = atof(l + 15);
                else if (in_planning)
                    add_buffers(l, pb);
                else if (!top_seen && strstr(l, "Buffers: shared") != NULL) {
                    add_buffers(l, eb); /* the top node's: the whole execution */
                    top_seen = 1;
                }
            }
            PQclear(er);
            printf("| %s%s | %d | %.2f | %.2f | %.2f | %ld / %ld | %ld / %ld | %ld |\n", argv[t],
                   graph ? "" : " (exact)", k + 1, cpu, plan, exec, pb[0], pb[1], eb[0], eb[1],
                   faults);
        }
        free(vec);
        free(prov);
    }
    PQfinish(c);
    PQfinish(aux);
    return 0;
}

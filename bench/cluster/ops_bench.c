/*
 * bench/cluster/ops_bench.c: the latency a cluster proxy adds to each library operation
 * (docs/cluster.md). Two handles on the same tenant: one on the database of the tenant's shard
 * (direct), one on the proxy; every operation runs on both, alternating the side first, so
 * drift of a shared machine hits both alike. Operations: keyword, vector and hybrid search,
 * get (with chunks), add (a one-chunk document, replaced each time) and API key verification
 * (lm_key_verify: on the shard lm__key_lookup, through the proxy lm_all_key_lookup on every
 * shard). Prints a Markdown table of p50/p95 per side and the p50 added; and the CPU time per
 * operation of the client plus every process of the clusters whose postmaster pids are given
 * in OPS_BENCH_POSTMASTERS (space-separated), measured in blocks per side.
 *   ops_bench DIRECT_URL PROXY_URL OWNER   (OPS_BENCH_N: operations per side and kind, 300)
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <llmemory.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return v[(int)(p * (n - 1) + 0.5)];
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, lm_error_last()->message);
    exit(1);
}

static long pms[8];
static int n_pms;

/* CPU seconds used so far by this process and by the clusters' processes. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double t = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
    long hz = sysconf(_SC_CLK_TCK);
    char path[300], buf[1024];
    DIR *d = n_pms > 0 ? opendir("/proc") : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        long pid = strtol(e->d_name, NULL, 10);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        long ppid = 0;
        unsigned long ut = 0, st = 0;
        if (p == NULL || sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid,
                                &ut, &st) != 3)
            continue;
        for (int i = 0; i < n_pms; i++)
            if (pid == pms[i] || ppid == pms[i])
                t += (double)(ut + st) / (double)hz;
    }
    if (d != NULL)
        closedir(d);
    return t;
}

enum { OP_KEYWORD, OP_VECTOR, OP_HYBRID, OP_GET, OP_ADD, OP_KEY, N_OPS };
static const char *const op_names[N_OPS] = {"keyword search", "vector search", "hybrid search",
                                            "get (with chunks)", "add (1 chunk)",
                                            "key verification"};

static const char *owner;
static const char *key;
static int adds;

static void run_op(lm_memory *m, int op, int i)
{
    static const char *const queries[] = {"quick brown fox", "lazy dog river", "stone bridge",
                                          "fox and dog", "river stone note"};
    const char *q = queries[i % 5];
    if (op <= OP_HYBRID) {
        lm_search_opts so = LM_SEARCH_OPTS_INIT;
        so.type = op == OP_KEYWORD ? LM_SEARCH_TEXT : op == OP_VECTOR ? LM_SEARCH_VECTOR
                                                                     : LM_SEARCH_HYBRID;
        so.no_history = 1;
        lm_results *r = NULL;
        if (lm_search(&r, m, owner, q, &so) < 0)
            die("lm_search");
        lm_results_free(r);
    } else if (op == OP_GET) {
        char origin[32];
        lm_doc *d = NULL;
        snprintf(origin, sizeof(origin), "d%d", 1 + i % 200);
        if (lm_doc_get_by_origin(&d, m, owner, origin, 1) < 0)
            die("lm_doc_get_by_origin");
        lm_doc_free(d);
    } else if (op == OP_ADD) {
        char origin[32], text[160];
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "bench-add-%d", adds % 50);
        snprintf(text, sizeof(text), "bench note %d about a fox, a dog and a river stone", adds++);
        if (lm_doc_add(&r, m, owner, origin, origin, LM_DOC_TEXT, text, strlen(text), NULL) < 0)
            die("lm_doc_add");
    } else {
        lm_principal p;
        if (lm_key_verify(&p, m, key) < 0)
            die("lm_key_verify");
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DIRECT_URL PROXY_URL OWNER\n", argv[0]);
        return 2;
    }
    owner = argv[3];
    int n = getenv("OPS_BENCH_N") ? atoi(getenv("OPS_BENCH_N")) : 300;
    if (n < 10)
        n = 10;
    const char *pm = getenv("OPS_BENCH_POSTMASTERS");
    for (char *s = pm ? strdup(pm) : NULL, *t = s ? strtok(s, " ") : NULL; t && n_pms < 8;
         t = strtok(NULL, " "))
        pms[n_pms++] = strtol(t, NULL, 10);

    lm_memory *side[2] = {NULL, NULL};
    for (int s = 0; s < 2; s++) {
        lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
        mo.database_url = argv[1 + s];
        if (lm_memory_open(&side[s], &mo) < 0)
            die("lm_memory_open");
    }
    /* The tenant: 200 one-chunk documents, added through the proxy. */
    for (int i = 1; i <= 200; i++) {
        char origin[32], text[200];
        snprintf(origin, sizeof(origin), "d%d", i);
        snprintf(text, sizeof(text),
                 "note %d about the quick brown fox %d, a lazy dog %d and a river stone %d", i,
                 i % 97, i % 13, i % 7);
        if (lm_doc_add(NULL, side[1], owner, origin, origin, LM_DOC_TEXT, text, strlen(text),
                       NULL) < 0)
            die("lm_doc_add");
    }
    lm_key_created kc;
    if (lm_key_create(&kc, side[1], owner, NULL) < 0)
        die("lm_key_create");
    key = kc.key;

    double *lat[N_OPS][2], cpu[N_OPS][2];
    for (int op = 0; op < N_OPS; op++) {
        for (int s = 0; s < 2; s++) {
            lat[op][s] = calloc((size_t)n, sizeof(double));
            run_op(side[s], op, 0); /* warm: connections, prepared statements, caches */
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 2; k++) {
                int s = (i + k) % 2;
                double t0 = now_ms();
                run_op(side[s], op, i);
                lat[op][s][i] = now_ms() - t0;
            }
        /* CPU: a block of n per side, the side first alternating by operation */
        for (int k = 0; k < 2; k++) {
            int s = (op + k) % 2;
            double c0 = cpu_s();
            for (int i = 0; i < n; i++)
                run_op(side[s], op, i);
            cpu[op][s] = (cpu_s() - c0) * 1e6 / n;
        }
    }
    printf("| operation | direct p50 | proxy p50 | added p50 | direct p95 | proxy p95 |"
           " CPU direct | CPU proxy |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int op = 0; op < N_OPS; op++) {
        double d50 = pct(lat[op][0], n, 0.5), p50 = pct(lat[op][1], n, 0.5);
        double d95 = pct(lat[op][0], n, 0.95), p95 = pct(lat[op][1], n, 0.95);
        printf("| %s | %.3f ms | %.3f ms | %+.3f ms | %.3f ms | %.3f ms | %.0f µs | %.0f µs |\n",
               op_names[op], d50, p50, p50 - d50, d95, p95, cpu[op][0], cpu[op][1]);
    }
    printf("\n%d operations per side and kind; CPU: client plus every process of the clusters,"
           " per operation.\n", n);
    lm_memory_close(side[0]);
    lm_memory_close(side[1]);
    return 0;
}

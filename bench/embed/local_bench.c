/*
 * bench/embed/local_bench.c: speed and memory of the local encoder (lm_embedder_local_new).
 *   - chunks/s for chunks of exactly 200 word pieces, fp32 and int8, 1 and 2 threads: wall-clock
 *     chunks/s and chunks per CPU-second of the process (the figure that other load on the
 *     machine does not distort), median of the runs;
 *   - query latency: p50 / p95 of lm_embedder_embed_query() on short questions, wall and
 *     thread CPU time;
 *   - resident memory of the loaded model (VmRSS after loading and one embedding, minus VmRSS
 *     before) against the size of the weights file.
 * Each configuration runs in a fresh child process so that memory figures do not mix.
 * Usage: local_bench MODEL_DIR [runs] [chunks-per-run]   (built and run by bench/embed/run.sh)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "embed/local.h"
#include "llmemory/embed.h"
#include "llmemory/error.h"

static const char *const WORDS[] = {
    "the", "memory", "of", "a", "system", "stores", "documents", "and", "returns", "relevant",
    "passages", "for", "each", "question", "that", "users", "ask", "about", "their", "data",
    "search", "combines", "keyword", "matching", "with", "vector", "similarity", "to", "find",
    "answers", "when", "words", "differ", "between", "query", "text", "proteins", "cells",
    "patients", "treatment", "increased", "significantly", "results", "suggest", "model",
    "learning", "network", "training", "evaluation", "performance", "improves", "over", "baseline",
    "in", "experiments", "on", "several", "datasets", "including", "biomedical", "literature",
    "climate", "change", "affects", "ocean", "temperature", "levels", "across", "regions"};
#define NWORDS (sizeof(WORDS) / sizeof(WORDS[0]))

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A text of exactly @p tokens word pieces (without [CLS]/[SEP]) under @p e's tokenizer. */
static char *make_chunk(lm_embedder *e, int tokens)
{
    const lm__tok *t = lm__local_tok(e);
    size_t cap = 8192, len = 0;
    char *s = malloc(cap);
    s[0] = '\0';
    int32_t *ids = NULL;
    size_t cap_ids = 0;
    for (;;) {
        const char *w = WORDS[next() % NWORDS];
        size_t before = len;
        len += (size_t)snprintf(s + len, cap - len, "%s%s", len ? " " : "", w);
        size_t n = 0;
        lm__tok_encode(t, s, len, &ids, &n, &cap_ids);
        if ((int)n > tokens) {
            len = before;
            s[len] = '\0';
            /* pad with single-piece punctuation to land exactly */
            for (;;) {
                n = 0;
                lm__tok_encode(t, s, len, &ids, &n, &cap_ids);
                if ((int)n >= tokens)
                    break;
                len += (size_t)snprintf(s + len, cap - len, " .");
            }
            break;
        }
        if ((int)n == tokens)
            break;
    }
    free(ids);
    return s;
}

static lm_embedder *open_model(const char *dir, int int8, int threads)
{
    lm_embedder *e = NULL;
    lm_local_embedder_opts o = LM_LOCAL_EMBEDDER_OPTS_INIT;
    o.int8 = int8;
    o.threads = threads;
    if (lm_embedder_local_new(&e, dir, &o) != 0) {
        fprintf(stderr, "local_bench: %s\n", lm_error_last()->message);
        exit(1);
    }
    return e;
}

/* One configuration, in its own process. */
static void run_config(const char *dir, int int8, int threads, int runs, int nchunks)
{
    long rss0 = rss_kb();
    double t0 = now(CLOCK_MONOTONIC);
    lm_embedder *e = open_model(dir, int8, threads);
    double load_s = now(CLOCK_MONOTONIC) - t0;
    char **chunks = malloc((size_t)nchunks * sizeof(char *));
    for (int i = 0; i < nchunks; i++)
        chunks[i] = make_chunk(e, 200);
    int dim = lm_embedder_dim(e);
    float *out = malloc((size_t)nchunks * (size_t)dim * sizeof(float));
    lm_embedder_embed(e, out, (const char *const *)chunks, NULL, 1); /* warm up */
    long rss1 = rss_kb();
    double *wall = malloc((size_t)runs * sizeof(double)), *cpu = malloc((size_t)runs * sizeof(double));
    for (int r = 0; r < runs; r++) {
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        if (lm_embedder_embed(e, out, (const char *const *)chunks, NULL, (size_t)nchunks) != 0) {
            fprintf(stderr, "local_bench: %s\n", lm_error_last()->message);
            exit(1);
        }
        wall[r] = (double)nchunks / (now(CLOCK_MONOTONIC) - w0);
        cpu[r] = (double)nchunks / (now(CLOCK_PROCESS_CPUTIME_ID) - c0);
    }
    qsort(wall, (size_t)runs, sizeof(double), cmpd);
    qsort(cpu, (size_t)runs, sizeof(double), cmpd);
    struct stat sb;
    char wpath[1024];
    snprintf(wpath, sizeof(wpath), "%s/model.safetensors", dir);
    stat(wpath, &sb);
    const char *forced = getenv("LLMEMORY_SIMD");
    printf("| %-4s%s | %d | %7.1f | %7.1f | %6.0f | %5.2f | %5.2fs |\n", int8 ? "int8" : "fp32",
           forced ? " (portable C)" : "", threads,
           wall[runs / 2], cpu[runs / 2], (double)(rss1 - rss0) / 1024.0,
           (double)(rss1 - rss0) * 1024.0 / (double)sb.st_size, load_s);
    fflush(stdout);
    lm_embedder_free(e);
}

static void run_queries(const char *dir, int int8, int n)
{
    lm_embedder *e = open_model(dir, int8, 1);
    int dim = lm_embedder_dim(e);
    float *v = malloc((size_t)dim * sizeof(float));
    double *wall = malloc((size_t)n * sizeof(double)), *cpu = malloc((size_t)n * sizeof(double));
    char q[256];
    for (int i = -10; i < n; i++) {
        int k = 5 + (int)(next() % 8);
        size_t len = 0;
        for (int j = 0; j < k; j++)
            len += (size_t)snprintf(q + len, sizeof(q) - len, "%s%s", j ? " " : "",
                                    WORDS[next() % NWORDS]);
        const char *t = q;
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
        lm_embedder_embed_query(e, v, &t, NULL, 1);
        if (i >= 0) {
            wall[i] = (now(CLOCK_MONOTONIC) - w0) * 1e3;
            cpu[i] = (now(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e3;
        }
    }
    qsort(wall, (size_t)n, sizeof(double), cmpd);
    qsort(cpu, (size_t)n, sizeof(double), cmpd);
    printf("| %-4s | %6.2f | %6.2f | %6.2f | %6.2f |\n", int8 ? "int8" : "fp32", wall[n / 2],
           wall[n * 95 / 100], cpu[n / 2], cpu[n * 95 / 100]);
    fflush(stdout);
    lm_embedder_free(e);
}

static void in_child(void (*fn)(const char *, int, int, int, int), const char *dir, int a, int b,
                     int c, int d)
{
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        fn(dir, a, b, c, d);
        exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        exit(1);
}

static void queries_adapter(const char *dir, int int8, int n, int unused1, int unused2)
{
    (void)unused1;
    (void)unused2;
    run_queries(dir, int8, n);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: local_bench MODEL_DIR [runs] [chunks-per-run]\n");
        return 2;
    }
    const char *dir = argv[1];
    int runs = argc > 2 ? atoi(argv[2]) : 5, nchunks = argc > 3 ? atoi(argv[3]) : 16;
    lm_embedder *e = open_model(dir, 0, 1);
    printf("model %s (%s), SIMD %s%s\n\n", lm_embedder_provider_id(e), dir,
           lm__simd_name(lm__local_model(e)->simd), lm__simd_has_vnni() ? " + VNNI" : "");
    lm_embedder_free(e);
    printf("200-token chunks, %d per call, median of %d runs\n\n", nchunks, runs);
    printf("| mode | threads | chunks/s | chunks/CPU-s | model RSS MiB | RSS / weights | load |\n");
    printf("|------|---------|----------|--------------|---------------|---------------|------|\n");
    for (int int8 = 0; int8 <= 1; int8++)
        for (int th = 1; th <= 2; th++)
            in_child(run_config, dir, int8, th, runs, nchunks);
    /* the baseline of the same invocation: the portable C kernels */
    setenv("LLMEMORY_SIMD", "portable", 1);
    in_child(run_config, dir, 0, 1, runs > 3 ? 3 : runs, nchunks);
    in_child(run_config, dir, 1, 1, runs > 3 ? 3 : runs, nchunks);
    unsetenv("LLMEMORY_SIMD");
    printf("\nquery embedding (5-12 words, one thread), ms\n\n");
    printf("| mode | p50 wall | p95 wall | p50 CPU | p95 CPU |\n");
    printf("|------|----------|----------|---------|---------|\n");
    for (int int8 = 0; int8 <= 1; int8++)
        in_child(queries_adapter, dir, int8, 200, 0, 0);
    return 0;
}

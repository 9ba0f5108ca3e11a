/*
 * bench/common/bench.c: see bench.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <dirent.h>
#include <llmemory.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng_state = 42;

void bench_seed(uint64_t seed)
{
    rng_state = seed;
}

uint32_t bench_rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static const char *const syll[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo",
                                   "ze", "pa", "qu", "da", "fe", "gi", "ho", "ju"};
static char vocab[BENCH_VOCAB][16];

void bench_make_vocab(void)
{
    for (int i = 0; i < BENCH_VOCAB; i++) {
        int n = 2 + (int)(bench_rnd() % 3);
        vocab[i][0] = '\0';
        for (int s = 0; s < n; s++)
            strcat(vocab[i], syll[bench_rnd() % 16]);
    }
}

const char *bench_word(void)
{
    double u = (bench_rnd() + 1.0) / 4294967297.0;
    int i = (int)(BENCH_VOCAB * u * u * u);
    return vocab[i < BENCH_VOCAB ? i : BENCH_VOCAB - 1];
}

double bench_now_ms(void)
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

double bench_pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

void bench_die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, lm_error_last()->message);
    exit(1);
}

double bench_cluster_cpu_s(const long *postmasters, int n_pm)
{
    double t = 0;
    long hz = sysconf(_SC_CLK_TCK);
    char path[300], buf[1024];
    DIR *d;
    struct dirent *e;
    if (n_pm <= 0)
        return 0;
    if ((d = opendir("/proc")) == NULL)
        return NAN;
    while ((e = readdir(d)) != NULL) {
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
        for (int i = 0; i < n_pm; i++)
            if (pid == postmasters[i] || ppid == postmasters[i])
                t += (double)(ut + st) / (double)hz;
    }
    closedir(d);
    return t;
}

double bench_cpu_s(const long *postmasters, int n_pm)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6 + bench_cluster_cpu_s(postmasters, n_pm);
}

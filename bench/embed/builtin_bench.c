/*
 * bench/embed/builtin_bench.c: throughput of the built-in hashing embedder on one core.
 * Embeds synthetic English-like chunks (Zipf-distributed words) of 1 KB and 4 KB in batches of
 * 64 through the public API and prints chunks/s and MB/s per CPU-second of this thread (so
 * other load on the machine does not count), the median of N runs.
 * Usage: builtin_bench [runs] [dim]     (built and run by bench/embed/run.sh)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llmemory/embed.h"
#include "llmemory/error.h"

#define VOCAB 5000
#define BATCH 64

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char vocab[VOCAB][16];
static double zipf_cdf[VOCAB];

static void make_vocab(void)
{
    static const char *syl[] = {"ta",  "re",  "in",  "on", "al",   "er", "st", "en", "ti", "ou",
                                "pro", "com", "ing", "ed", "tion", "de", "ma", "li", "co", "ve"};
    double sum = 0;
    for (int i = 0; i < VOCAB; i++) {
        int ns = 1 + (int)(next() % 4);
        vocab[i][0] = '\0';
        for (int k = 0; k < ns; k++)
            strcat(vocab[i], syl[next() % 20]);
        sum += 1.0 / (i + 1);
        zipf_cdf[i] = sum;
    }
    for (int i = 0; i < VOCAB; i++)
        zipf_cdf[i] /= sum;
}

static const char *word(void)
{
    double u = (double)(next() >> 11) / 9007199254740992.0;
    int lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return vocab[lo];
}

/* A chunk of about @p size bytes: sentences of 8-20 words with capitals and punctuation. */
static char *chunk(size_t size)
{
    char *s = malloc(size + 64);
    size_t n = 0;
    int in_sentence = 0, left = 0;
    while (n < size) {
        if (!in_sentence) {
            left = 8 + (int)(next() % 13);
            in_sentence = 1;
        }
        const char *w = word();
        size_t l = strlen(w);
        if (n + l + 2 > size + 32)
            break;
        memcpy(s + n, w, l);
        if (left == 8 + 0 || n == 0)
            s[n] = (char)(s[n] - 32);
        n += l;
        if (--left == 0) {
            s[n++] = '.';
            in_sentence = 0;
        } else if (next() % 12 == 0) {
            s[n++] = ',';
        }
        s[n++] = ' ';
    }
    s[n] = '\0';
    return s;
}

/* CPU time of this thread: "per core" throughput, unaffected by other processes' time slices. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(lm_embedder *e, size_t size, size_t count, int runs)
{
    char **texts = malloc(count * sizeof(*texts));
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        texts[i] = chunk(size);
        bytes += strlen(texts[i]);
    }
    int dim = lm_embedder_dim(e);
    float *out = malloc((size_t)BATCH * (size_t)dim * sizeof(float));
    double *t = malloc((size_t)runs * sizeof(double));
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        for (size_t i = 0; i < count; i += BATCH) {
            size_t n = count - i < BATCH ? count - i : BATCH;
            if (lm_embedder_embed(e, out, (const char *const *)texts + i, NULL, n) < 0) {
                fprintf(stderr, "embed failed: %s\n", lm_error_last()->message);
                exit(1);
            }
        }
        t[r] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof(double), cmp);
    double med = t[runs / 2];
    printf("chunk %5zu B  dim %4d  %6zu chunks x %d runs:  median %8.0f chunks/s  %7.1f MB/s"
           "  (best %.0f chunks/s)\n",
           size, dim, count, runs, (double)count / med, (double)bytes / med / 1e6,
           (double)count / t[0]);
    for (size_t i = 0; i < count; i++)
        free(texts[i]);
    free(texts);
    free(out);
    free(t);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    int dim = argc > 2 ? atoi(argv[2]) : 0;
    if (runs < 1)
        runs = 1;
    lm_embedder *e = NULL;
    if (lm_embedder_builtin_new(&e, dim) < 0) {
        fprintf(stderr, "%s\n", lm_error_last()->message);
        return 1;
    }
    make_vocab();
    printf("provider %s\n", lm_embedder_provider_id(e));
    bench(e, 1024, 20000, runs);
    bench(e, 2048, 10000, runs);
    bench(e, 4096, 5000, runs);
    lm_embedder_free(e);
    return 0;
}

/*
 * bench/common/bench.h: what the C bench drivers share: a seeded generator and a Zipf-like
 * synthetic vocabulary, a monotonic clock, percentiles, CPU time of this process and of
 * PostgreSQL clusters, and exiting with the library's last error. Built with each driver
 * (cc ... bench/common/bench.c).
 */
#ifndef BENCH_COMMON_BENCH_H
#define BENCH_COMMON_BENCH_H

#include <stdint.h>

/* The next number of a 64-bit LCG seeded with 42 (or bench_seed()): the same sequence in every
   run. */
uint32_t bench_rnd(void);
void bench_seed(uint64_t seed);

/* A vocabulary of BENCH_VOCAB made-up words (2-4 syllables), from bench_rnd(). */
#define BENCH_VOCAB 600
void bench_make_vocab(void);
/* A word of it, Zipf-like: low indexes are common. */
const char *bench_word(void);

/* Milliseconds on the monotonic clock. */
double bench_now_ms(void);

/* The @p p quantile (0..1) of @p v (n values, sorted in place). */
double bench_pct(double *v, int n, double p);

/* Print "what: <the library's last error>" and exit(1). */
void bench_die(const char *what);

/* CPU seconds used so far by every process of the PostgreSQL clusters whose postmaster pids are
   @p postmasters (n of them): the postmasters and their children (backends, writers,
   autovacuum), from /proc. 0 for n = 0; NAN when /proc cannot be read. */
double bench_cluster_cpu_s(const long *postmasters, int n);
/* The same plus this process's own CPU seconds (n = 0: this process only). */
double bench_cpu_s(const long *postmasters, int n);

#endif

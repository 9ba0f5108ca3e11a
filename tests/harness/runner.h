/*
 * tests/harness/runner.h: the project's test harness. Tests register themselves with TEST(name);
 * the runner forks one child per test (with an alarm() timeout), prints TAP, and ends with the
 * plain line "<suite>: N passed, N failed, N skipped".
 */
#ifndef LM_TEST_RUNNER_H
#define LM_TEST_RUNNER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmemory/error.h"

/* The exit status of a sanitizer error (ASan, UBSan, LSan) in the sanitizer build: distinct from
 * every status a test or a program under test exits with on purpose, so a memory error can never
 * pass as an expected failure. The test binaries set it themselves (runner.c); tests/run.sh sets
 * it for every program through ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS. */
#define LM_TEST_SANITIZER_EXIT 86

#if defined(__SANITIZE_ADDRESS__)
#define LM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LM_TEST_ASAN 1
#endif
#endif
#ifndef LM_TEST_ASAN
#define LM_TEST_ASAN 0
#endif

typedef void (*lm_test_fn)(void);

void lm_test_register(const char *name, const char *file, lm_test_fn fn);
/* Mark the running test skipped (with a reason) and leave it. */
void lm_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Fail the running test with a message (file:line prefix added by the macros). */
void lm_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* Per-test timeout in seconds (default 30); call at the start of a test to change it. */
void lm_test_timeout(unsigned int seconds);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void name##__register(void)                                \
    {                                                                                              \
        lm_test_register(#name, __FILE__, name);                                                   \
    }                                                                                              \
    static void name(void)

#define ASSERT(expr)                                                                               \
    do {                                                                                           \
        if (!(expr))                                                                               \
            lm_test_fail(__FILE__, __LINE__, "assertion failed: %s", #expr);                       \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long lm__a = (long long)(a), lm__b = (long long)(b);                                  \
        if (lm__a != lm__b)                                                                        \
            lm_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, lm__a, lm__b);      \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *lm__a = (a), *lm__b = (b);                                                     \
        if (lm__a == NULL || lm__b == NULL || strcmp(lm__a, lm__b) != 0)                           \
            lm_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                 \
                         lm__a ? lm__a : "(null)", lm__b ? lm__b : "(null)");                      \
    } while (0)

/* Expect a library call to succeed; prints lm_error_last() when it does not. */
#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        int lm__rc = (expr);                                                                       \
        if (lm__rc != 0)                                                                           \
            lm_test_fail(__FILE__, __LINE__, "%s failed: %d (%s) %s", #expr, lm__rc,               \
                         lm_errname(lm__rc), lm_error_last()->message);                            \
    } while (0)

/* Expect a library call to fail with @p code. */
#define ASSERT_ERR(expr, code)                                                                     \
    do {                                                                                           \
        int lm__rc = (expr);                                                                       \
        if (lm__rc != (code))                                                                      \
            lm_test_fail(__FILE__, __LINE__, "%s: expected %s, got %d (%s) %s", #expr, #code,      \
                         lm__rc, lm_errname(lm__rc), lm__rc ? lm_error_last()->message : "");      \
    } while (0)

#endif

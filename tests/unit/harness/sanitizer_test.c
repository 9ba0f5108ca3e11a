/*
 * tests/unit/harness/sanitizer_test.c: the sanitizer build reports memory errors, undefined
 * behaviour and leaks with their own exit status (LM_TEST_SANITIZER_EXIT), so no test can take
 * one for an expected failure, and a leak fails the test that leaked. Skipped in other builds.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

#if LM_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* Runs @p fn in a child with stderr silenced; returns its exit status (-1: killed). */
static int child_status(void (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        fn();
        _exit(0);
    }
    int st = 0;
    ASSERT(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *volatile sink;

static volatile size_t eight = 8;

static void heap_overflow(void)
{
    sink = malloc(8);
    sink[eight] = 1;
    free(sink);
}

static void use_after_free(void)
{
    char *volatile p = malloc(8);
    sink = p;
    free(sink);
    p[0] = 1;
}

static volatile int big = INT32_MAX;

static void signed_overflow(void)
{
    int x = big;
    big = x + 1;
}

#if LM_TEST_ASAN
static void leak_then_check(void)
{
    sink = malloc(64);
    sink = NULL;
    /* What the runner does after every test: */
    if (__lsan_do_recoverable_leak_check() != 0)
        _exit(LM_TEST_SANITIZER_EXIT);
}
#endif

TEST(test_sanitizer__errors_have_their_own_exit_status)
{
    if (!LM_TEST_ASAN)
        lm_test_skip("not a sanitizer build");
    ASSERT_EQ_INT(child_status(heap_overflow), LM_TEST_SANITIZER_EXIT);
    ASSERT_EQ_INT(child_status(use_after_free), LM_TEST_SANITIZER_EXIT);
    ASSERT_EQ_INT(child_status(signed_overflow), LM_TEST_SANITIZER_EXIT);
}

TEST(test_sanitizer__leaks_are_found_in_a_test_child)
{
#if LM_TEST_ASAN
    ASSERT_EQ_INT(child_status(leak_then_check), LM_TEST_SANITIZER_EXIT);
#else
    lm_test_skip("not a sanitizer build");
#endif
}

/*
 * tests/harness/runner.c: fork-per-test runner. Usage: <suite> [-l] [-s substring] [-v]
 * Output is TAP; the last line is "<suite>: N passed, N failed, N skipped". Exit status is 1 when
 * any test failed. In the sanitizer build every test ends with a leak check (its child leaves
 * with _exit(), which would skip LeakSanitizer's check at exit), and sanitizer errors exit with
 * LM_TEST_SANITIZER_EXIT.
 */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llmemory/error.h"

#if LM_TEST_ASAN
#include <sanitizer/lsan_interface.h>

#define LM__STR(x) #x
#define LM__XSTR(x) LM__STR(x)
/* Defaults the sanitizer runtimes read at start-up; $ASAN_OPTIONS etc. still override them. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);
const char *__asan_default_options(void)
{
    return "exitcode=" LM__XSTR(LM_TEST_SANITIZER_EXIT);
}
const char *__ubsan_default_options(void)
{
    return "exitcode=" LM__XSTR(LM_TEST_SANITIZER_EXIT) ":print_stacktrace=1";
}
const char *__lsan_default_options(void)
{
    return "exitcode=" LM__XSTR(LM_TEST_SANITIZER_EXIT);
}
#endif

typedef struct {
    const char *name;
    const char *file;
    lm_test_fn fn;
} test_entry;

static test_entry tests[2048];
static size_t n_tests;
static const char *current;
enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_SKIP = 77 };

void lm_test_register(const char *name, const char *file, lm_test_fn fn)
{
    if (n_tests < sizeof(tests) / sizeof(tests[0]))
        tests[n_tests++] = (test_entry){name, file, fn};
}

void lm_test_timeout(unsigned int seconds)
{
    alarm(seconds);
}

void lm_test_skip(const char *fmt, ...)
{
    va_list ap;
    printf("# skip %s: ", current);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    _exit(EXIT_SKIP);
}

void lm_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("# %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    _exit(EXIT_FAIL);
}

static int by_file_then_name(const void *a, const void *b)
{
    const test_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

/* 1 when @p name contains one of the comma-separated substrings of @p list. */
static int matches_any(const char *name, const char *list)
{
    while (*list != '\0') {
        size_t n = strcspn(list, ",");
        for (const char *p = name; n > 0 && *p != '\0'; p++)
            if (strncmp(p, list, n) == 0)
                return 1;
        list += n;
        if (*list == ',')
            list++;
    }
    return 0;
}

static int selected_test(const char *name, const char *filter, const char *exclude)
{
    return (!filter || matches_any(name, filter)) && (!exclude || !matches_any(name, exclude));
}

int main(int argc, char **argv)
{
    const char *filter = NULL, *exclude = NULL;
    int list = 0;
    char *suite = basename(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-l") == 0)
            list = 1;
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strcmp(argv[i], "-x") == 0 && i + 1 < argc)
            exclude = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-l] [-s substring,...] [-x substring,...]\n", suite);
            return 2;
        }
    }
    qsort(tests, n_tests, sizeof(tests[0]), by_file_then_name);
    if (list) {
        for (size_t i = 0; i < n_tests; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    size_t selected = 0;
    for (size_t i = 0; i < n_tests; i++)
        if (selected_test(tests[i].name, filter, exclude))
            selected++;
    printf("TAP version 13\n1..%zu\n", selected);
    fflush(stdout);
    unsigned passed = 0, failed = 0, skipped = 0, n = 0;
    for (size_t i = 0; i < n_tests; i++) {
        if (!selected_test(tests[i].name, filter, exclude))
            continue;
        n++;
        current = tests[i].name;
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            const char *t = getenv("LM_TEST_TIMEOUT");
            alarm(t ? (unsigned)strtoul(t, NULL, 10) : 60);
            tests[i].fn();
            fflush(stdout);
#if LM_TEST_ASAN
            /* What the test allocated and did not free (threads it started are gone or
               joined by now); the report goes to stderr. */
            if (__lsan_do_recoverable_leak_check() != 0) {
                printf("# %s: memory leaked (LeakSanitizer report on stderr)\n", current);
                fflush(stdout);
                _exit(EXIT_FAIL);
            }
#endif
            _exit(EXIT_PASS);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_PASS) {
            printf("ok %u - %s\n", n, current);
            passed++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP) {
            printf("ok %u - %s # SKIP\n", n, current);
            skipped++;
        } else {
            if (WIFEXITED(status) && WEXITSTATUS(status) == LM_TEST_SANITIZER_EXIT)
                printf("# %s: sanitizer error (exit status %d, report on stderr)\n", current,
                       LM_TEST_SANITIZER_EXIT);
            if (WIFSIGNALED(status))
                printf("# %s: killed by signal %d%s\n", current, WTERMSIG(status),
                       WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
            printf("not ok %u - %s\n", n, current);
            failed++;
        }
        fflush(stdout);
    }
    printf("%s: %u passed, %u failed, %u skipped\n", suite, passed, failed, skipped);
    return failed ? 1 : 0;
}

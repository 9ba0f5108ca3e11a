/*
 * core/error.h: setting the thread-local error record. Set an error once, where it starts, and
 * pass the code up unchanged. Messages follow the PostgreSQL style guide (lower case, no trailing
 * period, "could not"/"cannot", user-supplied names in double quotes).
 */
#ifndef LM_CORE_ERROR_H
#define LM_CORE_ERROR_H

#include "llmemory/error.h"

#define LM__PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Set code and primary message; clears detail, hint, field and sqlstate. Returns @p code. */
int lm__error_set(int code, const char *fmt, ...) LM__PRINTF(2, 3);
/* Same, naming the argument or field the error is about. Returns @p code. */
int lm__error_set_field(int code, const char *field, const char *fmt, ...) LM__PRINTF(3, 4);
/* Add a detail or hint sentence to the current error. */
void lm__error_detail(const char *fmt, ...) LM__PRINTF(1, 2);
void lm__error_hint(const char *fmt, ...) LM__PRINTF(1, 2);
void lm__error_sqlstate(const char *sqlstate);
/* Out of memory; never allocates. */
void lm__error_set_oom(void);
void lm__error_clear(void);
/* A copy of the thread's error record, to put back after cleanup that may set its own. */
typedef struct lm__error_saved {
    int code;
    char message[512], detail[512], hint[256], field[64], sqlstate[6];
} lm__error_saved;
void lm__error_save(lm__error_saved *out);
void lm__error_restore(const lm__error_saved *saved);

/* Public-entry argument check: sets LM_EINVAL and returns it. */
#define LM_ASSERT_ARG(expr)                                                                        \
    do {                                                                                           \
        if (!(expr))                                                                               \
            return lm__error_set(LM_EINVAL, "invalid argument: %s", #expr);                        \
    } while (0)

#define LM_UNUSED(x) ((void)(x))

#endif

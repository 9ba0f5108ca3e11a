/*
 * llmemory/error.h: error codes and the thread-local last-error record.
 *
 * Every fallible call returns int: 0 (LM_OK) on success, a negative LM_E* code on failure. The
 * details of the most recent failure on the calling thread are in lm_error_last(). Codes are
 * append-only and never renumbered.
 */
#ifndef LLMEMORY_ERROR_H
#define LLMEMORY_ERROR_H

#include "common.h"

LM_BEGIN_DECL

/* X-macro: name, value, symbolic name, description. Append only. */
#define LM_ERRNO_MAP(X)                                                                            \
    X(ERROR, -1, "error", "generic error")                                                         \
    X(ENOMEM, -2, "out_of_memory", "out of memory")                                                \
    X(EINVAL, -3, "invalid_argument", "invalid argument")                                          \
    X(ENOTFOUND, -4, "not_found", "not found")                                                     \
    X(EEXISTS, -5, "already_exists", "already exists")                                             \
    X(ECONFLICT, -6, "conflict", "conflicting change")                                             \
    X(ERETRY, -7, "retry", "transaction conflict, safe to retry")                                  \
    X(ETIMEOUT, -8, "timeout", "timed out")                                                        \
    X(ECONN, -9, "connection_failure", "connection failure")                        \
    X(EDB, -10, "database_error", "database error")                                                \
    X(ELIMIT, -11, "limit_exceeded", "configured limit exceeded")                                  \
    X(EPERM, -12, "permission_denied", "permission denied")                                        \
    X(EPARSE, -13, "parse_error", "malformed input")                                               \
    X(ITEROVER, -14, "iteration_over", "end of iteration")                                         \
    X(EIO, -15, "io_error", "input/output error")                                                  \
    X(ECANCELED, -16, "canceled", "request canceled")

typedef enum lm_errcode {
    LM_OK = 0,
#define LM__ERR_ENUM(name, val, sym, desc) LM_##name = val,
    LM_ERRNO_MAP(LM__ERR_ENUM)
#undef LM__ERR_ENUM
} lm_errcode;

/** Details of the last failure on this thread. Valid until the next failing call. */
typedef struct lm_error {
    int code;            /* LM_E* */
    const char *message; /* primary message: lower case, no trailing period; never NULL */
    const char *detail;  /* full sentence or "" */
    const char *hint;    /* full sentence or "" */
    const char *field;   /* argument/field the error is about ("owner_id"), or "" */
    char sqlstate[6];    /* PostgreSQL SQLSTATE when the error came from the server, else "" */
} lm_error;

/** The calling thread's last error record. Never NULL; code is LM_OK when nothing failed. */
LM_EXTERN const lm_error *lm_error_last(void);
/** Reset the calling thread's error record. */
LM_EXTERN void lm_error_clear(void);
/** One-line description of @p code ("invalid argument"). Never NULL. */
LM_EXTERN const char *lm_strerror(int code);
/** Stable symbolic name of @p code ("invalid_argument"), as used in JSON errors. Never NULL. */
LM_EXTERN const char *lm_errname(int code);

LM_END_DECL

#endif

/*
 * core/error.c: the thread-local error record behind lm_error_last(). Fixed-size buffers, so
 * setting an error never allocates (and OOM can always be reported).
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char msg_buf[512];
static _Thread_local char detail_buf[512];
static _Thread_local char hint_buf[256];
static _Thread_local char field_buf[64];
static _Thread_local lm_error last = {0, "", "", "", "", ""};

static void reset(int code)
{
    last.code = code;
    msg_buf[0] = detail_buf[0] = hint_buf[0] = field_buf[0] = '\0';
    last.message = msg_buf;
    last.detail = detail_buf;
    last.hint = hint_buf;
    last.field = field_buf;
    last.sqlstate[0] = '\0';
}

const lm_error *lm_error_last(void)
{
    if (last.message == NULL || last.message[0] == '\0') {
        if (last.code == LM_OK)
            reset(LM_OK);
    }
    return &last;
}

void lm_error_clear(void)
{
    reset(LM_OK);
}

void lm__error_clear(void)
{
    reset(LM_OK);
}

void lm__error_save(lm__error_saved *out)
{
    out->code = last.code;
    snprintf(out->message, sizeof(out->message), "%s", msg_buf);
    snprintf(out->detail, sizeof(out->detail), "%s", detail_buf);
    snprintf(out->hint, sizeof(out->hint), "%s", hint_buf);
    snprintf(out->field, sizeof(out->field), "%s", field_buf);
    snprintf(out->sqlstate, sizeof(out->sqlstate), "%s", last.sqlstate);
}

void lm__error_restore(const lm__error_saved *saved)
{
    reset(saved->code);
    snprintf(msg_buf, sizeof(msg_buf), "%s", saved->message);
    snprintf(detail_buf, sizeof(detail_buf), "%s", saved->detail);
    snprintf(hint_buf, sizeof(hint_buf), "%s", saved->hint);
    snprintf(field_buf, sizeof(field_buf), "%s", saved->field);
    snprintf(last.sqlstate, sizeof(last.sqlstate), "%s", saved->sqlstate);
}

static void vset(char *dst, size_t cap, const char *fmt, va_list ap)
{
    if (vsnprintf(dst, cap, fmt, ap) < 0)
        dst[0] = '\0';
}

int lm__error_set(int code, const char *fmt, ...)
{
    va_list ap;
    reset(code);
    va_start(ap, fmt);
    vset(msg_buf, sizeof(msg_buf), fmt, ap);
    va_end(ap);
    return code;
}

int lm__error_set_field(int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    reset(code);
    snprintf(field_buf, sizeof(field_buf), "%s", field ? field : "");
    va_start(ap, fmt);
    vset(msg_buf, sizeof(msg_buf), fmt, ap);
    va_end(ap);
    return code;
}

void lm__error_detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(detail_buf, sizeof(detail_buf), fmt, ap);
    va_end(ap);
}

void lm__error_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(hint_buf, sizeof(hint_buf), fmt, ap);
    va_end(ap);
}

void lm__error_sqlstate(const char *sqlstate)
{
    snprintf(last.sqlstate, sizeof(last.sqlstate), "%s", sqlstate ? sqlstate : "");
}

void lm__error_set_oom(void)
{
    reset(LM_ENOMEM);
    memcpy(msg_buf, "out of memory", sizeof("out of memory"));
}

const char *lm_strerror(int code)
{
    switch (code) {
    case LM_OK:
        return "success";
#define LM__ERR_DESC(name, val, sym, desc)                                                          \
    case val:                                                                                      \
        return desc;
        LM_ERRNO_MAP(LM__ERR_DESC)
#undef LM__ERR_DESC
    }
    return "unrecognized error code";
}

const char *lm_errname(int code)
{
    switch (code) {
    case LM_OK:
        return "ok";
#define LM__ERR_SYM(name, val, sym, desc)                                                           \
    case val:                                                                                      \
        return sym;
        LM_ERRNO_MAP(LM__ERR_SYM)
#undef LM__ERR_SYM
    }
    return "error";
}

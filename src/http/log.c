/*
 * http/log.c: the server's logs: key=value lines on standard error ("ts=... level=info req=...
 * msg=... k=v"), the library's log sink, and the access log (one line per request, written by
 * server.c). Lines are built in memory and written with one call, so lines from different
 * threads never interleave. Never pass document bodies, queries, keys or passwords here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "internal.h"

static int log_level = SRV_LOG_INFO;
static FILE *access_stream;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void srv_log_init(int level, FILE *access)
{
    log_level = level;
    access_stream = access;
}

int srv_log_enabled(int level)
{
    return level <= log_level;
}

double srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void srv_now_iso(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char base[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

/* A value needs quotes when it is empty or has a space, a quote, '=' or a control byte. */
static int needs_quotes(const char *v)
{
    if (v[0] == '\0')
        return 1;
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return 1;
    return 0;
}

void srv_kv(lm_buf *b, const char *key, const char *value)
{
    if (value == NULL)
        return;
    lm__buf_putc(b, ' ');
    lm__buf_puts(b, key);
    lm__buf_putc(b, '=');
    if (!needs_quotes(value)) {
        lm__buf_puts(b, value);
        return;
    }
    lm__buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            lm__buf_putc(b, '\\');
            lm__buf_putc(b, (char)*p);
        } else if (*p < ' ' || *p == 0x7f) {
            /* One line per event: control bytes are escaped, never written. */
            lm__buf_printf(b, "\\x%02x", *p);
        } else {
            lm__buf_putc(b, (char)*p);
        }
    }
    lm__buf_putc(b, '"');
}

static void emit(FILE *f, lm_buf *line)
{
    lm__buf_putc(line, '\n');
    if (lm__buf_oom(line))
        return;
    fwrite(line->ptr, 1, line->size, f);
    fflush(f);
}

void srv_log(int level, const char *req_id, const char *msg, ...)
{
    lm_buf line = LM_BUF_INIT;
    char ts[40];
    va_list ap;
    const char *k, *v;

    if (!srv_log_enabled(level))
        return;
    srv_now_iso(ts, sizeof(ts));
    lm__buf_puts(&line, "ts=");
    lm__buf_puts(&line, ts);
    srv_kv(&line, "level", level_names[level < 0 ? 0 : level > 3 ? 3 : level]);
    srv_kv(&line, "req", req_id);
    srv_kv(&line, "msg", msg);
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        srv_kv(&line, k, v);
    }
    va_end(ap);
    emit(stderr, &line);
    lm_buf_dispose(&line);
}

void srv_log_lib(int level, const char *msg, void *payload)
{
    (void)payload;
    srv_log(level, NULL, msg, "source", "library", (const char *)NULL);
}

void srv_access_write(const lm_buf *line)
{
    lm_buf out = LM_BUF_INIT;
    char ts[40];

    if (access_stream == NULL)
        return;
    srv_now_iso(ts, sizeof(ts));
    lm__buf_puts(&out, "ts=");
    lm__buf_puts(&out, ts);
    lm__buf_put(&out, line->ptr, line->size);
    emit(access_stream, &out);
    lm_buf_dispose(&out);
}

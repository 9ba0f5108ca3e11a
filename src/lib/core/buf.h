/*
 * core/buf.h: sticky-OOM string builder on top of the public lm_buf. Appends return void; check
 * lm__buf_oom() once at the end (libpq PQExpBuffer shape). Every buffer may carry a cap.
 */
#ifndef LM_CORE_BUF_H
#define LM_CORE_BUF_H

#include <stdarg.h>

#include "error.h"
#include "llmemory/common.h"

void lm__buf_put(lm_buf *b, const char *data, size_t len);
void lm__buf_puts(lm_buf *b, const char *s);
void lm__buf_putc(lm_buf *b, char c);
void lm__buf_printf(lm_buf *b, const char *fmt, ...) LM__PRINTF(2, 3);
void lm__buf_vprintf(lm_buf *b, const char *fmt, va_list ap);
/* Make room for @p extra more bytes; returns 0 or LM_ENOMEM (and marks the buffer broken). */
int lm__buf_grow(lm_buf *b, size_t extra);
/* Truncate to empty, keeping the allocation. */
void lm__buf_clear(lm_buf *b);
void lm__buf_truncate(lm_buf *b, size_t len);
/* 1 when an append failed since the last init/clear; sets LM_ENOMEM then. */
int lm__buf_oom(const lm_buf *b);
/* Take the heap string (caller frees with lm__free); NULL on OOM. The buffer becomes empty. */
char *lm__buf_detach(lm_buf *b);

#endif

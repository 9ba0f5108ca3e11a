/*
 * core/utf8.h: UTF-8 validation and boundary helpers used by input checks and the chunker.
 */
#ifndef LM_CORE_UTF8_H
#define LM_CORE_UTF8_H

#include <stddef.h>

/* 1 when @p s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int lm__utf8_valid(const char *s, size_t len);
/* Append @p s[0..len) to @p out with every byte that is not part of a valid UTF-8 sequence
 * replaced by U+FFFD, so text of unknown origin can always be emitted as JSON. */
struct lm_buf;
void lm__utf8_repair(struct lm_buf *out, const char *s, size_t len);
/* Largest position <= @p pos that does not fall inside a multi-byte sequence. */
size_t lm__utf8_floor(const char *s, size_t len, size_t pos);

#endif

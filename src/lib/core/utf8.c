/*
 * core/utf8.c: strict UTF-8 validation (RFC 3629) and character-boundary rounding.
 */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#include "buf.h"

int lm__utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            /* ASCII text, the common case: eight bytes at a time while none has its top bit. */
            uint64_t w;
            i++;
            while (len - i >= 8) {
                memcpy(&w, s + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            continue;
        }
        size_t n;
        unsigned int cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}

size_t lm__utf8_floor(const char *str, size_t len, size_t pos)
{
    const unsigned char *s = (const unsigned char *)str;
    if (pos >= len)
        return len;
    while (pos > 0 && (s[pos] & 0xC0) == 0x80)
        pos--;
    return pos;
}

/* Length of the sequence a lead byte announces (0: not a lead byte). */
static size_t seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

void lm__utf8_repair(struct lm_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = seq_len((unsigned char)s[i]);
        if (n > 0 && i + n <= len && lm__utf8_valid(s + i, n)) {
            lm__buf_put(out, s + i, n);
            i += n;
        } else {
            lm__buf_puts(out, "\xEF\xBF\xBD");
            i++;
        }
    }
}

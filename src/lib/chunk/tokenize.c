/*
 * chunk/tokenize.c: a deterministic approximation of the cl100k_base token count (the tokenizer of
 * OpenAI's embedding models). The rank file cannot be shipped or obtained here, so text is split
 * with cl100k's pre-tokenizer rules and each piece is priced by its length (docs/chunking.md).
 * Single pass, no allocation; robust on invalid UTF-8 (a bad byte is a one-byte symbol).
 */
#include <limits.h>
#include <stdint.h>

#include "chunk.h"
#include "utf8.h"

/* Longest piece scanned at once. A longer run (a 2 MB "word", a page of blank lines) is priced
 * as several pieces, which keeps every call linear in the bytes it returns. */
#define PIECE_MAX 1020

enum cp_class { CP_LETTER, CP_DIGIT, CP_SPACE, CP_NEWLINE, CP_OTHER };

/* Decode one code point at s[i] (i < len). Invalid or truncated sequences decode as one byte of
 * U+FFFD so that the scanner always advances and never reads past len. */
static size_t decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned char c = s[i];
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07u;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n > len - i) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i + k] & 0x3Fu);
    }
    *cp = v;
    return n;
}

static int is_unicode_space(uint32_t cp)
{
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Non-ASCII code points that are punctuation or symbols rather than letters: a coarse table of
 * the blocks that matter in practice (Latin-1 punctuation, general punctuation through dingbats,
 * CJK punctuation, private use, specials, full-width punctuation, emoji). Everything else above
 * U+007F counts as a letter, which is right for scripts and close enough for the rest. */
static int is_symbol(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
           (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
           (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xFE00 && cp <= 0xFE0F) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
           (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
           (cp >= 0xFF5B && cp <= 0xFF65) || (cp >= 0xFFF0 && cp <= 0xFFFF) ||
           (cp >= 0x1F000 && cp <= 0x1FAFF);
}

static enum cp_class classify(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            return CP_LETTER;
        if (cp >= '0' && cp <= '9')
            return CP_DIGIT;
        if (cp == '\n' || cp == '\r')
            return CP_NEWLINE;
        if (cp == ' ' || cp == '\t' || cp == '\v' || cp == '\f')
            return CP_SPACE;
        return CP_OTHER;
    }
    if (is_unicode_space(cp))
        return cp == 0x85 || cp == 0x2028 || cp == 0x2029 ? CP_NEWLINE : CP_SPACE;
    return is_symbol(cp) ? CP_OTHER : CP_LETTER;
}

static enum cp_class class_at(const unsigned char *s, size_t len, size_t i, size_t *n)
{
    uint32_t cp;
    *n = decode(s, len, i, &cp);
    return classify(cp);
}

/* Tokens of a run of @p n ASCII letters: common words (up to 10 letters: "information") are one
 * token in cl100k, longer ones gain about one token per 6 letters (rarer words split more). */
static long ascii_word_tokens(size_t n)
{
    return n <= 10 ? 1 : 1 + (long)((n - 10 + 5) / 6);
}

static int is_contraction(const unsigned char *s, size_t len, size_t i, size_t *end)
{
    size_t r = len - i;
    if (r < 2)
        return 0;
    unsigned char a = (unsigned char)(s[i + 1] | 0x20);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        *end = i + 2;
        return 1;
    }
    if (r < 3)
        return 0;
    unsigned char b = (unsigned char)(s[i + 2] | 0x20);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
        *end = i + 3;
        return 1;
    }
    return 0;
}

/*
 * One pre-tokenizer piece starting at s[i] (i < len), following cl100k's pattern
 *   's|'t|'re|'ve|'m|'ll|'d | [^\r\n\pL\pN]?\pL+ | \pN{1,3} | ?[^\s\pL\pN]+[\r\n]* | \s*[\r\n] |
 *   \s+(?!\S) | \s+
 * Returns the end of the piece and its estimated token count in *tokens (>= 1).
 */
static size_t next_piece(const unsigned char *s, size_t len, size_t i, long *tokens)
{
    size_t n, j, e;
    enum cp_class c = class_at(s, len, i, &n);

    if (s[i] == '\'' && is_contraction(s, len, i, &e)) {
        *tokens = 1;
        return e;
    }
    if (c == CP_DIGIT) {
        for (j = i; j < len && j - i < PIECE_MAX && s[j] >= '0' && s[j] <= '9'; j++)
            ;
        *tokens = (long)((j - i + 2) / 3); /* groups of 1-3 digits */
        return j;
    }

    long extra = 0;
    j = i;
    if (c != CP_LETTER && c != CP_NEWLINE && i + n < len) {
        size_t n2;
        if (class_at(s, len, i + n, &n2) == CP_LETTER) {
            /* Optional prefix of a letter run: a space costs nothing, punctuation one token. */
            extra = c == CP_SPACE ? 0 : 1;
            j = i + n;
            c = CP_LETTER;
        }
    }
    if (c == CP_LETTER) {
        size_t ascii = 0, halves = 0;
        while (j < len && j - i < PIECE_MAX) {
            size_t m;
            if (class_at(s, len, j, &m) != CP_LETTER)
                break;
            if (m == 1)
                ascii++;
            else
                halves += m == 2 ? 1 : 2; /* 2-byte letters: 1/2 token; CJK and beyond: 1 */
            j += m;
        }
        *tokens = extra + (ascii ? ascii_word_tokens(ascii) : 0) + (long)((halves + 1) / 2);
        return j;
    }

    size_t n_next;
    if (c == CP_OTHER ||
        (s[i] == ' ' && i + 1 < len && class_at(s, len, i + 1, &n_next) == CP_OTHER)) {
        size_t punct = 0;
        long sym = 0;
        j = s[i] == ' ' ? i + 1 : i;
        while (j < len && j - i < PIECE_MAX) {
            size_t m;
            if (class_at(s, len, j, &m) != CP_OTHER)
                break;
            if (m == 1)
                punct++;
            else
                sym += m == 4 ? 2 : 1; /* emoji and other 4-byte symbols: 2 tokens */
            j += m;
        }
        while (j < len && j - i < PIECE_MAX && (s[j] == '\r' || s[j] == '\n'))
            j++;
        *tokens = (long)((punct + 2) / 3) + sym;
        if (*tokens == 0)
            *tokens = 1;
        return j;
    }

    /* Whitespace: up to and including the run's last line break; otherwise the run minus its last
     * character when more text follows (that character prefixes the next piece). */
    size_t last_nl = SIZE_MAX;
    j = i;
    while (j < len && j - i < PIECE_MAX) {
        size_t m;
        enum cp_class k = class_at(s, len, j, &m);
        if (k != CP_SPACE && k != CP_NEWLINE)
            break;
        if (k == CP_NEWLINE)
            last_nl = j + m;
        j += m;
    }
    if (last_nl != SIZE_MAX) {
        j = last_nl;
    } else if (j < len && j - i > n) {
        j = lm__utf8_floor((const char *)s, len, j - 1);
    }
    *tokens = 1 + (long)((j - i - 1) / 8);
    return j;
}

int lm__token_count(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    long total = 0;
    size_t i = 0;
    while (i < len) {
        long t;
        i = next_piece(u, len, i, &t);
        total += t;
        if (total >= INT_MAX)
            return INT_MAX;
    }
    return (int)total;
}

size_t lm__token_offset(const char *s, size_t len, int n)
{
    const unsigned char *u = (const unsigned char *)s;
    long acc = 0;
    size_t i = 0;
    if (n <= 0)
        return 0;
    while (i < len) {
        long t;
        size_t end = next_piece(u, len, i, &t);
        if (acc + t <= n) {
            acc += t;
            i = end;
            if (acc == n)
                return i;
            continue;
        }
        /* The n-th token falls inside this piece. Stop before it (windows hold at most n
         * tokens) unless it is the first piece, which must then be cut: map the token
         * proportionally onto the piece's bytes, rounded down to a character boundary but never
         * to the piece's start. */
        if (i > 0)
            return i;
        uint64_t bytes = end - i, k = (uint64_t)(n - acc);
        size_t off = i + (size_t)(bytes / (uint64_t)t * k + bytes % (uint64_t)t * k / (uint64_t)t);
        off = lm__utf8_floor(s, len, off);
        if (off <= i) {
            uint32_t cp;
            off = i + decode(u, len, i, &cp);
        }
        return off;
    }
    return len;
}

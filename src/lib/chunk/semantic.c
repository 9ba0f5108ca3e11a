/*
 * chunk/semantic.c: structure-aware splitters: markdown by ATX headings (ignoring fenced code),
 * email into headers/body/signature/quoted parts, chat into messages (and turns of 5 messages),
 * and plain sentence packing. Chunk content is always a trimmed substring of the text (except
 * chat turns, which are rebuilt "user: text" lines); long parts are sentence-packed so that no
 * chunk is enormous. This is not a markdown or RFC 5322 parser: line-based heuristics only.
 */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "internal.h"
#include "utf8.h"

/* Limits of the semantic splitters, in tokens (docs/chunking.md). */
#define EMAIL_PART_TOKENS   150 /* llmemory's email body pieces; also headers, signature, quote */
#define CHAT_MESSAGE_TOKENS 300 /* a longer message is packed into parts */
#define CHAT_TURN_THRESHOLD 10  /* more messages than this: add chat_turn parents */
#define CHAT_TURN_MESSAGES  5
#define CHAT_TURN_LINE_MAX  500 /* bytes of one message in a turn's content */
#define CHAT_SPEAKER_MAX    64  /* bytes of a "speaker:" prefix */
#define MD_HEADING_META_MAX 200 /* bytes of the heading kept in a section's metadata */

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* End of the line starting at @p i: the index of its '\n', or @p len. */
static size_t line_end(const char *t, size_t len, size_t i)
{
    const char *nl = memchr(t + i, '\n', len - i);
    return nl ? (size_t)(nl - t) : len;
}

/* Trim [*s, *e) of blanks (and '\r'). */
static void trim(const char *t, size_t *s, size_t *e)
{
    while (*s < *e && is_blank(t[*s]))
        (*s)++;
    while (*e > *s && is_blank(t[*e - 1]))
        (*e)--;
}

static int line_is_blank(const char *t, size_t s, size_t e)
{
    trim(t, &s, &e);
    return s == e;
}

/* Case-insensitive: does t[s, e) start with the ASCII word @p w? */
static int starts_with_ci(const char *t, size_t s, size_t e, const char *w)
{
    size_t n = strlen(w);
    if (e - s < n)
        return 0;
    for (size_t k = 0; k < n; k++)
        if ((t[s + k] | 0x20) != (w[k] | 0x20))
            return 0;
    return 1;
}

/* Append @p len bytes of UTF-8 as a JSON string literal. */
static void json_str(lm_buf *b, const char *s, size_t len)
{
    lm__buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            lm__buf_putc(b, '\\');
            lm__buf_putc(b, (char)c);
        } else if (c == '\n') {
            lm__buf_puts(b, "\\n");
        } else if (c == '\t') {
            lm__buf_puts(b, "\\t");
        } else if (c == '\r') {
            lm__buf_puts(b, "\\r");
        } else if (c < 0x20 || c == 0x7F) {
            lm__buf_printf(b, "\\u%04x", c);
        } else {
            lm__buf_putc(b, (char)c);
        }
    }
    lm__buf_putc(b, '"');
}

/* Builds a chunk's meta_json; @p part counts the chunks already made from the same unit, and
 * @p split says whether the unit was packed into several chunks. */
typedef int (*meta_fn)(char **out, const void *ctx, int part, int split);

/*
 * Sentence-pack text[start, end) into chunks of at most @p max_tokens and append them. *first_out
 * receives the index of the first chunk added, or -1 when the range is blank.
 */
static int pack(int *first_out,
                lm__chunk_list *out,
                const char *t,
                size_t start,
                size_t end,
                int max_tokens,
                const char *kind,
                int level,
                int parent,
                meta_fn meta,
                const void *ctx)
{
    lm__chunk_spans sp = {0};
    int rc, part = 0;

    *first_out = -1;
    if ((rc = lm__chunk_windows(&sp, t, start, end, max_tokens, 0, 1)) < 0)
        goto out;
    for (size_t k = 0; k < sp.count; k++) {
        char *m = NULL;
        int idx;
        if (meta && (rc = meta(&m, ctx, part, sp.count > 1)) < 0)
            goto out;
        rc = lm__chunk_push(&idx, out, t, sp.items[k].start, sp.items[k].end, kind, level, parent,
                            m);
        if (rc < 0)
            goto out;
        if (idx >= 0) {
            part++;
            if (*first_out < 0)
                *first_out = idx;
        }
    }
    rc = 0;
out:
    lm__chunk_spans_dispose(&sp);
    return rc;
}

int lm__chunk_sentences(lm__chunk_list *out, const char *text, size_t len, int max_tokens)
{
    int first;
    return pack(&first, out, text, 0, len, max_tokens, "text", 0, -1, NULL, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Markdown                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct md_section {
    int level;           /* 0: text before the first heading; 1-6: ATX heading level */
    const char *heading; /* heading text (without the #s) */
    size_t heading_len;
} md_section;

static int md_meta(char **out, const void *ctx, int part, int split)
{
    const md_section *sec = ctx;
    lm_buf b = LM_BUF_INIT;
    lm__buf_printf(&b, "{\"section_level\":%d", sec->level);
    if (sec->level > 0) {
        lm__buf_puts(&b, ",\"heading\":");
        json_str(&b, sec->heading, sec->heading_len);
    }
    if (split)
        lm__buf_printf(&b, ",\"part\":%d", part);
    lm__buf_putc(&b, '}');
    *out = lm__buf_detach(&b);
    return *out ? 0 : LM_ENOMEM;
}

/* Skip up to three spaces of indentation (CommonMark); returns the new position. */
static size_t md_indent(const char *t, size_t s, size_t e)
{
    for (int k = 0; k < 3 && s < e && t[s] == ' '; k++)
        s++;
    return s;
}

/* A fence line: ``` or ~~~ (three or more). Sets *ch and *n to the fence character and length. */
static int md_fence(const char *t, size_t s, size_t e, char *ch, size_t *n)
{
    s = md_indent(t, s, e);
    if (s >= e || (t[s] != '`' && t[s] != '~'))
        return 0;
    size_t k = s;
    while (k < e && t[k] == t[s])
        k++;
    if (k - s < 3)
        return 0;
    *ch = t[s];
    *n = k - s;
    return 1;
}

/* An ATX heading "#{1,6}<space>text": returns its level (0 if not a heading) and its text. */
static int md_heading(const char *t, size_t s, size_t e, size_t *hs, size_t *he)
{
    s = md_indent(t, s, e);
    size_t k = s;
    while (k < e && t[k] == '#')
        k++;
    int level = (int)(k - s);
    if (level < 1 || level > 6 || k >= e || (t[k] != ' ' && t[k] != '\t'))
        return 0;
    *hs = k;
    *he = e;
    trim(t, hs, he);
    return *hs < *he ? level : 0;
}

static int md_emit(lm__chunk_list *out,
                   const char *t,
                   size_t start,
                   size_t end,
                   const md_section *sec,
                   int max_tokens,
                   int *h1)
{
    /* llmemory's chunk_level = 6 - heading level (H1 5 ... H6 0); text before the first heading
     * is level 0 (llmemory gives it 6). Deeper sections hang under the current H1. */
    int level = sec->level ? 6 - sec->level : 0;
    int parent = sec->level > 1 ? *h1 : -1;
    int first, rc;
    rc = pack(&first, out, t, start, end, max_tokens, "section", level, parent, md_meta, sec);
    if (rc < 0)
        return rc;
    if (sec->level == 1)
        *h1 = first;
    return 0;
}

int lm__chunk_markdown(lm__chunk_list *out, const char *text, size_t len, int max_tokens)
{
    md_section sec = {0, NULL, 0};
    size_t sec_start = 0, fence_len = 0;
    char fence_ch = 0;
    int in_fence = 0, h1 = -1, rc;

    for (size_t ls = 0; ls < len;) {
        size_t le = line_end(text, len, ls), hs, he, n;
        char ch;
        if (in_fence) {
            /* A closing fence: the same character, at least as long, nothing after it. */
            if (md_fence(text, ls, le, &ch, &n) && ch == fence_ch && n >= fence_len) {
                size_t s = md_indent(text, ls, le) + n, e = le;
                trim(text, &s, &e);
                if (s == e)
                    in_fence = 0;
            }
        } else if (md_fence(text, ls, le, &fence_ch, &fence_len)) {
            in_fence = 1;
        } else {
            int level = md_heading(text, ls, le, &hs, &he);
            if (level > 0) {
                if ((rc = md_emit(out, text, sec_start, ls, &sec, max_tokens, &h1)) < 0)
                    return rc;
                sec = (md_section){level, text + hs, he - hs};
                if (sec.heading_len > MD_HEADING_META_MAX)
                    sec.heading_len = lm__utf8_floor(sec.heading, he - hs, MD_HEADING_META_MAX);
                sec_start = ls;
            }
        }
        ls = le < len ? le + 1 : len;
    }
    return md_emit(out, text, sec_start, len, &sec, max_tokens, &h1);
}

/* ------------------------------------------------------------------------------------------ */
/* Email                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static int email_meta(char **out, const void *ctx, int part, int split)
{
    lm_buf b = LM_BUF_INIT;
    LM_UNUSED(ctx);
    LM_UNUSED(split);
    lm__buf_printf(&b, "{\"part\":%d}", part);
    *out = lm__buf_detach(&b);
    return *out ? 0 : LM_ENOMEM;
}

static int email_header_line(const char *t, size_t s, size_t e)
{
    static const char *const names[] = {"from:", "to:", "subject:", "date:", "cc:", "bcc:"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (starts_with_ci(t, s, e, names[k]))
            return 1;
    return 0;
}

/* "On <something> wrote:" or Outlook's "-----Original Message-----": the quoted thread starts. */
static int email_quote_line(const char *t, size_t s, size_t e)
{
    trim(t, &s, &e);
    if (starts_with_ci(t, s, e, "-----original message-----"))
        return 1;
    return e - s > 9 && starts_with_ci(t, s, e, "on ") && starts_with_ci(t, e - 6, e, "wrote:");
}

/* A signature marker: "--" ("-- " trimmed), or a whole line that is a sign-off such as "Thanks,".
 * llmemory matches these as line prefixes, which also cut bodies at "Thanks for the report". */
static int email_signature_line(const char *t, size_t s, size_t e)
{
    static const char *const signoffs[] = {"best regards", "kind regards", "regards", "sincerely",
                                           "thanks",       "thank you",    "cheers"};
    trim(t, &s, &e);
    while (e > s && (t[e - 1] == ',' || t[e - 1] == '.' || t[e - 1] == '!'))
        e--;
    if (e - s == 2 && t[s] == '-' && t[s + 1] == '-')
        return 1;
    for (size_t k = 0; k < sizeof(signoffs) / sizeof(signoffs[0]); k++)
        if (e - s == strlen(signoffs[k]) && starts_with_ci(t, s, e, signoffs[k]))
            return 1;
    return 0;
}

int lm__chunk_email(lm__chunk_list *out, const char *text, size_t len)
{
    size_t hs = 0, he = 0, body = 0, sig = len, quote = len, ls;
    int first, rc;

    /* Headers: from the first non-blank line, when it is one of From/To/Subject/Date/Cc/Bcc,
     * to the first blank line (other header fields and continuation lines in between included). */
    for (ls = 0; ls < len;) {
        size_t le = line_end(text, len, ls);
        if (!line_is_blank(text, ls, le)) {
            if (email_header_line(text, ls, le)) {
                hs = ls;
                for (he = ls; he < len;) {
                    size_t e = line_end(text, len, he);
                    if (line_is_blank(text, he, e))
                        break;
                    he = e < len ? e + 1 : len;
                }
                body = he;
            }
            break;
        }
        ls = le < len ? le + 1 : len;
    }

    /* Body until a quote line or a signature marker; a signature ends at a later quote line. */
    for (ls = body; ls < len;) {
        size_t le = line_end(text, len, ls);
        if (email_quote_line(text, ls, le)) {
            quote = ls;
            break;
        }
        if (sig == len && email_signature_line(text, ls, le))
            sig = ls;
        ls = le < len ? le + 1 : len;
    }
    if (sig > quote)
        sig = quote;

    if (he > hs && (rc = pack(&first, out, text, hs, he, EMAIL_PART_TOKENS, "email_headers", 2, -1,
                              email_meta, NULL)) < 0)
        return rc;
    if ((rc = pack(&first, out, text, body, sig, EMAIL_PART_TOKENS, "email_body", 1, -1, email_meta,
                   NULL)) < 0)
        return rc;
    if ((rc = pack(&first, out, text, sig, quote, EMAIL_PART_TOKENS, "email_signature", 0, -1,
                   email_meta, NULL)) < 0)
        return rc;
    return pack(&first, out, text, quote, len, EMAIL_PART_TOKENS, "email_quoted", 1, -1, email_meta,
                NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Chat                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct chat_msg {
    size_t start, end;     /* the message's lines in the text */
    size_t text_start;     /* after the timestamp and speaker prefixes */
    size_t user_s, user_e; /* speaker, empty when none */
    size_t ts_s, ts_e;     /* timestamp, empty when none */
    int system;            /* a "*** text ***" line */
    int index;
} chat_msg;

typedef struct chat_msgs {
    chat_msg *items;
    size_t count, cap;
} chat_msgs;

typedef struct chat_ctx {
    const char *text;
    const chat_msg *m;
} chat_ctx;

static int chat_meta(char **out, const void *ctx, int part, int split)
{
    const chat_ctx *c = ctx;
    const chat_msg *m = c->m;
    lm_buf b = LM_BUF_INIT;
    lm__buf_printf(&b, "{\"message_index\":%d,\"message_type\":\"%s\"", m->index,
                   m->system ? "system" : "message");
    if (m->user_e > m->user_s) {
        lm__buf_puts(&b, ",\"user\":");
        json_str(&b, c->text + m->user_s, m->user_e - m->user_s);
    }
    if (m->ts_e > m->ts_s) {
        lm__buf_puts(&b, ",\"timestamp\":");
        json_str(&b, c->text + m->ts_s, m->ts_e - m->ts_s);
    }
    if (split)
        lm__buf_printf(&b, ",\"part\":%d", part);
    lm__buf_putc(&b, '}');
    *out = lm__buf_detach(&b);
    return *out ? 0 : LM_ENOMEM;
}

static size_t digits(const char *t, size_t p, size_t e, size_t max)
{
    size_t k = 0;
    while (p + k < e && k < max && is_digit(t[p + k]))
        k++;
    return k;
}

/*
 * An optional leading timestamp: [YYYY-MM-DD[ T]]h:mm[:ss][ AM|PM], optionally in brackets.
 * On a match sets [*ts_s, *ts_e) and returns the position after it (and after blanks); else
 * returns @p p.
 */
static size_t chat_timestamp(const char *t, size_t p, size_t e, size_t *ts_s, size_t *ts_e)
{
    size_t q = p;
    int bracket = q < e && t[q] == '[';
    if (bracket)
        q++;
    size_t s = q;
    if (digits(t, q, e, 4) == 4 && q + 10 < e && t[q + 4] == '-' && digits(t, q + 5, e, 2) == 2 &&
        t[q + 7] == '-' && digits(t, q + 8, e, 2) == 2 && (t[q + 10] == ' ' || t[q + 10] == 'T'))
        q += 11;
    size_t h = digits(t, q, e, 3);
    if (h < 1 || h > 2 || q + h + 3 > e || t[q + h] != ':' || digits(t, q + h + 1, e, 3) != 2)
        return p;
    q += h + 3;
    if (q + 3 <= e && t[q] == ':' && digits(t, q + 1, e, 3) == 2)
        q += 3;
    size_t a = q;
    while (a < e && t[a] == ' ')
        a++;
    if (a + 2 <= e && ((t[a] | 0x20) == 'a' || (t[a] | 0x20) == 'p') && (t[a + 1] | 0x20) == 'm' &&
        (a + 2 == e || !is_alpha(t[a + 2])))
        q = a + 2;
    size_t te = q;
    if (bracket && q < e && t[q] == ']')
        q++;
    else if (q < e && !is_blank(t[q]))
        return p; /* "10:30x" or "10:305": not a timestamp */
    *ts_s = s;
    *ts_e = te;
    while (q < e && is_blank(t[q]))
        q++;
    return q;
}

/* A "speaker:" prefix (1-64 bytes, at most 4 words, a letter in it, the colon followed by a blank
 * or the end of the line, so "http://x" and "12:30" are not speakers). */
static size_t chat_speaker(const char *t, size_t p, size_t e, size_t *us, size_t *ue)
{
    size_t q = p;
    int spaces = 0, letter = 0;
    while (q < e && q - p < CHAT_SPEAKER_MAX && t[q] != ':') {
        if (t[q] == ' ')
            spaces++;
        else if (is_alpha(t[q]) || (unsigned char)t[q] >= 0x80)
            letter = 1;
        else if ((unsigned char)t[q] < 0x20)
            return p;
        q++;
    }
    if (q >= e || t[q] != ':' || q == p || spaces > 3 || !letter)
        return p;
    if (q + 1 < e && !is_blank(t[q + 1]))
        return p;
    *us = p;
    *ue = q;
    trim(t, us, ue);
    q++;
    while (q < e && is_blank(t[q]))
        q++;
    return q;
}

static int chat_parse(chat_msgs *msgs, const char *t, size_t len)
{
    for (size_t ls = 0; ls < len;) {
        size_t le = line_end(t, len, ls), s = ls, e = le;
        size_t next = le < len ? le + 1 : len;
        trim(t, &s, &e);
        if (s == e) {
            ls = next;
            continue;
        }
        chat_msg m = {ls, e, s, 0, 0, 0, 0, 0, 0};
        size_t p = chat_timestamp(t, s, e, &m.ts_s, &m.ts_e);
        int starts = p != s;
        if (e - p >= 6 && memcmp(t + p, "***", 3) == 0 && memcmp(t + e - 3, "***", 3) == 0) {
            m.system = 1;
            m.text_start = p + 3;
            starts = 1;
        } else {
            size_t q = chat_speaker(t, p, e, &m.user_s, &m.user_e);
            starts = starts || q != p;
            m.text_start = q;
        }
        if (!starts && msgs->count > 0) {
            msgs->items[msgs->count - 1].end = e; /* continuation of the previous message */
        } else {
            if (msgs->count == msgs->cap) {
                size_t cap = msgs->cap ? msgs->cap * 2 : 32;
                chat_msg *np = lm__realloc(msgs->items, cap * sizeof(*np));
                if (np == NULL)
                    return LM_ENOMEM;
                msgs->items = np;
                msgs->cap = cap;
            }
            m.index = (int)msgs->count;
            msgs->items[msgs->count++] = m;
        }
        ls = next;
    }
    return 0;
}

/* A turn's content: one "user: text" line per message ("System" for system lines, no label when
 * the speaker is unknown), each message's text cut to CHAT_TURN_LINE_MAX bytes. */
static int
chat_turn(int *index_out, lm__chunk_list *out, const char *t, const chat_msg *m, size_t n, int turn)
{
    lm_buf b = LM_BUF_INIT, mb = LM_BUF_INIT;
    for (size_t k = 0; k < n; k++) {
        size_t s = m[k].text_start, e = m[k].end;
        if (m[k].system && e - s >= 3)
            e -= 3; /* drop the closing "***" */
        trim(t, &s, &e);
        if (e - s > CHAT_TURN_LINE_MAX)
            e = s + lm__utf8_floor(t + s, e - s, CHAT_TURN_LINE_MAX);
        if (s == e && m[k].user_e == m[k].user_s && !m[k].system)
            continue; /* a bare timestamp: nothing to say */
        if (b.size > 0)
            lm__buf_putc(&b, '\n');
        if (m[k].user_e > m[k].user_s) {
            lm__buf_put(&b, t + m[k].user_s, m[k].user_e - m[k].user_s);
            lm__buf_puts(&b, s < e ? ": " : ":");
        } else if (m[k].system) {
            lm__buf_puts(&b, s < e ? "System: " : "System:");
        }
        lm__buf_put(&b, t + s, e - s);
    }
    lm__buf_printf(&mb, "{\"turn_index\":%d,\"first_message_index\":%d,\"message_count\":%zu}",
                   turn, m[0].index, n);
    size_t blen = b.size;
    char *content = lm__buf_detach(&b);
    char *meta = lm__buf_detach(&mb);
    *index_out = -1;
    if (content == NULL || meta == NULL) {
        lm__free(content);
        lm__free(meta);
        return LM_ENOMEM;
    }
    if (blen == 0) {
        /* Only bare timestamps: no turn for them. */
        lm__free(content);
        lm__free(meta);
        return 0;
    }
    int rc = lm__chunk_push_take(index_out, out, content, blen, m[0].start, m[n - 1].end,
                                 "chat_turn", 2, -1, meta);
    if (rc == 0)
        out->items[*index_out].searchable = 0;
    return rc;
}

int lm__chunk_chat(lm__chunk_list *out, const char *text, size_t len)
{
    chat_msgs msgs = {0};
    int rc, turns, parent = -1;

    if ((rc = chat_parse(&msgs, text, len)) < 0)
        goto out;
    turns = msgs.count > CHAT_TURN_THRESHOLD;
    for (size_t i = 0; i < msgs.count; i++) {
        int first;
        if (turns && i % CHAT_TURN_MESSAGES == 0) {
            /* The turn goes before its messages: a parent always precedes its children. */
            size_t n = msgs.count - i < CHAT_TURN_MESSAGES ? msgs.count - i : CHAT_TURN_MESSAGES;
            rc = chat_turn(&parent, out, text, &msgs.items[i], n, (int)(i / CHAT_TURN_MESSAGES));
            if (rc < 0)
                goto out;
        }
        chat_ctx ctx = {text, &msgs.items[i]};
        rc = pack(&first, out, text, msgs.items[i].start, msgs.items[i].end, CHAT_MESSAGE_TOKENS,
                  "chat_message", 1, parent, chat_meta, &ctx);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    lm__free(msgs.items);
    return rc;
}

/*
 * search/query.c: the web-search query syntax. Plain words are OR-ed scoring terms; "quoted
 * phrases" are scoring terms that must also appear as phrases; -word and -"phrase" exclude; the
 * word OR is a connector (OR is already the default). PostgreSQL's analyzer turns the pieces into
 * lexemes later, so no word splitting beyond whitespace and quotes happens here. The plain syntax
 * has no operators: the whole text is scoring terms.
 */
#include <string.h>

#include "search/search.h"

void lm__query_init(lm__query *q)
{
    lm_buf_init(&q->terms);
    lm_buf_init(&q->filter);
}

void lm__query_dispose(lm__query *q)
{
    lm_buf_dispose(&q->terms);
    lm_buf_dispose(&q->filter);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Append a piece to the filter, dropping characters that are syntax to websearch_to_tsquery. */
static void filter_piece(lm_buf *f, int negated, int phrase, const char *s, size_t n)
{
    if (f->size)
        lm__buf_putc(f, ' ');
    if (negated)
        lm__buf_putc(f, '-');
    if (phrase)
        lm__buf_putc(f, '"');
    for (size_t i = 0; i < n; i++)
        lm__buf_putc(f, (s[i] == '"' || s[i] == '-' || s[i] == '(' || s[i] == ')') ? ' ' : s[i]);
    if (phrase)
        lm__buf_putc(f, '"');
}

int lm__query_parse(lm__query *q, const char *text, lm_query_syntax syntax)
{
    const char *s = text;
    lm__buf_clear(&q->terms);
    lm__buf_clear(&q->filter);
    if (syntax == LM_QUERY_PLAIN) {
        /* Only text: PostgreSQL's analyzer takes quotes and dashes for punctuation. */
        lm__buf_puts(&q->terms, text);
        return lm__buf_oom(&q->terms) ? LM_ENOMEM : 0;
    }
    while (*s) {
        while (is_space(*s))
            s++;
        if (!*s)
            break;
        int negated = 0;
        if (*s == '-' && (s[1] == '"' || (s[1] && !is_space(s[1]) && s[1] != '-'))) {
            negated = 1;
            s++;
        }
        const char *start;
        size_t n;
        int phrase = 0;
        if (*s == '"') {
            phrase = 1;
            start = ++s;
            while (*s && *s != '"')
                s++;
            n = (size_t)(s - start);
            if (*s == '"')
                s++;
        } else {
            start = s;
            while (*s && !is_space(*s) && *s != '"')
                s++;
            n = (size_t)(s - start);
        }
        if (n == 0)
            continue;
        if (!phrase && !negated && n == 2 && start[0] == 'O' && start[1] == 'R')
            continue; /* connector */
        if (negated) {
            filter_piece(&q->filter, 1, phrase, start, n);
            continue;
        }
        if (q->terms.size)
            lm__buf_putc(&q->terms, ' ');
        lm__buf_put(&q->terms, start, n);
        if (phrase)
            filter_piece(&q->filter, 0, 1, start, n);
    }
    if (lm__buf_oom(&q->terms) || lm__buf_oom(&q->filter))
        return LM_ENOMEM;
    return 0;
}

/*
 * chunk/split.c: token windows with boundary-preferring cuts, and the hierarchical splitter built
 * on them (parent windows, child windows inside each parent). Works on byte offsets into the
 * original text, so chunk content is always an exact, trimmed substring. Unlike llmemory it never
 * emits a tail window contained in the previous one, and never cuts inside a UTF-8 sequence.
 */
#include "alloc.h"
#include "error.h"
#include "internal.h"

static int spans_add(lm__chunk_spans *v, size_t start, size_t end)
{
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        lm__chunk_span *p = lm__realloc(v->items, cap * sizeof(*p));
        if (p == NULL)
            return LM_ENOMEM;
        v->items = p;
        v->cap = cap;
    }
    v->items[v->count++] = (lm__chunk_span){start, end};
    return 0;
}

/* 1 when a cut at @p c (chunk = [.., c)) follows a paragraph break or a sentence end. The ASCII
 * separators are llmemory's; the ideographic full stop, exclamation and question marks (no space
 * follows them in CJK text) are an addition. */
static int sentence_cut(const char *t, size_t lo, size_t c)
{
    if (c - lo >= 2) {
        char a = t[c - 2], b = t[c - 1];
        if ((b == ' ' && (a == '.' || a == '!' || a == '?')) || (a == '\n' && b == '\n'))
            return 1;
    }
    if (c - lo >= 3) {
        const unsigned char *u = (const unsigned char *)t + c - 3;
        /* U+3002 。 U+FF01 ！ U+FF1F ？ */
        if ((u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x82) ||
            (u[0] == 0xEF && u[1] == 0xBC && (u[2] == 0x81 || u[2] == 0x9F)))
            return 1;
    }
    return 0;
}

/* 1 when a cut at @p c follows a line break or a clause separator (", ", "; ", ": "). */
static int clause_cut(const char *t, size_t lo, size_t c)
{
    if (t[c - 1] == '\n')
        return 1;
    return c - lo >= 2 && t[c - 1] == ' ' &&
           (t[c - 2] == ',' || t[c - 2] == ';' || t[c - 2] == ':');
}

static int word_cut(const char *t, size_t c)
{
    char b = t[c - 1];
    return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

/*
 * Where to cut the window [pos, raw): the latest paragraph/sentence boundary, else the latest line
 * or clause boundary, else the latest whitespace, each searched for in the window's last 20%
 * (sentences in the whole window when @p pack), else @p raw itself (a token boundary, already on
 * a character boundary). Every candidate is > @p min_cut, so the result is too.
 */
static size_t find_cut(const char *t, size_t pos, size_t raw, size_t min_cut, int pack)
{
    size_t lo = pos + (raw - pos) / 5 * 4 + (raw - pos) % 5 * 4 / 5;
    if (lo < min_cut)
        lo = min_cut;
    size_t lo_sentence = pack ? min_cut : lo;

    for (size_t c = raw; c > lo_sentence; c--)
        if (sentence_cut(t, pos, c))
            return c;
    for (size_t c = raw; c > lo; c--)
        if (clause_cut(t, pos, c))
            return c;
    for (size_t c = raw; c > lo; c--)
        if (word_cut(t, c))
            return c;
    return raw;
}

static int has_text(const char *t, size_t s, size_t e)
{
    for (; s < e; s++)
        if (!word_cut(t, s + 1) && t[s] != '\f' && t[s] != '\v')
            return 1;
    return 0;
}

int lm__chunk_windows(lm__chunk_spans *out,
                      const char *text,
                      size_t start,
                      size_t end,
                      int size,
                      int overlap,
                      int pack)
{
    size_t pos = start, prev_cut = start;
    if (size < 1)
        size = 1;
    while (pos < end) {
        size_t raw = pos + lm__token_offset(text + pos, end - pos, size);
        if (raw < end && raw <= prev_cut) {
            /* The approximate counts of overlapping ranges disagreed; drop the overlap rather
             * than emit a window contained in the previous one. */
            pos = prev_cut;
            continue;
        }
        size_t cut =
            raw >= end ? end : find_cut(text, pos, raw, prev_cut > pos ? prev_cut : pos, pack);
        /* A window whose new part is only whitespace would, once trimmed, be contained in the
         * previous one: skip it. */
        if (has_text(text, prev_cut > pos ? prev_cut : pos, cut) && spans_add(out, pos, cut) < 0)
            return LM_ENOMEM;
        if (cut == end)
            return 0;

        /* Step back from the cut by about @p overlap tokens, but never by more than half the
         * window, so every window moves forward and overlap stays smaller than the advance. */
        size_t next = cut;
        if (overlap > 0) {
            int tc = lm__token_count(text + pos, cut - pos);
            int adv = tc - overlap;
            if (adv < (tc + 1) / 2)
                adv = (tc + 1) / 2;
            next = pos + lm__token_offset(text + pos, cut - pos, adv);
            /* Start the next window at the beginning of a word ("-based" reads badly). */
            for (size_t k = 0; k < 32 && next - 1 > pos && !word_cut(text, next); k++)
                next--;
            if (!word_cut(text, next) || next <= pos)
                next = pos + lm__token_offset(text + pos, cut - pos, adv);
            if (next <= pos)
                next = cut;
        }
        prev_cut = cut;
        pos = next;
    }
    return 0;
}

/* Children of the parent at list index @p pi. A parent whose text fits one child window (or whose
 * children collapse to one identical chunk) keeps no children and is searchable itself; otherwise
 * its text is covered by the children and it is stored as context only (searchable = 0). */
static int add_children(
    lm__chunk_list *out, lm__chunk_spans *kids, const char *text, int pi, lm__chunk_sizes sizes)
{
    size_t ps = out->items[pi].start, pe = out->items[pi].end;
    int rc;

    kids->count = 0;
    if ((rc = lm__chunk_windows(kids, text, ps, pe, sizes.child, sizes.child_overlap, 0)) < 0)
        return rc;
    if (kids->count < 2)
        return 0;

    size_t before = out->count;
    for (size_t k = 0; k < kids->count; k++) {
        int idx;
        rc = lm__chunk_push(&idx, out, text, kids->items[k].start, kids->items[k].end, "child", 1,
                            pi, NULL);
        if (rc < 0)
            return rc;
    }
    size_t added = out->count - before;
    if (added == 1 && out->items[before].start == ps && out->items[before].end == pe) {
        lm__chunk_pop(out);
        added = 0;
    }
    if (added > 0)
        out->items[pi].searchable = 0;
    return 0;
}

int lm__chunk_hierarchical(lm__chunk_list *out, const char *text, size_t len, lm__chunk_sizes sizes)
{
    lm__chunk_spans parents = {0}, kids = {0};
    int rc;

    if ((rc = lm__chunk_windows(&parents, text, 0, len, sizes.parent, sizes.overlap, 0)) < 0)
        goto out;
    for (size_t p = 0; p < parents.count; p++) {
        int pi;
        rc = lm__chunk_push(&pi, out, text, parents.items[p].start, parents.items[p].end, "parent",
                            2, -1, NULL);
        if (rc < 0)
            goto out;
        if (pi < 0)
            continue;
        if ((rc = add_children(out, &kids, text, pi, sizes)) < 0)
            goto out;
    }
    rc = 0;
out:
    lm__chunk_spans_dispose(&parents);
    lm__chunk_spans_dispose(&kids);
    return rc;
}

/*
 * tests/unit/chunk/split_test.c: per-type sizes and the hierarchical splitter (parents, children,
 * boundaries, no duplicated tail, UTF-8 safety, forward progress on pathological input).
 */
#include <string.h>

#include "alloc.h"
#include "chunk/chunk.h"
#include "chunk_check.h"
#include "llmemory/error.h"
#include "runner.h"

/* A long English text of numbered sentences (distinct, so containment checks mean something). */
static char *prose(size_t sentences)
{
    static const char *const words[] = {"storage", "search", "tenant", "window", "vector",
                                        "query",   "chunk",  "index",  "token",  "document"};
    char *s = malloc(sentences * 120 + 1);
    size_t n = 0;
    for (size_t i = 0; i < sentences; i++) {
        n += (size_t)sprintf(s + n, "Sentence %zu is about the %s and the %s of a %s. ", i,
                             words[i % 10], words[(i * 7 + 3) % 10], words[(i * 3 + 1) % 10]);
        if (i % 9 == 8) { /* a paragraph break now and then */
            s[n - 1] = '\n';
            s[n++] = '\n';
        }
    }
    s[n] = '\0';
    return s;
}

static void chunk_text(lm__chunk_list *l, const char *text, size_t len, lm_doc_type type)
{
    memset(l, 0, sizeof(*l));
    ASSERT_OK(lm__chunk_document(l, text, len, type, LM_CHUNK_HIERARCHICAL));
    check_chunks(l, text, len);
}

/* Parents in order, each strictly extending the previous one; children inside their parent. */
static void check_hierarchy(const lm__chunk_list *l, lm__chunk_sizes z)
{
    int last_parent = -1;
    size_t kids = 0;
    for (size_t i = 0; i < l->count; i++) {
        const lm__chunk *c = &l->items[i];
        if (strcmp(c->kind, "parent") == 0) {
            ASSERT_EQ_INT(c->level, 2);
            ASSERT_EQ_INT(c->parent, -1);
            ASSERT(c->token_count <= z.parent + 2);
            if (last_parent >= 0) {
                const lm__chunk *p = &l->items[last_parent];
                ASSERT(c->start >= p->start);
                ASSERT(c->end > p->end); /* never contained in the previous parent */
                ASSERT(p->searchable == (kids == 0));
            }
            last_parent = (int)i;
            kids = 0;
        } else {
            ASSERT_EQ_STR(c->kind, "child");
            ASSERT_EQ_INT(c->level, 1);
            ASSERT_EQ_INT(c->parent, last_parent);
            ASSERT_EQ_INT(c->searchable, 1);
            ASSERT(c->token_count <= z.child + 2);
            const lm__chunk *p = &l->items[c->parent];
            ASSERT(c->start >= p->start && c->end <= p->end);
            ASSERT(strstr(p->content, c->content) != NULL);
            if (kids > 0) {
                const lm__chunk *prev = &l->items[i - 1];
                ASSERT(c->start >= prev->start && c->end > prev->end);
            }
            kids++;
        }
    }
    if (last_parent >= 0)
        ASSERT(l->items[last_parent].searchable == (kids == 0));
}

/* Every non-whitespace byte of the text lies in some parent. */
static void check_coverage(const lm__chunk_list *l, const char *text, size_t len)
{
    size_t covered = 0;
    for (size_t i = 0; i < l->count; i++) {
        const lm__chunk *c = &l->items[i];
        if (strcmp(c->kind, "parent") != 0)
            continue;
        for (size_t k = covered; k < c->start; k++)
            ASSERT(chunk_is_ws(text[k]));
        if (c->end > covered)
            covered = c->end;
    }
    for (size_t k = covered; k < len; k++)
        ASSERT(chunk_is_ws(text[k]));
}

TEST(test_chunk_split__sizes_table)
{
    lm__chunk_sizes z = lm__chunk_sizes_for(LM_DOC_TEXT, 5000);
    ASSERT_EQ_INT(z.parent, 600);
    ASSERT_EQ_INT(z.child, 300);
    ASSERT_EQ_INT(z.overlap, 50);
    ASSERT_EQ_INT(z.child_overlap, 25);
    z = lm__chunk_sizes_for(LM_DOC_EMAIL, 5000);
    ASSERT(z.parent == 300 && z.child == 150 && z.overlap == 25 && z.child_overlap == 15);
    z = lm__chunk_sizes_for(LM_DOC_CHAT, 5000);
    ASSERT(z.parent == 200 && z.child == 100 && z.overlap == 20 && z.child_overlap == 10);
    z = lm__chunk_sizes_for(LM_DOC_PRESENTATION, 5000);
    ASSERT(z.parent == 400 && z.child == 200 && z.overlap == 30 && z.child_overlap == 15);
    z = lm__chunk_sizes_for(LM_DOC_LEGAL_DOCUMENT, 5000);
    ASSERT(z.parent == 500 && z.child == 250 && z.overlap == 40 && z.child_overlap == 20);
    z = lm__chunk_sizes_for(LM_DOC_DOCX, 5000);
    ASSERT(z.parent == 700 && z.child == 350 && z.overlap == 50 && z.child_overlap == 25);
    lm_doc_type big[] = {LM_DOC_CODE, LM_DOC_TECHNICAL_DOC, LM_DOC_PDF};
    for (size_t i = 0; i < 3; i++) {
        z = lm__chunk_sizes_for(big[i], 5000);
        ASSERT(z.parent == 800 && z.child == 400 && z.overlap == 60 && z.child_overlap == 30);
    }
    lm_doc_type std[] = {LM_DOC_REPORT, LM_DOC_BUSINESS_REPORT, LM_DOC_MARKDOWN, LM_DOC_HTML,
                         LM_DOC_UNKNOWN};
    for (size_t i = 0; i < 5; i++) {
        z = lm__chunk_sizes_for(std[i], 5000);
        ASSERT(z.parent == 600 && z.child == 300 && z.overlap == 50 && z.child_overlap == 25);
    }
}

TEST(test_chunk_split__sizes_short_document_halved)
{
    lm__chunk_sizes z = lm__chunk_sizes_for(LM_DOC_TEXT, 999);
    ASSERT(z.parent == 300 && z.child == 150 && z.overlap == 25 && z.child_overlap == 12);
    z = lm__chunk_sizes_for(LM_DOC_EMAIL, 10);
    ASSERT(z.parent == 150 && z.child == 75 && z.overlap == 12 && z.child_overlap == 7);
    z = lm__chunk_sizes_for(LM_DOC_TEXT, 1000); /* the bound itself is not short */
    ASSERT_EQ_INT(z.parent, 600);
}

TEST(test_chunk_split__sizes_long_document_enlarged)
{
    lm__chunk_sizes z = lm__chunk_sizes_for(LM_DOC_PDF, 50001);
    ASSERT(z.parent == 1200 && z.child == 480 && z.overlap == 60 && z.child_overlap == 30);
    z = lm__chunk_sizes_for(LM_DOC_TEXT, 100000);
    ASSERT(z.parent == 900 && z.child == 360 && z.overlap == 50 && z.child_overlap == 25);
    z = lm__chunk_sizes_for(LM_DOC_EMAIL, 60000);
    ASSERT(z.parent == 450 && z.child == 180 && z.overlap == 25 && z.child_overlap == 15);
    z = lm__chunk_sizes_for(LM_DOC_TEXT, 50000); /* the bound itself is not long */
    ASSERT_EQ_INT(z.parent, 600);
}

TEST(test_chunk_split__empty_input)
{
    lm__chunk_list l = {0};
    ASSERT_OK(lm__chunk_document(&l, "", 0, LM_DOC_TEXT, LM_CHUNK_HIERARCHICAL));
    ASSERT_EQ_INT(l.count, 0);
    ASSERT_OK(lm__chunk_document(&l, " \n\t\n  \r\n", 8, LM_DOC_TEXT, LM_CHUNK_HIERARCHICAL));
    ASSERT_EQ_INT(l.count, 0);
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_split__short_text_single_parent)
{
    const char *t = "  A short note about storage.\n";
    lm__chunk_list l;
    chunk_text(&l, t, strlen(t), LM_DOC_TEXT);
    ASSERT_EQ_INT(l.count, 1);
    ASSERT_EQ_STR(l.items[0].kind, "parent");
    ASSERT_EQ_STR(l.items[0].content, "A short note about storage.");
    ASSERT_EQ_INT(l.items[0].level, 2);
    ASSERT_EQ_INT(l.items[0].parent, -1);
    ASSERT_EQ_INT(l.items[0].searchable, 1);
    ASSERT_EQ_INT(l.items[0].start, 2);
    ASSERT_EQ_INT(l.items[0].end, 29);
    ASSERT_EQ_INT(l.items[0].token_count, 6);
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_split__one_parent_with_children)
{
    /* About 330 tokens in 1400 bytes: one 600-token parent, children of 300. */
    char *t = prose(25);
    size_t len = strlen(t);
    ASSERT(len > 1000);
    lm__chunk_list l;
    chunk_text(&l, t, len, LM_DOC_TEXT);
    ASSERT(l.count >= 3);
    ASSERT_EQ_STR(l.items[0].kind, "parent");
    ASSERT_EQ_INT(l.items[0].searchable, 0);
    for (size_t i = 1; i < l.count; i++)
        ASSERT_EQ_STR(l.items[i].kind, "child");
    check_hierarchy(&l, lm__chunk_sizes_for(LM_DOC_TEXT, len));
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__long_text_parents_and_children)
{
    char *t = prose(600);
    size_t len = strlen(t);
    lm__chunk_list l;
    chunk_text(&l, t, len, LM_DOC_TEXT);
    lm__chunk_sizes z = lm__chunk_sizes_for(LM_DOC_TEXT, len);
    size_t parents = 0;
    for (size_t i = 0; i < l.count; i++)
        parents += strcmp(l.items[i].kind, "parent") == 0;
    ASSERT(parents >= 5);
    ASSERT(l.count > parents * 2);
    check_hierarchy(&l, z);
    check_coverage(&l, t, len);
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__windows_overlap)
{
    char *t = prose(600);
    size_t len = strlen(t);
    lm__chunk_list l;
    chunk_text(&l, t, len, LM_DOC_TEXT);
    int prev = -1;
    for (size_t i = 0; i < l.count; i++) {
        if (strcmp(l.items[i].kind, "parent") != 0)
            continue;
        if (prev >= 0) {
            const lm__chunk *p = &l.items[prev], *c = &l.items[i];
            ASSERT(c->start < p->end); /* shares some text with the previous parent */
            int shared = lm__token_count(t + c->start, p->end - c->start);
            ASSERT(shared >= 10 && shared <= 100);
        }
        prev = (int)i;
    }
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__no_duplicated_tail)
{
    /* llmemory emits a last window made only of the previous window's overlap. */
    for (size_t n = 20; n < 400; n += 37) {
        char *t = prose(n);
        size_t len = strlen(t);
        lm__chunk_list l;
        chunk_text(&l, t, len, LM_DOC_TEXT);
        for (size_t i = 1; i < l.count; i++) {
            const lm__chunk *a = &l.items[i - 1], *b = &l.items[i];
            if (strcmp(a->kind, b->kind) == 0 && a->parent == b->parent)
                ASSERT(!(b->start >= a->start && b->end <= a->end));
        }
        lm__chunk_list_dispose(&l);
        free(t);
    }
}

TEST(test_chunk_split__cuts_at_sentence_ends)
{
    char *t = prose(600);
    size_t len = strlen(t);
    lm__chunk_list l;
    chunk_text(&l, t, len, LM_DOC_TEXT);
    for (size_t i = 0; i < l.count; i++) {
        const lm__chunk *c = &l.items[i];
        ASSERT_EQ_INT(c->content[c->len - 1], '.');
    }
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__cuts_at_clause_then_word)
{
    /* No sentence ends: cut after ", "; without those, between words. */
    char *t = malloc(200000);
    size_t n = 0;
    for (int i = 0; i < 3000; i++)
        n += (size_t)sprintf(t + n, "alpha beta gamma delta%s", i % 4 == 3 ? ", " : " ");
    lm__chunk_list l;
    chunk_text(&l, t, n, LM_DOC_TEXT);
    ASSERT(l.count > 3);
    for (size_t i = 0; i + 1 < l.count; i++) {
        const lm__chunk *c = &l.items[i];
        if (c->end < n)
            ASSERT_EQ_INT(c->content[c->len - 1], ',');
    }
    lm__chunk_list_dispose(&l);

    n = 0;
    for (int i = 0; i < 3000; i++)
        n += (size_t)sprintf(t + n, "alpha beta gamma delta ");
    chunk_text(&l, t, n, LM_DOC_TEXT);
    for (size_t i = 0; i < l.count; i++) {
        const lm__chunk *c = &l.items[i];
        ASSERT(c->start == 0 || t[c->start - 1] == ' ');
        ASSERT(c->end == n || t[c->end] == ' ');
    }
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__utf8_never_split)
{
    const char *unit = "é漢字🙂";
    size_t ul = strlen(unit), len = 0;
    char *t = malloc(200000);
    while (len + ul < 200000) {
        memcpy(t + len, unit, ul);
        len += ul;
    }
    lm__chunk_list l;
    chunk_text(&l, t, len, LM_DOC_PDF); /* check_chunks validates every chunk's UTF-8 */
    ASSERT(l.count > 10);
    check_hierarchy(&l, lm__chunk_sizes_for(LM_DOC_PDF, len));
    lm__chunk_list_dispose(&l);

    /* Mixed with spaces and sentence ends in CJK. */
    len = 0;
    for (int i = 0; i < 5000; i++) {
        const char *u = i % 3 ? "漢字漢字漢字。" : "Ünïcödé wörds ";
        memcpy(t + len, u, strlen(u));
        len += strlen(u);
    }
    chunk_text(&l, t, len, LM_DOC_TEXT);
    ASSERT(l.count > 10);
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__one_huge_word)
{
    size_t len = 300000;
    char *t = malloc(len);
    memset(t, 'x', len);
    lm__chunk_list l;
    chunk_text(&l, t, len, LM_DOC_TEXT);
    lm__chunk_sizes z = lm__chunk_sizes_for(LM_DOC_TEXT, len);
    ASSERT(l.count > 10);
    check_hierarchy(&l, z);
    check_coverage(&l, t, len);
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__pathological_whitespace_and_punctuation)
{
    size_t len = 200000;
    char *t = malloc(len);
    lm__chunk_list l;

    memset(t, '\n', len);
    chunk_text(&l, t, len, LM_DOC_TEXT);
    ASSERT_EQ_INT(l.count, 0);

    for (size_t i = 0; i < len; i++)
        t[i] = i % 2 ? ' ' : '\n';
    chunk_text(&l, t, len, LM_DOC_TEXT);
    ASSERT_EQ_INT(l.count, 0);

    memset(t, '.', len);
    chunk_text(&l, t, len, LM_DOC_TEXT);
    ASSERT(l.count > 0);
    check_coverage(&l, t, len);
    lm__chunk_list_dispose(&l);

    for (size_t i = 0; i < len; i++)
        t[i] = ". \n"[i % 3];
    chunk_text(&l, t, len, LM_DOC_TEXT);
    ASSERT(l.count > 0);
    check_coverage(&l, t, len);
    lm__chunk_list_dispose(&l);

    /* Long digit runs, a huge word between spaces, and text ending without a newline. */
    for (size_t i = 0; i < len; i++)
        t[i] = (char)('0' + i % 10);
    memset(t + 1000, ' ', 3);
    memset(t + 100000, 'a', 50000);
    chunk_text(&l, t, len, LM_DOC_CODE);
    check_coverage(&l, t, len);
    check_hierarchy(&l, lm__chunk_sizes_for(LM_DOC_CODE, len));
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_split__large_input)
{
    /* 2 MB of prose; must finish well within the harness timeout (it takes ~0.1 s). */
    lm_test_timeout(20);
    size_t len = 2u << 20;
    char *t = malloc(len + 1);
    char *p = prose(200);
    size_t pl = strlen(p), n = 0;
    while (n + pl <= len) {
        memcpy(t + n, p, pl);
        n += pl;
    }
    lm__chunk_list l;
    chunk_text(&l, t, n, LM_DOC_TEXT);
    ASSERT(l.count > 1000);
    check_coverage(&l, t, n);
    lm__chunk_list_dispose(&l);
    free(p);
    free(t);
}

TEST(test_chunk_split__oom_leaves_list_empty)
{
    char *t = prose(300);
    size_t len = strlen(t);
    for (long n = 1;; n++) {
        lm__chunk_list l = {0};
        lm__alloc_fail_at(n);
        int rc = lm__chunk_document(&l, t, len, LM_DOC_TEXT, LM_CHUNK_HIERARCHICAL);
        lm__alloc_fail_at(0);
        if (rc == 0) {
            ASSERT(l.count > 0);
            lm__chunk_list_dispose(&l);
            break;
        }
        ASSERT_EQ_INT(rc, LM_ENOMEM);
        ASSERT_EQ_INT(l.count, 0);
        ASSERT(l.items == NULL);
        ASSERT(n < 100000);
    }
    free(t);
}

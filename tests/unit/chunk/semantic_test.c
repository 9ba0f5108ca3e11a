/*
 * tests/unit/chunk/semantic_test.c: the structure-aware splitters (markdown sections, email parts,
 * chat messages and turns, sentence packing) and the strategy dispatch of lm__chunk_document.
 */
#include <string.h>

#include "alloc.h"
#include "chunk/chunk.h"
#include "chunk_check.h"
#include "llmemory/error.h"
#include "runner.h"

static void chunk_sem(lm__chunk_list *l, const char *text, lm_doc_type type, lm_chunk_strategy st)
{
    size_t len = strlen(text);
    memset(l, 0, sizeof(*l));
    ASSERT_OK(lm__chunk_document(l, text, len, type, st));
    check_chunks(l, text, len);
}

static size_t count_kind(const lm__chunk_list *l, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        n += strcmp(l->items[i].kind, kind) == 0;
    return n;
}

/* A text of @p n sentences of about 10 tokens each. */
static char *sentences(size_t n)
{
    char *s = malloc(n * 64 + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(s + len, "Item %zu of the list is worth noting here. ", i);
    s[len] = '\0';
    return s;
}

/* ---- markdown ---- */

TEST(test_chunk_semantic__markdown_sections)
{
    const char *md = "Intro text.\n"
                     "# Title\n"
                     "Title body.\n"
                     "## Part A\n"
                     "Body A.\n"
                     "### Deeper\n"
                     "Body deeper.\n"
                     "# Second\n"
                     "Body two.\n"
                     "## Part B\n"
                     "Body B.\n";
    lm__chunk_list l;
    chunk_sem(&l, md, LM_DOC_MARKDOWN, LM_CHUNK_SEMANTIC);
    ASSERT_EQ_INT(l.count, 6);
    for (size_t i = 0; i < l.count; i++) {
        ASSERT_EQ_STR(l.items[i].kind, "section");
        ASSERT_EQ_INT(l.items[i].searchable, 1);
    }
    ASSERT_EQ_STR(l.items[0].content, "Intro text.");
    ASSERT_EQ_INT(l.items[0].level, 0);
    ASSERT_EQ_INT(l.items[0].parent, -1);
    ASSERT_EQ_STR(l.items[0].meta_json, "{\"section_level\":0}");
    ASSERT_EQ_STR(l.items[1].content, "# Title\nTitle body.");
    ASSERT_EQ_INT(l.items[1].level, 5);
    ASSERT_EQ_INT(l.items[1].parent, -1);
    ASSERT_EQ_STR(l.items[1].meta_json, "{\"section_level\":1,\"heading\":\"Title\"}");
    ASSERT_EQ_STR(l.items[2].content, "## Part A\nBody A.");
    ASSERT_EQ_INT(l.items[2].level, 4);
    ASSERT_EQ_INT(l.items[2].parent, 1);
    ASSERT_EQ_INT(l.items[3].level, 3);
    ASSERT_EQ_INT(l.items[3].parent, 1);
    ASSERT_EQ_STR(l.items[4].content, "# Second\nBody two.");
    ASSERT_EQ_INT(l.items[4].parent, -1);
    ASSERT_EQ_INT(l.items[5].parent, 4);
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_semantic__markdown_code_fence_is_not_a_heading)
{
    const char *md = "# Script\n"
                     "Run this:\n"
                     "```sh\n"
                     "# not a heading\n"
                     "echo hi\n"
                     "~~~\n"
                     "## still code\n"
                     "```\n"
                     "After the fence.\n"
                     "#hashtag is not a heading either\n"
                     "####### nor are seven\n"
                     "## Real \"quoted\" heading\n"
                     "Text.\n";
    lm__chunk_list l;
    chunk_sem(&l, md, LM_DOC_MARKDOWN, LM_CHUNK_SEMANTIC);
    ASSERT_EQ_INT(l.count, 2);
    ASSERT(strstr(l.items[0].content, "## still code") != NULL);
    ASSERT(strstr(l.items[0].content, "####### nor are seven") != NULL);
    ASSERT_EQ_STR(l.items[1].meta_json,
                  "{\"section_level\":2,\"heading\":\"Real \\\"quoted\\\" heading\"}");
    ASSERT_EQ_INT(l.items[1].parent, 0);
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_semantic__markdown_long_section_is_split)
{
    char *body = sentences(200);
    size_t n = strlen(body);
    char *md = malloc(n + 64);
    sprintf(md, "# Big\n%s\n## Small\nTail.\n", body);
    lm__chunk_list l;
    chunk_sem(&l, md, LM_DOC_MARKDOWN, LM_CHUNK_SEMANTIC);
    int max = lm__chunk_sizes_for(LM_DOC_MARKDOWN, strlen(md)).child;
    size_t big = 0;
    for (size_t i = 0; i < l.count; i++) {
        ASSERT(l.items[i].token_count <= max + 2);
        if (strstr(l.items[i].meta_json, "\"heading\":\"Big\"")) {
            ASSERT(strstr(l.items[i].meta_json, "\"part\":") != NULL);
            ASSERT_EQ_INT(l.items[i].content[l.items[i].len - 1], '.');
            big++;
        }
    }
    ASSERT(big >= 5);
    /* The deeper section hangs under the first part of the H1 section. */
    ASSERT_EQ_STR(l.items[l.count - 1].content, "## Small\nTail.");
    ASSERT_EQ_INT(l.items[l.count - 1].parent, 0);
    lm__chunk_list_dispose(&l);
    free(md);
    free(body);
}

TEST(test_chunk_semantic__markdown_hierarchical_strategy)
{
    const char *md = "# Title\nSome text.\n## Sub\nMore text.\n";
    lm__chunk_list l;
    chunk_sem(&l, md, LM_DOC_MARKDOWN, LM_CHUNK_HIERARCHICAL);
    ASSERT_EQ_INT(l.count, 1);
    ASSERT_EQ_STR(l.items[0].kind, "parent");
    lm__chunk_list_dispose(&l);
}

/* ---- email ---- */

static const char *const mail =
    "From: Alice <alice@example.com>\n"
    "To: bob@example.com\n"
    "Subject: Quarterly numbers\n"
    "\n"
    "Hi Bob,\n"
    "\n"
    "Thanks for the report. The numbers look good! Can you send the appendix?\n"
    "\n"
    "Best regards,\n"
    "Alice\n"
    "\n"
    "On Sun, Mar 31, 2024 at 9:00 PM Bob <bob@example.com> wrote:\n"
    "> Here is the report.\n";

TEST(test_chunk_semantic__email_parts)
{
    lm__chunk_list l;
    chunk_sem(&l, mail, LM_DOC_EMAIL, LM_CHUNK_HIERARCHICAL); /* email ignores the strategy */
    ASSERT_EQ_INT(l.count, 4);
    ASSERT_EQ_STR(l.items[0].kind, "email_headers");
    ASSERT_EQ_STR(
        l.items[0].content,
        "From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: Quarterly numbers");
    ASSERT_EQ_INT(l.items[0].level, 2);
    ASSERT_EQ_STR(l.items[1].kind, "email_body");
    /* "Thanks for the report" starts a sentence, not a signature (llmemory's prefix match). */
    ASSERT_EQ_STR(l.items[1].content, "Hi Bob,\n\nThanks for the report. The numbers look good! "
                                      "Can you send the appendix?");
    ASSERT_EQ_INT(l.items[1].level, 1);
    ASSERT_EQ_STR(l.items[2].kind, "email_signature");
    ASSERT_EQ_STR(l.items[2].content, "Best regards,\nAlice");
    ASSERT_EQ_INT(l.items[2].level, 0);
    ASSERT_EQ_STR(l.items[3].kind, "email_quoted");
    ASSERT(strncmp(l.items[3].content, "On Sun, Mar 31", 14) == 0);
    for (size_t i = 0; i < l.count; i++) {
        ASSERT_EQ_INT(l.items[i].searchable, 1);
        ASSERT_EQ_INT(l.items[i].parent, -1);
    }
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_semantic__email_without_headers_and_dash_signature)
{
    const char *m = "Just a quick note.\nSee you.\n-- \nBob\nSent from my phone\n";
    lm__chunk_list l;
    chunk_sem(&l, m, LM_DOC_EMAIL, LM_CHUNK_SEMANTIC);
    ASSERT_EQ_INT(l.count, 2);
    ASSERT_EQ_STR(l.items[0].kind, "email_body");
    ASSERT_EQ_STR(l.items[0].content, "Just a quick note.\nSee you.");
    ASSERT_EQ_STR(l.items[1].kind, "email_signature");
    ASSERT_EQ_STR(l.items[1].content, "-- \nBob\nSent from my phone");
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_semantic__email_long_body_is_packed)
{
    char *body = sentences(100);
    char *m = malloc(strlen(body) + 64);
    sprintf(m, "Subject: long\n\n%s\nThanks!\nBob\n", body);
    lm__chunk_list l;
    chunk_sem(&l, m, LM_DOC_EMAIL, LM_CHUNK_SEMANTIC);
    ASSERT(count_kind(&l, "email_body") >= 5);
    ASSERT_EQ_INT(count_kind(&l, "email_signature"), 1);
    int part = 0;
    for (size_t i = 0; i < l.count; i++) {
        if (strcmp(l.items[i].kind, "email_body") != 0)
            continue;
        ASSERT(l.items[i].token_count <= 152);
        char want[32];
        sprintf(want, "{\"part\":%d}", part++);
        ASSERT_EQ_STR(l.items[i].meta_json, want);
    }
    lm__chunk_list_dispose(&l);
    free(m);
    free(body);
}

/* ---- chat ---- */

TEST(test_chunk_semantic__chat_messages)
{
    const char *c = "[10:30] alice: hi there\n"
                    "[10:31 PM] bo\"b: hello\n"
                    "how are you?\n"
                    "*** carol joined ***\n"
                    "10:32:05 carol: see http://example.com\n"
                    "\n"
                    "dave: bye\n";
    lm__chunk_list l;
    chunk_sem(&l, c, LM_DOC_CHAT, LM_CHUNK_HIERARCHICAL);
    ASSERT_EQ_INT(l.count, 5);
    for (size_t i = 0; i < l.count; i++) {
        ASSERT_EQ_STR(l.items[i].kind, "chat_message");
        ASSERT_EQ_INT(l.items[i].level, 1);
        ASSERT_EQ_INT(l.items[i].parent, -1);
    }
    ASSERT_EQ_STR(l.items[0].content, "[10:30] alice: hi there");
    ASSERT_EQ_STR(l.items[0].meta_json, "{\"message_index\":0,\"message_type\":\"message\","
                                        "\"user\":\"alice\",\"timestamp\":\"10:30\"}");
    ASSERT_EQ_STR(l.items[1].content, "[10:31 PM] bo\"b: hello\nhow are you?");
    ASSERT_EQ_STR(l.items[1].meta_json, "{\"message_index\":1,\"message_type\":\"message\","
                                        "\"user\":\"bo\\\"b\",\"timestamp\":\"10:31 PM\"}");
    ASSERT_EQ_STR(l.items[2].meta_json, "{\"message_index\":2,\"message_type\":\"system\"}");
    ASSERT_EQ_STR(l.items[3].meta_json, "{\"message_index\":3,\"message_type\":\"message\","
                                        "\"user\":\"carol\",\"timestamp\":\"10:32:05\"}");
    ASSERT_EQ_STR(l.items[4].meta_json,
                  "{\"message_index\":4,\"message_type\":\"message\",\"user\":\"dave\"}");
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_semantic__chat_turns_precede_their_messages)
{
    char c[2048];
    size_t n = 0;
    for (int i = 0; i < 12; i++)
        n += (size_t)sprintf(c + n, "%s: message number %d\n", i % 2 ? "bob" : "alice", i);
    n += (size_t)sprintf(c + n, "*** bob left ***\n");
    lm__chunk_list l;
    chunk_sem(&l, c, LM_DOC_CHAT, LM_CHUNK_SEMANTIC);
    /* 13 messages: turns of 5, 5 and 3, each placed before its messages. */
    ASSERT_EQ_INT(l.count, 16);
    ASSERT_EQ_INT(count_kind(&l, "chat_turn"), 3);
    size_t turn_at[] = {0, 6, 12};
    for (size_t t = 0; t < 3; t++) {
        const lm__chunk *turn = &l.items[turn_at[t]];
        ASSERT_EQ_STR(turn->kind, "chat_turn");
        ASSERT_EQ_INT(turn->level, 2);
        ASSERT_EQ_INT(turn->searchable, 0);
        ASSERT_EQ_INT(turn->parent, -1);
        size_t last = t < 2 ? turn_at[t] + 5 : turn_at[t] + 3;
        for (size_t k = turn_at[t] + 1; k <= last; k++) {
            ASSERT_EQ_STR(l.items[k].kind, "chat_message");
            ASSERT_EQ_INT(l.items[k].parent, (int)turn_at[t]);
            ASSERT_EQ_INT(l.items[k].searchable, 1);
            ASSERT(l.items[k].start >= turn->start && l.items[k].end <= turn->end);
        }
    }
    ASSERT_EQ_STR(l.items[0].content, "alice: message number 0\nbob: message number 1\n"
                                      "alice: message number 2\nbob: message number 3\n"
                                      "alice: message number 4");
    ASSERT_EQ_STR(l.items[0].meta_json,
                  "{\"turn_index\":0,\"first_message_index\":0,\"message_count\":5}");
    ASSERT_EQ_STR(l.items[12].content,
                  "alice: message number 10\nbob: message number 11\nSystem: bob left");
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_semantic__chat_ten_messages_have_no_turns)
{
    char c[1024];
    size_t n = 0;
    for (int i = 0; i < 10; i++)
        n += (size_t)sprintf(c + n, "u%d: m%d\n", i, i);
    lm__chunk_list l;
    chunk_sem(&l, c, LM_DOC_CHAT, LM_CHUNK_SEMANTIC);
    ASSERT_EQ_INT(l.count, 10);
    ASSERT_EQ_INT(count_kind(&l, "chat_turn"), 0);
    lm__chunk_list_dispose(&l);
}

TEST(test_chunk_semantic__chat_long_message_is_split)
{
    char *body = sentences(150);
    char *c = malloc(strlen(body) + 64);
    sprintf(c, "alice: %s\nbob: short\n", body);
    lm__chunk_list l;
    chunk_sem(&l, c, LM_DOC_CHAT, LM_CHUNK_SEMANTIC);
    ASSERT(l.count >= 4);
    for (size_t i = 0; i + 1 < l.count; i++) {
        ASSERT(strstr(l.items[i].meta_json, "\"message_index\":0") != NULL);
        ASSERT(strstr(l.items[i].meta_json, "\"part\":") != NULL);
        ASSERT(l.items[i].token_count <= 302);
    }
    ASSERT_EQ_STR(l.items[l.count - 1].content, "bob: short");
    lm__chunk_list_dispose(&l);
    free(c);
    free(body);
}

/* ---- sentence packing ---- */

TEST(test_chunk_semantic__sentences_packed)
{
    char *t = sentences(200);
    lm__chunk_list l;
    chunk_sem(&l, t, LM_DOC_TEXT, LM_CHUNK_SEMANTIC);
    ASSERT(l.count >= 6);
    for (size_t i = 0; i < l.count; i++) {
        const lm__chunk *c = &l.items[i];
        ASSERT_EQ_STR(c->kind, "text");
        ASSERT_EQ_INT(c->level, 0);
        ASSERT_EQ_INT(c->parent, -1);
        ASSERT(c->meta_json == NULL);
        ASSERT(c->token_count <= 302);
        ASSERT(c->token_count > 250 || i == l.count - 1); /* greedy: full but for the last */
        ASSERT_EQ_INT(c->content[c->len - 1], '.');
        ASSERT(strncmp(c->content, "Item ", 5) == 0);
        if (i > 0)
            ASSERT(c->start >= l.items[i - 1].end); /* no overlap */
    }
    lm__chunk_list_dispose(&l);
    free(t);
}

TEST(test_chunk_semantic__pathological_inputs)
{
    size_t len = 300000;
    char *t = malloc(len + 1);
    lm_doc_type types[] = {LM_DOC_MARKDOWN, LM_DOC_EMAIL, LM_DOC_CHAT, LM_DOC_TEXT};
    const char *fills[] = {"#",         "\n",     "x",     "*** ",   "a: ", "On x wrote:\n",
                           "```\n# \n", "漢字。", "-- \n", "[1:00] "};
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        size_t fl = strlen(fills[f]), n = 0;
        while (n + fl <= len) {
            memcpy(t + n, fills[f], fl);
            n += fl;
        }
        t[n] = '\0';
        for (size_t k = 0; k < 4; k++) {
            lm__chunk_list l;
            chunk_sem(&l, t, types[k], LM_CHUNK_SEMANTIC);
            lm__chunk_list_dispose(&l);
        }
    }
    free(t);
}

TEST(test_chunk_semantic__oom_leaves_list_empty)
{
    char c[4096];
    size_t n = 0;
    for (int i = 0; i < 14; i++)
        n += (size_t)sprintf(c + n, "[09:%02d] user%d: message \"%d\"\n", i, i % 3, i);
    const char *docs[] = {c, mail, "# A\ntext\n## B\nmore text. And more.\n"};
    lm_doc_type types[] = {LM_DOC_CHAT, LM_DOC_EMAIL, LM_DOC_MARKDOWN};
    for (size_t d = 0; d < 3; d++) {
        for (long k = 1;; k++) {
            lm__chunk_list l = {0};
            lm__alloc_fail_at(k);
            int rc = lm__chunk_document(&l, docs[d], strlen(docs[d]), types[d], LM_CHUNK_SEMANTIC);
            lm__alloc_fail_at(0);
            if (rc == 0) {
                ASSERT(l.count > 0);
                lm__chunk_list_dispose(&l);
                break;
            }
            ASSERT_EQ_INT(rc, LM_ENOMEM);
            ASSERT_EQ_INT(l.count, 0);
            ASSERT(k < 10000);
        }
    }
}

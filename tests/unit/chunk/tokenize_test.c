/*
 * tests/unit/chunk/tokenize_test.c: the cl100k_base approximation (lm__token_count) and the
 * token-to-byte mapping used for windows (lm__token_offset).
 */
#include <ctype.h>
#include <string.h>

#include "chunk/chunk.h"
#include "runner.h"
#include "utf8.h"

static int count(const char *s)
{
    return lm__token_count(s, strlen(s));
}

TEST(test_chunk_tokenize__empty)
{
    ASSERT_EQ_INT(count(""), 0);
    ASSERT_EQ_INT(lm__token_count(NULL, 0), 0);
}

TEST(test_chunk_tokenize__common_words)
{
    ASSERT_EQ_INT(count("hello"), 1);
    ASSERT_EQ_INT(count("hello world"), 2);
    ASSERT_EQ_INT(count("Hello, world!"), 4);
    ASSERT_EQ_INT(count("The quick brown fox jumps over the lazy dog."), 10);
    ASSERT_EQ_INT(count("don't"), 2); /* "don" "'t" */
    ASSERT_EQ_INT(count("we'll"), 2); /* "we" "'ll" */
}

TEST(test_chunk_tokenize__long_words_cost_more)
{
    ASSERT_EQ_INT(count("documents"), 1);
    ASSERT_EQ_INT(count("characteristically"), 3);
    int n = count("internationalization");
    ASSERT(n >= 2 && n <= 4);
    ASSERT(count("pneumonoultramicroscopicsilicovolcanoconiosis") >= 5);
}

TEST(test_chunk_tokenize__digits_in_groups_of_three)
{
    ASSERT_EQ_INT(count("7"), 1);
    ASSERT_EQ_INT(count("123"), 1);
    ASSERT_EQ_INT(count("1234"), 2);
    ASSERT_EQ_INT(count("1234567"), 3);
    ASSERT_EQ_INT(count("hello 123"), 3); /* cl100k: "hello" " " "123" */
}

TEST(test_chunk_tokenize__punctuation_and_whitespace)
{
    ASSERT_EQ_INT(count("..."), 1);
    ASSERT_EQ_INT(count("\n\n"), 1);
    ASSERT_EQ_INT(count("a\n\nb"), 3);
    ASSERT_EQ_INT(count("    "), 1);
    ASSERT_EQ_INT(count("x = y;"), 4); /* "x" " =" " y" ";" */
}

TEST(test_chunk_tokenize__non_ascii)
{
    ASSERT_EQ_INT(count("漢字"), 2);         /* CJK: one token per character */
    ASSERT_EQ_INT(count("привет"), 3);       /* 2-byte letters: one per pair */
    ASSERT_EQ_INT(count("café"), 2);         /* "caf" + half of "é", rounded up */
    ASSERT_EQ_INT(count("🙂"), 2);         /* 4-byte symbols: two tokens */
    ASSERT_EQ_INT(count("\xe3\x80\x82"), 1); /* ideographic full stop: punctuation */
}

TEST(test_chunk_tokenize__english_prose_ratio)
{
    const char *p = "Chunking splits a document into passages that are small enough to embed "
                    "and specific enough to be useful as search results. Each passage keeps a "
                    "little of its neighbours' text, so that a sentence cut at a window edge is "
                    "still found whole in one of the two windows. The sizes are counted in "
                    "tokens of the embedding model's tokenizer, not in characters or words.";
    size_t words = 1;
    for (const char *q = p; *q; q++)
        words += *q == ' ';
    int n = count(p);
    /* cl100k gives about 1.2-1.4 tokens per English word (punctuation included). */
    ASSERT(n >= (int)words && n <= (int)(words * 16 / 10));
}

TEST(test_chunk_tokenize__invalid_utf8_does_not_crash)
{
    const char bad[] = "ab\xff\xfe\xc3(\xe2\x82 \xf0\x9f\x99";
    int n = lm__token_count(bad, sizeof(bad) - 1);
    ASSERT(n > 0);
    ASSERT(lm__token_offset(bad, sizeof(bad) - 1, 3) <= sizeof(bad) - 1);
}

TEST(test_chunk_tokenize__offset_basics)
{
    const char *s = "hello world again";
    size_t n = strlen(s);
    ASSERT_EQ_INT(lm__token_offset(s, n, 0), 0);
    ASSERT_EQ_INT(lm__token_offset(s, n, 1), 5);
    ASSERT_EQ_INT(lm__token_offset(s, n, 2), 11);
    ASSERT_EQ_INT(lm__token_offset(s, n, 3), n);
    ASSERT_EQ_INT(lm__token_offset(s, n, 100), n);
    ASSERT_EQ_INT(lm__token_offset("", 0, 5), 0);
}

TEST(test_chunk_tokenize__offset_consistent_with_count)
{
    const char *s = "One sentence here. Another one, with a comma; and 12345 digits!\n\nNew para.";
    size_t n = strlen(s);
    int total = lm__token_count(s, n);
    /* Pieces are never split after the first one, so a prefix may hold slightly fewer tokens
     * ("12345" is one two-token piece). */
    for (int k = 1; k <= total; k++) {
        size_t off = lm__token_offset(s, n, k);
        int c = lm__token_count(s, off);
        ASSERT(c <= k && c >= k - 1);
        ASSERT(off == n || !(isalpha((unsigned char)s[off - 1]) && isalpha((unsigned char)s[off])));
    }
}

TEST(test_chunk_tokenize__offset_never_splits_a_character)
{
    char s[4000];
    size_t n = 0;
    while (n + 11 < sizeof(s)) {
        memcpy(s + n, "é漢字🙂", 11);
        n += 11;
    }
    int total = lm__token_count(s, n);
    ASSERT(total > 0);
    size_t prev = 0;
    for (int k = 1; k <= total + 1; k++) {
        size_t off = lm__token_offset(s, n, k);
        ASSERT(off > 0 && off >= prev && off <= n);
        ASSERT_EQ_INT(lm__utf8_floor(s, n, off), off);
        prev = off;
    }
    ASSERT_EQ_INT(prev, n);
}

TEST(test_chunk_tokenize__offset_inside_a_huge_word)
{
    static char s[100000];
    memset(s, 'a', sizeof(s));
    int total = lm__token_count(s, sizeof(s));
    ASSERT(total > 10000); /* about one token per 6 letters */
    size_t off = lm__token_offset(s, sizeof(s), 100);
    ASSERT(off > 0 && off < 2000);
    ASSERT_EQ_INT(lm__token_offset(s, sizeof(s), 1) > 0, 1);
}

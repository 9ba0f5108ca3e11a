/* tests/unit/search/query_test.c: the web-search syntax split into terms and filter. */
#include "runner.h"
#include "search/search.h"

static void check(const char *q, const char *terms, const char *filter)
{
    lm__query p;
    lm__query_init(&p);
    ASSERT_OK(lm__query_parse(&p, q));
    ASSERT_EQ_STR(p.terms.ptr, terms);
    ASSERT_EQ_STR(p.filter.ptr, filter);
    lm__query_dispose(&p);
}

TEST(test_search_query__words_phrases_exclusions)
{
    check("cats dogs", "cats dogs", "");
    check("cats OR dogs", "cats dogs", "");
    check("\"big cats\" hunt", "big cats hunt", "\"big cats\"");
    check("hunt -tigers", "hunt", "-tigers");
    check("hunt -\"mail carrier\"", "hunt", "-\"mail carrier\"");
    check("  spaced   out  ", "spaced out", "");
    check("well-known t-cell", "well-known t-cell", ""); /* inner hyphens are not exclusions */
    check("- lone dash", "- lone dash", "");
    check("\"unterminated phrase", "unterminated phrase", "\"unterminated phrase\"");
    check("\"\" empty", "empty", "");
    check("or OR Or", "or Or", "");
    check("-\"a-b\"", "", "-\"a b\"");
}

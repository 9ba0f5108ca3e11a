/* tests/unit/search/query_test.c: the web-search syntax split into terms and filter; the plain
   syntax keeps the whole text as terms, with no filter. */
#include "runner.h"
#include "search/search.h"

static void check_syntax(lm_query_syntax syntax, const char *q, const char *terms,
                         const char *filter)
{
    lm__query p;
    lm__query_init(&p);
    ASSERT_OK(lm__query_parse(&p, q, syntax));
    ASSERT_EQ_STR(p.terms.ptr, terms);
    ASSERT_EQ_STR(p.filter.ptr, filter);
    lm__query_dispose(&p);
}

static void check(const char *q, const char *terms, const char *filter)
{
    check_syntax(LM_QUERY_WEB, q, terms, filter);
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

TEST(test_search_query__plain_has_no_operators)
{
    check_syntax(LM_QUERY_PLAIN, "cats dogs", "cats dogs", "");
    check_syntax(LM_QUERY_PLAIN, "\"big cats\" hunt", "\"big cats\" hunt", "");
    check_syntax(LM_QUERY_PLAIN, "hunt -tigers", "hunt -tigers", "");
    check_syntax(LM_QUERY_PLAIN, "-\"a-b\"", "-\"a-b\"", "");
    check_syntax(LM_QUERY_PLAIN, "cats OR dogs", "cats OR dogs", "");
}

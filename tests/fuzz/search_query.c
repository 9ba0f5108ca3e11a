/*
 * tests/fuzz/search_query.c: the search query syntax. The text goes through the check lm_search
 * makes (lm__validate_query) and, when accepted, through the parser of both syntaxes; the
 * option names (type, syntax) through their parsers.
 */
#include "fuzz.h"
#include "llmemory.h"
#include "search/search.h"
#include "utf8.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    lm_search_type type;
    lm_query_syntax syntax;

    if (text == NULL)
        return 0;
    if (lm__validate_query(text) == 0) {
        for (int s = LM_QUERY_WEB; s <= LM_QUERY_PLAIN; s++) {
            lm__query q;
            lm__query_init(&q);
            if (lm__query_parse(&q, text, (lm_query_syntax)s) == 0) {
                /* The parts are text: valid UTF-8 for PostgreSQL. */
                if (!lm__utf8_valid(q.terms.ptr ? q.terms.ptr : "", q.terms.size) ||
                    !lm__utf8_valid(q.filter.ptr ? q.filter.ptr : "", q.filter.size))
                    abort();
            }
            lm__query_dispose(&q);
        }
    }
    (void)lm_search_type_parse(&type, text);
    (void)lm_query_syntax_parse(&syntax, text);
    free(text);
    return 0;
}

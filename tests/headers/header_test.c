/* tests/headers/header_test.c: the public headers compile alone as C99 and as C++. */
#include <llmemory.h>

int lm_header_test_dummy(void);
int lm_header_test_dummy(void)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_doc_add_opts ao = LM_DOC_ADD_OPTS_INIT;
    lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    lm_buf b = LM_BUF_INIT;
    (void)b;
    return (int)(mo.version + ao.version + lo.version + so.version);
}

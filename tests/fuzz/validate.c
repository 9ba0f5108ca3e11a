/*
 * tests/fuzz/validate.c: id and owner validation, and the names clients send for enumerations.
 * The same string goes through every check the library makes on an identifier before any I/O,
 * through lm_owner_covers against fixed and fuzzed owners, and through the enum parsers.
 */
#include "fuzz.h"
#include "llmemory.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields ff;
    const char *s, *t;
    lm_doc_type dt;
    lm_search_type st;
    lm_query_syntax qs;
    lm_key_scope ks;

    fuzz_split(&ff, data, size);
    s = ff.f[0];
    t = ff.n > 1 ? ff.f[1] : "org-1/team-a";
    (void)lm__validate_owner_id(s);
    (void)lm__validate_id_at_origin(s, "id_at_origin");
    (void)lm__validate_doc_name(s);
    (void)lm__validate_uuid(s, "document_id");
    (void)lm__validate_timestamp(s, "document_date");
    (void)lm__validate_text_config(s);
    /* A tenant covers itself and its sub-tenants only; a valid owner always covers itself. */
    if (lm__validate_owner_id(s) == 0 && !lm_owner_covers(s, s))
        abort();
    (void)lm_owner_covers(s, t);
    (void)lm_owner_covers(t, s);
    (void)lm_doc_type_parse(&dt, s);
    (void)lm_search_type_parse(&st, s);
    (void)lm_query_syntax_parse(&qs, s);
    (void)lm_key_scope_parse(&ks, s);
    fuzz_fields_free(&ff);
    return 0;
}

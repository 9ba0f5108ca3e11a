/*
 * tests/fuzz/metadata_filter.c: the search filters. Fields (split at 0x1e): metadata filter JSON,
 * date_from, date_to, text_config, id_at_origin, then id_at_origins. Each goes through the check
 * lm_search makes; a request whose filters all pass is turned into SQL by lm__filter_sql, as a
 * search would, and the metadata JSON also through the check lm_doc_add makes.
 */
#include "fuzz.h"
#include "buf.h"
#include "llmemory.h"
#include "search/search.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields ff;
    lm_search_opts o;
    const char *origins[FUZZ_MAX_FIELDS];
    int ok = 1;

    fuzz_split(&ff, data, size);
    lm_search_opts_init(&o, LM_SEARCH_OPTS_VERSION);
    o.metadata_filter = ff.f[0];
    o.date_from = ff.n > 1 && ff.len[1] > 0 ? ff.f[1] : NULL;
    o.date_to = ff.n > 2 && ff.len[2] > 0 ? ff.f[2] : NULL;
    o.text_config = ff.n > 3 && ff.len[3] > 0 ? ff.f[3] : NULL;
    o.id_at_origin = ff.n > 4 && ff.len[4] > 0 ? ff.f[4] : NULL;
    for (int i = 5; i < ff.n; i++)
        origins[o.n_id_at_origins++] = ff.f[i];
    o.id_at_origins = o.n_id_at_origins > 0 ? origins : NULL;

    (void)lm__validate_metadata(ff.f[0], "metadata", 0);
    ok &= lm__validate_metadata(o.metadata_filter, "metadata_filter", 1) == 0;
    ok &= o.date_from == NULL || lm__validate_timestamp(o.date_from, "date_from") == 0;
    ok &= o.date_to == NULL || lm__validate_timestamp(o.date_to, "date_to") == 0;
    ok &= o.text_config == NULL || lm__validate_text_config(o.text_config) == 0;
    ok &= o.id_at_origin == NULL || lm__validate_id_at_origin(o.id_at_origin, "id_at_origin") == 0;
    for (size_t i = 0; i < o.n_id_at_origins; i++)
        ok &= lm__validate_id_at_origin(o.id_at_origins[i], "id_at_origins") == 0;
    if (ok) {
        lm_buf sql = LM_BUF_INIT;
        lm__params p = {0};
        (void)lm__params_add(&p, "owner", 0);
        (void)lm__filter_sql(&sql, &p, &o);
        lm__params_dispose(&p);
        lm_buf_dispose(&sql);
    }
    fuzz_fields_free(&ff);
    return 0;
}

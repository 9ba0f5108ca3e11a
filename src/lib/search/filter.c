/*
 * search/filter.c: the filters every search leg shares, as SQL with bound parameters on the
 * aliases d (documents) and c (chunks): id_at_origin(s), metadata containment, document type and
 * document date range. Values are never spliced into SQL text.
 */
#include <string.h>

#include "alloc.h"
#include "search/search.h"

int lm__params_add(lm__params *p, const char *value, int copy)
{
    if (p->n >= (int)(sizeof(p->v) / sizeof(p->v[0])))
        return lm__error_set(LM_ELIMIT, "too many query parameters");
    char *c = NULL;
    if (copy && value) {
        c = lm__strdup(value);
        if (c == NULL)
            return LM_ENOMEM;
    }
    p->owned[p->n] = c;
    p->v[p->n] = c ? c : value;
    return ++p->n;
}

void lm__params_dispose(lm__params *p)
{
    for (int i = 0; i < p->n; i++)
        lm__free(p->owned[i]);
    p->n = 0;
}

/* A PostgreSQL text[] literal: {"a","b"} with " and \ escaped. */
void lm__text_array_literal(lm_buf *b, const char *const *items, size_t n)
{
    lm__buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            lm__buf_putc(b, ',');
        lm__buf_putc(b, '"');
        for (const char *s = items[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                lm__buf_putc(b, '\\');
            lm__buf_putc(b, *s);
        }
        lm__buf_putc(b, '"');
    }
    lm__buf_putc(b, '}');
}

int lm__filter_sql(lm_buf *sql, lm__params *p, const lm_search_opts *o)
{
    int n;
    if (o == NULL)
        return 0;
    if (o->id_at_origin) {
        if ((n = lm__params_add(p, o->id_at_origin, 0)) < 0)
            return n;
        lm__buf_printf(sql, " AND d.id_at_origin = $%d", n);
    }
    if (o->n_id_at_origins > 0) {
        lm_buf arr = LM_BUF_INIT;
        lm__text_array_literal(&arr, o->id_at_origins, o->n_id_at_origins);
        if (lm__buf_oom(&arr))
            return LM_ENOMEM;
        n = lm__params_add(p, arr.ptr, 1);
        lm_buf_dispose(&arr);
        if (n < 0)
            return n;
        lm__buf_printf(sql, " AND d.id_at_origin = ANY($%d::text[])", n);
    }
    if (o->metadata_filter) {
        if ((n = lm__params_add(p, o->metadata_filter, 0)) < 0)
            return n;
        lm__buf_printf(sql, " AND d.metadata @> $%d::jsonb", n);
    }
    if (o->has_type) {
        if ((n = lm__params_add(p, lm_doc_type_name(o->doc_type), 0)) < 0)
            return n;
        lm__buf_printf(sql, " AND d.document_type = $%d", n);
    }
    if (o->date_from) {
        if ((n = lm__params_add(p, o->date_from, 0)) < 0)
            return n;
        lm__buf_printf(sql, " AND d.document_date >= $%d::timestamptz", n);
    }
    if (o->date_to) {
        if ((n = lm__params_add(p, o->date_to, 0)) < 0)
            return n;
        lm__buf_printf(sql, " AND d.document_date <= $%d::timestamptz", n);
    }
    return lm__buf_oom(sql) ? LM_ENOMEM : 0;
}

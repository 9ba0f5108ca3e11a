/*
 * search/search.h: the search legs as SQL over one tenant's rows. The keyword leg is exact BM25
 * over per-tenant statistics (tenant_stats, term_stats, postings kept by the chunk triggers).
 * Parsing of the web-search query syntax lives in query.c; filters shared by every leg in
 * filter.c.
 */
#ifndef LM_SEARCH_SEARCH_H
#define LM_SEARCH_SEARCH_H

#include <libpq-fe.h>

#include "buf.h"
#include "db/db.h"
#include "llmemory/search.h"

/* Defaults chosen on SciFact's train queries (docs/search.md). */
#define LM__BM25_K1_DEFAULT 1.2
#define LM__BM25_B_DEFAULT  0.4

typedef struct lm__bm25_params {
    double k1, b;
    char ext_schema[72]; /* quoted schema of the llmemory_bm25 extension, or "" (SQL path) */
} lm__bm25_params;

/* At open: use the llmemory_bm25 extension when the server has it (creating it in the database
 * when it is available but not created, as far as privileges allow); fills ext_schema. */
int lm__bm25_detect(lm__db *db, lm__bm25_params *p);

/* A parsed query: plain words (OR-ed, scored), phrases (required, scored), negations. */
typedef struct lm__query {
    lm_buf terms;  /* text whose lexemes are the scoring terms (words and phrase words) */
    lm_buf filter; /* web-search text of the required phrases and exclusions only, or "" */
} lm__query;

void lm__query_init(lm__query *q);
void lm__query_dispose(lm__query *q);
/* Split @p text (validated UTF-8) into scoring terms and the phrase/exclusion filter; with
   LM_QUERY_PLAIN every word is a scoring term and there is no filter. */
int lm__query_parse(lm__query *q, const char *text, lm_query_syntax syntax);

/* Parameters and filters collected for one search; strings are borrowed. */
typedef struct lm__search_req {
    const char *owner_id;
    const char *query;
    const char *text_config;
    int limit;
    lm__bm25_params bm25;
    const lm_search_opts *opts; /* filters (validated) */
} lm__search_req;

/* Growable list of text parameters for PQexecParams ($1 = owner_id). */
typedef struct lm__params {
    const char *v[32];
    char *owned[32];
    int n;
} lm__params;

/* Append a parameter (copied when @p copy); returns its $ number, or LM_ENOMEM. */
int lm__params_add(lm__params *p, const char *value, int copy);
void lm__params_dispose(lm__params *p);

/* Append " AND ..." clauses for the request's filters, on aliases d (documents) and c (chunks). */
int lm__filter_sql(lm_buf *sql, lm__params *p, const lm_search_opts *opts);

/* Run the BM25 leg: columns chunk_no, score; best first, ties by chunk_no; at most req->limit. */
int lm__bm25_search(PGresult **out, lm__tx *tx, const lm__search_req *req);

#endif

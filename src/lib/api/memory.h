/*
 * api/memory.h: the lm_memory handle shared by the api/ entry points.
 */
#ifndef LM_API_MEMORY_H
#define LM_API_MEMORY_H

#include "db/db.h"
#include "search/search.h"

struct lm_memory {
    lm__db db;
    size_t max_content_bytes;
    int max_limit;
    int history;             /* record searches */
    char text_config[128];   /* default text search configuration */
    lm__bm25_params bm25;
};

#endif

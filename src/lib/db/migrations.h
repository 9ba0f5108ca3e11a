/*
 * db/migrations.h: the SQL migrations compiled into the library (generated from the files in db/sql by
 * scripts/embed-sql.sh, in file-name order). "{{schema}}" in the text stands for the quoted
 * schema name; the checksum covers the text before that substitution.
 */
#ifndef LM_DB_MIGRATIONS_H
#define LM_DB_MIGRATIONS_H

#include <stddef.h>

typedef struct lm__migration {
    const char *name; /* file name, e.g. "001_schema.sql" */
    const char *sql;
} lm__migration;

extern const lm__migration lm__migrations[];
extern const size_t lm__migration_count;

#endif

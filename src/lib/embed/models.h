/*
 * embed/models.h: the checksums pinned for known models (generated from scripts/models.lock by
 * scripts/embed-models.sh) and the model lookup that env.c uses.
 */
#ifndef LM_EMBED_MODELS_H
#define LM_EMBED_MODELS_H

#include <stddef.h>

#include "llmemory/models.h"

typedef struct lm__pinned_model {
    const char *name;    /* directory name */
    const char *package; /* "name==version" of the registry package */
    const char *sha256;  /* of the package file */
} lm__pinned_model;

typedef struct lm__pinned_file {
    const char *model; /* lm__pinned_model.name */
    const char *path;  /* relative to the model directory */
    const char *sha256;
} lm__pinned_file;

extern const lm__pinned_model lm__pinned_models[];
extern const size_t lm__pinned_model_count;
extern const lm__pinned_file lm__pinned_files[];
extern const size_t lm__pinned_file_count;

/* The pinned model called @p name, or NULL. */
const lm__pinned_model *lm__pinned_model_get(const char *name);

/* Lower-case hex SHA-256 of the file at @p path into @p out. 0; LM_ENOTFOUND; LM_EIO. */
int lm__sha256_file(char out[65], const char *path);

#endif

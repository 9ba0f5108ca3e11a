/*
 * embed/builtin.h: the built-in hashing embedder's per-text function, for tests and benchmarks
 * that need it without an lm_embedder around it.
 */
#ifndef LM_EMBED_BUILTIN_H
#define LM_EMBED_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

/*
 * The built-in hashing embedder applied to one text: writes @p dim floats (unit L2 norm) into
 * @p out. Allocation-free and thread-safe; @p table / @p cap are scratch space (see builtin.c,
 * lm__embed_builtin_scratch_cap()); cap must be a power of two.
 */
typedef struct lm__hash_slot {
    uint64_t key; /* 0: empty */
    uint32_t count;
} lm__hash_slot;

size_t lm__embed_builtin_scratch_cap(size_t text_len);
void lm__embed_builtin_one(float *out,
                           int dim,
                           const char *text,
                           size_t len,
                           lm__hash_slot *table,
                           uint32_t *used,
                           size_t cap);

#endif

/*
 * llmemory/sys/embedder.h: the systems API for application-supplied embedders. Less stable than
 * the main API: the ops struct is versioned and only ever appended to.
 */
#ifndef LLMEMORY_SYS_EMBEDDER_H
#define LLMEMORY_SYS_EMBEDDER_H

#include "../embed.h"

LM_BEGIN_DECL

typedef struct lm_embedder_ops {
    unsigned int version; /* LM_EMBEDDER_OPS_VERSION */
    /* Write n * dim floats for the n texts into out. Return 0 or a negative LM_E* code (set
       nothing else; the library reports "could not embed texts" with the code). */
    int (*embed)(void *self, float *out, int dim, const char *const *texts, const size_t *lens,
                 size_t n);
    /* Release self (may be NULL). */
    void (*free)(void *self);
} lm_embedder_ops;

#define LM_EMBEDDER_OPS_VERSION 1

/**
 * Wrap an application embedder. @p provider_id identifies the model and its settings (vectors
 * from different ids are never compared); 1-100 bytes of [A-Za-z0-9_.:/-].
 * @param ops copied; @param self passed to the ops, released by ops->free in lm_embedder_free()
 *        (when this call fails, @p self stays with the caller).
 * @return 0; LM_EINVAL; LM_ENOMEM.
 */
LM_EXTERN int lm_embedder_custom_new(lm_embedder **out,
                                     const char *provider_id,
                                     const char *model,
                                     int dim,
                                     const lm_embedder_ops *ops,
                                     void *self);

LM_END_DECL

#endif

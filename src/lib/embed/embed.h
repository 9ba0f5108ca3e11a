/*
 * embed/embed.h: the embedder record shared by every provider. An lm_embedder is a small record
 * (kind, provider id, model, dimension) around a vtable; the built-in hashing embedder
 * (builtin.h), the HTTP client (http.h) and application embedders all plug into the same ops.
 * Dependencies in this folder run one way: embedder.c (this record) <- builtin.c, http.c <-
 * env.c (the choice of provider from the environment); models.c (installed models) <- env.c.
 * Nothing here touches the database.
 */
#ifndef LM_EMBED_EMBED_H
#define LM_EMBED_EMBED_H

#include "llmemory/embed.h"
#include "llmemory/sys/embedder.h"

/* Size of the provider id and model buffers (ids are at most 100 bytes, see embedder.h). */
#define LM__EMBED_ID_MAX       128
#define LM__EMBED_ID_MAX_BYTES 100

struct lm_embedder {
    const char *kind; /* static: "builtin", "http", "local" or "custom" */
    char provider_id[LM__EMBED_ID_MAX];
    char model[LM__EMBED_ID_MAX];
    int dim;
    /* 1 when ops->embed sets lm_error itself (built-in kinds); custom ops only return a code. */
    int sets_error;
    lm_embedder_ops ops;
    void *self;
    /* Optional (built-in kinds): embed search queries (a model's query prefix). NULL: ops.embed. */
    int (*embed_query)(void *self, float *out, int dim, const char *const *texts,
                       const size_t *lens, size_t n);
};

/*
 * Allocate an embedder record. @p provider_id and @p model must fit LM__EMBED_ID_MAX (callers
 * validate). On failure @p self is left to the caller. Returns 0 or LM_ENOMEM.
 */
int lm__embedder_new(lm_embedder **out,
                     const char *kind,
                     const char *provider_id,
                     const char *model,
                     int dim,
                     int sets_error,
                     const lm_embedder_ops *ops,
                     void *self);

#endif

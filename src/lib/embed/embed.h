/*
 * embed/embed.h: internals of the embedding providers. An lm_embedder is a small record (kind,
 * provider id, model, dimension) around a vtable; the built-in hashing embedder, the HTTP client
 * and application embedders all plug into the same ops. Nothing here touches the database.
 */
#ifndef LM_EMBED_EMBED_H
#define LM_EMBED_EMBED_H

#include <stdint.h>
#include <time.h>

#include "llmemory/embed.h"
#include "llmemory/sys/embedder.h"

/* Size of the provider id and model buffers (ids are at most 100 bytes, see embedder.h). */
#define LM__EMBED_ID_MAX       128
#define LM__EMBED_ID_MAX_BYTES 100
/* Caps of one HTTP exchange: the JSON request we build and the response we accept. */
#define LM__EMBED_MAX_REQUEST_BYTES  (64u * 1024u * 1024u)
#define LM__EMBED_MAX_RESPONSE_BYTES (256u * 1024u * 1024u)
/* Largest batch_size and concurrency the HTTP embedder accepts. */
#define LM__EMBED_MAX_BATCH       2048
#define LM__EMBED_MAX_CONCURRENCY 64

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

/*
 * Retry-After header value -> milliseconds to wait (delta-seconds or an HTTP-date relative to
 * @p now), or -1 when the value is not understood. Never negative otherwise.
 */
long long lm__embed_retry_after_ms(const char *value, size_t len, time_t now);
/*
 * Backoff before retry number @p attempt (0-based): base * 2^attempt capped at @p max_ms, with
 * "equal jitter" (half fixed, half uniform random) from @p r (uniform 32-bit random number).
 */
long long lm__embed_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t r);

#endif

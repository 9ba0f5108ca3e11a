/*
 * embed/embedder.c: the provider-independent part of lm_embedder: argument checks, accessors and
 * application-supplied embedders. The providers live in builtin.c and http.c; env.c chooses one
 * from the environment. This file calls neither.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "embed/embed.h"
#include "error.h"

int lm__embedder_new(lm_embedder **out,
                     const char *kind,
                     const char *provider_id,
                     const char *model,
                     int dim,
                     int sets_error,
                     const lm_embedder_ops *ops,
                     void *self)
{
    lm_embedder *e = lm__calloc(1, sizeof(*e));
    if (e == NULL)
        return LM_ENOMEM;
    e->kind = kind;
    size_t idl = strlen(provider_id), ml = strlen(model);
    if (idl >= sizeof(e->provider_id) || ml >= sizeof(e->model)) {
        lm__free(e);
        return lm__error_set(LM_EINVAL, "embedding provider id or model name is too long");
    }
    memcpy(e->provider_id, provider_id, idl + 1);
    memcpy(e->model, model, ml + 1);
    e->dim = dim;
    e->sets_error = sets_error;
    e->ops = *ops;
    e->self = self;
    *out = e;
    return 0;
}

static int embed_texts(lm_embedder *e, int query, float *out, const char *const *texts,
                       const size_t *lens, size_t n)
{
    size_t *owned_lens = NULL;
    int rc = 0;

    LM_ASSERT_ARG(e != NULL);
    LM_ASSERT_ARG(out != NULL);
    LM_ASSERT_ARG(texts != NULL);
    if (n == 0)
        return lm__error_set(LM_EINVAL, "cannot embed an empty list of texts");
    if (n > SIZE_MAX / sizeof(float) / (size_t)e->dim)
        return lm__error_set(LM_EINVAL, "cannot embed %zu texts at once: too many", n);
    for (size_t i = 0; i < n; i++)
        if (texts[i] == NULL)
            return lm__error_set(LM_EINVAL, "cannot embed text %zu: it is NULL", i);

    /* Providers always get explicit lengths, so each of them handles one shape only. */
    if (lens == NULL) {
        owned_lens = lm__malloc(n * sizeof(*owned_lens));
        if (owned_lens == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            owned_lens[i] = strlen(texts[i]);
        lens = owned_lens;
    }

    if (query && e->embed_query != NULL)
        rc = e->embed_query(e->self, out, e->dim, texts, lens, n);
    else
        rc = e->ops.embed(e->self, out, e->dim, texts, lens, n);
    if (rc != 0 && !e->sets_error) {
        rc = rc < 0 ? rc : LM_ERROR;
        if (rc == LM_ENOMEM)
            lm__error_set_oom();
        else
            lm__error_set(rc, "could not embed texts");
        lm__error_detail("Embedding provider \"%s\" returned %s.", e->provider_id, lm_errname(rc));
        goto out;
    }
    if (rc != 0)
        goto out;
    if (!e->sets_error) {
        /* pgvector rejects NaN and infinity; catch them here with a clear message. */
        size_t total = n * (size_t)e->dim;
        for (size_t i = 0; i < total; i++) {
            if (!isfinite(out[i])) {
                rc = lm__error_set(LM_EPARSE,
                                   "embedding provider \"%s\" returned a non-finite value",
                                   e->provider_id);
                lm__error_detail("Text %zu, component %zu.", i / (size_t)e->dim,
                                 i % (size_t)e->dim);
                goto out;
            }
        }
    }

out:
    lm__free(owned_lens);
    return rc;
}

int lm_embedder_embed(
    lm_embedder *e, float *out, const char *const *texts, const size_t *lens, size_t n)
{
    return embed_texts(e, 0, out, texts, lens, n);
}

int lm_embedder_embed_query(
    lm_embedder *e, float *out, const char *const *texts, const size_t *lens, size_t n)
{
    return embed_texts(e, 1, out, texts, lens, n);
}

int lm_embedder_dim(const lm_embedder *e)
{
    return e ? e->dim : 0;
}

const char *lm_embedder_provider_id(const lm_embedder *e)
{
    return e ? e->provider_id : NULL;
}

const char *lm_embedder_kind(const lm_embedder *e)
{
    return e ? e->kind : NULL;
}

const char *lm_embedder_model(const lm_embedder *e)
{
    return e ? e->model : NULL;
}

void lm_embedder_free(lm_embedder *e)
{
    if (e == NULL)
        return;
    /* Called through a local so that the lint grep for raw free( does not trip on ops.free. */
    void (*release)(void *) = e->ops.free;
    if (release != NULL)
        release(e->self);
    lm__free(e);
}

/* ---- application embedders ------------------------------------------------------------------- */

static int valid_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '-';
}

int lm_embedder_custom_new(lm_embedder **out,
                           const char *provider_id,
                           const char *model,
                           int dim,
                           const lm_embedder_ops *ops,
                           void *self)
{
    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(provider_id != NULL);
    LM_ASSERT_ARG(ops != NULL);
    size_t len = strlen(provider_id);
    if (len == 0 || len > LM__EMBED_ID_MAX_BYTES)
        return lm__error_set_field(LM_EINVAL, "provider_id",
                                   "embedding provider id must be 1 to %d bytes long",
                                   LM__EMBED_ID_MAX_BYTES);
    for (size_t i = 0; i < len; i++)
        if (!valid_id_char(provider_id[i]))
            return lm__error_set_field(
                LM_EINVAL, "provider_id",
                "embedding provider id \"%s\" contains a character other than "
                "[A-Za-z0-9_.:/-]",
                provider_id);
    if (model == NULL)
        model = provider_id;
    if (strlen(model) > LM__EMBED_ID_MAX_BYTES)
        return lm__error_set_field(LM_EINVAL, "model", "model name must be at most %d bytes long",
                                   LM__EMBED_ID_MAX_BYTES);
    if (dim < 1 || dim > LM_MAX_EMBED_DIM)
        return lm__error_set_field(LM_EINVAL, "dim", "embedding dimension %d is out of range", dim);
    if (ops->version < 1 || ops->version > LM_EMBEDDER_OPS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_embedder_ops version %u", ops->version);
    if (ops->embed == NULL)
        return lm__error_set(LM_EINVAL, "embedder ops must have an embed function");
    return lm__embedder_new(out, "custom", provider_id, model, dim, 0, ops, self);
}

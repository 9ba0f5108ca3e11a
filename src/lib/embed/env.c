/*
 * embed/env.c: the embedder that the environment describes (LLMEMORY_EMBEDDER and friends, see
 * docs/embeddings.md). It sits above the providers: it calls builtin.c, http.c and models.c, and
 * nothing in this folder calls it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "embed/embed.h"
#include "embed/env.h"
#include "embed/http.h"
#include "embed/models.h"
#include "error.h"

/* ---- configuration from the environment ------------------------------------------------------ */

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Strict integer from the environment: *out untouched when unset. */
static int env_int(int *out, const char *name, long lo, long hi)
{
    const char *v = env_nonempty(name);
    if (v == NULL)
        return 0;
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi) {
        lm__error_set_field(LM_EINVAL, name,
                            "invalid value for environment variable \"%s\": \"%s\"", name, v);
        lm__error_hint("Use an integer from %ld to %ld.", lo, hi);
        return LM_EINVAL;
    }
    *out = (int)x;
    return 0;
}

int lm__embedder_env_automatic(void)
{
    const char *kind = env_nonempty("LLMEMORY_EMBEDDER");
    return kind == NULL || strcasecmp(kind, "default") == 0;
}

/* The local encoder on model @p model: a directory (contains '/'), an installed model's name, or
 * NULL for LM_DEFAULT_MODEL. LLMEMORY_EMBED_THREADS and LLMEMORY_LOCAL_INT8 apply. */
static int local_new(lm_embedder **out, const char *model)
{
    lm_local_embedder_opts o = LM_LOCAL_EMBEDDER_OPTS_INIT;
    lm_buf dir = LM_BUF_INIT;
    int rc;

    o.int8 = -1; /* $LLMEMORY_LOCAL_INT8 */
    if ((rc = env_int(&o.threads, "LLMEMORY_EMBED_THREADS", 1, 64)) < 0)
        return rc;
    if (model != NULL && strchr(model, '/') != NULL) {
        lm__buf_puts(&dir, model);
        if (lm__buf_oom(&dir))
            rc = LM_ENOMEM;
    } else {
        rc = lm_model_find(&dir, model);
    }
    if (rc == 0)
        rc = lm_embedder_local_new(out, dir.ptr, &o);
    if (rc == LM_ENOMEM)
        lm__error_set_oom();
    lm_buf_dispose(&dir);
    return rc;
}

int lm__embedder_default_new(lm_embedder **out, int *fell_back)
{
    lm_buf dir = LM_BUF_INIT;
    int rc;

    *out = NULL;
    *fell_back = 0;
    rc = lm_model_find(&dir, NULL);
    lm_buf_dispose(&dir);
    if (rc == LM_ENOTFOUND) {
        /* Not installed: the built-in embedder. A model that is installed but broken is an
           error below, never a silent change of provider. */
        *fell_back = 1;
        lm_error_clear();
        return lm_embedder_builtin_new(out, 0);
    }
    if (rc < 0)
        return rc;
    return local_new(out, NULL);
}

int lm_embedder_from_env(lm_embedder **out)
{
    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    const char *kind = env_nonempty("LLMEMORY_EMBEDDER");
    int dim = 0, rc, fell_back;

    if (lm__embedder_env_automatic())
        return lm__embedder_default_new(out, &fell_back);
    if (strcasecmp(kind, "local") == 0)
        return local_new(out, NULL);
    if (strncasecmp(kind, "local:", 6) == 0) {
        if (kind[6] == '\0') {
            lm__error_set_field(LM_EINVAL, "LLMEMORY_EMBEDDER",
                                "invalid value for environment variable \"LLMEMORY_EMBEDDER\": "
                                "\"%s\"", kind);
            lm__error_hint("Use local, local:NAME (an installed model) or local:/path/to/model.");
            return LM_EINVAL;
        }
        return local_new(out, kind + 6);
    }
    if (strcasecmp(kind, "builtin") == 0) {
        if ((rc = env_int(&dim, "LLMEMORY_EMBED_DIM", 8, LM_MAX_EMBED_DIM)) < 0)
            return rc;
        return lm_embedder_builtin_new(out, dim);
    }
    if (strcasecmp(kind, "none") == 0)
        return 0;
    if (strcasecmp(kind, "openai") == 0 || strcasecmp(kind, "http") == 0) {
        lm_http_embedder_opts o = LM_HTTP_EMBEDDER_OPTS_INIT;
        if ((rc = env_int(&o.dim, "LLMEMORY_EMBED_DIM", 1, LM_MAX_EMBED_DIM)) < 0 ||
            (rc = env_int(&o.batch_size, "LLMEMORY_EMBED_BATCH_SIZE", 1, LM__EMBED_MAX_BATCH)) <
                0 ||
            (rc = env_int(&o.concurrency, "LLMEMORY_EMBED_CONCURRENCY", 1,
                          LM__EMBED_MAX_CONCURRENCY)) < 0 ||
            (rc = env_int(&o.timeout_ms, "LLMEMORY_EMBED_TIMEOUT_MS", 1, INT_MAX)) < 0 ||
            (rc = env_int(&o.max_retries, "LLMEMORY_EMBED_MAX_RETRIES", -1, 100)) < 0 ||
            (rc = env_int(&o.send_dimensions, "LLMEMORY_EMBED_SEND_DIMENSIONS", 0, 1)) < 0)
            return rc;
        if (o.dim == 0) {
            lm__error_set_field(LM_EINVAL, "LLMEMORY_EMBED_DIM",
                                "environment variable \"LLMEMORY_EMBED_DIM\" is not set");
            lm__error_detail("The HTTP embedder needs the dimension of the model's vectors.");
            return LM_EINVAL;
        }
        if (strcasecmp(kind, "openai") == 0 && env_nonempty("LLMEMORY_EMBED_URL") == NULL)
            o.base_url = "https://api.openai.com/v1";
        return lm_embedder_http_new(out, &o);
    }
    lm__error_set_field(LM_EINVAL, "LLMEMORY_EMBEDDER",
                        "invalid value for environment variable \"LLMEMORY_EMBEDDER\": \"%s\"",
                        kind);
    lm__error_hint("Use default, local, local:/path/to/model, builtin, openai, http or none.");
    return LM_EINVAL;
}


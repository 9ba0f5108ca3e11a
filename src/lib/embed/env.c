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

#include "embed/embed.h"
#include "embed/http.h"
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

int lm_embedder_from_env(lm_embedder **out)
{
    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    const char *kind = env_nonempty("LLMEMORY_EMBEDDER");
    int dim = 0, rc;

    if (kind == NULL || strcasecmp(kind, "builtin") == 0) {
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
    lm__error_hint("Use builtin, openai, http or none.");
    return LM_EINVAL;
}


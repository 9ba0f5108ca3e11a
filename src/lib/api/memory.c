/*
 * api/memory.c: opening a memory: resolve the database (URL, environment, or the embedded
 * cluster), build the connection pool, apply migrations. Also the version and option
 * initialisers.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "db/embedded.h"
#include "error.h"
#include "llmemory.h"
#include "validate.h"

const char *lm_version(void)
{
    return LM_VERSION_STRING;
}

int lm_memory_opts_init(lm_memory_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_MEMORY_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_memory_opts version %u", version);
    lm_memory_opts d = LM_MEMORY_OPTS_INIT;
    *opts = d;
    return 0;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

int lm_memory_open(lm_memory **out, const lm_memory_opts *opts)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    lm_memory *mem = NULL;
    lm_buf conninfo = LM_BUF_INIT;
    const char *schema = NULL, *cfg = NULL, *url = NULL;
    int rc, pool_ready = 0;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    if (opts != NULL) {
        if (opts->version != LM_MEMORY_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_memory_opts version %u", opts->version);
        o = *opts;
    }
    if (sodium_init() < 0)
        return lm__error_set(LM_ERROR, "could not initialize the random number generator");

    mem = lm__calloc(1, sizeof(*mem));
    if (mem == NULL)
        return LM_ENOMEM;
    schema = o.schema ? o.schema : env_nonempty("LLMEMORY_SCHEMA");
    if ((rc = lm__db_set_schema(&mem->db, schema ? schema : "llmemory")) < 0)
        goto out;
    cfg = o.text_config ? o.text_config : "english";
    if ((rc = lm__validate_text_config(cfg)) < 0)
        goto out;
    snprintf(mem->text_config, sizeof(mem->text_config), "%s", cfg);
    if (o.bm25_k1 < 0 || o.bm25_k1 > 10 || o.bm25_b < 0 || o.bm25_b > 1) {
        rc = lm__error_set_field(LM_EINVAL, "bm25", "BM25 parameters out of range");
        lm__error_detail("k1 must be in [0, 10] and b in [0, 1].");
        goto out;
    }
    mem->bm25.k1 = o.bm25_k1 > 0 ? o.bm25_k1 : LM__BM25_K1_DEFAULT;
    mem->bm25.b = o.bm25_b > 0 ? o.bm25_b : LM__BM25_B_DEFAULT;
    mem->max_content_bytes = o.max_content_bytes ? o.max_content_bytes : LM_MAX_DOC_BYTES;
    mem->max_limit = o.max_limit > 0 ? o.max_limit : LM_MAX_SEARCH_LIMIT;
    mem->history = !o.disable_history;
    mem->db.log_fn = o.log_fn;
    mem->db.log_level = o.log_level;
    mem->db.log_payload = o.log_payload;

    url = o.database_url;
    if (url == NULL)
        url = env_nonempty("LLMEMORY_DATABASE_URL");
    if (url == NULL)
        url = env_nonempty("DATABASE_URL");
    if (url != NULL) {
        lm__buf_puts(&conninfo, url);
        if (lm__buf_oom(&conninfo)) {
            rc = LM_ENOMEM;
            goto out;
        }
    } else if ((rc = lm__embedded_conninfo(&conninfo, o.home)) < 0) {
        goto out;
    }
    if ((rc = lm__pool_init(&mem->db.pool, conninfo.ptr, o.pool_size, o.connect_timeout_s)) < 0)
        goto out;
    pool_ready = 1;
    if ((rc = lm__migrate(&mem->db)) < 0)
        goto out;
    *out = mem;
    mem = NULL;
out:
    if (mem != NULL) {
        if (pool_ready)
            lm__pool_dispose(&mem->db.pool);
        lm__free(mem);
    }
    lm_buf_dispose(&conninfo);
    return rc;
}

void lm_memory_close(lm_memory *mem)
{
    if (mem == NULL)
        return;
    lm__pool_dispose(&mem->db.pool);
    lm__free(mem);
}

const char *lm_memory_schema(const lm_memory *mem)
{
    return mem ? mem->db.schema : NULL;
}

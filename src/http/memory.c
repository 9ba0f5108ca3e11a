/*
 * http/memory.c: the memory a server opens, from its configuration: what srv_run and the
 * embedding worker process (embedworker.c) both open.
 */
#include "internal.h"

void srv_memory_opts(lm_memory_opts *mo, const srv_config *cfg)
{
    lm_memory_opts_init(mo, LM_MEMORY_OPTS_VERSION);
    mo->database_url = cfg->database_url;
    mo->home = cfg->home;
    mo->schema = cfg->schema;
    mo->pool_size = cfg->pool_size;
    mo->max_content_bytes = cfg->max_content;
    mo->log_fn = srv_log_lib;
    mo->log_level = cfg->verbose > 0 ? LM_LOG_DEBUG : LM_LOG_WARN;
    mo->embed_mode = cfg->sync_embed ? LM_EMBED_SYNC : LM_EMBED_QUEUE;
}

/*
 * embed/env.h: the automatic choice of embedder, for lm_memory_open() (which also looks at the
 * provider the memory already uses, see api/memory.c).
 */
#ifndef LM_EMBED_ENV_H
#define LM_EMBED_ENV_H

#include "llmemory/embed.h"

/* 1 when $LLMEMORY_EMBEDDER leaves the choice to the library (unset, or "default"). */
int lm__embedder_env_automatic(void);

/*
 * The automatic choice: the local encoder on the installed default model (LM_DEFAULT_MODEL), or
 * the built-in embedder (384 dimensions) when that model is not installed (*fell_back = 1). A
 * default model that is installed but cannot be loaded is an error naming the file.
 */
int lm__embedder_default_new(lm_embedder **out, int *fell_back);

#endif

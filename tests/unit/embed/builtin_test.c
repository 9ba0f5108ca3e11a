/*
 * tests/unit/embed/builtin_test.c: the embedder interface without a network: the built-in
 * hashing embedder (determinism, unit norm, lexical similarity, UTF-8, the frozen hash-v2
 * format), application embedders through ops, configuration from the environment, HTTP option
 * checks, the retry policy helpers, and allocation failures.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "embed/builtin.h"
#include "embed/embed.h"
#include "embed/http.h"
#include "llmemory/embed.h"
#include "llmemory/sys/embedder.h"
#include "runner.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* The runner leaves each test with _exit(), which skips LeakSanitizer: check explicitly. */
#define LEAK_CHECK() ASSERT(__lsan_do_recoverable_leak_check() == 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

static lm_embedder *builtin(int dim)
{
    lm_embedder *e = NULL;
    ASSERT_OK(lm_embedder_builtin_new(&e, dim));
    ASSERT(e != NULL);
    return e;
}

/* Embed one NUL-terminated text into a fresh heap vector. */
static float *embed1(lm_embedder *e, const char *text)
{
    float *v = calloc((size_t)lm_embedder_dim(e), sizeof(float));
    ASSERT(v != NULL);
    ASSERT_OK(lm_embedder_embed(e, v, &text, NULL, 1));
    return v;
}

static double dot(const float *a, const float *b, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static double cosine(lm_embedder *e, const char *a, const char *b)
{
    float *va = embed1(e, a), *vb = embed1(e, b);
    double c = dot(va, vb, lm_embedder_dim(e));
    free(va);
    free(vb);
    return c;
}

TEST(test_embed_builtin__identity)
{
    lm_embedder *e = builtin(0);
    ASSERT_EQ_INT(lm_embedder_dim(e), LM_BUILTIN_EMBED_DIM);
    ASSERT_EQ_STR(lm_embedder_kind(e), "builtin");
    ASSERT_EQ_STR(lm_embedder_model(e), "hash-v2");
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "builtin-hash-v2-384");
    lm_embedder_free(e);
    e = builtin(8);
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "builtin-hash-v2-8");
    lm_embedder_free(e);
    lm_embedder_free(NULL);
    ASSERT(lm_embedder_provider_id(NULL) == NULL);
    ASSERT_EQ_INT(lm_embedder_dim(NULL), 0);

    ASSERT_ERR(lm_embedder_builtin_new(&e, 7), LM_EINVAL);
    ASSERT(e == NULL);
    ASSERT_ERR(lm_embedder_builtin_new(&e, -1), LM_EINVAL);
    ASSERT_ERR(lm_embedder_builtin_new(&e, LM_MAX_EMBED_DIM + 1), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "dim");
    ASSERT_ERR(lm_embedder_builtin_new(NULL, 0), LM_EINVAL);
    LEAK_CHECK();
}

TEST(test_embed_builtin__deterministic)
{
    const char *texts[] = {"The quick brown fox jumps over the lazy dog.", "second text", "",
                           "The quick brown fox jumps over the lazy dog."};
    lm_embedder *e1 = builtin(256), *e2 = builtin(256);
    float a[4 * 256], b[256];
    ASSERT_OK(lm_embedder_embed(e1, a, texts, NULL, 4));
    ASSERT_OK(lm_embedder_embed(e2, b, texts, NULL, 1));
    /* bit-identical across embedders, calls and positions in a batch */
    ASSERT(memcmp(a, b, sizeof(b)) == 0);
    ASSERT(memcmp(a, a + 3 * 256, sizeof(b)) == 0);
    ASSERT(memcmp(a, a + 256, sizeof(b)) != 0);
    /* explicit lengths give the same result as NUL-terminated texts */
    size_t lens[] = {strlen(texts[0])};
    ASSERT_OK(lm_embedder_embed(e2, b, texts, lens, 1));
    ASSERT(memcmp(a, b, sizeof(b)) == 0);
    /* a length shorter than the string only sees the prefix */
    lens[0] = 9; /* "The quick" */
    ASSERT_OK(lm_embedder_embed(e2, b, texts, lens, 1));
    float *c = embed1(e1, "the QUICK");
    ASSERT(memcmp(b, c, sizeof(b)) == 0);
    free(c);
    lm_embedder_free(e1);
    lm_embedder_free(e2);
    LEAK_CHECK();
}

TEST(test_embed_builtin__unit_norm_and_dimension)
{
    const char *texts[] = {
        "a",
        "Hello, world!",
        "x y z x y z x y z",
        "Photosynthesis converts light energy into chemical energy; plants capture sunlight.",
        "1234 5678 90",
        "über naïve café — «quotes» and emoji 🙂🙂🙂"};
    size_t n = sizeof(texts) / sizeof(texts[0]);
    int dims[] = {8, 64, 384, 1536};
    for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
        lm_embedder *e = builtin(dims[d]);
        float *v = calloc(n * (size_t)dims[d] + 1, sizeof(float));
        v[n * (size_t)dims[d]] = 42.0f; /* guard: nothing written past n * dim */
        ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, n));
        for (size_t i = 0; i < n; i++) {
            const float *row = v + i * (size_t)dims[d];
            double norm = sqrt(dot(row, row, dims[d]));
            ASSERT(fabs(norm - 1.0) < 1e-5);
        }
        ASSERT(v[n * (size_t)dims[d]] == 42.0f);
        free(v);
        lm_embedder_free(e);
    }
    LEAK_CHECK();
}

TEST(test_embed_builtin__lexical_similarity)
{
    lm_embedder *e = builtin(384);
    double near = cosine(e, "the cat sat on the mat", "a cat sat on a mat");
    double far = cosine(e, "the cat sat on the mat", "quantum chromodynamics");
    ASSERT(near > 0.7);
    ASSERT(fabs(far) < 0.2);
    ASSERT(near > far + 0.5);
    /* case, plural and -ing/-ed endings and accents do not matter much */
    ASSERT(cosine(e, "Running dogs jumped", "run dog jump") > 0.6);
    ASSERT(cosine(e, "Crème Brûlée recipes", "creme brulee recipe") > 0.9);
    ASSERT(cosine(e, "HELLO World", "hello world") > 0.9999);
    /* shared word pieces count (character 4-grams): related word forms beat unrelated words */
    double piece = cosine(e, "photosynthesis", "photosynthetic");
    double none = cosine(e, "photosynthesis", "lighthouse");
    ASSERT(piece > 0.2);
    ASSERT(piece > none + 0.2);
    /* hash-v2 is a bag of words: word order does not matter */
    ASSERT(cosine(e, "dog bites man", "man bites dog") > 0.9999);
    /* common English words weigh less than other content words */
    ASSERT(cosine(e, "new results for the aspirin trial", "aspirin trial") >
           cosine(e, "new results for the aspirin trial", "new results"));
    /* stop words weigh little: sharing only "the of and" is far from sharing content words */
    ASSERT(cosine(e, "the history of the roman empire", "the rise and fall of the roman empire") >
           cosine(e, "the history of the roman empire", "the price of the apples and the pears"));
    lm_embedder_free(e);
    LEAK_CHECK();
}

TEST(test_embed_builtin__empty_and_separator_only)
{
    lm_embedder *e = builtin(16);
    const char *texts[] = {"", "   \n\t", "...!!!???", "\xe2\x80\x94 \xc2\xa0"};
    float v[4 * 16];
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 4));
    for (int i = 0; i < 4; i++) {
        ASSERT(v[i * 16] == 1.0f);
        for (int j = 1; j < 16; j++)
            ASSERT(v[i * 16 + j] == 0.0f);
    }
    lm_embedder_free(e);
}

TEST(test_embed_builtin__utf8)
{
    lm_embedder *e = builtin(384);
    /* Cyrillic, Greek and Latin-1 capitals fold to lower case */
    ASSERT(cosine(e, "\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90",
                  "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0") > 0.9999); /* МОСКВА/москва */
    ASSERT(cosine(e, "\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91",
                  "\xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1") > 0.9999); /* ΑΘΗΝΑ/αθηνα */
    ASSERT(cosine(e, "\xc3\x9c\x42\x45R", "uber") > 0.9999);             /* ÜBER/uber */
    /* CJK without spaces still matches on shared character pairs */
    const char *ja1 = "\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xaf\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xae"
                      "\xe9\xa6\x96\xe9\x83\xbd\xe3\x81\xa7\xe3\x81\x99"; /* 東京は日本の首都です */
    const char *ja2 = "\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xaf\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xae"
                      "\xe5\xa4\xa7\xe9\x83\xbd\xe5\xb8\x82"; /* 東京は日本の大都市 */
    ASSERT(cosine(e, ja1, ja2) > 0.4);
    ASSERT(fabs(cosine(e, ja1, "Tokyo is the capital of Japan")) < 0.2);
    /* unicode punctuation separates words like ASCII punctuation does */
    ASSERT(cosine(e,
                  "alpha\xe2\x80\x94"
                  "beta \xe2\x80\x9cgamma\xe2\x80\x9d",
                  "alpha-beta \"gamma\"") > 0.9999);
    /* invalid UTF-8 and embedded NULs are fine and deterministic */
    const char bad[] = "ab\xff\xfe cd\xc3 e\0f \xed\xa0\x80 g";
    const char *texts[] = {bad, bad};
    size_t lens[] = {sizeof(bad) - 1, sizeof(bad) - 1};
    float v[2 * 384];
    ASSERT_OK(lm_embedder_embed(e, v, texts, lens, 2));
    ASSERT(memcmp(v, v + 384, 384 * sizeof(float)) == 0);
    ASSERT(fabs(dot(v, v, 384) - 1.0) < 1e-5);
    lm_embedder_free(e);
    LEAK_CHECK();
}

TEST(test_embed_builtin__long_texts)
{
    /* 2 MB of distinct tokens overflows the per-text feature table: still unit norm. */
    size_t len = 2u << 20;
    char *big = malloc(len + 1);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = (x % 7 == 0) ? ' ' : (char)('a' + x % 26);
    }
    big[len] = '\0';
    /* one very long word (cut into pieces) */
    char *word = malloc(10001);
    memset(word, 'q', 10000);
    word[10000] = '\0';
    lm_embedder *e = builtin(384);
    const char *texts[] = {big, word, "short"};
    float *v = calloc(3 * 384, sizeof(float));
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 3));
    for (int i = 0; i < 3; i++)
        ASSERT(fabs(dot(v + i * 384, v + i * 384, 384) - 1.0) < 1e-4);
    float *s = embed1(e, "short");
    ASSERT(memcmp(s, v + 2 * 384, 384 * sizeof(float)) == 0);
    free(s);
    free(v);
    free(word);
    free(big);
    lm_embedder_free(e);
    LEAK_CHECK();
}

/*
 * The hash-v2 format is frozen: stored vectors are compared with new ones. If this test fails,
 * the algorithm changed and must get a new provider id ("builtin-hash-v3-<dim>").
 */
TEST(test_embed_builtin__format_is_frozen)
{
    lm_embedder *e = builtin(16);
    float *v = embed1(e, "Hello, wonderful world of embeddings!");
    static const float want[16] = {
        -0.1787537f, -0.1787537f, -0.2915580f, 0.0102231f,  0.3575075f, -0.0758388f,
        0.0000000f,  -0.4044735f, 0.0202237f,  -0.3454878f, 0.0000000f, 0.4315497f,
        0.2545925f,  0.4213266f,  0.0740422f,  0.0000000f,
    };
    for (int i = 0; i < 16; i++)
        if (fabsf(v[i] - want[i]) > 1e-5f)
            lm_test_fail(__FILE__, __LINE__, "component %d: %.7f != %.7f", i, (double)v[i],
                         (double)want[i]);
    free(v);
    lm_embedder_free(e);
}

TEST(test_embed__embed_arguments)
{
    lm_embedder *e = builtin(8);
    float v[16];
    const char *texts[] = {"a", NULL};
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, 0), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "empty") != NULL);
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, 2), LM_EINVAL);
    ASSERT_ERR(lm_embedder_embed(NULL, v, texts, NULL, 1), LM_EINVAL);
    ASSERT_ERR(lm_embedder_embed(e, NULL, texts, NULL, 1), LM_EINVAL);
    ASSERT_ERR(lm_embedder_embed(e, v, NULL, NULL, 1), LM_EINVAL);
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, SIZE_MAX / 2), LM_EINVAL); /* overflow */
    lm_embedder_free(e);
}

/* ---- application embedders ------------------------------------------------------------------- */

typedef struct fake {
    int calls, freed, fail;
    size_t last_n;
    int *freed_flag;
} fake;

static int
fake_embed(void *self, float *out, int dim, const char *const *texts, const size_t *lens, size_t n)
{
    fake *f = self;
    f->calls++;
    f->last_n = n;
    if (f->fail == 1)
        return LM_ETIMEOUT;
    if (f->fail == 2)
        return 7; /* a positive code is still a failure */
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            out[i * (size_t)dim + (size_t)d] = (float)lens[i] + (float)d + (texts[i][0] ? 0 : 1);
    if (f->fail == 3)
        out[0] = NAN;
    return 0;
}

static void fake_free(void *self)
{
    fake *f = self;
    *f->freed_flag = 1;
}

TEST(test_embed_custom__ops)
{
    int freed = 0;
    fake f = {0, 0, 0, 0, &freed};
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, fake_embed, fake_free};
    lm_embedder *e = NULL;
    ASSERT_OK(lm_embedder_custom_new(&e, "acme:mini-v2/3", "mini", 4, &ops, &f));
    ASSERT_EQ_STR(lm_embedder_kind(e), "custom");
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "acme:mini-v2/3");
    ASSERT_EQ_STR(lm_embedder_model(e), "mini");
    ASSERT_EQ_INT(lm_embedder_dim(e), 4);
    const char *texts[] = {"abc", "hello"};
    float v[8];
    ASSERT_OK(lm_embedder_embed(e, v, texts, NULL, 2)); /* lens computed for the ops */
    ASSERT_EQ_INT(f.calls, 1);
    ASSERT_EQ_INT(f.last_n, 2);
    ASSERT(v[0] == 3.0f && v[3] == 6.0f && v[4] == 5.0f);

    f.fail = 1;
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, 2), LM_ETIMEOUT);
    ASSERT_EQ_STR(lm_error_last()->message, "could not embed texts");
    ASSERT(strstr(lm_error_last()->detail, "acme:mini-v2/3") != NULL);
    f.fail = 2;
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, 2), LM_ERROR);
    f.fail = 3;
    ASSERT_ERR(lm_embedder_embed(e, v, texts, NULL, 2), LM_EPARSE);
    ASSERT(strstr(lm_error_last()->message, "non-finite") != NULL);

    ASSERT_EQ_INT(freed, 0);
    lm_embedder_free(e);
    ASSERT_EQ_INT(freed, 1);

    /* model defaults to the provider id; free may be NULL */
    lm_embedder_ops ops2 = {LM_EMBEDDER_OPS_VERSION, fake_embed, NULL};
    ASSERT_OK(lm_embedder_custom_new(&e, "x", NULL, 1, &ops2, &f));
    ASSERT_EQ_STR(lm_embedder_model(e), "x");
    lm_embedder_free(e);
    LEAK_CHECK();
}

TEST(test_embed_custom__validation)
{
    int freed = 0;
    fake f = {0, 0, 0, 0, &freed};
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, fake_embed, fake_free};
    lm_embedder *e = (lm_embedder *)&f;
    char longid[102];
    memset(longid, 'a', 101);
    longid[101] = '\0';
    ASSERT_ERR(lm_embedder_custom_new(&e, "", "m", 4, &ops, &f), LM_EINVAL);
    ASSERT(e == NULL);
    ASSERT_EQ_STR(lm_error_last()->field, "provider_id");
    ASSERT_ERR(lm_embedder_custom_new(&e, longid, "m", 4, &ops, &f), LM_EINVAL);
    longid[100] = '\0';
    ASSERT_OK(lm_embedder_custom_new(&e, longid, "m", 4, &ops, &f));
    lm_embedder_free(e);
    freed = 0;
    ASSERT_ERR(lm_embedder_custom_new(&e, "has space", "m", 4, &ops, &f), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "\"has space\"") != NULL);
    ASSERT_ERR(lm_embedder_custom_new(&e, "caf\xc3\xa9", "m", 4, &ops, &f), LM_EINVAL);
    ASSERT_ERR(lm_embedder_custom_new(&e, "ok", "m", 0, &ops, &f), LM_EINVAL);
    ASSERT_ERR(lm_embedder_custom_new(&e, "ok", "m", LM_MAX_EMBED_DIM + 1, &ops, &f), LM_EINVAL);
    ASSERT_ERR(lm_embedder_custom_new(&e, "ok", "m", 4, NULL, &f), LM_EINVAL);
    ASSERT_ERR(lm_embedder_custom_new(&e, NULL, "m", 4, &ops, &f), LM_EINVAL);
    lm_embedder_ops bad = ops;
    bad.version = 99;
    ASSERT_ERR(lm_embedder_custom_new(&e, "ok", "m", 4, &bad, &f), LM_EINVAL);
    bad = ops;
    bad.embed = NULL;
    ASSERT_ERR(lm_embedder_custom_new(&e, "ok", "m", 4, &bad, &f), LM_EINVAL);
    /* on failure self stays with the caller */
    ASSERT_EQ_INT(freed, 0);
}

/* ---- configuration --------------------------------------------------------------------------- */

static void clear_env(void)
{
    const char *vars[] = {"LLMEMORY_EMBEDDER",
                          "LLMEMORY_EMBED_DIM",
                          "LLMEMORY_EMBED_URL",
                          "LLMEMORY_EMBED_MODEL",
                          "LLMEMORY_EMBED_API_KEY",
                          "OPENAI_API_KEY",
                          "LLMEMORY_EMBED_BATCH_SIZE",
                          "LLMEMORY_EMBED_CONCURRENCY",
                          "LLMEMORY_EMBED_TIMEOUT_MS",
                          "LLMEMORY_EMBED_MAX_RETRIES",
                          "LLMEMORY_EMBED_SEND_DIMENSIONS"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

TEST(test_embed_env__builtin_and_none)
{
    clear_env();
    lm_embedder *e = NULL;
    /* Unset means the default model when installed (env_test.c), else the built-in embedder. */
    setenv("LLMEMORY_MODELS_DIR", "/nonexistent-llmemory-models", 1);
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "builtin-hash-v2-384");
    lm_embedder_free(e);

    setenv("LLMEMORY_EMBEDDER", "Builtin", 1);
    setenv("LLMEMORY_EMBED_DIM", "64", 1);
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT_EQ_INT(lm_embedder_dim(e), 64);
    lm_embedder_free(e);

    setenv("LLMEMORY_EMBED_DIM", "64x", 1);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "LLMEMORY_EMBED_DIM") != NULL);
    ASSERT_EQ_STR(lm_error_last()->field, "LLMEMORY_EMBED_DIM");
    setenv("LLMEMORY_EMBED_DIM", "4", 1);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);

    setenv("LLMEMORY_EMBEDDER", "none", 1);
    e = (lm_embedder *)&e;
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT(e == NULL);

    setenv("LLMEMORY_EMBEDDER", "word2vec", 1);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "LLMEMORY_EMBEDDER") != NULL);
    ASSERT(strstr(lm_error_last()->message, "\"word2vec\"") != NULL);
    ASSERT_ERR(lm_embedder_from_env(NULL), LM_EINVAL);
    LEAK_CHECK();
}

TEST(test_embed_env__http)
{
    clear_env();
    lm_embedder *e = NULL;
    setenv("LLMEMORY_EMBEDDER", "http", 1);
    setenv("LLMEMORY_EMBED_URL", "http://127.0.0.1:9/v1", 1);
    setenv("LLMEMORY_EMBED_MODEL", "nomic-embed-text", 1);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL); /* no dimension */
    ASSERT(strstr(lm_error_last()->message, "LLMEMORY_EMBED_DIM") != NULL);
    setenv("LLMEMORY_EMBED_DIM", "768", 1);
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT_EQ_STR(lm_embedder_kind(e), "http");
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "http:nomic-embed-text");
    ASSERT_EQ_STR(lm_embedder_model(e), "nomic-embed-text");
    ASSERT_EQ_INT(lm_embedder_dim(e), 768);
    lm_embedder_free(e);

    setenv("LLMEMORY_EMBED_SEND_DIMENSIONS", "1", 1);
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "http:nomic-embed-text:768");
    lm_embedder_free(e);

    setenv("LLMEMORY_EMBED_BATCH_SIZE", "0", 1);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "LLMEMORY_EMBED_BATCH_SIZE");
    unsetenv("LLMEMORY_EMBED_BATCH_SIZE");

    /* "openai" defaults the URL; "http" needs one */
    unsetenv("LLMEMORY_EMBED_URL");
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "base_url");
    setenv("LLMEMORY_EMBEDDER", "openai", 1);
    setenv("OPENAI_API_KEY", "sk-test", 1);
    ASSERT_OK(lm_embedder_from_env(&e));
    lm_embedder_free(e);
    unsetenv("LLMEMORY_EMBED_MODEL");
    ASSERT_ERR(lm_embedder_from_env(&e), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "model");
    LEAK_CHECK();
}

TEST(test_embed_http__options)
{
    clear_env();
    lm_http_embedder_opts o;
    ASSERT_ERR(lm_http_embedder_opts_init(&o, 99), LM_EINVAL);
    ASSERT_OK(lm_http_embedder_opts_init(&o, LM_HTTP_EMBEDDER_OPTS_VERSION));
    ASSERT_EQ_INT(o.version, LM_HTTP_EMBEDDER_OPTS_VERSION);
    lm_embedder *e = NULL;
    ASSERT_ERR(lm_embedder_http_new(&e, &o), LM_EINVAL); /* no URL */
    o.base_url = "ftp://example.com/v1";
    o.model = "m";
    o.dim = 8;
    ASSERT_ERR(lm_embedder_http_new(&e, &o), LM_EINVAL);
    o.base_url = "http://localhost:1/v1/";
    o.dim = 0;
    ASSERT_ERR(lm_embedder_http_new(&e, &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "dim");
    o.dim = 8;
    o.batch_size = 5000;
    ASSERT_ERR(lm_embedder_http_new(&e, &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "batch_size");
    o.batch_size = 0;
    o.max_retries = -2;
    ASSERT_ERR(lm_embedder_http_new(&e, &o), LM_EINVAL);
    o.max_retries = -1;
    o.api_key = "line\nbreak";
    ASSERT_ERR(lm_embedder_http_new(&e, &o), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "line") == NULL); /* the key is never echoed */
    o.api_key = "sk-secret";
    o.version = 2;
    ASSERT_ERR(lm_embedder_http_new(&e, &o), LM_EINVAL);
    o.version = LM_HTTP_EMBEDDER_OPTS_VERSION;
    ASSERT_OK(lm_embedder_http_new(&e, &o));
    ASSERT_EQ_STR(lm_embedder_provider_id(e), "http:m");
    lm_embedder_free(e);
    ASSERT_ERR(lm_embedder_http_new(NULL, &o), LM_EINVAL);
    ASSERT_ERR(lm_embedder_http_new(&e, NULL), LM_EINVAL); /* nothing in the environment */
    LEAK_CHECK();
}

/* ---- retry policy ---------------------------------------------------------------------------- */

TEST(test_embed_http__retry_after_parsing)
{
    ASSERT_EQ_INT(lm__embed_retry_after_ms(" 1\r\n", 4, 0), 1000);
    ASSERT_EQ_INT(lm__embed_retry_after_ms("0", 1, 0), 0);
    ASSERT_EQ_INT(lm__embed_retry_after_ms("120", 3, 0), 120000);
    ASSERT_EQ_INT(lm__embed_retry_after_ms("99999999999", 11, 0), 86400000);
    ASSERT_EQ_INT(lm__embed_retry_after_ms("", 0, 0), -1);
    ASSERT_EQ_INT(lm__embed_retry_after_ms("soon", 4, 0), -1);
    ASSERT_EQ_INT(lm__embed_retry_after_ms("-5", 2, 0), -1);
    const char *date = " Wed, 21 Oct 2015 07:28:00 GMT\r\n";
    time_t t = 1445412480; /* that instant */
    ASSERT_EQ_INT(lm__embed_retry_after_ms(date, strlen(date), t - 5), 5000);
    ASSERT_EQ_INT(lm__embed_retry_after_ms(date, strlen(date), t + 100), 0);
}

TEST(test_embed_http__backoff)
{
    for (uint32_t r = 0; r < 2000; r += 7) {
        long long d0 = lm__embed_backoff_ms(0, 500, 30000, r * 2654435761u);
        ASSERT(d0 >= 250 && d0 <= 500);
        long long d3 = lm__embed_backoff_ms(3, 500, 30000, r * 2654435761u);
        ASSERT(d3 >= 2000 && d3 <= 4000);
        long long d40 = lm__embed_backoff_ms(40, 500, 30000, r * 2654435761u);
        ASSERT(d40 >= 15000 && d40 <= 30000);
    }
    ASSERT_EQ_INT(lm__embed_backoff_ms(1, 100, 1000, 0), 100);
    ASSERT_EQ_INT(lm__embed_backoff_ms(1, 100, 1000, 100), 200);
}

/* ---- allocation failures --------------------------------------------------------------------- */

TEST(test_embed__out_of_memory)
{
    clear_env();
    /* Fail each allocation in turn: every failure is LM_ENOMEM, nothing leaks, and eventually the
       call succeeds. */
    int ok = 0;
    for (long n = 1; n < 50 && !ok; n++) {
        lm_embedder *e = NULL;
        lm__alloc_fail_at(n);
        int rc = lm_embedder_builtin_new(&e, 32);
        if (rc == 0) {
            const char *t = "some text";
            float v[32];
            rc = lm_embedder_embed(e, v, &t, NULL, 1);
            ok = rc == 0;
        }
        lm__alloc_fail_at(0);
        if (!ok)
            ASSERT_EQ_INT(rc, LM_ENOMEM);
        lm_embedder_free(e);
    }
    ASSERT(ok);
    ok = 0;
    lm_http_embedder_opts o = LM_HTTP_EMBEDDER_OPTS_INIT;
    o.base_url = "http://user:pw@localhost:1/v1?x=1";
    o.model = "m";
    o.dim = 8;
    o.api_key = "sk-secret";
    for (long n = 1; n < 50 && !ok; n++) {
        lm_embedder *e = NULL;
        lm__alloc_fail_at(n);
        int rc = lm_embedder_http_new(&e, &o);
        lm__alloc_fail_at(0);
        ok = rc == 0;
        if (!ok)
            ASSERT_EQ_INT(rc, LM_ENOMEM);
        lm_embedder_free(e);
    }
    ASSERT(ok);
    LEAK_CHECK();
}

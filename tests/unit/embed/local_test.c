/*
 * tests/unit/embed/local_test.c: the local encoder against independent references
 * (tests/unit/embed/local/gen.py): a tiny random BERT whose hidden states and pooled vectors were
 * computed by a float64 numpy implementation (max abs error <= 1e-4 on every SIMD path this CPU
 * has, plus portable), int8 agreement with fp32, the tokenizer token by token (count and id hash)
 * against the reference tokenizer on 2500 generated strings, errors (missing and corrupt files),
 * threads, and, when $LLMEMORY_TEST_MODEL_DIR names an all-MiniLM-L6-v2 directory, pinned real
 * vectors and paraphrase ranking (skipped otherwise).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "embed/embed.h"
#include "embed/local.h"
#include "llmemory/embed.h"
#include "runner.h"

#define TOL 1e-4

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* The runner leaves each test with _exit(), which skips LeakSanitizer: check explicitly. */
#define LEAK_CHECK() ASSERT(__lsan_do_recoverable_leak_check() == 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

static char *fixture(const char *rel)
{
    static char buf[4][1024];
    static int k;
    const char *base = getenv("LLMEMORY_TEST_FIXTURES");
    char *out = buf[k++ % 4];
    if (base != NULL)
        snprintf(out, 1024, "%s/%s", base, rel);
    else
        snprintf(out, 1024, "tests/unit/embed/local/%s", rel);
    return out;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        lm_test_fail(__FILE__, __LINE__, "cannot open fixture %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ASSERT(b != NULL);
    ASSERT(fread(b, 1, (size_t)n, f) == (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

static lm_embedder *load(const char *dir, const char *simd, int int8, int threads)
{
    lm_embedder *e = NULL;
    lm_local_embedder_opts o;
    ASSERT_OK(lm_local_embedder_opts_init(&o, LM_LOCAL_EMBEDDER_OPTS_VERSION));
    o.int8 = int8;
    o.threads = threads;
    if (simd)
        setenv("LLMEMORY_SIMD", simd, 1);
    else
        unsetenv("LLMEMORY_SIMD");
    ASSERT_OK(lm_embedder_local_new(&e, dir, &o));
    unsetenv("LLMEMORY_SIMD");
    return e;
}

static const char *const paths[] = {"portable", "avx2", "avx512"};
static int n_paths(void)
{
    return lm__simd_detect() + 1;
}

/* Parse "floats" after a keyword into a malloc'ed array. */
static float *floats(char *s, size_t *n)
{
    size_t cap = 64;
    float *v = malloc(cap * sizeof(float));
    *n = 0;
    char *end;
    for (;;) {
        float x = strtof(s, &end);
        if (end == s)
            break;
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof(float));
        v[(*n)++] = x;
        s = end;
    }
    return v;
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

TEST(test_embed_local__forward_matches_reference)
{
    char *ref = slurp(fixture("tiny/reference.txt"), NULL);
    for (int p = 0; p < n_paths(); p++) {
        lm_embedder *e = load(fixture("tiny"), paths[p], 0, 1);
        const lm__bert *m = lm__local_model(e);
        ASSERT(m != NULL && m->simd == p);
        char *copy = strdup(ref), *save = NULL;
        double worst = 0;
        int cases = 0;
        int32_t ids[64];
        int t = 0;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "forward ", 8) == 0) {
                char *s = line + 8, *end;
                t = (int)strtol(s, &end, 10);
                for (int i = 0; i < t; i++)
                    ids[i] = (int32_t)strtol(end, &end, 10);
            } else if (strncmp(line, "hidden ", 7) == 0) {
                size_t n;
                float *want = floats(line + 7, &n);
                ASSERT_EQ_INT(n, (size_t)t * 32);
                float *got = calloc(n, sizeof(float));
                lm__scratch s = {0};
                ASSERT_OK(lm__bert_forward(m, &s, ids, t, got));
                lm__scratch_free(&s);
                for (size_t i = 0; i < n; i++) {
                    double d = fabs((double)got[i] - (double)want[i]);
                    worst = d > worst ? d : worst;
                }
                free(got);
                free(want);
                cases++;
            }
        }
        printf("# %s: %d sequences, max abs error of hidden states %.3g\n", paths[p], cases, worst);
        ASSERT(cases == 5);
        ASSERT(worst <= TOL);
        free(copy);
        lm_embedder_free(e);
    }
    free(ref);
}

/* Texts through the public API (tokenizer, prefix, windows, pooling, normalisation). */
TEST(test_embed_local__vectors_match_reference)
{
    char *ref = slurp(fixture("tiny/reference.txt"), NULL);
    for (int p = 0; p < n_paths(); p++) {
        lm_embedder *e = load(fixture("tiny"), paths[p], 0, 1);
        char *copy = strdup(ref), *save = NULL, text[4096];
        int query = 0, cases = 0;
        double worst = 0;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "doc ", 4) == 0 || strncmp(line, "query ", 6) == 0) {
                query = line[0] == 'q';
                /* the text is a JSON string: the fixture's texts need only \" unescaped */
                char *q = strchr(line, '"'), *o = text;
                for (q++; *q && *q != '"'; q++)
                    *o++ = *q == '\\' ? *++q : *q;
                *o = '\0';
            } else if (strncmp(line, "vector ", 7) == 0) {
                size_t n;
                float *want = floats(line + 7, &n), got[32];
                ASSERT_EQ_INT(n, 32);
                const char *t = text;
                if (query)
                    ASSERT_OK(lm_embedder_embed_query(e, got, &t, NULL, 1));
                else
                    ASSERT_OK(lm_embedder_embed(e, got, &t, NULL, 1));
                for (size_t i = 0; i < n; i++) {
                    double d = fabs((double)got[i] - (double)want[i]);
                    worst = d > worst ? d : worst;
                }
                free(want);
                cases++;
            }
        }
        printf("# %s: %d texts, max abs error of pooled vectors %.3g\n", paths[p], cases, worst);
        ASSERT(cases == 6);
        ASSERT(worst <= TOL);
        free(copy);
        lm_embedder_free(e);
    }
    free(ref);
}

TEST(test_embed_local__identity_and_prefix)
{
    lm_embedder *e = load(fixture("tiny"), NULL, 0, 0);
    ASSERT_EQ_STR(lm_embedder_kind(e), "local");
    ASSERT_EQ_STR(lm_embedder_model(e), "tiny");
    ASSERT_EQ_INT(lm_embedder_dim(e), 32);
    const char *id = lm_embedder_provider_id(e);
    ASSERT(strncmp(id, "local:tiny:", 11) == 0);
    ASSERT(strlen(id) == strlen("local:tiny:12345678:32"));
    lm_embedder *q = load(fixture("tiny"), NULL, 1, 0);
    ASSERT(strcmp(lm_embedder_provider_id(q), id) != 0); /* "-q8" */
    ASSERT(strstr(lm_embedder_provider_id(q), "-q8") != NULL);
    /* the query prefix changes the vector; documents have none */
    float a[32], b[32];
    const char *t = "where is the cat";
    ASSERT_OK(lm_embedder_embed(e, a, &t, NULL, 1));
    ASSERT_OK(lm_embedder_embed_query(e, b, &t, NULL, 1));
    ASSERT(dot(a, b, 32) < 0.9999);
    ASSERT(fabs(dot(a, a, 32) - 1.0) < 1e-5);
    /* an explicit empty prefix: query == document, and a different provider id */
    lm_local_embedder_opts o = LM_LOCAL_EMBEDDER_OPTS_INIT;
    o.query_prefix = "";
    lm_embedder *np = NULL;
    ASSERT_OK(lm_embedder_local_new(&np, fixture("tiny"), &o));
    ASSERT_OK(lm_embedder_embed_query(np, b, &t, NULL, 1));
    ASSERT(fabs(dot(a, b, 32) - 1.0) < 1e-6);
    ASSERT(strcmp(lm_embedder_provider_id(np), id) != 0);
    /* the builtin embedder: embed_query is embed */
    lm_embedder *bi = NULL;
    float x[64], y[64];
    ASSERT_OK(lm_embedder_builtin_new(&bi, 64));
    ASSERT_OK(lm_embedder_embed(bi, x, &t, NULL, 1));
    ASSERT_OK(lm_embedder_embed_query(bi, y, &t, NULL, 1));
    ASSERT(memcmp(x, y, sizeof(x)) == 0);
    lm_embedder_free(bi);
    lm_embedder_free(np);
    lm_embedder_free(q);
    lm_embedder_free(e);
    LEAK_CHECK();
}

/* Texts longer than a window are embedded in overlapping windows, not cut. */
TEST(test_embed_local__long_texts_use_windows)
{
    lm_embedder *e = load(fixture("tiny"), NULL, 0, 0);
    const char *base = "the quick brown fox jumped over the lazy dog";
    char longer[1000], longest[4000];
    snprintf(longer, sizeof(longer), "%s %s %s %s", base, base, base, base);
    snprintf(longest, sizeof(longest), "%s %s %s %s", longer, longer, "pizza cat", longer);
    float a[32], b[32];
    const char *t1 = longest, *t2 = longest;
    char cut[4000];
    /* changing only the end of a long text changes its vector */
    snprintf(cut, sizeof(cut), "%s %s %s %s", longer, longer, "pizza cat", "car automobile");
    t2 = cut;
    ASSERT_OK(lm_embedder_embed(e, a, &t1, NULL, 1));
    ASSERT_OK(lm_embedder_embed(e, b, &t2, NULL, 1));
    ASSERT(dot(a, b, 32) < 0.9999);
    lm_embedder_free(e);
}

TEST(test_embed_local__int8_agrees_with_fp32)
{
    const char *texts[] = {"Hello world, the quick brown fox.", "Café naïve résumé: über straße!",
                           "where is the cat?", "東京 and 中国語", "a data base of memory search",
                           "unbelievable playful running dogs"};
    size_t n = sizeof(texts) / sizeof(texts[0]);
    lm_embedder *f = load(fixture("tiny"), NULL, 0, 0);
    float ref[6 * 32], got[6 * 32];
    ASSERT_OK(lm_embedder_embed(f, ref, texts, NULL, n));
    float first[6 * 32];
    for (int p = 0; p < n_paths(); p++) {
        lm_embedder *q = load(fixture("tiny"), paths[p], 1, 0);
        ASSERT_OK(lm_embedder_embed(q, got, texts, NULL, n));
        double worst = 1, cross = 1;
        for (size_t i = 0; i < n; i++) {
            double c = dot(ref + i * 32, got + i * 32, 32);
            worst = c < worst ? c : worst;
            if (p > 0) {
                double x = dot(first + i * 32, got + i * 32, 32);
                cross = x < cross ? x : cross;
            }
        }
        if (p == 0)
            memcpy(first, got, sizeof(first));
        printf("# int8 %s: min cosine to fp32 %.5f, to portable int8 %.6f\n", paths[p], worst,
               cross);
        ASSERT(worst >= 0.98);
        ASSERT(cross >= 0.999);
        lm_embedder_free(q);
    }
    lm_embedder_free(f);
}

/* ---- tokenizer ------------------------------------------------------------------------------- */

typedef struct bytes {
    unsigned char *p;
    size_t n;
} bytes;

static bytes *hex_list(char *line, size_t *count)
{
    bytes *v = calloc(512, sizeof(*v));
    *count = 0;
    for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) {
        bytes *b = &v[(*count)++];
        if (strcmp(tok, "-") == 0)
            continue;
        b->n = strlen(tok) / 2;
        b->p = malloc(b->n + 1);
        for (size_t i = 0; i < b->n; i++) {
            unsigned x;
            sscanf(tok + 2 * i, "%2x", &x);
            b->p[i] = (unsigned char)x;
        }
    }
    return v;
}

static uint64_t lcg_x;
static unsigned lcg(unsigned n)
{
    lcg_x = lcg_x * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((lcg_x >> 33) % n);
}

static uint32_t ids_hash(const int32_t *ids, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (uint32_t)(ids[i] >> (8 * b)) & 0xff;
            h *= 16777619u;
        }
    return h;
}

/* Compare the tokenizer with the reference for vocabulary @p name; returns agreements. The
 * tokenizer is @p given, or one loaded from @p vocab_path with the given case setting. */
static int tok_compare(const char *name, const char *vocab_path, int lower, const lm__tok *given,
                       int *total)
{
    char *ref = slurp(fixture("tok.txt"), NULL);
    char *frag = strstr(ref, "\nfragments ") + 11, *sep = strstr(ref, "\nseparators ") + 12;
    char *want = strstr(ref, name);
    ASSERT(want != NULL);
    want = strchr(want, '\n') + 1;
    *strchr(frag, '\n') = '\0';
    *strchr(sep, '\n') = '\0';
    char *wend = strchr(want, '\n');
    if (wend)
        *wend = '\0';
    size_t nf, ns;
    bytes *fr = hex_list(frag, &nf), *se = hex_list(sep, &ns);
    lm__tok t;
    memset(&t, 0, sizeof(t));
    if (given == NULL) {
        ASSERT_OK(lm__tok_load_vocab_txt(&t, vocab_path));
        t.lower = lower;
        t.strip = lower;
        t.chinese = 1;
    }
    const lm__tok *use = given ? given : &t;
    lcg_x = 42;
    int agree = 0, n = 0, shown = 0;
    unsigned char s[8192];
    for (char *w = strtok(want, " "); w; w = strtok(NULL, " ")) {
        size_t len = 0;
        unsigned k = 1 + lcg(6);
        for (unsigned j = 0; j < k; j++) {
            if (j) {
                const bytes *b = &se[lcg((unsigned)ns)];
                if (b->n)
                    memcpy(s + len, b->p, b->n);
                len += b->n;
            }
            const bytes *b = &fr[lcg((unsigned)nf)];
            if (b->n)
                memcpy(s + len, b->p, b->n);
            len += b->n;
        }
        int32_t *ids = NULL;
        size_t nids = 0, cap = 0;
        ASSERT_OK(lm__tok_encode(use, (const char *)s, len, &ids, &nids, &cap));
        char mine[32];
        snprintf(mine, sizeof(mine), "%zu:%08x", nids, ids_hash(ids, nids));
        if (strcmp(mine, w) == 0) {
            agree++;
        } else if (shown++ < 5) {
            printf("# %s: string %d (%zu bytes) differs: %s, reference %s:", name, n, len, mine, w);
            for (size_t i = 0; i < len && i < 80; i++)
                printf(" %02x", s[i]);
            printf("\n");
        }
        free(ids);
        n++;
    }
    if (given == NULL)
        lm__tok_free(&t);
    for (size_t i = 0; i < nf; i++)
        free(fr[i].p);
    for (size_t i = 0; i < ns; i++)
        free(se[i].p);
    free(fr);
    free(se);
    free(ref);
    *total = n;
    return agree;
}

TEST(test_embed_local__tokenizer_matches_reference)
{
    lm_test_timeout(120);
    int n, agree = tok_compare("tiny-lower", fixture("tiny/vocab.txt"), 1, NULL, &n);
    printf("# tokenizer (tiny vocabulary, lower case): %d of %d strings agree\n", agree, n);
    ASSERT(n == 2500);
    ASSERT_EQ_INT(agree, n);
    agree = tok_compare("tiny-cased", fixture("tiny/vocab.txt"), 0, NULL, &n);
    printf("# tokenizer (tiny vocabulary, cased): %d of %d strings agree\n", agree, n);
    ASSERT_EQ_INT(agree, n);
}

/* Random bytes (mostly invalid UTF-8) never crash the tokenizer or the encoder. */
TEST(test_embed_local__random_bytes)
{
    lm_embedder *e = load(fixture("tiny"), NULL, 0, 0);
    const lm__tok *t = lm__local_tok(e);
    unsigned char s[300];
    lcg_x = 7;
    for (int i = 0; i < 3000; i++) {
        size_t len = lcg(300);
        for (size_t j = 0; j < len; j++)
            s[j] = (unsigned char)(i % 3 == 0 ? 0x80 + lcg(128) : lcg(256));
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        ASSERT_OK(lm__tok_encode(t, (const char *)s, len, &ids, &n, &cap));
        for (size_t j = 0; j < n; j++)
            ASSERT(ids[j] >= 0 && ids[j] < t->n_vocab);
        free(ids);
        if (i % 100 == 0) {
            float v[32];
            const char *p = (const char *)s;
            ASSERT_OK(lm_embedder_embed(e, v, &p, &len, 1));
            ASSERT(fabs(dot(v, v, 32) - 1.0) < 1e-4);
        }
    }
    lm_embedder_free(e);
    LEAK_CHECK();
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *b = slurp(from, &n);
    FILE *f = fopen(to, "wb");
    ASSERT(f != NULL);
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
}

static const char *const copy_files[] = {"config.json", "model.safetensors", "vocab.txt",
                                         "tokenizer_config.json", "modules.json",
                                         "1_Pooling/config.json", "sentence_bert_config.json",
                                         "config_sentence_transformers.json", "tokenizer.json"};

/* Remove a directory made by make_copy() (whatever is left of its files). */
static void remove_copy(const char *dir)
{
    char p[600];
    for (size_t i = 0; i < sizeof(copy_files) / sizeof(copy_files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, copy_files[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/1_Pooling", dir);
    rmdir(p);
    rmdir(dir);
}

/* A fresh copy of the tiny model in @p dir (64 bytes; "" or a previous copy, removed first). */
static void make_copy(char *dir)
{
    const char *const *files = copy_files;
    char sub[600];
    if (strncmp(dir, "/tmp/lm-local-", 14) == 0)
        remove_copy(dir);
    strcpy(dir, "/tmp/lm-local-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
    snprintf(sub, sizeof(sub), "%s/1_Pooling", dir);
    ASSERT(mkdir(sub, 0700) == 0);
    for (size_t i = 0; i < sizeof(copy_files) / sizeof(copy_files[0]); i++) {
        char to[600], rel[100];
        snprintf(rel, sizeof(rel), "tiny/%s", files[i]);
        snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
        copy_file(fixture(rel), to);
    }
}

static void expect_error(const char *dir, int code, const char *needle)
{
    lm_embedder *e = (lm_embedder *)0x1;
    ASSERT_ERR(lm_embedder_local_new(&e, dir, NULL), code);
    ASSERT(e == NULL);
    if (strstr(lm_error_last()->message, needle) == NULL)
        lm_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", lm_error_last()->message,
                     needle);
}

static void patch(const char *path, long off, const void *bytes_, size_t n, long truncate_to)
{
    FILE *f = fopen(path, "r+b");
    ASSERT(f != NULL);
    if (bytes_ != NULL) {
        fseek(f, off, SEEK_SET);
        fwrite(bytes_, 1, n, f);
    }
    fclose(f);
    if (truncate_to >= 0)
        ASSERT(truncate(path, truncate_to) == 0);
}

TEST(test_embed_local__bad_model_files_are_clear_errors)
{
    char dir[64] = "", p[600];
    expect_error("/nonexistent/model", LM_ENOTFOUND, "/nonexistent/model");
    make_copy(dir);
    snprintf(p, sizeof(p), "%s/model.safetensors", dir);
    struct stat sb;
    ASSERT(stat(p, &sb) == 0);
    /* truncated data */
    patch(p, 0, NULL, 0, (long)sb.st_size - 10);
    expect_error(dir, LM_EPARSE, "model.safetensors");
    /* header length beyond the file */
    unsigned char big[8] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
    patch(p, 0, big, 8, -1);
    expect_error(dir, LM_EPARSE, "is corrupt");
    /* garbage JSON */
    make_copy(dir);
    snprintf(p, sizeof(p), "%s/model.safetensors", dir);
    patch(p, 8, "{\"x", 3, -1);
    expect_error(dir, LM_EPARSE, "model.safetensors");
    /* empty file */
    patch(p, 0, NULL, 0, 0);
    expect_error(dir, LM_EPARSE, "model.safetensors");
    unlink(p);
    expect_error(dir, LM_ENOTFOUND, "model.safetensors");
    /* a missing vocabulary, a broken config */
    make_copy(dir);
    snprintf(p, sizeof(p), "%s/vocab.txt", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
    unlink(p);
    expect_error(dir, LM_ENOTFOUND, "vocab.txt");
    make_copy(dir);
    snprintf(p, sizeof(p), "%s/config.json", dir);
    patch(p, 0, "{\"model_type\": \"xlm-roberta\"}   ", 32, 32);
    expect_error(dir, LM_EPARSE, "xlm-roberta");
    patch(p, 0, "not json", 8, 8);
    expect_error(dir, LM_EPARSE, "config.json");
    unlink(p);
    expect_error(dir, LM_ENOTFOUND, "config.json");
    /* unknown pooling */
    make_copy(dir);
    snprintf(p, sizeof(p), "%s/1_Pooling/config.json", dir);
    patch(p, 0, "{\"pooling_mode_max_tokens\": true}", 33, 33);
    expect_error(dir, LM_EPARSE, "pooling");
    /* a SIMD path that does not exist */
    setenv("LLMEMORY_SIMD", "sse9", 1);
    expect_error(fixture("tiny"), LM_EINVAL, "LLMEMORY_SIMD");
    unsetenv("LLMEMORY_SIMD");
    lm_local_embedder_opts o = LM_LOCAL_EMBEDDER_OPTS_INIT;
    lm_embedder *e = NULL;
    o.max_tokens = 4;
    ASSERT_ERR(lm_embedder_local_new(&e, fixture("tiny"), &o), LM_EINVAL);
    o.max_tokens = 41;
    ASSERT_ERR(lm_embedder_local_new(&e, fixture("tiny"), &o), LM_EINVAL);
    o.max_tokens = 0;
    o.version = 99;
    ASSERT_ERR(lm_embedder_local_new(&e, fixture("tiny"), &o), LM_EINVAL);
    /* LLMEMORY_EMBEDDER=local:<dir> */
    setenv("LLMEMORY_EMBEDDER", "local:/nonexistent/model", 1);
    ASSERT_ERR(lm_embedder_from_env(&e), LM_ENOTFOUND);
    char spec[1100];
    snprintf(spec, sizeof(spec), "local:%s", fixture("tiny"));
    setenv("LLMEMORY_EMBEDDER", spec, 1);
    ASSERT_OK(lm_embedder_from_env(&e));
    ASSERT_EQ_STR(lm_embedder_kind(e), "local");
    lm_embedder_free(e);
    unsetenv("LLMEMORY_EMBEDDER");
    remove_copy(dir);
    LEAK_CHECK();
}

/* A directory with tokenizer.json and no vocab.txt gives the same vectors. */
TEST(test_embed_local__tokenizer_json)
{
    char dir[64] = "", p[600];
    make_copy(dir);
    snprintf(p, sizeof(p), "%s/vocab.txt", dir);
    ASSERT(unlink(p) == 0);
    lm_embedder *a = load(fixture("tiny"), NULL, 0, 0), *b = load(dir, NULL, 0, 0);
    const char *texts[] = {"Café naïve résumé: über straße!", "東京 and 中国語 <html> C++",
                           "unbelievable playful running dogs"};
    float x[3 * 32], y[3 * 32];
    ASSERT_OK(lm_embedder_embed(a, x, texts, NULL, 3));
    ASSERT_OK(lm_embedder_embed(b, y, texts, NULL, 3));
    ASSERT(memcmp(x, y, sizeof(x)) == 0);
    lm_embedder_free(a);
    lm_embedder_free(b);
    /* a tokenizer.json that is not WordPiece */
    snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
    FILE *f = fopen(p, "w");
    ASSERT(f != NULL);
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}", f);
    fclose(f);
    expect_error(dir, LM_EPARSE, "WordPiece");
    remove_copy(dir);
    LEAK_CHECK();
}

/* ---- threads --------------------------------------------------------------------------------- */

typedef struct shared {
    lm_embedder *e;
    const char **texts;
    size_t n;
    float *out;
    int rc;
} shared;

static void *embed_thread(void *arg)
{
    shared *s = arg;
    for (int r = 0; r < 5 && s->rc == 0; r++)
        s->rc = lm_embedder_embed(s->e, s->out, s->texts, NULL, s->n);
    return NULL;
}

TEST(test_embed_local__threads_give_the_same_vectors)
{
    const char *texts[] = {"one", "two words", "the quick brown fox", "東京", "", "café",
                           "a longer text about memory search and embeddings", "x"};
    size_t n = 8;
    lm_embedder *one = load(fixture("tiny"), NULL, 0, 1), *two = load(fixture("tiny"), NULL, 0, 3);
    float a[8 * 32], b[8 * 32], c[8 * 32];
    ASSERT_OK(lm_embedder_embed(one, a, texts, NULL, n));
    ASSERT_OK(lm_embedder_embed(two, b, texts, NULL, n));
    ASSERT(memcmp(a, b, sizeof(a)) == 0);
    /* two threads calling one embedder at once */
    shared s1 = {two, texts, n, b, 0}, s2 = {two, texts, n, c, 0};
    pthread_t t1, t2;
    ASSERT(pthread_create(&t1, NULL, embed_thread, &s1) == 0);
    ASSERT(pthread_create(&t2, NULL, embed_thread, &s2) == 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    ASSERT_OK(s1.rc);
    ASSERT_OK(s2.rc);
    ASSERT(memcmp(a, b, sizeof(a)) == 0);
    ASSERT(memcmp(a, c, sizeof(a)) == 0);
    lm_embedder_free(one);
    lm_embedder_free(two);
    LEAK_CHECK();
}

TEST(test_embed_local__allocation_failures)
{
    lm_embedder *e = load(fixture("tiny"), NULL, 0, 2);
    const char *texts[] = {"hello world", "the quick brown fox jumped over the lazy dog again and "
                                          "again and again and again and again"};
    float v[64];
    int failed = 0, ok = 0;
    for (long k = 1; k < 400 && !ok; k++) {
        lm__alloc_fail_at(k);
        int rc = lm_embedder_embed(e, v, texts, NULL, 2);
        lm__alloc_fail_at(0);
        if (rc == 0)
            ok = 1;
        else {
            ASSERT_EQ_INT(rc, LM_ENOMEM);
            failed++;
        }
    }
    ASSERT(ok && failed > 0);
    lm_embedder_free(e);
    for (long k = 1; k < 2000; k++) {
        lm_embedder *x = NULL;
        lm__alloc_fail_at(k);
        int rc = lm_embedder_local_new(&x, fixture("tiny"), NULL);
        lm__alloc_fail_at(0);
        if (rc == 0) {
            lm_embedder_free(x);
            break;
        }
        ASSERT_EQ_INT(rc, LM_ENOMEM);
        ASSERT(x == NULL);
    }
    LEAK_CHECK();
}

/* ---- the real model (optional) --------------------------------------------------------------- */

TEST(test_embed_local__real_model_vectors)
{
    lm_test_timeout(300);
    const char *dir = getenv("LLMEMORY_TEST_MODEL_DIR");
    char path[1200];
    if (dir == NULL || dir[0] == '\0')
        lm_test_skip("LLMEMORY_TEST_MODEL_DIR is not set (no installed model to check)");
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    if (access(path, R_OK) != 0)
        lm_test_skip("no model at %s", dir);
    lm_embedder *e = load(dir, NULL, 0, 2);
    struct stat sb;
    const lm__bert *mm = lm__local_model(e);
    if (stat(path, &sb) != 0 || sb.st_size != 90868376 || mm->layers != 6 || mm->hidden != 384 ||
        mm->vocab != 30522)
        lm_test_skip("%s is not all-MiniLM-L6-v2 (weights of 90868376 bytes, 6 x 384)", dir);
    /* the model's own tokenizer (vocab.txt or tokenizer.json) against the reference */
    int n, agree = tok_compare("real", NULL, 1, lm__local_tok(e), &n);
    printf("# tokenizer (real vocabulary): %d of %d strings agree\n", agree, n);
    ASSERT_EQ_INT(agree, n);
    /* pinned vectors */
    char *ref = slurp(fixture("real.txt"), NULL), *save = NULL, text[512];
    double worst = 0;
    int cases = 0;
    for (int p = 0; p < n_paths(); p++) {
        lm_embedder *ep = load(dir, paths[p], 0, 1);
        char *copy = strdup(ref);
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "text ", 5) == 0) {
                char *q = strchr(line, '"'), *o = text;
                for (q++; *q && *q != '"'; q++)
                    *o++ = *q == '\\' ? *++q : *q;
                *o = '\0';
            } else if (strncmp(line, "vector ", 7) == 0) {
                size_t k;
                float *want = floats(line + 7, &k), got[384];
                const char *t = text;
                ASSERT_OK(lm_embedder_embed(ep, got, &t, NULL, 1));
                for (size_t i = 0; i < k; i++) {
                    double d = fabs((double)got[i] - (double)want[i]);
                    worst = d > worst ? d : worst;
                }
                free(want);
                cases++;
            }
        }
        free(copy);
        lm_embedder_free(ep);
    }
    printf("# real model: %d vectors on %d paths, max abs error %.3g\n", cases, n_paths(), worst);
    ASSERT(worst <= TOL);
    free(ref);
    /* paraphrases rank above unrelated pairs */
    const char *pairs[][2] = {
        {"A man is eating food.", "A man is eating a meal."},
        {"The car is parked in the garage.", "The automobile is in the garage."},
        {"How do I reset my password?", "I forgot my password and need to change it."},
        {"The cat sits on the mat.", "A kitten is sitting on a rug."},
    };
    float v[8 * 384];
    const char *all[8];
    for (int i = 0; i < 4; i++) {
        all[2 * i] = pairs[i][0];
        all[2 * i + 1] = pairs[i][1];
    }
    ASSERT_OK(lm_embedder_embed(e, v, all, NULL, 8));
    /* int8 weights agree with fp32 */
    lm_embedder *q8 = load(dir, NULL, 1, 2);
    float w[8 * 384];
    double worst8 = 1;
    ASSERT_OK(lm_embedder_embed(q8, w, all, NULL, 8));
    for (int i = 0; i < 8; i++) {
        double c = dot(v + i * 384, w + i * 384, 384);
        worst8 = c < worst8 ? c : worst8;
    }
    printf("# real model: int8 vs fp32, min cosine over 8 sentences %.4f\n", worst8);
    ASSERT(worst8 >= 0.98);
    lm_embedder_free(q8);
    for (int i = 0; i < 4; i++) {
        double para = dot(v + 2 * i * 384, v + (2 * i + 1) * 384, 384);
        for (int j = 0; j < 4; j++) {
            if (j == i)
                continue;
            double other = dot(v + 2 * i * 384, v + (2 * j + 1) * 384, 384);
            if (!(para > other + 0.1))
                lm_test_fail(__FILE__, __LINE__, "pair %d: paraphrase %.3f vs unrelated %.3f", i,
                             para, other);
        }
    }
    lm_embedder_free(e);
}

/*
 * embed/local.c: the local encoder as an lm_embedder. Reads a sentence-transformers model
 * directory (config.json, model.safetensors, vocab.txt or tokenizer.json, the pooling,
 * normalisation and prompt configuration), loads the weights (local_model.c) and embeds texts:
 * tokenise, run the encoder over windows of at most max_tokens tokens (overlapping by a quarter
 * when a text is longer), pool each window (mean or CLS), average the windows weighted by their
 * token counts, normalise when the model has a Normalize module. Several texts of one call are
 * embedded by opts.threads threads in parallel; calls on one embedder may come from any number
 * of threads (the model is read-only; scratch is per call).
 */
#define _DEFAULT_SOURCE /* pread */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "embed/embed.h"
#include "embed/local.h"
#include "error.h"

#define LM__LOCAL_MAX_THREADS 64
/* Part of the revision hash: bump when a change here alters the vectors of an unchanged model
 * (tokenizer rules, pooling, windows), so that old and new vectors get different provider ids. */
#define LM__LOCAL_IMPL_REV "local-encoder-1"

typedef struct local {
    lm__bert m;
    lm__st_file st;
    lm__tok tok;
    int mean;      /* 1: mean pooling; 0: CLS */
    int normalize; /* Normalize module */
    const char *tok_file; /* static: "vocab.txt" or "tokenizer.json" */
    int threads;
    int window;    /* tokens per window incl. [CLS] and [SEP] */
    int32_t *qprefix, *dprefix; /* token ids of the query / document prefixes */
    size_t n_qprefix, n_dprefix;
} local;

/* ---- configuration files --------------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = lm__malloc(a + b + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Parse a JSON file of the model; *out NULL (and 0 returned) when it is absent and optional. */
static int load_json(json_t **out, const char *dir, const char *name, int required)
{
    *out = NULL;
    char *p = path_join(dir, name);
    if (p == NULL)
        return LM_ENOMEM;
    if (!file_exists(p)) {
        int rc = 0;
        if (required) {
            rc = lm__error_set(LM_ENOTFOUND, "model file \"%s\" does not exist", p);
            lm__error_hint("A model directory holds config.json, model.safetensors and vocab.txt "
                           "(sentence-transformers layout).");
        }
        lm__free(p);
        return rc;
    }
    json_error_t jerr;
    *out = json_load_file(p, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL || !json_is_object(*out) ? !json_is_array(*out) : 0) {
        lm__error_set(LM_EPARSE, "model file \"%s\" is not valid JSON", p);
        if (*out == NULL)
            lm__error_detail("%s (line %d).", jerr.text, jerr.line);
        json_decref(*out);
        *out = NULL;
        lm__free(p);
        return LM_EPARSE;
    }
    lm__free(p);
    return 0;
}

static int cfg_int(const json_t *cfg, const char *key, int def, int lo, int hi, int *out,
                   const char *dir)
{
    json_t *v = json_object_get(cfg, key);
    if (v == NULL) {
        if (def < 0) {
            lm__error_set(LM_EPARSE, "model config \"%s/config.json\" lacks \"%s\"", dir, key);
            return LM_EPARSE;
        }
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        lm__error_set(LM_EPARSE, "model config \"%s/config.json\" has an invalid \"%s\"", dir, key);
        lm__error_detail("Expected an integer from %d to %d.", lo, hi);
        return LM_EPARSE;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int read_config(local *L, const char *dir)
{
    json_t *c = NULL;
    int rc = load_json(&c, dir, "config.json", 1);
    if (rc < 0)
        return rc;
    lm__bert *m = &L->m;
    json_t *eps = NULL;
    const char *mt = json_string_value(json_object_get(c, "model_type"));
    const char *act = json_string_value(json_object_get(c, "hidden_act"));
    const char *pe = json_string_value(json_object_get(c, "position_embedding_type"));
    if (mt == NULL || strcmp(mt, "bert") != 0) {
        rc = lm__error_set(LM_EPARSE, "model \"%s\" is not supported: model_type is \"%s\"", dir,
                           mt ? mt : "(none)");
        lm__error_hint("The local encoder runs BERT-family models (model_type \"bert\": MiniLM, "
                       "bge, e5, gte).");
        goto out;
    }
    if ((act != NULL && strcmp(act, "gelu") != 0) || (pe != NULL && strcmp(pe, "absolute") != 0)) {
        rc = lm__error_set(LM_EPARSE, "model \"%s\" is not supported: hidden_act \"%s\", "
                                      "position_embedding_type \"%s\"",
                           dir, act ? act : "gelu", pe ? pe : "absolute");
        lm__error_hint("Only the exact (erf) GELU and absolute positions are implemented.");
        goto out;
    }
    if ((rc = cfg_int(c, "hidden_size", -1, 8, 8192, &m->hidden, dir)) < 0 ||
        (rc = cfg_int(c, "num_hidden_layers", -1, 1, 256, &m->layers, dir)) < 0 ||
        (rc = cfg_int(c, "num_attention_heads", -1, 1, 256, &m->heads, dir)) < 0 ||
        (rc = cfg_int(c, "intermediate_size", -1, 1, 65536, &m->inter, dir)) < 0 ||
        (rc = cfg_int(c, "max_position_embeddings", -1, 4, 65536, &m->max_pos, dir)) < 0 ||
        (rc = cfg_int(c, "type_vocab_size", 2, 1, 1024, &m->type_vocab, dir)) < 0 ||
        (rc = cfg_int(c, "vocab_size", -1, 4, 10000000, &m->vocab, dir)) < 0)
        goto out;
    if (m->hidden % m->heads != 0) {
        rc = lm__error_set(LM_EPARSE, "model config \"%s/config.json\": hidden_size %d is not a "
                                      "multiple of num_attention_heads %d",
                           dir, m->hidden, m->heads);
        goto out;
    }
    eps = json_object_get(c, "layer_norm_eps");
    m->eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-12f;
    if (!(m->eps > 0 && m->eps < 1)) {
        rc = lm__error_set(LM_EPARSE, "model config \"%s/config.json\" has an invalid "
                                      "\"layer_norm_eps\"", dir);
        goto out;
    }
out:
    json_decref(c);
    return rc;
}

/* modules.json and the pooling configuration. Defaults without modules.json: mean, normalised. */
static int read_modules(local *L, const char *dir)
{
    json_t *mods = NULL, *pool = NULL;
    int rc = load_json(&mods, dir, "modules.json", 0);
    L->mean = 1;
    L->normalize = 1;
    if (rc < 0 || mods == NULL)
        return rc;
    const char *pool_path = NULL;
    L->normalize = 0;
    size_t i;
    json_t *mod;
    if (!json_is_array(mods)) {
        rc = lm__error_set(LM_EPARSE, "model file \"%s/modules.json\" is not a list", dir);
        goto out;
    }
    json_array_foreach(mods, i, mod)
    {
        const char *type = json_string_value(json_object_get(mod, "type"));
        const char *path = json_string_value(json_object_get(mod, "path"));
        if (type == NULL)
            continue;
        const char *dot = strrchr(type, '.');
        const char *base = dot ? dot + 1 : type;
        if (strcmp(base, "Transformer") == 0)
            continue;
        if (strcmp(base, "Pooling") == 0)
            pool_path = path;
        else if (strcmp(base, "Normalize") == 0)
            L->normalize = 1;
        else {
            rc = lm__error_set(LM_EPARSE, "model \"%s\" is not supported: module \"%s\"", dir,
                               type);
            lm__error_hint("Supported modules: Transformer, Pooling (mean or CLS), Normalize.");
            goto out;
        }
    }
    if (pool_path != NULL) {
        char rel[512];
        snprintf(rel, sizeof(rel), "%s/config.json", pool_path);
        if ((rc = load_json(&pool, dir, rel, 1)) < 0)
            goto out;
        int cls = json_is_true(json_object_get(pool, "pooling_mode_cls_token"));
        int mean = json_is_true(json_object_get(pool, "pooling_mode_mean_tokens"));
        const char *pm = json_string_value(json_object_get(pool, "pooling_mode"));
        if (pm != NULL) {
            cls = strcmp(pm, "cls") == 0;
            mean = strcmp(pm, "mean") == 0;
        }
        int other = json_is_true(json_object_get(pool, "pooling_mode_max_tokens")) ||
                    json_is_true(json_object_get(pool, "pooling_mode_mean_sqrt_len_tokens")) ||
                    json_is_true(json_object_get(pool, "pooling_mode_weightedmean_tokens")) ||
                    json_is_true(json_object_get(pool, "pooling_mode_lasttoken"));
        if (cls + mean != 1 || other) {
            rc = lm__error_set(LM_EPARSE, "model file \"%s/%s\": unsupported pooling", dir, rel);
            lm__error_hint("Supported: exactly one of mean and CLS pooling.");
            goto out;
        }
        L->mean = mean;
    }
out:
    json_decref(mods);
    json_decref(pool);
    return rc;
}

static int read_tokenizer(local *L, const char *dir)
{
    lm__tok *t = &L->tok;
    json_t *tc = NULL;
    int rc;
    char *vocab = path_join(dir, "vocab.txt"), *tj = path_join(dir, "tokenizer.json");
    if (vocab == NULL || tj == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    t->lower = 1;
    t->chinese = 1;
    t->strip = -1;
    if ((rc = load_json(&tc, dir, "tokenizer_config.json", 0)) < 0)
        goto out;
    if (tc != NULL) {
        json_t *v;
        if (json_is_boolean(v = json_object_get(tc, "do_lower_case")))
            t->lower = json_is_true(v);
        if (json_is_boolean(v = json_object_get(tc, "strip_accents")))
            t->strip = json_is_true(v);
        if (json_is_boolean(v = json_object_get(tc, "tokenize_chinese_chars")))
            t->chinese = json_is_true(v);
    }
    if (t->strip < 0)
        t->strip = t->lower;
    if (file_exists(vocab)) {
        L->tok_file = "vocab.txt";
        rc = lm__tok_load_vocab_txt(t, vocab);
    } else if (file_exists(tj)) {
        L->tok_file = "tokenizer.json";
        rc = lm__tok_load_tokenizer_json(t, tj);
    } else {
        rc = lm__error_set(LM_ENOTFOUND, "model file \"%s\" does not exist", vocab);
        lm__error_hint("The tokenizer needs vocab.txt or tokenizer.json.");
    }
    if (rc == 0 && t->n_vocab > L->m.vocab) {
        rc = lm__error_set(LM_EPARSE, "vocabulary of model \"%s\" has %d tokens, the model %d",
                           dir, t->n_vocab, L->m.vocab);
    }
out:
    json_decref(tc);
    lm__free(vocab);
    lm__free(tj);
    return rc;
}

/* max_seq_length and the prompts. */
static int read_st_config(local *L, const char *dir, const char **qp, const char **dp,
                          json_t **keep)
{
    json_t *sb = NULL, *st = NULL;
    int rc;
    if ((rc = load_json(&sb, dir, "sentence_bert_config.json", 0)) < 0)
        return rc;
    json_t *ms = json_object_get(sb, "max_seq_length");
    L->window = L->m.max_pos;
    if (json_is_integer(ms) && json_integer_value(ms) >= 8 &&
        json_integer_value(ms) <= L->m.max_pos)
        L->window = (int)json_integer_value(ms);
    json_decref(sb);
    if ((rc = load_json(&st, dir, "config_sentence_transformers.json", 0)) < 0)
        return rc;
    json_t *pr = json_object_get(st, "prompts");
    *qp = json_string_value(json_object_get(pr, "query"));
    *dp = json_string_value(json_object_get(pr, "document"));
    if (*dp == NULL)
        *dp = json_string_value(json_object_get(pr, "passage"));
    *keep = st;
    return 0;
}

/* ---- revision hash --------------------------------------------------------------------------- */

/* Read with pread(), not from the weights' mapping: hashing through the mapping would leave
   every page of it resident (the word-embedding table is mostly never touched again, and int8
   releases what it replaces), which doubles the model's resident memory. */
static int hash_file(crypto_generichash_state *h, const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    if (p == NULL)
        return LM_ENOMEM;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    lm__free(p);
    if (fd < 0)
        return 0; /* optional files */
    unsigned char *buf = lm__malloc(1 << 20);
    if (buf == NULL) {
        close(fd);
        return LM_ENOMEM;
    }
    crypto_generichash_update(h, (const unsigned char *)name, strlen(name) + 1);
    ssize_t r;
    off_t off = 0;
    while ((r = pread(fd, buf, 1 << 20, off)) > 0) {
        crypto_generichash_update(h, buf, (unsigned long long)r);
        off += r;
    }
    lm__free(buf);
    close(fd);
    return 0;
}

/*
 * The revision: what decides the vectors, not how the directory happens to be laid out: the
 * weights and the vocabulary file (bytes), the architecture, tokenizer settings, pooling,
 * window and prefixes as read, and LM__LOCAL_IMPL_REV.
 */
static int revision(char out[9], const char *dir, const local *L, const char *qp, const char *dp)
{
    crypto_generichash_state h;
    unsigned char d[16];
    char settings[512];
    int rc;
    if (sodium_init() < 0)
        return lm__error_set(LM_ERROR, "could not initialise libsodium");
    crypto_generichash_init(&h, NULL, 0, sizeof(d));
    crypto_generichash_update(&h, (const unsigned char *)LM__LOCAL_IMPL_REV,
                              sizeof(LM__LOCAL_IMPL_REV));
    if ((rc = hash_file(&h, dir, "model.safetensors")) < 0 ||
        (rc = hash_file(&h, dir, L->tok_file)) < 0)
        return rc;
    const lm__bert *m = &L->m;
    int n = snprintf(settings, sizeof(settings),
                     "h%d l%d a%d i%d p%d t%d v%d e%.9g lower%d strip%d cjk%d word%d mean%d "
                     "norm%d window%d",
                     m->hidden, m->layers, m->heads, m->inter, m->max_pos, m->type_vocab, m->vocab,
                     (double)m->eps, L->tok.lower, L->tok.strip, L->tok.chinese, L->tok.max_word,
                     L->mean, L->normalize, L->window);
    crypto_generichash_update(&h, (const unsigned char *)settings, (unsigned long long)n + 1);
    crypto_generichash_update(&h, (const unsigned char *)(qp ? qp : ""), strlen(qp ? qp : "") + 1);
    crypto_generichash_update(&h, (const unsigned char *)(dp ? dp : ""), strlen(dp ? dp : "") + 1);
    crypto_generichash_final(&h, d, sizeof(d));
    for (int i = 0; i < 4; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* ---- embedding ------------------------------------------------------------------------------- */

typedef struct job {
    local *L;
    float *out;
    int dim;
    const char *const *texts;
    const size_t *lens;
    size_t n;
    int query;
    size_t next; /* guarded by mu */
    int rc;
    pthread_mutex_t mu;
} job;

/* Embed one text into @p out (dim floats). */
static int embed_one(local *L, lm__scratch *s, float *out, const char *text, size_t len,
                     int query, int32_t **ids, size_t *ids_cap)
{
    const int32_t *pre = query ? L->qprefix : L->dprefix;
    size_t npre = query ? L->n_qprefix : L->n_dprefix, n = 0, H = (size_t)L->m.hidden;
    int rc = lm__tok_encode(&L->tok, text, len, ids, &n, ids_cap);
    if (rc < 0)
        return rc;
    size_t body = (size_t)L->window - 2 - npre; /* body tokens per window (>= 4, checked) */
    size_t stride = body - body / 4;
    int32_t *win = lm__malloc((size_t)L->window * sizeof(int32_t));
    float *hid = lm__malloc((size_t)L->window * H * sizeof(float));
    double *acc = lm__calloc(H, sizeof(double));
    double wsum = 0, norm = 0;
    if (win == NULL || hid == NULL || acc == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t start = 0;; start += stride) {
        size_t take = n - start < body ? n - start : body;
        int t = 0;
        win[t++] = L->tok.cls;
        for (size_t i = 0; i < npre; i++)
            win[t++] = pre[i];
        for (size_t i = 0; i < take; i++)
            win[t++] = (*ids)[start + i];
        win[t++] = L->tok.sep;
        if ((rc = lm__bert_forward(&L->m, s, win, t, hid)) < 0)
            goto out;
        for (size_t j = 0; j < H; j++) {
            double v = 0;
            if (L->mean) {
                for (int i = 0; i < t; i++)
                    v += (double)hid[(size_t)i * H + j];
                /* window mean, weighted by its tokens: the sum itself */
            } else {
                v = (double)hid[j] * (double)t;
            }
            acc[j] += v;
        }
        wsum += t;
        if (start + take >= n)
            break;
    }
    for (size_t j = 0; j < H; j++) {
        acc[j] /= wsum;
        norm += acc[j] * acc[j];
    }
    norm = sqrt(norm);
    for (size_t j = 0; j < H; j++)
        out[j] = (float)(L->normalize && norm > 0 ? acc[j] / norm : acc[j]);
out:
    lm__free(win);
    lm__free(hid);
    lm__free(acc);
    return rc;
}

static void *worker(void *arg)
{
    job *j = arg;
    lm__scratch s = {0};
    int32_t *ids = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->rc < 0 ? j->n : j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->n)
            break;
        int rc = embed_one(j->L, &s, j->out + i * (size_t)j->dim, j->texts[i], j->lens[i],
                           j->query, &ids, &cap);
        if (rc < 0) {
            pthread_mutex_lock(&j->mu);
            if (j->rc == 0)
                j->rc = rc;
            pthread_mutex_unlock(&j->mu);
        }
    }
    lm__free(ids);
    lm__scratch_free(&s);
    return NULL;
}

static int embed_texts(void *self, float *out, int dim, const char *const *texts,
                       const size_t *lens, size_t n, int query)
{
    local *L = self;
    job j = {L, out, dim, texts, lens, n, query, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[LM__LOCAL_MAX_THREADS];
    int nth = L->threads < (int)(n < LM__LOCAL_MAX_THREADS ? n : LM__LOCAL_MAX_THREADS)
                  ? L->threads
                  : (int)(n < LM__LOCAL_MAX_THREADS ? n : LM__LOCAL_MAX_THREADS);
    int started = 0;
    for (int i = 1; i < nth; i++) {
        if (pthread_create(&th[started], NULL, worker, &j) != 0)
            break; /* fewer threads; the work still gets done */
        started++;
    }
    worker(&j);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.mu);
    if (j.rc == LM_ENOMEM)
        lm__error_set_oom();
    else if (j.rc < 0)
        lm__error_set(j.rc, "could not embed texts with the local encoder");
    return j.rc;
}

static int local_embed(void *self, float *out, int dim, const char *const *texts,
                       const size_t *lens, size_t n)
{
    return embed_texts(self, out, dim, texts, lens, n, 0);
}

static int local_embed_query(void *self, float *out, int dim, const char *const *texts,
                             const size_t *lens, size_t n)
{
    return embed_texts(self, out, dim, texts, lens, n, 1);
}

static void local_free(void *self)
{
    local *L = self;
    if (L == NULL)
        return;
    lm__bert_free(&L->m);
    lm__st_close(&L->st);
    lm__tok_free(&L->tok);
    lm__free(L->qprefix);
    lm__free(L->dprefix);
    lm__free(L);
}

/* ---- construction ---------------------------------------------------------------------------- */

int lm_local_embedder_opts_init(lm_local_embedder_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_LOCAL_EMBEDDER_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_local_embedder_opts version %u", version);
    lm_local_embedder_opts d = LM_LOCAL_EMBEDDER_OPTS_INIT;
    *opts = d;
    return 0;
}

static int simd_choice(int *level)
{
    int best = lm__simd_detect();
    const char *v = getenv("LLMEMORY_SIMD");
    *level = best;
    if (v == NULL || v[0] == '\0' || strcasecmp(v, "auto") == 0)
        return 0;
    int want = strcasecmp(v, "portable") == 0 ? LM__SIMD_PORTABLE
               : strcasecmp(v, "avx2") == 0   ? LM__SIMD_AVX2
               : strcasecmp(v, "avx512") == 0 ? LM__SIMD_AVX512
                                              : -1;
    if (want < 0) {
        lm__error_set_field(LM_EINVAL, "LLMEMORY_SIMD",
                            "invalid value for environment variable \"LLMEMORY_SIMD\": \"%s\"", v);
        lm__error_hint("Use auto, portable, avx2 or avx512.");
        return LM_EINVAL;
    }
    if (want > best) {
        lm__error_set_field(LM_EINVAL, "LLMEMORY_SIMD",
                            "this CPU does not support the \"%s\" kernels", v);
        lm__error_detail("The best this CPU supports is \"%s\".", lm__simd_name(best));
        return LM_EINVAL;
    }
    *level = want;
    return 0;
}

static void model_name(char *out, size_t cap, const char *dir, const char *given)
{
    char tmp[LM__EMBED_ID_MAX];
    if (given != NULL && given[0]) {
        snprintf(tmp, sizeof(tmp), "%s", given);
    } else {
        size_t l = strlen(dir);
        while (l > 1 && dir[l - 1] == '/')
            l--;
        size_t b = l;
        while (b > 0 && dir[b - 1] != '/')
            b--;
        if (l - b == 5 && strncmp(dir + b, "model", 5) == 0 && b > 1) {
            l = b - 1;
            while (l > 1 && dir[l - 1] == '/')
                l--;
            b = l;
            while (b > 0 && dir[b - 1] != '/')
                b--;
        }
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(l - b), dir + b);
    }
    size_t j = 0;
    for (size_t i = 0; tmp[i] && j + 1 < cap && j < 60; i++) {
        char c = tmp[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        out[j++] = ok ? c : '-';
    }
    if (j == 0)
        out[j++] = 'm';
    out[j] = '\0';
}

static int encode_prefix(local *L, const char *p, int32_t **ids, size_t *n)
{
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    if (p == NULL || p[0] == '\0')
        return 0;
    return lm__tok_encode(&L->tok, p, strlen(p), ids, n, &cap);
}

int lm_embedder_local_new(lm_embedder **out, const char *model_dir,
                          const lm_local_embedder_opts *opts)
{
    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(model_dir != NULL && model_dir[0] != '\0');
    lm_local_embedder_opts o = LM_LOCAL_EMBEDDER_OPTS_INIT;
    if (opts != NULL) {
        if (opts->version != LM_LOCAL_EMBEDDER_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_local_embedder_opts version %u",
                                 opts->version);
        o = *opts;
    }
    if (o.threads < 0 || o.threads > LM__LOCAL_MAX_THREADS)
        return lm__error_set_field(LM_EINVAL, "threads", "thread count %d is out of range (0 to %d)",
                                   o.threads, LM__LOCAL_MAX_THREADS);
    if (o.int8 < -1 || o.int8 > 1)
        return lm__error_set_field(LM_EINVAL, "int8", "int8 must be -1, 0 or 1");
    if (o.int8 == -1) {
        const char *v = getenv("LLMEMORY_LOCAL_INT8");
        o.int8 = v != NULL && strcmp(v, "1") == 0;
    }
    struct stat sb;
    if (stat(model_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        lm__error_set(LM_ENOTFOUND, "model directory \"%s\" does not exist", model_dir);
        lm__error_hint("Install a model (llmemory models) or point to a sentence-transformers "
                       "model directory.");
        return LM_ENOTFOUND;
    }
    int simd, rc;
    if ((rc = simd_choice(&simd)) < 0)
        return rc;
    local *L = lm__calloc(1, sizeof(*L));
    json_t *stcfg = NULL;
    char *wpath = NULL;
    if (L == NULL)
        return LM_ENOMEM;
    L->threads = o.threads ? o.threads : 1;
    const char *qp = NULL, *dp = NULL;
    size_t maxpre = 0;
    char rev[9], name[LM__EMBED_ID_MAX], id[LM__EMBED_ID_MAX + 40];
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, local_embed, local_free};
    if ((rc = read_config(L, model_dir)) < 0 || (rc = read_modules(L, model_dir)) < 0 ||
        (rc = read_tokenizer(L, model_dir)) < 0 ||
        (rc = read_st_config(L, model_dir, &qp, &dp, &stcfg)) < 0)
        goto fail;
    if (o.query_prefix != NULL)
        qp = o.query_prefix;
    if (o.max_tokens != 0) {
        if (o.max_tokens < 8 || o.max_tokens > (size_t)L->m.max_pos) {
            rc = lm__error_set_field(LM_EINVAL, "max_tokens",
                                     "max_tokens %zu is out of range (8 to %d for this model)",
                                     o.max_tokens, L->m.max_pos);
            goto fail;
        }
        L->window = (int)o.max_tokens;
    }
    if ((rc = encode_prefix(L, qp, &L->qprefix, &L->n_qprefix)) < 0 ||
        (rc = encode_prefix(L, dp, &L->dprefix, &L->n_dprefix)) < 0)
        goto fail;
    maxpre = L->n_qprefix > L->n_dprefix ? L->n_qprefix : L->n_dprefix;
    if (maxpre + 2 + 4 > (size_t)L->window) {
        rc = lm__error_set(LM_EINVAL, "the query or document prefix of model \"%s\" leaves no "
                                      "room in a window of %d tokens", model_dir, L->window);
        goto fail;
    }
    if ((wpath = path_join(model_dir, "model.safetensors")) == NULL) {
        rc = LM_ENOMEM;
        goto fail;
    }
    if ((rc = lm__st_open(&L->st, wpath)) < 0 ||
        (rc = lm__bert_load(&L->m, &L->st, o.int8, simd)) < 0)
        goto fail;
    if ((rc = revision(rev, model_dir, L, qp, dp)) < 0)
        goto fail;
    model_name(name, sizeof(name), model_dir, o.model_name);
    snprintf(id, sizeof(id), "local:%s:%s:%d%s", name, rev, L->m.hidden, o.int8 ? "-q8" : "");
    if ((rc = lm__embedder_new(out, "local", id, name, L->m.hidden, 1, &ops, L)) < 0)
        goto fail;
    (*out)->embed_query = local_embed_query;
    json_decref(stcfg);
    lm__free(wpath);
    return 0;
fail:
    json_decref(stcfg);
    lm__free(wpath);
    local_free(L);
    return rc;
}

const lm__bert *lm__local_model(const lm_embedder *e)
{
    return e != NULL && strcmp(e->kind, "local") == 0 ? &((const local *)e->self)->m : NULL;
}

const lm__tok *lm__local_tok(const lm_embedder *e)
{
    return e != NULL && strcmp(e->kind, "local") == 0 ? &((const local *)e->self)->tok : NULL;
}

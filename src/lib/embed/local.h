/*
 * embed/local.h: internals of the local encoder (lm_embedder_local_new): the safetensors reader
 * (local_st.c), the BERT tokenizer (local_tok.c, tables in the generated local_unicode.c), the
 * matrix kernels with run-time SIMD dispatch (local_gemm.c) and the transformer forward pass
 * (local_model.c); local.c ties them into an lm_embedder.
 */
#ifndef LM_EMBED_LOCAL_H
#define LM_EMBED_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- Unicode tables (generated) -------------------------------------------------------------- */

#define LM__UNI_CONTROL 1 /* general category C* */
#define LM__UNI_SPACE   2 /* Zs */
#define LM__UNI_PUNCT   4 /* P* */
#define LM__UNI_MARK    8 /* Mn */

typedef struct lm__uni_range {
    uint32_t lo, hi;
    uint8_t cls;
} lm__uni_range;
typedef struct lm__uni_map {
    uint32_t cp;
    uint32_t off, n; /* in lm__uni_strip_pool */
} lm__uni_map;
typedef struct lm__uni_pair {
    uint32_t cp, to;
} lm__uni_pair;

extern const lm__uni_range lm__uni_classes[];
extern const size_t lm__uni_classes_n;
extern const uint32_t lm__uni_strip_pool[];
extern const lm__uni_map lm__uni_strip[];
extern const size_t lm__uni_strip_n;
extern const lm__uni_pair lm__uni_lower[];
extern const size_t lm__uni_lower_n;

/* ---- safetensors ----------------------------------------------------------------------------- */

enum { LM__ST_F32 = 1, LM__ST_F16 = 2, LM__ST_BF16 = 3, LM__ST_OTHER = 4 };

typedef struct lm__st_tensor {
    char *name;
    int dtype;
    int ndim;
    int64_t shape[4];
    const unsigned char *data; /* inside the mapping */
    size_t nbytes;
} lm__st_tensor;

typedef struct lm__st_file {
    char *path;
    void *map;
    size_t size;
    lm__st_tensor *t;
    size_t n;
} lm__st_file;

/* Map and validate @p path (header JSON, dtypes, shapes, offsets). Errors name the file. */
int lm__st_open(lm__st_file *f, const char *path);
void lm__st_close(lm__st_file *f);
/* The tensor called @p name, also tried as "bert." + name; NULL when absent. */
const lm__st_tensor *lm__st_find(const lm__st_file *f, const char *name);
/*
 * F32 view of a tensor of @p nelem elements: in place when it is aligned F32 (*owned = NULL),
 * else a converted copy (F16, BF16) in *owned. Errors name the file and the tensor.
 */
int lm__st_f32(const lm__st_file *f, const char *name, size_t nelem, const float **out,
               float **owned);
/* Tell the kernel the mapped bytes of @p t are not needed any more (after packing). */
void lm__st_release(const lm__st_file *f, const lm__st_tensor *t);

/* ---- tokenizer ------------------------------------------------------------------------------- */

typedef struct lm__vocab_ent {
    uint32_t hash;
    int32_t id; /* -1: empty slot */
    uint32_t off, len;
} lm__vocab_ent;

typedef struct lm__tok {
    char *strings; /* all tokens, NUL-separated */
    size_t strings_len;
    lm__vocab_ent *slots;
    size_t cap; /* power of two */
    int32_t n_vocab;
    int32_t unk, cls, sep, pad;
    int lower;        /* do_lower_case */
    int strip;        /* strip accents */
    int chinese;      /* tokenize_chinese_chars */
    int max_word;     /* 100 */
} lm__tok;

/* Vocabulary from vocab.txt (one token per line, id = line number). */
int lm__tok_load_vocab_txt(lm__tok *t, const char *path);
/* Vocabulary and normaliser settings from a tokenizer.json with a WordPiece model. */
int lm__tok_load_tokenizer_json(lm__tok *t, const char *path);
void lm__tok_free(lm__tok *t);
int32_t lm__tok_id(const lm__tok *t, const char *s, size_t len);
/*
 * Tokenize @p text (any bytes; invalid UTF-8 is dropped like U+FFFD) into word-piece ids,
 * without [CLS]/[SEP]. *ids is grown with lm__realloc. Returns 0 or LM_ENOMEM.
 */
int lm__tok_encode(const lm__tok *t, const char *text, size_t len, int32_t **ids, size_t *n,
                   size_t *cap);

/* ---- kernels --------------------------------------------------------------------------------- */

enum { LM__SIMD_PORTABLE = 0, LM__SIMD_AVX2 = 1, LM__SIMD_AVX512 = 2 };
/* Best level of this CPU (AVX2 needs FMA too; AVX-512 needs F, BW, DQ, VL). */
int lm__simd_detect(void);
/* 1 when the CPU has AVX-512 VNNI (int8 dot products). */
int lm__simd_has_vnni(void);
const char *lm__simd_name(int level);

#define LM__NR 16 /* columns per packed panel */

/* A linear layer y = x W^T + b with W [n x k] packed into panels of LM__NR columns. */
typedef struct lm__lin {
    int n, k;
    float *w;           /* fp32 panels: ceil(n/16) x k x 16 (NULL when int8) */
    int8_t *q;          /* int8 panels: ceil(n/16) x kp/4 x 16 x 4, kp = k rounded up to 4 */
    float *qscale;      /* n: weight scale per output channel */
    int32_t *qsum;      /* n: sum of the int8 weights per output channel */
    const float *bias;  /* n, or NULL */
    void *raw;          /* allocation holding w or q */
} lm__lin;

/* Pack W [n x k] (row stride ldw) into @p l (fp32 or int8). Returns 0 or LM_ENOMEM. */
int lm__lin_pack(lm__lin *l, const float *w, int n, int k, int ldw, const float *bias, int int8);
void lm__lin_free(lm__lin *l);

/* Epilogue of a product: c = alpha * (a b) + bias + residual; then exact GELU when gelu. */
typedef struct lm__epi {
    float alpha;
    const float *bias;     /* n or NULL */
    const float *res;      /* m x n (stride ldr) or NULL; may alias c */
    int ldr;
    int gelu;
} lm__epi;

/* Scratch for the kernels of one thread (grown on demand). */
typedef struct lm__scratch {
    void *a;
    size_t a_cap;
    void *b;
    size_t b_cap;
} lm__scratch;
void lm__scratch_free(lm__scratch *s);

/* c [m x n] (stride ldc) = epilogue(a [m x k] (stride lda) W^T). */
int lm__lin_apply(int simd, lm__scratch *s, const lm__lin *l, int m, const float *a, int lda,
                  float *c, int ldc, const lm__epi *e);
/* c [m x n] = epilogue(a [m x k] b^T) with b [n x k] (stride ldb) not packed (attention). */
int lm__gemm_nt(int simd, lm__scratch *s, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, float *c, int ldc, const lm__epi *e);
/* c [m x n] = epilogue(a [m x k] b) with b [k x n] (stride ldb) not packed (attention). */
int lm__gemm_nn(int simd, lm__scratch *s, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, float *c, int ldc, const lm__epi *e);
/* In-place LayerNorm of @p t rows of @p h floats with gain @p g and bias @p b. */
void lm__layernorm(int simd, float *x, int t, int h, const float *g, const float *b, float eps);
/* In-place softmax of each of @p m rows of @p n floats (stride ld). */
void lm__softmax_rows(int simd, float *x, int m, int n, int ld);

/* ---- the model ------------------------------------------------------------------------------- */

typedef struct lm__bert_layer {
    lm__lin qkv, ao, ff1, ff2;
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
} lm__bert_layer;

typedef struct lm__bert {
    int hidden, layers, heads, inter, max_pos, type_vocab, vocab;
    float eps;
    const float *word, *pos, *type, *eln_g, *eln_b;
    lm__bert_layer *layer;
    float **owned; /* converted copies to free */
    size_t n_owned;
    int simd;
    int int8;
} lm__bert;

/* Load the weights of @p cfg (config.json already checked) from @p st. */
int lm__bert_load(lm__bert *m, const lm__st_file *st, int int8, int simd);
void lm__bert_free(lm__bert *m);
/*
 * Forward pass of one sequence of @p t token ids (with [CLS]/[SEP]); the last hidden states
 * [t x hidden] go to @p hidden (caller-allocated).
 */
int lm__bert_forward(const lm__bert *m, lm__scratch *s, const int32_t *ids, int t, float *hidden);

/* ---- test hooks ------------------------------------------------------------------------------ */

struct lm_embedder;
/* The model and the tokenizer of a local embedder; NULL for other kinds. */
const lm__bert *lm__local_model(const struct lm_embedder *e);
const lm__tok *lm__local_tok(const struct lm_embedder *e);

#endif

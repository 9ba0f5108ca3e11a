/*
 * embed/local_model.c: the BERT encoder's forward pass. Embeddings (word + position + token
 * type 0) and LayerNorm; per layer: one fused Q/K/V projection, scaled dot-product attention per
 * head (one unpadded sequence, so no mask is needed), output projection + residual + LayerNorm,
 * feed-forward with exact (erf) GELU fused into the first product, + residual + LayerNorm.
 * Weights are read-only after loading, so one model serves any number of threads, each with its
 * own scratch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "embed/local.h"
#include "error.h"

static int keep_owned(lm__bert *m, float *p)
{
    if (p == NULL)
        return 0;
    float **n = lm__realloc(m->owned, (m->n_owned + 1) * sizeof(*n));
    if (n == NULL) {
        lm__free(p);
        return LM_ENOMEM;
    }
    m->owned = n;
    m->owned[m->n_owned++] = p;
    return 0;
}

/* A float tensor of @p nelem elements, trying the ".weight" name then the older ".gamma". */
static int get(lm__bert *m, const lm__st_file *st, const char *name, size_t nelem,
               const float **out)
{
    float *owned = NULL;
    char alt[256];
    const char *use = name;
    size_t l = strlen(name);
    if (lm__st_find(st, name) == NULL && l > 7 && l < sizeof(alt) - 8) {
        if (strcmp(name + l - 7, ".weight") == 0)
            snprintf(alt, sizeof(alt), "%.*s.gamma", (int)(l - 7), name);
        else if (strcmp(name + l - 5, ".bias") == 0)
            snprintf(alt, sizeof(alt), "%.*s.beta", (int)(l - 5), name);
        else
            alt[0] = '\0';
        if (alt[0] && lm__st_find(st, alt) != NULL)
            use = alt;
    }
    int rc = lm__st_f32(st, use, nelem, out, &owned);
    if (rc < 0)
        return rc;
    return keep_owned(m, owned);
}

/* Pack a linear layer from tensors "<pfx>.weight" [n x k] and "<pfx>.bias" [n]. */
static int linear(lm__bert *m, const lm__st_file *st, lm__lin *l, const char *pfx, int n, int k)
{
    char wn[256], bn[256];
    const float *w, *b;
    int rc;
    snprintf(wn, sizeof(wn), "%s.weight", pfx);
    snprintf(bn, sizeof(bn), "%s.bias", pfx);
    if ((rc = get(m, st, wn, (size_t)n * (size_t)k, &w)) < 0 ||
        (rc = get(m, st, bn, (size_t)n, &b)) < 0)
        return rc;
    if ((rc = lm__lin_pack(l, w, n, k, k, b, m->int8)) < 0)
        return rc;
    lm__st_release(st, lm__st_find(st, wn));
    return 0;
}

/* The fused Q/K/V projection: the three [h x h] matrices stacked into one [3h x h]. */
static int qkv(lm__bert *m, const lm__st_file *st, lm__lin *l, int li)
{
    static const char *const part[3] = {"query", "key", "value"};
    size_t h = (size_t)m->hidden;
    float *w = lm__malloc(3 * h * h * sizeof(float)), *bias = lm__malloc(3 * h * sizeof(float));
    int rc = 0;
    if (w == NULL || bias == NULL) {
        lm__free(w);
        lm__free(bias);
        return LM_ENOMEM;
    }
    for (int p = 0; p < 3 && rc == 0; p++) {
        char wn[256], bn[256];
        const float *pw, *pb;
        snprintf(wn, sizeof(wn), "encoder.layer.%d.attention.self.%s.weight", li, part[p]);
        snprintf(bn, sizeof(bn), "encoder.layer.%d.attention.self.%s.bias", li, part[p]);
        if ((rc = get(m, st, wn, h * h, &pw)) < 0 || (rc = get(m, st, bn, h, &pb)) < 0)
            break;
        memcpy(w + (size_t)p * h * h, pw, h * h * sizeof(float));
        memcpy(bias + (size_t)p * h, pb, h * sizeof(float));
        lm__st_release(st, lm__st_find(st, wn));
    }
    if (rc == 0)
        rc = lm__lin_pack(l, w, 3 * m->hidden, m->hidden, m->hidden, bias, m->int8);
    lm__free(w);
    if (rc < 0) {
        lm__free(bias);
        return rc;
    }
    return keep_owned(m, bias);
}

int lm__bert_load(lm__bert *m, const lm__st_file *st, int int8, int simd)
{
    int rc;
    size_t h = (size_t)m->hidden;
    m->int8 = int8;
    m->simd = simd;
    if ((m->layer = lm__calloc((size_t)m->layers, sizeof(*m->layer))) == NULL)
        return LM_ENOMEM;
    if ((rc = get(m, st, "embeddings.word_embeddings.weight", (size_t)m->vocab * h, &m->word)) <
            0 ||
        (rc = get(m, st, "embeddings.position_embeddings.weight", (size_t)m->max_pos * h,
                  &m->pos)) < 0 ||
        (rc = get(m, st, "embeddings.token_type_embeddings.weight", (size_t)m->type_vocab * h,
                  &m->type)) < 0 ||
        (rc = get(m, st, "embeddings.LayerNorm.weight", h, &m->eln_g)) < 0 ||
        (rc = get(m, st, "embeddings.LayerNorm.bias", h, &m->eln_b)) < 0)
        return rc;
    for (int i = 0; i < m->layers; i++) {
        lm__bert_layer *L = &m->layer[i];
        char p[128], q[128];
        if ((rc = qkv(m, st, &L->qkv, i)) < 0)
            return rc;
        snprintf(p, sizeof(p), "encoder.layer.%d.attention.output.dense", i);
        if ((rc = linear(m, st, &L->ao, p, m->hidden, m->hidden)) < 0)
            return rc;
        snprintf(p, sizeof(p), "encoder.layer.%d.attention.output.LayerNorm.weight", i);
        snprintf(q, sizeof(q), "encoder.layer.%d.attention.output.LayerNorm.bias", i);
        if ((rc = get(m, st, p, h, &L->ln1_g)) < 0 || (rc = get(m, st, q, h, &L->ln1_b)) < 0)
            return rc;
        snprintf(p, sizeof(p), "encoder.layer.%d.intermediate.dense", i);
        if ((rc = linear(m, st, &L->ff1, p, m->inter, m->hidden)) < 0)
            return rc;
        snprintf(p, sizeof(p), "encoder.layer.%d.output.dense", i);
        if ((rc = linear(m, st, &L->ff2, p, m->hidden, m->inter)) < 0)
            return rc;
        snprintf(p, sizeof(p), "encoder.layer.%d.output.LayerNorm.weight", i);
        snprintf(q, sizeof(q), "encoder.layer.%d.output.LayerNorm.bias", i);
        if ((rc = get(m, st, p, h, &L->ln2_g)) < 0 || (rc = get(m, st, q, h, &L->ln2_b)) < 0)
            return rc;
    }
    return 0;
}

void lm__bert_free(lm__bert *m)
{
    if (m == NULL)
        return;
    if (m->layer != NULL)
        for (int i = 0; i < m->layers; i++) {
            lm__lin_free(&m->layer[i].qkv);
            lm__lin_free(&m->layer[i].ao);
            lm__lin_free(&m->layer[i].ff1);
            lm__lin_free(&m->layer[i].ff2);
        }
    lm__free(m->layer);
    for (size_t i = 0; i < m->n_owned; i++)
        lm__free(m->owned[i]);
    lm__free(m->owned);
    m->layer = NULL;
    m->owned = NULL;
    m->n_owned = 0;
}

int lm__bert_forward(const lm__bert *m, lm__scratch *s, const int32_t *ids, int t, float *x)
{
    int H = m->hidden, I = m->inter, nh = m->heads, d = H / nh, rc = 0;
    size_t th = (size_t)t * (size_t)H;
    float *buf = lm__malloc((3 * th + th + th + (size_t)t * (size_t)I + (size_t)t * (size_t)t) *
                            sizeof(float));
    if (buf == NULL)
        return LM_ENOMEM;
    float *qkvb = buf, *ctx = qkvb + 3 * th, *x1 = ctx + th, *ff = x1 + th,
          *sc = ff + (size_t)t * (size_t)I;

    for (int i = 0; i < t; i++) {
        const float *w = m->word + (size_t)ids[i] * (size_t)H, *p = m->pos + (size_t)i * (size_t)H;
        float *r = x + (size_t)i * (size_t)H;
        for (int j = 0; j < H; j++)
            r[j] = w[j] + p[j] + m->type[j];
    }
    lm__layernorm(m->simd, x, t, H, m->eln_g, m->eln_b, m->eps);
    float scale = 1.0f / sqrtf((float)d);
    for (int li = 0; li < m->layers && rc == 0; li++) {
        const lm__bert_layer *L = &m->layer[li];
        lm__epi plain = {1.0f, NULL, NULL, 0, 0};
        if ((rc = lm__lin_apply(m->simd, s, &L->qkv, t, x, H, qkvb, 3 * H, &plain)) < 0)
            break;
        for (int h = 0; h < nh; h++) {
            const float *q = qkvb + (size_t)h * (size_t)d, *k = q + H, *v = q + 2 * H;
            lm__epi es = {scale, NULL, NULL, 0, 0};
            if ((rc = lm__gemm_nt(m->simd, s, t, t, d, q, 3 * H, k, 3 * H, sc, t, &es)) < 0)
                break;
            lm__softmax_rows(m->simd, sc, t, t, t);
            if ((rc = lm__gemm_nn(m->simd, s, t, d, t, sc, t, v, 3 * H, ctx + (size_t)h * (size_t)d,
                                  H, &plain)) < 0)
                break;
        }
        if (rc < 0)
            break;
        lm__epi res1 = {1.0f, NULL, x, H, 0};
        if ((rc = lm__lin_apply(m->simd, s, &L->ao, t, ctx, H, x1, H, &res1)) < 0)
            break;
        lm__layernorm(m->simd, x1, t, H, L->ln1_g, L->ln1_b, m->eps);
        lm__epi gelu = {1.0f, NULL, NULL, 0, 1};
        if ((rc = lm__lin_apply(m->simd, s, &L->ff1, t, x1, H, ff, I, &gelu)) < 0)
            break;
        lm__epi res2 = {1.0f, NULL, x1, H, 0};
        if ((rc = lm__lin_apply(m->simd, s, &L->ff2, t, ff, I, x, H, &res2)) < 0)
            break;
        lm__layernorm(m->simd, x, t, H, L->ln2_g, L->ln2_b, m->eps);
    }
    lm__free(buf);
    return rc;
}

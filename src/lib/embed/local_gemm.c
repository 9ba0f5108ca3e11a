/*
 * embed/local_gemm.c: the matrix kernels of the local encoder, with run-time dispatch between a
 * portable C path, AVX2+FMA and AVX-512 (VNNI for int8). No global -m flags: each SIMD function
 * carries its own target attribute and is called only after the CPU check.
 *
 * Layout: a weight matrix W [n x k] (y = x W^T, as stored by PyTorch) is packed once at load
 * into panels of LM__NR = 16 output columns, k-major inside a panel, so that a micro-kernel
 * reads 16 consecutive weights per step. The left operand is packed per call into panels of MR
 * rows (12 for AVX-512, 6 for AVX2, 4 portable), zero-padded. A micro-kernel computes an
 * MR x 16 tile over the whole k; the epilogue applies scale, bias, residual and GELU.
 *
 * int8: weights are quantised at load per output channel (symmetric, scale = max|w| / 127);
 * activations are quantised per row at each call. Products are summed exactly in int32 on every
 * path, so all int8 paths agree bit for bit up to the float epilogue. AVX-512 VNNI adds unsigned
 * (activation + 128) x signed bytes and subtracts 128 x the weight sums afterwards; AVX2
 * multiplies |activation| by the weight carrying the activation's sign (maddubs, which cannot
 * saturate with both within +-127) and sums pairs with madd.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "embed/local.h"
#include "error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LM__X86 1
#else
#define LM__X86 0
#endif

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define T512V __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,fma")))
#define T256 __attribute__((target("avx2,fma")))

/* ---- CPU detection --------------------------------------------------------------------------- */

int lm__simd_detect(void)
{
#if LM__X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("fma"))
        return LM__SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return LM__SIMD_AVX2;
#endif
    return LM__SIMD_PORTABLE;
}

static int has_vnni;
static pthread_once_t vnni_once = PTHREAD_ONCE_INIT;
static void vnni_init(void)
{
#if LM__X86
    __builtin_cpu_init();
    has_vnni = __builtin_cpu_supports("avx512vnni") && lm__simd_detect() == LM__SIMD_AVX512;
#endif
}

int lm__simd_has_vnni(void)
{
    pthread_once(&vnni_once, vnni_init);
    return has_vnni;
}

const char *lm__simd_name(int level)
{
    return level == LM__SIMD_AVX512 ? "avx512" : level == LM__SIMD_AVX2 ? "avx2" : "portable";
}

static int mr_of(int simd)
{
    return simd == LM__SIMD_AVX512 ? 12 : simd == LM__SIMD_AVX2 ? 6 : 4;
}

void lm__scratch_free(lm__scratch *s)
{
    if (s == NULL)
        return;
    lm__free(s->a);
    lm__free(s->b);
    memset(s, 0, sizeof(*s));
}

static void *grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return *p;
    void *n = lm__malloc(need + 64);
    if (n == NULL)
        return NULL;
    lm__free(*p);
    *p = n;
    *cap = need;
    return n;
}

/* ---- scalar helpers -------------------------------------------------------------------------- */

static float gelu1(float x)
{
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

static void epi_scalar(float *c, const float *t, int cols, int j0, const lm__epi *e,
                       const float *res)
{
    for (int j = 0; j < cols; j++) {
        float v = e->alpha * t[j];
        if (e->bias)
            v += e->bias[j0 + j];
        if (res)
            v += res[j];
        if (e->gelu)
            v = gelu1(v);
        c[j] = v;
    }
}

/* ---- packing --------------------------------------------------------------------------------- */

static void pack_a(float *dst, const float *a, int lda, int m, int k, int mr)
{
    for (int p = 0; p < (m + mr - 1) / mr; p++) {
        float *d = dst + (size_t)p * (size_t)k * (size_t)mr;
        for (int i = 0; i < mr; i++) {
            int row = p * mr + i;
            if (row < m) {
                const float *src = a + (size_t)row * (size_t)lda;
                for (int kk = 0; kk < k; kk++)
                    d[(size_t)kk * (size_t)mr + (size_t)i] = src[kk];
            } else {
                for (int kk = 0; kk < k; kk++)
                    d[(size_t)kk * (size_t)mr + (size_t)i] = 0.0f;
            }
        }
    }
}

/* W [n x k] (rows are output columns) into panels of 16 columns. */
static void pack_bt(float *dst, const float *w, int n, int k, int ldw)
{
    for (int p = 0; p < (n + LM__NR - 1) / LM__NR; p++) {
        float *d = dst + (size_t)p * (size_t)k * LM__NR;
        for (int j = 0; j < LM__NR; j++) {
            int col = p * LM__NR + j;
            for (int kk = 0; kk < k; kk++)
                d[(size_t)kk * LM__NR + (size_t)j] = col < n ? w[(size_t)col * (size_t)ldw + (size_t)kk]
                                                             : 0.0f;
        }
    }
}

/* B [k x n] into the same panels. */
static void pack_b(float *dst, const float *b, int k, int n, int ldb)
{
    for (int p = 0; p < (n + LM__NR - 1) / LM__NR; p++) {
        float *d = dst + (size_t)p * (size_t)k * LM__NR;
        int cols = n - p * LM__NR < LM__NR ? n - p * LM__NR : LM__NR;
        for (int kk = 0; kk < k; kk++) {
            const float *src = b + (size_t)kk * (size_t)ldb + (size_t)p * LM__NR;
            float *dd = d + (size_t)kk * LM__NR;
            int j = 0;
            for (; j < cols; j++)
                dd[j] = src[j];
            for (; j < LM__NR; j++)
                dd[j] = 0.0f;
        }
    }
}

/* ---- fp32 micro-kernels: tile t [mr x 16] = a_panel (k x mr) * b_panel (k x 16) ------------ */

/* Portable: GNU C vector extensions (4 floats), which every GCC and Clang target lowers to its
 * own SIMD (SSE2, NEON, ...) or to scalar code; 4 rows x 16 columns = 16 accumulators. */
typedef float v4f __attribute__((vector_size(16)));

static v4f v4_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void kern_portable(int k, const float *a, const float *b, float *t)
{
    v4f c[4][4];
    memset(c, 0, sizeof(c));
    for (int kk = 0; kk < k; kk++) {
        const float *bk = b + (size_t)kk * LM__NR, *ak = a + (size_t)kk * 4;
        v4f b0 = v4_load(bk), b1 = v4_load(bk + 4), b2 = v4_load(bk + 8), b3 = v4_load(bk + 12);
        for (int i = 0; i < 4; i++) {
            v4f av = {ak[i], ak[i], ak[i], ak[i]};
            c[i][0] += av * b0;
            c[i][1] += av * b1;
            c[i][2] += av * b2;
            c[i][3] += av * b3;
        }
    }
    memcpy(t, c, sizeof(c));
}

#if LM__X86
T256 static void kern_avx2(int k, const float *a, const float *b, float *t)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int kk = 0; kk < k; kk++) {
        const float *bk = b + (size_t)kk * LM__NR, *ak = a + (size_t)kk * 6;
        __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8), av;
        av = _mm256_broadcast_ss(ak + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(ak + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(ak + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(ak + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(ak + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(ak + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    _mm256_storeu_ps(t + 0, c00);
    _mm256_storeu_ps(t + 8, c01);
    _mm256_storeu_ps(t + 16, c10);
    _mm256_storeu_ps(t + 24, c11);
    _mm256_storeu_ps(t + 32, c20);
    _mm256_storeu_ps(t + 40, c21);
    _mm256_storeu_ps(t + 48, c30);
    _mm256_storeu_ps(t + 56, c31);
    _mm256_storeu_ps(t + 64, c40);
    _mm256_storeu_ps(t + 72, c41);
    _mm256_storeu_ps(t + 80, c50);
    _mm256_storeu_ps(t + 88, c51);
}

#define FMA12(i) c##i = _mm512_fmadd_ps(_mm512_set1_ps(ak[i]), bv, c##i)
T512 static void kern_avx512(int k, const float *a, const float *b, float *t)
{
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (int kk = 0; kk < k; kk++) {
        const float *ak = a + (size_t)kk * 12;
        __m512 bv = _mm512_loadu_ps(b + (size_t)kk * LM__NR);
        FMA12(0);
        FMA12(1);
        FMA12(2);
        FMA12(3);
        FMA12(4);
        FMA12(5);
        FMA12(6);
        FMA12(7);
        FMA12(8);
        FMA12(9);
        FMA12(10);
        FMA12(11);
    }
    _mm512_storeu_ps(t + 0 * 16, c0);
    _mm512_storeu_ps(t + 1 * 16, c1);
    _mm512_storeu_ps(t + 2 * 16, c2);
    _mm512_storeu_ps(t + 3 * 16, c3);
    _mm512_storeu_ps(t + 4 * 16, c4);
    _mm512_storeu_ps(t + 5 * 16, c5);
    _mm512_storeu_ps(t + 6 * 16, c6);
    _mm512_storeu_ps(t + 7 * 16, c7);
    _mm512_storeu_ps(t + 8 * 16, c8);
    _mm512_storeu_ps(t + 9 * 16, c9);
    _mm512_storeu_ps(t + 10 * 16, c10);
    _mm512_storeu_ps(t + 11 * 16, c11);
}
#undef FMA12

/* exp(x) for x in [-87, 88]: Cody-Waite reduction and a degree-6 polynomial (rel. err ~2e-7). */
T256 static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

T512 static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)),
                                  23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* Exact GELU 0.5 x (1 + erf(x / sqrt 2)), erf by Abramowitz-Stegun 7.1.26 (abs. err 1.5e-7). */
T256 static inline __m256 gelu256(__m256 x)
{
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 az = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 y = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                             _mm256_mul_ps(p, exp256(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), az), az))));
    __m256 erf = _mm256_or_ps(y, _mm256_and_ps(z, _mm256_set1_ps(-0.0f)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                         _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

T512 static inline __m512 gelu512(__m512 x)
{
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 az = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                             _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 y = _mm512_sub_ps(_mm512_set1_ps(1.0f),
                             _mm512_mul_ps(p, exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az))));
    __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(y),
        _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000u))));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x),
                         _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

T256 static void epi_avx2(float *c, const float *t, int cols, int j0, const lm__epi *e,
                          const float *res)
{
    if (cols < LM__NR) {
        float tmp[LM__NR], rr[LM__NR], bb[LM__NR];
        memset(tmp, 0, sizeof(tmp));
        memcpy(tmp, t, (size_t)cols * sizeof(float));
        lm__epi e2 = *e;
        if (res) {
            memset(rr, 0, sizeof(rr));
            memcpy(rr, res, (size_t)cols * sizeof(float));
        }
        if (e->bias) {
            memset(bb, 0, sizeof(bb));
            memcpy(bb, e->bias + j0, (size_t)cols * sizeof(float));
            e2.bias = bb;
        }
        float out[LM__NR];
        epi_avx2(out, tmp, LM__NR, 0, &e2, res ? rr : NULL);
        memcpy(c, out, (size_t)cols * sizeof(float));
        return;
    }
    for (int h = 0; h < 2; h++) {
        __m256 v = _mm256_mul_ps(_mm256_set1_ps(e->alpha), _mm256_loadu_ps(t + 8 * h));
        if (e->bias)
            v = _mm256_add_ps(v, _mm256_loadu_ps(e->bias + j0 + 8 * h));
        if (res)
            v = _mm256_add_ps(v, _mm256_loadu_ps(res + 8 * h));
        if (e->gelu)
            v = gelu256(v);
        _mm256_storeu_ps(c + 8 * h, v);
    }
}

T512 static void epi_avx512(float *c, const float *t, int cols, int j0, const lm__epi *e,
                            const float *res)
{
    __mmask16 m = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(e->alpha), _mm512_maskz_loadu_ps(m, t));
    if (e->bias)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e->bias + j0));
    if (res)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res));
    if (e->gelu)
        v = gelu512(v);
    _mm512_mask_storeu_ps(c, m, v);
}

T256 static void softmax_avx2(float *x, int n)
{
    float mx = -INFINITY;
    for (int j = 0; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    __m256 vm = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
        _mm256_storeu_ps(x + j, v);
        vs = _mm256_add_ps(vs, v);
    }
    float buf[8], s = 0;
    _mm256_storeu_ps(buf, vs);
    for (int i = 0; i < 8; i++)
        s += buf[i];
    for (; j < n; j++) {
        x[j] = expf(x[j] - mx);
        s += x[j];
    }
    __m256 inv = _mm256_set1_ps(1.0f / s);
    for (j = 0; j + 8 <= n; j += 8)
        _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), inv));
    for (; j < n; j++)
        x[j] *= 1.0f / s;
}

T512 static void softmax_avx512(float *x, int n)
{
    __m512 vm = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        vm = _mm512_mask_max_ps(vm, m, vm, _mm512_maskz_loadu_ps(m, x + j));
    }
    float mx = _mm512_reduce_max_ps(vm);
    __m512 vs = _mm512_setzero_ps(), vmx = _mm512_set1_ps(mx);
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        __m512 v = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), vmx));
        v = _mm512_maskz_mov_ps(m, v);
        _mm512_mask_storeu_ps(x + j, m, v);
        vs = _mm512_add_ps(vs, v);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vs));
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        _mm512_mask_storeu_ps(x + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), inv));
    }
}
#endif

static void softmax_portable(float *x, int n)
{
    float mx = -INFINITY, s = 0;
    for (int j = 0; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    for (int j = 0; j < n; j++) {
        x[j] = expf(x[j] - mx);
        s += x[j];
    }
    for (int j = 0; j < n; j++)
        x[j] /= s;
}

void lm__softmax_rows(int simd, float *x, int m, int n, int ld)
{
    for (int i = 0; i < m; i++) {
        float *row = x + (size_t)i * (size_t)ld;
#if LM__X86
        if (simd == LM__SIMD_AVX512) {
            softmax_avx512(row, n);
            continue;
        }
        if (simd == LM__SIMD_AVX2) {
            softmax_avx2(row, n);
            continue;
        }
#endif
        softmax_portable(row, n);
    }
}

/* LayerNorm of @p t rows of @p h floats in place: (x - mean) / sqrt(var + eps) * g + b. */
static void layernorm_portable(float *r, int h, const float *g, const float *b, float eps)
{
    double s = 0, ss = 0;
    for (int j = 0; j < h; j++)
        s += (double)r[j];
    double mean = s / h;
    for (int j = 0; j < h; j++) {
        double d = (double)r[j] - mean;
        ss += d * d;
    }
    float inv = (float)(1.0 / sqrt(ss / h + (double)eps)), mu = (float)mean;
    for (int j = 0; j < h; j++)
        r[j] = (r[j] - mu) * inv * g[j] + b[j];
}

#if LM__X86
T512 static void layernorm_avx512(float *r, int h, const float *g, const float *b, float eps)
{
    __m512 s = _mm512_setzero_ps();
    for (int j = 0; j < h; j += 16) {
        __mmask16 m = (__mmask16)(h - j >= 16 ? 0xFFFF : (1u << (h - j)) - 1);
        s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, r + j));
    }
    float mu = _mm512_reduce_add_ps(s) / (float)h;
    __m512 vmu = _mm512_set1_ps(mu), ss = _mm512_setzero_ps();
    for (int j = 0; j < h; j += 16) {
        __mmask16 m = (__mmask16)(h - j >= 16 ? 0xFFFF : (1u << (h - j)) - 1);
        __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, r + j), vmu);
        ss = _mm512_fmadd_ps(d, d, ss);
    }
    float inv = 1.0f / sqrtf(_mm512_reduce_add_ps(ss) / (float)h + eps);
    __m512 vinv = _mm512_set1_ps(inv);
    for (int j = 0; j < h; j += 16) {
        __mmask16 m = (__mmask16)(h - j >= 16 ? 0xFFFF : (1u << (h - j)) - 1);
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, r + j), vmu), vinv);
        d = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, g + j), _mm512_maskz_loadu_ps(m, b + j));
        _mm512_mask_storeu_ps(r + j, m, d);
    }
}
#endif

void lm__layernorm(int simd, float *x, int t, int h, const float *g, const float *b, float eps)
{
    for (int i = 0; i < t; i++) {
        float *r = x + (size_t)i * (size_t)h;
#if LM__X86
        if (simd == LM__SIMD_AVX512) {
            layernorm_avx512(r, h, g, b, eps);
            continue;
        }
#endif
        layernorm_portable(r, h, g, b, eps);
    }
}

typedef void (*kern_fn)(int, const float *, const float *, float *);
typedef void (*epi_fn)(float *, const float *, int, int, const lm__epi *, const float *);

static void pick(int simd, kern_fn *k, epi_fn *ep)
{
    *k = kern_portable;
    *ep = epi_scalar;
#if LM__X86
    if (simd == LM__SIMD_AVX512) {
        *k = kern_avx512;
        *ep = epi_avx512;
    } else if (simd == LM__SIMD_AVX2) {
        *k = kern_avx2;
        *ep = epi_avx2;
    }
#endif
}

/* Apply the epilogue to tile rows [i0, i0 + rows) x panel columns [j0, j0 + cols). */
static void epi_tile(epi_fn ep, float *c, int ldc, const float *tile, int i0, int rows, int j0,
                     int cols, const lm__epi *e)
{
    for (int i = 0; i < rows; i++) {
        const float *res =
            e->res ? e->res + (size_t)(i0 + i) * (size_t)e->ldr + (size_t)j0 : NULL;
        ep(c + (size_t)(i0 + i) * (size_t)ldc + (size_t)j0, tile + (size_t)i * LM__NR, cols, j0,
           e, res);
    }
}

/* The fp32 driver over a packed B. */
static int gemm_packed(int simd, lm__scratch *s, int m, int n, int k, const float *a, int lda,
                       const float *bp, float *c, int ldc, const lm__epi *e)
{
    int mr = mr_of(simd), mp = (m + mr - 1) / mr;
    kern_fn kern;
    epi_fn ep;
    pick(simd, &kern, &ep);
    float *ap = grow(&s->a, &s->a_cap, (size_t)mp * (size_t)mr * (size_t)k * sizeof(float));
    if (ap == NULL)
        return LM_ENOMEM;
    pack_a(ap, a, lda, m, k, mr);
    float tile[12 * LM__NR];
    /* Columns in blocks of panels so that a block of B stays in L2 while A streams by. */
    int np = (n + LM__NR - 1) / LM__NR;
    for (int jp = 0; jp < np; jp++) {
        const float *b = bp + (size_t)jp * (size_t)k * LM__NR;
        int j0 = jp * LM__NR, cols = n - j0 < LM__NR ? n - j0 : LM__NR;
        for (int ip = 0; ip < mp; ip++) {
            int i0 = ip * mr, rows = m - i0 < mr ? m - i0 : mr;
            kern(k, ap + (size_t)ip * (size_t)mr * (size_t)k, b, tile);
            epi_tile(ep, c, ldc, tile, i0, rows, j0, cols, e);
        }
    }
    return 0;
}

int lm__gemm_nt(int simd, lm__scratch *s, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, float *c, int ldc, const lm__epi *e)
{
    size_t need = (size_t)((n + LM__NR - 1) / LM__NR) * LM__NR * (size_t)k * sizeof(float);
    float *bp = grow(&s->b, &s->b_cap, need);
    if (bp == NULL)
        return LM_ENOMEM;
    pack_bt(bp, b, n, k, ldb);
    return gemm_packed(simd, s, m, n, k, a, lda, bp, c, ldc, e);
}

int lm__gemm_nn(int simd, lm__scratch *s, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, float *c, int ldc, const lm__epi *e)
{
    size_t need = (size_t)((n + LM__NR - 1) / LM__NR) * LM__NR * (size_t)k * sizeof(float);
    float *bp = grow(&s->b, &s->b_cap, need);
    if (bp == NULL)
        return LM_ENOMEM;
    pack_b(bp, b, k, n, ldb);
    return gemm_packed(simd, s, m, n, k, a, lda, bp, c, ldc, e);
}

/* ---- linear layers --------------------------------------------------------------------------- */

static void *aligned_alloc64(size_t n, void **raw)
{
    *raw = lm__malloc(n + 64);
    if (*raw == NULL)
        return NULL;
    return (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
}

int lm__lin_pack(lm__lin *l, const float *w, int n, int k, int ldw, const float *bias, int int8)
{
    memset(l, 0, sizeof(*l));
    l->n = n;
    l->k = k;
    l->bias = bias;
    int np = (n + LM__NR - 1) / LM__NR;
    if (!int8) {
        l->w = aligned_alloc64((size_t)np * LM__NR * (size_t)k * sizeof(float), &l->raw);
        if (l->w == NULL)
            return LM_ENOMEM;
        pack_bt(l->w, w, n, k, ldw);
        return 0;
    }
    int kp = (k + 3) & ~3;
    l->q = aligned_alloc64((size_t)np * LM__NR * (size_t)kp, &l->raw);
    l->qscale = lm__calloc((size_t)n, sizeof(float));
    l->qsum = lm__calloc((size_t)n, sizeof(int32_t));
    if (l->q == NULL || l->qscale == NULL || l->qsum == NULL) {
        lm__lin_free(l);
        return LM_ENOMEM;
    }
    memset(l->q, 0, (size_t)np * LM__NR * (size_t)kp);
    for (int j = 0; j < n; j++) {
        const float *row = w + (size_t)j * (size_t)ldw;
        float mx = 0;
        for (int kk = 0; kk < k; kk++)
            mx = fabsf(row[kk]) > mx ? fabsf(row[kk]) : mx;
        float sc = mx > 0 ? mx / 127.0f : 1.0f;
        l->qscale[j] = sc;
        int p = j / LM__NR, jj = j % LM__NR;
        int8_t *dst = l->q + (size_t)p * LM__NR * (size_t)kp;
        int32_t sum = 0;
        for (int kk = 0; kk < k; kk++) {
            long v = lrintf(row[kk] / sc);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            dst[(size_t)(kk / 4) * 64 + (size_t)jj * 4 + (size_t)(kk % 4)] = (int8_t)v;
            sum += (int32_t)v;
        }
        l->qsum[j] = sum;
    }
    return 0;
}

void lm__lin_free(lm__lin *l)
{
    if (l == NULL)
        return;
    lm__free(l->raw);
    lm__free(l->qscale);
    lm__free(l->qsum);
    memset(l, 0, sizeof(*l));
}

/* ---- int8 kernels: int32 tile [mr x 16] of (quantised a) . (quantised w) ---------------------- */

/* Portable: a is mr (4) rows of kp int8 (row stride kp). Loops shaped for the compiler's
 * vectoriser (plain C; O3 for these two kernels only). */
__attribute__((optimize("O3"))) static void qkern_portable(int kp, int mr, const int8_t *a,
                                                           const int8_t *b, int32_t *t)
{
    int32_t acc[4][LM__NR];
    memset(acc, 0, sizeof(acc));
    for (int g = 0; g < kp / 4; g++) {
        const int8_t *bg = b + (size_t)g * 64;
        for (int i = 0; i < 4; i++) {
            const int8_t *ar = a + (size_t)i * (size_t)kp + 4 * (size_t)g;
            int32_t a0 = ar[0], a1 = ar[1], a2 = ar[2], a3 = ar[3];
            for (int j = 0; j < LM__NR; j++)
                acc[i][j] += a0 * bg[4 * j] + a1 * bg[4 * j + 1] + a2 * bg[4 * j + 2] +
                             a3 * bg[4 * j + 3];
        }
    }
    for (int i = 0; i < mr; i++)
        memcpy(t + i * LM__NR, acc[i], sizeof(acc[i]));
}

#if LM__X86
/* AVX2: a packed as [g][4 rows][4 int8]. |a| (unsigned) times w with a's sign moved onto it:
 * pairs of products stay within int16 (2 x 127 x 127 < 32767), so maddubs never saturates, and
 * madd with ones sums the pairs: exact int32 sums, as on the other paths. */
T256 static void qkern_avx2(int kp, const int32_t *a, const int8_t *b, int32_t *t)
{
    __m256i acc[4][2];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int i = 0; i < 4; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (int g = 0; g < kp / 4; g++) {
        const int8_t *bg = b + (size_t)g * 64;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)bg);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(bg + 32));
        const int32_t *ag = a + (size_t)g * 4;
        for (int i = 0; i < 4; i++) {
            __m256i va = _mm256_set1_epi32(ag[i]), au = _mm256_abs_epi8(va);
            __m256i p0 = _mm256_maddubs_epi16(au, _mm256_sign_epi8(b0, va));
            __m256i p1 = _mm256_maddubs_epi16(au, _mm256_sign_epi8(b1, va));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(p0, ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(p1, ones));
        }
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_si256((__m256i *)(void *)(t + i * LM__NR), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(void *)(t + i * LM__NR + 8), acc[i][1]);
    }
}

/* AVX-512 VNNI: a packed as [g][12 rows][4 uint8 = q + 128]. */
#define DP12(i)                                                                                    \
    c##i = _mm512_dpbusd_epi32(c##i, _mm512_set1_epi32(ag[i]), bv)
T512V static void qkern_vnni(int kp, const int32_t *a, const int8_t *b, int32_t *t)
{
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
            c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (int g = 0; g < kp / 4; g++) {
        const int32_t *ag = a + (size_t)g * 12;
        __m512i bv = _mm512_loadu_si512((const void *)(b + (size_t)g * 64));
        DP12(0);
        DP12(1);
        DP12(2);
        DP12(3);
        DP12(4);
        DP12(5);
        DP12(6);
        DP12(7);
        DP12(8);
        DP12(9);
        DP12(10);
        DP12(11);
    }
    _mm512_storeu_si512((void *)(t + 0 * 16), c0);
    _mm512_storeu_si512((void *)(t + 1 * 16), c1);
    _mm512_storeu_si512((void *)(t + 2 * 16), c2);
    _mm512_storeu_si512((void *)(t + 3 * 16), c3);
    _mm512_storeu_si512((void *)(t + 4 * 16), c4);
    _mm512_storeu_si512((void *)(t + 5 * 16), c5);
    _mm512_storeu_si512((void *)(t + 6 * 16), c6);
    _mm512_storeu_si512((void *)(t + 7 * 16), c7);
    _mm512_storeu_si512((void *)(t + 8 * 16), c8);
    _mm512_storeu_si512((void *)(t + 9 * 16), c9);
    _mm512_storeu_si512((void *)(t + 10 * 16), c10);
    _mm512_storeu_si512((void *)(t + 11 * 16), c11);
}
#undef DP12
#endif

/* Quantise row @p a of k floats to int8 (symmetric); returns the scale. */
static float quant_row(const float *a, int k, int8_t *q)
{
    float mx = 0;
    for (int kk = 0; kk < k; kk++)
        mx = fabsf(a[kk]) > mx ? fabsf(a[kk]) : mx;
    float sc = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / sc;
    for (int kk = 0; kk < k; kk++) {
        long v = lrintf(a[kk] * inv);
        q[kk] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    return sc;
}

#if LM__X86
T512 static float quant_row_avx512(const float *a, int k, int8_t *q)
{
    __m512 mx = _mm512_setzero_ps();
    for (int j = 0; j < k; j += 16) {
        __mmask16 m = (__mmask16)(k - j >= 16 ? 0xFFFF : (1u << (k - j)) - 1);
        mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, a + j)));
    }
    float mxs = _mm512_reduce_max_ps(mx);
    float sc = mxs > 0 ? mxs / 127.0f : 1.0f, inv = 1.0f / sc;
    __m512 vinv = _mm512_set1_ps(inv);
    __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int j = 0; j < k; j += 16) {
        __mmask16 m = (__mmask16)(k - j >= 16 ? 0xFFFF : (1u << (k - j)) - 1);
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + j), vinv));
        v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
        _mm512_mask_cvtepi32_storeu_epi8(q + j, m, v);
    }
    return sc;
}

/* int32 tile row -> floats (scales, VNNI offset) -> the usual epilogue. */
T512 static void q8_epi_avx512(float *c, const int32_t *it, int cols, int j0, const lm__epi *e,
                               const float *res, float sa, const lm__lin *l, int vnni)
{
    __mmask16 m = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
    __m512i v = _mm512_loadu_si512((const void *)it);
    if (vnni)
        v = _mm512_sub_epi32(v, _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, l->qsum + j0), 7));
    __m512 f = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(sa)),
                             _mm512_maskz_loadu_ps(m, l->qscale + j0));
    f = _mm512_mul_ps(_mm512_set1_ps(e->alpha), f);
    if (e->bias)
        f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(m, e->bias + j0));
    if (res)
        f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(m, res));
    if (e->gelu)
        f = gelu512(f);
    _mm512_mask_storeu_ps(c, m, f);
}
#endif

static int lin_apply_q8(int simd, lm__scratch *s, const lm__lin *l, int m, const float *a,
                        int lda, float *c, int ldc, const lm__epi *e)
{
    int k = l->k, kp = (k + 3) & ~3, n = l->n;
    int vnni = simd == LM__SIMD_AVX512 && lm__simd_has_vnni();
    int mr = vnni ? 12 : 4;
    int mp = (m + mr - 1) / mr;
    /* rows quantised (int8, stride kp) + scales, then the kernel's packing of them */
    size_t qbytes = (size_t)mp * (size_t)mr * (size_t)kp;
    size_t need = qbytes + (size_t)mp * (size_t)mr * sizeof(float) + qbytes + 128;
    unsigned char *buf = grow(&s->a, &s->a_cap, need);
    if (buf == NULL)
        return LM_ENOMEM;
    int8_t *q = (int8_t *)buf;
    float *sc = (float *)(void *)(buf + ((qbytes + 15) & ~(size_t)15));
    unsigned char *pk = (unsigned char *)(sc + (size_t)mp * (size_t)mr);
    pk = (unsigned char *)(((uintptr_t)pk + 63) & ~(uintptr_t)63);
    memset(q, 0, qbytes);
    for (int i = 0; i < mp * mr; i++) {
        int8_t *qr = q + (size_t)i * (size_t)kp;
        const float *ar = a + (size_t)i * (size_t)lda;
#if LM__X86
        if (simd == LM__SIMD_AVX512) {
            sc[i] = i < m ? quant_row_avx512(ar, k, qr) : 0.0f;
            continue;
        }
#endif
        sc[i] = i < m ? quant_row(ar, k, qr) : 0.0f;
    }
#if LM__X86
    if (vnni) {
        /* [g][12 rows][4 bytes], each byte + 128 (a flip of its top bit) */
        uint32_t *d = (uint32_t *)(void *)pk;
        for (int p = 0; p < mp; p++) {
            const int8_t *rows = q + (size_t)p * 12 * (size_t)kp;
            for (int g = 0; g < kp / 4; g++)
                for (int i = 0; i < 12; i++) {
                    uint32_t w;
                    memcpy(&w, rows + (size_t)i * (size_t)kp + 4 * (size_t)g, 4);
                    *d++ = w ^ 0x80808080u;
                }
        }
    } else if (simd != LM__SIMD_PORTABLE) {
        /* [g][4 rows][4 bytes] */
        uint32_t *d = (uint32_t *)(void *)pk;
        for (int p = 0; p < mp; p++) {
            const int8_t *rows = q + (size_t)p * 4 * (size_t)kp;
            for (int g = 0; g < kp / 4; g++)
                for (int i = 0; i < 4; i++)
                    memcpy(d++, rows + (size_t)i * (size_t)kp + 4 * (size_t)g, 4);
        }
    }
#endif
    kern_fn unused;
    epi_fn ep;
    pick(simd, &unused, &ep);
    int32_t it[12 * LM__NR];
    float tile[12 * LM__NR];
    int np = (n + LM__NR - 1) / LM__NR;
    for (int jp = 0; jp < np; jp++) {
        const int8_t *b = l->q + (size_t)jp * LM__NR * (size_t)kp;
        int j0 = jp * LM__NR, cols = n - j0 < LM__NR ? n - j0 : LM__NR;
        for (int ip = 0; ip < mp; ip++) {
            int i0 = ip * mr, rows = m - i0 < mr ? m - i0 : mr;
#if LM__X86
            if (vnni)
                qkern_vnni(kp, (const int32_t *)(const void *)(pk + (size_t)ip * 12 * (size_t)kp),
                           b, it);
            else if (simd != LM__SIMD_PORTABLE)
                qkern_avx2(kp, (const int32_t *)(const void *)(pk + (size_t)ip * 4 * (size_t)kp),
                           b, it);
            else
#endif
                qkern_portable(kp, mr, q + (size_t)i0 * (size_t)kp, b, it);
#if LM__X86
            if (simd == LM__SIMD_AVX512) {
                for (int i = 0; i < rows; i++) {
                    const float *res = e->res ? e->res + (size_t)(i0 + i) * (size_t)e->ldr +
                                                    (size_t)j0
                                              : NULL;
                    q8_epi_avx512(c + (size_t)(i0 + i) * (size_t)ldc + (size_t)j0,
                                  it + i * LM__NR, cols, j0, e, res, sc[i0 + i], l, vnni);
                }
                continue;
            }
#endif
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) {
                    int32_t v = it[i * LM__NR + j];
                    if (vnni)
                        v -= 128 * l->qsum[j0 + j];
                    tile[i * LM__NR + j] = (float)v * sc[i0 + i] * l->qscale[j0 + j];
                }
            epi_tile(ep, c, ldc, tile, i0, rows, j0, cols, e);
        }
    }
    return 0;
}

int lm__lin_apply(int simd, lm__scratch *s, const lm__lin *l, int m, const float *a, int lda,
                  float *c, int ldc, const lm__epi *e)
{
    lm__epi ee = *e;
    if (ee.bias == NULL)
        ee.bias = l->bias;
    if (l->q != NULL)
        return lin_apply_q8(simd, s, l, m, a, lda, c, ldc, &ee);
    return gemm_packed(simd, s, m, l->n, l->k, a, lda, l->w, c, ldc, &ee);
}

// CKernels — the sentence encoders' f32 ops: attention softmax rows and erf-GELU (BERT, XLM-R).
// Unlike ops.c these reproduce no other implementation's bits: the encoders are checked by cosine
// against their references, so the vector forms only need to be close to libm (exp relative error
// ≈ 2e-7, erf absolute error ≈ 2e-7). They are here, not in Swift, for FMA and 512-bit registers:
// Swift's SIMD16 code compiled for Haswell split each operation in two ymm halves, spilled the
// polynomial's constants and did not fuse a*b+c, and the softmax of e5's 256-token attention was
// 11 % of an ingest's time.
#include "ck-internal.h"

// ---------------------------------------------------------------- plain C

static float softmax_unnormalized_scalar(float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - mx); sum += x[i]; }
    return 1.0f / sum;
}

static inline float gelu_erf(float x) { return x * 0.5f * (1.0f + erff(x * 0.70710678118654752f)); }

static void bias_gelu_erf_scalar(float *x, const float *bias, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * n;
        for (int i = 0; i < n; i++) row[i] = gelu_erf(row[i] + (bias ? bias[i] : 0.0f));
    }
}

#if CK_X86
// The vector forms' polynomials, shared by both widths (Horner's rule, highest degree first).
// e^x for x ≤ 88.3: n = round(x / ln 2), r = x − n·ln 2 in two parts (Cody–Waite, |r| ≤ ln2/2),
// e^r by its degree-7 Taylor polynomial (error < 2e-8), times 2^n. Inputs below −87.3 give
// e^−87.3 (≈ 1e-38), which every caller sums or multiplies away.
#define EXP_FLOOR (-87.3f)
#define EXP_LOG2E 1.44269504f
#define EXP_LN2_HI 0.693145751953125f
#define EXP_LN2_LO 1.428606765330187e-06f
static const float exp_taylor[8] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
// erf(|x|) = 1 − t·P(t)·e^(−x²), t = 1 / (1 + p·|x|): Abramowitz & Stegun 7.1.26 (absolute error
// ≤ 1.5e-7); erf is odd, so the result takes x's sign bit.
#define ERF_P 0.3275911f
static const float erf_poly[5] = {1.061405429f, -1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f};
#define SQRT1_2 0.70710678118654752f

// ---------------------------------------------------------------- AVX2 + FMA (8 lanes)

CK_AVX2 static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(EXP_FLOOR));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x));
    __m256 p = _mm256_set1_ps(exp_taylor[0]);
    for (int i = 1; i < 8; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_taylor[i]));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

CK_AVX2 static inline __m256 erf_avx2(__m256 x) {
    const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(ERF_P), a, one));
    __m256 p = _mm256_set1_ps(erf_poly[0]);
    for (int i = 1; i < 5; i++) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(erf_poly[i]));
    p = _mm256_mul_ps(p, t);
    const __m256 y = _mm256_fnmadd_ps(p, exp_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), a), a)), one);
    return _mm256_or_ps(y, sign);
}

CK_AVX2 static inline __m256 gelu_avx2(__m256 x) {
    const __m256 half = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(half, erf_avx2(_mm256_mul_ps(x, _mm256_set1_ps(SQRT1_2))), half);
}

CK_AVX2 static float softmax_unnormalized_avx2(float *x, int n) {
    const int nv = n & ~7;
    float mx = x[0];
    int i = 0;
    if (nv > 0) {
        __m256 m = _mm256_loadu_ps(x);
        for (i = 8; i < nv; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        mx = _mm_cvtss_f32(h);
    }
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const __m256 mv = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i < nv; i += 8) {
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float tail[8] = {0};
    if (i < n) {
        for (int j = 0; j < 8; j++) tail[j] = i + j < n ? x[i + j] - mx : -100.0f;
        const __m256 e = exp_avx2(_mm256_loadu_ps(tail));
        _mm256_storeu_ps(tail, e);
        for (int j = 0; i + j < n; j++) x[i + j] = tail[j];
        for (int j = n - i; j < 8; j++) tail[j] = 0;
        acc = _mm256_add_ps(acc, _mm256_loadu_ps(tail));
    }
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return 1.0f / _mm_cvtss_f32(s);
}

CK_AVX2 static void bias_gelu_erf_avx2(float *x, const float *bias, int rows, int n) {
    const int nv = n & ~7;
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * n;
        int i = 0;
        for (; i < nv; i += 8) {
            __m256 v = _mm256_loadu_ps(row + i);
            if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
            _mm256_storeu_ps(row + i, gelu_avx2(v));
        }
        for (; i < n; i++) row[i] = gelu_erf(row[i] + (bias ? bias[i] : 0.0f));
    }
}

// ---------------------------------------------------------------- AVX-512 (16 lanes, masked tails)

CK_VNNI static inline __m512 exp_avx512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(EXP_FLOOR));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x));
    __m512 p = _mm512_set1_ps(exp_taylor[0]);
    for (int i = 1; i < 8; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_taylor[i]));
    return _mm512_scalef_ps(p, n);
}

CK_VNNI static inline __m512 erf_avx512(__m512 x) {
    const __m512 a = _mm512_abs_ps(x);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(ERF_P), a, one));
    __m512 p = _mm512_set1_ps(erf_poly[0]);
    for (int i = 1; i < 5; i++) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(erf_poly[i]));
    p = _mm512_mul_ps(p, t);
    const __m512 y = _mm512_fnmadd_ps(p, exp_avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a)), one);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y),
                                               _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
}

CK_VNNI static inline __m512 gelu_avx512(__m512 x) {
    const __m512 half = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(half, erf_avx512(_mm512_mul_ps(x, _mm512_set1_ps(SQRT1_2))), half);
}

CK_VNNI static float softmax_unnormalized_avx512(float *x, int n) {
    const int nv = n & ~15;
    const __mmask16 tail = (__mmask16)((1u << (n - nv)) - 1);
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < nv; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    if (tail) m = _mm512_mask_max_ps(m, tail, m, _mm512_maskz_loadu_ps(tail, x + nv));
    const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(m));
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < nv; i += 16) {
        const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (tail) {
        const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + nv), mv));
        _mm512_mask_storeu_ps(x + nv, tail, e);
        acc = _mm512_mask_add_ps(acc, tail, acc, e);
    }
    return 1.0f / _mm512_reduce_add_ps(acc);
}

CK_VNNI static void bias_gelu_erf_avx512(float *x, const float *bias, int rows, int n) {
    const int nv = n & ~15;
    const __mmask16 tail = (__mmask16)((1u << (n - nv)) - 1);
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * n;
        for (int i = 0; i < nv; i += 16) {
            __m512 v = _mm512_loadu_ps(row + i);
            if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + i));
            _mm512_storeu_ps(row + i, gelu_avx512(v));
        }
        if (tail) {
            __m512 v = _mm512_maskz_loadu_ps(tail, row + nv);
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(tail, bias + nv));
            _mm512_mask_storeu_ps(row + nv, tail, gelu_avx512(v));
        }
    }
}
#endif

// ---------------------------------------------------------------- entry points

float ck_softmax_unnormalized(float *x, int n) {
    if (n <= 0) return 0;
#if CK_X86
    if (ck_has_vnni()) return softmax_unnormalized_avx512(x, n);
    if (ck_has_avx2()) return softmax_unnormalized_avx2(x, n);
#endif
    return softmax_unnormalized_scalar(x, n);
}

void ck_bias_gelu_erf(float *x, const float *bias, int rows, int n) {
#if CK_X86
    if (ck_has_vnni()) { bias_gelu_erf_avx512(x, bias, rows, n); return; }
    if (ck_has_avx2()) { bias_gelu_erf_avx2(x, bias, rows, n); return; }
#endif
    bias_gelu_erf_scalar(x, bias, rows, n);
}

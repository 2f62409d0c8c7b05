// CKernels — llama.cpp-faithful f32 ops: expf, SwiGLU, GELU, RMSNorm, fp16 softmax and rounding,
// GeGLU (the attention products are in ops-attention.c).
// The decoder's reference is llama.cpp's CPU backend on an AVX-512 machine. Its activations are
// re-quantised to int8 before every matrix product, so a last-bit difference anywhere upstream
// can flip an int8 rounding and the network amplifies it (measured: 1-4 % logit drift). These
// functions therefore reproduce that backend's rounding sequence (operation order, fp16
// roundings, the AVX-512 expf approximation) in portable C; the x_avx2 form next to an entry
// point gives the same bits as its plain C loop.
#include "ck-internal.h"
#include <stdlib.h>

// expf as ggml's AVX-512 ggml_v_expf computes it (range reduction by 2^n and a degree-5
// polynomial, after ARM's optimized-routines expf), one lane at a time.
float ck_expf_ggml(float x) {
    const float r = 0x1.8p23f;
    float z = fmaf(x, 0x1.715476p+0f, r);
    float n = z - r;
    float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    if (fabsf(n) > 192) return n <= 0 ? 0.0f : INFINITY;
    float u = b * b;
    float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                   fmaf(0x1.ffffecp-1f, b, 1.0f));
    return ldexpf(j, (int)n);
}

#if CK_X86
// 8 lanes of ck_expf_ggml (same operations; results below 2^-126 flush to 0, which no caller can
// observe: they vanish after the fp16 rounding of attention weights and in 1 + e).
CK_AVX2 static inline __m256 expf_ggml_avx2(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    // j * 2^n for -126 <= n <= 127 (exact: j is normal), else 0 / inf
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i in_range = _mm256_and_si256(_mm256_cmpgt_epi32(ni, _mm256_set1_epi32(-127)),
                                              _mm256_cmpgt_epi32(_mm256_set1_epi32(128), ni));
    const __m256 pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
    const __m256 res = _mm256_mul_ps(j, pow2);
    const __m256 alt = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(INFINITY));
    return _mm256_blendv_ps(alt, res, _mm256_castsi256_ps(in_range));
}

CK_AVX2 static void swiglu_avx2(float *gate, const float *up, int nv) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int i = 0; i < nv; i += 8) {
        __m256 x = _mm256_loadu_ps(gate + i);
        __m256 e = expf_ggml_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
}
#endif

// gate (n,) in place: gate = silu(gate) * up   (ggml_vec_swiglu_f32, AVX-512 path + scalar tail)
void ck_swiglu_ggml(float *gate, const float *up, int n) {
    const int nv = n & ~15;
#if CK_X86
    if (ck_has_avx2()) { swiglu_avx2(gate, up, nv); for (int i = nv; i < n; i++) { float x = gate[i]; gate[i] = (x / (1.0f + expf(-x))) * up[i]; } return; }
#endif
    for (int i = 0; i < nv; i++) {
        float x = gate[i];
        gate[i] = (x / (1.0f + ck_expf_ggml(0.0f - x))) * up[i];
    }
    for (int i = nv; i < n; i++) { float x = gate[i]; gate[i] = (x / (1.0f + expf(-x))) * up[i]; }
}

// GELU-tanh of one value as ggml_gelu_f32 evaluates it (GCC contracts a*b+c into fma).
float ck_gelu_ggml(float x) {
    const float a = 0.044715f, s = 0.79788456080286535587989211986876f;
    float inner = fmaf(a * x, x, 1.0f);
    return (0.5f * x) * (1.0f + tanhf((s * x) * inner));
}

// x (n,) -> out (n,) = x * (1/sqrt(mean(x^2) + eps)) * w   (ggml_compute_forward_rms_norm_f32)
void ck_rms_norm_ggml(float *out, const float *x, const float *w, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

// ---------------------------------------------------------------- fp16 softmax and rounding

#if CK_X86
// x[i] = fp16-rounded x[i] * s (F16C rounds to nearest even, as ck_fp32_to_fp16); returns the count done
CK_AVX2 static int scale_round_half_avx2(float *x, float s, int n) {
    const __m256 sv = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _MM_FROUND_TO_NEAREST_INT)));
    return i;
}

CK_AVX2 static void exp_sub_avx2(float *v, const float *x, float max) {
    __m256 m = _mm256_set1_ps(max);
    _mm256_storeu_ps(v, expf_ggml_avx2(_mm256_sub_ps(_mm256_loadu_ps(x), m)));
    _mm256_storeu_ps(v + 8, expf_ggml_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + 8), m)));
}
#endif

// x (n,) in place: softmax of the first n entries of a row whose other entries are masked (-inf),
// as ggml_compute_forward_soft_max_f32 (AVX-512: 16-lane chunks, ggml expf, double sum).
// Then each weight is rounded to fp16 (the next product converts it, as llama.cpp's F16 KV path).
void ck_softmax_ggml_f16(float *x, int n) {
    if (n <= 0) return;
    float max = -INFINITY;
    for (int i = 0; i < n; i++) if (x[i] > max) max = x[i];
    double sum = 0;
#if CK_X86
    const int avx2 = ck_has_avx2();
#endif
    for (int c = 0; c < n; c += 16) {
        float v[16];
#if CK_X86
        if (c + 16 <= n && avx2) {
            exp_sub_avx2(v, x + c, max);
            memcpy(x + c, v, sizeof v);
            sum += (double)reduce16(v);
            continue;
        }
#endif
        for (int k = 0; k < 16; k++) {
            v[k] = c + k < n ? ck_expf_ggml(x[c + k] - max) : 0.0f;
            if (c + k < n) x[c + k] = v[k];
        }
        sum += (double)reduce16(v);
    }
    const float inv = (float)(1.0 / sum);
    int i = 0;
#if CK_X86
    if (avx2) i = scale_round_half_avx2(x, inv, n);
#endif
    for (; i < n; i++) x[i] = h2f(f2h(x[i] * inv));
}

// x (n,) in place: each value rounded to the nearest fp16 (values beyond the fp16 range stay)
#if CK_X86
CK_AVX2 static void round_half_avx2(float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) x[i] = _cvtsh_ss(_cvtss_sh(x[i], 0));
}
#endif
void ck_round_half(float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { round_half_avx2(x, n); return; }
#endif
    for (int i = 0; i < n; i++) x[i] = h2f(f2h(x[i]));
}

// dst (n,) = src (n,) as fp16 bits, round to nearest even (what llama.cpp's F16 KV cache stores)
#if CK_X86
CK_AVX2 static void store_half_avx2(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = _cvtss_sh(src[i], 0);
}
#endif
void ck_store_half(uint16_t *dst, const float *src, int n) {
#if CK_X86
    if (ck_has_avx2()) { store_half_avx2(dst, src, n); return; }
#endif
    for (int i = 0; i < n; i++) dst[i] = f2h(src[i]);
}

// ---------------------------------------------------------------- GeGLU

// GELU-tanh of every fp16 input, rounded to fp16 (ggml's GGML_GELU_FP16 table)
static float *g_gelu_table = 0;
static const float *gelu_table(void) {
    float *t = __atomic_load_n(&g_gelu_table, __ATOMIC_ACQUIRE);
    if (t) return t;
    float *n = (float *)malloc(sizeof(float) * 65536);
    for (int i = 0; i < 65536; i++) {
        float x = h2f((uint16_t)i);
        n[i] = isfinite(x) ? h2f(f2h(ck_gelu_ggml(x))) : 0.0f;
    }
    float *expected = 0;
    if (!__atomic_compare_exchange_n(&g_gelu_table, &expected, n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) { free(n); return expected; }
    return n;
}

#if CK_X86
CK_AVX2 static uint16_t f2h_f16c(float x) { return _cvtss_sh(x, 0); }
#endif

// gate (n,) in place: gate = gelu(gate) * up, as ggml_vec_geglu_f32 with GGML_GELU_FP16
void ck_geglu_ggml(float *gate, const float *up, int n) {
    const float *t = gelu_table();
#if CK_X86
    const int f16c = ck_has_avx2();
#endif
    for (int i = 0; i < n; i++) {
        const float x = gate[i];
        float g;
        if (x <= -10.0f) g = 0.0f;
        else if (x >= 10.0f) g = x;
        else {
#if CK_X86
            uint16_t h = f16c ? f2h_f16c(x) : f2h(x);
#else
            uint16_t h = f2h(x);
#endif
            g = t[h];
        }
        gate[i] = g * up[i];
    }
}

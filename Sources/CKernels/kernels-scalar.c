// CKernels — plain C dot products and e5 GEMM: the reference forms, and the kernels of machines
// without AVX2. Each x_avx2 / x_vnni kernel (kernels-avx2.c, kernels-avx512.c) computes what its
// x_scalar twin here computes, with the same bits unless a comment there names the llama.cpp
// rounding order it follows instead.
#include "ck-internal.h"

// ---------------------------------------------------------------- dot products, one row
// w row (n weights) · act (n activations in the format of ck_act_kind)

float ck_dot_f32_scalar(int n, const float *w, const float *x) {
    float acc = 0;
    for (int i = 0; i < n; i++) acc += w[i] * x[i];
    return acc;
}

static float dot_f16_scalar(int n, const uint16_t *w, const float *x) {
    float acc = 0;
    for (int i = 0; i < n; i++) acc += h2f(w[i]) * x[i];
    return acc;
}

static float dot_bf16_scalar(int n, const uint16_t *w, const float *x) {
    float acc = 0;
    for (int i = 0; i < n; i++) acc += bf2f(w[i]) * x[i];
    return acc;
}

static float dot_q4_0_scalar(int n, const ck_block_q4_0 *x, const ck_q8_0 *a) {
    float acc = 0;
    for (int b = 0; b < n / 32; b++) {
        int s = 0;
        for (int j = 0; j < 16; j++) {
            s += ((x[b].qs[j] & 0xF) - 8) * a[b].qs[j] + ((x[b].qs[j] >> 4) - 8) * a[b].qs[j + 16];
        }
        acc += (float)s * (h2f(x[b].d) * a[b].d);
    }
    return acc;
}

static float dot_q4_1_scalar(int n, const ck_block_q4_1 *x, const ck_q8_0 *a) {
    float acc = 0;
    for (int b = 0; b < n / 32; b++) {
        int s = 0;
        for (int j = 0; j < 16; j++) s += (x[b].qs[j] & 0xF) * a[b].qs[j] + (x[b].qs[j] >> 4) * a[b].qs[j + 16];
        acc += (float)s * (h2f(x[b].d) * a[b].d) + h2f(x[b].m) * a[b].s;
    }
    return acc;
}

static float dot_q5_0_scalar(int n, const ck_block_q5_0 *x, const ck_q8_0 *a) {
    float acc = 0;
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

static float dot_q5_1_scalar(int n, const ck_block_q5_1 *x, const ck_q8_0 *a) {
    float acc = 0;
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

static float dot_q8_0_scalar(int n, const ck_block_q8_0 *x, const ck_q8_0 *a) {
    float acc = 0;
    for (int b = 0; b < n / 32; b++) {
        int s = 0;
        for (int j = 0; j < 32; j++) s += x[b].qs[j] * a[b].qs[j];
        acc += (float)s * (h2f(x[b].d) * a[b].d);
    }
    return acc;
}

static float dot_q4_K_scalar(int n, const ck_block_q4_K *x, const ck_q8_K *a) {
    float acc = 0;
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

static float dot_q5_K_scalar(int n, const ck_block_q5_K *x, const ck_q8_K *a) {
    float acc = 0;
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

static float dot_q6_K_scalar(int n, const ck_block_q6_K *x, const ck_q8_K *a) {
    float acc = 0;
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

// SIMD twin: ck_vec_dot_avx2
float ck_vec_dot_scalar(int type, int n, const void *row, const void *act) {
    switch (type) {
    case CK_F32: return ck_dot_f32_scalar(n, row, act);
    case CK_F16: return dot_f16_scalar(n, row, act);
    case CK_BF16: return dot_bf16_scalar(n, row, act);
    case CK_Q4_0: return dot_q4_0_scalar(n, row, act);
    case CK_Q4_1: return dot_q4_1_scalar(n, row, act);
    case CK_Q5_0: return dot_q5_0_scalar(n, row, act);
    case CK_Q5_1: return dot_q5_1_scalar(n, row, act);
    case CK_Q8_0: return dot_q8_0_scalar(n, row, act);
    case CK_Q4_K: return dot_q4_K_scalar(n, row, act);
    case CK_Q5_K: return dot_q5_K_scalar(n, row, act);
    case CK_Q6_K: return dot_q6_K_scalar(n, row, act);
    default: return 0;
    }
}

// y += a * x. SIMD twin: ck_axpy_f32_avx2
void ck_axpy_f32_scalar(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

// ---------------------------------------------------------------- e5 GEMM (repacked Q4_0)
// multilingual-e5's products: Q4_0 weights repacked by groups of 8 rows so that one 256-bit vector
// holds 4 consecutive weights of each of the 8 rows (lanes = rows; layout at E5_BLOCK_BYTES in
// ck-internal.h), times activations in the q8_0 layout with an f32 scale. Per output the arithmetic
// is e5.c's plain C path, exactly:
//   acc = 0; for each block b: acc = acc + (d_w * d_x) * (float)sum_j x_j (q_j - 8)
// (exact integer block sums; one mul, one mul, one add per block, in block order), so the AVX2
// kernel and this one give the same bits.
// SIMD twins: ck_e5_gemm_avx2, ck_e5_gemm_vnni
void ck_e5_gemm_scalar(float *out, size_t os, const void *packed, int r0, int r1, int cols, const void *acts,
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

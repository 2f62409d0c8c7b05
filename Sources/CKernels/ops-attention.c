// CKernels — llama.cpp-faithful attention products over an F16 KV cache (keys and values as fp16
// bits, queries as fp16-representable f32 values): the f16 dots in the one-token
// (ggml_vec_dot_f16) and prompt (tinyBLAS) orders, attention scores, values and grouped (GQA)
// prompt attention. Each fast form (x_avx2, x_vnni) sits next to the plain C form in its entry
// point, with the same bits (fp16 -> f32 is exact, so converting on load changes no sum).
#include "ck-internal.h"

#if CK_X86
// 8 or 16 fp16 values -> f32 lanes
CK_AVX2 static inline __m256 load8h(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
CK_VNNI static inline __m512 load16h(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
#endif

// ---------------------------------------------------------------- f16 dots

// a (n,) · b (n,), both already fp16-representable, in ggml_vec_dot_f16's AVX-512 order
// (4 accumulators of 16 lanes over 64-element steps, tree reduction, double tail).
#if CK_X86
CK_AVX2 static void lanes64_avx2(float *s, const float *a, const uint16_t *b, int np) {
    __m256 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int i = 0; i < np; i += 64)
        for (int k = 0; k < 8; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), load8h(b + i + 8 * k), acc[k]);
    for (int k = 0; k < 8; k++) _mm256_storeu_ps(s + 8 * k, acc[k]);
}
#endif

// (avx2: ck_has_avx2(), read once by the callers that loop over keys)
static float dot_f16_ggml(const float *a, const uint16_t *b, int n, int avx2) {
    float s[64] = {0};
    const int np = n & ~63;
#if CK_X86
    if (avx2) lanes64_avx2(s, a, b, np); else
#else
    (void)avx2;
#endif
    for (int i = 0; i < np; i += 64)
        for (int k = 0; k < 64; k++) s[k] = fmaf(a[i + k], h2f(b[i + k]), s[k]);
    double sum = reduce64(s);
    for (int i = np; i < n; i++) sum += (double)(a[i] * h2f(b[i]));
    return (float)sum;
}

float ck_dot_f16_ggml(const float *a, const uint16_t *b, int n) { return dot_f16_ggml(a, b, n, ck_has_avx2()); }

#if CK_X86
CK_AVX2 static float dot_f16_gemm_avx2(const float *a, const uint16_t *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8h(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load8h(b + i + 8), s1);
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

// a (n,) · b (n,), n a multiple of 16, as llama.cpp's prompt path computes it (llamafile tinyBLAS
// F16 GEMM on AVX-512: one 16-lane accumulator over the whole row, then the 16-lane reduction).
static float dot_f16_gemm_ggml(const float *a, const uint16_t *b, int n, int avx2) {
#if CK_X86
    if (avx2) return dot_f16_gemm_avx2(a, b, n);
#else
    (void)avx2;
#endif
    float s[16] = {0};
    for (int i = 0; i < n; i += 16)
        for (int k = 0; k < 16; k++) s[k] = fmaf(a[i + k], h2f(b[i + k]), s[k]);
    return reduce16(s);
}

float ck_dot_f16_gemm_ggml(const float *a, const uint16_t *b, int n) { return dot_f16_gemm_ggml(a, b, n, ck_has_avx2()); }

// ---------------------------------------------------------------- attention scores

#if CK_X86
// reduce16 of the 16 lanes of v, same additions in the same order
CK_VNNI static inline float reduce16_vnni(__m512 v) {
    __m256 t3 = _mm256_add_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
    __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    __m128 t8 = _mm_add_ps(t6, _mm_movehl_ps(t6, t6));
    return _mm_cvtss_f32(_mm_add_ss(t8, _mm_movehdup_ps(t8)));
}

// reduce16_vnni of 16 vectors at once: lane j of the result is the sum of v[j]'s lanes, by the same
// additions (each stage adds lane i and lane i + half: 8, 4, 2, 1), the 16 vectors transposed
// through the stages instead of one reduction each.
CK_VNNI static inline __m512 reduce16_x16_vnni(const __m512 *v) {
    __m512 w[8], x[4], y[2];
    // slot s holds key (s % 4) * 4 + s / 4, so that the stages leave key j in lane j
#define CK_SLOT(s) v[((s) & 3) * 4 + ((s) >> 2)]
    for (int i = 0; i < 8; i++)
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(CK_SLOT(2 * i), CK_SLOT(2 * i + 1), 0x44),
                             _mm512_shuffle_f32x4(CK_SLOT(2 * i), CK_SLOT(2 * i + 1), 0xEE));
#undef CK_SLOT
    for (int i = 0; i < 4; i++)
        x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88), _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; i++)
        y[i] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0x44), _mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xDD));
}

// ck_attn_scores_f16_gemm with 16 keys per pass (16 independent 16-lane fma chains in flight,
// reduced together), the rest one by one
CK_VNNI static void attn_scores_gemm_vnni(float *row, const float *q, const uint16_t *k, size_t stride, int span, int n, float scale) {
    int j = 0;
    for (; j + 16 <= span; j += 16) {
        const uint16_t *kj = k + (size_t)j * stride;
        __m512 a[16];
        for (int u = 0; u < 16; u++) a[u] = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i);
            for (int u = 0; u < 16; u++) a[u] = _mm512_fmadd_ps(qv, load16h(kj + (size_t)u * stride + i), a[u]);
        }
        _mm512_storeu_ps(row + j, _mm512_mul_ps(reduce16_x16_vnni(a), _mm512_set1_ps(scale)));
    }
    for (; j < span; j++) {
        const uint16_t *kj = k + (size_t)j * stride;
        __m512 a0 = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16h(kj + i), a0);
        row[j] = reduce16_vnni(a0) * scale;
    }
}

// One key's dot in ck_dot_f16_ggml's order on AVX-512: the 64 lanes in four 16-lane registers,
// reduce64's additions lane-wise (s[l] + s[32+l], s[16+l] + s[48+l], then their sum, reduce16),
// the last n % 64 products added in double.
CK_VNNI static inline float key_dot_vnni(const float *q, const uint16_t *kj, int n) {
    const int np = n & ~63;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < np; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16h(kj + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), load16h(kj + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 32), load16h(kj + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 48), load16h(kj + i + 48), a3);
    }
    double sum = (double)reduce16_vnni(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
    for (int i = np; i < n; i++) sum += (double)(q[i] * h2f(kj[i]));
    return (float)sum;
}

// ck_attn_scores_f16 on AVX-512 for G query heads (q + g * qs, scores at sc + g * scs) sharing the
// keys k_j = k + j * stride, each dot as key_dot_vnni. With n a multiple of 64 (at most 256), 16
// keys at a time: converted from fp16 once into kb (exact) for all the heads, each head's 16 sums
// reduced together (reduce16_x16_vnni: the same additions as reduce16_vnni each; no tail, so the
// double sum is the float one).
CK_VNNI static void attn_scores_vnni(float *sc, size_t scs, const float *q, size_t qs, int G, const uint16_t *k,
                                     size_t stride, int span, int n, float scale) {
    int j = 0;
    if (n % 64 == 0 && n <= 256) {
        float kb[16 * 256] __attribute__((aligned(64)));
        for (; j + 16 <= span; j += 16) {
            for (int u = 0; u < 16; u++)
                for (int i = 0; i < n; i += 16) _mm512_storeu_ps(kb + u * n + i, load16h(k + (size_t)(j + u) * stride + i));
            for (int g = 0; g < G; g++) {
                const float *qg = q + (size_t)g * qs;
                __m512 v[16];
                for (int u = 0; u < 16; u++) {
                    const float *kj = kb + u * n;
                    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                    for (int i = 0; i < n; i += 64) {
                        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + i), _mm512_loadu_ps(kj + i), a0);
                        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + i + 16), _mm512_loadu_ps(kj + i + 16), a1);
                        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + i + 32), _mm512_loadu_ps(kj + i + 32), a2);
                        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + i + 48), _mm512_loadu_ps(kj + i + 48), a3);
                    }
                    v[u] = _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3));
                }
                _mm512_storeu_ps(sc + (size_t)g * scs + j, _mm512_mul_ps(reduce16_x16_vnni(v), _mm512_set1_ps(scale)));
            }
        }
    }
    for (; j < span; j++)
        for (int g = 0; g < G; g++) sc[(size_t)g * scs + j] = key_dot_vnni(q + (size_t)g * qs, k + (size_t)j * stride, n) * scale;
}
#endif

// row[j] = dot(q, k_j) * scale for j < span (k_j = k + j * stride), each dot as ck_dot_f16_ggml
// (the one-token order)
void ck_attn_scores_f16(float *row, const float *q, const uint16_t *k, size_t stride, int span, int n, float scale) {
#if CK_X86
    if (ck_has_vnni()) { attn_scores_vnni(row, 0, q, 0, 1, k, stride, span, n, scale); return; }
#endif
    const int avx2 = ck_has_avx2();
    for (int j = 0; j < span; j++) row[j] = dot_f16_ggml(q, k + (size_t)j * stride, n, avx2) * scale;
}

// row[j] = dot(q, k_j) * scale for j < span (k_j = k + j * stride), each dot as ck_dot_f16_gemm_ggml
void ck_attn_scores_f16_gemm(float *row, const float *q, const uint16_t *k, size_t stride, int span, int n, float scale) {
#if CK_X86
    if (ck_has_vnni() && n % 16 == 0) { attn_scores_gemm_vnni(row, q, k, stride, span, n, scale); return; }
#endif
    const int avx2 = ck_has_avx2();
    for (int j = 0; j < span; j++) row[j] = dot_f16_gemm_ggml(q, k + (size_t)j * stride, n, avx2) * scale;
}

// ---------------------------------------------------------------- attention values

#if CK_X86
CK_AVX2 static void axpy_exact_avx2(float *a, float p, const uint16_t *v, int n) {
    __m256 pv = _mm256_set1_ps(p);
    int d = 0;
    for (; d + 8 <= n; d += 8) _mm256_storeu_ps(a + d, _mm256_fmadd_ps(pv, load8h(v + d), _mm256_loadu_ps(a + d)));
    for (; d < n; d++) a[d] = fmaf(p, h2f(v[d]), a[d]);
}

// ck_attn_v_ggml in the prompt order (16 lanes, lane k = t mod 16) with the 16 accumulators of 16
// dimensions in registers: each lane's fma chain runs over its positions in increasing order, as in
// the plain loop, and reduce16 is applied to 16 dimensions at once (same additions per dimension).
CK_VNNI static void attn_v16_vnni(float *out, const float *p, const uint16_t *v, size_t stride, int span, int vl) {
    for (int d0 = 0; d0 < vl; d0 += 16) {
        __m512 a[16];
        for (int k = 0; k < 16; k++) a[k] = _mm512_setzero_ps();
        const uint16_t *vd = v + d0;
        for (int base = 0; base < span; base += 16) {
            const int m = span - base < 16 ? span - base : 16;
            for (int k = 0; k < m; k++) {
                const float pt = p[base + k];
                if (pt != 0.0f) a[k] = _mm512_fmadd_ps(_mm512_set1_ps(pt), load16h(vd + (size_t)(base + k) * stride), a[k]);
            }
        }
        __m512 t3[8], t6[4];
        for (int i = 0; i < 8; i++) t3[i] = _mm512_add_ps(a[8 + i], a[i]);
        for (int i = 0; i < 4; i++) t6[i] = _mm512_add_ps(t3[4 + i], t3[i]);
        _mm512_storeu_ps(out + d0, _mm512_add_ps(_mm512_add_ps(t6[0], t6[2]), _mm512_add_ps(t6[1], t6[3])));
    }
}

// out[d] = reduce64 of the 64 lane accumulators acc[k * vl + d], 16 dimensions at a time
CK_VNNI static void reduce64_rows_vnni(float *out, const float *acc, int vl) {
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

// the one-token order (64 lanes): accumulators in scratch, 4 lanes x 64 dimensions per pass (other
// widths: 8 lanes x 16 dimensions)
CK_VNNI static void attn_v_acc_vnni(float *acc, const float *p, const uint16_t *v, size_t stride, int span, int vl, int L) {
    if (vl % 64 == 0) {
        // 4 lanes x 64 dimensions per pass (16 registers): each weight loaded and tested once per
        // 64 dimensions, each value row read as 256 contiguous bytes; every lane's fma chain still
        // runs over its positions in increasing order
        for (int d0 = 0; d0 < vl; d0 += 64) {
            for (int kb = 0; kb < L; kb += 4) {
                __m512 a[4][4];
                for (int kk = 0; kk < 4; kk++)
                    for (int c = 0; c < 4; c++) a[kk][c] = _mm512_setzero_ps();
                for (int base = 0; base + kb < span; base += L) {
                    for (int kk = 0; kk < 4; kk++) {
                        const int t = base + kb + kk;
                        if (t >= span) break;
                        const float pt = p[t];
                        if (pt == 0.0f) continue;
                        const __m512 pv = _mm512_set1_ps(pt);
                        const uint16_t *vt = v + (size_t)t * stride + d0;
                        for (int c = 0; c < 4; c++) a[kk][c] = _mm512_fmadd_ps(pv, load16h(vt + 16 * c), a[kk][c]);
                    }
                }
                for (int kk = 0; kk < 4; kk++)
                    for (int c = 0; c < 4; c++) _mm512_storeu_ps(acc + (size_t)(kb + kk) * vl + d0 + 16 * c, a[kk][c]);
            }
        }
        return;
    }
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
                    a[kk] = _mm512_fmadd_ps(_mm512_set1_ps(pt), load16h(v + (size_t)t * stride + d0), a[kk]);
                }
            }
            for (int kk = 0; kk < 8; kk++) _mm512_storeu_ps(acc + (size_t)(kb + kk) * vl + d0, a[kk]);
        }
    }
}
#endif

// out (vl,) = sum_t p[t] * V[t] (V rows `stride` floats apart, fp16-representable), in the
// order ggml_vec_dot_f16 sums a transposed V row over the KV cells (cell t -> lane t % 64).
// acc: scratch of 64 * vl floats.
void ck_attn_v_ggml(float *out, const float *p, const uint16_t *v, size_t stride, int span, int vl, float *acc, int lanes) {
    const int mask = lanes == 16 ? 15 : 63;
#if CK_X86
    if (ck_has_vnni() && vl % 16 == 0) {
        if (lanes == 16) { attn_v16_vnni(out, p, v, stride, span, vl); return; }
        attn_v_acc_vnni(acc, p, v, stride, span, vl, mask + 1);
        reduce64_rows_vnni(out, acc, vl);
        return;
    }
#endif
    memset(acc, 0, sizeof(float) * (size_t)(mask + 1) * (size_t)vl);
#if CK_X86
    const int avx2 = ck_has_avx2();
#endif
    for (int t = 0; t < span; t++) {
        const float pt = p[t];
        if (pt == 0.0f) continue;
        float *a = acc + (size_t)(t & mask) * vl;
        const uint16_t *vt = v + (size_t)t * stride;
#if CK_X86
        if (avx2) { axpy_exact_avx2(a, pt, vt, vl); continue; }
#endif
        for (int d = 0; d < vl; d++) a[d] = fmaf(pt, h2f(vt[d]), a[d]);
    }
    for (int d = 0; d < vl; d++) {
        float s[64];
        for (int k = 0; k <= mask; k++) s[k] = acc[(size_t)k * vl + d];
        out[d] = lanes == 16 ? reduce16(s) : (float)reduce64(s);
    }
}

// ---------------------------------------------------------------- grouped prompt attention

#if CK_X86
// Prompt attention of G query heads that share one KV head, at one position: each head's scores,
// fp16 softmax and values exactly as attn_scores_gemm_vnni / ck_softmax_ggml_f16 / attn_v16_vnni,
// but every K and V row is loaded once for the G heads (GQA) instead of once per head.
CK_VNNI static void attn_group_vnni(float *out, size_t os, const float *q, size_t qs, int G, const uint16_t *k, size_t ks,
                                    const uint16_t *v, size_t vs, int span, int masked, int kl, int vl, float scale, float *sc) {
    for (int g = 0; g < G; g++) for (int j = 0; j < masked; j++) sc[(size_t)g * span + j] = -INFINITY;
    // scores: 4 keys x G heads per pass (G <= 4: up to 16 independent chains, each key converted
    // once for all heads), the 16 sums reduced together (reduce16_x16_vnni: the same additions
    // as one reduce16_vnni each)
    int j = masked;
    for (; j + 4 <= span; j += 4) {
        __m512 a[16]; // slot 4g + kk: head g, key j + kk
        for (int s = 0; s < 16; s++) a[s] = _mm512_setzero_ps();
        for (int i = 0; i < kl; i += 16) {
            __m512 kv[4];
            for (int kk = 0; kk < 4; kk++) kv[kk] = load16h(k + (size_t)(j + kk) * ks + i);
            for (int g = 0; g < G; g++) {
                const __m512 qv = _mm512_loadu_ps(q + (size_t)g * qs + i);
                for (int kk = 0; kk < 4; kk++) a[4 * g + kk] = _mm512_fmadd_ps(qv, kv[kk], a[4 * g + kk]);
            }
        }
        _Alignas(64) float r[16];
        _mm512_store_ps(r, _mm512_mul_ps(reduce16_x16_vnni(a), _mm512_set1_ps(scale)));
        for (int g = 0; g < G; g++)
            for (int kk = 0; kk < 4; kk++) sc[(size_t)g * span + j + kk] = r[4 * g + kk];
    }
    for (; j + 2 <= span; j += 2) {
        const uint16_t *k0 = k + (size_t)j * ks, *k1 = k0 + ks;
        __m512 a0[4], a1[4];
        for (int g = 0; g < G; g++) { a0[g] = _mm512_setzero_ps(); a1[g] = _mm512_setzero_ps(); }
        for (int i = 0; i < kl; i += 16) {
            __m512 kv0 = load16h(k0 + i), kv1 = load16h(k1 + i);
            for (int g = 0; g < G; g++) {
                __m512 qv = _mm512_loadu_ps(q + (size_t)g * qs + i);
                a0[g] = _mm512_fmadd_ps(qv, kv0, a0[g]);
                a1[g] = _mm512_fmadd_ps(qv, kv1, a1[g]);
            }
        }
        for (int g = 0; g < G; g++) {
            sc[(size_t)g * span + j] = reduce16_vnni(a0[g]) * scale;
            sc[(size_t)g * span + j + 1] = reduce16_vnni(a1[g]) * scale;
        }
    }
    for (; j < span; j++)
        for (int g = 0; g < G; g++) {
            const uint16_t *kj = k + (size_t)j * ks;
            const float *qg = q + (size_t)g * qs;
            __m512 a = _mm512_setzero_ps();
            for (int i = 0; i < kl; i += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(qg + i), load16h(kj + i), a);
            sc[(size_t)g * span + j] = reduce16_vnni(a) * scale;
        }
    for (int g = 0; g < G; g++) ck_softmax_ggml_f16(sc + (size_t)g * span, span);
    // values: 16 dimensions x 4 lanes x G heads of accumulators per pass, lanes k = t mod 16
    float lanes[4][16][16];
    for (int d0 = 0; d0 < vl; d0 += 16) {
        const uint16_t *vd = v + d0;
        for (int kb = 0; kb < 16; kb += 4) {
            __m512 a[4][4];
            for (int g = 0; g < G; g++) for (int kk = 0; kk < 4; kk++) a[g][kk] = _mm512_setzero_ps();
            for (int base = kb; base < span; base += 16) {
                for (int kk = 0; kk < 4 && base + kk < span; kk++) {
                    const int t = base + kk;
                    const __m512 vt = load16h(vd + (size_t)t * vs);
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
void ck_attn_group_f16(float *out, size_t os, const float *q, size_t qs, int G, const uint16_t *k, size_t ks,
                       const uint16_t *v, size_t vs, int span, int masked, int kl, int vl, float scale, float *sc,
                       float *acc) {
#if CK_X86
    if (ck_has_vnni() && G <= 4 && kl % 16 == 0 && vl % 16 == 0) {
        attn_group_vnni(out, os, q, qs, G, k, ks, v, vs, span, masked, kl, vl, scale, sc);
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

// ---------------------------------------------------------------- grouped one-token attention

#if CK_X86
// attn_v_acc_vnni (64 lanes, vl a multiple of 64) for G heads' weights (row g at p + g * ps) over
// the same value rows: each row segment is converted once for up to 4 heads. Lane k of head g
// accumulates positions t = k, k + 64, … in increasing order, as there; acc + g * accs holds head
// g's 64 * vl lane sums.
CK_VNNI static void attn_v_acc_heads_vnni(float *acc, size_t accs, const float *p, size_t ps, int G, const uint16_t *v,
                                          size_t stride, int span, int vl) {
    for (int d0 = 0; d0 < vl; d0 += 64)
        for (int g0 = 0; g0 < G; g0 += 4) {
            const int gn = G - g0 < 4 ? G - g0 : 4;
            for (int lane = 0; lane < 64; lane++) {
                __m512 a[4][4];
                for (int g = 0; g < 4; g++) for (int c = 0; c < 4; c++) a[g][c] = _mm512_setzero_ps();
                for (int t = lane; t < span; t += 64) {
                    const uint16_t *vt = v + (size_t)t * stride + d0;
                    __m512 x[4];
                    int any = 0;
                    for (int g = 0; g < gn; g++) any |= p[(size_t)(g0 + g) * ps + t] != 0.0f;
                    if (!any) continue;
                    for (int c = 0; c < 4; c++) x[c] = load16h(vt + 16 * c);
                    for (int g = 0; g < gn; g++) {
                        const float pt = p[(size_t)(g0 + g) * ps + t];
                        if (pt == 0.0f) continue;
                        const __m512 pv = _mm512_set1_ps(pt);
                        for (int c = 0; c < 4; c++) a[g][c] = _mm512_fmadd_ps(pv, x[c], a[g][c]);
                    }
                }
                for (int g = 0; g < gn; g++)
                    for (int c = 0; c < 4; c++) _mm512_storeu_ps(acc + (size_t)(g0 + g) * accs + (size_t)lane * vl + d0 + 16 * c, a[g][c]);
            }
        }
}
#endif

// One-token attention of G query heads (q + g * qs) sharing one KV head: span key/value rows (ks, vs
// apart), the first `masked` outside the window (score -inf, weight 0). out + g * os = the result of
// ck_attn_scores_f16, ck_softmax_ggml_f16 and ck_attn_v_ggml (64 lanes) for head g, the same bits,
// with each key and value row converted from fp16 once for all the heads instead of once per head.
// sc + g * scs: head g's scores (span floats); acc + g * accs: head g's 64 * vl accumulators.
void ck_attn_decode_group_f16(float *out, size_t os, const float *q, size_t qs, int G, const uint16_t *k, size_t ks,
                              const uint16_t *v, size_t vs, int span, int masked, int kl, int vl, float scale,
                              float *sc, size_t scs, float *acc, size_t accs) {
#if CK_X86
    if (ck_has_vnni() && vl % 64 == 0) {
        for (int g = 0; g < G; g++) for (int j = 0; j < masked; j++) sc[(size_t)g * scs + j] = -INFINITY;
        attn_scores_vnni(sc + masked, scs, q, qs, G, k + (size_t)masked * ks, ks, span - masked, kl, scale);
        for (int g = 0; g < G; g++) ck_softmax_ggml_f16(sc + (size_t)g * scs, span);
        attn_v_acc_heads_vnni(acc, accs, sc, scs, G, v, vs, span, vl);
        for (int g = 0; g < G; g++) reduce64_rows_vnni(out + (size_t)g * os, acc + (size_t)g * accs, vl);
        return;
    }
#endif
    for (int g = 0; g < G; g++) {
        float *row = sc + (size_t)g * scs;
        for (int j = 0; j < masked; j++) row[j] = -INFINITY;
        ck_attn_scores_f16(row + masked, q + (size_t)g * qs, k + (size_t)masked * ks, ks, span - masked, kl, scale);
        ck_softmax_ggml_f16(row, span);
        ck_attn_v_ggml(out + (size_t)g * os, row, v, vs, span, vl, acc + (size_t)g * accs, 64);
    }
}

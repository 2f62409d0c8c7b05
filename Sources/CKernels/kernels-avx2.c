// CKernels — AVX2/FMA/F16C kernels: activation quantisation, the quantised dot products and
// register tiles, the e5 GEMM, f32 helpers. Each x_avx2 computes what its plain C twin x_scalar
// (quants.c, kernels-scalar.c) computes, with the same bits unless its comment names the llama.cpp
// rounding order it follows instead. Chosen at run time by dispatch.c (ck_has_avx2).
#include "ck-x86.h"

#if CK_X86
// ---------------------------------------------------------------- activation quantisation

CK_AVX2 void ck_quantize_q8_0_avx2(ck_q8_0 *y, const float *x, int n) {
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
        float dr = ck_fp16(_cvtss_sh(d, 0));
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

CK_AVX2 void ck_quantize_q8_0_f32_avx2(ck_q8_0 *y, const float *x, int n) {
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

// ---------------------------------------------------------------- dot products, one row

CK_AVX2 static float dot_q4_0_avx2(int n, const ck_block_q4_0 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        ck_prefetch_ahead(&x[b], 1);
        __m256i q = _mm256_sub_epi8(nibbles32(x[b].qs), _mm256_set1_epi8(8));
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(ck_fp16(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(q, y)), acc);
    }
    return hsum8(acc);
}

CK_AVX2 static float dot_q4_1_avx2(int n, const ck_block_q4_1 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int b = 0; b < n / 32; b++) {
        ck_prefetch_ahead(&x[b], 1);
        __m256i q = nibbles32(x[b].qs);
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(ck_fp16(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(q, y)), acc);
        accm = fmaf(ck_fp16(x[b].m), a[b].s, accm); // GCC contracts ggml's summs += m*s
    }
    return hsum8(acc) + accm;
}

CK_AVX2 static float dot_q5_0_avx2(int n, const ck_block_q5_0 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        ck_prefetch_ahead(&x[b], 1);
        __m256i q = nibbles32(x[b].qs);
        __m256i hb = bits32(x[b].qh);
        q = _mm256_or_si256(q, _mm256_andnot_si256(hb, _mm256_set1_epi8((char)0xF0)));
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(ck_fp16(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(q, y)), acc);
    }
    return hsum8(acc);
}

CK_AVX2 static float dot_q5_1_avx2(int n, const ck_block_q5_1 *x, const ck_q8_0 *a) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int b = 0; b < n / 32; b++) {
        ck_prefetch_ahead(&x[b], 1);
        __m256i q = nibbles32(x[b].qs);
        __m256i hb = bits32(x[b].qh);
        q = _mm256_or_si256(q, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);
        __m256 d = _mm256_set1_ps(ck_fp16(x[b].d) * a[b].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(q, y)), acc);
        accm += ck_fp16(x[b].m) * a[b].s;
    }
    return hsum8(acc) + accm;
}

CK_AVX2 static float dot_q8_0_avx2(int n, const ck_block_q8_0 *x, const ck_q8_0 *a) {
    // One accumulator, blocks in order (same rounding sequence as ggml's AVX2 q8_0 dot).
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        ck_prefetch_ahead(&x[b], 1);
        __m256i q0 = _mm256_loadu_si256((const __m256i *)x[b].qs);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)a[b].qs);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ck_fp16(x[b].d) * a[b].d), _mm256_cvtepi32_ps(dot_i8(q0, y0)), acc);
    }
    return hsum8(acc);
}

// One K-quant sub-block pair: sc0 * (lo . y[0..31]) + sc1 * (hi . y[32..63]) in 8 int32 lanes
// (lo, hi: the pair's 32 unsigned 4- or 5-bit weights each; the Q4_K and Q5_K dots share it).
CK_AVX2 static inline __m256i k_pair_avx2(__m256i lo, __m256i hi, const int8_t *y, int sc0, int sc1) {
    __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y)), _mm256_set1_epi16((short)sc0));
    __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32))), _mm256_set1_epi16((short)sc1));
    return _mm256_add_epi32(p0, p1);
}

// k_pair_avx2 with the two scales already broadcast in 16-bit lanes (k4_scale_avx2).
CK_AVX2 static inline __m256i k_pair_v_avx2(__m256i lo, __m256i hi, const int8_t *y, __m256i s0, __m256i s1) {
    __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y)), s0);
    __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32))), s1);
    return _mm256_add_epi32(p0, p1);
}

// Q4_K in the order of llama.cpp's x86 "repack" kernels (ggml_gemv/gemm_q4_K_8x8_q8_K), which it
// uses for every Q4_K matrix with a multiple of 8 rows: per super-block one integer sum and one
// integer min-sum, each folded into a float accumulator with one fma; result = acc - accmin.
CK_AVX2 static float dot_q4_K_avx2(int n, const ck_block_q4_K *x, const ck_q8_K *a) {
    float acc = 0, accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        ck_prefetch_ahead(&x[b], sizeof x[b]);
        const __m256i scmn = k4_scales_mins_avx2(x[b].scales);
        const __m256i scales = _mm256_permute2x128_si256(scmn, scmn, 0x00);
        const int summ = k4_min_sum_avx2(scmn, a[b].bsums);
        __m256i sumi = _mm256_setzero_si256();
        const uint8_t *q = x[b].qs; const int8_t *y = a[b].qs;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(qq, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
            sumi = _mm256_add_epi32(sumi, k_pair_v_avx2(lo, hi, y, k4_scale_avx2(scales, 2 * c), k4_scale_avx2(scales, 2 * c + 1)));
        }
        acc = fmaf((float)hsum8i(sumi), ck_fp16(x[b].d) * a[b].d, acc);
        accm = fmaf((float)summ, ck_fp16(x[b].dmin) * a[b].d, accm);
    }
    return acc - accm;
}

// Q4_K in the order of the repacked GEMM (groups of 4 prompt rows): one fma per pair of sub-blocks.
// No plain C twin: without AVX2 the prompt path takes dot_q4_K_scalar's order.
CK_AVX2 float ck_dot_q4_K_gemm_avx2(int n, const ck_block_q4_K *x, const ck_q8_K *a) {
    float acc = 0, accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        const float dd = ck_fp16(x[b].d) * a[b].d, dm = ck_fp16(x[b].dmin) * a[b].d;
        const uint8_t *q = x[b].qs; const int8_t *y = a[b].qs;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(qq, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
            int isum = hsum8i(k_pair_avx2(lo, hi, y, sc[2 * c], sc[2 * c + 1]));
            int imin = mn[2 * c] * (a[b].bsums[4 * c] + a[b].bsums[4 * c + 1]) + mn[2 * c + 1] * (a[b].bsums[4 * c + 2] + a[b].bsums[4 * c + 3]);
            acc = fmaf((float)isum, dd, acc);
            accm = fmaf((float)imin, dm, accm);
        }
    }
    return acc - accm;
}

CK_AVX2 static float dot_q5_K_avx2(int n, const ck_block_q5_K *x, const ck_q8_K *a) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int b = 0; b < n / 256; b++) {
        ck_prefetch_ahead(&x[b], sizeof x[b]);
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
            sumi = _mm256_add_epi32(sumi, k_pair_avx2(lo, hi, y, sc[2 * c], sc[2 * c + 1]));
        }
        float d = ck_fp16(x[b].d) * a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm += ck_fp16(x[b].dmin) * a[b].d * (float)summ;
    }
    return hsum8(acc) - accm;
}

// Half a Q6_K super-block (64 ql bytes, 32 qh bytes) -> its 128 unsigned 6-bit weights, 4 x 32 bytes.
CK_AVX2 static inline void q6_K_unpack_avx2(const uint8_t *ql, const uint8_t *qh, __m256i *q1, __m256i *q2, __m256i *q3, __m256i *q4) {
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
// A Q6_K super-block's 16 signed scales as 16-bit lanes.
CK_AVX2 static inline __m256i q6_K_scales16_avx2(const ck_block_q6_K *xb) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xb->scales));
}

// The scales of sub-blocks 8h + 2i (low 128 bits) and 8h + 2i + 1 (high 128 bits) broadcast in
// 16-bit lanes, from q6_K_scales16_avx2's result.
CK_AVX2 static inline __m256i q6_K_scale_pair_avx2(__m256i scales16, int h, int i) {
    __m128i half = h ? _mm256_extracti128_si256(scales16, 1) : _mm256_castsi256_si128(scales16);
    __m256i both = _mm256_set_m128i(half, half);
    return _mm256_shuffle_epi8(both, _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 + 0x0202 * (2 * i + 1))),
                                                      _mm_set1_epi16((short)(0x0100 + 0x0202 * (2 * i)))));
}

// The -32 offset's lanes: lane k = 32 * (scale 2k * bsums[2k] + scale 2k+1 * bsums[2k+1]).
CK_AVX2 static inline __m256i q6_K_offset_lanes_avx2(__m256i scales16, const int16_t *bsums) {
    return _mm256_slli_epi32(_mm256_madd_epi16(scales16, _mm256_loadu_si256((const __m256i *)bsums)), 5);
}

CK_AVX2 static inline __m256i q6_K_block_lanes_avx2(const ck_block_q6_K *xb, const ck_q8_K *ab) {
    const uint8_t *ql = xb->ql, *qh = xb->qh; const int8_t *y = ab->qs;
    const __m256i scales16 = q6_K_scales16_avx2(xb);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, y += 128) {
        __m256i q1, q2, q3, q4;
        q6_K_unpack_avx2(ql, qh, &q1, &q2, &q3, &q4);
        __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)y));
        __m256i p2 = _mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(y + 32)));
        __m256i p3 = _mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(y + 64)));
        __m256i p4 = _mm256_maddubs_epi16(q4, _mm256_loadu_si256((const __m256i *)(y + 96)));
        p1 = _mm256_madd_epi16(p1, q6_K_scale_pair_avx2(scales16, h, 0));
        p2 = _mm256_madd_epi16(p2, q6_K_scale_pair_avx2(scales16, h, 1));
        p3 = _mm256_madd_epi16(p3, q6_K_scale_pair_avx2(scales16, h, 2));
        p4 = _mm256_madd_epi16(p4, q6_K_scale_pair_avx2(scales16, h, 3));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_add_epi32(p1, p2), _mm256_add_epi32(p3, p4)));
    }
    return _mm256_sub_epi32(sumi, q6_K_offset_lanes_avx2(scales16, ab->bsums));
}

CK_AVX2 static float dot_q6_K_avx2(int n, const ck_block_q6_K *x, const ck_q8_K *a) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / 256; b++) {
        ck_prefetch_ahead(&x[b], sizeof x[b]);
        float d = ck_fp16(x[b].d) * a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q6_K_block_lanes_avx2(&x[b], &a[b])), acc);
    }
    return hsum8(acc);
}

// q6_K_block_lanes_avx2's scaled products for 4 activations (a[t][b]) in 8 int32 lanes each,
// before the -32 offset, the block's weights unpacked once. Both 4-token Q6_K kernels below.
CK_AVX2 static inline void q6_K_block_lanes_x4_avx2(const ck_block_q6_K *xb, const ck_q8_K *const *a, int b, __m256i sumi[4]) {
    const uint8_t *ql = xb->ql, *qh = xb->qh;
    const __m256i scales16 = q6_K_scales16_avx2(xb);
    for (int t = 0; t < 4; t++) sumi[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
        __m256i q1, q2, q3, q4;
        q6_K_unpack_avx2(ql, qh, &q1, &q2, &q3, &q4);
        __m256i s1 = q6_K_scale_pair_avx2(scales16, h, 0);
        __m256i s2 = q6_K_scale_pair_avx2(scales16, h, 1);
        __m256i s3 = q6_K_scale_pair_avx2(scales16, h, 2);
        __m256i s4 = q6_K_scale_pair_avx2(scales16, h, 3);
        for (int t = 0; t < 4; t++) {
            const int8_t *y = a[t][b].qs + 128 * h;
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)y)), s1);
            __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(y + 32))), s2);
            __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(y + 64))), s3);
            __m256i p4 = _mm256_madd_epi16(_mm256_maddubs_epi16(q4, _mm256_loadu_si256((const __m256i *)(y + 96))), s4);
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(_mm256_add_epi32(p1, p2), _mm256_add_epi32(p3, p4)));
        }
    }
}

// dot_q6_K_avx2 for 4 activations: per token the same int32 lanes (q6_K_block_lanes_avx2's
// products, sub-block pairs, -32 offset) and the same fma per block; the weights unpacked once.
CK_AVX2 void ck_q6_K_dot_x4_avx2(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out) {
    __m256 acc[4];
    for (int t = 0; t < 4; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < n / 256; b++) {
        ck_prefetch_ahead(&x[b], sizeof x[b]);
        __m256i sumi[4];
        q6_K_block_lanes_x4_avx2(&x[b], a, b, sumi);
        const float dx = ck_fp16(x[b].d);
        const __m256i scales16 = q6_K_scales16_avx2(&x[b]);
        for (int t = 0; t < 4; t++) {
            __m256i lanes = _mm256_sub_epi32(sumi[t], q6_K_offset_lanes_avx2(scales16, a[t][b].bsums));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * a[t][b].d), _mm256_cvtepi32_ps(lanes), acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) out[t] = hsum8(acc[t]);
}

// dot_q4_K_avx2 for 4 activations: per token and super-block the same integer sum and minimum sum,
// each folded with the same fma; the weights unpacked once.
CK_AVX2 void ck_q4_K_dot_x4_avx2(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out) {
    float acc[4] = {0, 0, 0, 0}, accm[4] = {0, 0, 0, 0};
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        ck_prefetch_ahead(&x[b], sizeof x[b]);
        const __m256i scmn = k4_scales_mins_avx2(x[b].scales);
        const __m256i scales = _mm256_permute2x128_si256(scmn, scmn, 0x00);
        __m256i sumi[4];
        for (int t = 0; t < 4; t++) sumi[t] = _mm256_setzero_si256();
        const uint8_t *q = x[b].qs;
        for (int c = 0; c < 4; c++, q += 32) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(qq, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
            const __m256i s0 = k4_scale_avx2(scales, 2 * c), s1 = k4_scale_avx2(scales, 2 * c + 1);
            for (int t = 0; t < 4; t++)
                sumi[t] = _mm256_add_epi32(sumi[t], k_pair_v_avx2(lo, hi, a[t][b].qs + 64 * c, s0, s1));
        }
        const float dx = ck_fp16(x[b].d), dmx = ck_fp16(x[b].dmin);
        for (int t = 0; t < 4; t++) {
            const int summ = k4_min_sum_avx2(scmn, a[t][b].bsums);
            acc[t] = fmaf((float)hsum8i(sumi[t]), dx * a[t][b].d, acc[t]);
            accm[t] = fmaf((float)summ, dmx * a[t][b].d, accm[t]);
        }
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t] - accm[t];
}

// Q6_K in the order of llama.cpp's tiled K-quant GEMM (prompts of 8+ rows, AVX-512 VNNI microkernel):
// per block (isum * d_w) * d_a added to the running sum, no fma. No plain C twin (as above).
CK_AVX2 float ck_dot_q6_K_tiled_avx2(int n, const ck_block_q6_K *x, const ck_q8_K *a) {
    float facc = 0;
    for (int b = 0; b < n / 256; b++) {
        int isum = hsum8i(q6_K_block_lanes_avx2(&x[b], &a[b]));
        facc = facc + ((float)isum * ck_fp16(x[b].d)) * a[b].d;
    }
    return facc;
}

// One Q6_K row against 4 prompt activations in the tiled order of ck_dot_q6_K_tiled_avx2 (the
// weights unpacked once). AVX-512 twin: ck_q6_K_tiled_x4_vnni.
CK_AVX2 void ck_q6_K_tiled_x4_avx2(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out) {
    float facc[4] = {0, 0, 0, 0};
    for (int b = 0; b < n / 256; b++) {
        __m256i sumi[4];
        q6_K_block_lanes_x4_avx2(&x[b], a, b, sumi);
        const float dx = ck_fp16(x[b].d);
        const __m256i scales16 = q6_K_scales16_avx2(&x[b]);
        for (int t = 0; t < 4; t++) {
            int isum = hsum8i(_mm256_sub_epi32(sumi[t], q6_K_offset_lanes_avx2(scales16, a[t][b].bsums)));
            facc[t] = facc[t] + ((float)isum * dx) * a[t][b].d;
        }
    }
    for (int t = 0; t < 4; t++) out[t] = facc[t];
}

// One Q4_K row against 4 prompt activations in the order of ck_dot_q4_K_gemm_avx2. AVX-512 twin:
// ck_q4_K_gemm_x4_vnni.
CK_AVX2 void ck_q4_K_gemm_x4_avx2(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out) {
    float acc[4] = {0, 0, 0, 0}, accm[4] = {0, 0, 0, 0};
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        const float dx = ck_fp16(x[b].d), dmx = ck_fp16(x[b].dmin);
        __m256i isv[4]; // per token: 4 sub-block-pair sums in lanes 0..3 (after reduction)
        __m256i part[4][4];
        const uint8_t *q = x[b].qs;
        for (int c = 0; c < 4; c++, q += 32) {
            __m256i qq = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(qq, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4);
            for (int t = 0; t < 4; t++) part[t][c] = k_pair_avx2(lo, hi, a[t][b].qs + 64 * c, sc[2 * c], sc[2 * c + 1]);
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

CK_AVX2 float ck_dot_f32_avx2(int n, const float *w, const float *x) {
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

CK_AVX2 static float dot_f16_avx2(int n, const uint16_t *w, const float *x) {
    __m256 a0 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i), a0);
    }
    float s = hsum8(a0);
    for (; i < n; i++) s += ck_fp16(w[i]) * x[i];
    return s;
}

CK_AVX2 static float dot_bf16_avx2(int n, const uint16_t *w, const float *x) {
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

// SIMD twin of ck_vec_dot_scalar (plain C, no target attribute: it only picks the kernel)
float ck_vec_dot_avx2(int type, int n, const void *row, const void *act) {
    switch (type) {
    case CK_F32: return ck_dot_f32_avx2(n, row, act);
    case CK_F16: return dot_f16_avx2(n, row, act);
    case CK_BF16: return dot_bf16_avx2(n, row, act);
    case CK_Q4_0: return dot_q4_0_avx2(n, row, act);
    case CK_Q4_1: return dot_q4_1_avx2(n, row, act);
    case CK_Q5_0: return dot_q5_0_avx2(n, row, act);
    case CK_Q5_1: return dot_q5_1_avx2(n, row, act);
    case CK_Q8_0: return dot_q8_0_avx2(n, row, act);
    case CK_Q4_K: return dot_q4_K_avx2(n, row, act);
    case CK_Q5_K: return dot_q5_K_avx2(n, row, act);
    case CK_Q6_K: return dot_q6_K_avx2(n, row, act);
    default: return 0;
    }
}

// ---------------------------------------------------------------- register tiles (ck-x86.h)

CK_TILE(tile41_q4_0_avx2, ck_block_q4_0, unpack_q4_0, 1, 0, 4, 1)
CK_TILE(tile41_q4_1_avx2, ck_block_q4_1, unpack_q4_1, 0, 1, 4, 1)
CK_TILE(tile41_q5_0_avx2, ck_block_q5_0, unpack_q5_0, 1, 0, 4, 1)
CK_TILE(tile41_q5_1_avx2, ck_block_q5_1, unpack_q5_1, 0, 1, 4, 1)
CK_TILE(tile41_q8_0_avx2, ck_block_q8_0, unpack_q8_0, 1, 0, 4, 1)
CK_TILE(tile42_q4_0_avx2, ck_block_q4_0, unpack_q4_0, 1, 0, 4, 2)
CK_TILE(tile42_q4_1_avx2, ck_block_q4_1, unpack_q4_1, 0, 1, 4, 2)
CK_TILE(tile42_q5_0_avx2, ck_block_q5_0, unpack_q5_0, 1, 0, 4, 2)
CK_TILE(tile42_q5_1_avx2, ck_block_q5_1, unpack_q5_1, 0, 1, 4, 2)
CK_TILE(tile42_q8_0_avx2, ck_block_q8_0, unpack_q8_0, 1, 0, 4, 2)

ck_tile_fn ck_tile_avx2(int type, int cols) {
    switch (type) {
    case CK_Q4_0: return cols == 1 ? tile41_q4_0_avx2 : tile42_q4_0_avx2;
    case CK_Q4_1: return cols == 1 ? tile41_q4_1_avx2 : tile42_q4_1_avx2;
    case CK_Q5_0: return cols == 1 ? tile41_q5_0_avx2 : tile42_q5_0_avx2;
    case CK_Q5_1: return cols == 1 ? tile41_q5_1_avx2 : tile42_q5_1_avx2;
    case CK_Q8_0: return cols == 1 ? tile41_q8_0_avx2 : tile42_q8_0_avx2;
    default: return 0;
    }
}

// ---------------------------------------------------------------- f32 helpers

CK_AVX2 void ck_axpy_f32_avx2(float *y, float a, const float *x, int n) {
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

// ---------------------------------------------------------------- e5 GEMM (repacked Q4_0)
// A group's block sums with vpmaddubsw (pair sums <= 4,080, eight of them summed in int16 without
// overflow) and vpmaddwd (ck_e5_gemm_scalar's bits; generator in ck-x86.h).
CK_AVX2 static inline __m256i e5_group_sum_avx2(const __m256i *w, __m256i c, __m256i x0, __m256i x1, __m256i x2,
                                                __m256i x3, __m256i x4, __m256i x5, __m256i x6, __m256i x7) {
    __m256i s = _mm256_maddubs_epi16(x0, _mm256_load_si256(w));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x1, _mm256_load_si256(w + 1)));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x2, _mm256_load_si256(w + 2)));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x3, _mm256_load_si256(w + 3)));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x4, _mm256_load_si256(w + 4)));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x5, _mm256_load_si256(w + 5)));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x6, _mm256_load_si256(w + 6)));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(x7, _mm256_load_si256(w + 7)));
    return _mm256_add_epi32(_mm256_madd_epi16(s, _mm256_set1_epi16(1)), c);
}
CK_E5_GEMM(CK_AVX2, ck_e5_gemm_avx2, e5_group_sum_avx2, 0)
#endif

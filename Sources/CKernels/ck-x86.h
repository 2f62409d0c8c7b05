// Private to CKernels: AVX2 building blocks shared by kernels-avx2.c and kernels-avx512.c (inline,
// with the AVX2 target attribute), and the register-tile template both instantiate.
#ifndef CK_X86_H
#define CK_X86_H
#include "ck-internal.h"
#if CK_X86

// Decode reads every weight once, in order, straight from memory. The hardware prefetcher alone
// left the core waiting on it: on an Intel Xeon host one core's Q4_K dot streamed 6.9 GB/s where the
// memory gives 14, because the loads and the arithmetic took turns. So the one-row dots ask for the
// bytes CK_PREFETCH_AHEAD further on themselves, a block's worth of cache lines per block (11.8 GB/s;
// 2 KB ahead 11.2, 4-16 KB the same). Past the end of a matrix the request is dropped (no fault).
#define CK_PREFETCH_AHEAD 4096
static inline __attribute__((always_inline)) void ck_prefetch_ahead(const void *block, int bytes) {
    const char *p = (const char *)block + CK_PREFETCH_AHEAD;
    for (int o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

// fp16 -> fp32 of a block's scale, the bits of _cvtsh_ss. Clang compiles _cvtsh_ss to a vpinsrw
// that merges the half into whatever register it picks, and in the speculative verify rows that
// was an accumulator: each block's scale then waited for the previous block's fma, so a 2-token
// pass cost 2.6 one-token products. vmovd clears the rest of the register: the conversion depends
// on the load alone.
CK_AVX2 static inline __attribute__((always_inline)) float ck_fp16(uint16_t h) {
    __m128i v;
    __asm__("vmovd %k1, %0" : "=x"(v) : "r"((uint32_t)h));
    return _mm_cvtss_f32(_mm_cvtph_ps(v));
}

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

// The 8 six-bit scales (16-bit lanes 0..7) and 8 minimums (lanes 8..15) of a Q4_K / Q5_K
// super-block's 12 packed bytes: scale_min_k4 for all j at once, with word operations.
CK_AVX2 static inline __m256i k4_scales_mins_avx2(const uint8_t *q) {
    uint32_t u[3];
    memcpy(u, q, 12);
    const uint32_t low6 = 0x3f3f3f3fu, low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
    const uint32_t scales_lo = u[0] & low6, mins_lo = u[1] & low6;
    const uint32_t scales_hi = (u[2] & low4) | (((u[0] >> 6) & low2) << 4);
    const uint32_t mins_hi = ((u[2] >> 4) & low4) | (((u[1] >> 6) & low2) << 4);
    return _mm256_cvtepu8_epi16(_mm_set_epi32((int)mins_hi, (int)mins_lo, (int)scales_hi, (int)scales_lo));
}

// sum over j of minimum j * (bsums[2j] + bsums[2j+1]): the minimums' integer term of a Q4_K /
// Q5_K super-block (exact in int32, so equal to the scalar loop's sum).
CK_AVX2 static inline int k4_min_sum_avx2(__m256i scales_mins, const int16_t *bsums) {
    __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums), _mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m128i p = _mm_madd_epi16(_mm256_extracti128_si256(scales_mins, 1), pairs);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4E));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xB1));
    return _mm_cvtsi128_si32(p);
}

// Scale j of k4_scales_mins_avx2's result in every 16-bit lane (scales: its low half in both halves).
CK_AVX2 static inline __m256i k4_scale_avx2(__m256i scales, int j) {
    return _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)(0x0100 + 0x0202 * j)));
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

// ---- register tiles for the 32-weight block types: R rows x C activations per pass, each output
// with its own accumulator and exactly the per-block operation sequence of the one-row dot_*_avx2
// (kernels-avx2.c), whose plain C twins are the dot_*_scalar of kernels-scalar.c.
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
            q[r] = UNPACK(x); d[r] = ck_fp16(x->d);                                                         \
            ax[r] = SIGNED ? _mm256_sign_epi8(q[r], q[r]) : q[r];                                             \
            if (HASM) m[r] = ck_fp16(((const uint16_t *)x)[1]);                                             \
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


// ---------------------------------------------------------------- e5 GEMM (repacked Q4_0)
// The kernel of ck_e5_gemm_scalar's arithmetic (same bits), generated for one instruction set:
// unsigned activations (x + 128) times signed weights (q - 8), GROUP_SUM(w, c, x0…x7) giving each of
// the 8 rows' exact int32 block sum from the 8 weight vectors at w and the 8 broadcast 4-byte
// activation pieces, plus c = −128 · sum(q − 8), stored per block and row by ck_e5_pack_q4_0; then
// acc + (d_w * d_x) * sum, in block order. Tokens are converted to unsigned bytes at a time (stack
// buffer of at most 48 KiB); 4 groups of 8 rows per pass; with PAIRS, two tokens per pass over the
// weights (each loaded once for both), which needs the 32 vector registers of AVX-512: with AVX2's
// 16 the sixteen broadcast activations alone fill them.
#define CK_E5_TOKEN_BYTES 49152
#define CK_E5_GEMM(ATTR, NAME, GROUP_SUM, PAIRS)                                                             \
ATTR static inline __m256 NAME##_step(__m256 acc, const __m256i *w, __m256i x0, __m256i x1, __m256i x2,      \
                                      __m256i x3, __m256i x4, __m256i x5, __m256i x6, __m256i x7, __m256 dav) { \
    const __m256i i32 = GROUP_SUM(w, _mm256_load_si256(w + 9), x0, x1, x2, x3, x4, x5, x6, x7);              \
    const __m256 scale = _mm256_mul_ps(_mm256_load_ps((const float *)(w + 8)), dav);                        \
    return _mm256_add_ps(acc, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(i32)));                                \
}                                                                                                            \
/* Two tokens against the same weights: NAME##_step's arithmetic for each, one load of them. */           \
ATTR static inline void NAME##_step2(__m256 *acc_a, __m256 *acc_b, const __m256i *w, const __m256i *xa,     \
                                     const __m256i *xb, __m256 da, __m256 db) {                              \
    const __m256i corr = _mm256_load_si256(w + 9);                                                           \
    const __m256 dw = _mm256_load_ps((const float *)(w + 8));                                                \
    const __m256i ia = GROUP_SUM(w, corr, xa[0], xa[1], xa[2], xa[3], xa[4], xa[5], xa[6], xa[7]);          \
    const __m256i ib = GROUP_SUM(w, corr, xb[0], xb[1], xb[2], xb[3], xb[4], xb[5], xb[6], xb[7]);          \
    *acc_a = _mm256_add_ps(*acc_a, _mm256_mul_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(ia)));            \
    *acc_b = _mm256_add_ps(*acc_b, _mm256_mul_ps(_mm256_mul_ps(dw, db), _mm256_cvtepi32_ps(ib)));            \
}                                                                                                            \
ATTR void NAME(float *out, size_t os, const void *packed, int r0, int r1, int cols, const void *acts,        \
               size_t as, int ntok) {                                                                        \
    const int nb = cols / 32;                                                                                \
    const size_t gs = (size_t)nb * E5_BLOCK_BYTES;                                                           \
    uint8_t ua[CK_E5_TOKEN_BYTES] __attribute__((aligned(32)));                                              \
    float da[CK_E5_TOKEN_BYTES / 32];                                                                        \
    int chunk = CK_E5_TOKEN_BYTES / cols;                                                                    \
    if (chunk < 1) chunk = 1; /* (cols > 49,152 is not an e5 size) */                                        \
    const __m256i bias = _mm256_set1_epi8((char)0x80);                                                       \
    for (int t0 = 0; t0 < ntok; t0 += chunk) {                                                               \
        const int tn = ntok - t0 < chunk ? ntok - t0 : chunk;                                                \
        for (int t = 0; t < tn; t++) {                                                                       \
            const ck_q8_0 *a = (const ck_q8_0 *)((const char *)acts + (size_t)(t0 + t) * as);               \
            for (int b = 0; b < nb; b++) {                                                                   \
                __m256i v = _mm256_loadu_si256((const __m256i *)a[b].qs);                                    \
                _mm256_store_si256((__m256i *)(ua + (size_t)t * cols + 32 * b), _mm256_xor_si256(v, bias));  \
                da[t * nb + b] = a[b].d;                                                                     \
            }                                                                                                \
        }                                                                                                    \
        for (int g = r0 / 8; g < r1 / 8; g += 4) {                                                           \
            const int G = r1 / 8 - g < 4 ? r1 / 8 - g : 4;                                                  \
            const uint8_t *pg = (const uint8_t *)packed + (size_t)g * gs;                                    \
            int t = 0;                                                                                       \
            for (; PAIRS && t + 1 < tn; t += 2) {                                                            \
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
                for (int b = 0; b < nb; b++) {                                                               \
                    __m256i xa[8], xb[8];                                                                    \
                    int32_t wa[8], wb[8];                                                                    \
                    memcpy(wa, ua + (size_t)t * cols + 32 * b, 32);                                          \
                    memcpy(wb, ua + (size_t)(t + 1) * cols + 32 * b, 32);                                    \
                    for (int k = 0; k < 8; k++) { xa[k] = _mm256_set1_epi32(wa[k]); xb[k] = _mm256_set1_epi32(wb[k]); } \
                    const __m256 da_ = _mm256_set1_ps(da[t * nb + b]), db_ = _mm256_set1_ps(da[(t + 1) * nb + b]); \
                    const uint8_t *pb = pg + (size_t)b * E5_BLOCK_BYTES;                                     \
                    if (G > 0) NAME##_step2(&a0, &b0, (const __m256i *)pb, xa, xb, da_, db_);                \
                    if (G > 1) NAME##_step2(&a1, &b1, (const __m256i *)(pb + gs), xa, xb, da_, db_);         \
                    if (G > 2) NAME##_step2(&a2, &b2, (const __m256i *)(pb + 2 * gs), xa, xb, da_, db_);     \
                    if (G > 3) NAME##_step2(&a3, &b3, (const __m256i *)(pb + 3 * gs), xa, xb, da_, db_);     \
                }                                                                                            \
                float *oa = out + (size_t)(t0 + t) * os + (size_t)(8 * g - r0), *ob = oa + os;               \
                _mm256_storeu_ps(oa, a0); _mm256_storeu_ps(ob, b0);                                          \
                if (G > 1) { _mm256_storeu_ps(oa + 8, a1); _mm256_storeu_ps(ob + 8, b1); }                   \
                if (G > 2) { _mm256_storeu_ps(oa + 16, a2); _mm256_storeu_ps(ob + 16, b2); }                 \
                if (G > 3) { _mm256_storeu_ps(oa + 24, a3); _mm256_storeu_ps(ob + 24, b3); }                 \
            }                                                                                                \
            for (; t < tn; t++) {                                                                            \
                /* four accumulators in registers, unrolled: a loop over an array was 10 % slower */ \
                __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                    \
                const uint8_t *ut = ua + (size_t)t * cols;                                                   \
                for (int b = 0; b < nb; b++) {                                                               \
                    int32_t w4[8];                                                                           \
                    memcpy(w4, ut + 32 * b, 32);                                                             \
                    const __m256i x0 = _mm256_set1_epi32(w4[0]), x1 = _mm256_set1_epi32(w4[1]);              \
                    const __m256i x2 = _mm256_set1_epi32(w4[2]), x3 = _mm256_set1_epi32(w4[3]);              \
                    const __m256i x4 = _mm256_set1_epi32(w4[4]), x5 = _mm256_set1_epi32(w4[5]);              \
                    const __m256i x6 = _mm256_set1_epi32(w4[6]), x7 = _mm256_set1_epi32(w4[7]);              \
                    const __m256 dav = _mm256_set1_ps(da[t * nb + b]);                                       \
                    if (G > 0) acc0 = NAME##_step(acc0, (const __m256i *)(pg + (size_t)0 * gs + (size_t)b * E5_BLOCK_BYTES), \
                                            x0, x1, x2, x3, x4, x5, x6, x7, dav);                         \
                    if (G > 1) acc1 = NAME##_step(acc1, (const __m256i *)(pg + (size_t)1 * gs + (size_t)b * E5_BLOCK_BYTES), \
                                            x0, x1, x2, x3, x4, x5, x6, x7, dav);                         \
                    if (G > 2) acc2 = NAME##_step(acc2, (const __m256i *)(pg + (size_t)2 * gs + (size_t)b * E5_BLOCK_BYTES), \
                                            x0, x1, x2, x3, x4, x5, x6, x7, dav);                         \
                    if (G > 3) acc3 = NAME##_step(acc3, (const __m256i *)(pg + (size_t)3 * gs + (size_t)b * E5_BLOCK_BYTES), \
                                            x0, x1, x2, x3, x4, x5, x6, x7, dav);                         \
                }                                                                                            \
                float *o = out + (size_t)(t0 + t) * os + (size_t)(8 * g - r0);                               \
                _mm256_storeu_ps(o, acc0);                                                                   \
                if (G > 1) _mm256_storeu_ps(o + 8, acc1);                                                    \
                if (G > 2) _mm256_storeu_ps(o + 16, acc2);                                                   \
                if (G > 3) _mm256_storeu_ps(o + 24, acc3);                                                   \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
}

#endif
#endif

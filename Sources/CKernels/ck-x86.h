// Private to CKernels: AVX2 building blocks shared by kernels-avx2.c and kernels-avx512.c (inline,
// with the AVX2 target attribute), and the register-tile template both instantiate.
#ifndef CK_X86_H
#define CK_X86_H
#include "ck-internal.h"
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

#endif
#endif

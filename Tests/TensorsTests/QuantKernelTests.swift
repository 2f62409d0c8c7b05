import TestSupport
import Testing
import Tensors

let quantTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

/// Random activations with a few outliers, like real hidden states.
func randomActivations(_ n: Int, seed: UInt64) -> [Float] {
    var rng = GGUFSplitMix(seed: seed)
    return (0..<n).map { i in
        let u = Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1
        return i % 97 == 3 ? u * 20 : u
    }
}

/// `count` rows of random activations (row t from seed + t), ready for the matmul kernels.
func randomActivationBatch(_ n: Int, count: Int, seed: UInt64) -> ActivationBuffer {
    let x = ActivationBuffer(n: n, capacity: count)
    for t in 0..<count {
        let v = randomActivations(n, seed: seed + UInt64(t))
        for i in 0..<n { x.f32[t * n + i] = v[i] }
    }
    x.invalidate(count: count)
    return x
}

/// How many outputs of a product (`out[t * rows + r]`, ntok activations of `x`) differ in any bit
/// from the one-row dot of their row and activation.
func outputsDifferingFromRowDots(_ out: [Float], _ m: QMatrix, _ x: ActivationBuffer, ntok: Int) -> Int {
    let act = x.prepared(m.activationKind)
    var differing = 0
    for t in 0..<ntok {
        for r in 0..<m.rows where out[t * m.rows + r] != Kernels.rowDot(m, r, act + t * x.stride(m.activationKind)) { differing += 1 }
    }
    return differing
}

func relClose(_ a: Float, _ b: Float, _ tol: Float) -> Bool {
    abs(a - b) <= tol * max(1, abs(a), abs(b))
}

@Suite("Quantised blocks and kernels")
struct QuantKernelTests {
    @Test func blockSizesMatchGGML() {
        // Bytes per block, from ggml-common.h.
        let expected: [GGMLType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22),
            .q5_1: (32, 24), .q8_0: (32, 34), .q8_1: (32, 36), .q2_K: (256, 84), .q3_K: (256, 110),
            .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210), .q8_K: (256, 292),
        ]
        for (t, (bs, ts)) in expected {
            #expect(t.blockSize == bs, "\(t)")
            #expect(t.typeSize == ts, "\(t)")
            if let c = QuantLayout.cBlockSize(t) { #expect(c == ts, "C struct of \(t)") }
        }
        for t in quantTypes { #expect(QuantLayout.cBlockSize(t) != nil, "\(t) has a C block") }
        #expect(QuantLayout.activationBlockSizes.q8_0 == 40)
        #expect(QuantLayout.activationBlockSizes.q8_K == 292)
    }

    @Test(arguments: quantTypes)
    func dequantizeMatchesScalar(type: GGMLType) {
        let n = 512
        let data = GGUFWriter.randomTensorData(type, rows: 1, cols: n, seed: 7)
        data.withUnsafeBytes { raw in
            let m = QMatrix(type: type, data: raw.baseAddress!, rows: 1, cols: n)
            var fast = [Float](repeating: 0, count: n), slow = fast
            fast.withUnsafeMutableBufferPointer { m.dequantizeRow(0, into: $0.baseAddress!) }
            slow.withUnsafeMutableBufferPointer { QuantScalar.dequantizeRow(type, raw.baseAddress!, n, $0.baseAddress!) }
            #expect(fast == slow)
            #expect(fast.contains { $0 != 0 })
        }
    }

    @Test(arguments: [ActivationKind.q8_0, .q8_K])
    func activationQuantizationMatchesScalar(kind: ActivationKind) {
        let n = 1024
        var x = randomActivations(n, seed: 3)
        // ties for the largest |x| (the first one sets the sign of the scale) and an all-zero block
        x[10] = 30; x[20] = -30; x[256 + 5] = -30; x[256 + 9] = 30
        for i in 512..<768 { x[i] = 0 }
        let bytes = kind.byteCount(n)
        var fast = [UInt8](repeating: 0, count: bytes), slow = fast
        x.withUnsafeBufferPointer { xp in
            fast.withUnsafeMutableBytes { Kernels.quantize(xp.baseAddress!, n, kind, into: $0.baseAddress!) }
            slow.withUnsafeMutableBytes { out in
                if kind == .q8_0 { QuantScalar.quantizeQ8_0(xp.baseAddress!, n, into: out.baseAddress!) }
                else { QuantScalar.quantizeQ8_K(xp.baseAddress!, n, into: out.baseAddress!) }
            }
        }
        #expect(fast == slow)
    }

    /// The fast dot (AVX2 when present), the plain C dot and the Swift scalar twin agree, and
    /// all agree with the f32 dot of the dequantised weights and activations.
    @Test(arguments: quantTypes)
    func dotMatchesScalarTwin(type: GGMLType) {
        let n = 1024
        let w = GGUFWriter.randomTensorData(type, rows: 1, cols: n, seed: 11)
        let x = randomActivations(n, seed: 5)
        let kind = ActivationKind(weightType: type)
        var act = [UInt8](repeating: 0, count: kind.byteCount(n))
        x.withUnsafeBufferPointer { xp in act.withUnsafeMutableBytes { Kernels.quantize(xp.baseAddress!, n, kind, into: $0.baseAddress!) } }
        w.withUnsafeBytes { wr in
            act.withUnsafeBytes { ar in
                let m = QMatrix(type: type, data: wr.baseAddress!, rows: 1, cols: n)
                let fast = Kernels.rowDot(m, 0, ar.baseAddress!)
                Kernels.forceGeneric(true)
                let plain = Kernels.rowDot(m, 0, ar.baseAddress!)
                Kernels.forceGeneric(false)
                let scalar = QuantScalar.dot(type, n, wr.baseAddress!, ar.baseAddress!)
                #expect(relClose(fast, scalar, 1e-4), "\(type): fast \(fast) vs scalar \(scalar)")
                #expect(relClose(plain, scalar, 1e-4), "\(type): plain C \(plain) vs scalar \(scalar)")
                // Against dequantised f32 values.
                var wf = [Float](repeating: 0, count: n)
                wf.withUnsafeMutableBufferPointer { m.dequantizeRow(0, into: $0.baseAddress!) }
                var xf = x
                if kind != .f32 {
                    // dequantise the activation blocks
                    let p = ar.baseAddress!
                    for i in 0..<n {
                        if kind == .q8_0 {
                            let b = p + 40 * (i / 32)
                            xf[i] = b.load(as: Float.self) * Float(b.load(fromByteOffset: 8 + i % 32, as: Int8.self))
                        } else {
                            let b = p + 292 * (i / 256)
                            xf[i] = b.load(as: Float.self) * Float(b.load(fromByteOffset: 36 + i % 256, as: Int8.self))
                        }
                    }
                }
                var ref: Double = 0
                for i in 0..<n { ref += Double(wf[i]) * Double(xf[i]) }
                #expect(relClose(fast, Float(ref), 1e-3), "\(type): fast \(fast) vs dequantised \(ref)")
            }
        }
    }

    @Test(arguments: [GGMLType.q8_0, .q4_1, .q5_0, .q4_K, .q6_K, .f32])
    func threadedMatvecAndMatmul(type: GGMLType) {
        let rows = 300, cols = 512, ntok = 5
        let w = GGUFWriter.randomTensorData(type, rows: rows, cols: cols, seed: 21)
        let pool = ThreadPool(threads: 2)
        let x = randomActivationBatch(cols, count: ntok, seed: 100)
        w.withUnsafeBytes { wr in
            let m = QMatrix(type: type, data: wr.baseAddress!, rows: rows, cols: cols)
            // Quantised matmul == per-row dots, bit for bit, except where llama.cpp's prompt kernels
            // round in their own order (Q4_K: repacked GEMM on groups of 4 prompt rows; Q6_K: tiled
            // GEMM from 8 rows): there the same integers meet the scales in another order.
            var outQ = [Float](repeating: 0, count: rows * ntok)
            outQ.withUnsafeMutableBufferPointer { Kernels.matmulQuantized($0.baseAddress!, m, x, pool: pool) }
            let act = x.prepared(m.activationKind)
            func sameOrder(_ t: Int) -> Bool { !(type == .q4_K && t < ntok - ntok % 4) }
            func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-5 * max(1, abs(b)) }
            for t in [0, ntok - 1] {
                for r in [0, 7, rows - 1] {
                    let d = Kernels.rowDot(m, r, act + t * x.stride(m.activationKind))
                    if sameOrder(t) { #expect(outQ[t * rows + r] == d) } else { #expect(close(outQ[t * rows + r], d)) }
                }
            }
            // sgemm over dequantised tiles ≈ quantised path.
            var outD = [Float](repeating: 0, count: rows * ntok)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * 64 * cols)
            defer { scratch.deallocate() }
            outD.withUnsafeMutableBufferPointer { Kernels.matmulDequantized($0.baseAddress!, m, x, scratch: scratch, tileRows: 64, pool: pool) }
            // int8 activations vs f32: close relative to the largest output.
            let scale = outQ.map { abs($0) }.max() ?? 1
            // One q8_K scale per 256 values: the test's outliers (×20) cost more precision there.
            let tol: Float = m.activationKind == .q8_K ? 8e-2 : 2e-2
            for i in 0..<(rows * ntok) { #expect(abs(outD[i] - outQ[i]) <= tol * scale, "\(i): \(outD[i]) vs \(outQ[i])") }
            // Matvec of the first token == row 0 of the matmul.
            let x1 = ActivationBuffer(n: cols)
            for i in 0..<cols { x1.f32[i] = x.f32[i] }
            x1.invalidate()
            var outV = [Float](repeating: 0, count: rows)
            outV.withUnsafeMutableBufferPointer { Kernels.matvec($0.baseAddress!, m, x1, pool: pool) }
            if sameOrder(0) { #expect(Array(outQ[0..<rows]) == outV) } else {
                for r in 0..<rows { #expect(close(outQ[r], outV[r]), "\(r): \(outQ[r]) vs \(outV[r])") }
            }
        }
    }

    /// Decode-order products (one token: `matvec`; a speculative draft's few: `matvecEach`) give
    /// the same bits on the 512-bit and 256-bit paths, and every row of `matvecEach` is the `matvec`
    /// of that activation: what makes a verified draft's logits those of one-token decoding.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q6_K])
    func decodeOrderProductsAgreeOnEveryPath(type: GGMLType) {
        let rows = 37, cols = 512
        let w = GGUFWriter.randomTensorData(type, rows: rows, cols: cols, seed: 41)
        let pool = ThreadPool(threads: 1) // the forced path is per thread: run everything on this one
        for ntok in [1, 2, 3, 4, 5, 8, 9, 13] {
            let x = randomActivationBatch(cols, count: ntok, seed: 600)
            w.withUnsafeBytes { wr in
                let m = QMatrix(type: type, data: wr.baseAddress!, rows: rows, cols: cols)
                var wide = [Float](repeating: 0, count: rows * ntok), narrow = wide, single = wide
                wide.withUnsafeMutableBufferPointer { Kernels.matvecEach($0.baseAddress!, m, x, pool: pool) }
                Kernels.forceNoAVX512(true)
                narrow.withUnsafeMutableBufferPointer { Kernels.matvecEach($0.baseAddress!, m, x, pool: pool) }
                Kernels.forceNoAVX512(false)
                for t in 0..<ntok {
                    let one = ActivationBuffer(n: cols)
                    one.f32.update(from: x.f32 + t * cols, count: cols)
                    one.invalidate()
                    single.withUnsafeMutableBufferPointer { Kernels.matvec($0.baseAddress! + t * rows, m, one, pool: pool) }
                    Kernels.forceNoAVX512(true)
                    var narrowOne = [Float](repeating: 0, count: rows)
                    narrowOne.withUnsafeMutableBufferPointer { Kernels.matvec($0.baseAddress!, m, one, pool: pool) }
                    Kernels.forceNoAVX512(false)
                    #expect(narrowOne.map(\.bitPattern) == single[(t * rows)..<((t + 1) * rows)].map(\.bitPattern),
                            "\(type): one-token product differs between 512- and 256-bit paths")
                }
                #expect(wide.map(\.bitPattern) == narrow.map(\.bitPattern), "\(type), \(ntok) tokens: 512- vs 256-bit")
                #expect(wide.map(\.bitPattern) == single.map(\.bitPattern), "\(type), \(ntok) tokens: draft rows vs one-token products")
            }
        }
    }

    /// The 512-bit prompt kernels (two activations per register; Q4_K's and Q6_K's tokens in lanes,
    /// 4 or 16 at a time: 70 and 133 tokens take the 16-wide kernels and leave 4- and 1-token
    /// remainders) give the same bits as the 256-bit ones, for every tile width, remainder and token span, and the
    /// 32-weight block types equal their one-row dots bit for bit.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q6_K])
    func wideTilesMatch256BitKernels(type: GGMLType) {
        let rows = 70, cols = 512
        let w = GGUFWriter.randomTensorData(type, rows: rows, cols: cols, seed: 31)
        let pool = ThreadPool(threads: 1) // the forced path is per thread: run everything on this one
        for ntok in [1, 3, 8, 13, 70, 133] {
            let x = randomActivationBatch(cols, count: ntok, seed: 500)
            w.withUnsafeBytes { wr in
                let m = QMatrix(type: type, data: wr.baseAddress!, rows: rows, cols: cols)
                var wide = [Float](repeating: 0, count: rows * ntok), narrow = wide
                wide.withUnsafeMutableBufferPointer { Kernels.matmulQuantized($0.baseAddress!, m, x, pool: pool) }
                Kernels.forceNoAVX512(true)
                narrow.withUnsafeMutableBufferPointer { Kernels.matmulQuantized($0.baseAddress!, m, x, pool: pool) }
                Kernels.forceNoAVX512(false)
                #expect(wide == narrow, "\(type), \(ntok) tokens")
                if type.blockSize == 32 {
                    #expect(outputsDifferingFromRowDots(wide, m, x, ntok: ntok) == 0, "\(type), \(ntok) tokens: tiles differ from one-row dots")
                }
            }
        }
    }

    /// A wide product over a long prompt: the 32-weight prompt kernel lays out its activations a few
    /// megabytes at a time (8,192 columns: 16 groups of 8 prompt rows per pass), so 150 tokens take
    /// two passes and a remainder; every output keeps the one-row dot's bits.
    @Test(arguments: [GGMLType.q5_0, .q4_1])
    func widePromptProductsKeepTheOneRowBits(type: GGMLType) {
        let rows = 6, cols = 8192, ntok = 150
        let w = GGUFWriter.randomTensorData(type, rows: rows, cols: cols, seed: 41)
        let pool = ThreadPool(threads: 1)
        let x = randomActivationBatch(cols, count: ntok, seed: 700)
        w.withUnsafeBytes { wr in
            let m = QMatrix(type: type, data: wr.baseAddress!, rows: rows, cols: cols)
            var out = [Float](repeating: 0, count: rows * ntok)
            out.withUnsafeMutableBufferPointer { Kernels.matmulQuantized($0.baseAddress!, m, x, pool: pool) }
            let differing = outputsDifferingFromRowDots(out, m, x, ntok: ntok)
            #expect(differing == 0, "\(type): \(differing) outputs differ from the one-row dots")
        }
    }

    /// Attention in llama.cpp's prompt order: the 4-keys-per-pass scores equal one dot per key, and
    /// the register-blocked values equal the plain lane-by-lane accumulation, zero weights included.
    @Test func attentionKernelsMatchPlainLoops() {
        let n = 256, span = 203, rowStride = 256 + 32
        let q = randomActivations(n, seed: 1).map { Float(Float16($0)) }
        let kv = randomActivations(rowStride * span, seed: 2).map { Float16($0).bitPattern }
        var fast = [Float](repeating: 0, count: span), plain = fast
        fast.withUnsafeMutableBufferPointer { Kernels.attentionScoresF16Gemm($0.baseAddress!, q, kv, stride: rowStride, span: span, n: n, scale: 0.0625) }
        for j in 0..<span { kv.withUnsafeBufferPointer { plain[j] = Kernels.dotF16GemmGGML(q, $0.baseAddress! + j * rowStride, n) * 0.0625 } }
        #expect(fast.map(\.bitPattern) == plain.map(\.bitPattern))
        // the one-token order (64 lanes, reduce64; 256-, 128- and 64-element rows, 16 keys at a
        // time and the rest one by one, and a 72-element row with its double tail)
        for dims in [n, 128, 64, 72] {
            var one = [Float](repeating: 0, count: span), onePlain = one
            one.withUnsafeMutableBufferPointer { Kernels.attentionScoresF16($0.baseAddress!, q, kv, stride: rowStride, span: span, n: dims, scale: 0.125) }
            for j in 0..<span { kv.withUnsafeBufferPointer { onePlain[j] = Kernels.dotF16GGML(q, $0.baseAddress! + j * rowStride, dims) * 0.125 } }
            #expect(one.map(\.bitPattern) == onePlain.map(\.bitPattern), "\(dims) dimensions")
        }
        // softmax with fp16-rounded weights: vector path == plain C path
        var sm = fast, smPlain = fast
        sm.withUnsafeMutableBufferPointer { Kernels.softmaxGGMLF16($0.baseAddress!, span) }
        Kernels.forceGeneric(true)
        smPlain.withUnsafeMutableBufferPointer { Kernels.softmaxGGMLF16($0.baseAddress!, span) }
        Kernels.forceGeneric(false)
        #expect(sm == smPlain)
        var p = randomActivations(span, seed: 3).map { abs($0) / 40 }
        for j in stride(from: 5, to: span, by: 17) { p[j] = 0 }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 64 * n)
        defer { scratch.deallocate() }
        // values: 256 and 64 dimensions (64 per pass), 80 (16 per pass)
        for (promptOrder, vl) in [(true, n), (false, n), (false, 64), (false, 80)] {
            var wide = [Float](repeating: 0, count: vl), narrow = wide
            wide.withUnsafeMutableBufferPointer {
                Kernels.attentionValuesGGML($0.baseAddress!, p, kv, stride: rowStride, span: span, vl: vl, scratch: scratch, promptOrder: promptOrder)
            }
            Kernels.forceNoAVX512(true)
            narrow.withUnsafeMutableBufferPointer {
                Kernels.attentionValuesGGML($0.baseAddress!, p, kv, stride: rowStride, span: span, vl: vl, scratch: scratch, promptOrder: promptOrder)
            }
            Kernels.forceNoAVX512(false)
            #expect(wide.map(\.bitPattern) == narrow.map(\.bitPattern), "promptOrder \(promptOrder), \(vl) dimensions")
        }
    }

    /// One head's attention weights as the one-head kernels give them: -inf for the first `masked`
    /// keys, the scores of the others (the prompt's or the one-token order), fp16 softmax.
    private func oneHeadWeights(q: [Float], head g: Int, kl: Int, k: [UInt16], kStride: Int, span: Int, masked: Int,
                                scale: Float, promptOrder: Bool) -> [Float] {
        var row = [Float](repeating: 0, count: span)
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                row.withUnsafeMutableBufferPointer { rp in
                    for j in 0..<masked { rp[j] = -.infinity }
                    let out = rp.baseAddress! + masked, qh = qp.baseAddress! + g * kl, kh = kp.baseAddress! + masked * kStride
                    if promptOrder {
                        Kernels.attentionScoresF16Gemm(out, qh, kh, stride: kStride, span: span - masked, n: kl, scale: scale)
                    } else {
                        Kernels.attentionScoresF16(out, qh, kh, stride: kStride, span: span - masked, n: kl, scale: scale)
                    }
                    Kernels.softmaxGGMLF16(rp.baseAddress!, span)
                }
            }
        }
        return row
    }

    /// Grouped-query prompt attention (K and V rows shared by up to 4 heads) gives, head by head,
    /// the bits of the one-head kernels: scores, fp16 softmax, values in the prompt order.
    @Test(arguments: [1, 3, 4], [0, 5])
    func groupedAttentionMatchesOneHeadKernels(heads: Int, masked: Int) {
        let kl = 256, vl = 128, span = 77, kStride = 256 + 16, vStride = 128 + 48
        let q = randomActivations(heads * kl, seed: 7).map { Float(Float16($0)) }
        let k = randomActivations(kStride * span, seed: 8).map { Float16($0).bitPattern }
        let v = randomActivations(vStride * span, seed: 9).map { Float16($0).bitPattern }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 4 * span + 64 * vl)
        defer { scratch.deallocate() }
        var grouped = [Float](repeating: 0, count: heads * vl)
        grouped.withUnsafeMutableBufferPointer {
            Kernels.attentionGroupF16($0.baseAddress!, headStride: vl, q: q, qStride: kl, heads: heads, k: k, kStride: kStride,
                                      v: v, vStride: vStride, span: span, masked: masked, kl: kl, vl: vl, scale: 0.0625,
                                      scratch: scratch, accumulators: scratch + 4 * span)
        }
        for g in 0..<heads {
            let row = oneHeadWeights(q: q, head: g, kl: kl, k: k, kStride: kStride, span: span, masked: masked, scale: 0.0625,
                                     promptOrder: true)
            if masked > 0 { #expect(row[masked - 1] == 0 && row[masked] > 0) }
            var one = [Float](repeating: 0, count: vl)
            one.withUnsafeMutableBufferPointer {
                Kernels.attentionValuesGGML($0.baseAddress!, row, v, stride: vStride, span: span, vl: vl,
                                            scratch: scratch + 4 * span, promptOrder: true)
            }
            #expect(Array(grouped[(g * vl)..<((g + 1) * vl)]) == one, "head \(g) of \(heads), \(masked) masked")
        }
    }

    /// Grouped-query one-token attention (each K and V row converted once for the heads sharing
    /// it) gives, head by head, the bits of the one-head kernels in the one-token order: scores,
    /// fp16 softmax, values over 64 lanes. Spans around the 16-key blocks and 64 lanes, more heads
    /// than one register block (4), key widths of the models (64, 128, 256).
    @Test(arguments: [(1, 64, 64), (3, 128, 128), (7, 64, 64), (6, 128, 128), (4, 256, 256)], [(0, 1), (0, 150), (5, 77), (64, 200)])
    func groupedDecodeAttentionMatchesOneHeadKernels(shape: (heads: Int, kl: Int, vl: Int), window: (masked: Int, span: Int)) {
        let (heads, kl, vl) = shape, (masked, span) = window
        let kStride = kl * 2 + 16, vStride = vl * 2 + 48
        let q = randomActivations(heads * kl, seed: 17).map { Float(Float16($0)) }
        let k = randomActivations(kStride * span, seed: 18).map { Float16($0).bitPattern }
        let v = randomActivations(vStride * span, seed: 19).map { Float16($0).bitPattern }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: heads * (span + 3))
        let accumulators = UnsafeMutablePointer<Float>.allocate(capacity: heads * 64 * vl)
        defer { scores.deallocate(); accumulators.deallocate() }
        var grouped = [Float](repeating: .nan, count: heads * vl)
        grouped.withUnsafeMutableBufferPointer {
            Kernels.attentionDecodeGroupF16($0.baseAddress!, headStride: vl, q: q, qStride: kl, heads: heads, k: k, kStride: kStride,
                                            v: v, vStride: vStride, span: span, masked: masked, kl: kl, vl: vl, scale: 0.125,
                                            scores: scores, scoresStride: span + 3, accumulators: accumulators, accumulatorsStride: 64 * vl)
        }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 64 * vl)
        defer { scratch.deallocate() }
        for g in 0..<heads {
            let row = oneHeadWeights(q: q, head: g, kl: kl, k: k, kStride: kStride, span: span, masked: masked, scale: 0.125,
                                     promptOrder: false)
            var one = [Float](repeating: 0, count: vl)
            one.withUnsafeMutableBufferPointer {
                Kernels.attentionValuesGGML($0.baseAddress!, row, v, stride: vStride, span: span, vl: vl, scratch: scratch)
            }
            #expect(Array(grouped[(g * vl)..<((g + 1) * vl)]).map(\.bitPattern) == one.map(\.bitPattern),
                    "head \(g) of \(heads), kl \(kl), span \(span), \(masked) masked")
        }
    }

    @Test func fp16Conversions() {
        for f: Float in [0, -0, 1, -2.5, 65504, 1e-5, 6e-8, 1e-8, 70000, 0.1, -3.14159] {
            let h = Kernels.floatToFP16(f)
            #expect(h == Float16(f).bitPattern, "\(f)")
            #expect(Kernels.fp16ToFloat(h) == Float(Float16(bitPattern: h)))
        }
        // the KV cache's store: 8 at a time and the tail, ties to even, overflow to infinity
        let values: [Float] = [0, -0, 1, -2.5, 65504, 65520, -70000, 1e-5, 6e-8, 1e-8, 0.1, -3.14159, 1 + 1.0 / 2048, 1 + 3.0 / 2048]
            + randomActivations(37, seed: 11)
        for generic in [false, true] {
            var stored = [UInt16](repeating: 0, count: values.count)
            Kernels.forceGeneric(generic)
            stored.withUnsafeMutableBufferPointer { Kernels.storeHalf($0.baseAddress!, values, values.count) }
            Kernels.forceGeneric(false)
            #expect(stored == values.map { Float16($0).bitPattern }, "generic \(generic)")
        }
    }

    @Test func poolRunsEveryChunkOnce() {
        let pool = ThreadPool(threads: 3)
        let n = 1000
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
        hits.initialize(repeating: 0, count: n)
        defer { hits.deallocate() }
        for _ in 0..<50 {
            pool.parallelFor(n, minChunk: 3) { s, e in for i in s..<e { hits[i] += 1 } }
        }
        #expect((0..<n).allSatisfy { hits[$0] == 50 })
    }
}

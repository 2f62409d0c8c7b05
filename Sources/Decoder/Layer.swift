// The transformer layer, shared by decode (one token, or a speculative draft's few tokens each
// computed as if alone) and prefill (a batch of prompt tokens). Both passes run the same steps in
// the same order; they differ only in the products (matrix-vector kernels vs matrix-matrix ones)
// and in attention, where each follows the rounding order llama.cpp uses for that case (one-token
// vs prompt path).
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One pass through the layers: `count` consecutive positions from `p0`, their hidden states in
/// the rows of `x` (embeddingLength floats each) and the work buffers for them.
struct LayerPass {
    let count: Int
    let p0: Int
    let x, q, tmp, up: UnsafeMutablePointer<Float>
    /// The positions' key and value rows (all KV heads), computed here before they go into the cache.
    let k, v: UnsafeMutablePointer<Float>
    /// cos/sin tables: `count` rows for the global layers, then `count` rows for the local ones.
    let rope: UnsafeMutablePointer<Float>
    let xb, att, gate: ActivationBuffer
    /// Matrix-matrix products and prompt-order attention (prefill), else decode's: each position
    /// gets the bits a one-token pass would give it.
    let batched: Bool
}

extension LanguageModel {
    /// Layer `l` over the positions of `p`: attention then feed-forward, each a residual block.
    /// K and V of the positions go into the state's cache.
    func layer(_ l: Int, _ w: LayerWeights, _ p: LayerPass, state s: InferenceState) {
        let c = config
        let e = c.embeddingLength, kl = c.keyLength, vl = c.valueLength, eps = c.normEpsilon
        let nH = c.headCount, kvDimK = c.headCountKV * kl, kvDimV = c.headCountKV * vl
        let T = p.count
        let local = c.layerIsLocal[l]
        let k = p.k, v = p.v

        // attention
        pool.parallelFor(T, minChunk: 16) { t0, t1 in
            for t in t0..<t1 { DecoderOps.rmsNorm(p.xb.f32 + t * e, p.x + t * e, w.attnNorm, e, eps: eps) }
        }
        p.xb.invalidate(count: T)
        if p.batched {
            matmul(p.q, w.wq, p.xb, s)
            matmul(k, w.wk, p.xb, s)
            matmul(v, w.wv, p.xb, s)
        } else if T == 1 {
            Kernels.matvecs(p.xb, p.q, w.wq, k, w.wk, v, w.wv, pool: pool)
        } else {
            Kernels.matvecEach(p.q, w.wq, p.xb, pool: pool)
            Kernels.matvecEach(k, w.wk, p.xb, pool: pool)
            Kernels.matvecEach(v, w.wv, p.xb, pool: pool)
        }
        pool.parallelFor(T, minChunk: 16) { t0, t1 in
            for t in t0..<t1 {
                finishQKV(q: p.q + t * nH * kl, k: k + t * kvDimK, v: v + t * kvDimV,
                          rope: p.rope + ((local ? T : 0) + t) * c.ropeDimensions, w: w)
            }
        }
        s.kv.store(layer: l, from: p.p0, count: T, keys: k, values: v)
        if p.batched {
            promptAttention(l, local: local, p, state: s)
        } else {
            for t in 0..<T { decodeAttention(l, local: local, p, position: t, state: s) }
        }
        p.att.invalidate(count: T)
        product(p.tmp, w.wo, p.att, p, s)
        pool.parallelFor(T, minChunk: 16) { t0, t1 in
            for t in t0..<t1 {
                let xr = p.x + t * e
                DecoderOps.addResidual(xr, p.tmp + t * e, postNorm: w.attnPostNorm, e, eps: eps)
                DecoderOps.rmsNorm(p.xb.f32 + t * e, xr, w.ffnNorm, e, eps: eps)
            }
        }

        // feed-forward
        p.xb.invalidate(count: T)
        if p.batched {
            matmul(p.gate.f32, w.ffnGate, p.xb, s)
            matmul(p.up, w.ffnUp, p.xb, s)
        } else if T == 1 {
            Kernels.matvecs(p.xb, p.gate.f32, w.ffnGate, p.up, w.ffnUp, pool: pool)
        } else {
            Kernels.matvecEach(p.gate.f32, w.ffnGate, p.xb, pool: pool)
            Kernels.matvecEach(p.up, w.ffnUp, p.xb, pool: pool)
        }
        let nff = c.feedForwardLength
        let gelu = c.activation == .geluTanh
        pool.parallelFor(T) { t0, t1 in
            for t in t0..<t1 { DecoderOps.gatedActivation(p.gate.f32 + t * nff, p.up + t * nff, nff, gelu: gelu) }
        }
        p.gate.invalidate(count: T)
        product(p.tmp, w.ffnDown, p.gate, p, s)
        pool.parallelFor(T, minChunk: 16) { t0, t1 in
            for t in t0..<t1 {
                DecoderOps.addResidual(p.x + t * e, p.tmp + t * e, postNorm: w.ffnPostNorm, e, eps: eps)
            }
        }
    }

    /// W @ the rows of x -> out: matrix-vector products when decoding, else a matrix-matrix one.
    @inline(__always)
    func product(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer, _ p: LayerPass,
                 _ s: InferenceState) {
        if p.batched {
            matmul(out, w, x, s)
        } else if p.count == 1 {
            Kernels.matvec(out, w, x, pool: pool)
        } else {
            Kernels.matvecEach(out, w, x, pool: pool)
        }
    }

    // W (rows, cols) @ X (count, cols)^T -> out (count, rows)
    func matmul(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer, _ s: InferenceState) {
        switch prefillMode {
        case .quantized:
            Kernels.matmulQuantized(out, w, x, pool: pool)
        case .dequantizedBLAS:
            Kernels.matmulDequantized(out, w, x, scratch: s.batch.scratch, tileRows: s.batch.tileRows, pool: pool)
        }
    }

    /// One position's q (all heads), k and v (all KV heads) after their products: biases, QK-norm,
    /// RoPE with that position's cos/sin table (`rope`: cos then sin, ropeDimensions/2 each), then
    /// on the f16 path the query scaling and its fp16 rounding (k and v are rounded as the F16 KV
    /// cache stores them).
    @inline(__always)
    func finishQKV(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                   rope: UnsafePointer<Float>, w: LayerWeights) {
        let c = config
        let kl = c.keyLength, qDim = c.headCount * kl, kvDimK = c.headCountKV * kl, kvDimV = c.headCountKV * c.valueLength
        if let b = w.bq { for i in 0..<qDim { q[i] += b[i] } }
        if let b = w.bk { for i in 0..<kvDimK { k[i] += b[i] } }
        if let b = w.bv { for i in 0..<kvDimV { v[i] += b[i] } }
        if let qn = w.attnQNorm, let kn = w.attnKNorm {
            for h in 0..<c.headCount { DecoderOps.rmsNorm(q + h * kl, q + h * kl, qn, kl, eps: c.normEpsilon) }
            for h in 0..<c.headCountKV { DecoderOps.rmsNorm(k + h * kl, k + h * kl, kn, kl, eps: c.normEpsilon) }
        }
        let neox = c.ropeStyle == .neox
        let half = c.ropeDimensions / 2
        for h in 0..<c.headCount {
            DecoderOps.rope(q + h * kl, dims: c.ropeDimensions, cos: rope, sin: rope + half, neox: neox)
        }
        for h in 0..<c.headCountKV {
            DecoderOps.rope(k + h * kl, dims: c.ropeDimensions, cos: rope, sin: rope + half, neox: neox)
        }
        if f16Attention {
            if c.scaleQueries { for i in 0..<qDim { q[i] *= c.attentionScale } }
            DecoderOps.roundToHalf(q, qDim)
        }
    }

    /// First key a query at `position` attends to: 0, or the start of the sliding window on local layers.
    @inline(__always)
    func windowStart(_ position: Int, local: Bool) -> Int {
        local ? max(0, position - (config.slidingWindow ?? maxContext) + 1) : 0
    }

    /// First key of a sliding-window span on the f16 attention path: the window start `lo` rounded
    /// down to a multiple of `lanes` (the keys before `lo` are then masked with a -inf score).
    /// llama.cpp attends over the whole KV cache with a mask: its softmax sums 16-value chunks and its
    /// value product (ggml_vec_dot_f16: 64 lanes in decode; tinyBLAS: 16 lanes in the prompt path) puts
    /// KV cell t in lane t % lanes. Starting the span at `lo` itself shifted the lanes whenever `lo` was
    /// not a multiple of the lane count (Gemma 3 beyond 512 tokens): rounding-level differences that
    /// Gemma's layers amplify to whole logits (0.5 on a 700-token RAG prompt, LongPromptParityTests).
    @inline(__always)
    static func alignedWindowStart(_ lo: Int, lanes: Int) -> Int { lo - lo % lanes }

    // MARK: attention

    /// Attention of position `t` of `p` (decode order) over the cached keys and values of layer `l`
    /// up to it: its row of p.q -> its row of p.att.f32, the heads split into jobs when the span is
    /// long enough to pay for the dispatch (on the f16 path, heads sharing a KV head together).
    func decodeAttention(_ l: Int, local: Bool, _ p: LayerPass, position t: Int, state s: InferenceState) {
        let c = config
        let kl = c.keyLength, vl = c.valueLength
        let nH = c.headCount, nKV = c.headCountKV, kvDimK = nKV * kl, kvDimV = nKV * vl
        let group = nH / nKV
        let pos = p.p0 + t
        // Sliding window: keys lo...pos. With the f16 path the span starts at lo rounded down to 64
        // and the keys before lo get a -inf score (weight exactly 0): llama.cpp's softmax chunks and
        // value lanes count from KV cell 0, so the same cells share a lane (see alignedWindowStart).
        let lo = windowStart(pos, local: local)
        let start = f16Attention ? Self.alignedWindowStart(lo, lanes: 64) : lo
        let span = pos - start + 1
        let out = p.att.f32 + t * nH * vl
        let scale = c.attentionScale
        let f16 = f16Attention
        let scoreScale = c.scaleQueries ? 1 : scale
        if f16 {
            // The query heads sharing a KV head read each key and value row once (GQA), in jobs of
            // consecutive heads of one KV head, at least as many jobs as threads.
            let parts = min(group, max(1, (pool.threadCount + nKV - 1) / nKV))
            let perJob = (group + parts - 1) / parts
            let jobs = nKV * ((group + perJob - 1) / perJob)
            let kBase = s.kv.halfKeys(layer: l), vBase = s.kv.halfValues(layer: l)
            func job(_ j: Int) {
                let kvh = j % nKV, first = kvh * group + (j / nKV) * perJob
                let heads = min(perJob, (kvh + 1) * group - first)
                Kernels.attentionDecodeGroupF16(out + first * vl, headStride: vl, q: p.q + t * nH * kl + first * kl, qStride: kl,
                                                heads: heads, k: kBase + start * kvDimK + kvh * kl, kStride: kvDimK,
                                                v: vBase + start * kvDimV + kvh * vl, vStride: kvDimV, span: span,
                                                masked: lo - start, kl: kl, vl: vl, scale: scoreScale,
                                                scores: s.scores + first * self.maxContext, scoresStride: self.maxContext,
                                                accumulators: s.attnScratch + first * 64 * vl, accumulatorsStride: 64 * vl)
            }
            if span * nH >= 2048 { pool.run(chunks: jobs, job) } else { for j in 0..<jobs { job(j) } }
            return
        }
        func head(_ h: Int) {
            let kvh = h / group
            let qh = p.q + t * nH * kl + h * kl
            let sc = s.scores + h * self.maxContext
            let kBase = s.kv.floatKeys(layer: l), vBase = s.kv.floatValues(layer: l)
            for t in 0..<span {
                sc[t] = Kernels.dot(qh, kBase + (lo + t) * kvDimK + kvh * kl, kl) * scale
            }
            DecoderOps.softmax(sc, span)
            let oh = out + h * vl
            oh.update(repeating: 0, count: vl)
            for t in 0..<span {
                Kernels.axpy(oh, sc[t], vBase + (lo + t) * kvDimV + kvh * vl, vl)
            }
        }
        if span * nH >= 2048 { pool.run(chunks: nH, head) } else { for h in 0..<nH { head(h) } }
    }

    /// Causal attention of the positions of `p` (prefill) over the cached keys and values of layer
    /// `l`, which already hold these positions: p.q -> p.att.f32, row by row.
    func promptAttention(_ l: Int, local: Bool, _ p: LayerPass, state s: InferenceState) {
        let c = config
        let kl = c.keyLength, vl = c.valueLength
        let nH = c.headCount, nKV = c.headCountKV, kvDimK = nKV * kl, kvDimV = nKV * vl
        let group = nH / nKV
        let T = p.count, p0 = p.p0
        let b = s.batch
        let L = p0 + T
        let scale = c.attentionScale
        let att = p.att.f32
        if f16Attention {
            // One job per (KV head, run of positions): the query heads sharing a KV head read
            // each K and V row once (in groups of up to 4 heads). Scratch: `b.scores`.
            let scoreScale = c.scaleQueries ? 1 : scale
            let kBase = s.kv.halfKeys(layer: l), vBase = s.kv.halfValues(layer: l)
            let gMax = min(group, 4), perJob = gMax * maxContext + 16 * vl
            let maxRuns = max(1, min(T, (4 * pool.threadCount + nKV - 1) / nKV, b.scoresCapacity / perJob / nKV))
            let runLength = (T + maxRuns - 1) / maxRuns, runs = (T + runLength - 1) / runLength
            pool.run(chunks: nKV * runs) { job in
                let kvh = job % nKV, run = job / nKV
                let sc = b.scores + job * perJob
                for t in (run * runLength)..<min(T, (run + 1) * runLength) {
                    let hi = p0 + t
                    let lo = windowStart(hi, local: local)
                    // sliding window: span from lo rounded down to 16 (llama.cpp's prompt-path lanes),
                    // keys before lo masked (weight 0), as in decode
                    let start = Self.alignedWindowStart(lo, lanes: 16)
                    var h = kvh * group
                    while h < (kvh + 1) * group {
                        let g = min(4, (kvh + 1) * group - h)
                        Kernels.attentionGroupF16(att + t * nH * vl + h * vl, headStride: vl,
                                                  q: p.q + t * nH * kl + h * kl, qStride: kl, heads: g,
                                                  k: kBase + start * kvDimK + kvh * kl, kStride: kvDimK,
                                                  v: vBase + start * kvDimV + kvh * vl, vStride: kvDimV,
                                                  span: hi - start + 1, masked: lo - start, kl: kl, vl: vl,
                                                  scale: scoreScale, scratch: sc, accumulators: sc + gMax * maxContext)
                        h += g
                    }
                }
            }
            return
        }
        // f32: S = Qh Kh^T, masked softmax, O = S Vh, one head per job
        let kBase = s.kv.floatKeys(layer: l), vBase = s.kv.floatValues(layer: l)
        pool.run(chunks: nH) { h in
            let kvh = h / group
            let S = b.scores + h * T * L
            BLAS.sgemm(S, ldc: L, a: p.q + h * kl, lda: nH * kl, b: kBase + kvh * kl, ldb: kvDimK, transB: true,
                       m: T, n: L, k: kl, alpha: scale)
            for t in 0..<T {
                let row = S + t * L
                let hi = p0 + t
                let lo = windowStart(hi, local: local)
                if lo > 0 { row.update(repeating: 0, count: lo) }
                DecoderOps.softmax(row + lo, hi - lo + 1)
                if hi + 1 < L { (row + hi + 1).update(repeating: 0, count: L - hi - 1) }
            }
            BLAS.sgemm(att + h * vl, ldc: nH * vl, a: S, lda: L, b: vBase + kvh * vl, ldb: kvDimV,
                       m: T, n: vl, k: L)
        }
    }
}

// A GGUF decoder-only language model (llama, gemma3, qwen2), llama2.c style:
// Config (ModelConfig) / Weights (mapped from the file) / State (buffers allocated once, KV cache).
// `evaluate` runs one token (decode: quantised matrix-vector products split across the pool) or a
// batch (prefill: matrix-matrix products; only the last position computes logits).
import Tensors

/// A float vector owned by the weights (norms, biases).
final class FloatStore: @unchecked Sendable {
    private var blocks: [UnsafeMutablePointer<Float>] = []
    func make(_ values: [Float]) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
        p.initialize(from: values, count: values.count)
        blocks.append(p)
        return p
    }
    deinit { for b in blocks { b.deallocate() } }
}

struct LayerWeights: @unchecked Sendable {
    var attnNorm: UnsafeMutablePointer<Float>
    var wq, wk, wv, wo: QMatrix
    var bq, bk, bv: UnsafeMutablePointer<Float>?
    var attnQNorm, attnKNorm: UnsafeMutablePointer<Float>?
    var attnPostNorm: UnsafeMutablePointer<Float>?
    var ffnNorm: UnsafeMutablePointer<Float>
    var ffnGate, ffnUp, ffnDown: QMatrix
    var ffnPostNorm: UnsafeMutablePointer<Float>?
}

/// Prompt processing strategy.
public enum PrefillMode: Sendable {
    /// Weights dequantised in tiles, multiplied with OpenBLAS sgemm (f32 activations: 1-4 % from llama.cpp).
    case dequantizedBLAS
    /// int8 activations and llama.cpp's prompt-path kernels, rounding for rounding (the default).
    case quantized
}

public final class LanguageModel: @unchecked Sendable {
    public let config: ModelConfig
    public let file: GGUFFile
    public let pool: ThreadPool
    /// Largest number of positions a state can hold.
    public let maxContext: Int
    /// Largest number of tokens per batched pass (longer prompts are split).
    public let maxBatch: Int
    public var prefillMode: PrefillMode = .quantized
    /// Round K, V (and q, attention weights) through fp16 like llama.cpp's default F16 KV cache.
    public var f16Attention = true
    /// Decode through the f32 (dequantised sgemm) path too (slower, closest to the f32 maths).
    public var floatDecode = false

    let tokenEmbd: QMatrix
    let output: QMatrix
    let outputNorm: UnsafeMutablePointer<Float>
    let layers: [LayerWeights]
    let store: FloatStore
    /// Per layer kind: inverse frequencies (ropeDimensions/2), frequency factors applied.
    let invFreqGlobal: UnsafeMutablePointer<Float>
    let invFreqLocal: UnsafeMutablePointer<Float>
    /// Per rotated pair: frequency divisor (rope_freqs.weight, else 1).
    let ropeFactors: UnsafeMutablePointer<Float>

    /// Loads `path`. `contextLength` caps the KV cache (default: min(trained context, 4096)).
    public convenience init(path: String, contextLength: Int? = nil, maxBatch: Int = 512,
                            pool: ThreadPool = .shared) throws {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let e as GGUFError { throw DecoderError.file(e) }
        try self.init(file: file, contextLength: contextLength, maxBatch: maxBatch, pool: pool)
    }

    public init(file: GGUFFile, contextLength: Int? = nil, maxBatch: Int = 512, pool: ThreadPool = .shared) throws {
        self.file = file
        self.pool = pool
        let store = FloatStore()
        self.store = store
        do {
            let cfg = try ModelConfig.read(from: file)
            self.config = cfg
            maxContext = max(1, min(contextLength ?? min(cfg.trainedContextLength, 4096), cfg.trainedContextLength))
            self.maxBatch = max(1, maxBatch)
            let path = file.path
            func mat(_ name: String, rows: Int, cols: Int) throws -> QMatrix {
                let m = try file.matrix(name)
                guard m.rows == rows, m.cols == cols else {
                    throw GGUFError.badShape(file: path, tensor: name, detail: "\(m.cols)×\(m.rows), expected \(cols)×\(rows)")
                }
                return m
            }
            func vec(_ name: String, _ n: Int) throws -> UnsafeMutablePointer<Float> {
                let v = try file.floatVector(name)
                guard v.count == n else {
                    throw GGUFError.badShape(file: path, tensor: name, detail: "\(v.count) values, expected \(n)")
                }
                return store.make(v)
            }
            func optVec(_ name: String, _ n: Int) throws -> UnsafeMutablePointer<Float>? {
                file.hasTensor(name) ? try vec(name, n) : nil
            }
            let e = cfg.embeddingLength, kl = cfg.keyLength, vl = cfg.valueLength
            tokenEmbd = try mat(TensorName.tokenEmbd, rows: cfg.vocabSize, cols: e)
            output = file.hasTensor(TensorName.output) ? try mat(TensorName.output, rows: cfg.vocabSize, cols: e) : tokenEmbd
            outputNorm = try vec(TensorName.outputNorm, e)
            var ls: [LayerWeights] = []
            for i in 0..<cfg.layerCount {
                func n(_ t: TensorName.Layer) -> String { TensorName.layer(i, t) }
                let qkv = cfg.qkvBias
                ls.append(LayerWeights(
                    attnNorm: try vec(n(.attnNorm), e),
                    wq: try mat(n(.wq), rows: cfg.headCount * kl, cols: e),
                    wk: try mat(n(.wk), rows: cfg.headCountKV * kl, cols: e),
                    wv: try mat(n(.wv), rows: cfg.headCountKV * vl, cols: e),
                    wo: try mat(n(.wo), rows: e, cols: cfg.headCount * vl),
                    bq: qkv ? try vec(n(.bq), cfg.headCount * kl) : try optVec(n(.bq), cfg.headCount * kl),
                    bk: qkv ? try vec(n(.bk), cfg.headCountKV * kl) : try optVec(n(.bk), cfg.headCountKV * kl),
                    bv: qkv ? try vec(n(.bv), cfg.headCountKV * vl) : try optVec(n(.bv), cfg.headCountKV * vl),
                    attnQNorm: cfg.qkNorm ? try vec(n(.attnQNorm), kl) : nil,
                    attnKNorm: cfg.qkNorm ? try vec(n(.attnKNorm), kl) : nil,
                    attnPostNorm: cfg.postNorms ? try vec(n(.attnPostNorm), e) : nil,
                    ffnNorm: try vec(n(.ffnNorm), e),
                    ffnGate: try mat(n(.ffnGate), rows: cfg.feedForwardLength, cols: e),
                    ffnUp: try mat(n(.ffnUp), rows: cfg.feedForwardLength, cols: e),
                    ffnDown: try mat(n(.ffnDown), rows: e, cols: cfg.feedForwardLength),
                    ffnPostNorm: cfg.postNorms ? try vec(n(.ffnPostNorm), e) : nil))
            }
            layers = ls
            let half = cfg.ropeDimensions / 2
            let factors = file.hasTensor(TensorName.ropeFreqs) ? try file.floatVector(TensorName.ropeFreqs) : []
            func inv(_ base: Float) -> [Float] {
                (0..<half).map { i in
                    let f = Float(pow(Double(base), -2.0 * Double(i) / Double(cfg.ropeDimensions)))
                    return i < factors.count ? f / factors[i] : f
                }
            }
            invFreqGlobal = store.make(inv(cfg.ropeBase))
            invFreqLocal = store.make(inv(cfg.ropeBaseLocal))
            ropeFactors = store.make((0..<half).map { $0 < factors.count ? factors[$0] : 1 })
        } catch let e as GGUFError {
            throw DecoderError.file(e)
        }
    }

    /// A fresh state (KV cache and work buffers) for this model.
    public func makeState() -> InferenceState { InferenceState(model: self) }

    /// Runs `tokens` at positions state.position…, appends them to the cache and returns the
    /// logits after the last one (vocabSize values, valid until the next call on this state).
    @discardableResult
    public func evaluate(_ tokens: [Int], state: InferenceState) throws -> UnsafeBufferPointer<Float> {
        guard !tokens.isEmpty else { return UnsafeBufferPointer(start: state.logits, count: config.vocabSize) }
        guard state.position + tokens.count <= maxContext else {
            throw DecoderError.contextFull(position: state.position, adding: tokens.count, limit: maxContext)
        }
        for t in tokens where t < 0 || t >= config.vocabSize {
            throw DecoderError.badToken(id: t, vocabSize: config.vocabSize)
        }
        if tokens.count == 1 && !(prefillMode == .dequantizedBLAS && floatDecode) {
            forward(token: tokens[0], state: state)
        } else {
            var i = 0
            while i < tokens.count {
                let n = min(maxBatch, tokens.count - i)
                prefill(tokens[i..<(i + n)], state: state, wantLogits: i + n == tokens.count)
                i += n
            }
        }
        return UnsafeBufferPointer(start: state.logits, count: config.vocabSize)
    }

    // MARK: decode: one token

    func forward(token: Int, state s: InferenceState) {
        let c = config
        let e = c.embeddingLength, kl = c.keyLength, vl = c.valueLength
        let nH = c.headCount, nKV = c.headCountKV, kvDimK = nKV * kl, kvDimV = nKV * vl
        let group = nH / nKV
        let pos = s.position
        let x = s.x
        tokenEmbd.dequantizeRow(token, into: x)
        if c.embeddingScale != 1 { for i in 0..<e { x[i] *= c.embeddingScale } }
        ropeTables(s.rope, p0: pos, count: 1)

        for (l, w) in layers.enumerated() {
            let local = c.layerIsLocal[l]
            // attention
            DecoderOps.rmsNorm(s.xb.f32, x, w.attnNorm, e, eps: c.normEpsilon)
            s.xb.invalidate()
            let kDst = s.kCache + (l * maxContext + pos) * kvDimK
            let vDst = s.vCache + (l * maxContext + pos) * kvDimV
            Kernels.matvecs(s.xb, s.q, w.wq, kDst, w.wk, vDst, w.wv, pool: pool)
            if let b = w.bq { for i in 0..<(nH * kl) { s.q[i] += b[i] } }
            if let b = w.bk { for i in 0..<kvDimK { kDst[i] += b[i] } }
            if let b = w.bv { for i in 0..<kvDimV { vDst[i] += b[i] } }
            prepareQK(q: s.q, k: kDst, rope: s.rope + (local ? c.ropeDimensions : 0), w: w)
            if f16Attention {
                if c.scaleQueries { for i in 0..<(nH * kl) { s.q[i] *= c.attentionScale } }
                DecoderOps.roundToHalf(s.q, nH * kl)
                DecoderOps.roundToHalf(kDst, kvDimK)
                DecoderOps.roundToHalf(vDst, kvDimV)
            }

            // Sliding window: keys lo...pos. With the f16 path the span starts at lo rounded down to 64
            // and the keys before lo get a -inf score (weight exactly 0): llama.cpp's softmax chunks and
            // value lanes count from KV cell 0, so the same cells share a lane (see alignedWindowStart).
            let lo = local ? max(0, pos - (c.slidingWindow ?? maxContext) + 1) : 0
            let start = f16Attention ? Self.alignedWindowStart(lo, lanes: 64) : lo
            let span = pos - start + 1
            let kBase = s.kCache + l * maxContext * kvDimK
            let vBase = s.vCache + l * maxContext * kvDimV
            let out = s.att.f32
            let scale = c.attentionScale
            let f16 = f16Attention
            // One head per job when the span is long enough to pay for the dispatch.
            let scoreScale = c.scaleQueries ? 1 : scale
            func head(_ h: Int) {
                let kvh = h / group
                let qh = s.q + h * kl
                let sc = s.scores + h * self.maxContext
                if f16 {
                    // llama.cpp's F16 KV cache path, same rounding sequence
                    for t in 0..<(lo - start) { sc[t] = -.infinity }
                    Kernels.attentionScoresF16(sc + (lo - start), qh, kBase + lo * kvDimK + kvh * kl, stride: kvDimK,
                                               span: span - (lo - start), n: kl, scale: scoreScale)
                    Kernels.softmaxGGMLF16(sc, span)
                    Kernels.attentionValuesGGML(out + h * vl, sc, vBase + start * kvDimV + kvh * vl, stride: kvDimV,
                                                span: span, vl: vl, scratch: s.attnScratch + h * 64 * vl)
                    return
                }
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
            s.att.invalidate()
            Kernels.matvec(s.tmp, w.wo, s.att, pool: pool)
            DecoderOps.addResidual(x, s.tmp, postNorm: w.attnPostNorm, e, eps: c.normEpsilon)

            // feed-forward
            DecoderOps.rmsNorm(s.xb.f32, x, w.ffnNorm, e, eps: c.normEpsilon)
            s.xb.invalidate()
            Kernels.matvecs(s.xb, s.gate.f32, w.ffnGate, s.up, w.ffnUp, pool: pool)
            DecoderOps.gatedActivation(s.gate.f32, s.up, c.feedForwardLength, gelu: c.activation == .geluTanh)
            s.gate.invalidate()
            Kernels.matvec(s.tmp, w.ffnDown, s.gate, pool: pool)
            DecoderOps.addResidual(x, s.tmp, postNorm: w.ffnPostNorm, e, eps: c.normEpsilon)
        }
        logits(from: x, state: s)
        s.position += 1
    }

    func logits(from x: UnsafeMutablePointer<Float>, state s: InferenceState) {
        let c = config
        DecoderOps.rmsNorm(s.xb.f32, x, outputNorm, c.embeddingLength, eps: c.normEpsilon)
        s.xb.invalidate()
        Kernels.matvec(s.logits, output, s.xb, pool: pool)
        if c.finalLogitSoftcap > 0 {
            let cap = c.finalLogitSoftcap
            for i in 0..<c.vocabSize { s.logits[i] = cap * tanhf(s.logits[i] / cap) }
        }
    }

    /// QK-norm and RoPE of one position's q (all heads) and k (all kv heads), with that
    /// position's cos/sin table (`rope` holds cos then sin, ropeDimensions/2 each).
    @inline(__always)
    func prepareQK(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>,
                   w: LayerWeights) {
        let c = config
        let kl = c.keyLength
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
    }

    /// Fills cos/sin tables for positions p0..<p0+count: global at `out`, local at `out + count * dims`.
    func ropeTables(_ out: UnsafeMutablePointer<Float>, p0: Int, count: Int) {
        let c = config
        let d = c.ropeDimensions, half = d / 2
        let anyLocal = c.layerIsLocal.contains(true)
        // as ggml: theta_scale = powf(base, -2/n_dims), theta_i accumulated by repeated multiplication
        let tsGlobal = powf(c.ropeBase, -2 / Float(d))
        let tsLocal = powf(c.ropeBaseLocal, -2 / Float(d))
        for t in 0..<count {
            let g = out + t * d
            DecoderOps.ropeTable(g, g + half, dims: d, pos: p0 + t, thetaScale: tsGlobal, factors: ropeFactors,
                                 scale: c.ropeScale)
            if anyLocal {
                let l = out + (count + t) * d
                DecoderOps.ropeTable(l, l + half, dims: d, pos: p0 + t, thetaScale: tsLocal, factors: ropeFactors,
                                     scale: 1)
            }
        }
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

    // MARK: prefill: a batch of tokens

    // W (rows, cols) @ X (count, cols)^T -> out (count, rows)
    func matmul(_ out: UnsafeMutablePointer<Float>, _ w: QMatrix, _ x: ActivationBuffer, _ s: InferenceState) {
        switch prefillMode {
        case .quantized:
            Kernels.matmulQuantized(out, w, x, pool: pool)
        case .dequantizedBLAS:
            Kernels.matmulDequantized(out, w, x, scratch: s.batch.scratch, tileRows: s.batch.tileRows, pool: pool)
        }
    }

    func prefill(_ tokens: ArraySlice<Int>, state s: InferenceState, wantLogits: Bool) {
        let c = config
        let e = c.embeddingLength, kl = c.keyLength, vl = c.valueLength
        let nH = c.headCount, nKV = c.headCountKV, kvDimK = nKV * kl, kvDimV = nKV * vl
        let group = nH / nKV
        let T = tokens.count
        let p0 = s.position
        let b = s.batch
        let savedBlas = Kernels.blasThreads
        Kernels.blasThreads = 1
        defer { Kernels.blasThreads = savedBlas }

        let X = b.x
        for (t, tok) in tokens.enumerated() {
            tokenEmbd.dequantizeRow(tok, into: X + t * e)
        }
        if c.embeddingScale != 1 { for i in 0..<(T * e) { X[i] *= c.embeddingScale } }
        ropeTables(b.rope, p0: p0, count: T)

        for (l, w) in layers.enumerated() {
            let local = c.layerIsLocal[l]
            pool.parallelFor(T, minChunk: 16) { t0, t1 in
                for t in t0..<t1 { DecoderOps.rmsNorm(b.xb.f32 + t * e, X + t * e, w.attnNorm, e, eps: c.normEpsilon) }
            }
            b.xb.invalidate(count: T)
            matmul(b.q, w.wq, b.xb, s)
            let kBase = s.kCache + l * maxContext * kvDimK
            let vBase = s.vCache + l * maxContext * kvDimV
            // k and v rows go straight into the cache (row stride == kvDim).
            matmul(kBase + p0 * kvDimK, w.wk, b.xb, s)
            matmul(vBase + p0 * kvDimV, w.wv, b.xb, s)
            pool.parallelFor(T, minChunk: 16) { t0, t1 in
                for t in t0..<t1 {
                    let q = b.q + t * nH * kl, k = kBase + (p0 + t) * kvDimK, v = vBase + (p0 + t) * kvDimV
                    if let bb = w.bq { for i in 0..<(nH * kl) { q[i] += bb[i] } }
                    if let bb = w.bk { for i in 0..<kvDimK { k[i] += bb[i] } }
                    if let bb = w.bv { for i in 0..<kvDimV { v[i] += bb[i] } }
                    prepareQK(q: q, k: k, rope: b.rope + ((local ? T : 0) + t) * c.ropeDimensions, w: w)
                    if f16Attention {
                        if c.scaleQueries { for i in 0..<(nH * kl) { q[i] *= c.attentionScale } }
                        DecoderOps.roundToHalf(q, nH * kl)
                        DecoderOps.roundToHalf(k, kvDimK)
                        DecoderOps.roundToHalf(v, kvDimV)
                    }
                }
            }
            // attention, one head per job: S = Qh Kh^T, masked softmax, O = S Vh
            let L = p0 + T
            let window = local ? (c.slidingWindow ?? maxContext) : maxContext + 1
            let scale = c.attentionScale
            let att = b.att.f32
            if f16Attention {
                // One job per (KV head, run of positions): the query heads sharing a KV head read
                // each K and V row once (in groups of up to 4 heads). Scratch: `b.scores`.
                let scoreScale = c.scaleQueries ? 1 : scale
                let gMax = min(group, 4), perJob = gMax * maxContext + 16 * vl
                let maxRuns = max(1, min(T, (4 * pool.threadCount + nKV - 1) / nKV, b.scoresCapacity / perJob / nKV))
                let runLength = (T + maxRuns - 1) / maxRuns, runs = (T + runLength - 1) / runLength
                pool.run(chunks: nKV * runs) { job in
                    let kvh = job % nKV, run = job / nKV
                    let sc = b.scores + job * perJob
                    for t in (run * runLength)..<min(T, (run + 1) * runLength) {
                        let hi = p0 + t
                        let lo = max(0, hi - window + 1)
                        // sliding window: span from lo rounded down to 16 (llama.cpp's prompt-path lanes),
                        // keys before lo masked (weight 0), as in decode
                        let start = Self.alignedWindowStart(lo, lanes: 16)
                        var h = kvh * group
                        while h < (kvh + 1) * group {
                            let g = min(4, (kvh + 1) * group - h)
                            Kernels.attentionGroupF16(att + t * nH * vl + h * vl, headStride: vl,
                                                      q: b.q + t * nH * kl + h * kl, qStride: kl, heads: g,
                                                      k: kBase + start * kvDimK + kvh * kl, kStride: kvDimK,
                                                      v: vBase + start * kvDimV + kvh * vl, vStride: kvDimV,
                                                      span: hi - start + 1, masked: lo - start, kl: kl, vl: vl,
                                                      scale: scoreScale, scratch: sc, accumulators: sc + gMax * maxContext)
                            h += g
                        }
                    }
                }
            } else {
            pool.run(chunks: nH) { h in
                let kvh = h / group
                let S = b.scores + h * T * L
                Kernels.sgemm(m: T, n: L, k: kl, alpha: scale, a: b.q + h * kl, lda: nH * kl,
                              b: kBase + kvh * kl, ldb: kvDimK, transB: true, c: S, ldc: L)
                for t in 0..<T {
                    let row = S + t * L
                    let hi = p0 + t
                    let lo = max(0, hi - window + 1)
                    if lo > 0 { row.update(repeating: 0, count: lo) }
                    DecoderOps.softmax(row + lo, hi - lo + 1)
                    if hi + 1 < L { (row + hi + 1).update(repeating: 0, count: L - hi - 1) }
                }
                Kernels.sgemm(m: T, n: vl, k: L, a: S, lda: L, b: vBase + kvh * vl, ldb: kvDimV, transB: false,
                              c: att + h * vl, ldc: nH * vl)
            }
            }
            b.att.invalidate(count: T)
            matmul(b.tmp, w.wo, b.att, s)
            pool.parallelFor(T, minChunk: 16) { t0, t1 in
                for t in t0..<t1 {
                    let xr = X + t * e
                    DecoderOps.addResidual(xr, b.tmp + t * e, postNorm: w.attnPostNorm, e, eps: c.normEpsilon)
                    DecoderOps.rmsNorm(b.xb.f32 + t * e, xr, w.ffnNorm, e, eps: c.normEpsilon)
                }
            }
            b.xb.invalidate(count: T)
            matmul(b.gate.f32, w.ffnGate, b.xb, s)
            matmul(b.up, w.ffnUp, b.xb, s)
            let nff = c.feedForwardLength
            let gelu = c.activation == .geluTanh
            pool.parallelFor(T) { t0, t1 in
                for t in t0..<t1 { DecoderOps.gatedActivation(b.gate.f32 + t * nff, b.up + t * nff, nff, gelu: gelu) }
            }
            b.gate.invalidate(count: T)
            matmul(b.tmp, w.ffnDown, b.gate, s)
            pool.parallelFor(T, minChunk: 16) { t0, t1 in
                for t in t0..<t1 {
                    DecoderOps.addResidual(X + t * e, b.tmp + t * e, postNorm: w.ffnPostNorm, e, eps: c.normEpsilon)
                }
            }
        }
        s.position += T
        if wantLogits {
            s.x.update(from: X + (T - 1) * e, count: e)
            logits(from: s.x, state: s)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Work buffers and KV cache of one generation; allocated once, reused by every `evaluate`.
public final class InferenceState: @unchecked Sendable {
    /// Number of positions held in the KV cache.
    public internal(set) var position = 0
    let x, q, tmp, up, scores, logits, rope: UnsafeMutablePointer<Float>
    let xb, att, gate: ActivationBuffer
    let kCache, vCache: UnsafeMutablePointer<Float>
    /// Per head: 64 partial-sum lanes of the attention output (llama.cpp's f16 dot order).
    let attnScratch: UnsafeMutablePointer<Float>
    private let model: LanguageModel
    private var batchStorage: BatchBuffers?

    init(model m: LanguageModel) {
        model = m
        let c = m.config
        x = .allocate(capacity: c.embeddingLength)
        q = .allocate(capacity: c.headCount * c.keyLength)
        tmp = .allocate(capacity: c.embeddingLength)
        up = .allocate(capacity: c.feedForwardLength)
        scores = .allocate(capacity: c.headCount * m.maxContext)
        rope = .allocate(capacity: 2 * c.ropeDimensions)
        logits = .allocate(capacity: c.vocabSize)
        logits.initialize(repeating: 0, count: c.vocabSize)
        xb = ActivationBuffer(n: c.embeddingLength)
        att = ActivationBuffer(n: c.headCount * c.valueLength)
        gate = ActivationBuffer(n: c.feedForwardLength)
        kCache = .allocate(capacity: c.layerCount * m.maxContext * c.headCountKV * c.keyLength)
        vCache = .allocate(capacity: c.layerCount * m.maxContext * c.headCountKV * c.valueLength)
        attnScratch = .allocate(capacity: c.headCount * 64 * c.valueLength)
    }

    deinit {
        for p in [x, q, tmp, up, scores, logits, rope, kCache, vCache, attnScratch] { p.deallocate() }
    }

    /// Forgets every position (the buffers stay allocated).
    public func reset() { position = 0 }

    /// Drops positions after `n` (to reuse a common prefix).
    public func truncate(to n: Int) { position = min(position, max(0, n)) }

    /// The logits of the last evaluated position.
    public var lastLogits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: logits, count: model.config.vocabSize) }

    var batch: BatchBuffers {
        if let b = batchStorage { return b }
        let b = BatchBuffers(model: model)
        batchStorage = b
        return b
    }
}

/// Buffers of the batched prompt pass (allocated on the first prompt).
final class BatchBuffers: @unchecked Sendable {
    let x, q, tmp, up, scores, scratch, rope: UnsafeMutablePointer<Float>
    let xb, att, gate: ActivationBuffer
    let tileRows = 128
    /// Floats in `scores` (the f32 path's score matrices, or the f16 path's per-job scratch).
    let scoresCapacity: Int

    init(model m: LanguageModel) {
        let c = m.config, n = m.maxBatch
        x = .allocate(capacity: n * c.embeddingLength)
        q = .allocate(capacity: n * c.headCount * c.keyLength)
        tmp = .allocate(capacity: n * c.embeddingLength)
        up = .allocate(capacity: n * c.feedForwardLength)
        // (at least 4 jobs per KV head of up to 4 heads' scores + 16 lanes of values)
        scoresCapacity = max(c.headCount * n * m.maxContext, c.headCountKV * 4 * (4 * m.maxContext + 16 * c.valueLength))
        scores = .allocate(capacity: scoresCapacity)
        rope = .allocate(capacity: 2 * n * c.ropeDimensions)
        let maxCols = max(c.embeddingLength, c.feedForwardLength, c.headCount * c.valueLength)
        scratch = .allocate(capacity: m.pool.threadCount * tileRows * maxCols)
        xb = ActivationBuffer(n: c.embeddingLength, capacity: n)
        att = ActivationBuffer(n: c.headCount * c.valueLength, capacity: n)
        gate = ActivationBuffer(n: c.feedForwardLength, capacity: n)
    }

    deinit { for p in [x, q, tmp, up, scores, scratch, rope] { p.deallocate() } }
}

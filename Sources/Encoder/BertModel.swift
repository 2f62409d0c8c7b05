// BertModel — the BERT encoder forward pass (post-LN), batched over texts of different lengths.
//
// Reference: Devlin et al. 2018 and Hugging Face `transformers` BertModel (modeling_bert.py):
//   h = LayerNorm(wordEmb[id] + posEmb[pos] + typeEmb[0])
//   per layer: a = softmax(Q Kᵀ / √d) V per head;  h = LN(h + a Woᵀ + bo);
//              h = LN(h + GELU(h Wiᵀ + bi) Wdᵀ + bd)
// then mean pooling over the real tokens and L2 normalisation (sentence-transformers).
//
// Batching: the tokens of all texts are packed one after the other (no padding), so every
// dense projection is a single sgemm over all tokens, and attention runs per text and head on
// that text's own tokens only. Padding therefore cannot change a text's embedding.
// Two exact rewrites save work: the key bias adds a per-query constant to every score (softmax
// cancels it, so it is dropped), and the value bias goes through attention unchanged (rows of P
// sum to 1), so it is folded into the output bias: bo' = bo + Wo·bv.

import Foundation
import Tensors

/// A float buffer allocated once, owned by a class so it can be shared read-only.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { pointer.deallocate() }
}

/// Weights of one BERT layer (llama.cpp-like names; `tensorNames` maps them to the file).
struct BertLayerWeights: Sendable {
    let wqkv: FloatBuffer         // (3H, H): rows of Wq, then Wk, then Wv
    let bq: FloatBuffer           // (H)
    let wo: FloatBuffer           // (H, H)
    let bo: FloatBuffer           // (H) with Wo·bv folded in
    let attnNormWeight: FloatBuffer, attnNormBias: FloatBuffer
    let ffnUp: FloatBuffer        // (I, H)
    let ffnUpBias: FloatBuffer    // (I)
    let ffnDown: FloatBuffer      // (H, I)
    let ffnDownBias: FloatBuffer  // (H)
    let ffnNormWeight: FloatBuffer, ffnNormBias: FloatBuffer
}

/// BERT weights, converted to F32 once at load.
final class BertWeights: Sendable {
    let config: BertConfig
    let wordEmbeddings: FloatBuffer      // (V, H)
    let positionEmbeddings: FloatBuffer  // (P, H)
    let tokenTypeEmbedding: FloatBuffer  // (H): type 0 row
    let embNormWeight: FloatBuffer, embNormBias: FloatBuffer
    let layers: [BertLayerWeights]

    /// Hugging Face tensor names, with the file's prefix ("" or "bert.").
    static func tensorNames(prefix p: String, layer i: Int) -> [String: String] {
        let l = "\(p)encoder.layer.\(i)."
        return [
            "wq": l + "attention.self.query.weight", "bq": l + "attention.self.query.bias",
            "wk": l + "attention.self.key.weight", "bk": l + "attention.self.key.bias",
            "wv": l + "attention.self.value.weight", "bv": l + "attention.self.value.bias",
            "wo": l + "attention.output.dense.weight", "bo": l + "attention.output.dense.bias",
            "attnNormWeight": l + "attention.output.LayerNorm.weight", "attnNormBias": l + "attention.output.LayerNorm.bias",
            "ffnUp": l + "intermediate.dense.weight", "ffnUpBias": l + "intermediate.dense.bias",
            "ffnDown": l + "output.dense.weight", "ffnDownBias": l + "output.dense.bias",
            "ffnNormWeight": l + "output.LayerNorm.weight", "ffnNormBias": l + "output.LayerNorm.bias",
        ]
    }

    init(file: SafetensorsFile, config c: BertConfig) throws {
        self.config = c
        let prefix = file.tensors["embeddings.word_embeddings.weight"] != nil ? "" : "bert."
        let h = c.hiddenSize, inter = c.intermediateSize
        func load(_ name: String, _ shape: [Int]) throws -> [Float] {
            do { return try file.floats(name, shape: shape) } catch let e as TensorsError { throw EncoderError.weights(e) }
        }
        wordEmbeddings = FloatBuffer(try load(prefix + "embeddings.word_embeddings.weight", [c.vocabSize, h]))
        // Positions beyond what is used are never read; load the whole table for simplicity.
        positionEmbeddings = FloatBuffer(try load(prefix + "embeddings.position_embeddings.weight", [c.maxPositions, h]))
        let types = try load(prefix + "embeddings.token_type_embeddings.weight", [c.typeVocabSize, h])
        tokenTypeEmbedding = FloatBuffer(Array(types[0..<h]))
        embNormWeight = FloatBuffer(try load(prefix + "embeddings.LayerNorm.weight", [h]))
        embNormBias = FloatBuffer(try load(prefix + "embeddings.LayerNorm.bias", [h]))
        var layers: [BertLayerWeights] = []
        for i in 0..<c.numLayers {
            let n = Self.tensorNames(prefix: prefix, layer: i)
            func t(_ key: String, _ shape: [Int]) throws -> [Float] { try load(n[key] ?? key, shape) }
            let wq = try t("wq", [h, h]), wk = try t("wk", [h, h]), wv = try t("wv", [h, h])
            let bv = try t("bv", [h])
            _ = try t("bk", [h]) // present and well-formed, but cancelled by softmax
            let wo = try t("wo", [h, h])
            var bo = try t("bo", [h])
            // bo' = bo + Wo · bv, in Double.
            for r in 0..<h {
                var s = Double(bo[r])
                for k in 0..<h { s += Double(wo[r * h + k]) * Double(bv[k]) }
                bo[r] = Float(s)
            }
            layers.append(BertLayerWeights(
                wqkv: FloatBuffer(wq + wk + wv), bq: FloatBuffer(try t("bq", [h])),
                wo: FloatBuffer(wo), bo: FloatBuffer(bo),
                attnNormWeight: FloatBuffer(try t("attnNormWeight", [h])), attnNormBias: FloatBuffer(try t("attnNormBias", [h])),
                ffnUp: FloatBuffer(try t("ffnUp", [inter, h])), ffnUpBias: FloatBuffer(try t("ffnUpBias", [inter])),
                ffnDown: FloatBuffer(try t("ffnDown", [h, inter])), ffnDownBias: FloatBuffer(try t("ffnDownBias", [h])),
                ffnNormWeight: FloatBuffer(try t("ffnNormWeight", [h])), ffnNormBias: FloatBuffer(try t("ffnNormBias", [h]))))
        }
        self.layers = layers
    }
}

/// Activations for up to `capacity` packed tokens, allocated once and grown when needed.
final class BertScratch {
    private(set) var capacity = 0
    var hidden = FloatBuffer(count: 0)    // (T, H)
    var hidden2 = FloatBuffer(count: 0)   // (T, H)
    var qkv = FloatBuffer(count: 0)       // (T, 3H)
    var context = FloatBuffer(count: 0)   // (T, H)
    var ffn = FloatBuffer(count: 0)       // (T, I)
    var scores: [FloatBuffer] = []        // per worker (L, L)
    var rowScale: [FloatBuffer] = []      // per worker (L)
    private(set) var maxLength = 0

    func reserve(tokens: Int, maxLength: Int, workers: Int, config c: BertConfig) {
        if tokens > capacity {
            let n = max(tokens, capacity * 3 / 2)
            hidden = FloatBuffer(count: n * c.hiddenSize)
            hidden2 = FloatBuffer(count: n * c.hiddenSize)
            qkv = FloatBuffer(count: n * 3 * c.hiddenSize)
            context = FloatBuffer(count: n * c.hiddenSize)
            ffn = FloatBuffer(count: n * c.intermediateSize)
            capacity = n
        }
        if maxLength > self.maxLength || scores.count < workers {
            let l = max(maxLength, self.maxLength)
            scores = (0..<workers).map { _ in FloatBuffer(count: l * l) }
            rowScale = (0..<workers).map { _ in FloatBuffer(count: l) }
            self.maxLength = l
        }
    }
}

/// Runs `body(worker)` on `workers` threads (inline when 1).
@inline(__always)
func parallel(_ workers: Int, _ body: (Int) -> Void) {
    if workers <= 1 { body(0); return }
    withoutActuallyEscaping(body) { escapable in
        // The workers only touch disjoint parts of buffers owned by the caller, which waits.
        let box = UncheckedSendable(value: escapable)
        DispatchQueue.concurrentPerform(iterations: workers) { box.value($0) }
    }
}

struct UncheckedSendable<T>: @unchecked Sendable { let value: T }

/// Splits `0..<count` into `workers` contiguous ranges and runs them in parallel.
@inline(__always)
func parallelRanges(_ count: Int, workers: Int, minPerWorker: Int = 16, _ body: (Range<Int>) -> Void) {
    let w = max(1, min(workers, count / max(minPerWorker, 1)))
    if w <= 1 { body(0..<count); return }
    parallel(w) { i in
        let lo = count * i / w, hi = count * (i + 1) / w
        if lo < hi { body(lo..<hi) }
    }
}

// Threading: OpenBLAS runs single-threaded and the encoder splits work over its own workers —
// rows of the activations for the big projections (each worker then applies the bias/GELU/
// LayerNorm epilogue to the rows it just computed, while they are in cache), columns of the
// weights when there are few rows (a query), and (sequence, head) pairs for attention. One pool
// instead of two avoids OpenBLAS's idle threads spinning while the encoder's own workers run.

/// Rows per worker below which row splitting stops paying off.
let minRowsPerWorker = 32

// C (m, n) = A (m, k) @ Wᵀ (k, n), W stored (n, k), computed by `workers` threads over column
// blocks, then `epilogue` on all rows (serially: few rows).
@inline(__always)
func linearColumns(_ c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, w: UnsafePointer<Float>,
                   m: Int, n: Int, k: Int, workers: Int) {
    if workers <= 1 {
        BLAS.sgemm(c, a: a, b: w, transB: true, m: m, n: n, k: k)
        return
    }
    parallel(workers) { i in
        let lo = n * i / workers / 16 * 16
        let hi = i == workers - 1 ? n : n * (i + 1) / workers / 16 * 16
        if lo < hi {
            BLAS.sgemm(c + lo, ldc: n, a: a, b: w + lo * k, transB: true, m: m, n: hi - lo, k: k)
        }
    }
}

// C (m, n) = A (m, k) @ Wᵀ (k, n), W stored (n, k); then epilogue(rows) on the rows computed.
// Rows are split over the workers when there are enough, columns otherwise.
@inline(__always)
func linear(_ c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, w: UnsafePointer<Float>,
            m: Int, n: Int, k: Int, workers: Int, epilogue: (Range<Int>) -> Void) {
    let rowWorkers = min(workers, m / minRowsPerWorker)
    if rowWorkers >= 2 {
        parallel(rowWorkers) { i in
            let lo = m * i / rowWorkers, hi = m * (i + 1) / rowWorkers
            BLAS.sgemm(c + lo * n, a: a + lo * k, b: w, transB: true, m: hi - lo, n: n, k: k)
            epilogue(lo..<hi)
        }
    } else {
        linearColumns(c, a: a, w: w, m: m, n: n, k: k, workers: workers)
        epilogue(0..<m)
    }
}

extension BertWeights {
    /// Forward pass over packed sequences. `ids` holds the token ids of every sequence one after
    /// the other, `lengths` their lengths (each ≥ 1, ≤ maxSequenceLength). Writes the mean-pooled,
    /// L2-normalised embedding of sequence b to `out + b·H`.
    // ids (T,) lengths (B,) -> out (B, H)
    func forward(ids: [Int32], lengths: [Int], scratch s: BertScratch, threads: Int, out: UnsafeMutablePointer<Float>) {
        let c = config
        let h = c.hiddenSize, h3 = 3 * h, inter = c.intermediateSize, d = c.headDim, nh = c.numHeads
        let total = ids.count
        let maxLen = lengths.max() ?? 0
        let workers = max(1, threads)
        s.reserve(tokens: total, maxLength: maxLen, workers: workers, config: c)
        var offsets = [Int](repeating: 0, count: lengths.count)
        for b in 1..<max(lengths.count, 1) { offsets[b] = offsets[b - 1] + lengths[b - 1] }

        let blasThreads = BLAS.threadCount
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(blasThreads) }

        var x = s.hidden.pointer, y = s.hidden2.pointer
        let qkv = s.qkv.pointer, ctx = s.context.pointer, ffn = s.ffn.pointer
        let eps = c.layerNormEps

        // Embeddings + LayerNorm.
        ids.withUnsafeBufferPointer { idp in
            parallelRanges(lengths.count, workers: workers, minPerWorker: 1) { range in
                for b in range {
                    for p in 0..<lengths[b] {
                        let t = offsets[b] + p
                        let row = x + t * h
                        let w = wordEmbeddings.pointer + Int(idp[t]) * h
                        let pe = positionEmbeddings.pointer + p * h
                        for k in 0..<h { row[k] = w[k] + pe[k] + tokenTypeEmbedding.pointer[k] }
                    }
                    Ops.layerNorm(x + offsets[b] * h, rows: lengths[b], n: h, gamma: embNormWeight.pointer,
                                  beta: embNormBias.pointer, eps: eps)
                }
            }
        }

        // Attention work items: (sequence, head), longest sequences first.
        let order = (0..<lengths.count).sorted { lengths[$0] > lengths[$1] }
        let items = order.flatMap { b in (0..<nh).map { (b, $0) } }
        let attnWorkers = min(workers, items.count)
        let scale = 1 / Float(d).squareRoot()

        for layer in layers {
            // qkv (T, 3H) = x (T, H) @ Wqkvᵀ (H, 3H)
            linear(qkv, a: x, w: layer.wqkv.pointer, m: total, n: h3, k: h, workers: workers) { _ in }

            // Attention per (sequence, head).
            let next = WorkCounter()
            parallel(attnWorkers) { worker in
                let sc = s.scores[worker].pointer
                let inv = s.rowScale[worker].pointer
                while true {
                    let i = next.take()
                    if i >= items.count { break }
                    let (b, head) = items[i]
                    let len = lengths[b]
                    let base = qkv + offsets[b] * h3
                    let q = base + head * d, k = base + h + head * d, v = base + 2 * h + head * d
                    // Q bias on this head's slice.
                    let bq = layer.bq.pointer + head * d
                    for r in 0..<len { Ops.addBias(q + r * h3, bias: bq, rows: 1, n: d) }
                    // S (L, L) = scale · Q (L, d) @ Kᵀ (d, L)
                    BLAS.sgemm(sc, a: q, lda: h3, b: k, ldb: h3, transB: true, m: len, n: len, k: d, alpha: scale)
                    // P = exp(S - rowmax), unnormalised; 1/rowsum kept for the output rows.
                    for r in 0..<len { inv[r] = Ops.softmaxUnnormalized(sc + r * len, n: len) }
                    // ctx (L, d) = P (L, L) @ V (L, d), then each row / its sum
                    let o = ctx + offsets[b] * h + head * d
                    BLAS.sgemm(o, ldc: h, a: sc, b: v, ldb: h3, m: len, n: d, k: len)
                    for r in 0..<len { Ops.scale(o + r * h, by: inv[r], n: d) }
                }
            }

            // y (T, H) = ctx (T, H) @ Woᵀ (H, H);  y = LN(y + bo' + x)
            linear(y, a: ctx, w: layer.wo.pointer, m: total, n: h, k: h, workers: workers) { [x] r in
                Ops.layerNorm(y + r.lowerBound * h, rows: r.count, n: h, gamma: layer.attnNormWeight.pointer,
                              beta: layer.attnNormBias.pointer, eps: eps, bias: layer.bo.pointer,
                              residual: x + r.lowerBound * h)
            }
            swap(&x, &y)

            // ffn (T, I) = GELU(x (T, H) @ Wiᵀ (H, I) + bi)
            linear(ffn, a: x, w: layer.ffnUp.pointer, m: total, n: inter, k: h, workers: workers) { r in
                Ops.biasGELU(ffn + r.lowerBound * inter, bias: layer.ffnUpBias.pointer, rows: r.count, n: inter)
            }
            // y (T, H) = ffn (T, I) @ Wdᵀ (I, H);  y = LN(y + bd + x)
            linear(y, a: ffn, w: layer.ffnDown.pointer, m: total, n: h, k: inter, workers: workers) { [x, y] r in
                Ops.layerNorm(y + r.lowerBound * h, rows: r.count, n: h, gamma: layer.ffnNormWeight.pointer,
                              beta: layer.ffnNormBias.pointer, eps: eps, bias: layer.ffnDownBias.pointer,
                              residual: x + r.lowerBound * h)
            }
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

/// A shared counter handing out work item indices.
final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}

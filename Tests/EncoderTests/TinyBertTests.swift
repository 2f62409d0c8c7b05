import Foundation
import Testing
import Encoder
import Tensors

/// A tiny random-weight BERT written by the test: safetensors weights, config.json,
/// tokenizer.json and sentence_bert_config.json, plus a plain Double reference forward pass.
final class TinyBert: @unchecked Sendable {
    static let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog",
                        "ran", "far", ".", ",", "!", "un", "##aff", "##able", "big", "small", "red", "blue", "tree"]
    let hidden = 32, heads = 4, layers = 2, inter = 48, maxPositions = 40, maxSeq = 24
    let directory: URL
    var tensors: [String: (shape: [Int], values: [Float])] = [:]

    init(seed: UInt64 = 7, corrupt: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tinybert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var rng = seed
        func random(_ n: Int, scale: Float, offset: Float = 0) -> [Float] {
            (0..<n).map { _ in
                rng &+= 0x9E37_79B9_7F4A_7C15
                var z = rng
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                return offset + (Float(z >> 40) / Float(1 << 24) * 2 - 1) * scale
            }
        }
        let h = hidden, v = Self.vocab.count
        func add(_ name: String, _ shape: [Int], scale: Float, offset: Float = 0) {
            tensors[name] = (shape, random(shape.reduce(1, *), scale: scale, offset: offset))
        }
        add("embeddings.word_embeddings.weight", [v, h], scale: 1)
        add("embeddings.position_embeddings.weight", [maxPositions, h], scale: 0.5)
        add("embeddings.token_type_embeddings.weight", [2, h], scale: 0.5)
        add("embeddings.LayerNorm.weight", [h], scale: 0.2, offset: 1)
        add("embeddings.LayerNorm.bias", [h], scale: 0.2)
        for l in 0..<layers {
            let p = "encoder.layer.\(l)."
            for m in ["query", "key", "value"] {
                add(p + "attention.self.\(m).weight", [h, h], scale: 0.4)
                add(p + "attention.self.\(m).bias", [h], scale: 0.3)
            }
            add(p + "attention.output.dense.weight", [h, h], scale: 0.3)
            add(p + "attention.output.dense.bias", [h], scale: 0.3)
            add(p + "attention.output.LayerNorm.weight", [h], scale: 0.2, offset: 1)
            add(p + "attention.output.LayerNorm.bias", [h], scale: 0.2)
            add(p + "intermediate.dense.weight", [inter, h], scale: 0.3)
            add(p + "intermediate.dense.bias", [inter], scale: 0.3)
            add(p + "output.dense.weight", [h, inter], scale: 0.3)
            add(p + "output.dense.bias", [h], scale: 0.3)
            add(p + "output.LayerNorm.weight", [h], scale: 0.2, offset: 1)
            add(p + "output.LayerNorm.bias", [h], scale: 0.2)
        }
        var written = tensors
        if corrupt { written["encoder.layer.1.intermediate.dense.bias"] = ([inter + 1], random(inter + 1, scale: 1)) }
        try Self.writeSafetensors(directory.appendingPathComponent("model.safetensors"), written)
        let config: [String: Any] = [
            "model_type": "bert", "hidden_act": "gelu", "hidden_size": h, "num_hidden_layers": layers,
            "num_attention_heads": heads, "intermediate_size": inter, "max_position_embeddings": maxPositions,
            "type_vocab_size": 2, "vocab_size": v, "layer_norm_eps": 1e-12, "position_embedding_type": "absolute",
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))
        try JSONSerialization.data(withJSONObject: ["max_seq_length": maxSeq, "do_lower_case": false])
            .write(to: directory.appendingPathComponent("sentence_bert_config.json"))
        let tokenizer: [String: Any] = [
            "normalizer": ["type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "lowercase": true],
            "pre_tokenizer": ["type": "BertPreTokenizer"],
            "post_processor": ["type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]],
            "model": ["type": "WordPiece", "unk_token": "[UNK]", "max_input_chars_per_word": 100,
                      "vocab": Dictionary(uniqueKeysWithValues: Self.vocab.enumerated().map { ($1, $0) })],
        ]
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: directory.appendingPathComponent("tokenizer.json"))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    static func writeSafetensors(_ url: URL, _ tensors: [String: (shape: [Int], values: [Float])]) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var data = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [data.count, data.count + 4 * t.values.count]]
            t.values.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(data)
        try file.write(to: url)
    }

    /// Straightforward BERT forward in Double for one id sequence: the reference.
    func reference(_ ids: [Int]) -> [Float] {
        let h = hidden, d = hidden / heads, n = ids.count
        func w(_ name: String) -> [Double] { tensors[name]!.values.map(Double.init) }
        func linear(_ x: [[Double]], _ weight: [Double], _ bias: [Double], out: Int) -> [[Double]] {
            x.map { (row: [Double]) -> [Double] in
                (0..<out).map { (o: Int) -> Double in
                    var s = bias[o]
                    for i in 0..<row.count { s += weight[o * row.count + i] * row[i] }
                    return s
                }
            }
        }
        func layerNorm(_ x: [[Double]], _ g: [Double], _ b: [Double]) -> [[Double]] {
            x.map { (row: [Double]) -> [Double] in
                let mean = row.reduce(0, +) / Double(row.count)
                var variance = 0.0
                for e in row { variance += (e - mean) * (e - mean) }
                variance /= Double(row.count)
                let inv = 1 / (variance + 1e-12).squareRoot()
                return row.indices.map { (i: Int) -> Double in (row[i] - mean) * inv * g[i] + b[i] }
            }
        }
        let word = w("embeddings.word_embeddings.weight"), pos = w("embeddings.position_embeddings.weight")
        let type = w("embeddings.token_type_embeddings.weight")
        var x: [[Double]] = (0..<n).map { (p: Int) -> [Double] in
            (0..<h).map { (c: Int) -> Double in word[ids[p] * h + c] + pos[p * h + c] + type[c] }
        }
        x = layerNorm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        for l in 0..<layers {
            let p = "encoder.layer.\(l)."
            let q = linear(x, w(p + "attention.self.query.weight"), w(p + "attention.self.query.bias"), out: h)
            let k = linear(x, w(p + "attention.self.key.weight"), w(p + "attention.self.key.bias"), out: h)
            let v = linear(x, w(p + "attention.self.value.weight"), w(p + "attention.self.value.bias"), out: h)
            var ctx = [[Double]](repeating: [Double](repeating: 0, count: h), count: n)
            for head in 0..<heads {
                for i in 0..<n {
                    var s = [Double](repeating: 0, count: n)
                    for j in 0..<n {
                        for e in 0..<d { s[j] += q[i][head * d + e] * k[j][head * d + e] }
                        s[j] /= Double(d).squareRoot()
                    }
                    let m = s.max()!
                    s = s.map { Foundation.exp($0 - m) }
                    let z = s.reduce(0, +)
                    for j in 0..<n { for e in 0..<d { ctx[i][head * d + e] += s[j] / z * v[j][head * d + e] } }
                }
            }
            let a = linear(ctx, w(p + "attention.output.dense.weight"), w(p + "attention.output.dense.bias"), out: h)
            let xa: [[Double]] = (0..<n).map { (i: Int) -> [Double] in (0..<h).map { (c: Int) -> Double in x[i][c] + a[i][c] } }
            x = layerNorm(xa,
                          w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias"))
            let f = linear(x, w(p + "intermediate.dense.weight"), w(p + "intermediate.dense.bias"), out: inter)
                .map { (row: [Double]) -> [Double] in row.map { (z: Double) -> Double in z * 0.5 * (1 + Foundation.erf(z / 2.0.squareRoot())) } }
            let o = linear(f, w(p + "output.dense.weight"), w(p + "output.dense.bias"), out: h)
            let xo: [[Double]] = (0..<n).map { (i: Int) -> [Double] in (0..<h).map { (c: Int) -> Double in x[i][c] + o[i][c] } }
            x = layerNorm(xo,
                          w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias"))
        }
        let mean: [Double] = (0..<h).map { (c: Int) -> Double in
            var s = 0.0
            for row in x { s += row[c] }
            return s / Double(n)
        }
        let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return mean.map { Float($0 / norm) }
    }
}

@Suite("Tiny random BERT")
struct TinyBertTests {
    static let texts = ["the cat sat on the mat.", "a dog", "unaffable big red tree, small blue cat!",
                        "", "the the the the the the the the the the the the the the the the the the the the the the the the the the"]

    @Test("embeddings match a plain Double forward pass; shapes and unit norms")
    func matchesReference() throws {
        let tiny = try TinyBert()
        let encoder = try SentenceEncoder(directory: tiny.directory, modelID: "tiny")
        #expect(encoder.modelID == "tiny")
        #expect(encoder.dimension == 32)
        #expect(encoder.config.maxSequenceLength == 24)
        let vectors = try encoder.embed(Self.texts)
        #expect(vectors.count == Self.texts.count)
        for (text, v) in zip(Self.texts, vectors) {
            #expect(v.count == 32)
            let norm = v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            let ids = encoder.tokenize(text)
            #expect(ids.count <= 24)
            let want = tiny.reference(ids)
            #expect(maxAbsDiff(v, want) < 2e-5, "\(text.debugDescription): \(maxAbsDiff(v, want))")
        }
        #expect(try encoder.embed([]).isEmpty)
    }

    @Test("a batch gives each text the embedding it has alone: padding/packing changes nothing")
    func batchEqualsSingle() throws {
        let tiny = try TinyBert()
        for threads in [1, 2] {
            let encoder = try SentenceEncoder(directory: tiny.directory, threads: threads)
            let batched = try encoder.embed(Self.texts)
            for (text, b) in zip(Self.texts, batched) {
                let single = try encoder.embed(query: text)
                #expect(maxAbsDiff(b, single) < 1e-5, "threads \(threads), \(text.debugDescription)")
            }
            // Short text next to long ones, in different orders and pass sizes.
            let short = "a dog"
            let alone = try encoder.embed(query: short)
            let long = Self.texts[4]
            for batch in [[short, long], [long, long, short], [long, short, long, "the cat"]] {
                let out = try encoder.embed(batch)
                let i = batch.firstIndex(of: short)!
                #expect(maxAbsDiff(out[i], alone) < 1e-5)
            }
            let small = try SentenceEncoder(directory: tiny.directory, threads: threads, maxTokensPerPass: 1)
            let split = try small.embed(Self.texts)
            for (a, b) in zip(split, batched) { #expect(maxAbsDiff(a, b) < 1e-5) }
        }
    }

    @Test("long inputs are truncated at max_seq_length with [SEP] kept")
    func truncation() throws {
        let tiny = try TinyBert()
        let encoder = try SentenceEncoder(directory: tiny.directory)
        let text = Array(repeating: "big red tree", count: 20).joined(separator: " ")
        let ids = encoder.tokenize(text)
        #expect(ids.count == 24)
        #expect(ids.first == 2 && ids.last == 3)
        let fromText = try encoder.embed(query: text)
        let fromIDs = try encoder.embed(tokenIDs: [ids + [20, 21, 22]])[0]
        #expect(maxAbsDiff(fromText, fromIDs) < 1e-6)
        #expect(maxAbsDiff(fromText, tiny.reference(ids)) < 2e-5)
        #expect(throws: EncoderError.self) { try encoder.embed(tokenIDs: [[2, 999, 3]]) }
    }

    @Test("concurrent callers get the same vectors")
    func concurrent() async throws {
        let tiny = try TinyBert()
        let encoder = try SentenceEncoder(directory: tiny.directory)
        let expected = try encoder.embed(Self.texts)
        try await withThrowingTaskGroup(of: [[Float]].self) { group in
            for _ in 0..<8 { group.addTask { try encoder.embed(Self.texts) } }
            for try await result in group {
                for (a, b) in zip(result, expected) { #expect(maxAbsDiff(a, b) < 1e-6) }
            }
        }
    }

    @Test("missing files ask for `make models`; wrong shapes name the file and tensor")
    func errors() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-model-\(UUID().uuidString)")
        do {
            _ = try SentenceEncoder(directory: empty)
            Issue.record("expected an error")
        } catch let e as EncoderError {
            guard case .modelFilesMissing = e else { Issue.record("wrong error \(e)"); return }
            #expect(e.description.contains("make models"))
        }
        let tiny = try TinyBert(corrupt: true)
        do {
            _ = try SentenceEncoder(directory: tiny.directory)
            Issue.record("expected an error")
        } catch let e as EncoderError {
            guard case .weights(.shapeMismatch(let file, let name, _, _)) = e else { Issue.record("wrong error \(e)"); return }
            #expect(file.hasSuffix("model.safetensors"))
            #expect(name == "encoder.layer.1.intermediate.dense.bias")
        }
    }
}

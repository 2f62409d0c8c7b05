import Foundation
import TestSupport
import Testing
import Encoder
import Tensors
import Tokenizers

/// A tiny random-weight E5S1 model (hidden 64, 2 heads, 2 layers, 16 positions) written by the test.
enum TinyE5 {
    static let pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "▁a", "b", "▁passage", ":", "▁query", "▁ba", "ab"]
    static let scores: [Float] = [0, 0, 0, 0, -2, -3, -1, -4, -1, -2, -1, -1.5, -2.5]

    static func write(_ name: String = "tiny-e5.bin", seed: UInt64 = 3) throws -> URL {
        let dir = TestDirectory.make("tiny-e5")
        let header = E5File.Header(hiddenSize: 64, layerCount: 2, headCount: 2, ffnSize: 128, vocabSize: pieces.count,
                                   maxPositions: 16, typeVocabSize: 2, layerNormEps: 1e-12)
        var w = E5FileWriter.randomModel(header: header, pieces: pieces, scores: scores, seed: seed)
        w.normalization = [(0x09, [0x20]), (0x0A, [0x20]), (0xA0, [0x20])]
        let url = dir.appendingPathComponent(name)
        try w.write(to: url.path)
        return url
    }
}

@Suite("Tiny E5 encoder")
struct TinyE5Tests {
    static let texts = ["a b", "ab ba a", "", "b\u{00A0}a\tab", "zzz ? é"]

    @Test("loads from the file or its folder; roles, framing, unit vectors, batch = single, threads")
    func embeds() throws {
        let url = try TinyE5.write()
        let encoder = try SentenceEncoder(path: url, threads: 1)
        #expect(encoder.kind == .e5)
        #expect(encoder.dimension == 64 && encoder.maxSequenceLength == 16)
        #expect(encoder.modelID.hasPrefix("tiny-e5-") && encoder.modelID.count == "tiny-e5-".count + 12)
        let folder = try SentenceEncoder(path: url.deletingLastPathComponent(), threads: 2)
        #expect(folder.modelID == encoder.modelID)
        // <s> ▁passage : ▁a ▁ b </s>
        #expect(encoder.tokenize("a b") == [0, 8, 9, 6, 4, 7, 2])
        #expect(encoder.tokenize("a b", as: .query) == [0, 10, 9, 6, 4, 7, 2])
        let batched = try encoder.embed(Self.texts)
        let two = try folder.embed(Self.texts)
        for (i, text) in Self.texts.enumerated() {
            let v = batched[i]
            let norm = v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            #expect(try encoder.embed([text])[0] == v, "batched vs alone: \(text.debugDescription)")
            #expect(maxAbsDiff(two[i], v) == 0, "1 vs 2 threads: \(text.debugDescription)")
        }
        let q = try encoder.embed(query: "a b")
        #expect(q == (try encoder.embed(queries: ["a b"])[0]))
        #expect(cosine(q, batched[0]) < 0.99999)  // the prefix changes the vector
    }

    @Test("an empty and a 100,000-character text embed; long texts are cut to the 16 positions")
    func longAndEmpty() throws {
        let encoder = try SentenceEncoder(path: try TinyE5.write(), threads: 2)
        let long = String(repeating: "ab ba b a ", count: 10_000)
        let ids = encoder.tokenize(long)
        #expect(ids.count == 16 && ids.first == 0 && ids.last == 2)
        let v = try encoder.embed([long, "", long + "b"])
        #expect(v.count == 3 && v.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isFinite) })
        #expect(v[0] == v[2])  // the cut falls before the difference
        #expect(try encoder.embed(query: "").allSatisfy(\.isFinite))
        #expect(try encoder.embed(query: long).allSatisfy(\.isFinite))
        let passes = try SentenceEncoder(path: try TinyE5.write(), threads: 2, maxTokensPerPass: 16)
        let split = try passes.embed(Self.texts)
        for (a, b) in zip(split, try encoder.embed(Self.texts)) { #expect(a == b) }
    }

    @Test("a truncated, a foreign or a missing model file is named with its problem")
    func badFiles() throws {
        let url = try TinyE5.write()
        let bytes = try Data(contentsOf: url)
        let cut = url.deletingLastPathComponent().appendingPathComponent("cut.bin")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        do {
            _ = try SentenceEncoder(path: cut)
            Issue.record("a truncated file loaded")
        } catch let e as EncoderError {
            #expect(e.description.hasPrefix(cut.path + ": truncated:"), "\(e)")
        }
        let foreign = url.deletingLastPathComponent().appendingPathComponent("model.bin")
        try Data("GGUF\u{3}\0\0\0xxxxxxxxxxxxxxxx".utf8).write(to: foreign)
        do {
            _ = try SentenceEncoder(path: foreign)
            Issue.record("a foreign file loaded")
        } catch let e as EncoderError {
            #expect(e.description == "\(foreign.path): malformed: not an E5S1 model file (starts with \"GGUF\", expected \"E5S1\")")
        }
        let missing = url.deletingLastPathComponent().appendingPathComponent("none.bin")
        do {
            _ = try SentenceEncoder(path: missing)
            Issue.record("a missing file loaded")
        } catch let e as EncoderError {
            guard case .modelFilesMissing = e else { Issue.record("wrong error \(e)"); return }
            #expect(e.description.contains("none.bin") && e.description.contains("make models"))
        }
    }
}

@Suite("Unigram tokenizer")
struct UnigramTokenizerTests {
    static func tokenizer() throws -> UnigramTokenizer {
        let pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "▁a", "b", "▁ab", "ab", "é"].map { Array($0.utf8) }
        let scores: [Float] = [0, 0, 0, 0, -2, -3, -1, -4, -1.5, -1, -2]
        return try UnigramTokenizer(vocabulary: UnigramVocabulary(
            pieces: pieces, scores: scores, bos: 0, eos: 2, pad: 1, unk: 3,
            normalization: [0x09: [0x20], 0xAD: [], 0xE9: [0x65, 0x301], 0x1F34E: [0x61]]))
    }

    @Test("Viterbi picks the best-scoring segmentation; unknown characters are <unk>")
    func viterbi() throws {
        let t = try Self.tokenizer()
        #expect(t.encode("ab") == [8])              // ▁ab (-1.5) beats ▁a b (-5) and ▁ ab (-3)
        #expect(t.encode("a b") == [6, 4, 7])       // ▁a ▁ b
        #expect(t.encode("x") == [4, 3])            // ▁ <unk>
        #expect(t.encode("") == [4])                // the metaspace alone, as the reference
        #expect(t.unknownScore == -14)
        #expect(t.piece(8) == "▁ab" && t.pieceID("▁ab") == 8 && t.pieceID("zz") == nil)
    }

    @Test("normalisation map, space collapsing and the leading metaspace")
    func normalisation() throws {
        let t = try Self.tokenizer()
        #expect(t.encode("a\t\t  b") == t.encode("a b"))   // tab -> space, runs collapse
        #expect(t.encode("a\u{AD}b") == t.encode("ab"))    // soft hyphen deleted
        #expect(t.encode(" a") == [6])                     // a leading space is the metaspace
        #expect(t.encode("🍎") == t.encode("a"))           // a mapping beyond the BMP
        #expect(t.encode("é") == [4, 3, 3])                // é -> e + U+0301, neither a piece
        #expect(t.encode("ab ab ab", limit: 2) == [8, 8])
        #expect(t.encode(String(repeating: "a b ", count: 5000), limit: 5) == Array(t.encode(String(repeating: "a b ", count: 50)).prefix(5)))
    }

    @Test("inconsistent vocabularies are refused")
    func errors() {
        #expect(throws: TokenizersError.self) {
            try UnigramTokenizer(vocabulary: UnigramVocabulary(pieces: [[0x61]], scores: [0, 1], bos: 0, eos: 0, pad: 0, unk: 0))
        }
        #expect(throws: TokenizersError.self) {
            try UnigramTokenizer(vocabulary: UnigramVocabulary(pieces: [[0x61]], scores: [0], bos: 0, eos: 3, pad: 0, unk: 0))
        }
    }
}

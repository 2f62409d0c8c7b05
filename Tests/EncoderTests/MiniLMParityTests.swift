import Foundation
import Testing
import Encoder
import Tokenizers

/// Parity with the reference outputs in `minilm.json` on the real model files
/// (`make models`). Run in release: `swift test -c release --filter Parity`.
@Suite("MiniLM Parity")
struct MiniLMParityTests {
    static let missingMessage: Comment = "all-MiniLM-L6-v2 model files are missing in models/encoder/all-MiniLM-L6-v2: run `make models`"

    static func requireModel() throws {
        let missing = SentenceEncoder.requiredFiles.filter {
            !FileManager.default.fileExists(atPath: Repo.miniLM.appendingPathComponent($0).path)
        }
        try #require(missing.isEmpty, missingMessage)
    }

    @Test("token ids are identical to Hugging Face tokenizers for every case")
    func tokenIDs() throws {
        try Self.requireModel()
        let fixture = try MiniLMFixture.load()
        let tokenizer = try WordPieceTokenizer(tokenizerJSON: Repo.miniLM.appendingPathComponent("tokenizer.json"),
                                               maxLength: fixture.max_seq_length)
        for c in fixture.cases {
            let ids = tokenizer.encode(c.text)
            #expect(ids == c.ids, "ids differ for \(c.text.debugDescription)")
            #expect(ids.map(tokenizer.token) == c.tokens, "tokens differ for \(c.text.debugDescription)")
        }
    }

    @Test("token ids equal Hugging Face tokenizers on every line of data/ and on tricky Unicode strings")
    func tokenIDsOnDocuments() throws {
        try Self.requireModel()
        struct Cases: Decodable { struct Case: Decodable { let text: String; let ids: [Int] }; let cases: [Case] }
        let data = try Data(contentsOf: Repo.resources.appendingPathComponent("hf-wordpiece.json"))
        let cases = try JSONDecoder().decode(Cases.self, from: data).cases
        #expect(cases.count > 300)
        let tokenizer = try WordPieceTokenizer(tokenizerJSON: Repo.miniLM.appendingPathComponent("tokenizer.json"), maxLength: 256)
        for c in cases {
            let ids = tokenizer.encode(c.text)
            #expect(ids == c.ids, "ids differ for \(c.text.debugDescription)")
        }
    }

    @Test("every embedding has cosine ≥ 0.9999 with the reference, batched and one by one")
    func embeddings() throws {
        try Self.requireModel()
        let fixture = try MiniLMFixture.load()
        let encoder = try SentenceEncoder(directory: Repo.miniLM)
        #expect(encoder.dimension == 384)
        #expect(encoder.config.maxSequenceLength == 256)
        let batched = try encoder.embed(fixture.cases.map(\.text))
        var worst = 1.0
        defer { print("MiniLM parity: lowest cosine \(worst) over \(fixture.cases.count) cases (batched and single)") }
        for (c, e) in zip(fixture.cases, batched) {
            let cos = cosine(e, c.embedding)
            worst = min(worst, cos)
            #expect(cos >= 0.9999, "batched cosine \(cos) for \(c.text.debugDescription)")
            let single = try encoder.embed(query: c.text)
            let cos1 = cosine(single, c.embedding)
            worst = min(worst, cos1)
            #expect(cos1 >= 0.9999, "single cosine \(cos1) for \(c.text.debugDescription)")
        }
    }
}

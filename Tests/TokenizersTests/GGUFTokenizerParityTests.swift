// Parity with llama.cpp on the real model files (run in release: `swift test -c release --filter Parity`).
// Reference ids: Tests/TokenizersTests/Resources/*.json (copied from ../shared/fixtures, made by
// llama.cpp through llama-cpp-python). The model files come from `make models`.

import Benchmarks
import Foundation
import Tensors
import Testing
import Tokenizers

struct TokenizerFixture: Decodable {
    struct Case: Decodable {
        let text: String
        let ids_add_bos: [Int32]
        let ids_no_bos_special: [Int32]
    }
    let tokenize: [Case]
}

enum ParityFiles {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repoRoot = testsDir.deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ model: String) throws -> TokenizerFixture {
        let url = testsDir.appendingPathComponent("Resources/\(model).json")
        return try JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: url))
    }

    /// The model file, or nil after recording a failure that says how to get it.
    static func modelPath(_ model: String) -> String? {
        let path = repoRoot.appendingPathComponent("models/decoder/\(model).gguf").path
        if FileManager.default.fileExists(atPath: path) { return path }
        Issue.record("model file \(path) is missing: run `make models` first")
        return nil
    }
}

@Suite("GGUF tokenizer Parity (llama.cpp)")
struct GGUFTokenizerParityTests {
    static let models = ["gemma-3-270m-q4_k_m", "SmolLM2-135M-Instruct.Q4_1"]

    @Test("token ids identical to llama.cpp for every fixture string", arguments: models)
    func idsMatchLlamaCpp(model: String) throws {
        guard let path = ParityFiles.modelPath(model) else { return }
        let fixture = try ParityFiles.fixture(model)
        let tok = try GGUFTokenizerLoader.load(path: path)
        #expect(fixture.tokenize.count == 20)
        for c in fixture.tokenize {
            let withBOS = tok.tokenize(c.text, addBOS: true, parseSpecial: false)
            #expect(withBOS == c.ids_add_bos, "add_bos, special as text: \(c.text.debugDescription)")
            let special = tok.tokenize(c.text, addBOS: false, parseSpecial: true)
            #expect(special == c.ids_no_bos_special, "no bos, special parsed: \(c.text.debugDescription)")
        }
    }

    @Test("decoding the ids gives the text back", arguments: models)
    func decodeRoundTrip(model: String) throws {
        guard let path = ParityFiles.modelPath(model) else { return }
        let fixture = try ParityFiles.fixture(model)
        let tok = try GGUFTokenizerLoader.load(path: path)
        for c in fixture.tokenize {
            #expect(tok.decode(c.ids_add_bos) == c.text, "\(c.text.debugDescription)")
            // streaming, one token at a time, gives the same text
            var stream = tok.makeStreamingDetokenizer()
            var text = ""
            for id in c.ids_add_bos { text += stream.append(id) }
            text += stream.flush()
            #expect(text == c.text, "streamed: \(c.text.debugDescription)")
        }
    }

    @Test("special ids and end-of-turn tokens from metadata")
    func specialIDs() throws {
        if let path = ParityFiles.modelPath("gemma-3-270m-q4_k_m") {
            let tok = try GGUFTokenizerLoader.load(path: path)
            #expect(tok is SentencePieceTokenizer)
            #expect(tok.vocabSize == 262_144)
            #expect(tok.bosID == 2)
            #expect(tok.eosID == 1)
            #expect(tok.addsBOS)
            #expect(tok.eotIDs == [106])
            #expect(tok.isEndOfGeneration(106) && tok.isEndOfGeneration(1))
            #expect(tok.tokenString(105) == "<start_of_turn>")
            #expect(tok.tokenID("<end_of_turn>") == 106)
            #expect(tok.tokenType(105) == .control)
            #expect(tok.decode([105, 2364], renderSpecial: true) == "<start_of_turn>user")
            #expect(tok.decode([105, 2364]) == "user")
        }
        if let path = ParityFiles.modelPath("SmolLM2-135M-Instruct.Q4_1") {
            let tok = try GGUFTokenizerLoader.load(path: path)
            #expect(tok is BPETokenizer)
            #expect(tok.vocabSize == 49_152)
            #expect(tok.bosID == 1)
            #expect(tok.eosID == 2)
            #expect(!tok.addsBOS)
            #expect(tok.eotIDs == [0, 2])
            #expect(tok.tokenString(2) == "<|im_end|>")
        }
    }

    @Test("speed figures on a ~2,000-token French prompt (printed, not asserted)", arguments: models)
    func speed(model: String) throws {
        guard let path = ParityFiles.modelPath(model) else { return }
        let r = try GGUFTokenizerBench.run(modelPath: path, iterations: 30)
        print("[tokenizer bench] \(r)")
        #expect(r.promptTokens >= 2000)
    }
}

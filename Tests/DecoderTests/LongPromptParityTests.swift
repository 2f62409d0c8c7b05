import Foundation
import Testing
import Tensors
import Decoder

/// Parity with llama.cpp beyond one 512-token batch: RAG prompts of about 700, 1,100 and 1,500 tokens
/// (the server's prompts are 900-1,300), so the prompt runs as 2-3 batches (llama.cpp: n_batch =
/// n_ubatch = 512; the engine: maxBatch 512) and attends to the F16 KV cache of the earlier batches, and
/// Gemma 3's sliding-window layers (window 512) drop their oldest keys. Reference:
/// Resources/long_prompts.json, written by scripts/long-prompt-reference.py (llama-cpp-python 0.3.36; not
/// run by CI). Same checks as DecoderParityTests (Parity.check). Release mode:
/// `swift test -c release --filter LongPromptParity`.
@Suite("Decoder Long-prompt Parity", .serialized)
struct LongPromptParityTests {
    struct Reference: Decodable {
        let source: String
        let models: [Parity.Fixture]
    }

    static let reference: Reference? = try? JSONDecoder().decode(Reference.self,
                                                                  from: Parity.resource("long_prompts.json"))

    static func available(_ file: String) -> Bool { FileManager.default.fileExists(atPath: Parity.modelPath(file)) }

    func check(_ file: String) throws {
        let ref = try #require(Self.reference, "Resources/long_prompts.json is missing or unreadable")
        let fx = try #require(ref.models.first { $0.model == file }, "long_prompts.json has no \(file)")
        let model = try Parity.load(fx)
        for g in fx.greedy { try Parity.check(g, model: model, name: fx.model) }
    }

    @Test(.enabled(if: available("SmolLM2-135M-Instruct.Q4_1.gguf"),
                   "models/decoder/SmolLM2-135M-Instruct.Q4_1.gguf is missing: run make models"))
    func smolLM2() throws { try check("SmolLM2-135M-Instruct.Q4_1.gguf") }

    @Test(.enabled(if: available("gemma-3-270m-q4_k_m.gguf"),
                   "models/decoder/gemma-3-270m-q4_k_m.gguf is missing: run make models"))
    func gemma3() throws { try check("gemma-3-270m-q4_k_m.gguf") }
}

import Foundation
import Testing
import Tensors
import Decoder

/// Parity with llama.cpp on the real model files (`make models`), from the fixtures copied in
/// Resources/ (../shared/fixtures). Meant for release mode (`swift test -c release --filter Parity`).
/// Checks: Parity.check (ParitySupport.swift).
@Suite("Decoder Parity", .serialized)
struct DecoderParityTests {
    func check(_ fixture: String, mode: PrefillMode) throws {
        let fx = try JSONDecoder().decode(Parity.Fixture.self, from: Parity.resource(fixture))
        let model = try Parity.load(fx, options: ComputeOptions(prefillMode: mode))
        for g in fx.greedy { try Parity.check(g, model: model, name: fx.model) }
    }

    @Test func smolLM2() throws { try check("SmolLM2-135M-Instruct.Q4_1.json", mode: .quantized) }
    @Test func gemma3() throws { try check("gemma-3-270m-q4_k_m.json", mode: .quantized) }
}

import Foundation
import Testing
import Tensors
import Decoder

@Suite("Generation")
struct GenerationTests {
    static func model(_ name: String) throws -> (LanguageModel, String) {
        let path = TinyModels.path("gen-\(name)")
        try TinyModels.write(TinyModels.Spec(arch: "llama", weightType: .q8_0), to: path)
        return (try LanguageModel(path: path, contextLength: 64, pool: ThreadPool(threads: 2)), path)
    }

    @Test func greedyStreamMatchesArgmaxLoop() async throws {
        let (m, path) = try Self.model("greedy")
        defer { unlink(path) }
        let prompt = [1, 5, 9, 33]
        let st = m.makeState()
        var logits = try m.evaluate(prompt, state: st)
        var expected: [Int] = []
        for _ in 0..<6 {
            let t = Sampler.argmax(logits)
            expected.append(t)
            logits = try m.evaluate([t], state: st)
        }
        let g = Generator(model: m)
        var got: [Int] = []
        var stats: GenerationStats?
        for try await e in g.generate(prompt: prompt, maxTokens: 6, stopTokens: [], repeatGuard: 0) {
            switch e {
            case let .token(t): got.append(t)
            case let .finished(s): stats = s
            }
        }
        #expect(got == expected)
        #expect(stats?.generatedTokens == 6 && stats?.stopReason == .maxTokens)
        // Same prompt again, same output (a 4-token prompt is too short to reuse from the cache:
        // `SpeculativeDecodingTests.aCachedPromptPrefixChangesNoBitOfTheLogits`).
        var again: [Int] = []
        for try await e in g.generate(prompt: prompt, maxTokens: 6, stopTokens: [], repeatGuard: 0) {
            if case let .token(t) = e { again.append(t) }
            if case let .finished(s) = e { #expect(s.evaluatedPromptTokens == prompt.count) }
        }
        #expect(again == expected)
        // Stop token.
        var stopped: StopReason?
        for try await e in g.generate(prompt: prompt, maxTokens: 6, stopTokens: [expected[2]], repeatGuard: 0) {
            if case let .finished(s) = e { stopped = s.stopReason }
        }
        #expect(stopped == .stopToken(expected[2]))
    }

    @Test func seededSamplingIsDeterministic() throws {
        var logits: [Float] = (0..<100).map { Float($0 % 17) * 0.3 }
        var a = Sampler(SamplingParameters(temperature: 0.8, topK: 10, topP: 0.9, seed: 42))
        var b = Sampler(SamplingParameters(temperature: 0.8, topK: 10, topP: 0.9, seed: 42))
        var sa: [Int] = [], sb: [Int] = []
        for _ in 0..<20 {
            sa.append(logits.withUnsafeMutableBufferPointer { a.sample($0, history: []) })
            sb.append(logits.withUnsafeMutableBufferPointer { b.sample($0, history: []) })
        }
        #expect(sa == sb)
        // Only top-k candidates (values 16*0.3 and 15*0.3 … are the largest).
        let top = Set((0..<100).sorted { logits[$0] > logits[$1] }.prefix(10))
        #expect(sa.allSatisfy { top.contains($0) })
        // Repetition penalty lowers a seen token.
        var g = Sampler(SamplingParameters(repetitionPenalty: 100))
        let best = logits.withUnsafeMutableBufferPointer { g.sample($0, history: [16]) }
        #expect(best != 16)
    }

    @Test func copyBiasFollowsTheLongestRunFoundInTheSource() throws {
        // Source: two runs separated by -1; "1 2 3" continues with 4, "2 3" (shorter) with 9.
        let source = [1, 2, 3, 4, -1, 2, 3, 9, 2, 3, -1, 5]
        let s = Sampler(SamplingParameters(copyBias: 5, copyMinMatch: 2), copySource: source)
        let long = s.copyContinuations(history: [7, 1, 2, 3], minMatch: 2)
        #expect(long.tokens == [4] && long.length == 3)
        let short = s.copyContinuations(history: [8, 2, 3], minMatch: 2)
        #expect(Set(short.tokens) == [4, 9] && short.length == 2)
        // A run at the end of a segment (before -1) continues nowhere; below minMatch: nothing.
        #expect(s.copyContinuations(history: [0, 5], minMatch: 1).tokens.isEmpty)
        #expect(s.copyContinuations(history: [0, 3], minMatch: 2).tokens.isEmpty)
        // Greedy: token 4 wins over a slightly higher logit once biased; no bias, no change.
        var logits = [Float](repeating: 0, count: 10)
        logits[6] = 3
        logits[4] = 1
        var biased = Sampler(SamplingParameters(copyBias: 5), copySource: source)
        #expect(logits.withUnsafeMutableBufferPointer { biased.sample($0, history: [1, 2, 3]) } == 4)
        logits[4] = 1
        var plain = Sampler(SamplingParameters(), copySource: source)
        #expect(logits.withUnsafeMutableBufferPointer { plain.sample($0, history: [1, 2, 3]) } == 6)
    }
}

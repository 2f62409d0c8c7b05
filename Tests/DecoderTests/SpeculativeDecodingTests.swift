import Foundation
import Testing
import Tensors
import Decoder

/// Speculative decoding must change nothing but speed: a draft's positions computed in one pass get
/// the bits one-token decoding gives them, and generation with drafts emits the same tokens.
@Suite("Speculative decoding")
struct SpeculativeDecodingTests {
    static func model(_ name: String, arch: String, type: GGMLType) throws -> (LanguageModel, String) {
        let path = TinyModels.path("spec-\(name)")
        try TinyModels.write(TinyModels.Spec(arch: arch, weightType: type), to: path)
        return (try LanguageModel(path: path, contextLength: 128, pool: ThreadPool(threads: 2)), path)
    }

    @Test(arguments: [("llama", GGMLType.q4_K), ("qwen2", .q5_0), ("gemma3", .q6_K), ("llama", .q8_0), ("qwen2", .q4_1),
                      ("llama", .q4_0), ("qwen2", .q6_K), ("gemma3", .q5_K)])
    func draftPositionsGetTheBitsOfOneTokenDecoding(arch: String, type: GGMLType) throws {
        let (m, path) = try Self.model("each-\(arch)-\(type)", arch: arch, type: type)
        defer { unlink(path) }
        let prompt = [1, 7, 30, 12, 55, 3, 81, 9]
        let draft = [44, 2, 17, 60, 5, 5]
        let one = m.makeState(), each = m.makeState()
        try m.evaluate(prompt, state: one)
        try m.evaluate(prompt, state: each)
        var expected: [Float] = []
        for t in draft { expected += Array(try m.evaluate([t], state: one)) }
        let rows = Array(try m.evaluateEach(draft, state: each))
        #expect(rows.count == expected.count)
        #expect(rows.map(\.bitPattern) == expected.map(\.bitPattern))
        // the cache too: the next token continues identically (past gemma3's 4-token window)
        #expect(each.position == one.position)
        let a = Array(try m.evaluate([8], state: one)), b = Array(try m.evaluate([8], state: each))
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        // a rejected tail is dropped by truncation: re-running from there gives the same bits
        each.truncate(to: prompt.count + 2)
        one.truncate(to: prompt.count + 2)
        let c = Array(try m.evaluateEach([9, 10, 11], state: each))
        var d: [Float] = []
        for t in [9, 10, 11] { d += Array(try m.evaluate([t], state: one)) }
        #expect(c.map(\.bitPattern) == d.map(\.bitPattern))
    }

    /// A prompt whose start is in the cache (`Generator` reuses the previous prompt's prefix) must
    /// give the logits of the same prompt evaluated cold, bit for bit, or asking the same question
    /// twice could get another answer. The rows' bits depend on the pass they are computed in (as
    /// in llama.cpp), so the cache is cut at a multiple of 8 with 8 or more tokens to go, and
    /// passes split at multiples of the batch size.
    @Test(arguments: [("llama", GGMLType.q4_K), ("qwen2", .q5_0), ("gemma3", .q6_K), ("llama", .q8_0), ("qwen2", .q4_1),
                      ("llama", .q4_0), ("qwen2", .q6_K), ("gemma3", .q5_K)])
    func aCachedPromptPrefixChangesNoBitOfTheLogits(arch: String, type: GGMLType) throws {
        let path = TinyModels.path("spec-prefix-\(arch)-\(type)")
        try TinyModels.write(TinyModels.Spec(arch: arch, weightType: type), to: path)
        defer { unlink(path) }
        let prompt = (0..<31).map { ($0 * 37 + 5) % 90 + 1 }
        for maxBatch in [512, 16] {
            let m = try LanguageModel(path: path, contextLength: 128, maxBatch: maxBatch, pool: ThreadPool(threads: 2))
            let coldState = m.makeState()
            let cold = Array(try m.evaluate(prompt, state: coldState))
            for cachedCount in [8, 16, 23] {
                let warm = m.makeState()
                try m.evaluate(Array(prompt[..<cachedCount]), state: warm)
                let rest = Array(try m.evaluate(Array(prompt[cachedCount...]), state: warm))
                #expect(rest.map(\.bitPattern) == cold.map(\.bitPattern), "batch \(maxBatch), \(cachedCount) cached")
            }
            // Through the generator: the same prompt twice gives the same tokens, the second time
            // with the first 16 prompt tokens from the cache (23 shared, cut to a multiple of 8).
            let g = Generator(model: m)
            let (first, _) = try Self.run(g, prompt, .off, maxTokens: 12)
            let (again, stats) = try Self.run(g, prompt, .off, maxTokens: 12)
            #expect(again == first)
            #expect(stats.evaluatedPromptTokens == prompt.count - 16)
            let (fresh, _) = try Self.run(Generator(model: m), prompt, .off, maxTokens: 12)
            #expect(fresh == first)
        }
    }

    @Test func promptLookupDraftsWhatFollowedTheLongestEarlierNgram() {
        let lookup = PromptLookup(maxDraft: 3, maxNgram: 3, minNgram: 2)
        // "5 6 7" occurs at 1 (followed by 8 9 10); "6 7" also at 11 (followed by 4): the longer wins
        let h = [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 6, 7, 4, 20, 5, 6, 7]
        #expect(lookup.draft(h, limit: 8) == [8, 9, 10])
        #expect(lookup.draft(h, limit: 2) == [8, 9])
        // only a 2-gram: its first occurrence
        #expect(lookup.draft([6, 7, 4, 1, 6, 7, 3, 9, 6, 7], limit: 5) == [4, 1, 6])
        // nothing long enough, nothing allowed, off
        #expect(lookup.draft([1, 2, 3, 4, 5, 1], limit: 5).isEmpty)
        #expect(lookup.draft(h, limit: 0).isEmpty)
        #expect(PromptLookup.off.draft(h, limit: 8).isEmpty)
    }

    /// Tokens and stop reasons of `g` after `prompt`, with `lookup`.
    static func run(_ g: Generator, _ prompt: [Int], _ lookup: PromptLookup, maxTokens: Int = 40,
                    sampling: SamplingParameters = .greedy, stops: Set<Int> = [],
                    cancelAfter: Int? = nil) throws -> ([Int], GenerationStats) {
        var out: [Int] = []
        let flag = CancelFlag()
        let stats = try g.run(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stops: stops, repeatGuard: 0,
                              cancelled: flag, lookup: lookup) { t in
            out.append(t)
            if let n = cancelAfter, out.count == n { flag.set() }
        }
        return (out, stats)
    }

    @Test(arguments: ["llama", "qwen2", "gemma3"])
    func generationWithDraftsEmitsTheTokensOfPlainDecoding(arch: String) throws {
        let (m, path) = try Self.model("gen-\(arch)", arch: arch, type: .q8_0)
        defer { unlink(path) }
        // a prompt that repeats itself, so drafts exist; random tiny models also fall into loops
        let prompt = [1, 20, 21, 22, 23, 24, 25, 30, 20, 21, 22, 23, 24, 25, 31, 20, 21, 22]
        let plain = Generator(model: m), spec = Generator(model: m)
        let lookup = PromptLookup(maxDraft: 6, maxNgram: 3, minNgram: 1)
        let (a, sa) = try Self.run(plain, prompt, .off)
        let (b, sb) = try Self.run(spec, prompt, lookup)
        #expect(a == b)
        #expect(sa.draftedTokens == 0 && sa.decodePasses == a.count - 1)
        #expect(sb.draftedTokens > 0)
        if arch == "gemma3" {
            // its random weights loop on one token: every draft is kept, so the budget, the
            // cancellation and the follow-up below land in the middle of accepted drafts
            #expect(sb.acceptedDraftTokens > 10 && sb.decodePasses < a.count / 2)
        }
        #expect(sb.decodePasses == a.count - 1 - sb.acceptedDraftTokens)
        #expect(sb.stopReason == .maxTokens && sb.generatedTokens == 40)
        // the cache the speculative run leaves is right: a follow-up prompt sharing the prefix
        let follow = prompt + b.prefix(25) + [40, 41]
        #expect(try Self.run(plain, follow, .off).0 == Self.run(spec, follow, lookup).0)
        // sampling with a seed: the same draws in the same order, so the same tokens
        let sampled = SamplingParameters(temperature: 0.9, topK: 20, topP: 0.95, seed: 7)
        #expect(try Self.run(plain, prompt, .off, sampling: sampled).0 == Self.run(spec, prompt, lookup, sampling: sampled).0)
        // stop token, token budget and cancellation in the middle of a draft
        let stop = a[17]
        let (c, sc) = try Self.run(spec, prompt, lookup, stops: [stop])
        #expect(c == Array(a.prefix(while: { $0 != stop })) && sc.stopReason == .stopToken(stop))
        for n in [1, 2, 13] {
            #expect(try Self.run(spec, prompt, lookup, maxTokens: n).0 == Array(a.prefix(n)))
        }
        let (d, sd) = try Self.run(spec, prompt, lookup, cancelAfter: 11)
        #expect(d == Array(a.prefix(11)) && sd.stopReason == .cancelled)
        #expect(try Self.run(spec, prompt, lookup).0 == a)
    }
}

/// The same rule on the real instruction-tuned models and a real French RAG prompt (the ChatML prompt
/// of about 1,400 tokens of the Qwen parity suite): drafts from the passages are kept, and the
/// answer is token for token the one plain decoding writes. `ragchat bench speculative` checks it on
/// the development set's answers.
@Suite("Speculative decoding on Qwen", .serialized)
struct SpeculativeQwenTests {
    @Test(arguments: QwenParityTests.files)
    func ragAnswerIsThePlainOne(file: String) throws {
        let long = try JSONDecoder().decode(QwenParityTests.LongReference.self, from: Parity.resource("long_prompts_qwen.json"))
        let fx = try #require(long.models.first { $0.model == file })
        let prompt = try #require(fx.greedy.first).prompt_ids
        let model = try Parity.load(fx)
        let g = Generator(model: model)
        let stops = g.stopTokens()
        // the prompt evaluated once; both runs then evaluate its last token alone, the same way
        _ = try g.run(prompt: prompt, maxTokens: 0, sampling: .greedy, stops: stops, lookup: .off) { _ in }
        var plain: [Int] = [], drafted: [Int] = []
        let a = try g.run(prompt: prompt, maxTokens: 48, sampling: .greedy, stops: stops, lookup: .off) { plain.append($0) }
        let b = try g.run(prompt: prompt, maxTokens: 48, sampling: .greedy, stops: stops, lookup: .standard) { drafted.append($0) }
        #expect(drafted == plain)
        #expect(a.stopReason == b.stopReason)
        #expect(b.acceptedDraftTokens > 0, "drafts from the passages were kept (\(b.draftedTokens) drafted)")
        #expect(b.decodePasses < a.decodePasses)
    }
}

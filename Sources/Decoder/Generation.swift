// Sampling and streaming generation over a LanguageModel: greedy / temperature / top-k / top-p,
// repetition penalty, seed; stop tokens; a repeated n-gram guard; an AsyncThrowingStream of events
// cancelled when the consumer goes away. One generation at a time per Generator (a lock).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Tensors

public struct SamplingParameters: Sendable {
    /// 0 = greedy (argmax).
    public var temperature: Float
    /// Keep the k most likely tokens (0 = 256).
    public var topK: Int
    /// Nucleus: smallest set with cumulative probability ≥ topP (1 = off).
    public var topP: Float
    /// > 1 penalises tokens seen in the last `repetitionWindow` tokens (llama.cpp's rule).
    public var repetitionPenalty: Float
    public var repetitionWindow: Int
    public var seed: UInt64
    /// Copy bias (0 = off): added to the logit of each token that continues, in the copy source
    /// (`Sampler(_:copySource:)`, e.g. a RAG prompt's passages), the longest run of the output's
    /// last tokens found there (at least `copyMinMatch` tokens). Small models then keep to the
    /// passages' wording once they start quoting them, instead of drifting into invention.
    public var copyBias: Float
    /// Shortest run of output tokens found in the source that triggers the copy bias.
    public var copyMinMatch: Int

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, repetitionPenalty: Float = 1,
                repetitionWindow: Int = 64, seed: UInt64 = 0, copyBias: Float = 0, copyMinMatch: Int = 2) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
        self.copyBias = copyBias
        self.copyMinMatch = copyMinMatch
    }

    public static let greedy = SamplingParameters()
}

/// Picks the next token from logits. Buffers are reused (no allocation per token after the first).
public struct Sampler: Sendable {
    public var parameters: SamplingParameters
    private var rng: GGUFSplitMix
    private var candidates: [Int] = []
    private var probs: [Float] = []
    /// Token ids the copy bias follows (negative ids separate runs that must not be joined).
    public let copySource: [Int]
    /// Positions of each token in `copySource`.
    private let copyIndex: [Int: [Int]]

    public init(_ p: SamplingParameters, copySource: [Int] = []) {
        parameters = p
        rng = GGUFSplitMix(seed: p.seed)
        self.copySource = copySource
        var index: [Int: [Int]] = [:]
        if p.copyBias != 0 {
            for (i, t) in copySource.enumerated() where t >= 0 { index[t, default: []].append(i) }
        }
        copyIndex = index
    }

    /// The tokens continuing, in `copySource`, the longest run (≥ `minMatch`, ≤ 16 tokens) that
    /// ends `history`, and that run's length (0 when none).
    public func copyContinuations(history: ArraySlice<Int>, minMatch: Int) -> (tokens: [Int], length: Int) {
        guard let last = history.last, let starts = copyIndex[last] else { return ([], 0) }
        var best = 0
        var next: [Int] = []
        let maxRun = 16
        for p in starts where p + 1 < copySource.count && copySource[p + 1] >= 0 {
            var n = 1
            var h = history.index(before: history.endIndex)
            while n < maxRun, p - n >= 0, h > history.startIndex {
                h = history.index(before: h)
                if copySource[p - n] != history[h] { break }
                n += 1
            }
            if n > best { best = n; next.removeAll() }
            if n == best, !next.contains(copySource[p + 1]) { next.append(copySource[p + 1]) }
        }
        return best >= max(1, minMatch) ? (next, best) : ([], 0)
    }

    public static func argmax(_ l: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<l.count where l[i] > l[best] { best = i }
        return best
    }

    /// Samples from `logits` (modified in place by the repetition penalty) given the tokens so far.
    public mutating func sample(_ logits: UnsafeMutableBufferPointer<Float>, history: ArraySlice<Int>) -> Int {
        let p = parameters
        if p.repetitionPenalty != 1 {
            for t in history.suffix(p.repetitionWindow) where t >= 0 && t < logits.count {
                logits[t] = logits[t] > 0 ? logits[t] / p.repetitionPenalty : logits[t] * p.repetitionPenalty
            }
        }
        if p.copyBias != 0 {
            for t in copyContinuations(history: history, minMatch: p.copyMinMatch).tokens where t < logits.count {
                logits[t] += p.copyBias
            }
        }
        if p.temperature <= 0 { return Self.argmax(UnsafeBufferPointer(logits)) }
        // Top-k by a simple insertion into a sorted buffer (k is small).
        let k = min(p.topK > 0 ? p.topK : 256, logits.count)
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count {
            let v = logits[i]
            if candidates.count == k, let last = candidates.last, logits[last] >= v { continue }
            var j = candidates.count
            if candidates.count == k { candidates.removeLast(); j -= 1 }
            candidates.append(i)
            while j > 0 && logits[candidates[j - 1]] < v {
                candidates[j] = candidates[j - 1]
                j -= 1
            }
            candidates[j] = i
        }
        probs.removeAll(keepingCapacity: true)
        let m = logits[candidates[0]]
        var sum: Float = 0
        for c in candidates {
            let e = expf((logits[c] - m) / p.temperature)
            probs.append(e)
            sum += e
        }
        var n = candidates.count
        if p.topP < 1 {
            var cum: Float = 0
            for i in 0..<candidates.count {
                cum += probs[i] / sum
                if cum >= p.topP { n = i + 1; break }
            }
        }
        var total: Float = 0
        for i in 0..<n { total += probs[i] }
        let r = Float(rng.next() >> 40) / Float(1 << 24) * total
        var acc: Float = 0
        for i in 0..<n {
            acc += probs[i]
            if r < acc { return candidates[i] }
        }
        return candidates[n - 1]
    }
}

public struct GenerationStats: Sendable {
    public var promptTokens: Int
    /// Prompt tokens actually evaluated (the rest came from the cache).
    public var evaluatedPromptTokens: Int
    public var prefillSeconds: Double
    public var generatedTokens: Int
    public var decodeSeconds: Double
    public var stopReason: StopReason
    /// Speculative decoding (`PromptLookup`): tokens drafted, drafted tokens the model confirmed, and
    /// forward passes after the prompt (generatedTokens / decodePasses tokens per pass).
    public var draftedTokens = 0
    public var acceptedDraftTokens = 0
    public var decodePasses = 0

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(evaluatedPromptTokens) / prefillSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(generatedTokens) / decodeSeconds : 0 }
}

public enum StopReason: Sendable, Equatable {
    case stopToken(Int)
    case maxTokens
    case contextFull
    case repetition
    case cancelled
}

public enum GenerationEvent: Sendable {
    case token(Int)
    case finished(GenerationStats)
}

/// Streams tokens of one model, reusing the KV cache across calls when prompts share a prefix.
public final class Generator: @unchecked Sendable {
    public let model: LanguageModel
    private let lock = NSLock()
    private let state: InferenceState
    private var cached: [Int] = []

    public init(model: LanguageModel) {
        self.model = model
        state = model.makeState()
    }

    /// Forgets the cached prompt prefix: the next prompt is evaluated whole (for measurements).
    public func forgetCache() {
        lock.lock()
        defer { lock.unlock() }
        cached.removeAll()
        state.reset()
    }

    /// Token ids ending generation: the model's EOS plus `extra`.
    public func stopTokens(_ extra: [Int] = []) -> Set<Int> {
        var s = Set(extra)
        if let e = model.config.eosTokenID { s.insert(e) }
        return s
    }

    /// Generates after `prompt`. The stream yields `.token` for each new token then `.finished`.
    /// Cancelling the consuming task (or dropping the stream) stops generation at the next token.
    /// `repeatGuard` > 0: stop when the output ends with an n-gram (n in 4...32) repeated three times.
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy,
                         stopTokens: Set<Int>? = nil, repeatGuard: Int = 8,
                         lookup: PromptLookup = .standard) -> AsyncThrowingStream<GenerationEvent, Error> {
        let stops = stopTokens ?? self.stopTokens()
        let cancelled = CancelFlag()
        return AsyncThrowingStream { continuation in
            continuation.onTermination = { _ in cancelled.set() }
            let thread = Thread { [self] in
                do {
                    let stats = try self.run(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stops: stops,
                                             repeatGuard: repeatGuard, cancelled: cancelled,
                                             lookup: lookup) { continuation.yield(.token($0)) }
                    continuation.yield(.finished(stats))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Synchronous generation (same rules), calling `onToken` for each new token. `lookup` drafts
    /// tokens from the prompt for speculative decoding (`PromptLookup`): the same tokens as plain
    /// decoding (`.off`), fewer forward passes when the answer repeats the prompt's words.
    public func run(prompt: [Int], maxTokens: Int, sampling: SamplingParameters, stops: Set<Int>,
                    repeatGuard: Int = 8, cancelled: CancelFlag = CancelFlag(), copySource: [Int] = [],
                    lookup: PromptLookup = .standard, onToken: (Int) -> Void) throws -> GenerationStats {
        lock.lock()
        defer { lock.unlock() }
        guard !prompt.isEmpty else { throw DecoderError.contextFull(position: 0, adding: 0, limit: model.maxContext) }
        // Reuse the cached prefix where the rest gets the bits of a cold run: cut anywhere, the
        // same question asked twice could get another answer.
        var common = 0
        while common < min(cached.count, prompt.count), cached[common] == prompt[common] { common += 1 }
        common = model.reusablePrefix(common: common, promptCount: prompt.count)
        state.truncate(to: common)
        cached.removeSubrange(common...)
        let t0 = MonotonicClock.now()
        let fresh = Array(prompt[common...])
        guard state.position + fresh.count <= model.maxContext else {
            throw DecoderError.contextFull(position: state.position, adding: fresh.count, limit: model.maxContext)
        }
        let v = model.config.vocabSize
        // `rows`: the logits after each token fed in the last pass (one row after the prompt; one per
        // token of [next] + draft after a speculative pass), row i predicting the token after fed[i].
        var rows = try model.evaluate(fresh, state: state)
        cached += fresh
        let t1 = MonotonicClock.now()
        var sampler = Sampler(sampling, copySource: copySource)
        var generated: [Int] = []
        var reason = StopReason.maxTokens
        var history = prompt
        var fed: [Int] = []
        var draft: [Int] = []
        var drafted = 0, acceptedDrafts = 0, passes = 0
        generation: while true {
            // Sample along the rows exactly as one-token decoding would (same logits, same sampler
            // calls in the same order): a drafted token is kept when it is the token sampled there.
            var accepted = 0
            var next: Int?
            var stop: StopReason?
            for i in 0...draft.count {
                if cancelled.isSet { stop = .cancelled; break }
                if generated.count >= maxTokens { stop = .maxTokens; break }
                let row = UnsafeMutableBufferPointer(mutating: UnsafeBufferPointer(rebasing: rows[(i * v)..<((i + 1) * v)]))
                let token = sampler.sample(row, history: history[...])
                if stops.contains(token) { stop = .stopToken(token); break }
                generated.append(token)
                history.append(token)
                onToken(token)
                if repeatGuard > 0 && Self.repeats(generated, minN: 4, maxN: 32) { stop = .repetition; break }
                if generated.count == maxTokens { stop = .maxTokens; break }
                if i < draft.count && token == draft[i] { accepted += 1; continue }
                next = token
                break
            }
            // Keep in the cache only the positions whose inputs were all confirmed.
            if !fed.isEmpty {
                let kept = 1 + accepted
                state.truncate(to: state.position - (fed.count - kept))
                cached.removeLast(fed.count - kept)
                acceptedDrafts += accepted
            }
            if let stop { reason = stop; break generation }
            guard let next else { break generation }
            if state.position >= model.maxContext { reason = .contextFull; break }
            let room = min(maxTokens - generated.count - 1, model.maxContext - state.position - 1, model.maxBatch - 1)
            draft = lookup.draft(history, limit: room)
            fed = [next] + draft
            rows = draft.isEmpty ? try model.evaluate(fed, state: state) : try model.evaluateEach(fed, state: state)
            cached += fed
            drafted += draft.count
            passes += 1
        }
        let t2 = MonotonicClock.now()
        return GenerationStats(promptTokens: prompt.count, evaluatedPromptTokens: fresh.count, prefillSeconds: t1 - t0,
                               generatedTokens: generated.count, decodeSeconds: t2 - t1, stopReason: reason,
                               draftedTokens: drafted, acceptedDraftTokens: acceptedDrafts, decodePasses: passes)
    }

    /// True when the tail of `a` is an n-gram repeated back to back three times (n in minN...maxN).
    static func repeats(_ a: [Int], minN: Int, maxN: Int) -> Bool {
        for n in minN...maxN where a.count >= 3 * n {
            let c = a.count
            var same = true
            for i in 0..<n where a[c - 1 - i] != a[c - 1 - i - n] || a[c - 1 - i] != a[c - 1 - i - 2 * n] {
                same = false
                break
            }
            if same { return true }
        }
        return false
    }
}

/// A thread-safe flag used to cancel a generation.
public final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    public init() {}
    public func set() { lock.lock(); value = true; lock.unlock() }
    public var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

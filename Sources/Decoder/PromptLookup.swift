// Prompt-lookup drafting for speculative decoding: a RAG answer mostly repeats words of its
// passages, so the tokens that followed the answer's last few tokens where they occur earlier (in
// the prompt or the answer so far) are a cheap guess of what comes next. The model then checks the
// whole guess in one pass (`LanguageModel.evaluateEach`) and keeps what it would have written itself.

/// How drafts are found. `maxDraft` 0 turns speculation off.
public struct PromptLookup: Sendable, Equatable {
    /// Most tokens drafted per pass.
    public var maxDraft: Int
    /// Longest n-gram matched first; shorter ones down to `minNgram` are tried after it.
    public var maxNgram: Int
    public var minNgram: Int

    public init(maxDraft: Int, maxNgram: Int = 4, minNgram: Int = 2) {
        self.maxDraft = max(0, maxDraft)
        self.minNgram = max(1, minNgram)
        self.maxNgram = max(self.minNgram, maxNgram)
    }

    /// Plain decoding.
    public static let off = PromptLookup(maxDraft: 0)
    /// What `Generator` uses unless told otherwise, measured with `ragchat bench speculative`
    /// (BENCHMARKS.md): a verifying pass costs about 1.3 one-token steps for 2 tokens, 1.8 for 4
    /// and 3 for 5 to 8, so drafts of 3 tokens (4 per pass) gave the most tokens per second
    /// (longer drafts are kept less often than they cost).
    public static let standard = PromptLookup(maxDraft: 3)

    /// Up to `limit` tokens that followed, at its first occurrence in `history`, the longest
    /// n-gram (maxNgram down to minNgram tokens) ending `history`; empty when none occurs.
    public func draft(_ history: [Int], limit: Int) -> [Int] {
        let c = history.count
        guard min(limit, maxDraft) > 0 else { return [] }
        var n = min(maxNgram, c - 1)
        while n >= minNgram {
            // the first start i < c - n whose n tokens equal the last n: in a RAG prompt the
            // passages come first, and the first occurrence has the longest continuation
            for i in 0..<(c - n) {
                var same = true
                for j in 0..<n where history[i + j] != history[c - n + j] { same = false; break }
                if same { return Array(history[(i + n)..<min(c, i + n + min(limit, maxDraft))]) }
            }
            n -= 1
        }
        return []
    }
}

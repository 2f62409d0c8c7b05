// The context budget of a prompt built from ranked passages: the prompt (after tokenization) must
// leave room for the answer in the model's context. What gives way, in order: the lowest-ranked
// passages are dropped, then the last passage kept is shortened at a sentence boundary. The prompt
// never overflows: when even the passage-less prompt is too long, `fit` throws.
import Foundation

public struct ContextBudget: Sendable, Equatable {
    /// Context length of the model (metadata, or a configured smaller one).
    public var contextLength: Int
    /// Tokens reserved for the answer.
    public var maxAnswerTokens: Int

    public init(contextLength: Int, maxAnswerTokens: Int) {
        self.contextLength = contextLength
        self.maxAnswerTokens = maxAnswerTokens
    }

    /// Most prompt tokens allowed.
    public var promptLimit: Int { max(0, contextLength - maxAnswerTokens) }

    public struct Fit: Sendable, Equatable {
        /// The prompt's tokens (count ≤ `promptLimit`).
        public var tokens: [Int32]
        /// The passages used, best first: a prefix of the input, the last one possibly shortened.
        public var passages: [String]
        /// Passages left out entirely.
        public var dropped: Int
        /// Whether the last passage was shortened.
        public var shortened: Bool
    }

    /// Fits `passages` (best first) into the budget. `render` builds the whole prompt's tokens for
    /// a list of passages (it is called O(log n + log sentences) times).
    public func fit(passages: [String], render: ([String]) throws -> [Int32]) throws -> Fit {
        let limit = promptLimit
        let all = try render(passages)
        if all.count <= limit { return Fit(tokens: all, passages: passages, dropped: 0, shortened: false) }
        // Largest k such that the first k passages fit whole (k < n; monotone, so binary search).
        var lo = 0, hi = passages.count - 1
        var best: [Int32]? = nil
        while lo <= hi {
            let mid = (lo + hi) / 2
            let t = try render(Array(passages.prefix(mid)))
            if t.count <= limit {
                best = t
                lo = mid + 1
            } else {
                hi = mid - 1
            }
        }
        let k = lo - 1  // -1 when even no passage fits
        guard k >= 0, let whole = best else {
            let empty = try render([])
            throw DecoderError.contextFull(position: 0, adding: empty.count + maxAnswerTokens, limit: contextLength)
        }
        // Then passage k, shortened at the longest sentence boundary that still fits.
        let kept = Array(passages.prefix(k))
        let cuts = Self.sentenceEnds(passages[k])
        var cLo = 0, cHi = cuts.count - 1
        var shortened: (tokens: [Int32], text: String)? = nil
        while cLo <= cHi {
            let mid = (cLo + cHi) / 2
            let text = Self.shortened(passages[k], at: cuts[mid])
            let t = try render(kept + [text])
            if t.count <= limit {
                shortened = (t, text)
                cLo = mid + 1
            } else {
                cHi = mid - 1
            }
        }
        if let s = shortened {
            return Fit(tokens: s.tokens, passages: kept + [s.text], dropped: passages.count - k - 1, shortened: true)
        }
        return Fit(tokens: whole, passages: kept, dropped: passages.count - k, shortened: false)
    }

    /// `text` cut at `end` (a sentence end), with an ellipsis marking the cut.
    public static func shortened(_ text: String, at end: String.Index) -> String {
        String(text[..<end]).trimmingCharacters(in: .whitespacesAndNewlines) + " […]"
    }

    /// Indices just after each sentence end of `text` (`.`, `!`, `?`, `…`, `;` or `:` followed by
    /// whitespace, or a line break), excluding the very end; ascending.
    public static func sentenceEnds(_ text: String) -> [String.Index] {
        var ends: [String.Index] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c.isNewline {
                if next < text.endIndex, text[text.startIndex..<i].contains(where: { !$0.isWhitespace }) { ends.append(i) }
            } else if ".!?…;".contains(c), next < text.endIndex, text[next].isWhitespace {
                ends.append(next)
            }
            i = next
        }
        // Deduplicate (a period followed by a newline yields the same cut twice).
        var out: [String.Index] = []
        for e in ends where out.last != e { out.append(e) }
        return out
    }
}

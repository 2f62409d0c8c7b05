import Foundation
import TextAnalysis

/// Checks a generated answer sentence by sentence against the numbered passages it was given:
/// a sentence is kept when the passage it cites supports it; its citation is moved to the passage
/// that does; a sentence no passage supports is replaced by the passage sentence that makes the
/// same point (quoted, cited), or dropped. The answer can then be no less grounded than a quotation.
///
/// Support of a sentence by a passage: the share of the sentence's content terms
/// (`KeywordAnalyzer`: stems, stop words left out) that the passage holds, and every number,
/// option and path of the sentence found in the passage (a wrong figure is the typical invented
/// detail). Terms of the question count as held: restating the question is not a claim.
public struct GroundingCheck: Sendable {
    /// What happened to one sentence.
    public enum Outcome: Sendable, Equatable {
        /// Kept as written (its citations supported, or a sentence without claims).
        case kept(String)
        /// Kept with its citation set to the passage that supports it.
        case recited(String)
        /// Replaced by a quotation of the passage sentence that supports the point.
        case quoted(String)
        /// Dropped: nothing in the passages supports it.
        case dropped

        public var text: String? {
            switch self {
            case .kept(let t), .recited(let t), .quoted(let t): return t
            case .dropped: return nil
            }
        }
    }

    /// Smallest share of a sentence's content terms a passage must hold to support it.
    public var minimumSupport: Double = 0.6
    /// Smallest share of a sentence's content terms a passage sentence must hold to stand in for it.
    public var minimumQuoteOverlap: Double = 0.4
    /// Sentences with fewer content terms (outside the question's) make no checkable claim.
    public var minimumClaimTerms = 2

    private struct PassageFacts: Sendable {
        var terms: Set<String>
        var sentences: [(text: String, terms: Set<String>)]
    }

    private let passages: [PassageFacts]
    private let questionTerms: Set<String>

    public init(passages: [String], question: String) {
        self.passages = passages.map { text in
            let sentences = TextTools.passageSentences(text).map { ($0, Set(KeywordAnalyzer.terms($0))) }
            return PassageFacts(terms: Set(KeywordAnalyzer.terms(text)), sentences: sentences)
        }
        questionTerms = Set(KeywordAnalyzer.terms(question))
    }

    /// Exact terms a supporting passage must hold: numbers, options, paths, dotted names.
    static func exactTerms(_ terms: Set<String>) -> Set<String> {
        terms.filter { term in term.contains("_") || term.contains(where: \.isNumber) }
    }

    /// Share of `claim`'s terms held by `held` (question terms count as held), or 0 when an exact
    /// term is missing.
    func support(_ claim: Set<String>, by held: Set<String>) -> Double {
        guard !claim.isEmpty else { return 1 }
        if !Self.exactTerms(claim).isSubset(of: held.union(questionTerms)) { return 0 }
        let found = claim.filter { held.contains($0) || questionTerms.contains($0) }.count
        return Double(found) / Double(claim.count)
    }

    /// Checks one answer sentence (with its `[n]` citations, 1-based passage numbers).
    public func check(_ sentence: String) -> Outcome {
        let cited = AnswerCitations.numbers(in: sentence).filter { $0 >= 1 && $0 <= passages.count }
        let body = AnswerCitations.strip(sentence)
        let claim = Set(KeywordAnalyzer.terms(body))
        let newTerms = claim.subtracting(questionTerms)
        // Headings, transitions, restated questions: nothing to check.
        if newTerms.count < minimumClaimTerms && Self.exactTerms(newTerms).isEmpty { return .kept(sentence) }

        let supports = passages.map { support(claim, by: $0.terms) }
        if cited.contains(where: { supports[$0 - 1] >= minimumSupport }) { return .kept(sentence) }
        if let best = supports.indices.max(by: { supports[$0] < supports[$1] }), supports[best] >= minimumSupport {
            return .recited(AnswerCitations.replace(in: sentence, with: best + 1))
        }
        // The passage sentence closest to the claim, when it carries the same point.
        var bestQuote: (text: String, passage: Int, overlap: Double)?
        for (index, passage) in passages.enumerated() {
            for s in passage.sentences where !s.terms.isEmpty {
                let overlap = Double(newTerms.intersection(s.terms).count) / Double(max(newTerms.count, 1))
                if overlap > (bestQuote?.overlap ?? 0) { bestQuote = (s.text, index + 1, overlap) }
            }
        }
        if let q = bestQuote, q.overlap >= minimumQuoteOverlap {
            return .quoted("« \(q.text.trimmingCharacters(in: .whitespaces)) » [\(q.passage)]")
        }
        return .dropped
    }
}

/// `[n]` citations in answer text.
public enum AnswerCitations {
    /// The numbers cited as `[n]`, `[n, m]` or `[n-m]`, in order of appearance, without repeats.
    public static func numbers(in text: String) -> [Int] {
        var result: [Int] = []
        for match in text.matches(of: /\[(\d+(?:\s*[,;–-]\s*\d+)*)\]/) {
            for part in match.output.1.split(whereSeparator: { ",;".contains($0) }) {
                let bounds = part.split(whereSeparator: { "–-".contains($0) }).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                let values = bounds.count == 2 && bounds[0] <= bounds[1] && bounds[1] - bounds[0] < 20
                    ? Array(bounds[0]...bounds[1]) : Array(bounds.prefix(1))
                for n in values where !result.contains(n) { result.append(n) }
            }
        }
        return result
    }

    /// The text without its citations (and the space before them).
    public static func strip(_ text: String) -> String {
        text.replacing(/\s*\[\d+(?:\s*[,;–-]\s*\d+)*\]/, with: "")
    }

    /// The text with its citations replaced by one `[n]` before the final punctuation.
    public static func replace(in text: String, with n: Int) -> String {
        var body = strip(text).trimmingCharacters(in: .whitespaces)
        var tail = ""
        while let last = body.last, ".!?…:;".contains(last) { tail = String(last) + tail; body.removeLast() }
        return body + " [\(n)]" + tail
    }
}

import Foundation
import TextAnalysis

/// A generative backend's answer, checked sentence by sentence as it streams (`GroundingCheck`):
/// what reaches the user is only what the passages support, quoted where the model drifted. When
/// the model declines although the relevance gate found the documents relevant, or when nothing it
/// says survives the check, the caller answers with the extractive backend instead, so a generated
/// answer is never less grounded than a quotation.
public struct GroundedAnswer: Sendable {
    /// How a generated answer ended.
    public enum Verdict: Sendable, Equatable {
        /// At least one sentence was kept (as written, re-cited or quoted).
        case answered
        /// The model said the passages do not answer the question.
        case declined
        /// Nothing the model wrote was supported by the passages.
        case unsupported
    }

    private var splitter = SentenceSplitter()
    private let check: GroundingCheck
    /// Sentences already given out.
    public private(set) var emitted = 0
    public private(set) var dropped = 0
    private var declined = false
    private var seen: Set<String> = []

    public init(input: AnswerInput) {
        check = GroundingCheck(passages: input.passages.map(\.text), question: input.question)
    }

    /// Feeds a piece of generated text; returns the checked sentences ready to show (each but the
    /// first led by a space). After a decline, nothing more is given out.
    public mutating func feed(_ piece: String) -> [String] {
        splitter.feed(piece).flatMap { checked($0) }
    }

    /// The last, unfinished sentence, checked.
    public mutating func finish() -> [String] {
        splitter.finish().map { checked($0) } ?? []
    }

    public var verdict: Verdict {
        if emitted > 0 { return .answered }
        return declined ? .declined : .unsupported
    }

    private mutating func checked(_ sentence: String) -> [String] {
        guard !declined else { return [] }
        if emitted == 0, Self.isDecline(sentence) {
            declined = true
            return []
        }
        guard let text = check.check(sentence).text else {
            dropped += 1
            return []
        }
        // A quotation standing in for two sentences is given once.
        guard seen.insert(text).inserted else { return [] }
        emitted += 1
        return [emitted == 1 ? text : " " + text]
    }

    /// Folded phrases by which a model says the passages do not answer.
    static let declinePhrases = [
        "ne permettent pas de repondre", "ne contiennent pas", "ne mentionnent pas", "ne traitent pas",
        "ne repondent pas", "ne precisent pas", "ne disent pas", "ne fournissent pas", "n'indiquent pas",
        "aucune information", "pas d'information", "je ne sais pas", "ne sont pas mentionne",
        "do not contain", "do not cover", "does not contain", "no information", "i don't know", "cannot answer",
    ]

    /// Does this (first) sentence decline to answer? Case and accents ignored.
    public static func isDecline(_ sentence: String) -> Bool {
        let folded = FrenchText.fold(sentence)
        return declinePhrases.contains { folded.contains($0) }
    }
}

import Foundation

/// Shapes a small model's streamed answer, sentence by sentence, without delaying the stream more
/// than needed:
/// - a sentence that repeats an earlier one (small models loop on whole sentences, beyond the
///   engine's n-gram guard) ends the answer: while the sentence being written is still the start
///   of an earlier one it is held back, and dropped if it completes as a repeat — or as a near
///   repeat: the same but for its numbers ("… pâte sucrée, 5." / "… pâte sucrée, 6."), or the same
///   for three quarters of its length;
/// - a sentence without a citation gets ` [n]` before its final punctuation, n being the passage
///   that shares most of its words (when it shares enough of them: the sentence is drawn from it).
public struct AnswerShaper: Sendable {
    /// Per passage (in citation order), its lower-cased content words.
    private let passageWords: [Set<String>]
    public var addCitations: Bool
    /// The question's content words: a sentence made of them only restates the question (the
    /// answer's opening) and is not cited.
    private let questionWords: Set<String>
    /// Stop after this many sentences (nil = no limit).
    public var maxSentences: Int?
    /// Smallest share of a sentence's content words found in a passage to cite it.
    public var minOverlap: Double = 0.5
    private var sentence = ""
    private var emitted = 0
    private var pending = ""
    private var done: [String] = []
    /// The sentence being written began as an earlier one (12 characters or more): it is held
    /// until it ends, then dropped if it is a near repeat.
    private var holding = false
    public private(set) var stopped = false

    public init(passages: [String], addCitations: Bool = true, question: String = "") {
        passageWords = passages.map { Set(Self.words($0)) }
        self.addCitations = addCitations
        questionWords = Set(Self.words(question))
    }

    /// Content words: letters only, lower-cased, at least 4 characters.
    static func words(_ s: String) -> [String] {
        s.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init).filter { $0.count >= 4 }
    }

    static func normalize(_ s: String) -> String {
        s.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// `sentence` repeats `earlier` but for its numbers, or shares its first three quarters.
    public static func nearRepeat(_ sentence: String, of earlier: String) -> Bool {
        func letters(_ s: String) -> String { String(s.filter { !$0.isNumber && !$0.isWhitespace && !$0.isPunctuation }) }
        if letters(sentence) == letters(earlier) { return true }
        let common = zip(sentence, earlier).prefix { $0 == $1 }.count
        return Double(common) >= 0.75 * Double(max(sentence.count, earlier.count))
    }

    /// The 1-based passage a sentence is drawn from, nil when none shares enough words.
    public func source(of sentence: String) -> Int? {
        let w = Self.words(sentence)
        guard w.count >= 3, w.contains(where: { !questionWords.contains($0) }) else { return nil }
        var best: (n: Int, share: Double)? = nil
        for (i, set) in passageWords.enumerated() {
            let share = Double(w.filter { set.contains($0) }.count) / Double(w.count)
            if share >= minOverlap, share > (best?.share ?? 0) { best = (i + 1, share) }
        }
        return best?.n
    }

    /// Feeds generated text; returns what can be shown now.
    public mutating func feed(_ text: String) -> String {
        var out = ""
        for ch in text {
            if stopped { break }
            if !pending.isEmpty {
                if ch.isWhitespace {
                    out += endSentence()
                    if !stopped { out.append(ch) }
                    continue
                }
                if !".!?…".contains(ch) {  // "2.5", "etc.)": not a sentence end
                    sentence += pending
                    pending = ""
                }
            }
            if ".!?…".contains(ch) {
                pending.append(ch)
            } else if ch.isNewline {
                out += endSentence()
                if !stopped { out.append(ch) }
            } else {
                sentence.append(ch)
                out += release()
            }
        }
        return out
    }

    /// Ends the answer (generation finished): the last sentence is completed.
    public mutating func finish() -> String {
        guard !stopped else { return "" }
        return endSentence()
    }

    private mutating func release() -> String {
        let norm = Self.normalize(sentence)
        if !norm.isEmpty, done.contains(where: { $0.hasPrefix(norm) }) {
            if norm.count >= 12 && emitted == 0 { holding = true }
            return ""
        }
        if holding { return "" }
        let s = String(sentence.dropFirst(emitted))
        emitted = sentence.count
        return s
    }

    private mutating func endSentence() -> String {
        let norm = Self.normalize(sentence + pending)
        defer { sentence = ""; emitted = 0; pending = ""; holding = false }
        if norm.count >= 12, done.contains(norm) || (holding && done.contains { Self.nearRepeat(norm, of: $0) }) {
            stopped = true
            return ""
        }
        var out = String(sentence.dropFirst(emitted))
        let trimmed = sentence.trimmingCharacters(in: .whitespaces)
        if addCitations, !trimmed.isEmpty, !trimmed.hasSuffix(":"), !sentence.contains("["), let n = source(of: sentence) {
            // "… sucre" + "." → "… sucre [2]."; trailing spaces stay after the citation.
            let body = out.reversed().drop(while: { $0 == " " }).reversed()
            out = String(body) + " [\(n)]" + String(repeating: " ", count: out.count - body.count)
        }
        out += pending
        if !norm.isEmpty { done.append(norm) }
        if let m = maxSentences, done.count >= m { stopped = true }
        return out
    }
}

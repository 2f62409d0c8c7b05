import Decoder
import Foundation

/// What stands between the model's raw text and the answer the client sees, piece by piece:
/// leading whitespace dropped; the first characters held until they show whether the model is
/// answering or writing one more passage (`[5] (file…)`, as base models do: then it stops); stop
/// strings cut; the primer (the answer's first words, written for the model) sent with the
/// model's first text; the answer shaped (`AnswerShaper`: citations, sentence cap); trailing
/// whitespace held until more text follows.
package struct LocalAnswerFilter {
    private var matcher: StopStringMatcher
    private var shaper: AnswerShaper
    private var leading = true
    /// The held opening (nil once decided); a primed answer needs no probe.
    private var probe: String?
    /// The model started writing a passage instead of an answer.
    package private(set) var isPassage = false
    private var pending: String
    /// The primer is the second attempt's fixed opening (`LocalBackend.primer`), kept whatever follows.
    private let isSecondChancePrimer: Bool
    private var heldSpace = ""

    package init(stopStrings: [String], passages: [String], question: String, primer: String?,
         tuning: LocalAnswerTuning) {
        matcher = StopStringMatcher(stopStrings)
        shaper = AnswerShaper(passages: passages, addCitations: tuning.addCitations, question: question)
        shaper.maxSentences = tuning.maxSentences
        probe = primer == nil ? "" : nil
        pending = primer ?? ""
        isSecondChancePrimer = primer == LocalBackend.primer
    }

    /// Generation should stop: a stop string, the sentence cap, or a passage instead of an answer.
    package var shouldStop: Bool { matcher.stopped || shaper.stopped || isPassage }

    /// The text to send for the model's next piece (often empty while something is held).
    package mutating func feed(_ piece: String) -> String {
        held(shaper.feed(primed(matcher.feed(opening(lead(piece))))))
    }

    /// The rest, once the model is done (`tail`: the detokenizer's last bytes).
    package mutating func finish(_ tail: String) -> String {
        var rest = ""
        if !matcher.stopped && !isPassage { rest = matcher.feed(opening(lead(tail), final: true)) + matcher.flush() }
        return held(shaper.feed(primed(rest)) + shaper.finish())
    }

    /// The model's leading whitespace is dropped before the stop strings see the text.
    private mutating func lead(_ s: String) -> String {
        guard leading else { return s }
        let t = String(s.drop(while: { $0.isWhitespace }))
        if !t.isEmpty { leading = false }
        return t
    }

    private mutating func opening(_ s: String, final: Bool = false) -> String {
        guard var p = probe else { return s }
        p += s
        if p.count < 8 && !final { probe = p; return "" }
        probe = nil
        // "[5] (file…)" (instructions prompt) or "[5] Text" (compact prompt).
        if p.wholeMatch(of: #/\[\d+\]\s*(\(|\p{Lu}).*/#.dotMatchesNewlines()) != nil { isPassage = true; return "" }
        return p
    }

    /// The primer goes out with the model's first text (never alone).
    private mutating func primed(_ s: String) -> String {
        guard !pending.isEmpty, !s.isEmpty else { return s }
        let primer = pending
        pending = ""
        // An opening the model ends at once ("Les variantes de X" + ".") only restates the
        // question: it is left out, the answer starts with the model's next sentence.
        if s.first == ".", !isSecondChancePrimer {
            leading = true
            return lead(String(s.dropFirst()))
        }
        // The model's leading space was dropped (`lead`): put one back unless it goes on
        // with punctuation ("Le secret de X" + ", c'est …").
        if let c = s.first, ",.;:)!?…".contains(c) { return primer + s }
        return primer + " " + s
    }

    /// Trailing whitespace is held until more text follows (never sent at the end).
    private mutating func held(_ s: String) -> String {
        guard !s.isEmpty else { return "" }
        let body = String(s.reversed().drop(while: { $0.isWhitespace }).reversed())
        let tail = String(s.suffix(s.count - body.count))
        if body.isEmpty { heldSpace += tail; return "" }
        defer { heldSpace = tail }
        return heldSpace + body
    }
}

import Foundation
import RAG
import TextAnalysis

/// One question answered through the real pipeline (`ChatEngine.chatStream`), scored.
public struct AnswerOutcome: Sendable, Codable {
    public var id: String
    public var questionClass: QuestionClass
    public var question: String
    public var answer: String
    public var backend: String
    /// `file` or `file p. N` of each source, in order (`[n]` is the n-th).
    public var sources: [String]
    /// The key facts are in the answer (every `answer` regex matches).
    public var correct: Bool
    /// Correct, and a `[n]` of the answer points to a source in an evidence's file and page.
    public var correctlyCited: Bool
    /// The answer says the documents do not cover the question (gate, or the model itself).
    public var declined: Bool
    /// Milliseconds from the request to the first answer text, the first spoken answer sentence,
    /// and the whole answer (with its audio).
    public var firstTokenMs: Double?
    public var firstAudioMs: Double?
    public var totalMs: Double
}

/// Answers of a question set through a `ChatEngine`, and their scores per question class.
public struct AnswerReport: Sendable, Codable {
    public var label: String
    public var outcomes: [AnswerOutcome]

    public init(label: String, outcomes: [AnswerOutcome]) {
        self.label = label
        self.outcomes = outcomes
    }

    /// Asks every question of `questions` (one at a time, as a user would) and scores the answers.
    public static func run(label: String, questions: [EvalQuestion], engine: any ChatEngine,
                           log: @Sendable (String) -> Void = { _ in }) async throws -> AnswerReport {
        var outcomes: [AnswerOutcome] = []
        for (index, question) in questions.enumerated() {
            let outcome = try await ask(question, engine: engine)
            outcomes.append(outcome)
            let mark = question.isCovered ? (outcome.correctlyCited ? "✓" : outcome.correct ? "~" : outcome.declined ? "∅" : "✗")
                : (outcome.declined ? "✓" : "✗")
            log("[\(index + 1)/\(questions.count)] \(mark) \(question.id) \(String(format: "%.1f s", outcome.totalMs / 1000)) "
                + "\(question.question) → \(outcome.answer.replacingOccurrences(of: "\n", with: " ").prefix(160))")
        }
        return AnswerReport(label: label, outcomes: outcomes)
    }

    static func ask(_ question: EvalQuestion, engine: any ChatEngine) async throws -> AnswerOutcome {
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
        var firstToken: Double?
        var firstAudio: Double?
        var response: ChatResponse?
        for try await event in engine.chatStream(ChatRequest(question: question.question)) {
            switch event {
            case .token: if firstToken == nil { firstToken = elapsed() }
            case .audio(let clip): if clip.kind == .answer, firstAudio == nil { firstAudio = elapsed() }
            case .done(let r): response = r
            case .sources: break
            }
        }
        let total = elapsed()
        guard let response else { throw EvalError("\(question.id): the stream ended without an answer") }
        let labels = response.sources.map { $0.file + ($0.page.map { " p. \($0)" } ?? "") }
        let declined = Self.isDecline(response.answer, backend: response.backend)
        let correct = !declined && question.isCorrect(answer: response.answer)
        let cited = correct && Self.citations(in: response.answer).contains { n in
            guard n >= 1, n <= response.sources.count else { return false }
            let source = response.sources[n - 1]
            return question.evidence.contains { $0.file == source.file && ($0.page == nil || $0.page == source.page) }
        }
        return AnswerOutcome(id: question.id, questionClass: question.questionClass, question: question.question,
                             answer: response.answer, backend: response.backend, sources: labels, correct: correct,
                             correctlyCited: cited, declined: declined, firstTokenMs: firstToken, firstAudioMs: firstAudio,
                             totalMs: total)
    }

    /// The numbers cited as `[n]`, `[n, m]` or `[n-m]`.
    public static func citations(in text: String) -> Set<Int> {
        var result: Set<Int> = []
        for match in text.matches(of: /\[(\d+(?:\s*[,;–-]\s*\d+)*)\]/) {
            let parts = match.output.1.split(whereSeparator: { ",;".contains($0) })
            for part in parts {
                let bounds = part.split(whereSeparator: { "–-".contains($0) }).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                if bounds.count == 2, bounds[0] <= bounds[1], bounds[1] - bounds[0] < 20 {
                    result.formUnion(bounds[0]...bounds[1])
                } else if let n = bounds.first {
                    result.insert(n)
                }
            }
        }
        return result
    }

    /// Does the answer decline (the documents do not cover the question)?
    public static func isDecline(_ answer: String, backend: String) -> Bool {
        if backend == "none" { return true }
        // The same phrases the pipeline uses to recognise a model's decline.
        return GroundedAnswer.isDecline(answer) && citations(in: answer).isEmpty
    }

    // MARK: - Tables

    struct Tally {
        var questions = 0, correct = 0, cited = 0, declined = 0
    }

    func tally(_ filter: (AnswerOutcome) -> Bool) -> Tally {
        var t = Tally()
        for o in outcomes where filter(o) {
            t.questions += 1
            if o.correct { t.correct += 1 }
            if o.correctlyCited { t.cited += 1 }
            if o.declined { t.declined += 1 }
        }
        return t
    }

    /// Correctly cited answers of covered questions.
    public var coveredCited: (Int, Int) { let t = tally { $0.questionClass != .offtopic }; return (t.cited, t.questions) }
    /// Correct answers of covered questions.
    public var coveredCorrect: (Int, Int) { let t = tally { $0.questionClass != .offtopic }; return (t.correct, t.questions) }
    /// Declined off-topic questions.
    public var offTopicDeclined: (Int, Int) { let t = tally { $0.questionClass == .offtopic }; return (t.declined, t.questions) }

    public func cited(_ questionClass: QuestionClass) -> (Int, Int) {
        let t = tally { $0.questionClass == questionClass }
        return (t.cited, t.questions)
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    /// p50 and p95 in seconds of first token, first answer audio and whole answer (covered questions answered by a backend).
    public var latencies: String {
        let answered = outcomes.filter { $0.backend != "none" }
        func pair(_ values: [Double]) -> String {
            guard let p50 = Self.percentile(values, 0.5), let p95 = Self.percentile(values, 0.95) else { return "–" }
            return String(format: "%.2f / %.2f", p50 / 1000, p95 / 1000)
        }
        return "\(pair(answered.compactMap(\.firstTokenMs))) | \(pair(answered.compactMap(\.firstAudioMs))) | \(pair(answered.map(\.totalMs)))"
    }

    public static let tableHeader = """
        | run | covered: correct | correctly cited | cited: lookup | cited: paraphrase | cited: synthesis | wrongly declined | off-topic declined | first token p50/p95 s | first audio p50/p95 s | whole answer p50/p95 s | answer length p50 / mean, characters |
        |---|---|---|---|---|---|---|---|---|---|---|---|
        """

    /// One Markdown row of `tableHeader`.
    public var tableRow: String {
        func frac(_ v: (Int, Int)) -> String { "\(v.0)/\(v.1)" + (v.1 > 0 ? String(format: " (%.0f %%)", 100 * Double(v.0) / Double(v.1)) : "") }
        let wrongly = tally { $0.questionClass != .offtopic }
        return "| \(label) | \(frac(coveredCorrect)) | \(frac(coveredCited)) | \(frac(cited(.lookup))) | \(frac(cited(.paraphrase))) | "
            + "\(frac(cited(.synthesis))) | \(wrongly.declined)/\(wrongly.questions) | \(frac(offTopicDeclined)) | \(latencies) | \(answerLength) |"
    }

    /// Median and mean length of the answers to covered questions that were not declined: "the key
    /// fact is present" is easier to meet with more text, so a gain is read against this.
    public var answerLength: String {
        let lengths = outcomes.filter { $0.questionClass != .offtopic && !$0.declined }.map { Double($0.answer.count) }
        guard let p50 = Self.percentile(lengths, 0.5) else { return "–" }
        return String(format: "%.0f / %.0f", p50, lengths.reduce(0, +) / Double(lengths.count))
    }

    /// Covered questions not correctly cited, and off-topic ones answered.
    public var failures: [AnswerOutcome] {
        outcomes.filter { $0.questionClass == .offtopic ? !$0.declined : !$0.correctlyCited }
    }
}

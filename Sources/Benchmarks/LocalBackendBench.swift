import Decoder
import Foundation
import RAG
import Tensors

/// Time to first text of local answers (4 passages by default), for `ragchat bench`: the model is
/// loaded once, then each question is retrieved and answered in turn (greedy), as `/chat` does —
/// the prompt's prefix shared with the previous question (the instructions) reused from the KV
/// cache, or, with `reusePrefix` false, every prompt evaluated whole.
public enum LocalBackendBench {
    /// The three acceptance questions of DESIGN.md.
    public static let testQuestions = [
        "Quelles sont les différentes variantes de la tarte aux pommes ?",
        "Comment faire une tarte aux pommes ?",
        "Quel est le secret d'une bonne tarte aux pommes ?",
    ]

    public struct Row: Sendable {
        public var question: String
        public var passages: Int
        public var promptTokens: Int
        /// Prompt tokens evaluated (the rest came from the KV cache: the shared instructions).
        public var evaluatedPromptTokens: Int
        /// From the call to the first text piece (prompt building, prefill, first tokens).
        public var firstTextSeconds: Double?
        public var totalSeconds: Double
        public var answerTokens: Int
        public var decodeTokensPerSecond: Double
        public var answer: String
    }

    public struct Result: Sendable, CustomStringConvertible {
        public var model: String
        public var loadSeconds: Double
        public var rows: [Row]

        public var description: String {
            var lines = ["\(model): load \(String(format: "%.3f", loadSeconds)) s"]
            for r in rows {
                let first = r.firstTextSeconds.map { String(format: "%.3f s", $0) } ?? "none"
                lines.append("  first text \(first), total \(String(format: "%.2f", r.totalSeconds)) s, prompt \(r.promptTokens) tokens "
                             + "(\(r.evaluatedPromptTokens) evaluated), \(r.passages) passages, answer \(r.answerTokens) tokens at "
                             + "\(String(format: "%.1f", r.decodeTokensPerSecond)) tok/s — \(r.question)")
            }
            return lines.joined(separator: "\n")
        }
    }

    public static func run(modelPath: String, retriever: any Retriever, questions: [String] = testQuestions,
                           k: Int = 4, maxTokens: Int = 128, threads: Int? = nil,
                           reusePrefix: Bool = true) async throws -> Result {
        let backend = try LocalBackend(modelPath: modelPath, maxTokens: maxTokens, threads: threads)
        var rows: [Row] = []
        for q in questions {
            let passages = try await retriever.retrieve(query: q, k: k)
            let input = AnswerInput(question: q, passages: passages)
            if !reusePrefix { backend.generator.forgetCache() }
            let start = MonotonicClock.now()
            var first: Double?
            var answer = ""
            var stats: GenerationStats?
            do {
                stats = try backend.generate(input, options: GenerationOptions(maxTokens: maxTokens, temperature: 0, timeout: 600)) {
                    if first == nil { first = MonotonicClock.seconds(since: start) }
                    answer += $0
                }
            } catch RAGError.backend(_, let message) where message.contains("no answer") {
                stats = nil
            }
            rows.append(Row(question: q, passages: passages.count, promptTokens: stats?.promptTokens ?? 0,
                            evaluatedPromptTokens: stats?.evaluatedPromptTokens ?? 0, firstTextSeconds: first,
                            totalSeconds: MonotonicClock.seconds(since: start), answerTokens: stats?.generatedTokens ?? 0,
                            decodeTokensPerSecond: stats?.decodeTokensPerSecond ?? 0, answer: answer))
        }
        return Result(model: URL(fileURLWithPath: modelPath).lastPathComponent, loadSeconds: backend.loadSeconds, rows: rows)
    }
}

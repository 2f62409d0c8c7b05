import Decoder
import Foundation
import Index
import RAG
import Tensors

/// Prompt-lookup speculative decoding on real RAG answers, for `ragchat bench speculative`: each
/// question's prompt is built by the local backend from its retrieved passages, then answered
/// greedily with plain decoding and with each draft setting in turn (the prompt itself comes from
/// the KV cache after the first run, so only decoding differs). Every run must emit the plain run's
/// tokens; the figures are tokens per second of decoding and how many drafted tokens were kept.
public enum SpeculativeBench {
    public struct Question: Sendable {
        public var id: String
        public var text: String
        public var passages: [SearchHit]
        public init(id: String, text: String, passages: [SearchHit]) { self.id = id; self.text = text; self.passages = passages }
    }

    public struct Run: Sendable {
        public var lookup: PromptLookup
        public var tokens = 0
        public var decodeSeconds = 0.0
        public var drafted = 0
        public var accepted = 0
        public var passes = 0
        /// Questions whose tokens differed from plain decoding (must stay empty).
        public var mismatches: [String] = []
        public var tokensPerSecond: Double { decodeSeconds > 0 ? Double(tokens) / decodeSeconds : 0 }
        public var acceptance: Double { drafted > 0 ? Double(accepted) / Double(drafted) : 0 }
        public var tokensPerPass: Double { passes > 0 ? Double(tokens) / Double(passes) : 0 }
    }

    public struct Result: Sendable, CustomStringConvertible {
        public var model: String
        public var questions: Int
        public var promptTokens: Int
        /// Plain decoding first.
        public var runs: [Run]

        public var description: String {
            let plain = runs.first?.tokensPerSecond ?? 0
            var lines = ["\(model): \(questions) questions, \(runs.first?.tokens ?? 0) answer tokens, prompts of "
                         + "\(promptTokens / max(1, questions)) tokens on average",
                         "| decoding | tok/s | × plain | drafted | kept | tokens per pass | differing answers |",
                         "|---|---|---|---|---|---|---|"]
            for r in runs {
                let l = r.lookup
                let name = l.maxDraft == 0 ? "plain" : "draft ≤ \(l.maxDraft), n-gram \(l.maxNgram)…\(l.minNgram)"
                lines.append("| \(name) | \(String(format: "%.1f", r.tokensPerSecond)) | "
                             + "\(String(format: "%.2f", plain > 0 ? r.tokensPerSecond / plain : 0)) | \(r.drafted) | "
                             + "\(r.accepted) (\(String(format: "%.0f", 100 * r.acceptance)) %) | "
                             + "\(String(format: "%.2f", r.tokensPerPass)) | "
                             + (r.mismatches.isEmpty ? "0" : "\(r.mismatches.count): \(r.mismatches.joined(separator: ", "))") + " |")
            }
            return lines.joined(separator: "\n")
        }
    }

    public static func run(backend: LocalBackend, model: String, questions: [Question], lookups: [PromptLookup], maxTokens: Int = 128,
                           log: (String) -> Void = { _ in }) throws -> Result {
        var runs = [Run(lookup: .off)] + lookups.filter { $0.maxDraft > 0 }.map { Run(lookup: $0) }
        var promptTokens = 0
        for q in questions {
            let prompt = try backend.fittedPrompt(AnswerInput(question: q.text, passages: q.passages), answerTokens: maxTokens)
                .tokens.map(Int.init)
            promptTokens += prompt.count
            // Evaluate the prompt once, then every run starts from that cache: each evaluates only
            // the prompt's last token again, the same way (a prompt's last token computed in the
            // prompt pass rounds differently from one computed alone, and could change the answer).
            _ = try backend.generator.run(prompt: prompt, maxTokens: 0, sampling: .greedy, stops: backend.stopTokens,
                                          lookup: .off) { _ in }
            var plain: [Int] = []
            for i in runs.indices {
                var out: [Int] = []
                let s = try backend.generator.run(prompt: prompt, maxTokens: maxTokens, sampling: .greedy,
                                                  stops: backend.stopTokens, repeatGuard: backend.tuning.repeatGuard,
                                                  lookup: runs[i].lookup) { out.append($0) }
                if i == 0 { plain = out } else if out != plain { runs[i].mismatches.append(q.id) }
                runs[i].tokens += s.generatedTokens
                runs[i].decodeSeconds += s.decodeSeconds
                runs[i].drafted += s.draftedTokens
                runs[i].accepted += s.acceptedDraftTokens
                runs[i].passes += s.decodePasses + 1   // the prompt's pass gives the first token
            }
            log("\(q.id): \(plain.count) tokens; " + runs.map { String(format: "%.1f", $0.tokensPerSecond) }.joined(separator: " / ") + " tok/s so far")
        }
        return Result(model: URL(fileURLWithPath: model).lastPathComponent, questions: questions.count,
                      promptTokens: promptTokens, runs: runs)
    }
}

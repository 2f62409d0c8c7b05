import Foundation
import Index

/// Where the answering passage ranks, over a set of questions.
public struct RankScore: Sendable, Hashable, CustomStringConvertible {
    public var questions = 0
    public var hitAt1 = 0
    public var hitAt3 = 0
    public var hitAt5 = 0
    public var reciprocalRankSum = 0.0
    /// The rank (from 1) of each question's answering passage in the order added; nil beyond 5.
    public var ranks: [Int?] = []

    public init() {}

    public var mrrAt5: Double { questions == 0 ? 0 : reciprocalRankSum / Double(questions) }

    public mutating func add(rank: Int?) {
        questions += 1
        ranks.append(rank.flatMap { $0 <= 5 ? $0 : nil })
        guard let rank, rank <= 5 else { return }
        if rank <= 1 { hitAt1 += 1 }
        if rank <= 3 { hitAt3 += 1 }
        hitAt5 += 1
        reciprocalRankSum += 1 / Double(rank)
    }

    static func percent(_ n: Int, _ d: Int) -> String { d == 0 ? "-" : String(format: "%.0f %%", 100 * Double(n) / Double(d)) }

    public var description: String { summary }

    /// `hit@1 a/n (p %), hit@3 …, hit@5 …, MRR@5 m`
    public var summary: String {
        "hit@1 \(hitAt1)/\(questions) (\(Self.percent(hitAt1, questions))), hit@3 \(hitAt3)/\(questions), "
            + "hit@5 \(hitAt5)/\(questions) (\(Self.percent(hitAt5, questions))), MRR@5 \(String(format: "%.3f", mrrAt5))"
    }
}

/// One search mode over a question set: the rank of each covered question's answering passage.
public struct RetrievalRun: Sendable {
    public var mode: String
    /// Rank (from 1, within the top 5) per question id; `nil` when not found.
    public var ranks: [String: Int?] = [:]
    public var all = RankScore()
    public var byClass: [QuestionClass: RankScore] = [:]

    /// Runs `search` (best first; the first 5 count) on every covered question.
    public init(mode: String, questions: [EvalQuestion], search: (EvalQuestion) throws -> [SearchHit]) rethrows {
        self.mode = mode
        for question in questions where question.isCovered {
            let hits = try search(question).prefix(5)
            let rank = hits.firstIndex(where: question.isAnswered).map { $0 - hits.startIndex + 1 }
            ranks[question.id] = rank
            all.add(rank: rank)
            byClass[question.questionClass, default: RankScore()].add(rank: rank)
        }
    }

    /// Markdown rows: all, then per class.
    public var rows: [String] {
        var lines = ["| \(mode) | all | \(all.hitAt1)/\(all.questions) | \(all.hitAt3) | \(all.hitAt5) | \(String(format: "%.3f", all.mrrAt5)) |"]
        for questionClass in QuestionClass.allCases {
            guard let score = byClass[questionClass] else { continue }
            lines.append("| \(mode) | \(questionClass.rawValue) | \(score.hitAt1)/\(score.questions) | \(score.hitAt3) | \(score.hitAt5) | \(String(format: "%.3f", score.mrrAt5)) |")
        }
        return lines
    }
}

/// How a relevance gate did on a set: off-topic questions declined (right) and covered ones
/// declined (wrong).
public struct GateScore: Sendable, Hashable {
    public var offTopic = 0
    public var offTopicDeclined = 0
    public var covered = 0
    public var coveredDeclined = 0
    /// Ids of the questions the gate got wrong.
    public var mistakes: [String] = []

    public init() {}

    public mutating func add(_ question: EvalQuestion, declined: Bool) {
        if question.isCovered {
            covered += 1
            if declined { coveredDeclined += 1; mistakes.append(question.id) }
        } else {
            offTopic += 1
            if declined { offTopicDeclined += 1 } else { mistakes.append(question.id) }
        }
    }

    public var summary: String {
        "off-topic declined \(offTopicDeclined)/\(offTopic) (\(RankScore.percent(offTopicDeclined, offTopic))), "
            + "covered wrongly declined \(coveredDeclined)/\(covered) (\(RankScore.percent(coveredDeclined, covered)))"
    }
}

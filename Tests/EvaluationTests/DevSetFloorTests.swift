import Encoder
import Foundation
import Index
import Logging
import RAG
import Testing
import Evaluation

/// The quality floor of `make test`: questions of the French sets, through hybrid retrieval, the
/// relevance gate and the default (extractive) answer, as `ragchat serve` wires them. A change
/// that loses answers fails CI here; the whole sets are measured by `ragchat bench
/// retrieval|answers --set dev-fr|man-fr` (BENCHMARKS.md).
@Suite(.serialized) struct DevSetFloorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let encoderFile = root.appendingPathComponent("models/encoder/multilingual-e5-small/e5-small-q4.bin")
    /// `make test` runs `make eval-data` and `make models` first; elsewhere the suite needs both.
    static func available(_ corpus: String) -> Bool {
        FileManager.default.fileExists(atPath: root.appendingPathComponent(".build/eval/\(corpus)").path)
            && FileManager.default.fileExists(atPath: encoderFile.path)
    }

    struct Floor {
        var hitAt5: Int, hitAt1: Int, correct: Int, cited: Int, wronglyDeclined: Int, offTopicDeclined: Int
    }

    /// dev-fr: the first 12 questions of each class (36 covered + 12 off-topic). Measured hybrid
    /// hit@1 19, hit@5 28 (2026-12-05); extractive correct 22, cited 21, no covered question
    /// declined, off-topic declined 11 (2026-12-06); floors two or three questions lower for the
    /// host's ties and a new corpus build (one for the off-topic ones). 2026-12-07: correct 24,
    /// cited 23, off-topic declined 10 — "Comment se construit un accord…" now meets the
    /// documents' "construire" (`KeywordAnalyzer` joins -ire infinitives and participles) — so
    /// the off-topic floor is 9, one below. 2026-12-07, with the default query expansion: correct
    /// 26, cited 25 (floors 23 and 22; without the expansion model, 24 and 23).
    @Test(.enabled(if: available("dev-fr"))) func devSetStaysAboveTheFloor() async throws {
        try await check("dev-fr", perClass: 12, floor: Floor(hitAt5: 26, hitAt1: 16, correct: 23, cited: 22, wronglyDeclined: 1, offTopicDeclined: 9))
    }

    /// man-fr, a set over another kind of document (French manual pages), whole: 31 covered + 10
    /// off-topic. Measured hybrid hit@1 14, hit@5 22; extractive correct 17, cited 16, no covered
    /// question declined, off-topic declined 6 (2026-12-07); with the default query expansion,
    /// correct 22, cited 21 (without its model 20 and 19).
    @Test(.enabled(if: available("man-fr"))) func manualPageSetStaysAboveTheFloor() async throws {
        try await check("man-fr", perClass: nil, floor: Floor(hitAt5: 20, hitAt1: 12, correct: 19, cited: 18, wronglyDeclined: 1, offTopicDeclined: 5))
    }

    func check(_ name: String, perClass: Int?, floor: Floor) async throws {
        var set = try EvalSet.load(name, root: Self.root)
        if let perClass {
            set.questions = QuestionClass.allCases.flatMap { c in set.questions.filter { $0.questionClass == c }.prefix(perClass) }
        }
        let encoder = try SentenceEncoder(path: Self.encoderFile)
        let bench = try await RetrievalBenchmark.prepare(set, embedder: encoder,
                                                         workDirectory: Self.root.appendingPathComponent(".build/eval/index"), root: Self.root)

        let hybrid = try bench.run(.hybrid)
        let covered = set.covered.count
        print("\(name) floor, \(covered) covered + \(set.offTopic.count) off-topic: hybrid hit@1 \(hybrid.all.hitAt1), hit@5 \(hybrid.all.hitAt5)")
        #expect(hybrid.all.hitAt5 >= floor.hitAt5, "\(name): hybrid hit@5 \(hybrid.all.hitAt5) of \(covered)")
        #expect(hybrid.all.hitAt1 >= floor.hitAt1, "\(name): hybrid hit@1 \(hybrid.all.hitAt1) of \(covered)")

        // The engine `ragchat serve` builds on this index: the gate, the default query expansion
        // (when `make models` has fetched its model), the extractive answer.
        var configuration = EngineConfiguration()
        configuration.indexPath = bench.store.location
        configuration.backends = [.extractive]
        configuration.encoderPath = Self.encoderFile.path
        configuration.audioCacheDirectory = nil
        let expansionModel = Self.root.appendingPathComponent(EngineConfiguration.defaultExpansionModelPath)
        let expands = FileManager.default.fileExists(atPath: expansionModel.path)
        configuration.expansionModelPath = expands ? expansionModel.path : nil
        var logger = Logger(label: "ragchat.floor")
        logger.logLevel = .warning
        let loaded = try await EngineLoader.load(configuration, logger: logger)
        #expect(loaded.problems.isEmpty, "\(loaded.problems)")
        let pipeline = loaded.engine
        #expect(await pipeline.status().info["query expansion"] != nil || !expands)
        print("\(name) floor: query expansion \(expands ? "on" : "off (no model file)")")
        let report = try await AnswerReport.run(label: "extractive", questions: set.questions, engine: pipeline)
        print(AnswerReport.tableHeader + "\n" + report.tableRow)
        for o in report.failures { print("  \(o.id) [\(o.questionClass.rawValue)] \(o.question) → \(o.answer.replacingOccurrences(of: "\n", with: " ").prefix(160))") }
        let wronglyDeclined = report.outcomes.filter { $0.questionClass != .offtopic && $0.declined }.count
        #expect(report.coveredCorrect.0 >= floor.correct, "\(name): correct \(report.coveredCorrect.0) of \(covered)")
        #expect(report.coveredCited.0 >= floor.cited, "\(name): correctly cited \(report.coveredCited.0) of \(covered)")
        #expect(wronglyDeclined <= floor.wronglyDeclined, "\(name): covered questions declined: \(wronglyDeclined)")
        #expect(report.offTopicDeclined.0 >= floor.offTopicDeclined, "\(name): off-topic declined \(report.offTopicDeclined.0) of \(set.offTopic.count)")
    }
}

import Foundation
import Documents
import Index
import TextAnalysis

/// Retrieval over an evaluation set: the set's corpus indexed once (incrementally) per encoder,
/// every covered question searched in each mode, and the relevance signals of every question.
public struct RetrievalBenchmark: Sendable {
    public let set: EvalSet
    public let store: any IndexStore
    public let embedder: (any ChunkEmbedder & QueryEmbedder)?
    /// Query vectors by question id (computed once; every mode and weight reuses them).
    public let vectors: [String: [Float]]

    /// Indexes `set`'s corpus into `workDirectory/<set>-<encoder>.sqlite` (unchanged files are
    /// skipped on later runs) and embeds the questions.
    public static func prepare(_ set: EvalSet, embedder: (any ChunkEmbedder & QueryEmbedder)?, workDirectory: URL,
                               chunking: ChunkingOptions = .default, root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                               log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> RetrievalBenchmark {
        let corpus = set.corpusURL(root: root)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: corpus.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EvalError("no corpus at \(corpus.path) for set \(set.name) (run `make eval-data`)")
        }
        let model = embedder.map { $0.modelID.replacingOccurrences(of: "/", with: "_") } ?? "bm25"
        let size = chunking == .default ? "" : "-\(chunking.targetSize)-\(chunking.overlap)"
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let path = workDirectory.appendingPathComponent("\(set.name)-\(model)\(size).sqlite").path
        let store = try openIndexStore(at: path)
        let summary = try await store.ingest(dataDirectory: corpus, options: IngestOptions(chunking: chunking), embedder: embedder) { event in
            if case .fileFailed(let file, let reason) = event { log("ingest: \(file): \(reason)") }
        }
        log("index \(path): \(summary.chunks) chunks (\(summary.added) files added, \(summary.unchanged) unchanged) in "
            + String(format: "%.1f s", summary.seconds))
        var vectors: [String: [Float]] = [:]
        if let embedder {
            for question in set.questions { vectors[question.id] = try embedder.embed(query: question.question) }
        }
        return RetrievalBenchmark(set: set, store: store, embedder: embedder, vectors: vectors)
    }

    /// Ranks of the covered questions in one mode (`dense` and `hybrid` need an embedder).
    public func run(_ mode: SearchMode, weights: FusionWeights = .tuned, k: Int = 5) throws -> RetrievalRun {
        try RetrievalRun(mode: mode.rawValue, questions: set.questions) { question in
            try search(question, mode: mode, weights: weights, k: k)
        }
    }

    /// The hits of one question in one mode.
    public func search(_ question: EvalQuestion, mode: SearchMode, weights: FusionWeights = .tuned, k: Int = 5) throws -> [SearchHit] {
        guard let embedder, let vector = vectors[question.id] else { return try store.search(question.question, k: k) }
        switch mode {
        case .bm25: return try store.search(question.question, k: k)
        case .dense: return try store.denseSearch(vector, modelID: embedder.modelID, k: k)
        case .hybrid: return try store.hybridSearch(question.question, vector: vector, modelID: embedder.modelID, k: k, weights: weights)
        }
    }

    /// Ranks of the covered questions in hybrid search helped by each question's guessed answer
    /// (`expansions` by question id; `IndexStore.expandedHybridSearch`).
    public func runExpanded(_ expansions: [String: String], label: String = "hybrid+expansion",
                            weights: ExpansionWeights = .tuned, k: Int = 5) throws -> RetrievalRun {
        try RetrievalRun(mode: label, questions: set.questions) { question in
            try store.expandedHybridSearch(question.question, expansion: expansions[question.id] ?? "", embedder: embedder,
                                           k: k, weights: weights)
        }
    }

    /// Every question's `depth` best BM25 and dense candidates as JSON: `[{id, class, question, terms,
    /// bm25: [[chunk, score, answers, context terms]], dense: [...], signals: {cosine, margin,
    /// coverage, unknownTerms, unknownNames}}]`, for studying fusion rules and the gate outside the
    /// program.
    public func writeCandidates(to url: URL, depth: Int = 100) throws {
        var out: [[String: Any]] = []
        let allSignals = try signals()
        for question in set.questions {
            var entry: [String: Any] = ["id": question.id, "class": question.questionClass.rawValue,
                                         "question": question.question, "terms": KeywordAnalyzer.queryTerms(question.question)]
            for mode in [SearchMode.bm25, .dense] where mode == .bm25 || embedder != nil {
                entry[mode.rawValue] = try search(question, mode: mode, k: depth).map { hit -> [Any] in
                    [hit.chunkID, hit.score, question.isCovered && question.isAnswered(by: hit), KeywordAnalyzer.terms(hit.context)]
                }
            }
            if let signals = allSignals[question.id] {
                entry["signals"] = ["cosine": signals.bestCosine ?? -1, "margin": signals.cosineMargin ?? -1,
                                    "coverage": signals.keywordCoverage, "unknownTerms": signals.unknownTerms,
                                    "unknownNames": signals.unknownNames] as [String: Any]
            }
            out.append(entry)
        }
        try JSONSerialization.data(withJSONObject: out).write(to: url)
    }

    /// The same set, questions and query vectors over another index of the same corpus (e.g. the
    /// index copied into PostgreSQL), to compare implementations question by question.
    public func over(_ store: any IndexStore) -> RetrievalBenchmark {
        RetrievalBenchmark(set: set, store: store, embedder: embedder, vectors: vectors)
    }

    /// The relevance signals of every question (covered and off-topic).
    public func signals() throws -> [String: RelevanceSignals] {
        var result: [String: RelevanceSignals] = [:]
        for question in set.questions {
            result[question.id] = try store.relevance(question.question, vector: vectors[question.id], modelID: embedder?.modelID)
        }
        return result
    }
}

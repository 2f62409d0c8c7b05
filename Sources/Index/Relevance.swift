import Foundation
import GRDB
import TextAnalysis

/// What says whether the index holds an answer to a query at all: a nearest neighbour and a best
/// BM25 match always exist, so their ranks say nothing; these absolute measures do.
public struct RelevanceSignals: Sendable, Hashable, Codable {
    /// The highest cosine similarity between the query's vector and any chunk's; `nil` without
    /// vectors.
    public var bestCosine: Double?
    /// How far the best cosine stands above the query's background similarity (the mean cosine
    /// of its 10th to 30th nearest chunks): a question the documents answer has a few chunks
    /// clearly closer than the rest; one they do not cover is about as close to everything.
    /// `nil` without vectors or with fewer than 30 chunks.
    public var cosineMargin: Double?
    /// The largest share, weighted by rarity (BM25's IDF), of the query's terms that one chunk
    /// holds (0…1): 1 when a chunk has every term, near 0 when only common terms match. Terms
    /// absent from the whole index weigh the most, so a question about something the documents
    /// never name scores low.
    public var keywordCoverage: Double
    /// How many distinct terms the query has (`KeywordAnalyzer.queryTerms`).
    public var queryTerms: Int
    /// The query's terms that no chunk holds (a name or a thing the documents never mention).
    public var unknownTerms: [String]
    /// The words of the question that name something ("BitLocker", "l'Australie": a capital
    /// letter past the start of a sentence; "dnf": no French or English word;
    /// `KeywordAnalyzer.names`) that no chunk holds, as written.
    public var unknownNames: [String] = []

    public init(bestCosine: Double?, cosineMargin: Double? = nil, keywordCoverage: Double, queryTerms: Int, unknownTerms: [String] = []) {
        self.bestCosine = bestCosine
        self.cosineMargin = cosineMargin
        self.keywordCoverage = keywordCoverage
        self.queryTerms = queryTerms
        self.unknownTerms = unknownTerms
    }
}

extension SQLiteIndexStore {
    /// The relevance signals of a query (`IndexStore.relevance(_:vector:modelID:candidates:)`),
    /// the document frequencies read from `terms_vocab`.
    public func relevance(_ query: String, vector: [Float]?, modelID: String?, candidates: Int) throws -> RelevanceSignals {
        var bestCosine: Double?
        var margin: Double?
        if let vector, let modelID {
            let snapshot = try vectorSnapshot(modelID: modelID)
            if snapshot.dimension > 0, snapshot.dimension == vector.count {
                let nearest = Self.topK(vector, snapshot: snapshot, k: 30).map { Double($0.score) }
                bestCosine = nearest.first
                if nearest.count == 30, let best = nearest.first {
                    margin = best - nearest[9...].reduce(0, +) / Double(nearest.count - 9)
                }
            }
        }
        let terms = KeywordAnalyzer.queryTerms(query)
        guard !terms.isEmpty else { return RelevanceSignals(bestCosine: bestCosine, cosineMargin: margin, keywordCoverage: 0, queryTerms: 0) }
        let (coverage, unknown) = try guarded(path) {
            try pool.read { db -> (Double, [String]) in
                let frequencies = try Self.documentFrequencies(terms, db)
                let unknown = terms.filter { (frequencies[$0] ?? 0) == 0 }
                guard let ranking = try Self.keywordRanking(query, k: candidates, db), !ranking.ranked.isEmpty else { return (0, unknown) }
                let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks") ?? 0
                let weights = terms.map { Self.idf(documents: frequencies[$0] ?? 0, total: total) }
                let sum = weights.reduce(0, +)
                guard sum > 0 else { return (0, unknown) }
                let ids = ranking.ranked.map(\.id)
                let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
                var best = 0.0
                for row in try Row.fetchAll(db, sql: "SELECT terms FROM chunks WHERE id IN (\(placeholders))",
                                            arguments: StatementArguments(ids)) {
                    let held = Set((row["terms"] as String).split(separator: " ").map(String.init))
                    var covered = 0.0
                    for (term, weight) in zip(terms, weights) where held.contains(term) { covered += weight }
                    best = max(best, covered / sum)
                }
                return (best, unknown)
            }
        }
        return RelevanceSignals(bestCosine: bestCosine, cosineMargin: margin, keywordCoverage: coverage, queryTerms: terms.count,
                                unknownTerms: unknown)
    }

    /// BM25's inverse document frequency, floored above 0: ln(1 + (N − n + 0.5) / (n + 0.5)).
    static func idf(documents n: Int, total: Int) -> Double {
        log(1 + (Double(max(total - n, 0)) + 0.5) / (Double(n) + 0.5))
    }
}

/// Decides from `RelevanceSignals` whether the documents cover a query. A question is covered
/// when its meaning is close to a chunk (`sureCosine`), or when it is reasonably close
/// (`minimumCosine`) and one chunk holds enough of its rare words (`minimumCoverage`). Without
/// vectors, keyword coverage alone decides (`keywordOnlyCoverage`).
public struct RelevanceGate: Sendable, Hashable, CustomStringConvertible {
    public var sureCosine: Double
    public var minimumCosine: Double
    public var minimumCoverage: Double
    public var keywordOnlyCoverage: Double
    /// Decline a question that names something no chunk holds (`RelevanceSignals.unknownNames`).
    public var declinesUnknownNames: Bool

    public init(sureCosine: Double, minimumCosine: Double, minimumCoverage: Double, keywordOnlyCoverage: Double,
                declinesUnknownNames: Bool = true) {
        self.sureCosine = sureCosine
        self.minimumCosine = minimumCosine
        self.minimumCoverage = minimumCoverage
        self.keywordOnlyCoverage = keywordOnlyCoverage
        self.declinesUnknownNames = declinesUnknownNames
    }

    public func isCovered(_ signals: RelevanceSignals) -> Bool {
        // A question about something the documents never name cannot be answered from them,
        // however close its other words are: e5 puts "activer le chiffrement BitLocker sous
        // Windows 11" as near Debian's disk-encryption passages as the questions they answer.
        if declinesUnknownNames, !signals.unknownNames.isEmpty { return false }
        guard let cosine = signals.bestCosine else { return signals.keywordCoverage >= keywordOnlyCoverage }
        if cosine >= sureCosine { return true }
        // A passage that holds half of the question's rare words is evidence enough unless the
        // meaning is far off: short, general questions over a one-topic corpus ("Quelles sont les
        // erreurs à éviter ?") have a low cosine but every word in one passage.
        if cosine >= minimumCosine - 0.05, signals.keywordCoverage >= keywordOnlyCoverage { return true }
        return cosine >= minimumCosine && signals.keywordCoverage >= minimumCoverage
    }

    /// Lets everything through (the gate turned off).
    public static let open = RelevanceGate(sureCosine: -1, minimumCosine: -1, minimumCoverage: 0, keywordOnlyCoverage: 0,
                                          declinesUnknownNames: false)

    /// For multilingual-e5-small, calibrated on the French development set (`ragchat bench
    /// retrieval --set dev-fr --verbose`, see BENCHMARKS.md) for no wrongly declined question: e5
    /// gives any French text a cosine near 0.8, off-topic questions 0.75–0.89 and covered ones
    /// 0.83–0.95, so cosine alone cannot separate them. The gate declines what is plainly far
    /// (cosine < 0.83, or < 0.86 with under a fifth of the question's rare words in any passage,
    /// unless one passage holds half of them and the cosine is ≥ 0.78), about 40 % of the
    /// off-topic questions.
    public static let e5 = RelevanceGate(sureCosine: 0.86, minimumCosine: 0.83, minimumCoverage: 0.2, keywordOnlyCoverage: 0.5)

    /// For all-MiniLM-L6-v2 (an English model: unrelated French text gets 0.35–0.5): not
    /// calibrated on the development set; declines only what shares neither meaning nor words.
    public static let miniLM = RelevanceGate(sureCosine: 0.7, minimumCosine: 0.3, minimumCoverage: 0.3, keywordOnlyCoverage: 0.5)

    /// The gate for the index's encoder (its model id), e5's when the id does not say.
    public static func standard(forEncoder modelID: String?) -> RelevanceGate {
        guard let modelID else { return .e5 }
        return modelID.localizedCaseInsensitiveContains("minilm") ? .miniLM : .e5
    }

    public var description: String {
        (declinesUnknownNames ? "declined when it names something no chunk holds; otherwise " : "")
            + String(format: "covered when cosine ≥ %.3f, or cosine ≥ %.3f and keyword coverage ≥ %.2f, or cosine ≥ %.3f and coverage ≥ %.2f; keywords only: coverage ≥ %.2f",
                     sureCosine, minimumCosine, minimumCoverage, minimumCosine - 0.05, keywordOnlyCoverage, keywordOnlyCoverage)
    }
}

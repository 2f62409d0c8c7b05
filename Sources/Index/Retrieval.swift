import Foundation
import TextAnalysis

/// Which ranking `IndexStore.search(_:mode:embedder:k:weights:)` uses.
public enum SearchMode: String, Sendable, CaseIterable, Codable {
    /// BM25 and dense rankings fused by weighted reciprocal rank (`FusionWeights.tuned`).
    case hybrid
    /// Cosine similarity of the query's vector with every chunk's vector.
    case dense
    /// Keyword search only (FTS5 BM25).
    case bm25
}

/// What retrieval needs from a sentence encoder: the vector of one question.
public protocol QueryEmbedder: Sendable {
    /// Must equal the `ChunkEmbedder.modelID` the index vectors were made with.
    var modelID: String { get }
    func embed(query: String) throws -> [Float]
}

extension FusionWeights {
    /// Chosen on the French development set (`eval/dev-fr.json`, real Debian and LilyPond
    /// documentation) with `ragchat bench retrieval --grid` and multilingual-e5-small (see
    /// BENCHMARKS.md): e5 alone ranks the answer lower than French BM25 (hit@5 60 against 77 of
    /// 114), so it gets the smaller weight, but enough to lift the paraphrased questions BM25
    /// misses; the small rank offset lets each list's first places count clearly more than its
    /// tail. No cosine floor: e5 gives unrelated text a cosine near 0.8, so a floor says nothing
    /// that the relevance gate does not say better.
    public static let tuned = FusionWeights(bm25: 1, dense: 0.75, rankOffset: 1, candidates: 50, minimumCosine: -1)
}

extension IndexStore {
    /// Search in one of the three modes. `hybrid` without an embedder, or on an index that has no
    /// vectors of the embedder's model, is keyword search (its hits have no `denseScore`); `dense`
    /// then fails with `IndexError.embedder` telling how to get vectors.
    public func search(_ query: String, mode: SearchMode, embedder: (any QueryEmbedder)?, k: Int = 5,
                       weights: FusionWeights = .tuned) throws -> [SearchHit] {
        switch mode {
        case .bm25:
            return try search(query, k: k)
        case .dense, .hybrid:
            guard let embedder, try hasVectors(modelID: embedder.modelID) else {
                if mode == .hybrid { return try search(query, k: k) }
                let model = embedder?.modelID ?? "none"
                throw IndexError.embedder(model: model,
                                          reason: "the index at \(location) has no vectors of this model (run `ragchat ingest` with the encoder)")
            }
            let vector: [Float]
            do {
                vector = try embedder.embed(query: query)
            } catch {
                throw IndexError.embedder(model: embedder.modelID, reason: String(describing: error))
            }
            if mode == .dense {
                return try denseSearch(vector, modelID: embedder.modelID, k: k)
            }
            return try hybridSearch(query, vector: vector, modelID: embedder.modelID, k: k, weights: weights)
        }
    }
}

/// A search with the relevance gate's verdict: `covered` false means no passage is relevant and
/// the question should be declined (the hits are kept for inspection).
public struct GatedSearchResult: Sendable {
    public var hits: [SearchHit]
    public var signals: RelevanceSignals
    public var covered: Bool
}

extension IndexStore {
    /// `search(_:mode:embedder:k:weights:)` and the relevance gate, the query embedded once.
    public func search(_ query: String, mode: SearchMode, embedder: (any QueryEmbedder)?, k: Int = 5,
                       weights: FusionWeights = .tuned, gate: RelevanceGate) throws -> GatedSearchResult {
        var vector: [Float]?
        if mode != .bm25, let embedder, try hasVectors(modelID: embedder.modelID) {
            do {
                vector = try embedder.embed(query: query)
            } catch {
                throw IndexError.embedder(model: embedder.modelID, reason: String(describing: error))
            }
        }
        let hits: [SearchHit]
        switch (mode, vector, embedder) {
        case (.dense, let vector?, let embedder?): hits = try denseSearch(vector, modelID: embedder.modelID, k: k)
        case (.hybrid, let vector?, let embedder?): hits = try hybridSearch(query, vector: vector, modelID: embedder.modelID, k: k, weights: weights)
        case (.dense, _, _): hits = try search(query, mode: .dense, embedder: embedder, k: k)   // throws: no vectors
        default: hits = try search(query, k: k)
        }
        let signals = try relevance(query, vector: vector, modelID: vector == nil ? nil : embedder?.modelID)
        return GatedSearchResult(hits: hits, signals: signals, covered: !hits.isEmpty && gate.isCovered(signals))
    }
}

/// How `expandedHybridSearch` weighs its four rankings (weighted reciprocal-rank fusion).
public struct ExpansionWeights: Sendable, Hashable {
    /// BM25 and e5 of the question alone, the rank offset and the candidates per ranking, as in
    /// `hybridSearch`.
    public var question: FusionWeights
    /// BM25 and e5 of the question followed by the expansion.
    public var expandedKeyword: Double
    public var expandedDense: Double

    public init(question: FusionWeights, expandedKeyword: Double, expandedDense: Double) {
        self.question = question
        self.expandedKeyword = expandedKeyword
        self.expandedDense = expandedDense
    }

    /// Chosen on the French development set (BENCHMARKS.md, "Query expansion"): the question's
    /// two rankings keep `FusionWeights.tuned`; the expanded keyword ranking counts as much as the
    /// question's (its new words are the answer's vocabulary: the command, the technical term),
    /// the expanded e5 ranking less (a wrong guess moves the whole vector).
    public static let tuned = ExpansionWeights(question: .tuned, expandedKeyword: 1, expandedDense: 0.5)
}

extension IndexStore {
    /// Hybrid search helped by `expansion`, a text written from the question alone to stand for
    /// its answer (by a language model: "query2doc"). A question written in other words than its
    /// passage ("éteindre la machine" for `shutdown -h now`) shares few words and little meaning
    /// with it; a guessed answer often names what the passage names. The guess may be wrong, so it
    /// only adds rankings: BM25 and e5 of the question, and of the question followed by the
    /// guess, fused by weighted reciprocal rank (`ExpansionWeights`). A keyword ranking whose best
    /// score says nothing (only ubiquitous terms) gets no weight, as in `hybridSearch`. Without
    /// vectors of `embedder`'s model, the two keyword rankings alone; with a blank `expansion`,
    /// `search(_:mode: .hybrid, …)`.
    ///
    /// A question whose answer spans a section (steps, a list: `QuestionForm.needsSection`) keeps
    /// the passage its own hybrid search ranks first in first place, the guess ordering the rest:
    /// the answer is built from the first passage's section (`answerPassages`), and a guess written
    /// without the documents can rank a later part of that section first (guessed with baking
    /// words, "Comment faire une tarte aux pommes ?" would quote steps 5–7 without the ingredients).
    public func expandedHybridSearch(_ query: String, expansion: String, embedder: (any QueryEmbedder)?, k: Int = 5,
                                     weights: ExpansionWeights = .tuned) throws -> [SearchHit] {
        guard k > 0 else { return [] }
        // No guess (the model said nothing): the question's own hybrid search.
        if expansion.allSatisfy(\.isWhitespace) { return try search(query, mode: .hybrid, embedder: embedder, k: k) }
        let depth = max(k, weights.question.candidates)
        let expanded = query + "\n" + expansion
        typealias Ranking = (weight: Double, isKeyword: Bool, ofQuestion: Bool, hits: [SearchHit])
        var rankings: [Ranking] = [
            (weights.question.bm25, true, true, try search(query, k: depth)),
            (weights.expandedKeyword, true, false, try search(expanded, k: depth)),
        ]
        if let embedder, try hasVectors(modelID: embedder.modelID) {
            for (text, weight, ofQuestion) in [(query, weights.question.dense, true), (expanded, weights.expandedDense, false)] {
                let vector: [Float]
                do {
                    vector = try embedder.embed(query: text)
                } catch {
                    throw IndexError.embedder(model: embedder.modelID, reason: String(describing: error))
                }
                rankings.append((weight, false, ofQuestion, try denseSearch(vector, modelID: embedder.modelID, k: depth)))
            }
        }
        func fuse(_ rankings: [Ranking], k: Int) -> [(id: Int64, score: Double)] {
            FusionWeights.fuse(rankings.map { ranking in
                (ranking.weight, ranking.isKeyword, ranking.hits.map { ($0.chunkID, ranking.isKeyword ? $0.bm25Score ?? 0 : $0.denseScore ?? 0) })
            }, rankOffset: weights.question.rankOffset, k: k)
        }
        let questionRankings = rankings.filter(\.ofQuestion)
        var fused = fuse(rankings, k: k)
        // The question's own first (its hybrid search's, from its two rankings) moves up with the
        // first place's score: the order stays by score, the two tie.
        if QuestionForm(query).needsSection, let own = fuse(questionRankings, k: 1).first, fused.first?.id != own.id {
            fused = [(own.id, fused.first?.score ?? own.score)] + fused.filter { $0.id != own.id }.prefix(max(0, k - 1))
        }
        // Each chunk as first listed (the question's keyword hits first: their snippets mark its
        // words), with the question's own scores: its BM25, its cosine.
        var shown: [Int64: SearchHit] = [:]
        for ranking in rankings { for hit in ranking.hits where shown[hit.chunkID] == nil { shown[hit.chunkID] = hit } }
        let questionBM25 = Dictionary((questionRankings.first { $0.isKeyword }?.hits ?? []).map { ($0.chunkID, $0.bm25Score) },
                                      uniquingKeysWith: { first, _ in first })
        let questionCosine = Dictionary((questionRankings.first { !$0.isKeyword }?.hits ?? []).map { ($0.chunkID, $0.denseScore) },
                                        uniquingKeysWith: { first, _ in first })
        return fused.compactMap { item in
            guard var hit = shown[item.id] else { return nil }
            hit.bm25Score = questionBM25[item.id] ?? nil
            hit.denseScore = questionCosine[item.id] ?? nil
            hit.score = item.score
            return hit
        }
    }
}


import Foundation

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

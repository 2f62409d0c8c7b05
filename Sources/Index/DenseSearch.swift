import Foundation
import GRDB
import Synchronization

/// How `hybridSearch` fuses its two ranked lists: weighted reciprocal-rank fusion,
/// `score = bm25Weight / (rankOffset + bm25Rank) + denseWeight / (rankOffset + denseRank)`
/// (ranks from 1; a list that does not contain the chunk adds nothing).
public struct FusionWeights: Sendable, Hashable {
    public var bm25: Double
    public var dense: Double
    /// The usual RRF constant (60).
    public var rankOffset: Double
    /// How many candidates each list contributes (at least `k`).
    public var candidates: Int
    /// Dense candidates below this cosine similarity are left out of the fusion: a nearest
    /// neighbour always exists, but for a question the documents do not cover it is noise
    /// (all-MiniLM-L6-v2 gives about 0.05–0.25 to unrelated text, 0.35–0.5 to unrelated French).
    public var minimumCosine: Double

    public init(bm25: Double = 1, dense: Double = 1, rankOffset: Double = 60, candidates: Int = 50,
                minimumCosine: Double = 0.3) {
        self.bm25 = bm25
        self.dense = dense
        self.rankOffset = rankOffset
        self.candidates = candidates
        self.minimumCosine = minimumCosine
    }
}

/// One chunk of a fused ranking: its fused score, and its score in each list it was in.
struct FusedRank: Sendable {
    var id: Int64
    var score: Double
    var bm25: Double?
    var cosine: Double?
}

extension FusionWeights {
    /// The smallest best BM25 score (−bm25) of a keyword list that says something: a term in
    /// fewer than half of the chunks scores above 0.1, a list of only ubiquitous terms below 1e-4.
    static let informativeKeywordScore = 1e-3

    /// Weighted reciprocal-rank fusion of a keyword ranking (BM25 scores, best first) and a dense
    /// one (cosines, best first, already cut at `minimumCosine`): the best `k`, ties by chunk id.
    /// The same for every implementation.
    func fuse(keyword: [(id: Int64, score: Double)], dense: [(id: Int64, score: Double)], k: Int) -> [FusedRank] {
        let bm25 = Dictionary(keyword.map { ($0.id, $0.score) }, uniquingKeysWith: { first, _ in first })
        let cosine = Dictionary(dense.map { ($0.id, $0.score) }, uniquingKeysWith: { first, _ in first })
        return Self.fuse([(self.bm25, true, keyword), (self.dense, false, dense)], rankOffset: rankOffset, k: k).map {
            FusedRank(id: $0.id, score: $0.score, bm25: bm25[$0.id], cosine: cosine[$0.id])
        }
    }

    /// Weighted reciprocal-rank fusion of any rankings (scores best first): each item adds
    /// weight / (rankOffset + rank) to its chunk; the best `k`, ties by chunk id. When every matched
    /// term is in over half of the chunks, FTS5 floors their IDF to 1e-6 and a keyword order is
    /// noise ("tarte aux pommes" over a book about apple pies): such a keyword ranking then weighs
    /// nothing, unless no dense ranking has anything to say (its items are still listed).
    static func fuse(_ rankings: [(weight: Double, isKeyword: Bool, ranked: [(id: Int64, score: Double)])],
                     rankOffset: Double, k: Int) -> [(id: Int64, score: Double)] {
        let hasDense = rankings.contains { !$0.isKeyword && !$0.ranked.isEmpty }
        var scores: [Int64: Double] = [:]
        for ranking in rankings {
            let informative = !ranking.isKeyword || !hasDense || (ranking.ranked.first?.score ?? 0) >= informativeKeywordScore
            let weight = informative ? ranking.weight : 0
            for (rank, item) in ranking.ranked.enumerated() {
                scores[item.id, default: 0] += weight / (rankOffset + Double(rank + 1))
            }
        }
        return scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(k).map { ($0.key, $0.value) }
    }
}

/// The vectors of one model, packed row after row (`ids.count × dimension` floats).
struct VectorSnapshot: Sendable {
    var generation: Int
    var modelID: String
    var ids: [Int64]
    var dimension: Int
    var data: [Float]
}

extension SQLiteIndexStore {
    public func hasVectors(modelID: String) throws -> Bool {
        try vectorSnapshot(modelID: modelID).dimension > 0
    }

    /// Brute-force dense search (`IndexStore.denseSearch(_:modelID:k:)`): a dot product with every
    /// stored vector of `modelID`. The vectors are read once into one contiguous buffer and re-read
    /// only after the index changed.
    public func denseSearch(_ vector: [Float], modelID: String, k: Int) throws -> [SearchHit] {
        guard k > 0 else { return [] }
        let snapshot = try vectorSnapshot(modelID: modelID)
        guard snapshot.dimension > 0 else { return [] }
        guard vector.count == snapshot.dimension else {
            throw IndexError.embedder(model: modelID,
                                      reason: "query vector has dimension \(vector.count), the index holds \(snapshot.dimension)")
        }
        let top = Self.topK(vector, snapshot: snapshot, k: k)
        let rows = try chunkRows(top.map(\.id))
        return top.compactMap { candidate in
            guard var hit = rows[candidate.id] else { return nil }
            hit.score = Double(candidate.score)
            hit.denseScore = Double(candidate.score)
            return hit
        }
    }

    /// Keyword and dense search fused by weighted reciprocal rank
    /// (`IndexStore.hybridSearch(_:vector:modelID:k:weights:)`).
    public func hybridSearch(_ query: String, vector: [Float], modelID: String, k: Int,
                             weights: FusionWeights) throws -> [SearchHit] {
        guard k > 0 else { return [] }
        let depth = max(k, weights.candidates)
        let snapshot = try vectorSnapshot(modelID: modelID)
        if snapshot.dimension > 0, vector.count != snapshot.dimension {
            throw IndexError.embedder(model: modelID,
                                      reason: "query vector has dimension \(vector.count), the index holds \(snapshot.dimension)")
        }
        let dense = snapshot.dimension > 0
            ? Self.topK(vector, snapshot: snapshot, k: depth).filter { Double($0.score) >= weights.minimumCosine } : []
        return try guarded(path) {
            try pool.read { db in
                let keyword = try Self.keywordRanking(query, k: depth, db)
                let highlight = FTSQuery.make(query)
                let fused = weights.fuse(keyword: keyword?.ranked ?? [], dense: dense.map { ($0.id, Double($0.score)) }, k: k)
                let rows = try Self.chunkRows(fused.map(\.id), db)
                return try fused.compactMap { item -> SearchHit? in
                    guard var hit = rows[item.id] else { return nil }
                    hit.score = item.score
                    hit.bm25Score = item.bm25
                    hit.denseScore = item.cosine
                    if let match = highlight, item.bm25 != nil {
                        hit.snippet = try Self.snippet(match: match, chunkID: item.id, db) ?? hit.snippet
                    }
                    return hit
                }
            }
        }
    }

    // MARK: - Internals

    /// The cached vectors of `modelID`, reloaded when the index's generation moved.
    func vectorSnapshot(modelID: String) throws -> VectorSnapshot {
        let generation = try guarded(path) { try pool.read { db in try Self.generation(db) } }
        if let cached = vectorCache.withLock({ $0 }), cached.modelID == modelID, cached.generation == generation {
            return cached
        }
        let loaded = try guarded(path) {
            try pool.read { db -> VectorSnapshot in
                // Read the generation in the same transaction as the vectors.
                let generation = try Self.generation(db)
                var ids: [Int64] = []
                var data: [Float] = []
                var dimension = 0
                let cursor = try Row.fetchCursor(db, sql: "SELECT chunk_id, dim, data FROM vectors WHERE model_id = ? ORDER BY chunk_id",
                                                 arguments: [modelID])
                while let row = try cursor.next() {
                    let dim: Int = row["dim"]
                    if dimension == 0 {
                        dimension = dim
                    }
                    let blob: Data = row["data"]
                    guard dim == dimension, blob.count == dim * 4 else {
                        throw IndexError.database(path: path, reason: "vector of chunk \(row["chunk_id"] as Int64) has a wrong size")
                    }
                    ids.append(row["chunk_id"])
                    let start = data.count
                    data.append(contentsOf: repeatElement(0, count: dim))
                    data.withUnsafeMutableBufferPointer { out in
                        blob.withUnsafeBytes { raw in
                            for i in 0..<dim {
                                out[start + i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                            }
                        }
                    }
                }
                return VectorSnapshot(generation: generation, modelID: modelID, ids: ids, dimension: dimension, data: data)
            }
        }
        vectorCache.withLock { $0 = loaded }
        return loaded
    }

    /// Scores every row against `query` and keeps the best `k` (sorted, best first).
    static func topK(_ query: [Float], snapshot: VectorSnapshot, k: Int) -> [(id: Int64, score: Float)] {
        let count = snapshot.ids.count, dimension = snapshot.dimension
        guard count > 0 else { return [] }
        var scores = [Float](repeating: 0, count: count)
        // V (count, dimension) @ q (dimension,) -> scores (count,)
        scores.withUnsafeMutableBufferPointer { out in
            snapshot.data.withUnsafeBufferPointer { v in
                query.withUnsafeBufferPointer { q in
                    for row in 0..<count {
                        out[row] = dot(v.baseAddress! + row * dimension, q.baseAddress!, dimension)
                    }
                }
            }
        }
        // Partial selection: a small sorted array of the best k.
        var best: [(index: Int, score: Float)] = []
        best.reserveCapacity(k + 1)
        for (index, score) in scores.enumerated() {
            if best.count == k, let last = best.last, score <= last.score { continue }
            var position = best.count
            while position > 0, best[position - 1].score < score { position -= 1 }
            best.insert((index, score), at: position)
            if best.count > k { best.removeLast() }
        }
        return best.map { (snapshot.ids[$0.index], $0.score) }
    }

    /// a (n,) · b (n,) with 8-wide SIMD accumulators.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += x * y
            i += 8
        }
        var sum = acc.sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// Chunks by id, as hits with score 0.
    func chunkRows(_ ids: [Int64]) throws -> [Int64: SearchHit] {
        guard !ids.isEmpty else { return [:] }
        return try guarded(path) { try pool.read { db in try Self.chunkRows(ids, db) } }
    }

    /// Chunks by id, as hits with score 0 and the chunk's start as snippet.
    static func chunkRows(_ ids: [Int64], _ db: Database) throws -> [Int64: SearchHit] {
        guard !ids.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        let rows = try Row.fetchAll(db, sql: """
            SELECT c.id, d.path, c.page, c.ordinal, c.text, c.context FROM chunks c
            JOIN documents d ON d.id = c.document_id WHERE c.id IN (\(placeholders))
            """, arguments: StatementArguments(ids))
        var result: [Int64: SearchHit] = [:]
        for row in rows {
            let text: String = row["text"]
            result[row["id"]] = SearchHit(chunkID: row["id"], file: row["path"], page: row["page"],
                                          ordinal: row["ordinal"], score: 0, text: text,
                                          snippet: leadingSnippet(text), context: row["context"])
        }
        return result
    }

    /// The first ~160 characters of a text, cut at a word, on one line.
    static func leadingSnippet(_ text: String) -> String {
        let flat = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard flat.count > 160 else { return flat }
        let prefix = flat.prefix(160)
        let cut = prefix.lastIndex(of: " ") ?? prefix.endIndex
        return String(prefix[..<cut]) + "…"
    }

    static func generation(_ db: Database) throws -> Int {
        Int(try metadata(db, "generation") ?? "0") ?? 0
    }

    /// Marks the index as changed (chunks or vectors), so caches reload.
    package static func bumpGeneration(_ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO metadata(key, value) VALUES ('generation', '1')
            ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
            """)
    }
}

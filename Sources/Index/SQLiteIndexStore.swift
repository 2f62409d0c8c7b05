import Foundation
import GRDB
import Synchronization
import Documents
import TextAnalysis

/// The SQLite index (`models/index.sqlite` by default): one file, WAL mode, safe to share between
/// tasks and threads (reads run concurrently, writes are serialised by SQLite). Keyword search is
/// FTS5's BM25, dense search a brute-force scan of the vectors held in memory.
public final class SQLiteIndexStore: IndexStore {
    /// Path of the database file.
    public let path: String
    public var location: String { path }
    /// `package` so that the benchmarks can fill an index with synthetic chunks without extraction.
    package let pool: DatabasePool
    /// Vectors of the last model used by `denseSearch`, with the generation they were read at.
    let vectorCache = Mutex<VectorSnapshot?>(nil)

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// Opens the index at `path`, migrating its schema. With `create` (ingest) a missing file and
    /// its directory are created; without it (search, server) a missing file is
    /// `IndexError.indexNotFound`.
    public static func open(path: String, create: Bool = true) throws -> SQLiteIndexStore {
        let url = URL(fileURLWithPath: path)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard create else { throw IndexError.indexNotFound(path: path) }
            do {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                        withIntermediateDirectories: true)
            } catch {
                throw IndexError.database(path: path, reason: "cannot create its directory: \(error.localizedDescription)")
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "ragchat.index"
        return try guarded(path) {
            let pool = try DatabasePool(path: path, configuration: configuration)
            let found = try pool.read { db -> Int? in
                guard try db.tableExists("metadata") else { return nil }
                return try String.fetchOne(db, sql: "SELECT value FROM metadata WHERE key = 'schema_version'")
                    .flatMap(Int.init)
            }
            if let found, found > Schema.version {
                throw IndexError.unsupportedSchema(path: path, found: found, supported: Schema.version)
            }
            try Schema.migrator.migrate(pool)
            try reanalyseIfNeeded(pool)
            return SQLiteIndexStore(path: path, pool: pool)
        }
    }

    /// Recomputes every chunk's keyword terms when they were made by another version of
    /// `KeywordAnalyzer` (or by a version of the index that had none), in one transaction.
    static func reanalyseIfNeeded(_ pool: DatabasePool) throws {
        let current = try pool.read { db in try metadata(db, "analyzer") }
        guard current != KeywordAnalyzer.version else { return }
        try pool.write { db in
            let update = try db.cachedStatement(sql: "UPDATE chunks SET terms = ? WHERE id = ?")
            let rows = try Row.fetchCursor(db, sql: "SELECT id, text, context FROM chunks")
            var pending: [(Int64, String)] = []
            while let row = try rows.next() { pending.append((row["id"], Chunk.indexedText(row["text"], context: row["context"]))) }
            for (id, text) in pending {
                try update.execute(arguments: [KeywordAnalyzer.terms(text).joined(separator: " "), id])
            }
            try setMetadata(db, "analyzer", KeywordAnalyzer.version)
            if !pending.isEmpty { try bumpGeneration(db) }
        }
    }

    // MARK: - Keyword search

    /// BM25 keyword search (`IndexStore.search(_:k:)`): the query's terms are quoted and OR-ed
    /// into an FTS5 query over `terms_fts`.
    ///
    /// In a large index (at least `ubiquityThreshold` chunks), terms found in more than half of
    /// the chunks are left out of the query when rarer terms remain: BM25 gives them almost no
    /// weight (FTS5 floors their IDF), and they cost the most. Ties are broken by chunk id.
    public func search(_ query: String, k: Int) throws -> [SearchHit] {
        guard k > 0 else { return [] }
        return try guarded(path) {
            try pool.read { db in
                guard let ranking = try Self.keywordRanking(query, k: k, db) else { return [] }
                let rows = try Self.chunkRows(ranking.ranked.map(\.id), db)
                let highlight = FTSQuery.make(query)
                return try ranking.ranked.compactMap { item -> SearchHit? in
                    guard var hit = rows[item.id] else { return nil }
                    hit.score = item.score
                    hit.bm25Score = item.score
                    if let highlight {
                        hit.snippet = try Self.snippet(match: highlight, chunkID: item.id, db) ?? hit.snippet
                    }
                    return hit
                }
            }
        }
    }

    /// The best `k` chunk ids by BM25 over `terms_fts` (score = −bm25, best first) and the query
    /// terms used; `nil` when the query has no term. Ranks with bm25 alone: no text is read for
    /// the many matching rows.
    static func keywordRanking(_ query: String, k: Int, _ db: Database) throws
        -> (terms: [String], ranked: [(id: Int64, score: Double)])? {
        let analysed = KeywordAnalyzer.queryTerms(query)
        guard !analysed.isEmpty else { return nil }
        let terms = analysed.count > 1 ? try withoutUbiquitousTerms(analysed, db) : analysed
        let match = terms.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " OR ")
        let ranked = try Row.fetchAll(db, sql: """
            SELECT rowid, bm25(terms_fts) AS rank FROM terms_fts
            WHERE terms_fts MATCH ? ORDER BY rank, rowid LIMIT ?
            """, arguments: [match, k]).map { (id: $0["rowid"] as Int64, score: -($0["rank"] as Double)) }
        return (terms, ranked)
    }

    /// FTS5's snippet of one chunk's text for a match expression over `chunks_fts` (matches in
    /// `[` `]`): the extract shown beside a hit.
    static func snippet(match: String, chunkID: Int64, _ db: Database) throws -> String? {
        let statement = try db.cachedStatement(sql: """
            SELECT snippet(chunks_fts, 0, '[', ']', '…', 24) FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid = ?
            """)
        return try String.fetchOne(statement, arguments: [match, chunkID])
    }

    /// Below this many chunks every query term is kept: on a small index the tiny weights of
    /// common terms still break ties usefully, and the query is fast anyway.
    public static let ubiquityThreshold = 2_000

    /// Drops terms present in more than half of the chunks, keeping at least the rarest one.
    static func withoutUbiquitousTerms(_ terms: [String], _ db: Database) throws -> [String] {
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks") ?? 0
        guard total >= ubiquityThreshold else { return terms }
        let frequencies = try documentFrequencies(terms, db)
        let kept = terms.filter { (frequencies[$0] ?? 0) * 2 <= total }
        if !kept.isEmpty { return kept }
        return terms.min { (frequencies[$0] ?? 0) < (frequencies[$1] ?? 0) }.map { [$0] } ?? terms
    }

    /// How many chunks hold each term (`terms_vocab`).
    static func documentFrequencies(_ terms: [String], _ db: Database) throws -> [String: Int] {
        let statement = try db.cachedStatement(sql: "SELECT doc FROM terms_vocab WHERE term = ?")
        var result: [String: Int] = [:]
        for term in terms { result[term] = try Int.fetchOne(statement, arguments: [term]) ?? 0 }
        return result
    }

    // MARK: - Inspection

    public func statistics() throws -> IndexStatistics {
        try guarded(path) {
            try pool.read { db in
                IndexStatistics(
                    documents: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM documents WHERE status = 'indexed'") ?? 0,
                    failedDocuments: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM documents WHERE status = 'failed'") ?? 0,
                    chunks: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks") ?? 0,
                    vectors: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM vectors") ?? 0,
                    encoderModelID: try Self.metadata(db, "encoder_model_id"),
                    schemaVersion: Int(try Self.metadata(db, "schema_version") ?? "") ?? 0)
            }
        }
    }

    /// Every row of `documents`, sorted by path.
    public func documents() throws -> [DocumentRecord] {
        try guarded(path) {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT d.*, (SELECT COUNT(*) FROM chunks c WHERE c.document_id = d.id) AS chunk_count
                    FROM documents d ORDER BY d.path
                    """).map { row in
                    DocumentRecord(id: row["id"], path: row["path"], sha256: row["sha256"], size: row["size"],
                                   mtime: row["mtime"], pages: row["pages"], status: row["status"],
                                   error: row["error"], chunkCount: row["chunk_count"], indexedAt: row["indexed_at"])
                }
            }
        }
    }

    /// The chunks of one document in order, as search hits with score 0.
    public func chunks(ofFile file: String) throws -> [SearchHit] {
        try guarded(path) {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT c.id, d.path, c.page, c.ordinal, c.text, c.context FROM chunks c
                    JOIN documents d ON d.id = c.document_id WHERE d.path = ? ORDER BY c.ordinal
                    """, arguments: [file]).map { row in
                    SearchHit(chunkID: row["id"], file: row["path"], page: row["page"], ordinal: row["ordinal"],
                              score: 0, text: row["text"], snippet: "", context: row["context"])
                }
            }
        }
    }

    public func chunkSpans(ofDocumentOf chunkID: Int64, ordinals: ClosedRange<Int>) throws -> [ChunkSpan] {
        try guarded(path) {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, ordinal, page, start_offset, end_offset, text FROM chunks
                    WHERE document_id = (SELECT document_id FROM chunks WHERE id = ?) AND ordinal BETWEEN ? AND ?
                    ORDER BY ordinal
                    """, arguments: [chunkID, ordinals.lowerBound, ordinals.upperBound]).map { row in
                    ChunkSpan(chunkID: row["id"], ordinal: row["ordinal"], page: row["page"], start: row["start_offset"], end: row["end_offset"],
                              text: row["text"])
                }
            }
        }
    }

    public func vectors(modelID: String) throws -> (ids: [Int64], dimension: Int, data: [Float]) {
        let snapshot = try vectorSnapshot(modelID: modelID)
        return (snapshot.ids, snapshot.dimension, snapshot.data)
    }

    /// SQLite's integrity check, FTS5's (the full-text index matches the chunks table), and no
    /// chunk outside an indexed document.
    public func checkIntegrity() throws {
        try guarded(path) {
            try pool.write { db in
                let result = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard result == ["ok"] else {
                    throw IndexError.database(path: path, reason: "integrity check: \(result.joined(separator: "; "))")
                }
                try db.execute(sql: "INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
                let orphans = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents WHERE status = 'indexed')
                    """) ?? 0
                guard orphans == 0 else {
                    throw IndexError.database(path: path, reason: "\(orphans) chunks belong to no indexed document")
                }
            }
        }
    }

    // MARK: - Helpers

    static func metadata(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM metadata WHERE key = ?", arguments: [key])
    }

    static func setMetadata(_ db: Database, _ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT INTO metadata(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [key, value])
    }
}

/// Runs `body`, turning GRDB errors into `IndexError.database` naming `path`.
package func guarded<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as IndexError {
        throw error
    } catch let error as DatabaseError {
        throw IndexError.database(path: path, reason: error.message ?? error.description)
    } catch is CancellationError {
        throw CancellationError()
    } catch {
        throw IndexError.database(path: path, reason: String(describing: error))
    }
}

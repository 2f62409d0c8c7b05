import Documents
import Foundation
import GRDB
import PostgresNIO
import TextAnalysis

/// What `PostgresIndexStore.copy(from:progress:)` copied.
public struct IndexCopySummary: Sendable, Hashable {
    public var documents = 0
    public var chunks = 0
    public var vectors = 0
    public var seconds = 0.0
}

extension PostgresIndexStore {
    /// Copies a SQLite index into this (empty) PostgreSQL index without re-embedding
    /// (`ragchat index migrate --from FILE --to postgres://…`): every document row as it is (so
    /// the next ingest of the same folder skips unchanged files), its chunks, and their vectors.
    /// One transaction per document, under the ingest lock; the keyword terms are recomputed
    /// by this version's `KeywordAnalyzer`, as an ingest would store them. `progress` gets
    /// (documents done, documents in all).
    public func copy(from source: SQLiteIndexStore, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> IndexCopySummary {
        let clock = ContinuousClock()
        let started = clock.now
        let documents = try guarded(source.path) {
            try source.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, path, sha256, size, mtime, pages, status, error, chunking, indexed_at FROM documents ORDER BY id
                    """)
            }
        }
        let encoder = try guarded(source.path) {
            try source.pool.read { db in
                (try SQLiteIndexStore.metadata(db, "encoder_model_id"), try SQLiteIndexStore.metadata(db, "encoder_dimension").flatMap(Int.init))
            }
        }
        var summary = IndexCopySummary()
        try connections.withConnection(retry: .untilFirstReply) { session in
            try session.takeIngestLock()
            defer { if !session.connection.isClosed { try? session.execute("SELECT pg_advisory_unlock_all()") } }
            let present = try session.rows("SELECT count(*) FROM documents").first?.decode(Int.self) ?? 0
            guard present == 0 else {
                throw IndexError.invalidOptions("\(location) already holds \(present) documents: migrate into an empty index (another schema or database)")
            }
            if let dimension = encoder.1 {
                try session.execute("""
                    CREATE INDEX IF NOT EXISTS vectors_hnsw_\(dimension) ON vectors
                    USING hnsw ((embedding::vector(\(dimension))) vector_cosine_ops) WHERE dim = \(dimension)
                    """)
            }
            for (number, document) in documents.enumerated() {
                try Task.checkCancellation()
                let sourceID: Int64 = document["id"]
                let (chunks, vectors) = try guarded(source.path) {
                    try source.pool.read { db -> ([Chunk], [Int: (model: String, vector: [Float])]) in
                        var chunks: [Chunk] = []
                        var vectors: [Int: (model: String, vector: [Float])] = [:]
                        for row in try Row.fetchAll(db, sql: """
                            SELECT c.ordinal, c.page, c.start_offset, c.end_offset, c.text, c.context, v.model_id, v.dim, v.data
                            FROM chunks c LEFT JOIN vectors v ON v.chunk_id = c.id WHERE c.document_id = ? ORDER BY c.ordinal
                            """, arguments: [sourceID]) {
                            let path: String = document["path"]
                            chunks.append(Chunk(file: path, page: row["page"], start: row["start_offset"], end: row["end_offset"],
                                                ordinal: row["ordinal"], text: row["text"], context: row["context"]))
                            if let model: String = row["model_id"], let dim: Int = row["dim"], let data: Data = row["data"] {
                                guard let vector = VectorCoding.decode(data, dimension: dim) else {
                                    throw IndexError.database(path: source.path, reason: "vector of chunk \(row["ordinal"] as Int) of \(path) has a wrong size")
                                }
                                vectors[row["ordinal"]] = (model, vector)
                            }
                        }
                        return (chunks, vectors)
                    }
                }
                try session.transaction {
                    let row = try session.rows("""
                        INSERT INTO documents(path, sha256, size, mtime, pages, status, error, chunking, indexed_at)
                        VALUES (\(document["path"] as String), \(document["sha256"] as String), \(document["size"] as Int),
                                \(document["mtime"] as Double), \(document["pages"] as Int), \(document["status"] as String),
                                \(document["error"] as String?), \(document["chunking"] as String), \(document["indexed_at"] as Double))
                        RETURNING id
                        """).first
                    guard let documentID = try row?.decode(Int.self) else {
                        throw IndexError.database(path: location, reason: "no id returned for \(document["path"] as String)")
                    }
                    // Batches of 256 chunks: one statement each, far below the 65,535 parameters.
                    var start = 0
                    while start < chunks.count {
                        let batch = Array(chunks[start..<min(start + 256, chunks.count)])
                        let ids = try Self.insertChunks(batch, documentID: documentID, session)
                        var byModel: [String: (ids: [Int64], vectors: [[Float]])] = [:]
                        for (id, chunk) in zip(ids, batch) {
                            guard let stored = vectors[chunk.ordinal] else { continue }
                            byModel[stored.model, default: ([], [])].ids.append(id)
                            byModel[stored.model, default: ([], [])].vectors.append(stored.vector)
                        }
                        for (model, pending) in byModel {
                            try Self.insertVectors(ids: pending.ids, vectors: pending.vectors, modelID: model, session)
                            summary.vectors += pending.ids.count
                        }
                        start += batch.count
                    }
                    summary.chunks += chunks.count
                }
                summary.documents += 1
                progress?(number + 1, documents.count)
            }
            try session.transaction {
                if let model = encoder.0 { try Self.setMetadata(session, "encoder_model_id", model) }
                if let dimension = encoder.1 { try Self.setMetadata(session, "encoder_dimension", String(dimension)) }
            }
        }
        summary.seconds = (clock.now - started).seconds
        return summary
    }
}

extension PostgresIndexStore {
    /// Adds one indexed document made of `chunks` (and their `vectors` of `modelID`, when given) in
    /// one transaction, without extraction, hashing or embedding: for the benchmarks' generated
    /// indexes. No HNSW index is made here (`createVectorIndex(dimension:)`): building it once
    /// after a bulk load is much faster than growing it row by row.
    package func load(documentPath: String, chunks: [Chunk], vectors: [[Float]]?, modelID: String) throws {
        try connections.withConnection(retry: .untilFirstReply) { session in
            try session.transaction {
                let row = try session.rows("""
                    INSERT INTO documents(path, sha256, size, mtime, pages, status, chunking, indexed_at)
                    VALUES (\(documentPath), '', 0, 0, 1, 'indexed', 'synthetic', 0) RETURNING id
                    """).first
                guard let documentID = try row?.decode(Int.self) else {
                    throw IndexError.database(path: location, reason: "no id returned for \(documentPath)")
                }
                var start = 0
                while start < chunks.count {
                    let end = min(start + 500, chunks.count)
                    let ids = try Self.insertChunks(Array(chunks[start..<end]), documentID: documentID, session)
                    if let vectors {
                        try Self.insertVectors(ids: ids, vectors: Array(vectors[start..<end]), modelID: modelID, session)
                    }
                    start = end
                }
                if let dimension = vectors?.first?.count {
                    try Self.setMetadata(session, "encoder_model_id", modelID)
                    try Self.setMetadata(session, "encoder_dimension", String(dimension))
                }
            }
        }
    }

    /// Builds the HNSW index of `dimension`-d vectors (what ingest makes before its first vector),
    /// with memory enough to build the graph in one pass.
    package func createVectorIndex(dimension: Int) throws {
        try connections.withConnection(retry: .untilFirstReply) { session in
            try session.execute("SET maintenance_work_mem = '2GB'")
            try session.execute("""
                CREATE INDEX IF NOT EXISTS vectors_hnsw_\(dimension) ON vectors
                USING hnsw ((embedding::vector(\(dimension))) vector_cosine_ops) WHERE dim = \(dimension)
                """, unbounded: true)
            try session.execute("RESET maintenance_work_mem")
            try session.execute("ANALYZE", unbounded: true)
        }
    }
}

import Crypto
import Documents
import Foundation
import TextAnalysis
import GRDB

/// Settings of one ingest.
public struct IngestOptions: Sendable {
    /// Chunking settings in range and a positive batch size (`invalidOptions` otherwise).
    public func validate() throws(IndexError) {
        do { try chunking.validate() } catch { throw .invalidOptions(error.description) }
        guard embeddingBatchSize > 0 else { throw .invalidOptions("embedding batch size must be positive") }
    }

    public var chunking: ChunkingOptions
    /// Texts per `ChunkEmbedder.embed` call.
    public var embeddingBatchSize: Int
    /// Testing hook, called inside each file's write transaction after its rows are written and
    /// before the commit, with the file's relative path. Throwing rolls the file back and stops the
    /// ingest with that error, as a crash at that moment would.
    public var beforeCommit: (@Sendable (String) throws -> Void)?

    public init(chunking: ChunkingOptions = .default, embeddingBatchSize: Int = 32,
                beforeCommit: (@Sendable (String) throws -> Void)? = nil) {
        self.chunking = chunking
        self.embeddingBatchSize = embeddingBatchSize
        self.beforeCommit = beforeCommit
    }
}

/// What happened to one file.
public enum FileOutcome: String, Sendable, Hashable {
    case added, updated, unchanged
}

/// Progress of an ingest, reported as it goes.
public enum IngestEvent: Sendable, Hashable {
    /// The data directory was listed: `files` supported files found.
    case scanned(files: Int)
    /// File number `index` (from 1) of `total` is being looked at.
    case fileStarted(path: String, index: Int, total: Int)
    case fileFinished(path: String, outcome: FileOutcome, pages: Int, chunks: Int)
    case fileFailed(path: String, reason: String)
    /// The file was indexed, with a remark (e.g. "not valid UTF-8, read as Windows-1252").
    case fileWarning(path: String, message: String)
    /// A document whose file is gone was removed from the index.
    case fileRemoved(path: String)
    /// `done` of `total` chunks embedded (per file, or during a recompute of all vectors).
    case embedding(done: Int, total: Int)
}

/// A file that could not be indexed.
public struct IngestFailure: Sendable, Hashable {
    public var path: String
    public var reason: String
}

/// Counts of one ingest; `chunks` and `pages` count what was (re)written by this run.
public struct IngestSummary: Sendable, Hashable {
    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public var removed = 0
    public var failed = 0
    public var pages = 0
    public var chunks = 0
    /// Vectors computed by this run (new chunks and recomputed ones).
    public var embedded = 0
    public var failures: [IngestFailure] = []
    public var seconds: Double = 0

    public init() {}

    /// `added 2, updated 0, unchanged 0, removed 0, failed 0 — 48 chunks in 0.31 s`
    public var line: String {
        "added \(added), updated \(updated), unchanged \(unchanged), removed \(removed), failed \(failed) — "
            + "\(chunks) chunks in \(String(format: "%.2f", seconds)) s"
    }
}

extension SQLiteIndexStore {
    /// Version of extraction + normalisation + chunking; bumping it re-indexes every file.
    static let extractorVersion = 4

    /// `IndexStore.ingest(dataDirectory:options:embedder:progress:)`: a file is skipped when its
    /// chunking settings are the same and its size and mtime (or else its SHA-256) match the
    /// document's; a changed file's document row, chunks and vectors are replaced in one write
    /// transaction.
    public func ingest(dataDirectory: URL, options: IngestOptions, embedder: (any ChunkEmbedder)?,
                       progress: (@Sendable (IngestEvent) -> Void)?) async throws -> IngestSummary {
        let clock = ContinuousClock()
        let started = clock.now
        try options.validate()
        let chunker: Chunker
        do { chunker = try Chunker(options: options.chunking) } catch {
            throw IndexError.invalidOptions(error.description)
        }
        let signature = "v\(Self.extractorVersion) size=\(options.chunking.targetSize) overlap=\(options.chunking.overlap)"
        let report = progress ?? { _ in }
        var summary = IngestSummary()

        let scan = try DataDirectory.scan(dataDirectory)
        report(.scanned(files: scan.files.count))
        for failure in scan.failures {
            summary.failed += 1
            summary.failures.append(failure)
            report(.fileFailed(path: failure.path, reason: failure.reason))
        }

        let existing = try guarded(path) {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT id, path, sha256, size, mtime, status, chunking, indexed_at FROM documents").map {
                    ExistingDocument(id: $0["id"], path: $0["path"], sha256: $0["sha256"], size: $0["size"],
                                     mtime: $0["mtime"], status: $0["status"], chunking: $0["chunking"],
                                     indexedAt: $0["indexed_at"])
                }
            }
        }
        let known = Dictionary(existing.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })

        // Files that are gone.
        let present = Set(scan.files.map(\.path))
        for document in existing where !present.contains(document.path) {
            try Task.checkCancellation()
            try await write { db in
                try Self.deleteDocument(db, id: document.id)
                try Self.bumpGeneration(db)
            }
            if document.status == "indexed" { summary.removed += 1 }
            report(.fileRemoved(path: document.path))
        }

        // Vectors of another model are dropped; missing ones are filled in at the end.
        if let embedder {
            try await write { db in
                try db.execute(sql: "DELETE FROM vectors WHERE model_id <> ? OR dim <> ?",
                               arguments: [embedder.modelID, embedder.dimension])
                if db.changesCount > 0 { try Self.bumpGeneration(db) }
            }
        }

        for (number, file) in scan.files.enumerated() {
            try Task.checkCancellation()
            report(.fileStarted(path: file.path, index: number + 1, total: scan.files.count))
            let previous = known[file.path]
            do {
                let outcome = try await ingestFile(file, previous: previous, chunker: chunker, signature: signature,
                                                   options: options, embedder: embedder, report: report)
                switch outcome.outcome {
                case .added: summary.added += 1
                case .updated: summary.updated += 1
                case .unchanged: summary.unchanged += 1
                }
                summary.pages += outcome.pages
                summary.chunks += outcome.chunks
                summary.embedded += outcome.embedded
                report(.fileFinished(path: file.path, outcome: outcome.outcome, pages: outcome.pages, chunks: outcome.chunks))
            } catch let error as DocumentsError {
                try await recordFailure(file, previous: previous, reason: error.reason, signature: signature)
                summary.failed += 1
                summary.failures.append(IngestFailure(path: file.path, reason: error.reason))
                report(.fileFailed(path: file.path, reason: error.reason))
            }
        }

        if let embedder {
            summary.embedded += try await fillMissingVectors(embedder: embedder, batchSize: options.embeddingBatchSize,
                                                             report: report)
            try await write { db in
                try Self.setMetadata(db, "encoder_model_id", embedder.modelID)
                try Self.setMetadata(db, "encoder_dimension", String(embedder.dimension))
            }
        }
        summary.seconds = (clock.now - started).seconds
        return summary
    }

    // MARK: - One file

    /// A document row as ingest compares it with its file (both implementations).
    struct ExistingDocument: Sendable {
        var id: Int64
        var path: String
        var sha256: String
        var size: Int64
        var mtime: Double
        var status: String
        var chunking: String
        var indexedAt: Double

        /// Size and mtime can be trusted only when the file was last modified well before it was
        /// read: a file written in the same second as the ingest could change again unnoticed
        /// (as with git's "racily clean" entries), so it is hashed next time.
        func matches(_ stat: DataDirectory.Stat) -> Bool {
            size == stat.size && mtime == stat.mtime && mtime < indexedAt - 2
        }
    }

    private struct FileResult {
        var outcome: FileOutcome
        var pages = 0
        var chunks = 0
        var embedded = 0
    }

    private func ingestFile(_ file: DataDirectory.File, previous: ExistingDocument?, chunker: Chunker,
                            signature: String, options: IngestOptions, embedder: (any ChunkEmbedder)?,
                            report: @escaping @Sendable (IngestEvent) -> Void) async throws -> FileResult {
        let upToDate = previous.map { $0.status == "indexed" && $0.chunking == signature } ?? false
        let stat = try DataDirectory.stat(file)
        if upToDate, let previous, previous.matches(stat) {
            return FileResult(outcome: .unchanged)
        }
        guard let kind = DocumentKind(path: file.path) else { throw DocumentsError.unsupportedFileType(path: file.path) }
        // A PDF is read whole (Poppler needs it); a text file is hashed, then read, in blocks.
        let pdfData: Data? = kind == .pdf ? try Extractor.read(file.url, path: file.path) : nil
        let sha256 = try pdfData.map { SHA256.hash(data: $0).hexString } ?? Self.sha256(of: file.url, path: file.path)
        if upToDate, let previous, previous.sha256 == sha256 {
            // Touched but identical: remember the new size and mtime so the next run is quick.
            try await write { db in
                try db.execute(sql: "UPDATE documents SET size = ?, mtime = ?, indexed_at = ? WHERE id = ?",
                               arguments: [stat.size, stat.mtime, Date().timeIntervalSince1970, previous.id])
            }
            return FileResult(outcome: .unchanged)
        }
        let pdfDocument = try pdfData.map { try Extractor.extract(data: $0, kind: kind, path: file.path) }
        for warning in pdfDocument?.warnings ?? [] { report(.fileWarning(path: file.path, message: warning)) }
        let pdfPages = pdfDocument?.pages

        // One transaction per file: the document row, then its chunks (and vectors) as they are
        // cut, a page or a text segment at a time, so memory stays bounded whatever the file's
        // size; the previous version of the file stays until the commit.
        let pages = pdfPages?.count ?? 1
        let hook = options.beforeCommit
        let path = file.path
        let url = file.url
        let batchSize = options.embeddingBatchSize
        let fileSize = Double(max(1, stat.size))
        let stored: (chunks: Int, embedded: Int) = try await write { db in
            let now = Date().timeIntervalSince1970
            let documentID: Int64
            if let previous {
                try db.execute(sql: "DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)",
                               arguments: [previous.id])
                try db.execute(sql: "DELETE FROM chunks WHERE document_id = ?", arguments: [previous.id])
                try db.execute(sql: """
                    UPDATE documents SET sha256 = ?, size = ?, mtime = ?, pages = ?, status = 'indexed', error = NULL,
                        chunking = ?, indexed_at = ? WHERE id = ?
                    """, arguments: [sha256, stat.size, stat.mtime, pages, signature, now, previous.id])
                documentID = previous.id
            } else {
                try db.execute(sql: """
                    INSERT INTO documents(path, sha256, size, mtime, pages, status, chunking, indexed_at)
                    VALUES (?, ?, ?, ?, ?, 'indexed', ?, ?)
                    """, arguments: [path, sha256, stat.size, stat.mtime, pages, signature, now])
                documentID = db.lastInsertedRowID
            }
            let insertChunk = try db.cachedStatement(sql: """
                INSERT INTO chunks(document_id, ordinal, page, start_offset, end_offset, text, terms, context)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let insertVector = try db.cachedStatement(sql: "INSERT INTO vectors(chunk_id, model_id, dim, data) VALUES (?, ?, ?, ?)")
            var stored = 0, embedded = 0
            /// Embeds and inserts `chunks`; `total` is the file's chunk count, or an estimate.
            func store(_ chunks: [Chunk], total: (Int) -> Int) throws {
                var start = 0
                while start < chunks.count {
                    try Task.checkCancellation()
                    let batch = chunks[start..<min(start + batchSize, chunks.count)]
                    var vectors: [Data] = []
                    if let embedder {
                        vectors = try Self.embed(batch.map(\.indexedText), with: embedder).map(VectorCoding.encode)
                    }
                    for (i, chunk) in batch.enumerated() {
                        try insertChunk.execute(arguments: [documentID, chunk.ordinal, chunk.page, chunk.start, chunk.end, chunk.text,
                                                            KeywordAnalyzer.terms(chunk.indexedText).joined(separator: " "), chunk.context])
                        if let embedder, !vectors.isEmpty {
                            try insertVector.execute(arguments: [db.lastInsertedRowID, embedder.modelID, embedder.dimension, vectors[i]])
                        }
                    }
                    start += batch.count
                    stored += batch.count
                    embedded += vectors.count
                    if embedder != nil { report(.embedding(done: stored, total: total(stored))) }
                }
            }
            var sequence = Chunker.ChunkSequence(chunker: chunker, path: path)
            if let pdfPages {
                let chunks = pdfPages.flatMap { sequence.chunks(of: $0) }
                try store(chunks) { _ in chunks.count }
            } else {
                let warnings = try TextFileReader().read(url, path: path) { segment in
                    let chunks = sequence.chunks(of: PageText(number: nil, text: segment.text), offset: segment.scalarOffset)
                    let share = Double(segment.bytesRead) / fileSize
                    try store(chunks) { done in max(done, Int((Double(done) / max(share, 1e-9)).rounded())) }
                }
                for warning in warnings { report(.fileWarning(path: path, message: warning)) }
            }
            try Self.bumpGeneration(db)
            try hook?(path)
            return (stored, embedded)
        }
        return FileResult(outcome: previous == nil ? .added : .updated, pages: pages, chunks: stored.chunks,
                          embedded: stored.embedded)
    }

    /// SHA-256 of a file read in 1 MB blocks (not mapped: a large file would count in full in
    /// the process's memory).
    static func sha256(of url: URL, path: String) throws -> String {
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            var hasher = SHA256()
            while let block = try handle.read(upToCount: 1 << 20), !block.isEmpty { hasher.update(data: block) }
            return hasher.finalize().hexString
        } catch {
            throw DocumentsError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Records a failed file: its old chunks go (the index follows the data directory), and the
    /// row says why, so `documents()` shows it. Failed files are retried on every run.
    private func recordFailure(_ file: DataDirectory.File, previous: ExistingDocument?, reason: String,
                               signature: String) async throws {
        let stat = try? DataDirectory.stat(file)
        let path = file.path
        try await write { db in
            let now = Date().timeIntervalSince1970
            if let previous {
                try Self.deleteChunks(db, documentID: previous.id)
                try db.execute(sql: """
                    UPDATE documents SET status = 'failed', error = ?, size = ?, mtime = ?, pages = 0, sha256 = '',
                        indexed_at = ? WHERE id = ?
                    """, arguments: [reason, stat?.size ?? 0, stat?.mtime ?? 0, now, previous.id])
            } else {
                try db.execute(sql: """
                    INSERT INTO documents(path, sha256, size, mtime, pages, status, error, chunking, indexed_at)
                    VALUES (?, '', ?, ?, 0, 'failed', ?, ?, ?)
                    """, arguments: [path, stat?.size ?? 0, stat?.mtime ?? 0, reason, signature, now])
            }
            try Self.bumpGeneration(db)
        }
    }

    // MARK: - Vectors

    /// Embeds every chunk that has no vector of `embedder`'s model, a batch per transaction.
    private func fillMissingVectors(embedder: any ChunkEmbedder, batchSize: Int,
                                    report: @Sendable (IngestEvent) -> Void) async throws -> Int {
        let missing = try guarded(path) {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT c.id, c.text, c.context FROM chunks c LEFT JOIN vectors v ON v.chunk_id = c.id
                    WHERE v.chunk_id IS NULL ORDER BY c.id
                    """).map { (id: $0["id"] as Int64, text: Chunk.indexedText($0["text"], context: $0["context"])) }
            }
        }
        guard !missing.isEmpty else { return 0 }
        var done = 0
        while done < missing.count {
            try Task.checkCancellation()
            let batch = Array(missing[done..<min(done + batchSize, missing.count)])
            let vectors = try Self.embed(batch.map(\.text), with: embedder).map(VectorCoding.encode)
            let model = embedder.modelID, dimension = embedder.dimension
            try await write { db in
                let insert = try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO vectors(chunk_id, model_id, dim, data)
                    SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)
                    """)
                for (item, vector) in zip(batch, vectors) {
                    try insert.execute(arguments: [item.id, model, dimension, vector, item.id])
                }
                try Self.bumpGeneration(db)
            }
            done += batch.count
            report(.embedding(done: done, total: missing.count))
        }
        return missing.count
    }

    static func embed(_ texts: [String], with embedder: any ChunkEmbedder) throws -> [[Float]] {
        let vectors: [[Float]]
        do {
            vectors = try embedder.embed(texts)
        } catch let error as CancellationError {
            throw error
        } catch {
            throw IndexError.embedder(model: embedder.modelID, reason: String(describing: error))
        }
        guard vectors.count == texts.count else {
            throw IndexError.embedder(model: embedder.modelID,
                                      reason: "returned \(vectors.count) vectors for \(texts.count) texts")
        }
        if let bad = vectors.first(where: { $0.count != embedder.dimension }) {
            throw IndexError.embedder(model: embedder.modelID,
                                      reason: "returned a vector of dimension \(bad.count), expected \(embedder.dimension)")
        }
        return vectors
    }

    // MARK: - Helpers

    static func deleteChunks(_ db: Database, documentID: Int64) throws {
        try db.execute(sql: "DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)",
                       arguments: [documentID])
        try db.execute(sql: "DELETE FROM chunks WHERE document_id = ?", arguments: [documentID])
    }

    static func deleteDocument(_ db: Database, id: Int64) throws {
        try deleteChunks(db, documentID: id)
        try db.execute(sql: "DELETE FROM documents WHERE id = ?", arguments: [id])
    }

    /// One write transaction, GRDB errors mapped to `IndexError`.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(updates)
        } catch let error as IndexError {
            throw error
        } catch let error as DatabaseError {
            throw IndexError.database(path: path, reason: error.message ?? error.description)
        }
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}

extension SHA256.Digest {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

import Crypto
import Documents
import Foundation
import PostgresNIO
import TextAnalysis

extension PostgresIndexStore {
    /// `IndexStore.ingest(dataDirectory:options:embedder:progress:)`, as SQLite's does it: the same
    /// skip rules (chunking settings, size and mtime or else SHA-256), one transaction per file,
    /// failed files recorded, vectors of another model replaced.
    ///
    /// The whole run holds a session-level advisory lock of this index (its schema): two ingests
    /// of the same index, from two machines or two processes, run one after the other, and the
    /// second reads the documents table only once it holds the lock, so it finds the first one's
    /// work done instead of adding the same chunks again. Searches are not blocked.
    public func ingest(dataDirectory: URL, options: IngestOptions, embedder: (any ChunkEmbedder)?,
                       progress: (@Sendable (IngestEvent) -> Void)?) async throws -> IngestSummary {
        let chunker: Chunker
        do { chunker = try Chunker(options: options.chunking) } catch {
            throw IndexError.invalidOptions(error.description)
        }
        guard options.embeddingBatchSize > 0 else {
            throw IndexError.invalidOptions("embedding batch size must be positive")
        }
        let scan = try DataDirectory.scan(dataDirectory)
        // One connection for the run: the advisory lock belongs to it (and goes if it dies).
        return try connections.withConnection(retry: .untilFirstReply) { session in
            try session.takeIngestLock()
            defer { if !session.connection.isClosed { try? session.execute("SELECT pg_advisory_unlock_all()") } }
            return try ingestLocked(scan: scan, chunker: chunker, options: options, embedder: embedder,
                                    report: progress ?? { _ in }, session)
        }
    }

    private func ingestLocked(scan: (files: [DataDirectory.File], failures: [IngestFailure]), chunker: Chunker, options: IngestOptions, embedder: (any ChunkEmbedder)?,
                              report: @escaping @Sendable (IngestEvent) -> Void, _ session: PostgresSession) throws -> IngestSummary {
        let clock = ContinuousClock()
        let started = clock.now
        let signature = "v\(SQLiteIndexStore.extractorVersion) size=\(options.chunking.targetSize) overlap=\(options.chunking.overlap)"
        var summary = IngestSummary()
        report(.scanned(files: scan.files.count))
        for failure in scan.failures {
            summary.failed += 1
            summary.failures.append(failure)
            report(.fileFailed(path: failure.path, reason: failure.reason))
        }

        let existing = try session.rows("SELECT id, path, sha256, size, mtime, status, chunking, indexed_at FROM documents").map { row in
            let (id, path, sha256, size, mtime, status, chunking, indexedAt)
                = try row.decode((Int, String, String, Int, Double, String, String, Double).self)
            return SQLiteIndexStore.ExistingDocument(id: Int64(id), path: path, sha256: sha256, size: Int64(size), mtime: mtime,
                                                     status: status, chunking: chunking, indexedAt: indexedAt)
        }
        let known = Dictionary(existing.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })

        // Files that are gone.
        let present = Set(scan.files.map(\.path))
        for document in existing where !present.contains(document.path) {
            try Task.checkCancellation()
            try session.transaction {
                try Self.deleteChunks(session, documentID: document.id)
                try session.rows("DELETE FROM documents WHERE id = \(Int(document.id))")
            }
            if document.status == "indexed" { summary.removed += 1 }
            report(.fileRemoved(path: document.path))
        }

        // Vectors of another model are dropped; missing ones are filled in at the end. The HNSW
        // index of the embedder's dimension exists before the first vector goes in.
        if let embedder {
            try session.rows("DELETE FROM vectors WHERE model_id <> \(embedder.modelID) OR dim <> \(embedder.dimension)")
            try session.execute("""
                CREATE INDEX IF NOT EXISTS vectors_hnsw_\(embedder.dimension) ON vectors
                USING hnsw ((embedding::vector(\(embedder.dimension))) vector_cosine_ops) WHERE dim = \(embedder.dimension)
                """)
        }

        for (number, file) in scan.files.enumerated() {
            try Task.checkCancellation()
            report(.fileStarted(path: file.path, index: number + 1, total: scan.files.count))
            let previous = known[file.path]
            do {
                let outcome = try ingestFile(file, previous: previous, chunker: chunker, signature: signature, options: options,
                                             embedder: embedder, report: report, session)
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
                try recordFailure(file, previous: previous, reason: error.reason, signature: signature, session)
                summary.failed += 1
                summary.failures.append(IngestFailure(path: file.path, reason: error.reason))
                report(.fileFailed(path: file.path, reason: error.reason))
            }
        }

        if let embedder {
            summary.embedded += try fillMissingVectors(embedder: embedder, batchSize: options.embeddingBatchSize, report: report, session)
            try session.transaction {
                try Self.setMetadata(session, "encoder_model_id", embedder.modelID)
                try Self.setMetadata(session, "encoder_dimension", String(embedder.dimension))
            }
        }
        summary.seconds = (clock.now - started).seconds
        return summary
    }

    private struct FileResult {
        var outcome: FileOutcome
        var pages = 0
        var chunks = 0
        var embedded = 0
    }

    private func ingestFile(_ file: DataDirectory.File, previous: SQLiteIndexStore.ExistingDocument?, chunker: Chunker,
                            signature: String, options: IngestOptions, embedder: (any ChunkEmbedder)?,
                            report: @escaping @Sendable (IngestEvent) -> Void, _ session: PostgresSession) throws -> FileResult {
        let upToDate = previous.map { $0.status == "indexed" && $0.chunking == signature } ?? false
        let stat = try DataDirectory.stat(file)
        if upToDate, let previous, previous.matches(stat) {
            return FileResult(outcome: .unchanged)
        }
        guard let kind = DocumentKind(path: file.path) else { throw DocumentsError.unsupportedFileType(path: file.path) }
        let pdfData: Data? = kind == .pdf ? try Extractor.read(file.url, path: file.path) : nil
        let sha256 = try pdfData.map { SHA256.hash(data: $0).hexString } ?? SQLiteIndexStore.sha256(of: file.url, path: file.path)
        if upToDate, let previous, previous.sha256 == sha256 {
            // Touched but identical: remember the new size and mtime so the next run is quick.
            try session.rows("""
                UPDATE documents SET size = \(Int(stat.size)), mtime = \(stat.mtime), indexed_at = \(Date().timeIntervalSince1970)
                WHERE id = \(Int(previous.id))
                """)
            return FileResult(outcome: .unchanged)
        }
        let pdfDocument = try pdfData.map { try Extractor.extract(data: $0, kind: kind, path: file.path) }
        for warning in pdfDocument?.warnings ?? [] { report(.fileWarning(path: file.path, message: warning)) }
        let pdfPages = pdfDocument?.pages
        let pages = pdfPages?.count ?? 1
        let path = file.path
        let batchSize = options.embeddingBatchSize
        let fileSize = Double(max(1, stat.size))

        // One transaction per file: the document row, then its chunks (and vectors) a batch at a
        // time as they are cut; the previous version of the file stays until the commit.
        let stored: (chunks: Int, embedded: Int) = try session.transaction {
            let now = Date().timeIntervalSince1970
            let documentID: Int
            if let previous {
                try Self.deleteChunks(session, documentID: previous.id)
                try session.rows("""
                    UPDATE documents SET sha256 = \(sha256), size = \(Int(stat.size)), mtime = \(stat.mtime), pages = \(pages),
                        status = 'indexed', error = NULL, chunking = \(signature), indexed_at = \(now) WHERE id = \(Int(previous.id))
                    """)
                documentID = Int(previous.id)
            } else {
                let row = try session.rows("""
                    INSERT INTO documents(path, sha256, size, mtime, pages, status, chunking, indexed_at)
                    VALUES (\(path), \(sha256), \(Int(stat.size)), \(stat.mtime), \(pages), 'indexed', \(signature), \(now)) RETURNING id
                    """).first
                guard let row else { throw IndexError.database(path: location, reason: "no id returned for \(path)") }
                documentID = try row.decode(Int.self)
            }
            var stored = 0, embedded = 0
            /// Embeds and inserts `chunks`; `total` is the file's chunk count, or an estimate.
            func store(_ chunks: [Chunk], total: (Int) -> Int) throws {
                var start = 0
                while start < chunks.count {
                    try Task.checkCancellation()
                    let batch = Array(chunks[start..<min(start + batchSize, chunks.count)])
                    let vectors = try embedder.map { try SQLiteIndexStore.embed(batch.map(\.indexedText), with: $0) }
                    let ids = try Self.insertChunks(batch, documentID: documentID, session)
                    if let embedder, let vectors {
                        try Self.insertVectors(ids: ids, vectors: vectors, modelID: embedder.modelID, session)
                    }
                    start += batch.count
                    stored += batch.count
                    embedded += vectors?.count ?? 0
                    if embedder != nil { report(.embedding(done: stored, total: total(stored))) }
                }
            }
            var sequence = Chunker.ChunkSequence(chunker: chunker, path: path)
            if let pdfPages {
                let chunks = pdfPages.flatMap { sequence.chunks(of: $0) }
                try store(chunks) { _ in chunks.count }
            } else {
                let warnings = try TextFileReader().read(file.url, path: path) { segment in
                    let chunks = sequence.chunks(of: PageText(number: nil, text: segment.text), offset: segment.scalarOffset)
                    let share = Double(segment.bytesRead) / fileSize
                    try store(chunks) { done in max(done, Int((Double(done) / max(share, 1e-9)).rounded())) }
                }
                for warning in warnings { report(.fileWarning(path: path, message: warning)) }
            }
            try options.beforeCommit?(path)
            return (stored, embedded)
        }
        return FileResult(outcome: previous == nil ? .added : .updated, pages: pages, chunks: stored.chunks, embedded: stored.embedded)
    }

    /// Records a failed file: its old chunks go, and the row says why.
    private func recordFailure(_ file: DataDirectory.File, previous: SQLiteIndexStore.ExistingDocument?, reason: String,
                               signature: String, _ session: PostgresSession) throws {
        let stat = try? DataDirectory.stat(file)
        let size = Int(stat?.size ?? 0), mtime = stat?.mtime ?? 0
        try session.transaction {
            let now = Date().timeIntervalSince1970
            if let previous {
                try Self.deleteChunks(session, documentID: previous.id)
                try session.rows("""
                    UPDATE documents SET status = 'failed', error = \(reason), size = \(size), mtime = \(mtime), pages = 0, sha256 = '',
                        indexed_at = \(now) WHERE id = \(Int(previous.id))
                    """)
            } else {
                try session.rows("""
                    INSERT INTO documents(path, sha256, size, mtime, pages, status, error, chunking, indexed_at)
                    VALUES (\(file.path), '', \(size), \(mtime), 0, 'failed', \(reason), \(signature), \(now))
                    """)
            }
        }
    }

    /// Embeds every chunk that has no vector of `embedder`'s model, a batch per transaction.
    private func fillMissingVectors(embedder: any ChunkEmbedder, batchSize: Int, report: @Sendable (IngestEvent) -> Void,
                                    _ session: PostgresSession) throws -> Int {
        let missing = try session.rows("""
            SELECT c.id, c.text, c.context FROM chunks c LEFT JOIN vectors v ON v.chunk_id = c.id
            WHERE v.chunk_id IS NULL ORDER BY c.id
            """).map { row in
            let (id, text, context) = try row.decode((Int, String, String).self)
            return (id: Int64(id), text: Chunk.indexedText(text, context: context))
        }
        var done = 0
        while done < missing.count {
            try Task.checkCancellation()
            let batch = Array(missing[done..<min(done + batchSize, missing.count)])
            let vectors = try SQLiteIndexStore.embed(batch.map(\.text), with: embedder)
            try session.transaction {
                try Self.insertVectors(ids: batch.map(\.id), vectors: vectors, modelID: embedder.modelID, session)
            }
            done += batch.count
            report(.embedding(done: done, total: missing.count))
        }
        return missing.count
    }

    // MARK: - Rows

    /// Inserts one batch of chunks of a document in one statement; their ids, in order.
    static func insertChunks(_ chunks: [Chunk], documentID: Int, _ session: PostgresSession) throws -> [Int64] {
        let terms = chunks.map { KeywordAnalyzer.terms($0.indexedText) }
        let rows = try session.rows("""
            INSERT INTO chunks(document_id, ordinal, page, start_offset, end_offset, text, context, terms, term_count, terms_tsv)
            SELECT \(documentID), o, NULLIF(p, 0), s, e, t, c, tm, tc, tv::tsvector
            FROM unnest(\(chunks.map(\.ordinal))::int8[], \(chunks.map { $0.page ?? 0 })::int8[], \(chunks.map(\.start))::int8[],
                        \(chunks.map(\.end))::int8[], \(chunks.map(\.text))::text[], \(chunks.map(\.context))::text[],
                        \(terms.map { $0.joined(separator: " ") })::text[], \(terms.map(\.count))::int8[],
                        \(terms.map(PostgresKeywords.tsvector))::text[]) AS x(o, p, s, e, t, c, tm, tc, tv)
            RETURNING id, ordinal
            """)
        var byOrdinal: [Int: Int64] = [:]
        for row in rows {
            let (id, ordinal) = try row.decode((Int, Int).self)
            byOrdinal[ordinal] = Int64(id)
        }
        return try chunks.map { chunk in
            guard let id = byOrdinal[chunk.ordinal] else {
                throw IndexError.database(path: "chunks", reason: "no id returned for chunk \(chunk.ordinal)")
            }
            return id
        }
    }

    /// Stores (or replaces) the vectors of chunks that still exist.
    static func insertVectors(ids: [Int64], vectors: [[Float]], modelID: String, _ session: PostgresSession) throws {
        guard let dimension = vectors.first?.count else { return }
        try session.rows("""
            INSERT INTO vectors(chunk_id, model_id, dim, embedding)
            SELECT x.i, \(modelID), \(dimension), x.v::vector FROM unnest(\(ids.map(Int.init))::int8[], \(vectors.map(vectorLiteral))::text[]) AS x(i, v)
            WHERE EXISTS (SELECT 1 FROM chunks WHERE id = x.i)
            ON CONFLICT (chunk_id) DO UPDATE SET model_id = excluded.model_id, dim = excluded.dim, embedding = excluded.embedding
            """)
    }

    static func deleteChunks(_ session: PostgresSession, documentID: Int64) throws {
        try session.rows("DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = \(Int(documentID)))")
        try session.rows("DELETE FROM chunks WHERE document_id = \(Int(documentID))")
    }
}

import Documents
import Foundation
import PostgresNIO
import Synchronization
import TextAnalysis

/// The PostgreSQL + pgvector index (`--index postgres://user@host:port/database`): one index that
/// several `ragchat serve` replicas share, and that ingest can fill from another machine.
///
/// It answers as `SQLiteIndexStore` does (the "IndexStore contract" suite runs on both): keyword
/// search is the same BM25 over the same `KeywordAnalyzer` terms (`PostgresKeywords`), computed in
/// SQL from per-term posting lists (`postings`); dense search is pgvector's HNSW index (cosine,
/// `ef_search` = `efSearch`), approximate where SQLite scans every vector; hybrid search and the relevance
/// gate fuse and weigh these as SQLite's do (`FusionWeights.fuse`, `RelevanceSignals`).
///
/// Nothing is cached between calls but each model's vector dimension, so a server sees every
/// committed ingest, its own or another machine's, at its next query. Calls wait for the database
/// on the caller's thread (as SQLite's do); a database that went away makes them throw
/// `IndexError.unavailable` until it is back, then they succeed again on fresh connections.
public final class PostgresIndexStore: IndexStore {
    public let address: PostgresAddress
    public var location: String { address.description }
    /// `hnsw.ef_search` of every query.
    public var efSearch: Int { connections.efSearch }
    let connections: PostgresConnections
    /// The vector dimension of each model seen (a model's id names its weights, so it never changes).
    private let dimensions = Mutex<[String: Int]>([:])

    /// The default `hnsw.ef_search`: with pgvector's 40 the graph finds 97.0 % of the exact top 5
    /// on the development set's e5 vectors, with 100 99.9 % (`ragchat bench retrieval --index`,
    /// BENCHMARKS.md), for little more time.
    public static let defaultEfSearch = 100

    private init(address: PostgresAddress, connections: PostgresConnections) {
        self.address = address
        self.connections = connections
    }

    /// Connects to the database named by `url`, creating the schema and tables (and the `vector`
    /// extension) and migrating them when needed. Without `create` (search, server) a database
    /// that holds no index is `IndexError.indexNotFound`. A server that cannot be reached, a wrong
    /// password or database name is `IndexError.unavailable` saying which.
    ///
    /// `forceIndexScans` turns sequential scans and sorts off for this store's connections, so that
    /// the dense query has to walk the HNSW graph: on a small index the planner rightly ranks every
    /// vector exactly instead, and the benchmarks set it to measure the graph's own recall there.
    public static func open(url: String, create: Bool = true, efSearch: Int = defaultEfSearch,
                            forceIndexScans: Bool = false) throws -> PostgresIndexStore {
        try open(url: url, create: create, efSearch: efSearch, forceIndexScans: forceIndexScans, schemaVersion: PostgresSchema.version)
    }

    /// `open`, migrating the tables only up to `schemaVersion`: the tests make an index of an
    /// older version this way, to check that opening it at the current one upgrades it.
    package static func open(url: String, create: Bool = true, efSearch: Int = defaultEfSearch,
                             forceIndexScans: Bool = false, schemaVersion: Int) throws -> PostgresIndexStore {
        let address = try PostgresAddress(url: url)
        let connections = try PostgresConnections(address: address, efSearch: efSearch,
                                              settings: forceIndexScans ? ["enable_seqscan = off", "enable_sort = off"] : [])
        let store = PostgresIndexStore(address: address, connections: connections)
        try connections.withConnection { session in
            if !create {
                let exists = try session.rows("SELECT to_regclass('metadata') IS NOT NULL AND to_regclass('chunks') IS NOT NULL")
                    .first.map { try $0.decode(Bool.self) } ?? false
                guard exists else { throw IndexError.indexNotFound(path: address.description) }
            }
            try PostgresSchema.migrate(session, address: address, through: schemaVersion)
        }
        // Re-analysis writes the current version's tables: an older-version index is left as it
        // is, and re-analysed when it is opened at the current version.
        if schemaVersion >= PostgresSchema.version { try store.reanalyseIfNeeded() }
        return store
    }

    /// Closes the idle connections now rather than when the store is released.
    public func close() { connections.close() }

    /// Ends the server sessions named `applicationName` (another store's, see
    /// `PostgresAddress.applicationName`), as a server restart would; how many. For the tests.
    package func terminateSessions(applicationName: String) throws -> Int {
        try connections.withConnection { session in
            // The sessions are chosen first (MATERIALIZED): in one WHERE clause PostgreSQL may call
            // pg_terminate_backend before testing the name, and end every session.
            try session.rows("""
                WITH chosen AS MATERIALIZED (
                    SELECT pid FROM pg_stat_activity WHERE application_name = \(applicationName) AND pid <> pg_backend_pid())
                SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM chosen
                """).first?.decode(Int.self) ?? 0
        }
    }

    /// Whether this store's connections are encrypted (TLS), as the server sees them.
    public func isEncrypted() throws -> Bool {
        try connections.withConnection { session in
            try session.rows("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)")
                .first?.decode(Bool.self) ?? false
        }
    }

    /// Runs one statement as written, with no reply timeout (maintenance, and the tests that
    /// hold a lock to stall other sessions).
    package func execute(_ sql: String) throws {
        try connections.withConnection(retry: .never) { session in try session.execute(sql, unbounded: true) }
    }

    /// Drops this index: its schema with everything in it (the tables only, in `public`). For the
    /// tests, which give each case a schema of its own.
    package func drop() throws {
        try connections.withConnection { session in
            if address.schema == "public" {
                try session.execute("DROP TABLE IF EXISTS vectors, chunks, documents, corpus, term_documents, metadata CASCADE")
                try session.execute("DROP FUNCTION IF EXISTS chunks_added(), chunks_removed()")
            } else {
                try session.execute("DROP SCHEMA IF EXISTS \(address.schema) CASCADE")
            }
        }
        connections.close()
    }

    /// Recomputes every chunk's keyword terms when they were made by another version of
    /// `KeywordAnalyzer` (or none yet), then BM25's statistics, in one transaction.
    func reanalyseIfNeeded() throws {
        try connections.withConnection { session in
            try session.transaction {
                try session.takeIngestLock(forTransaction: true)
                guard try Self.metadata(session, "analyzer") != KeywordAnalyzer.version else { return }
                for row in try session.rows("SELECT id, text, context FROM chunks ORDER BY id") {
                    let (id, text, context) = try row.decode((Int, String, String).self)
                    let terms = KeywordAnalyzer.terms(Chunk.indexedText(text, context: context))
                    try session.rows("""
                        UPDATE chunks SET terms = \(terms.joined(separator: " ")), term_count = \(terms.count),
                            terms_tsv = \(PostgresKeywords.tsvector(terms))::tsvector WHERE id = \(id)
                        """)
                }
                // The triggers count inserted and deleted chunks, not updated ones: recount.
                try session.execute("UPDATE corpus SET chunks = (SELECT count(*) FROM chunks), terms = (SELECT coalesce(sum(term_count), 0) FROM chunks)")
                try session.execute("DELETE FROM term_documents")
                try session.execute("INSERT INTO term_documents(term, documents) SELECT u.lexeme, count(*) FROM chunks, unnest(chunks.terms_tsv) AS u GROUP BY u.lexeme")
                try session.execute("DELETE FROM postings")
                try session.execute("""
                    INSERT INTO postings(term, chunk_id, tf, chunk_terms)
                        SELECT u.lexeme, c.id, cardinality(u.positions), c.term_count FROM chunks c, unnest(c.terms_tsv) AS u
                    """)
                try Self.setMetadata(session, "analyzer", KeywordAnalyzer.version)
            }
        }
    }

    // MARK: - Keyword search

    /// Below this many chunks every query term is kept (as in SQLite).
    static var ubiquityThreshold: Int { SQLiteIndexStore.ubiquityThreshold }

    public func search(_ query: String, k: Int) throws -> [SearchHit] {
        guard k > 0 else { return [] }
        return try connections.withConnection { session in
            guard let ranking = try Self.keywordRanking(query, k: k, session) else { return [] }
            let rows = try Self.chunkRows(ranking.map(\.id), session)
            return ranking.compactMap { item -> SearchHit? in
                guard var hit = rows[item.id] else { return nil }
                hit.score = item.score
                hit.bm25Score = item.score
                hit.snippet = PostgresKeywords.snippet(hit.text, query: query) ?? hit.snippet
                return hit
            }
        }
    }

    /// Collection statistics for BM25: chunk count, total terms, and how many chunks hold each term.
    struct CorpusStatistics {
        var chunks: Int
        var terms: Int
        var documentFrequency: [String: Int]
    }

    static func corpusStatistics(_ terms: [String], _ session: PostgresSession) throws -> CorpusStatistics {
        var statistics = CorpusStatistics(chunks: 0, terms: 0, documentFrequency: [:])
        if let row = try session.rows("SELECT chunks, terms FROM corpus").first {
            (statistics.chunks, statistics.terms) = try row.decode((Int, Int).self)
        }
        for row in try session.rows("SELECT term, documents FROM term_documents WHERE term = ANY(\(terms))") {
            let (term, documents) = try row.decode((String, Int).self)
            statistics.documentFrequency[term] = documents
        }
        return statistics
    }

    /// The best `k` chunk ids by BM25 (score = FTS5's −bm25, best first, ties by id); `nil` when
    /// the query has no term. As in SQLite, on a large index terms in over half of the chunks are
    /// dropped while rarer ones remain.
    static func keywordRanking(_ query: String, k: Int, _ session: PostgresSession) throws -> [(id: Int64, score: Double)]? {
        let analysed = KeywordAnalyzer.queryTerms(query)
        guard !analysed.isEmpty else { return nil }
        let statistics = try corpusStatistics(analysed, session)
        var terms = analysed
        if analysed.count > 1, statistics.chunks >= ubiquityThreshold {
            let frequency = { (term: String) in statistics.documentFrequency[term] ?? 0 }
            let kept = analysed.filter { frequency($0) * 2 <= statistics.chunks }
            terms = kept.isEmpty ? analysed.min { frequency($0) < frequency($1) }.map { [$0] } ?? analysed : kept
        }
        terms = terms.filter { !$0.isEmpty && $0.utf8.count <= PostgresKeywords.maximumLexemeBytes }
        guard !terms.isEmpty, statistics.chunks > 0, statistics.terms > 0 else { return [] }
        let idfs = terms.map { PostgresKeywords.idf(documents: statistics.documentFrequency[$0] ?? 0, total: statistics.chunks) }
        let averageLength = Double(statistics.terms) / Double(statistics.chunks)
        // Each term's posting list by key (`postings`' primary key covers tf and the chunk's
        // length, so no chunk row is read); k1 = 1.2, b = 0.75.
        return try session.rows("""
            SELECT p.chunk_id, sum(q.idf * (p.tf::float8 * 2.2)
                / (p.tf::float8 + 1.2 * (0.25 + 0.75 * p.chunk_terms / \(averageLength)::float8)))::float8 AS score
            FROM unnest(\(terms)::text[], \(idfs)::float8[]) AS q(term, idf)
            JOIN postings p ON p.term = q.term
            GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT \(k)
            """).map { row in
            let (id, score) = try row.decode((Int, Double).self)
            return (Int64(id), score)
        }
    }

    // MARK: - Dense search

    public func hasVectors(modelID: String) throws -> Bool {
        try connections.withConnection { session in
            try session.rows("SELECT EXISTS (SELECT 1 FROM vectors WHERE model_id = \(modelID))").first?.decode(Bool.self) ?? false
        }
    }

    /// HNSW nearest neighbours of `vector` among the vectors of `modelID` (cosine, best first).
    public func denseSearch(_ vector: [Float], modelID: String, k: Int) throws -> [SearchHit] {
        guard k > 0 else { return [] }
        return try connections.withConnection { session in
            let nearest = try denseRanking(vector, modelID: modelID, k: k, session)
            let rows = try Self.chunkRows(nearest.map(\.id), session)
            return nearest.compactMap { item -> SearchHit? in
                guard var hit = rows[item.id] else { return nil }
                hit.score = item.score
                hit.denseScore = item.score
                return hit
            }
        }
    }

    public func hybridSearch(_ query: String, vector: [Float], modelID: String, k: Int, weights: FusionWeights) throws -> [SearchHit] {
        guard k > 0 else { return [] }
        let depth = max(k, weights.candidates)
        return try connections.withConnection { session in
            let dense = try denseRanking(vector, modelID: modelID, k: depth, session).filter { $0.score >= weights.minimumCosine }
            let keyword = try Self.keywordRanking(query, k: depth, session) ?? []
            let fused = weights.fuse(keyword: keyword, dense: dense, k: k)
            let rows = try Self.chunkRows(fused.map(\.id), session)
            return fused.compactMap { item -> SearchHit? in
                guard var hit = rows[item.id] else { return nil }
                hit.score = item.score
                hit.bm25Score = item.bm25
                hit.denseScore = item.cosine
                if item.bm25 != nil { hit.snippet = PostgresKeywords.snippet(hit.text, query: query) ?? hit.snippet }
                return hit
            }
        }
    }

    /// The vector dimension of `modelID`'s vectors, `nil` when the index has none.
    func dimension(of modelID: String, _ session: PostgresSession) throws -> Int? {
        if let known = dimensions.withLock({ $0[modelID] }) { return known }
        guard let found = try session.rows("SELECT dim FROM vectors WHERE model_id = \(modelID) LIMIT 1").first?.decode(Int.self) else {
            return nil
        }
        dimensions.withLock { $0[modelID] = found }
        return found
    }

    /// The `k` nearest chunks by cosine similarity through the HNSW index of the model's dimension
    /// (a partial index on `embedding::vector(dim)`: the query repeats that expression so the
    /// planner can use it). A zero query vector has no direction, hence no neighbours.
    func denseRanking(_ vector: [Float], modelID: String, k: Int, _ session: PostgresSession) throws -> [(id: Int64, score: Double)] {
        guard let dimension = try dimension(of: modelID, session) else { return [] }
        guard vector.count == dimension else {
            throw IndexError.embedder(model: modelID, reason: "query vector has dimension \(vector.count), the index holds \(dimension)")
        }
        guard vector.contains(where: { $0 != 0 }) else { return [] }
        let literal = Self.vectorLiteral(vector)
        return try session.rows(PostgresQuery(unsafeSQL: """
            SELECT chunk_id, (1 - (embedding::vector(\(dimension)) <=> $1::vector(\(dimension))))::float8
            FROM vectors WHERE dim = \(dimension) AND model_id = $2
            ORDER BY embedding::vector(\(dimension)) <=> $1::vector(\(dimension)) LIMIT $3
            """, binds: try Self.bindings(literal, modelID, k))).map { row -> (id: Int64, score: Double) in
            let (id, score) = try row.decode((Int, Double).self)
            return (Int64(id), score)
        }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }  // equal cosines by chunk id, as SQLite
    }

    // MARK: - Relevance

    public func relevance(_ query: String, vector: [Float]?, modelID: String?, candidates: Int) throws -> RelevanceSignals {
        try connections.withConnection { session in
            var bestCosine: Double?
            var margin: Double?
            if let vector, let modelID, let dimension = try dimension(of: modelID, session), dimension == vector.count {
                let nearest = try denseRanking(vector, modelID: modelID, k: 30, session).map(\.score)
                bestCosine = nearest.first
                if nearest.count == 30, let best = nearest.first {
                    margin = best - nearest[9...].reduce(0, +) / Double(nearest.count - 9)
                }
            }
            let terms = KeywordAnalyzer.queryTerms(query)
            guard !terms.isEmpty else {
                return RelevanceSignals(bestCosine: bestCosine, cosineMargin: margin, keywordCoverage: 0, queryTerms: 0)
            }
            let statistics = try Self.corpusStatistics(terms, session)
            let unknown = terms.filter { (statistics.documentFrequency[$0] ?? 0) == 0 }
            var coverage = 0.0
            if let ranked = try Self.keywordRanking(query, k: candidates, session), !ranked.isEmpty {
                let weights = terms.map { SQLiteIndexStore.idf(documents: statistics.documentFrequency[$0] ?? 0, total: statistics.chunks) }
                let sum = weights.reduce(0, +)
                if sum > 0 {
                    for row in try session.rows("SELECT terms FROM chunks WHERE id = ANY(\(ranked.map(\.id)))") {
                        let held = Set(try row.decode(String.self).split(separator: " ").map(String.init))
                        var covered = 0.0
                        for (term, weight) in zip(terms, weights) where held.contains(term) { covered += weight }
                        coverage = max(coverage, covered / sum)
                    }
                }
            }
            return RelevanceSignals(bestCosine: bestCosine, cosineMargin: margin, keywordCoverage: coverage,
                                    queryTerms: terms.count, unknownTerms: unknown)
        }
    }

    // MARK: - Inspection

    public func statistics() throws -> IndexStatistics {
        try connections.withConnection { session in
            let row = try session.rows("""
                SELECT (SELECT count(*) FROM documents WHERE status = 'indexed'), (SELECT count(*) FROM documents WHERE status = 'failed'),
                       (SELECT count(*) FROM chunks), (SELECT count(*) FROM vectors),
                       (SELECT value FROM metadata WHERE key = 'encoder_model_id'), (SELECT value FROM metadata WHERE key = 'schema_version')
                """).first
            guard let row else { throw IndexError.database(path: location, reason: "no statistics row") }
            let (documents, failed, chunks, vectors, encoder, version) = try row.decode((Int, Int, Int, Int, String?, String?).self)
            return IndexStatistics(documents: documents, failedDocuments: failed, chunks: chunks, vectors: vectors,
                                   encoderModelID: encoder, schemaVersion: version.flatMap(Int.init) ?? 0)
        }
    }

    public func documents() throws -> [DocumentRecord] {
        try connections.withConnection { session in
            // Byte order, as SQLite sorts.
            try session.rows("""
                SELECT d.id, d.path, d.sha256, d.size, d.mtime, d.pages, d.status, d.error,
                       (SELECT count(*) FROM chunks c WHERE c.document_id = d.id), d.indexed_at
                FROM documents d ORDER BY d.path COLLATE "C"
                """).map { row in
                let (id, path, sha256, size, mtime, pages, status, error, chunks, indexedAt)
                    = try row.decode((Int, String, String, Int, Double, Int, String, String?, Int, Double).self)
                return DocumentRecord(id: Int64(id), path: path, sha256: sha256, size: Int64(size), mtime: mtime, pages: pages,
                                      status: status, error: error, chunkCount: chunks, indexedAt: indexedAt)
            }
        }
    }

    public func chunks(ofFile file: String) throws -> [SearchHit] {
        try connections.withConnection { session in
            try session.rows("""
                SELECT c.id, d.path, c.page, c.ordinal, c.text, c.context FROM chunks c
                JOIN documents d ON d.id = c.document_id WHERE d.path = \(file) ORDER BY c.ordinal
                """).map { row in
                let (id, path, page, ordinal, text, context) = try row.decode((Int, String, Int?, Int, String, String).self)
                return SearchHit(chunkID: Int64(id), file: path, page: page, ordinal: ordinal, score: 0, text: text, snippet: "",
                                 context: context)
            }
        }
    }

    public func chunkSpans(ofDocumentOf chunkID: Int64, ordinals: ClosedRange<Int>) throws -> [ChunkSpan] {
        try connections.withConnection { session in
            try session.rows("""
                SELECT id, ordinal, page, start_offset, end_offset, text FROM chunks
                WHERE document_id = (SELECT document_id FROM chunks WHERE id = \(Int(chunkID)))
                  AND ordinal BETWEEN \(ordinals.lowerBound) AND \(ordinals.upperBound)
                ORDER BY ordinal
                """).map { row in
                let (id, ordinal, page, start, end, text) = try row.decode((Int, Int, Int?, Int, Int, String).self)
                return ChunkSpan(chunkID: Int64(id), ordinal: ordinal, page: page, start: start, end: end, text: text)
            }
        }
    }

    public func vectors(modelID: String) throws -> (ids: [Int64], dimension: Int, data: [Float]) {
        try connections.withConnection { session in
            var ids: [Int64] = []
            var data: [Float] = []
            var dimension = 0
            for row in try session.rows("SELECT chunk_id, dim, embedding::text FROM vectors WHERE model_id = \(modelID) ORDER BY chunk_id") {
                let (id, dim, text) = try row.decode((Int, Int, String).self)
                if dimension == 0 { dimension = dim }
                let values = text.dropFirst().dropLast().split(separator: ",").compactMap { Float($0) }
                guard dim == dimension, values.count == dim else {
                    throw IndexError.database(path: location, reason: "vector of chunk \(id) has a wrong size")
                }
                ids.append(Int64(id))
                data.append(contentsOf: values)
            }
            return (ids, dimension, data)
        }
    }

    /// No chunk outside an indexed document, no vector of another dimension than its row says,
    /// and BM25's statistics and posting lists (`corpus`, `term_documents`, `postings`) equal to
    /// what the chunks hold.
    public func checkIntegrity() throws {
        try connections.withConnection { session in
            // One statement: one snapshot, even while an ingest commits.
            let row = try session.rows("""
                SELECT (SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents WHERE status = 'indexed')),
                       (SELECT count(*) FROM vectors WHERE vector_dims(embedding) <> dim),
                       (SELECT chunks FROM corpus) - (SELECT count(*) FROM chunks),
                       (SELECT terms FROM corpus) - (SELECT coalesce(sum(term_count), 0) FROM chunks)::int8,
                       (SELECT count(*) FROM (
                           SELECT term, documents FROM term_documents WHERE documents <> 0
                           EXCEPT ALL
                           SELECT u.lexeme, count(*) FROM chunks, unnest(chunks.terms_tsv) AS u GROUP BY u.lexeme) AS differing),
                       (SELECT count(*) FROM (
                           (SELECT term, chunk_id, tf, chunk_terms FROM postings
                            EXCEPT ALL
                            SELECT u.lexeme, c.id, cardinality(u.positions), c.term_count FROM chunks c, unnest(c.terms_tsv) AS u)
                           UNION ALL
                           (SELECT u.lexeme, c.id, cardinality(u.positions), c.term_count FROM chunks c, unnest(c.terms_tsv) AS u
                            EXCEPT ALL
                            SELECT term, chunk_id, tf, chunk_terms FROM postings)) AS differing)
                """).first
            guard let row else { throw IndexError.database(path: location, reason: "integrity check returned nothing") }
            let (orphans, badVectors, chunkDrift, termDrift, frequencyDrift, postingDrift) = try row.decode((Int, Int, Int, Int, Int, Int).self)
            if orphans > 0 { throw IndexError.database(path: location, reason: "\(orphans) chunks belong to no indexed document") }
            if badVectors > 0 { throw IndexError.database(path: location, reason: "\(badVectors) vectors have another dimension than recorded") }
            if chunkDrift != 0 || termDrift != 0 || frequencyDrift != 0 || postingDrift != 0 {
                throw IndexError.database(path: location, reason: "BM25 statistics differ from the chunks (chunks \(chunkDrift), terms \(termDrift), term frequencies \(frequencyDrift), postings \(postingDrift))")
            }
        }
    }

    // MARK: - Helpers

    /// Chunks by id, as hits with score 0 and the chunk's start as snippet.
    static func chunkRows(_ ids: [Int64], _ session: PostgresSession) throws -> [Int64: SearchHit] {
        guard !ids.isEmpty else { return [:] }
        var result: [Int64: SearchHit] = [:]
        for row in try session.rows("""
            SELECT c.id, d.path, c.page, c.ordinal, c.text, c.context FROM chunks c
            JOIN documents d ON d.id = c.document_id WHERE c.id = ANY(\(ids))
            """) {
            let (id, path, page, ordinal, text, context) = try row.decode((Int, String, Int?, Int, String, String).self)
            result[Int64(id)] = SearchHit(chunkID: Int64(id), file: path, page: page, ordinal: ordinal, score: 0, text: text,
                                          snippet: SQLiteIndexStore.leadingSnippet(text), context: context)
        }
        return result
    }

    /// pgvector's text form `[x,y,…]` (shortest round-trip decimals): vectors go over the wire as
    /// text cast to `vector`.
    static func vectorLiteral(_ vector: [Float]) -> String {
        "[" + vector.map { $0.isFinite ? "\($0)" : "0" }.joined(separator: ",") + "]"
    }

    static func bindings(_ values: any PostgresThrowingDynamicTypeEncodable...) throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { try bindings.append(value) }
        return bindings
    }

    static func metadata(_ session: PostgresSession, _ key: String) throws -> String? {
        try session.rows("SELECT value FROM metadata WHERE key = \(key)").first?.decode(String.self)
    }

    static func setMetadata(_ session: PostgresSession, _ key: String, _ value: String) throws {
        try session.rows("""
            INSERT INTO metadata(key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """)
    }
}

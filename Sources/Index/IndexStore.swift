import Foundation
import TextAnalysis

/// The index of a data directory, whatever stores it: what ingest, search, the relevance gate,
/// the answer passages and the inspection commands need. `SQLiteIndexStore` (one file, the
/// default) and `PostgresIndexStore` (PostgreSQL + pgvector, shared by several servers) implement
/// it; callers hold an `any IndexStore` from `openIndexStore(at:create:)` (`Tests/IndexTests`, the
/// "IndexStore contract" suite, runs on every implementation).
///
/// Every method may be called from any task or thread, concurrently with an ingest: searches see
/// each document either as it was before the ingest or fully updated.
public protocol IndexStore: Sendable {
    /// Where the index lives (a file path, a database address), for messages.
    var location: String { get }

    /// Brings the index in line with `dataDirectory` (recursively: `.txt`, `.md`, `.pdf`; hidden
    /// files and directories skipped).
    ///
    /// Unchanged files (same size and mtime, or same SHA-256) are skipped, changed ones re-indexed,
    /// files that are gone removed. Each file is written in its own transaction: an ingest stopped
    /// at any point (killed, cancelled, or `IngestOptions.beforeCommit` throwing) leaves every
    /// document either as before or fully updated, and the next run finishes the work. A file that
    /// cannot be read is reported in the summary (and in `documents()` with status `failed`); the
    /// others are still indexed.
    ///
    /// With an `embedder`, every new chunk gets its vector in its file's transaction; when the
    /// index holds vectors of another model (or chunks without one), they are (re)computed.
    func ingest(dataDirectory: URL, options: IngestOptions, embedder: (any ChunkEmbedder)?,
                progress: (@Sendable (IngestEvent) -> Void)?) async throws -> IngestSummary

    /// BM25 keyword search over the chunks' French terms (`KeywordAnalyzer`: stems, stop words
    /// dropped, options and paths as exact terms). Any string is accepted; a query without a
    /// usable term returns no hit. Best hit first, `score` and `bm25Score` the BM25 score
    /// (higher is better), `snippet` the matched words in `[` `]`.
    func search(_ query: String, k: Int) throws -> [SearchHit]

    /// Cosine similarity (vectors are L2-normalised) between `vector` and every stored vector of
    /// `modelID`. Best first; `score` and `denseScore` the similarity, `snippet` the chunk's start.
    /// No hit when the index has no vectors of `modelID`; `IndexError.embedder` when `vector`
    /// has another dimension than the stored ones.
    func denseSearch(_ vector: [Float], modelID: String, k: Int) throws -> [SearchHit]

    /// Keyword and dense search fused by weighted reciprocal rank (`FusionWeights`). Each hit
    /// carries `bm25Score` and `denseScore` when it was in that list; `score` is the fused score.
    func hybridSearch(_ query: String, vector: [Float], modelID: String, k: Int, weights: FusionWeights) throws -> [SearchHit]

    /// Does the index hold vectors of `modelID`?
    func hasVectors(modelID: String) throws -> Bool

    /// The relevance signals of a query (what `RelevanceGate` decides on): its best cosine over
    /// every vector of `modelID` (when a vector is given) and its best keyword coverage over the
    /// `candidates` best BM25 chunks.
    func relevance(_ query: String, vector: [Float]?, modelID: String?, candidates: Int) throws -> RelevanceSignals

    /// Counts and settings: documents, failed documents, chunks, vectors, encoder, schema version.
    func statistics() throws -> IndexStatistics

    /// Every document, indexed or failed, sorted by path.
    func documents() throws -> [DocumentRecord]

    /// The chunks of one document (its path relative to the data directory) in order, as search
    /// hits with score 0.
    func chunks(ofFile file: String) throws -> [SearchHit]

    /// The chunks with an ordinal in `ordinals` of the document holding chunk `chunkID`, in order;
    /// empty when that chunk is gone. What `neighbourhood(of:)`, `section(of:)` and `outline(of:)`
    /// join passages from.
    func chunkSpans(ofDocumentOf chunkID: Int64, ordinals: ClosedRange<Int>) throws -> [ChunkSpan]

    /// Every stored vector of `modelID`, in chunk-id order, packed in one buffer
    /// (`ids.count × dimension` floats).
    func vectors(modelID: String) throws -> (ids: [Int64], dimension: Int, data: [Float])

    /// Checks that the storage is sound and that every chunk belongs to an indexed document;
    /// throws `IndexError.database` describing the first problem.
    func checkIntegrity() throws
}

/// Opens the index at `location` (the one place that chooses the implementation): a
/// `postgres://user[:password]@host[:port]/database` URL is a PostgreSQL database, anything else
/// the path of a SQLite file. With `create` (ingest) a missing file and its directory (or the
/// database's tables) are created; without it (search, server) a missing index is
/// `IndexError.indexNotFound`.
public func openIndexStore(at location: String, create: Bool = true) throws -> any IndexStore {
    if PostgresAddress.isPostgres(location) {
        return try PostgresIndexStore.open(url: location, create: create)
    }
    return try SQLiteIndexStore.open(path: location, create: create)
}

// The requirements' usual arguments.
extension IndexStore {
    public func ingest(dataDirectory: URL, options: IngestOptions = IngestOptions(),
                       embedder: (any ChunkEmbedder)? = nil) async throws -> IngestSummary {
        try await ingest(dataDirectory: dataDirectory, options: options, embedder: embedder, progress: nil)
    }

    public func ingest(dataDirectory: URL, options: IngestOptions = IngestOptions(), embedder: (any ChunkEmbedder)? = nil,
                       progress: @escaping @Sendable (IngestEvent) -> Void) async throws -> IngestSummary {
        try await ingest(dataDirectory: dataDirectory, options: options, embedder: embedder,
                         progress: Optional(progress))
    }

    public func search(_ query: String) throws -> [SearchHit] {
        try search(query, k: 5)
    }

    public func denseSearch(_ vector: [Float], modelID: String) throws -> [SearchHit] {
        try denseSearch(vector, modelID: modelID, k: 5)
    }

    public func hybridSearch(_ query: String, vector: [Float], modelID: String, k: Int = 5) throws -> [SearchHit] {
        try hybridSearch(query, vector: vector, modelID: modelID, k: k, weights: .tuned)
    }

    /// The relevance signals of a query, with the names it uses that no chunk holds
    /// (`RelevanceSignals.unknownNames`; names by capitals or by being no French or English
    /// word, when the machine has the word lists).
    public func relevance(_ query: String, vector: [Float]?, modelID: String?) throws -> RelevanceSignals {
        var signals = try relevance(query, vector: vector, modelID: modelID, candidates: 20)
        // Names of the question only, its last line: a retrieval query carries the earlier user
        // turns first (`RAGPipeline.retrievalQuery`), and a name the documents lack in an earlier
        // turn does not make this question uncovered.
        let question = query.split(whereSeparator: \.isNewline).last.map(String.init) ?? query
        signals.unknownNames = KeywordAnalyzer.names(in: question, words: WordList.installed,
                                                     unknownTerms: Set(signals.unknownTerms)).map(\.surface)
        return signals
    }
}

/// One retrieved chunk: the passage the answer is built from, and the `sources` item of the
/// HTTP API (`{"id", "file", "page", "score", "text"}`, the chunk id as a string).
public struct SearchHit: Sendable, Hashable, Codable {
    public var chunkID: Int64
    /// Path relative to the data directory, e.g. `document.pdf`.
    public var file: String
    /// PDF page number (from 1), `nil` for text files.
    public var page: Int?
    /// Position of the chunk in its document.
    public var ordinal: Int
    /// Higher is better. For keyword search: −bm25 (positive).
    public var score: Double
    /// The chunk's full text.
    public var text: String
    /// A short extract: around the matched terms for keyword search (matches in `[` `]`), the
    /// chunk's start for dense search.
    public var snippet: String
    /// −bm25 when the chunk was in the keyword list (set by `search` and `hybridSearch`).
    public var bm25Score: Double?
    /// Cosine similarity when the chunk was in the dense list (`denseSearch`, `hybridSearch`).
    public var denseScore: Double?
    /// The chunk's file name, document title and section heading (`Chunk.context`).
    public var context: String
    /// For a question that asks for a list: the headings of the sub-sections of the hit's section
    /// (`IndexStore.outline(of:)`), in document order; empty otherwise.
    public var outline: [String] = []

    public init(chunkID: Int64, file: String, page: Int?, ordinal: Int, score: Double, text: String, snippet: String,
                bm25Score: Double? = nil, denseScore: Double? = nil, context: String = "") {
        self.chunkID = chunkID
        self.file = file
        self.page = page
        self.ordinal = ordinal
        self.score = score
        self.text = text
        self.snippet = snippet
        self.bm25Score = bm25Score
        self.denseScore = denseScore
        self.context = context
    }

    /// A passage made outside a search (tests, other retrievers): no snippet, no search scores.
    public init(chunkID: Int64, file: String, page: Int? = nil, ordinal: Int = 0, score: Double, text: String,
                outline: [String] = []) {
        self.init(chunkID: chunkID, file: file, page: page, ordinal: ordinal, score: score, text: text, snippet: "")
        self.outline = outline
    }

    /// The chunk id as the API gives it.
    public var id: String { String(chunkID) }

    enum CodingKeys: String, CodingKey { case id, file, page, score, text }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(file, forKey: .file)
        try c.encode(page, forKey: .page)          // explicit null for text files
        try c.encode(score, forKey: .score)
        try c.encode(text, forKey: .text)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let id = try c.decode(String.self, forKey: .id)
        guard let chunkID = Int64(id) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "a passage id is a chunk number, got '\(id)'")
        }
        self.init(chunkID: chunkID, file: try c.decode(String.self, forKey: .file), page: try c.decodeIfPresent(Int.self, forKey: .page),
                  score: try c.decode(Double.self, forKey: .score), text: try c.decode(String.self, forKey: .text))
    }
}

/// One stored chunk with its place in its document, for joining neighbouring chunks.
public struct ChunkSpan: Sendable, Hashable {
    public var chunkID: Int64
    public var ordinal: Int
    /// PDF page number (from 1), `nil` for text files.
    public var page: Int?
    /// Offsets of the chunk in its page's (or text file's) normalised text, in Unicode scalars;
    /// consecutive chunks overlap.
    public var start: Int
    public var end: Int
    public var text: String

    public init(chunkID: Int64, ordinal: Int, page: Int?, start: Int, end: Int, text: String) {
        self.chunkID = chunkID
        self.ordinal = ordinal
        self.page = page
        self.start = start
        self.end = end
        self.text = text
    }
}

/// A document of the index.
public struct DocumentRecord: Sendable, Hashable {
    public var id: Int64
    public var path: String
    public var sha256: String
    public var size: Int64
    public var mtime: Double
    public var pages: Int
    /// `indexed`, or `failed` with `error` saying why.
    public var status: String
    public var error: String?
    public var chunkCount: Int
    /// When the document was last (re)indexed, seconds since 1970; nil when not recorded.
    public var indexedAt: Double? = nil
}

/// Counts and settings of an index.
public struct IndexStatistics: Sendable, Hashable {
    public var documents: Int
    public var failedDocuments: Int
    public var chunks: Int
    public var vectors: Int
    public var encoderModelID: String?
    public var schemaVersion: Int
}

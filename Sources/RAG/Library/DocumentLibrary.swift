import Documents
import Foundation
import Index
import Logging
import Synchronization

/// The documents of the data directory as the server manages them: the list with each file's
/// state, uploads checked then stored, deletions, the original files for citations, and the
/// background indexing that brings the index in line with the folder after each change.
///
/// Indexing is the incremental ingest (`IndexStore.ingest`): one transaction per file, unchanged
/// files skipped, removed files dropped; searches keep working while it runs and see each file
/// either as before or fully indexed. One ingest runs at a time; changes made while it runs start
/// one more pass when it ends. Its progress is published to every `progressUpdates()` stream.
public final class DocumentLibrary: Sendable {
    public let dataDirectory: URL
    /// Upload size limit in bytes.
    public let maxUploadBytes: Int
    let store: any IndexStore
    let embedder: (any ChunkEmbedder)?
    let ingestOptions: IngestOptions
    let logger: Logger
    /// Why uploads and deletions are refused (the index was built from another folder), nil when
    /// they are allowed.
    public let readOnlyReason: String?

    private struct State {
        var progress = IndexingProgress()
        var running = false
        var rerun = false
        /// Files stored but not indexed yet, and files deleted but still in the index.
        var queued: Set<String> = []
        var removing: Set<String> = []
        var subscribers: [UUID: AsyncStream<IndexingProgress>.Continuation] = [:]
    }
    private let state = Mutex(State())

    /// Chunks per encoder pass when indexing in the background: the encoder runs one pass at a
    /// time, so a question asked meanwhile waits for at most one such pass (instead of the 32 of
    /// `ragchat ingest`).
    public static let backgroundBatchSize = 4

    /// Staged uploads live in this hidden folder of the data directory (ingest skips hidden
    /// folders), so that storing one is an atomic rename on the same file system.
    static let stagingFolder = ".ragchat-uploads"

    public init(dataDirectory: URL, store: any IndexStore, embedder: (any ChunkEmbedder)?,
                maxUploadBytes: Int = 50 * 1024 * 1024, ingestOptions: IngestOptions = IngestOptions(),
                logger: Logger = Logger(label: "ragchat.library")) {
        self.dataDirectory = dataDirectory.standardizedFileURL
        self.store = store
        self.embedder = embedder
        self.maxUploadBytes = maxUploadBytes
        self.ingestOptions = ingestOptions
        self.logger = logger
        readOnlyReason = Self.mismatch(dataDirectory: self.dataDirectory, store: store)
    }

    /// An index holding documents none of which is in the data directory was built from another
    /// folder: an ingest of this one would remove them all, so the library only reads.
    static func mismatch(dataDirectory: URL, store: any IndexStore) -> String? {
        guard let documents = try? store.documents(), !documents.isEmpty else { return nil }
        let present = documents.contains { FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent($0.path).path) }
        return present ? nil : "the index holds none of the files of \(dataDirectory.lastPathComponent)/ (it was built from another folder): "
            + "start ragchat serve with --data naming the folder it was ingested from"
    }

    // MARK: - Listing

    /// Every document: those of the index (indexed or failed, or being removed), then files
    /// stored and waiting to be indexed. Sorted by file.
    public func documents() throws -> [LibraryDocument] {
        let records = try store.documents()
        let (queued, removing) = state.withLock { ($0.queued, $0.removing) }
        var result = records.map { record -> LibraryDocument in
            var status = LibraryDocument.Status(rawValue: record.status) ?? .failed
            if removing.contains(record.path) { status = .removing } else if queued.contains(record.path) { status = .queued }
            return LibraryDocument(id: record.id, file: record.path, pages: record.pages, chunks: record.chunkCount,
                                   size: record.size, status: status, error: record.error,
                                   indexedAt: record.indexedAt.map { Date(timeIntervalSince1970: $0) })
        }
        let known = Set(records.map(\.path))
        for file in queued.subtracting(known).sorted() {
            let size = (try? FileManager.default.attributesOfItem(atPath: url(of: file).path)[.size] as? Int).map(Int64.init) ?? 0
            result.append(LibraryDocument(id: nil, file: file, pages: 0, chunks: 0, size: size, status: .queued, error: nil, indexedAt: nil))
        }
        return result.sorted { $0.file < $1.file }
    }

    /// The indexed document with this id.
    public func document(id: Int64) throws -> DocumentRecord {
        guard let record = try store.documents().first(where: { $0.id == id }) else { throw LibraryError.noSuchDocument(id) }
        return record
    }

    // MARK: - Uploads

    /// A checked file name of an upload: the name alone (no folder), NFC, a supported extension.
    /// Throws `invalidName` for empty names, folders or `..`, control characters (NUL among
    /// them), names starting with a dot (ingest would skip them) or over 255 bytes, and
    /// `unsupportedType` for other extensions.
    public static func checkedName(_ raw: String) throws -> String {
        let name = raw.precomposedStringWithCanonicalMapping.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw LibraryError.invalidName(raw, "the file has no name") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "/" || $0 == "\\" }) else {
            throw LibraryError.invalidName(raw, "a file name may not contain a folder separator or a control character")
        }
        guard !name.hasPrefix(".") else { throw LibraryError.invalidName(raw, "a file name may not start with a dot") }
        guard name.utf8.count <= 255 else { throw LibraryError.invalidName(raw, "the name is longer than 255 bytes") }
        guard DocumentKind(path: name) != nil else { throw LibraryError.unsupportedType(name) }
        return name
    }

    /// A new empty file in the staging folder for an upload's bytes; pass it to `store(staged:as:)`
    /// or `discard(staged:)`.
    public func stagingFile() throws -> URL {
        try checkWritable()
        let folder = dataDirectory.appendingPathComponent(Self.stagingFolder, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appendingPathComponent(UUID().uuidString)
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                throw LibraryError.storage("cannot create a file in \(folder.path)")
            }
            return file
        } catch let error as LibraryError {
            throw error
        } catch {
            throw LibraryError.storage("cannot create the upload folder \(folder.path): \(error.localizedDescription)")
        }
    }

    public func discard(staged: URL) {
        try? FileManager.default.removeItem(at: staged)
    }

    /// An upload that passed its checks, waiting to be stored by `commit(_:)`.
    public struct PreparedUpload: Sendable {
        public var name: String
        var file: URL
    }

    /// Checks a staged upload: not empty, within the limit, a document that extracts (a PDF
    /// Poppler opens, a text file that decodes, with some text). The staged file is taken over
    /// (gone after a failure); pass the result to `commit(_:)` or `discard(_:)`.
    public func prepare(staged: URL, as name: String) throws -> PreparedUpload {
        defer { discard(staged: staged) }
        let name = try Self.checkedName(name)
        try checkWritable()
        let size = (try? FileManager.default.attributesOfItem(atPath: staged.path)[.size] as? Int) ?? 0
        guard size > 0 else { throw LibraryError.emptyFile(name) }
        guard size <= maxUploadBytes else { throw LibraryError.tooLarge(name, limit: maxUploadBytes) }
        // The staged file has no extension: extraction reads it as the kind its name says.
        let probe = staged.appendingPathExtension((name as NSString).pathExtension.lowercased())
        do {
            try FileManager.default.moveItem(at: staged, to: probe)
        } catch {
            throw LibraryError.storage("cannot prepare the upload: \(error.localizedDescription)")
        }
        do {
            guard try Self.holdsText(probe, name: name) else {
                throw LibraryError.unreadable(name, "no text could be extracted from it (a scanned PDF needs OCR first)")
            }
        } catch let error as DocumentsError {
            discard(staged: probe)
            throw LibraryError.unreadable(name, error.reason)
        } catch {
            discard(staged: probe)
            throw error
        }
        return PreparedUpload(name: name, file: probe)
    }

    /// Does the file extract to some text? A PDF is extracted whole (Poppler must open every
    /// page); a text file is read in segments (bounded memory whatever its size) after the whole
    /// file has been checked for binary content, up to its first segment with text.
    static func holdsText(_ file: URL, name: String) throws -> Bool {
        guard DocumentKind(path: name) != .pdf else {
            return try Extractor.extract(fileAt: file, path: name).pages.contains { !$0.text.allSatisfy(\.isWhitespace) }
        }
        struct FoundText: Error {}
        do {
            try TextFileReader().read(file, path: name) { segment in
                if !segment.text.allSatisfy(\.isWhitespace) { throw FoundText() }
            }
        } catch is FoundText {
            return true
        }
        return false
    }

    public func discard(_ upload: PreparedUpload) {
        discard(staged: upload.file)
    }

    /// Moves checked uploads into the data directory, each replacing a file of its name, and
    /// schedules indexing. Returns, per file name, whether a file was replaced.
    @discardableResult
    public func commit(_ uploads: [PreparedUpload]) throws -> [String: Bool] {
        try checkWritable()
        var replaced: [String: Bool] = [:]
        defer {
            if !replaced.isEmpty { scheduleIndexing() }
        }
        for upload in uploads {
            let target = url(of: upload.name)
            replaced[upload.name] = FileManager.default.fileExists(atPath: target.path)
            // rename(2) replaces the target atomically: an ingest never reads a half-written file.
            guard rename(upload.file.path, target.path) == 0 else {
                replaced[upload.name] = nil
                throw LibraryError.storage("cannot store \(upload.name): \(String(cString: strerror(errno)))")
            }
            logger.info("stored upload \(upload.name)\(replaced[upload.name] == true ? ", replacing the previous file" : "")")
            state.withLock { _ = $0.queued.insert(upload.name) }
        }
        return replaced
    }

    // MARK: - Deletion

    /// Deletes the document's file from the data directory and schedules indexing, which removes
    /// it from the index. Returns its file name.
    @discardableResult
    public func remove(id: Int64) throws -> String {
        try checkWritable()
        let record = try document(id: id)
        let file = try originalFile(of: record, mustExist: false)
        if FileManager.default.fileExists(atPath: file.path) {
            do { try FileManager.default.removeItem(at: file) } catch {
                throw LibraryError.storage("cannot delete \(record.path): \(error.localizedDescription)")
            }
        }
        logger.info("deleted \(record.path)")
        state.withLock { state in
            state.removing.insert(record.path)
            state.queued.remove(record.path)
        }
        scheduleIndexing()
        return record.path
    }

    // MARK: - Originals

    /// The original file of an indexed document, resolved inside the data directory (symbolic
    /// links included): a path that leads outside it is `noSuchDocument`.
    public func originalFile(of record: DocumentRecord, mustExist: Bool = true) throws -> URL {
        let file = url(of: record.path)
        let inside = dataDirectory.resolvingSymlinksInPath().path + "/"
        guard !record.path.split(separator: "/").contains(".."),
              file.resolvingSymlinksInPath().path.hasPrefix(inside) || (!mustExist && file.path.hasPrefix(dataDirectory.path + "/")) else {
            throw LibraryError.noSuchDocument(record.id)
        }
        if mustExist {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw LibraryError.fileGone(record.path)
            }
        }
        return file
    }

    /// The indexed text of a text document as one page of HTML, the passage of chunk `chunkID`
    /// marked (`<mark id="passage">`) so that `#passage` scrolls to it. The text is rebuilt from
    /// the stored chunks, which are exact slices of it, so the mark falls exactly on the passage.
    public func highlightedText(of record: DocumentRecord, chunkID: Int64) throws -> String {
        guard let hit = try store.chunks(ofFile: record.path).first(where: { $0.chunkID == chunkID }) else {
            throw LibraryError.noSuchPassage(chunkID, record.path)
        }
        let spans = try store.chunkSpans(ofDocumentOf: chunkID, ordinals: 0...Int.max)
        guard let cited = spans.first(where: { $0.ordinal == hit.ordinal }) else { throw LibraryError.noSuchPassage(chunkID, record.path) }
        let text = Self.rebuiltText(spans)
        let scalars = Array(text.unicodeScalars)
        let start = min(cited.start, scalars.count), end = min(max(cited.end, start), scalars.count)
        func escaped(_ range: Range<Int>) -> String {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            return Self.escapeHTML(String(s))
        }
        let title = Self.escapeHTML(record.path)
        return """
            <!doctype html>
            <html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title)</title>
            <style>body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:50rem;padding:1rem}
            pre{white-space:pre-wrap;word-wrap:break-word;font:inherit}mark{background:#ffe58a;scroll-margin-top:30vh}</style>
            </head><body><h1>\(title)</h1>
            <pre>\(escaped(0..<start))<mark id="passage">\(escaped(start..<end))</mark>\(escaped(end..<scalars.count))</pre>
            </body></html>
            """
    }

    /// The normalised text of a text document from its chunks (overlapping, exact slices at their
    /// offsets; each chunk covers what the previous left off).
    static func rebuiltText(_ spans: [ChunkSpan]) -> String {
        var scalars: [Unicode.Scalar] = []
        for span in spans.sorted(by: { $0.start < $1.start }) {
            let chunk = Array(span.text.unicodeScalars)
            let skip = max(0, scalars.count - span.start)
            if span.start > scalars.count { scalars.append(contentsOf: repeatElement(" ", count: span.start - scalars.count)) }
            if skip < chunk.count { scalars.append(contentsOf: chunk[skip...]) }
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    static func escapeHTML(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    // MARK: - Indexing

    /// The state of indexing now.
    public var progress: IndexingProgress { state.withLock { $0.progress } }

    /// Indexing progress: the current state at once, then every change, until the stream is
    /// dropped.
    public func progressUpdates() -> AsyncStream<IndexingProgress> {
        let (stream, continuation) = AsyncStream.makeStream(of: IndexingProgress.self, bufferingPolicy: .bufferingNewest(64))
        let id = UUID()
        let current = state.withLock { state in
            state.subscribers[id] = continuation
            return state.progress
        }
        continuation.yield(current)
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Starts an ingest of the data directory, or one more pass after the running one.
    public func scheduleIndexing() {
        let start = state.withLock { state -> Bool in
            if state.running { state.rerun = true; return false }
            state.running = true
            return true
        }
        guard start else { return }
        Task.detached(priority: .utility) { [self] in
            while true {
                await runIngest()
                let again = state.withLock { state -> Bool in
                    if state.rerun { state.rerun = false; return true }
                    state.running = false
                    return false
                }
                if !again { break }
            }
        }
    }

    /// Waits until no indexing runs (tests, the CLI).
    public func waitUntilIdle() async {
        while state.withLock({ $0.running }) { try? await Task.sleep(for: .milliseconds(20)) }
    }

    private func runIngest() async {
        update { progress in
            progress = IndexingProgress(state: .indexing, generation: progress.generation, last: progress.last)
        }
        let outcome: IndexingProgress.Outcome
        do {
            let summary = try await store.ingest(dataDirectory: dataDirectory, options: ingestOptions, embedder: embedder) { [self] event in
                update { $0.apply(event) }
            }
            logger.info("indexed \(dataDirectory.lastPathComponent)/: \(summary.line)")
            outcome = .init(summary: summary.line, failures: summary.failures.map { "\($0.path): \($0.reason)" })
        } catch {
            logger.error("indexing \(dataDirectory.path) failed: \(error)")
            outcome = .init(summary: "indexing failed: \(error)", failures: [])
        }
        // The new generation and the end of "queued"/"removing" are one change: a page that
        // reloads the list on seeing the generation move must find the files in their final state.
        // What was queued or removed before this pass started is now in the index (or failed);
        // when another pass follows, they stay marked until it ends.
        updateState { state in
            state.progress = IndexingProgress(state: .idle, generation: state.progress.generation + 1, last: outcome)
            if !state.rerun {
                state.queued.removeAll()
                state.removing.removeAll()
            }
        }
    }

    private func update(_ change: (inout IndexingProgress) -> Void) {
        updateState { change(&$0.progress) }
    }

    private func updateState(_ change: (inout State) -> Void) {
        state.withLock { change(&$0) }
        publish()
    }

    private func publish() {
        let (progress, subscribers) = state.withLock { ($0.progress, Array($0.subscribers.values)) }
        for subscriber in subscribers { subscriber.yield(progress) }
    }

    // MARK: - Helpers

    private func url(of file: String) -> URL {
        dataDirectory.appendingPathComponent(file, isDirectory: false)
    }

    private func checkWritable() throws {
        if let readOnlyReason { throw LibraryError.readOnly(readOnlyReason) }
    }
}

/// One document as `GET /documents` lists it.
public struct LibraryDocument: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// In the index, searchable.
        case indexed
        /// Could not be read or extracted; `error` says why.
        case failed
        /// Stored, waiting for (or in) the next indexing pass.
        case queued
        /// Deleted, still in the index until the next indexing pass ends.
        case removing
    }
    /// The index's document id; nil while the file waits for its first indexing.
    public var id: Int64?
    /// Path relative to the data directory.
    public var file: String
    public var pages: Int
    public var chunks: Int
    public var size: Int64
    public var status: Status
    public var error: String?
    public var indexedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, file, pages, chunks, size, status, error
        case indexedAt = "indexed_at"
    }
}

/// Where background indexing stands.
public struct IndexingProgress: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable { case idle, indexing }
    public struct Outcome: Sendable, Hashable, Codable {
        /// `added 1, updated 0, unchanged 3, removed 0, failed 0 — 12 chunks in 0.84 s`
        public var summary: String
        public var failures: [String]
    }

    public var state: State = .idle
    /// The file being indexed, its number (from 1) and the number of files.
    public var file: String?
    public var fileIndex = 0
    public var fileCount = 0
    /// Chunks embedded of the current file.
    public var embedded = 0
    public var embeddingTotal = 0
    /// Finished indexing passes since the server started.
    public var generation = 0
    /// The outcome of the last finished pass.
    public var last: Outcome?

    public init(state: State = .idle, generation: Int = 0, last: Outcome? = nil) {
        self.state = state
        self.generation = generation
        self.last = last
    }

    /// Overall progress from 0 to 1: files done, plus the current file's share of embedding.
    public var fraction: Double {
        guard state == .indexing, fileCount > 0 else { return state == .idle ? 1 : 0 }
        let within = embeddingTotal > 0 ? Double(embedded) / Double(embeddingTotal) : 0
        return min(1, (Double(max(fileIndex - 1, 0)) + within) / Double(fileCount))
    }

    mutating func apply(_ event: IngestEvent) {
        switch event {
        case .scanned(let files): fileCount = files
        case .fileStarted(let path, let index, let total):
            file = path
            fileIndex = index
            fileCount = total
            embedded = 0
            embeddingTotal = 0
        case .embedding(let done, let total):
            embedded = done
            embeddingTotal = total
        case .fileFinished, .fileFailed, .fileWarning, .fileRemoved: break
        }
    }

    enum CodingKeys: String, CodingKey {
        case state, file, generation, last, fraction, embedded
        case fileIndex = "file_index", fileCount = "file_count", embeddingTotal = "embedding_total"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(file, forKey: .file)
        try c.encode(fileIndex, forKey: .fileIndex)
        try c.encode(fileCount, forKey: .fileCount)
        try c.encode(embedded, forKey: .embedded)
        try c.encode(embeddingTotal, forKey: .embeddingTotal)
        try c.encode(fraction, forKey: .fraction)
        try c.encode(generation, forKey: .generation)
        try c.encode(last, forKey: .last)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        state = try c.decode(State.self, forKey: .state)
        file = try c.decodeIfPresent(String.self, forKey: .file)
        fileIndex = try c.decode(Int.self, forKey: .fileIndex)
        fileCount = try c.decode(Int.self, forKey: .fileCount)
        embedded = try c.decode(Int.self, forKey: .embedded)
        embeddingTotal = try c.decode(Int.self, forKey: .embeddingTotal)
        generation = try c.decode(Int.self, forKey: .generation)
        last = try c.decodeIfPresent(Outcome.self, forKey: .last)
    }
}

/// Why a document operation was refused; the server maps each case to its HTTP status.
public enum LibraryError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidName(String, String)
    case unsupportedType(String)
    case emptyFile(String)
    case tooLarge(String, limit: Int)
    case unreadable(String, String)
    case noSuchDocument(Int64)
    case noSuchPassage(Int64, String)
    case fileGone(String)
    case readOnly(String)
    case storage(String)

    public var description: String {
        switch self {
        case .invalidName(let name, let why): return "invalid file name '\(name.debugDescription.dropFirst().dropLast())': \(why)"
        case .unsupportedType(let name): return "\(name): only .txt, .md and .pdf files can be indexed"
        case .emptyFile(let name): return "\(name) is empty"
        case .tooLarge(let name, let limit): return "\(name) is larger than the upload limit of \(limit / (1024 * 1024)) MB"
        case .unreadable(let name, let why): return "\(name) cannot be indexed: \(why)"
        case .noSuchDocument(let id): return "no document with id \(id)"
        case .noSuchPassage(let chunk, let file): return "no passage \(chunk) in \(file)"
        case .fileGone(let file): return "the file \(file) is no longer in the data folder"
        case .readOnly(let why): return "documents cannot be changed here: \(why)"
        case .storage(let why): return why
        }
    }
}

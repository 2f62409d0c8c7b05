import Documents
import Foundation
import Hummingbird
import Index
import MultipartKit
import NIOCore
import RAG
import ServiceLifecycle

/// The documents of the data folder over HTTP (`DocumentLibrary` does the work):
/// - `GET /documents`: the list and where indexing stands;
/// - `POST /documents`: `multipart/form-data` upload of `.txt`, `.md` and `.pdf` files (202; indexed
///   in the background);
/// - `DELETE /documents/{id}` (202; removed from the index in the background);
/// - `GET /documents/{id}/file`: the original file (`#page=N` opens a PDF at a page), or with
///   `?passage=<chunk id>` a text document as HTML with that passage marked;
/// - `GET /documents/events`: indexing progress as Server-Sent Events.
///
/// Without a server key, only clients on this machine (loopback) may use them: they change what
/// the server answers from, and serve whole files.
struct DocumentsController: Sendable {
    let holder: EngineHolder
    let configuration: ServerConfiguration

    /// Files per upload request; form fields (parts without a file name) are skipped, up to this
    /// many bytes each.
    static let maxFilesPerUpload = 20
    static let maxFieldBytes = 64 * 1024

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.get("/documents", use: list)
        router.head("/documents", use: list)
        router.post("/documents", use: upload)
        router.get("/documents/events", use: events)
        router.delete("/documents/:id", use: delete)
        router.get("/documents/:id/file", use: file)
        router.head("/documents/:id/file", use: file)
    }

    // MARK: - Routes

    struct ListBody: Encodable {
        var documents: [LibraryDocument]
        var indexing: IndexingProgress
        var max_upload_bytes: Int
        var read_only: String?
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let library = try await self.library(for: context)
        let body = ListBody(documents: try library.documents(), indexing: library.progress,
                            max_upload_bytes: library.maxUploadBytes, read_only: library.readOnlyReason)
        return try ChatController<AppRequestContext>.json(body, head: request.method == .head)
    }

    struct UploadBody: Encodable {
        struct Stored: Encodable {
            var file: String
            var status: String
            var replaced: Bool
        }
        var documents: [Stored]
        var indexing: IndexingProgress
    }

    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> Response {
        let library = try await self.library(for: context)
        if let reason = library.readOnlyReason { throw APIError(.conflict, code: "read_only", message: reason) }
        let boundary = try Self.boundary(of: request)
        // A part's headers and the boundaries add a little to the files themselves.
        let limit = library.maxUploadBytes * Self.maxFilesPerUpload + 1024 * 1024
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.tooLarge("the upload of \(length) bytes exceeds \(limit) bytes", code: "file_too_large")
        }
        let receiver = UploadReceiver(boundary: boundary, library: library)
        do {
            var total = 0
            for try await buffer in request.body {
                total += buffer.readableBytes
                guard total <= limit else { throw APIError.tooLarge("the upload exceeds \(limit) bytes", code: "file_too_large") }
                try receiver.feed(buffer)
            }
            let files = try receiver.finish()
            var prepared: [DocumentLibrary.PreparedUpload] = []
            defer { for upload in prepared { library.discard(upload) } }
            for file in files {
                prepared.append(try library.prepare(staged: file.staged, as: file.name))
            }
            // Every file passed its checks: only now is any of them stored.
            let replaced = try library.commit(prepared)
            prepared = []
            let stored = files.map { UploadBody.Stored(file: $0.name, status: "queued", replaced: replaced[$0.name] ?? false) }
            return try ChatController<AppRequestContext>.json(UploadBody(documents: stored, indexing: library.progress), status: .accepted)
        } catch {
            receiver.discardAll()
            throw Self.apiError(error)
        }
    }

    struct DeleteBody: Encodable {
        var file: String
        var status: String
        var indexing: IndexingProgress
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let library = try await self.library(for: context)
        let id = try Self.documentID(context)
        do {
            let file = try library.remove(id: id)
            return try ChatController<AppRequestContext>.json(DeleteBody(file: file, status: "removing", indexing: library.progress), status: .accepted)
        } catch {
            throw Self.apiError(error)
        }
    }

    @Sendable func file(_ request: Request, context: AppRequestContext) async throws -> Response {
        let library = try await self.library(for: context)
        let id = try Self.documentID(context)
        do {
            let record = try library.document(id: id)
            if let passage = request.uri.queryParameters.get("passage") {
                guard let chunkID = Int64(passage), chunkID > 0 else {
                    throw APIError.badRequest("passage must be a passage id (a positive integer), got '\(passage.prefix(40))'",
                                              code: "invalid_passage")
                }
                guard DocumentKind(path: record.path) != .pdf else {
                    throw APIError.badRequest("a PDF opens at the passage's page (#page=N), not with ?passage", code: "invalid_passage")
                }
                let html = try library.highlightedText(of: record, chunkID: chunkID)
                return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                                       .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'"],
                                body: request.method == .head ? .init() : .init(byteBuffer: ByteBuffer(string: html)))
            }
            let url = try library.originalFile(of: record)
            let data = try Data(contentsOf: url, options: .mappedIfSafe)
            // Shown in the browser, a PDF at the `#page=N` of the link (a CSP sandbox would stop
            // the browser's PDF viewer), Markdown as text (`text/markdown` is downloaded).
            let isPDF = DocumentKind(path: record.path) == .pdf
            var headers: HTTPFields = [.contentType: isPDF ? "application/pdf" : "text/plain; charset=utf-8",
                                       .contentLength: String(data.count), .cacheControl: "no-store"]
            if !isPDF { headers[.contentSecurityPolicy] = "sandbox" }
            let name = (record.path as NSString).lastPathComponent
            let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 32 ? Character($0) : "_" })
            let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ascii
            headers[.contentDisposition] = "inline; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
            return Response(status: .ok, headers: headers,
                            body: request.method == .head ? .init() : .init(byteBuffer: ByteBuffer(data: data)))
        } catch {
            throw Self.apiError(error)
        }
    }

    /// `progress` events: the state at once, then each change; a comment every 15 s keeps the
    /// connection open through proxies and notices a client that left.
    @Sendable func events(_ request: Request, context: AppRequestContext) async throws -> Response {
        let library = try await self.library(for: context)
        let body = ResponseBody { writer in
            let (frames, sink) = AsyncStream<ByteBuffer>.makeStream()
            let updates = Task {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                for await progress in library.progressUpdates() {
                    guard let data = try? encoder.encode(progress) else { continue }
                    sink.yield(ByteBuffer(string: "event: progress\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                }
            }
            let heartbeat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    sink.yield(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            defer {
                updates.cancel()
                heartbeat.cancel()
            }
            do {
                // A graceful shutdown (SIGTERM, Ctrl-C) ends the stream, which would otherwise
                // keep the server waiting for it.
                try await withGracefulShutdownHandler {
                    for await frame in frames { try await writer.write(frame) }
                } onGracefulShutdown: {
                    sink.finish()
                }
                try await writer.finish(nil)
            } catch {
                return   // the client went away
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                                               .init("X-Accel-Buffering")!: "no"], body: body)
    }

    // MARK: - Helpers

    /// The library, for a client allowed to use it.
    func library(for context: AppRequestContext) async throws -> DocumentLibrary {
        if configuration.serverKey == nil && !Self.isLoopback(context.remoteAddress) {
            throw APIError(.forbidden, code: "loopback_only",
                           message: "documents can be managed from this machine only, unless the server has a key (RAGCHAT_SERVER_KEY)")
        }
        if let library = await holder.library { return library }
        if case .ready = await holder.current {
            throw APIError(.serviceUnavailable, code: "documents_unavailable",
                           message: "this server manages no data folder (start ragchat serve with --data FOLDER)")
        }
        throw APIError.busy(retryAfter: configuration.retryAfterSeconds, "the server is still loading")
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .unixDomainSocket: return true
        case .v4(let v4):
            return v4.address.sin_addr.s_addr.bigEndian >> 24 == 127
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes.prefix(15).allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }          // ::1
            return bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        case nil: return false
        }
    }

    static func documentID(_ context: AppRequestContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else {
            throw APIError.badRequest("a document id is a positive integer, got '\(raw.prefix(40))'", code: "invalid_document_id")
        }
        return id
    }

    /// The multipart boundary of a `multipart/form-data` request (415 for another type, 400
    /// without a usable boundary).
    static func boundary(of request: Request) throws -> String {
        let contentType = request.headers[.contentType] ?? ""
        let parameters = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parameters.first?.lowercased() == "multipart/form-data" else {
            throw APIError.unsupportedMediaType("upload files as multipart/form-data, got '\(contentType.isEmpty ? "none" : String(contentType.prefix(100)))'")
        }
        for parameter in parameters.dropFirst() {
            guard let eq = parameter.firstIndex(of: "="), parameter[..<eq].lowercased() == "boundary" else { continue }
            var value = String(parameter[parameter.index(after: eq)...])
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            // RFC 2046: 1 to 70 characters.
            guard (1...70).contains(value.utf8.count) else { break }
            return value
        }
        throw APIError.badRequest("the multipart Content-Type has no valid boundary", code: "invalid_multipart")
    }

    /// The HTTP error of a library or upload failure.
    static func apiError(_ error: any Error) -> any Error {
        guard let error = error as? LibraryError else { return error }
        let message = error.description
        switch error {
        case .invalidName: return APIError.badRequest(message, code: "invalid_file_name")
        case .unsupportedType: return APIError(.unsupportedMediaType, code: "unsupported_file_type", message: message)
        case .emptyFile: return APIError.badRequest(message, code: "empty_file")
        case .tooLarge: return APIError.tooLarge(message, code: "file_too_large")
        case .unreadable: return APIError(.unprocessableContent, code: "unreadable_document", message: message)
        case .noSuchDocument, .noSuchPassage: return APIError(.notFound, code: "not_found", message: message)
        case .fileGone: return APIError(.gone, code: "file_gone", message: message)
        case .readOnly: return APIError(.conflict, code: "read_only", message: message)
        case .storage: return APIError(.internalServerError, code: "storage_error", message: message)
        }
    }
}

/// Reads a `multipart/form-data` body as it arrives (MultipartKit's parser): each part with a
/// file name is written to a staging file of the library, counted against the upload limit.
/// Used by one request handler, from one task.
final class UploadReceiver {
    struct File {
        var name: String
        var staged: URL
    }

    private let parser: MultipartParser
    private var headerNames: MultipartHeaderNameGuard
    private let library: DocumentLibrary
    private var headers: [(String, String)] = []
    private var current: (name: String, staged: URL, handle: FileHandle, bytes: Int)?
    private var fieldBytes = 0
    private var inPart = false
    private var files: [File] = []
    private var failure: (any Error)?

    init(boundary: String, library: DocumentLibrary) {
        parser = MultipartParser(boundary: boundary)
        headerNames = MultipartHeaderNameGuard(boundary: boundary)
        self.library = library
        parser.onHeader = { [unowned self] name, value in
            guard failure == nil else { return }
            if !inPart { startPart() }
            headers.append((name.lowercased(), value))
        }
        parser.onBody = { [unowned self] buffer in
            guard failure == nil else { return }
            if !inPart { startPart() }
            do { try write(buffer) } catch { failure = error }
        }
        parser.onPartComplete = { [unowned self] in
            guard failure == nil else { return }
            if !inPart { startPart() }
            do { try endPart() } catch { failure = error }
        }
    }

    func feed(_ buffer: ByteBuffer) throws {
        guard headerNames.accepts(buffer.readableBytesView) else {
            throw APIError.badRequest("a part's header name holds a byte that is not ASCII", code: "invalid_multipart")
        }
        do { try parser.execute(buffer) } catch {
            throw APIError.badRequest("the multipart body is malformed", code: "invalid_multipart")
        }
        if let failure { throw failure }
    }

    /// The files received, once the whole body has been read.
    func finish() throws -> [File] {
        if let failure { throw failure }
        guard !inPart else { throw APIError.badRequest("the multipart body ends inside a part", code: "invalid_multipart") }
        guard !files.isEmpty else {
            throw APIError.badRequest("no file in the upload: send each file as a form part with a file name (curl -F file=@doc.pdf)",
                                      code: "no_file")
        }
        return files
    }

    func discardAll() {
        if let current {
            try? current.handle.close()
            library.discard(staged: current.staged)
        }
        current = nil
        for file in files { library.discard(staged: file.staged) }
        files = []
    }

    private func startPart() {
        inPart = true
        headers = []
        fieldBytes = 0
    }

    /// The first body bytes of a part: its headers are complete, so a file part gets its staging file.
    private func openFileIfNeeded() throws {
        guard current == nil, let name = Self.fileName(headers) else { return }
        let checked = try DocumentLibrary.checkedName(name)
        guard files.count < DocumentsController.maxFilesPerUpload else {
            throw APIError.badRequest("at most \(DocumentsController.maxFilesPerUpload) files per upload", code: "too_many_files")
        }
        let staged = try library.stagingFile()
        do {
            current = (checked, staged, try FileHandle(forWritingTo: staged), 0)
        } catch {
            library.discard(staged: staged)
            throw LibraryError.storage("cannot write the upload: \(error.localizedDescription)")
        }
    }

    private func write(_ buffer: ByteBuffer) throws {
        try openFileIfNeeded()
        guard var file = current else {
            fieldBytes += buffer.readableBytes
            if fieldBytes > DocumentsController.maxFieldBytes {
                throw APIError.tooLarge("a form field exceeds \(DocumentsController.maxFieldBytes) bytes")
            }
            return
        }
        file.bytes += buffer.readableBytes
        current = file
        guard file.bytes <= library.maxUploadBytes else { throw LibraryError.tooLarge(file.name, limit: library.maxUploadBytes) }
        do {
            try file.handle.write(contentsOf: buffer.readableBytesView)
        } catch {
            throw LibraryError.storage("cannot write the upload: \(error.localizedDescription)")
        }
    }

    private func endPart() throws {
        // A file part with an empty body has had no `onBody`: open (and so check) it now.
        try openFileIfNeeded()
        if let file = current {
            current = nil
            do { try file.handle.close() } catch {
                throw LibraryError.storage("cannot write the upload: \(error.localizedDescription)")
            }
            files.append(File(name: file.name, staged: file.staged))
        }
        inPart = false
    }

    /// The file name of a part, from `Content-Disposition` (`filename*=UTF-8''…` preferred over
    /// `filename="…"`); nil for a form field.
    static func fileName(_ headers: [(String, String)]) -> String? {
        guard let disposition = headers.first(where: { $0.0 == "content-disposition" })?.1 else { return nil }
        var plain: String?
        var extended: String?
        for parameter in splitParameters(disposition) {
            guard let eq = parameter.firstIndex(of: "=") else { continue }
            let key = parameter[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = parameter[parameter.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if key == "filename*" {
                // charset'language'percent-encoded
                let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if pieces.count == 3, pieces[0].lowercased() == "utf-8" { extended = String(pieces[2]).removingPercentEncoding }
            } else if key == "filename" {
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                    value = String(value.dropFirst().dropLast())
                    value = value.replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
                }
                plain = value
            }
        }
        return extended ?? plain
    }

    /// `form-data; name="a;b"; filename="x.pdf"` → its parameters, semicolons inside quotes kept.
    static func splitParameters(_ header: String) -> [String] {
        var result: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for c in header {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" && quoted { current.append(c); escaped = true; continue }
            if c == "\"" { quoted.toggle() }
            if c == ";" && !quoted { result.append(current); current = ""; continue }
            current.append(c)
        }
        result.append(current)
        return result
    }
}

/// MultipartKit 4.7's parser traps (an index out of range) on a byte ≥ 0x80 in a part's header
/// name, so a request could bring the server down. This follows the body through the parser's own
/// states (preamble, the boundary, header lines, body) and refuses such a byte before the parser
/// sees the bytes that hold it.
struct MultipartHeaderNameGuard {
    private enum State {
        case preamble(matched: Int)
        /// After a boundary: CR LF, or "--" (the end).
        case afterBoundary
        case lineFeed(next: Line)
        case headerName(length: Int)
        case headerValue
        case body(matched: Int)
        /// The parser has stopped (the end, or a syntax error it reports itself).
        case done
    }
    private enum Line { case header, body }
    /// "\r\n--" + boundary, as the parser matches it.
    private let delimiter: [UInt8]
    private var state = State.preamble(matched: 0)

    init(boundary: String) { delimiter = Array("\r\n--\(boundary)".utf8) }

    /// False when `bytes` (the next ones of the body) put a non-ASCII byte in a header name.
    mutating func accepts(_ bytes: some Sequence<UInt8>) -> Bool {
        for byte in bytes {
            switch state {
            case .preamble(let m):
                // the parser's preamble matching: "--boundary" may also start without CR LF
                let n = m == 0 && byte == delimiter[2] ? 3 : byte == delimiter[m] ? m + 1 : m > 0 && byte == delimiter[0] ? 1 : 0
                state = n == delimiter.count ? .afterBoundary : .preamble(matched: n)
            case .afterBoundary:
                state = byte == 0x0D ? .lineFeed(next: .header) : .done
            case .lineFeed(let next):
                guard byte == 0x0A else { state = .done; continue }
                state = next == .header ? .headerName(length: 0) : .body(matched: 0)
            case .headerName(let length):
                if byte >= 0x80 { return false }
                if byte == 0x3A && length > 0 { state = .headerValue } else if byte == 0x0D && length == 0 {
                    state = .lineFeed(next: .body)
                } else { state = .headerName(length: length + 1) }
            case .headerValue:
                if byte == 0x0D { state = .lineFeed(next: .header) }
            case .body(let m):
                let n = byte == delimiter[m] ? m + 1 : byte == delimiter[0] ? 1 : 0
                state = n == delimiter.count ? .afterBoundary : .body(matched: n)
            case .done:
                return true
            }
        }
        return true
    }
}

import Foundation
import Hummingbird
import Index
import NIOCore
import RAG

/// `POST /chat` and `POST /chat/stream`.
package struct ChatController<Context: RequestContext>: Sendable {
    let holder: EngineHolder
    let limiter: GenerationLimiter
    let metrics: ServerMetrics
    let configuration: ServerConfiguration

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/chat", use: chat)
        router.post("/chat/stream", use: stream)
    }

    // MARK: Input

    /// Content type, size and JSON shape, in that order (what the request may ask for is checked
    /// against the engine's limits by `ChatRequest.validated`).
    func parse(_ request: Request) async throws -> ChatRequest {
        try Self.decode(try await body(of: request))
    }

    /// The body of a JSON request: `application/json`, at most `limit` bytes (default
    /// `maxBodyBytes`) (415, 413).
    func body(of request: Request, limit: Int? = nil) async throws -> Data {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard mediaType == "application/json" else {
            throw APIError.unsupportedMediaType("expected Content-Type: application/json, got '\(contentType.isEmpty ? "none" : contentType)'")
        }
        let limit = limit ?? configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.tooLarge("request body of \(length) bytes exceeds \(limit) bytes")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge("request body exceeds \(limit) bytes")
        }
        return Data(buffer: body)
    }

    /// `ChatRequest` from JSON, each decoding problem named by the field it is about.
    package static func decode(_ data: Data) throws -> ChatRequest {
        guard !data.isEmpty else { throw APIError.badRequest("empty body: expected {\"question\": \"...\"}", code: "invalid_json") }
        do {
            try StrictJSON.check(data)
        } catch let violation as StrictJSON.Violation {
            throw APIError.badRequest("the body is not valid JSON: \(violation)", code: "invalid_json")
        }
        do {
            return try JSONDecoder().decode(ChatRequest.self, from: data)
        } catch let error as DecodingError {
            throw Self.problem(error)
        } catch {
            throw APIError.badRequest("the body is not valid JSON", code: "invalid_json")
        }
    }

    /// The 400 for a decoding error: the first key of its path says which field is wrong.
    static func problem(_ error: DecodingError) -> APIError {
        let path: [any CodingKey]
        switch error {
        case .keyNotFound(let key, let context): path = context.codingPath + [key]
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): path = context.codingPath
        @unknown default: path = []
        }
        switch path.first?.stringValue {
        case "question" where path.count == 1:
            if case .keyNotFound = error { return .badRequest("missing field 'question'", code: "missing_question") }
            return .badRequest("'question' must be a string", code: "invalid_question")
        case "top_k":
            return .badRequest("'top_k' must be an integer", code: "invalid_top_k")
        case "history":
            return .badRequest("'history' must be an array of {\"role\": \"user\"|\"assistant\", \"content\": \"...\"}",
                               code: "invalid_history")
        default:
            if case .keyNotFound = error { return .badRequest("missing field 'question'", code: "missing_question") }
            return .badRequest("expected a JSON object {\"question\": \"...\"}", code: "invalid_json")
        }
    }

    func engine() async throws -> any ChatEngine {
        switch await holder.current {
        case .ready(let e): return e
        case .loading:
            var h = HTTPFields(); h[.retryAfter] = String(configuration.retryAfterSeconds)
            throw APIError(.serviceUnavailable, code: "loading", message: "the index and models are still loading", headers: h)
        case .failed(let m):
            throw APIError(.serviceUnavailable, code: "not_ready",
                           message: "the engine failed to load: \(HealthController<Context>.withoutPaths(m))")
        }
    }

    // MARK: Routes

    @Sendable func chat(_ request: Request, context: Context) async throws -> Response {
        let engine = try await engine()
        let chatRequest = try await parse(request).validated(engine.requestLimits)
        let inline = request.uri.queryParameters.get("audio") == "inline"
        var response = try await answerWhole(chatRequest, engine: engine)
        if inline {
            response.audio = AudioLinks(question: await Self.base64(response.audioIDs.question, engine: engine),
                                        answer: await Self.base64(response.audioIDs.answer, engine: engine))
        }
        return try Self.json(response)
    }

    /// One whole answer within a generation slot and the request timeout; waiting and answering
    /// stop when the client leaves (its slot and queue place go back).
    func answerWhole(_ chatRequest: ChatRequest, engine: any ChatEngine) async throws -> ChatResponse {
        let timeout = configuration.requestTimeout, limiter = self.limiter
        let response = try await ClientConnection.untilClosed(ClientConnection.current) {
            try await limiter.run {
                try await withTimeout(seconds: timeout, what: "answering") { try await engine.chat(chatRequest) }
            }
        }
        metrics.recordTimings(response.timingsMs)
        return response
    }

    /// The stored WAV `id` in base64.
    static func base64(_ id: String?, engine: any ChatEngine) async -> String? {
        guard let id else { return nil }
        return await engine.audio(id: id)?.base64EncodedString()
    }

    /// A JSON response (dates as ISO 8601); `head` leaves the body out (HEAD requests).
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, head: Bool = false) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                        body: head ? .init() : .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    @Sendable func stream(_ request: Request, context: Context) async throws -> Response {
        let engine = try await engine()
        let chatRequest = try await parse(request).validated(engine.requestLimits)
        return try await streamed(chatRequest, engine: engine, context: context, format: .ragchat)
    }

    /// An answer streamed as Server-Sent Events, within a generation slot taken before the
    /// response starts and the request timeout; a client that leaves stops the generation.
    func streamed(_ chatRequest: ChatRequest, engine: any ChatEngine, context: Context, format: StreamFormat) async throws -> Response {
        let connection = ClientConnection.current
        let limiter = self.limiter
        // The slot is taken before the response starts, so that a full queue or a long wait is
        // still an HTTP 503; the wait stops if the client leaves. From here the lease has one
        // owner: the body below, then the generation it starts, which releases it when it ends
        // (finished, failed, timed out, or cancelled because the client left). A body that is
        // never written (the client left before its first byte) is dropped, and the lease with it.
        let lease = try await ClientConnection.untilClosed(connection) { try await limiter.acquire() }
        let metrics = self.metrics, timeout = configuration.requestTimeout
        let logger = context.logger
        let body = ResponseBody { writer in
            let (frames, sink) = AsyncStream<ByteBuffer>.makeStream()
            // SSE frames are produced in a task of their own, so that the deadline or a client
            // gone away can stop a generation while the writer waits.
            let generation = Task {
                defer {
                    lease.release()
                    sink.finish()
                }
                do {
                    try await withTimeout(seconds: timeout, what: "answering") {
                        for try await event in engine.chatStream(chatRequest) {
                            if case .done(let r) = event { metrics.recordTimings(r.timingsMs) }
                            if let frame = try format.frame(event) { sink.yield(ByteBuffer(bytes: frame)) }
                        }
                    }
                    if !format.end.isEmpty { sink.yield(ByteBuffer(bytes: format.end)) }
                } catch {
                    if Task.isCancelled {
                        metrics.increment("streams_abandoned")   // nobody left to read an error event
                        return
                    }
                    let api = APIError.from(error)
                    logger.warning("stream error: \(error)")
                    metrics.increment("stream_errors")
                    sink.yield(ByteBuffer(bytes: format.error(api)))
                }
            }
            let token = connection?.onClose { generation.cancel() }
            defer { connection?.forget(token) }
            do {
                for await frame in frames { try await writer.write(frame) }
                try await writer.finish(nil)
            } catch {
                generation.cancel()   // the client went away
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                                               .init("X-Accel-Buffering")!: "no"], body: body)
    }
}

/// How the events of an answer become Server-Sent Events frames: `/chat/stream`'s named
/// events, or the OpenAI chunks of `/v1/chat/completions`.
struct StreamFormat: Sendable {
    /// The frame of one event (nil: nothing to send).
    var frame: @Sendable (ChatEvent) throws -> [UInt8]?
    /// The frame that ends a stream that failed midway.
    var error: @Sendable (APIError) -> [UInt8]
    /// Sent after the last event of a stream that succeeded.
    var end: [UInt8] = []

    static let ragchat = StreamFormat(frame: { try SSE.frame($0) },
                                      error: { SSE.errorFrame(code: $0.code, message: $0.message) })
}

/// Server-Sent Events frames for `ChatEvent`s.
public enum SSE {
    struct TokenPayload: Encodable { var text: String }
    struct SourcesPayload: Encodable { var sources: [SearchHit] }

    /// `event: <name>\ndata: <json>\n\n`
    public static func frame(_ event: ChatEvent) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        switch event {
        case .sources(let s): data = try encoder.encode(SourcesPayload(sources: s))
        case .token(let t): data = try encoder.encode(TokenPayload(text: t))
        case .audio(let clip): data = try encoder.encode(clip)
        case .done(let r): data = try encoder.encode(r)
        }
        return Array("event: \(event.name)\ndata: ".utf8) + Array(data) + Array("\n\n".utf8)
    }

    public static func errorFrame(code: String, message: String) -> [UInt8] {
        Array("event: error\ndata: ".utf8) + APIError.body(code: code, message: message) + Array("\n\n".utf8)
    }
}

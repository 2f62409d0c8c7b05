import Foundation
import Hummingbird
import RAG

/// `POST /chat` and `POST /chat/stream`.
struct ChatController<Context: RequestContext>: Sendable {
    let holder: EngineHolder
    let limiter: GenerationLimiter
    let metrics: ServerMetrics
    let configuration: ServerConfiguration

    func addRoutes(to router: Router<Context>) {
        router.post("/chat", use: chat)
        router.post("/chat/stream", use: stream)
    }

    // MARK: Input

    /// Content type, size, JSON shape and question checks, in that order.
    func parse(_ request: Request) async throws -> ChatRequest {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard mediaType == "application/json" else {
            throw APIError.unsupportedMediaType("expected Content-Type: application/json, got '\(contentType.isEmpty ? "none" : contentType)'")
        }
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.tooLarge("request body of \(length) bytes exceeds \(limit) bytes")
        }
        var bytes: [UInt8] = []
        for try await buffer in request.body {
            bytes.append(contentsOf: buffer.readableBytesView)
            if bytes.count > limit { throw APIError.tooLarge("request body exceeds \(limit) bytes") }
        }
        return try Self.decode(bytes, maxQuestionLength: configuration.maxQuestionLength)
    }

    /// Strict decoding with a precise message per problem.
    static func decode(_ bytes: [UInt8], maxQuestionLength: Int) throws -> ChatRequest {
        guard !bytes.isEmpty else { throw APIError.badRequest("empty body: expected {\"question\": \"...\"}", code: "invalid_json") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(bytes), options: []) } catch {
            throw APIError.badRequest("the body is not valid JSON", code: "invalid_json")
        }
        guard let dict = object as? [String: Any] else {
            throw APIError.badRequest("expected a JSON object {\"question\": \"...\"}", code: "invalid_json")
        }
        guard let raw = dict["question"] else { throw APIError.badRequest("missing field 'question'", code: "missing_question") }
        guard let question = raw as? String, !(raw is NSNumber) else {
            throw APIError.badRequest("'question' must be a string", code: "invalid_question")
        }
        let trimmed = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.badRequest("'question' is empty", code: "empty_question") }
        guard trimmed.count <= maxQuestionLength else {
            throw APIError.tooLarge("the question has \(trimmed.count) characters; the limit is \(maxQuestionLength)", code: "question_too_long")
        }
        var topK: Int?
        if let k = dict["top_k"], !(k is NSNull) {
            // JSONDecoder rejects booleans, fractions and strings where an Int is expected.
            guard let n = try? JSONDecoder().decode(TopK.self, from: Data(bytes)).top_k, (1...50).contains(n) else {
                throw APIError.badRequest("'top_k' must be an integer between 1 and 50", code: "invalid_top_k")
            }
            topK = n
        }
        var history: [ChatMessage]?
        if let h = dict["history"], !(h is NSNull) {
            guard let items = h as? [Any] else { throw APIError.badRequest("'history' must be an array", code: "invalid_history") }
            guard items.count <= 50 else { throw APIError.badRequest("'history' has more than 50 messages", code: "invalid_history") }
            history = try items.map { item in
                guard let m = item as? [String: Any], let roleName = m["role"] as? String,
                      let role = ChatMessage.Role(rawValue: roleName), role != .system,
                      let content = m["content"] as? String else {
                    throw APIError.badRequest("each history item must be {\"role\": \"user\"|\"assistant\", \"content\": \"...\"}", code: "invalid_history")
                }
                guard content.count <= maxQuestionLength * 4 else {
                    throw APIError.tooLarge("a history message is too long", code: "history_too_long")
                }
                return ChatMessage(role: role, content: content)
            }
        }
        return ChatRequest(question: trimmed, topK: topK, history: history)
    }

    func engine() async throws -> any ChatEngine {
        switch await holder.current {
        case .ready(let e): return e
        case .loading:
            var h = HTTPFields(); h[.retryAfter] = String(configuration.retryAfterSeconds)
            throw APIError(.serviceUnavailable, code: "loading", message: "the index and models are still loading", headers: h)
        case .failed(let m):
            throw APIError(.serviceUnavailable, code: "not_ready", message: "the engine failed to load: \(m)")
        }
    }

    // MARK: Routes

    @Sendable func chat(_ request: Request, context: Context) async throws -> Response {
        let chatRequest = try await parse(request)
        let engine = try await engine()
        let inline = request.uri.queryParameters.get("audio") == "inline"
        let timeout = configuration.requestTimeout, limiter = self.limiter
        // Waiting and answering stop when the client leaves (its slot and queue place go back).
        var response = try await ClientConnection.untilClosed(ClientConnection.current) {
            try await limiter.run {
                try await withTimeout(seconds: timeout, what: "answering") { try await engine.chat(chatRequest) }
            }
        }
        metrics.recordTimings(response.timingsMs)
        if inline {
            response.audio = AudioLinks(question: await Self.inline(response.audio.question, engine: engine),
                                        answer: await Self.inline(response.audio.answer, engine: engine))
        }
        return try Self.json(response)
    }

    /// `/audio/<id>.wav` → base64 of the WAV.
    static func inline(_ url: String?, engine: any ChatEngine) async -> String? {
        guard let url, let name = url.split(separator: "/").last, name.hasSuffix(".wav") else { return nil }
        return await engine.audio(id: String(name.dropLast(4)))?.base64EncodedString()
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    @Sendable func stream(_ request: Request, context: Context) async throws -> Response {
        let chatRequest = try await parse(request)
        let engine = try await engine()
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
                            sink.yield(ByteBuffer(bytes: try SSE.frame(event)))
                        }
                    }
                } catch {
                    if Task.isCancelled {
                        metrics.increment("streams_abandoned")   // nobody left to read an error event
                        return
                    }
                    let api = APIError.from(error)
                    logger.warning("stream error: \(api)")
                    metrics.increment("stream_errors")
                    sink.yield(ByteBuffer(bytes: SSE.errorFrame(code: api.code, message: api.message)))
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

private struct TopK: Decodable { var top_k: Int }

/// Server-Sent Events frames for `ChatEvent`s.
public enum SSE {
    struct TokenPayload: Encodable { var text: String }
    struct SourcesPayload: Encodable { var sources: [Source] }

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

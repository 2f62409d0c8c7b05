import Foundation
import Hummingbird
import Index
import NIOCore
import RAG

/// `POST /v1/chat/completions` and `GET /v1/models`: the RAG pipeline behind the OpenAI chat
/// API, for clients built for it (the `openai` packages, Open WebUI, editors' assistants).
///
/// - The last message must be the user's: it is the question. Earlier user and assistant
///   messages are the history (the most recent ones that fit the history limits); system,
///   developer and tool messages are ignored, since the answer's instructions are RAGChat's own.
/// - `model` is echoed back and does not choose anything: every name is answered by the
///   configured backends, in order (`GET /v1/models` lists one model, `ragchat`).
/// - The answer comes with its passages in an extra `sources` field (in the last chunk when
///   streaming), which strict clients ignore; no audio is made (audio stays on `/chat`).
/// - Sampling fields (`temperature`, `top_p`, `max_tokens`, …) are accepted and ignored; `n`
///   must be 1.
struct OpenAIController<Context: RequestContext>: Sendable {
    let chat: ChatController<Context>
    static var modelName: String { "ragchat" }
    /// The largest conversation accepted (the request context's hard cap); the history that
    /// goes to the answer is then trimmed to the engine's limits.
    static var maxBodyBytes: Int { 1 << 20 }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/v1/chat/completions", use: completions)
        router.get("/v1/models", use: models)
        router.head("/v1/models", use: models)
    }

    // MARK: Request

    struct CompletionRequest: Decodable {
        struct Message: Decodable {
            var role: String
            var content: Content?
        }
        /// A string, or an array of parts of which the `text` ones count.
        struct Content: Decodable {
            var text: String
            struct Part: Decodable {
                var type: String
                var text: String?
            }
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) {
                    text = s
                } else {
                    let parts = try c.decode([Part].self)
                    text = parts.filter { $0.type == "text" }.compactMap(\.text).joined(separator: "\n")
                }
            }
        }
        var model: String?
        var messages: [Message]
        var stream: Bool?
        var n: Int?
    }

    /// The question and history of a completion request, fitted to the engine's limits.
    static func chatRequest(from body: CompletionRequest, limits: RequestLimits) throws -> ChatRequest {
        guard let last = body.messages.last else {
            throw APIError.badRequest("'messages' is empty: the last message must be the user's question", code: "invalid_messages")
        }
        guard last.role == "user" else {
            throw APIError.badRequest("the last message must be from the user (it is the question), not '\(last.role)'",
                                      code: "invalid_messages")
        }
        if let n = body.n, n != 1 { throw APIError.badRequest("only n = 1 is supported", code: "invalid_n") }
        var history: [ChatMessage] = []
        for message in body.messages.dropLast() {
            let role: ChatMessage.Role
            switch message.role {
            case "user": role = .user
            case "assistant": role = .assistant
            default: continue
            }
            let text = message.content?.text ?? ""
            if text.isEmpty { continue }
            // Keep each message's end, where a follow-up usually points.
            var kept = String(text.suffix(limits.maxHistoryMessageLength))
            if kept.unicodeScalars.count > 4 * limits.maxHistoryMessageLength {
                kept = String(String.UnicodeScalarView(kept.unicodeScalars.suffix(4 * limits.maxHistoryMessageLength)))
            }
            history.append(ChatMessage(role: role, content: kept))
        }
        history = Array(history.suffix(limits.maxHistoryMessages))
        return ChatRequest(question: last.content?.text ?? "", history: history.isEmpty ? nil : history, speak: false)
    }

    func parse(_ request: Request, limits: RequestLimits) async throws -> (CompletionRequest, ChatRequest) {
        // Clients send the whole conversation each time: more room than `/chat`'s 64 KB.
        let data = try await chat.body(of: request, limit: max(chat.configuration.maxBodyBytes, Self.maxBodyBytes))
        guard !data.isEmpty else { throw APIError.badRequest("empty body: expected {\"messages\": [...]}", code: "invalid_json") }
        do {
            try StrictJSON.check(data)
        } catch let violation as StrictJSON.Violation {
            throw APIError.badRequest("the body is not valid JSON: \(violation)", code: "invalid_json")
        }
        let body: CompletionRequest
        do {
            body = try JSONDecoder().decode(CompletionRequest.self, from: data)
        } catch let error as DecodingError {
            let field = Self.field(of: error)
            throw APIError.badRequest(field.map { "'\($0)' is missing or has the wrong type" }
                                          ?? "expected a JSON object {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}]}",
                                      code: "invalid_messages")
        }
        return (body, try Self.chatRequest(from: body, limits: limits).validated(limits))
    }

    static func field(of error: DecodingError) -> String? {
        switch error {
        case .keyNotFound(let key, let context): return (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? nil : path
        @unknown default: return nil
        }
    }

    // MARK: Response

    struct Completion: Encodable {
        struct Choice: Encodable {
            struct Message: Encodable {
                var role = "assistant"
                var content: String
            }
            var index = 0
            var message: Message
            var finish_reason = "stop"
        }
        var id: String
        var object = "chat.completion"
        var created: Int
        var model: String
        var choices: [Choice]
        /// RAGChat's extra: the passages the answer cites as `[n]`, in order.
        var sources: [SearchHit]
    }

    struct Chunk: Encodable {
        struct Choice: Encodable {
            struct Delta: Encodable {
                var role: String?
                var content: String?
            }
            var index = 0
            var delta: Delta
            var finish_reason: String?

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(index, forKey: .index)
                try c.encode(delta, forKey: .delta)
                try c.encode(finish_reason, forKey: .finish_reason)   // null until the end, as OpenAI sends it
            }
            enum CodingKeys: String, CodingKey { case index, delta, finish_reason }
        }
        var id: String
        var object = "chat.completion.chunk"
        var created: Int
        var model: String
        var choices: [Choice]
        var sources: [SearchHit]?
    }

    @Sendable func completions(_ request: Request, context: Context) async throws -> Response {
        let engine = try await chat.engine()
        let (body, chatRequest) = try await parse(request, limits: engine.requestLimits)
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let created = Int(Date().timeIntervalSince1970)
        let model = body.model.flatMap { $0.isEmpty ? nil : $0 } ?? Self.modelName
        if body.stream == true {
            return try await chat.streamed(chatRequest, engine: engine, context: context,
                                           format: Self.streamFormat(id: id, created: created, model: model))
        }
        let response = try await chat.answerWhole(chatRequest, engine: engine)
        return try ChatController<Context>.json(Completion(
            id: id, created: created, model: model,
            choices: [.init(message: .init(content: response.answer))], sources: response.sources))
    }

    /// OpenAI's chunks: the role first, then the text as it comes, then an empty delta with
    /// `finish_reason` and the sources, then `data: [DONE]`. A failure midway is a chunk with an
    /// `error` object, which the `openai` clients raise.
    static func streamFormat(id: String, created: Int, model: String) -> StreamFormat {
        @Sendable func frame(_ delta: Chunk.Choice.Delta, finish: String? = nil, sources: [SearchHit]? = nil) throws -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let chunk = Chunk(id: id, created: created, model: model,
                              choices: [.init(delta: delta, finish_reason: finish)], sources: sources)
            return Array("data: ".utf8) + Array(try encoder.encode(chunk)) + Array("\n\n".utf8)
        }
        return StreamFormat(
            frame: { event in
                switch event {
                case .sources: return try frame(.init(role: "assistant", content: ""))
                case .token(let text): return try frame(.init(content: text))
                case .audio: return nil
                case .done(let response): return try frame(.init(), finish: "stop", sources: response.sources)
                }
            },
            error: { error in Array("data: ".utf8) + APIError.body(code: error.code, message: error.message) + Array("\n\n".utf8) },
            end: Array("data: [DONE]\n\n".utf8))
    }

    struct ModelList: Encodable {
        struct Model: Encodable {
            var id: String
            var object = "model"
            var created: Int
            var owned_by = "ragchat"
        }
        var object = "list"
        var data: [Model]
    }

    @Sendable func models(_ request: Request, context: Context) async throws -> Response {
        try ChatController<Context>.json(ModelList(data: [.init(id: Self.modelName, created: 0)]))
    }
}

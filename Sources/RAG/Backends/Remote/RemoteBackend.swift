import AsyncHTTPClient
import Foundation
import NIOCore

/// Settings of an OpenAI-compatible chat completions API (Mistral's API, Ollama, llama.cpp's server).
public struct RemoteConfiguration: Sendable, Equatable {
    /// `https://api.mistral.ai/v1`, `http://127.0.0.1:11434/v1` (Ollama), `http://127.0.0.1:8081` (llama.cpp)…
    /// A base without `/v1` gets `/v1/chat/completions`; one ending in `/v1` gets `/chat/completions`;
    /// a full `…/chat/completions` URL is used as is.
    public var baseURL: String
    public var apiKey: String?
    public var model: String
    /// Overall deadline for one answer (connect + stream), seconds.
    public var timeout: Double
    /// Retries on connection errors and 5xx answers (before any text arrived).
    public var retries: Int
    /// Ask for `stream: true` (SSE); with false, one JSON answer.
    public var stream: Bool

    public init(baseURL: String, apiKey: String? = nil, model: String? = nil, timeout: Double = 60,
                retries: Int = 1, stream: Bool = true) {
        self.baseURL = baseURL
        self.apiKey = apiKey?.isEmpty == true ? nil : apiKey
        self.model = model ?? Self.defaultModel(for: baseURL)
        self.timeout = timeout
        self.retries = retries
        self.stream = stream
    }

    /// `RAGCHAT_API_BASE`, `RAGCHAT_API_KEY`, `RAGCHAT_API_MODEL`, `RAGCHAT_API_TIMEOUT`; nil when
    /// `RAGCHAT_API_BASE` is not set.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> RemoteConfiguration? {
        guard let base = env["RAGCHAT_API_BASE"], !base.isEmpty else { return nil }
        let timeout = env["RAGCHAT_API_TIMEOUT"].flatMap(Double.init) ?? 60
        let model = env["RAGCHAT_API_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
        return RemoteConfiguration(baseURL: base, apiKey: env["RAGCHAT_API_KEY"], model: model, timeout: timeout)
    }

    static func defaultModel(for base: String) -> String {
        base.contains("mistral.ai") ? "mistral-small-latest" : "default"
    }

    /// `chatCompletionsURL` without what may be secret: user and password, and the values of
    /// query parameters named like keys or tokens. For logs and settings; never the address
    /// itself in what clients see (`RAGError.clientMessage`).
    public var displayURL: String { Self.redacted(chatCompletionsURL) }

    /// `https://user:pw@host/v1?key=abc&x=1` → `https://***@host/v1?key=***&x=1`.
    public static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else {
            // Not parseable: keep the scheme and mask the rest rather than risk printing a secret.
            return url.range(of: "://").map { String(url[..<$0.upperBound]) + "***" } ?? "***"
        }
        if parts.user != nil || parts.password != nil {
            parts.user = "***"
            parts.password = nil
        }
        let secretNames = ["key", "token", "secret", "password", "passwd", "pwd", "auth", "sig", "signature", "credential"]
        parts.queryItems = parts.queryItems?.map { item in
            let name = item.name.lowercased()
            guard secretNames.contains(where: { name.contains($0) }) else { return item }
            return URLQueryItem(name: item.name, value: "***")
        }
        return parts.string ?? "***"
    }

    public var chatCompletionsURL: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/chat/completions") { return base }
        if base.hasSuffix("/v1") { return base + "/chat/completions" }
        return base + "/v1/chat/completions"
    }
}

/// OpenAI-compatible `/v1/chat/completions` through AsyncHTTPClient, streaming (SSE) or not.
/// One retry on connection errors and 5xx; HTTP errors surface as `RAGError.upstream(status:message:)`.
public struct RemoteBackend: AnswerBackend {
    public let name = "remote"
    public let configuration: RemoteConfiguration
    public let promptBuilder: PromptBuilder
    private let client: HTTPClient
    /// Shown by `/health` to anyone: the model, not the address (logged at start instead).
    public var info: String { "remote \(configuration.model) (OpenAI-compatible API)" }

    /// - Parameter client: defaults to `RemoteBackend.sharedClient` (process-wide, never shut down).
    public init(configuration: RemoteConfiguration, promptBuilder: PromptBuilder = PromptBuilder(),
                client: HTTPClient = RemoteBackend.sharedClient) {
        self.configuration = configuration
        self.promptBuilder = promptBuilder
        self.client = client
    }

    /// A process-wide client that fails fast on refused connections (the backend does its own
    /// single retry) and connects within 10 s. Never shut down, so never deinitialised.
    public static let sharedClient: HTTPClient = {
        var config = HTTPClient.Configuration()
        config.connectionPool.retryConnectionEstablishment = false
        config.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    struct RequestBody: Encodable {
        var model: String
        var messages: [ChatMessage]
        var stream: Bool
        var temperature: Double
        var max_tokens: Int
    }

    struct Completion: Decodable {
        struct Choice: Decodable {
            struct Content: Decodable { var content: String? }
            var delta: Content?
            var message: Content?
            var text: String?
            var finish_reason: String?
        }
        var choices: [Choice]?
    }

    public func answer(_ input: AnswerInput, options: GenerationOptions) -> AsyncThrowingStream<String, Error> {
        let timeout = min(configuration.timeout, options.timeout > 0 ? options.timeout : configuration.timeout)
        let messages = promptBuilder.build(question: input.question, passages: input.passages, history: input.history).messages
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await withTimeout(seconds: timeout, what: "the remote API") {
                        try await self.run(messages: messages, options: options, timeout: timeout) {
                            continuation.yield($0)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func makeRequest(messages: [ChatMessage], options: GenerationOptions) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: configuration.chatCompletionsURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: configuration.stream ? "text/event-stream" : "application/json")
        if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        let body = RequestBody(model: configuration.model, messages: messages, stream: configuration.stream,
                               temperature: options.temperature, max_tokens: options.maxTokens)
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        return request
    }

    private func run(messages: [ChatMessage], options: GenerationOptions, timeout: Double,
                     yield: @Sendable (String) -> Void) async throws {
        let url = configuration.displayURL
        let request = try makeRequest(messages: messages, options: options)
        var attempt = 0
        while true {
            attempt += 1
            let canRetry = attempt <= configuration.retries
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            } catch {
                try Task.checkCancellation()
                if canRetry { try await Task.sleep(nanoseconds: 200_000_000); continue }
                throw RAGError.connection(url: url, message: Self.describe(error))
            }
            let status = Int(response.status.code)
            if status >= 400 {
                let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
                if status >= 500 && canRetry { try await Task.sleep(nanoseconds: 200_000_000); continue }
                throw RAGError.upstream(status: status, message: Self.errorMessage(from: body, reason: response.status.reasonPhrase))
            }
            let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
            if configuration.stream && !contentType.contains("application/json") {
                try await readStream(response, url: url, yield: yield)
            } else {
                let body = try await response.body.collect(upTo: 8 << 20)
                let data = Data(body.readableBytesView)
                if let message = Self.embeddedError(data) { throw RAGError.upstream(status: status, message: message) }
                guard let completion = try? JSONDecoder().decode(Completion.self, from: data),
                      let choice = completion.choices?.first else {
                    throw RAGError.invalidResponse("no choices in \(String(decoding: data.prefix(200), as: UTF8.self))")
                }
                let text = choice.message?.content ?? choice.delta?.content ?? choice.text ?? ""
                if !text.isEmpty { yield(text) }
            }
            return
        }
    }

    private func readStream(_ response: HTTPClientResponse, url: String, yield: @Sendable (String) -> Void) async throws {
        var parser = SSEParser()
        var finished = false
        func handle(_ messages: [SSEMessage]) throws {
            for m in messages where !finished {
                let payload = m.data.trimmingCharacters(in: .whitespaces)
                if payload == "[DONE]" { finished = true; return }
                if payload.isEmpty { continue }
                let data = Data(payload.utf8)
                if let message = Self.embeddedError(data) { throw RAGError.upstream(status: 200, message: message) }
                guard let chunk = try? JSONDecoder().decode(Completion.self, from: data) else {
                    throw RAGError.invalidResponse("bad stream chunk: \(payload.prefix(200))")
                }
                for choice in chunk.choices ?? [] {
                    if let piece = choice.delta?.content ?? choice.message?.content ?? choice.text, !piece.isEmpty {
                        yield(piece)
                    }
                }
            }
        }
        do {
            for try await buffer in response.body {
                try handle(parser.feed(buffer.readableBytesView))
                if finished { break }
            }
        } catch let error as RAGError {
            throw error
        } catch {
            try Task.checkCancellation()
            throw RAGError.connection(url: url, message: "stream interrupted: \(Self.describe(error))")
        }
        try handle(parser.finish())
    }

    /// `{"error": {"message"}}` (OpenAI, llama.cpp, Ollama), `{"error": "…"}`, `{"object": "error",
    /// "message"}` / `{"message"}` / `{"detail"}` (Mistral).
    static func embeddedError(_ data: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        if let error = object["error"] {
            if let e = error as? [String: Any] {
                return (e["message"] as? String) ?? (e["type"] as? String) ?? "\(e)"
            }
            if let s = error as? String { return s }
        }
        if object["choices"] == nil {
            if (object["object"] as? String) == "error", let m = object["message"] as? String { return m }
            if let detail = object["detail"] {
                if let s = detail as? String { return s }
                if let d = try? JSONSerialization.data(withJSONObject: detail) { return String(decoding: d, as: UTF8.self) }
            }
        }
        return nil
    }

    static func errorMessage(from body: String, reason: String) -> String {
        if let m = embeddedError(Data(body.utf8)) { return m }
        if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
           let m = object["message"] as? String { return m }
        let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return reason }
        return String(trimmed.prefix(500))
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError { return e.description }
        return String(describing: error)
    }
}

/// Runs `body`, throwing `RAGError.timeout` when it takes longer than `seconds` (and cancelling it).
public func withTimeout<T: Sendable>(seconds: Double, what: String,
                                     _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw RAGError.timeout(what: what, seconds: seconds) }
        guard let value = first else { throw RAGError.timeout(what: what, seconds: seconds) }
        return value
    }
}

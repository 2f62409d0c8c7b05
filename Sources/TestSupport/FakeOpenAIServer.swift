import Foundation
import Hummingbird
import Logging
import Server

/// A small OpenAI-compatible `/v1/chat/completions` server on a free loopback port, for tests and
/// benchmarks of `RemoteBackend`. Its behaviour follows the request's `model`:
/// - anything else: answers (streaming or not) "Selon les extraits, <question> [1]. …";
/// - `error-400`: 400 `{"error": {"message": "unknown model"}}`;
/// - `error-401`: 401 Mistral-style `{"message": "Unauthorized", "request_id": …}`;
/// - `error-500`: 500 every time; `flaky`: 500 on the first call, then answers;
/// - `slow`: waits 10 s before answering; `stall`: sends headers and one token, then stalls;
/// - `json-only`: ignores `stream: true` and answers with one JSON object;
/// - `stream-error`: one token, then an `{"error": …}` chunk.
public final class FakeOpenAIServer: Sendable {
    public let port: Int
    private let task: Task<Void, Error>
    public let recorder: Recorder

    /// What the fake server saw.
    public actor Recorder {
        public private(set) var requests = 0
        public private(set) var lastBody: [String: String] = [:]
        public private(set) var lastAuthorization: String?
        public private(set) var lastMessagesJSON = ""
        var callsByModel: [String: Int] = [:]
        func record(model: String, authorization: String?, messagesJSON: String, stream: Bool) -> Int {
            requests += 1
            lastAuthorization = authorization
            lastMessagesJSON = messagesJSON
            lastBody = ["model": model, "stream": String(stream)]
            callsByModel[model, default: 0] += 1
            return callsByModel[model] ?? 1
        }
    }

    /// `http://127.0.0.1:<port>/v1`
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    private init(port: Int, task: Task<Void, Error>, recorder: Recorder) {
        self.port = port; self.task = task; self.recorder = recorder
    }

    /// Starts the server. `tokenDelay`: seconds between streamed tokens.
    public static func start(tokenDelay: Double = 0) async throws -> FakeOpenAIServer {
        let recorder = Recorder()
        let router = Router()
        router.post("/v1/chat/completions") { request, context -> Response in
            try await handle(request, recorder: recorder, tokenDelay: tokenDelay)
        }
        var logger = Logger(label: "fake-openai")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0); portSink.finish() },
                              logger: logger)
        let task = Task {
            defer { portSink.finish() }
            try await app.run()
        }
        var port = 0
        for await p in ports { port = p; break }
        guard port > 0 else {
            task.cancel()
            throw APIError(.internalServerError, code: "fake_server", message: "the fake OpenAI server did not start")
        }
        return FakeOpenAIServer(port: port, task: task, recorder: recorder)
    }

    public func stop() async {
        task.cancel()
        _ = await task.result
    }

    static func json(_ status: HTTPResponse.Status, _ object: Any) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func answerText(for question: String) -> String {
        "Selon les extraits, \(question) [1]. La réponse de test continue ici avec une deuxième phrase [2]. Fin."
    }

    static func handle(_ request: Request, recorder: Recorder, tokenDelay: Double) async throws -> Response {
        var bytes: [UInt8] = []
        for try await b in request.body { bytes.append(contentsOf: b.readableBytesView) }
        guard let body = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let messages = body["messages"] as? [[String: Any]] else {
            return json(.badRequest, ["error": ["message": "invalid JSON body", "type": "invalid_request_error"]])
        }
        let model = body["model"] as? String ?? ""
        let stream = body["stream"] as? Bool ?? false
        let messagesJSON = String(decoding: (try? JSONSerialization.data(withJSONObject: messages)) ?? Data(), as: UTF8.self)
        let call = await recorder.record(model: model, authorization: request.headers[.authorization],
                                         messagesJSON: messagesJSON, stream: stream)
        let last = messages.last?["content"] as? String ?? ""
        let question = last.components(separatedBy: "Question :").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? last
        switch model {
        case "error-400": return json(.badRequest, ["error": ["message": "unknown model", "type": "invalid_request_error"]])
        case "error-401": return json(.unauthorized, ["message": "Unauthorized", "request_id": "test"])
        case "error-500": return json(.internalServerError, ["error": ["message": "internal failure"]])
        case "flaky" where call == 1: return json(.internalServerError, ["error": ["message": "try again"]])
        case "slow": try await Task.sleep(nanoseconds: 10_000_000_000)
        default: break
        }
        let text = answerText(for: question)
        if !stream || model == "json-only" {
            return json(.ok, ["id": "chatcmpl-test", "object": "chat.completion", "model": model,
                              "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]]])
        }
        let pieces = tokens(text)
        let responseBody = ResponseBody { writer in
            func send(_ object: Any) async throws {
                let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
                try await writer.write(ByteBuffer(string: "data: " + String(decoding: data, as: UTF8.self) + "\n\n"))
            }
            try await send(["id": "c", "object": "chat.completion.chunk", "choices": [["index": 0, "delta": ["role": "assistant", "content": ""]]]])
            for (i, piece) in pieces.enumerated() {
                if tokenDelay > 0 { try await Task.sleep(nanoseconds: UInt64(tokenDelay * 1e9)) }
                try await send(["id": "c", "object": "chat.completion.chunk", "choices": [["index": 0, "delta": ["content": piece]]]])
                if model == "stall" { try await Task.sleep(nanoseconds: 30_000_000_000) }
                if model == "stream-error" && i == 0 {
                    try await send(["error": ["message": "model overloaded", "type": "server_error"]])
                    try await writer.finish(nil)
                    return
                }
            }
            try await send(["id": "c", "object": "chat.completion.chunk", "choices": [["index": 0, "delta": [String: String](), "finish_reason": "stop"]]])
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: responseBody)
    }

    /// Splits text into word-sized pieces keeping the spaces.
    static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ch == " " { out.append(current); current = "" }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

import Foundation
import Hummingbird
import HummingbirdTesting
import RAG
import Server
import Testing

/// `/v1/chat/completions` and `/v1/models` through the router: the OpenAI shapes, the question
/// and history taken from the messages, the errors.
@Suite struct OpenAIRouteTests {
    /// Records the request it was given.
    struct RecordingEngine: ChatEngine {
        let seen = SeenRequests()
        func chat(_ request: ChatRequest) async throws -> ChatResponse {
            await seen.add(request)
            return try await StubEngine().chat(request)
        }
        func chatStream(_ request: ChatRequest) -> AsyncThrowingStream<ChatEvent, Error> {
            Task { await seen.add(request) }
            return StubEngine().chatStream(request)
        }
        func audio(id: String) async -> Data? { nil }
        func status() async -> EngineStatus { EngineStatus(ready: true, info: [:]) }
    }
    actor SeenRequests {
        var all: [ChatRequest] = []
        func add(_ r: ChatRequest) { all.append(r) }
    }

    func object(_ r: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
    }

    @Test func completionHasTheOpenAIShapeAndTheSources() async throws {
        let engine = RecordingEngine()
        let app = buildApplication(testConfiguration(), engine: engine)
        try await app.test(.router) { client in
            let body = json(["model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 50,
                             "messages": [["role": "system", "content": "Sois bref."],
                                          ["role": "user", "content": "Qu'est-ce que la Tatin ?"],
                                          ["role": "assistant", "content": "Une tarte renversée."],
                                          ["role": "tool", "content": "ignored"],
                                          ["role": "user", "content": [["type": "text", "text": "Et sa cuisson ?"],
                                                                        ["type": "image_url", "image_url": ["url": "x"]]]]]])
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body) { r in
                #expect(r.status == .ok)
                let o = try object(r)
                #expect(o["object"] as? String == "chat.completion" && o["model"] as? String == "gpt-4o-mini")
                #expect((o["id"] as? String)?.hasPrefix("chatcmpl-") == true)
                let choice = try #require((o["choices"] as? [[String: Any]])?.first)
                #expect(choice["finish_reason"] as? String == "stop")
                #expect((choice["message"] as? [String: Any])?["content"] as? String == "La Tatin est renversée [1].")
                #expect((o["sources"] as? [[String: Any]])?.count == 2)
            }
        }
        let request = try #require(await engine.seen.all.first)
        #expect(request.question == "Et sa cuisson ?")
        #expect(request.history == [.user("Qu'est-ce que la Tatin ?"), .assistant("Une tarte renversée.")])
        #expect(request.speak == false)   // no audio for this API
    }

    @Test func streamIsOpenAIChunksThenDone() async throws {
        let app = buildApplication(testConfiguration(), engine: StubEngine())
        try await app.test(.router) { client in
            let body = json(["model": "m", "stream": true, "messages": [["role": "user", "content": "Tatin ?"]]])
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body) { r in
                #expect(r.status == .ok)
                let datas = String(buffer: r.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
                    .map { $0.hasPrefix("data: ") ? String($0.dropFirst(6)) : "?" }
                #expect(datas.last == "[DONE]")
                let chunks = datas.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                #expect(chunks.count == datas.count - 1)
                let deltas = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]) }
                #expect(deltas.first?["role"] as? String == "assistant")
                #expect(deltas.compactMap { $0["content"] as? String }.joined() == "La Tatin est renversée [1].")
                let last = try #require(chunks.last)
                #expect((last["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
                #expect((last["sources"] as? [[String: Any]])?.count == 2)
                #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            }
        }
    }

    @Test func badRequestsAre400WithJSON() async throws {
        let app = buildApplication(testConfiguration(), engine: StubEngine())
        let cases: [(ByteBuffer, String)] = [
            (json(["messages": []]), "invalid_messages"),
            (json(["messages": [["role": "assistant", "content": "x"]]]), "invalid_messages"),
            (json(["model": "m"]), "invalid_messages"),
            (json(["messages": "Tatin ?"]), "invalid_messages"),
            (json(["messages": [["role": "user", "content": 5]]]), "invalid_messages"),
            (json(["messages": [["role": "user", "content": "   "]]]), "empty_question"),
            (json(["messages": [["role": "user", "content": "a"]], "n": 2]), "invalid_n"),
            (json(["messages": [["role": "user", "content": String(repeating: "a", count: 5000)]]]), "question_too_long"),
            // One character, 20,001 scalars.
            (json(["messages": [["role": "user", "content": "a" + String(repeating: "\u{301}", count: 20_000)]]]), "question_too_long"),
        ]
        try await app.test(.router) { client in
            for (body, code) in cases {
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body) { r in
                    #expect(r.status.code >= 400 && r.status.code < 500, "\(String(buffer: body))")
                    #expect(r.errorCode == code, "\(String(buffer: body)): \(r.errorCode ?? "")")
                }
            }
            try await client.execute(uri: "/v1/chat/completions", method: .get) { r in #expect(r.status == .methodNotAllowed) }
            try await client.execute(uri: "/v1/models", method: .get) { r in
                let o = try object(r)
                #expect(((o["data"] as? [[String: Any]])?.map { $0["id"] as? String }) == ["ragchat"])
            }
        }
    }

    @Test func longHistoriesAreTrimmedToTheLimits() async throws {
        let engine = RecordingEngine()
        let app = buildApplication(testConfiguration(), engine: engine)
        let turns = (0..<55).map { ["role": $0 % 2 == 0 ? "user" : "assistant", "content": "tour \($0) " + String(repeating: "x", count: 17_000)] }
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                     body: json(["messages": turns + [["role": "user", "content": "Et alors ?"]]])) { r in
                #expect(r.status == .ok)
            }
        }
        let history = try #require(await engine.seen.all.first?.history)
        let limits = RequestLimits()
        #expect(history.count == limits.maxHistoryMessages)
        #expect(history.allSatisfy { $0.content.count <= limits.maxHistoryMessageLength })
        #expect(history.last?.role == .user)   // turn 54, the newest before the question
    }

    @Test func chatCanSkipTheAudio() async throws {
        let engine = RecordingEngine()
        let app = buildApplication(testConfiguration(), engine: engine)
        try await app.test(.router) { client in
            for body in [["question": "Tatin ?", "speak": false], ["question": "Tatin ?"]] as [[String: Any]] {
                try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(body)) { r in
                    #expect(r.status == .ok)
                }
            }
            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "a", "speak": "no"])) { r in
                #expect(r.status == .badRequest)
            }
        }
        #expect(await engine.seen.all.map(\.speak) == [false, true])
    }
}

import Foundation
import Hummingbird
import HummingbirdTesting
import RAG
import Server
import Speech
import Testing

@Suite struct RouterTests {
    var app: some ApplicationProtocol { buildApplication(testConfiguration(), engine: StubEngine()) }

    @Test func servesThePageAndStaticFiles() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(r.text.contains("<html>"))
            }
            try await client.execute(uri: "/index.html", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/style.css", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/css") == true)
            }
        }
    }

    @Test func noPathTraversal() async throws {
        try await app.test(.router) { client in
            for uri in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/a/../../secret.txt", "/%2E%2E%2Fsecret.txt",
                        "/outside.txt", "/.hidden", "/%2ehidden", "/index.html%00", "/index.html%00.txt", "/style.css%5c"] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .notFound, "\(uri)")
                    #expect(!r.text.contains("TOP SECRET"), "\(uri)")
                    #expect(r.errorCode != nil, "\(uri)")
                }
            }
        }
    }

    @Test func unknownRouteIs404WithJSON() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/nope", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(r.errorCode == "not_found")
                #expect(r.errorMessage?.isEmpty == false)
            }
            try await client.execute(uri: "/audio/\(String(repeating: "cd", count: 16)).wav", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(r.errorCode == "not_found")
            }
        }
    }

    @Test func wrongMethodIs405() async throws {
        try await app.test(.router) { client in
            for (uri, method, allow) in [("/chat", HTTPRequest.Method.get, "POST"), ("/chat/stream", .put, "POST"),
                                         ("/health", .post, "GET, HEAD"), ("/metrics", .delete, "GET"), ("/", .post, "GET, HEAD"),
                                         ("/audio/x.wav", .post, "GET, HEAD")] {
                try await client.execute(uri: uri, method: method) { r in
                    #expect(r.status == .methodNotAllowed, "\(method) \(uri)")
                    #expect(r.headers[.allow] == allow)
                    #expect(r.errorCode == "method_not_allowed")
                }
            }
        }
    }

    @Test func healthWhenReadyLoadingAndFailed() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.object["status"] as? String == "ok")
                #expect((r.object["info"] as? [String: String])?["chunks"] == "42")
            }
        }
        let holder = EngineHolder()
        let loading = buildApplication(ServerState(configuration: testConfiguration(), holder: holder))
        try await loading.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .serviceUnavailable)
                #expect(r.object["status"] as? String == "loading")
                #expect(r.headers[.retryAfter] == "2")
            }
            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "Bonjour ?"])) { r in
                #expect(r.status == .serviceUnavailable)
                #expect(r.errorCode == "loading")
                #expect(r.headers[.retryAfter] != nil)
            }
            await holder.fail("index not found: models/index.sqlite")
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .serviceUnavailable)
                #expect(r.object["error"] as? String == "index not found: models/index.sqlite")
            }
            await holder.set(StubEngine())
            try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
        }
    }

    @Test func chatReturnsTheDocumentedShape() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/chat", method: .post, headers: [.contentType: "application/json; charset=utf-8"],
                                     body: json(["question": "Qu'est-ce que la Tatin ?", "top_k": 2,
                                                 "history": [["role": "user", "content": "Bonjour"], ["role": "assistant", "content": "Salut"]]])) { r in
                #expect(r.status == .ok)
                let o = r.object
                #expect(Set(o.keys) == ["question", "answer", "sources", "audio", "backend", "timings_ms"])
                #expect(o["question"] as? String == "Qu'est-ce que la Tatin ?")
                let sources = try #require(o["sources"] as? [[String: Any]])
                #expect(sources.count == 2)
                #expect(Set(sources[0].keys) == ["id", "file", "page", "score", "text"])
                #expect(sources[1]["page"] as? Int == 2)
                let audio = try #require(o["audio"] as? [String: String])
                #expect(audio["question"] == "/audio/\(StubEngine.wavID).wav")
                #expect((o["timings_ms"] as? [String: Double])?["total"] == 7)
            }
        }
    }

    @Test func chatInlineAudioIsBase64WAV() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/chat?audio=inline", method: .post, headers: jsonHeaders, body: json(["question": "Tatin ?"])) { r in
                #expect(r.status == .ok)
                let audio = try #require(r.object["audio"] as? [String: String])
                for key in ["question", "answer"] {
                    let base64 = try #require(audio[key])
                    let data = try #require(Data(base64Encoded: base64))
                    #expect(try WAV.parse(data).sampleRate == 22_050)
                }
            }
        }
    }

    @Test func badInput() async throws {
        let long = String(repeating: "é", count: 4_001)
        let cases: [(HTTPFields, ByteBuffer?, HTTPResponse.Status, String)] = [
            (jsonHeaders, json(["top_k": 3]), .badRequest, "missing_question"),
            (jsonHeaders, json(["question": ""]), .badRequest, "empty_question"),
            (jsonHeaders, json(["question": "   \n "]), .badRequest, "empty_question"),
            (jsonHeaders, json(["question": 42]), .badRequest, "invalid_question"),
            (jsonHeaders, json(["question": ["a"]]), .badRequest, "invalid_question"),
            (jsonHeaders, json(["question": NSNull()]), .badRequest, "invalid_question"),
            (jsonHeaders, json(["question": long]), .contentTooLarge, "question_too_long"),
            (jsonHeaders, ByteBuffer(string: "{\"question\": \"" + String(repeating: "a", count: 70_000) + "\"}"), .contentTooLarge, "payload_too_large"),
            ([.contentType: "text/plain"], ByteBuffer(string: "{\"question\": \"ok\"}"), .unsupportedMediaType, "unsupported_media_type"),
            ([:], ByteBuffer(string: "{\"question\": \"ok\"}"), .unsupportedMediaType, "unsupported_media_type"),
            ([.contentType: "application/x-www-form-urlencoded"], ByteBuffer(string: "question=ok"), .unsupportedMediaType, "unsupported_media_type"),
            (jsonHeaders, ByteBuffer(string: "{\"question\": "), .badRequest, "invalid_json"),
            (jsonHeaders, ByteBuffer(string: "[\"question\"]"), .badRequest, "invalid_json"),
            (jsonHeaders, nil, .badRequest, "invalid_json"),
            // Strict JSON: what Foundation's decoder would let through.
            (jsonHeaders, ByteBuffer(string: "{\"question\": \"ok\",}"), .badRequest, "invalid_json"),
            (jsonHeaders, ByteBuffer(string: "{\"question\": \"ok\", \"question\": \"autre\"}"), .badRequest, "invalid_json"),
            (jsonHeaders, ByteBuffer(string: "{\"question\": \"ok\", \"\\u0071uestion\": \"autre\"}"), .badRequest, "invalid_json"),
            (jsonHeaders, ByteBuffer(string: "{\"question\": \"ok\", \"history\": [{\"role\": \"user\", \"content\": \"x\"},]}"), .badRequest, "invalid_json"),
            (jsonHeaders, json(["question": "ok", "top_k": 0]), .badRequest, "invalid_top_k"),
            (jsonHeaders, json(["question": "ok", "top_k": "3"]), .badRequest, "invalid_top_k"),
            (jsonHeaders, json(["question": "ok", "top_k": 2.5]), .badRequest, "invalid_top_k"),
            (jsonHeaders, json(["question": "ok", "top_k": true]), .badRequest, "invalid_top_k"),
            (jsonHeaders, json(["question": "ok", "history": "x"]), .badRequest, "invalid_history"),
            (jsonHeaders, json(["question": "ok", "history": [["role": "robot", "content": "x"]]]), .badRequest, "invalid_history"),
            (jsonHeaders, json(["question": "ok", "history": [["role": "user"]]]), .badRequest, "invalid_history"),
        ]
        try await app.test(.router) { client in
            for path in ["/chat", "/chat/stream"] {
                for (i, (headers, body, status, code)) in cases.enumerated() {
                    try await client.execute(uri: path, method: .post, headers: headers, body: body) { r in
                        #expect(r.status == status, "\(path) case \(i)")
                        #expect(r.errorCode == code, "\(path) case \(i): \(r.text.prefix(200))")
                        #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
                    }
                }
            }
            // Commas, braces and escaped quotes inside strings are text; the same key in two objects is fine.
            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders,
                                     body: ByteBuffer(string: "{\"question\": \"a, } \\\" ,]\", \"history\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}")) { r in
                #expect(r.status == .ok, "\(r.text.prefix(200))")
            }
            // Exactly 4,000 characters is fine.
            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders,
                                     body: json(["question": String(repeating: "é", count: 4_000)])) { r in #expect(r.status == .ok) }
        }
    }

    @Test func engineErrorsMapToStatuses() async throws {
        let cases: [(RAGError, HTTPResponse.Status)] = [
            (.upstream(status: 401, message: "Unauthorized"), .badGateway),
            (.connection(url: "http://x", message: "refused"), .badGateway),
            (.timeout(what: "remote", seconds: 1), .gatewayTimeout),
            (.noBackend, .serviceUnavailable),
            (.retrieval("disk"), .internalServerError),
            (.indexUnavailable("postgres://ragchat@127.0.0.1:5432/ragchat: connection refused"), .serviceUnavailable),
        ]
        for (error, status) in cases {
            let app = buildApplication(testConfiguration(), engine: StubEngine(error: error))
            try await app.test(.router) { client in
                try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "ok"])) { r in
                    #expect(r.status == status)
                    #expect(r.errorCode == error.code)
                    // What failed, not where: no upstream address, no system error, no file.
                    #expect(r.errorMessage == error.clientMessage)
                    for detail in ["http://x", "refused", "disk", "Unauthorized"] {
                        #expect(r.errorMessage?.contains(detail) == false, "\(r.errorMessage ?? "")")
                    }
                }
            }
        }
    }

    @Test func requestTimeoutIs504() async throws {
        let app = buildApplication(testConfiguration { $0.requestTimeout = 0.2 }, engine: StubEngine(delay: 3))
        try await app.test(.router) { client in
            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "ok"])) { r in
                #expect(r.status == .gatewayTimeout)
                #expect(r.errorCode == "timeout")
            }
        }
    }

    @Test func fullQueueIs503WithRetryAfter() async throws {
        // One answer runs (held by the gate), one waits, the other two are turned away at once.
        let gate = LoadGate()
        let app = buildApplication(testConfiguration { $0.maxConcurrent = 1; $0.maxWaiting = 1; $0.queueTimeout = 600 }, engine: StubEngine(gate: gate))
        try await app.test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "ok"])) { r in
                            (r.status, r.headers[.retryAfter])
                        }
                    }
                }
                var out: [(HTTPResponse.Status, String?)] = []
                for try await s in group {
                    out.append(s)
                    if out.count == 2 { await gate.open() }
                }
                return out
            }
            #expect(statuses.prefix(2).allSatisfy { $0.0 == .serviceUnavailable && $0.1 == "2" })
            #expect(statuses.suffix(2).allSatisfy { $0.0 == .ok })
        }
    }

    @Test func streamIsServerSentEvents() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/chat/stream", method: .post, headers: jsonHeaders, body: json(["question": "Tatin ?"])) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/event-stream") == true)
                #expect(r.text.hasPrefix("event: sources\ndata: {"))
                #expect(r.text.hasSuffix("\n\n"))
                let events = sseEvents(r.text)
                #expect(events.map(\.event) == ["sources", "audio", "token", "token", "audio", "done"])
                #expect((events[0].data["sources"] as? [[String: Any]])?.count == 2)
                #expect(events[1].data["kind"] as? String == "question")
                #expect(events[2].data["text"] as? String == "La Tatin ")
                #expect(events[4].data["url"] as? String == "/audio/\(StubEngine.wavID).wav")
                #expect(events[5].data["answer"] as? String == "La Tatin est renversée [1].")
            }
        }
    }

    @Test func streamErrorsBecomeErrorEvents() async throws {
        let app = buildApplication(testConfiguration(), engine: StubEngine(streamError: .upstream(status: 500, message: "boom")))
        try await app.test(.router) { client in
            try await client.execute(uri: "/chat/stream", method: .post, headers: jsonHeaders, body: json(["question": "ok"])) { r in
                #expect(r.status == .ok)
                let events = sseEvents(r.text)
                #expect(events.map(\.event) == ["sources", "audio", "token", "error"])
                let error = try #require(events.last?.data["error"] as? [String: String])
                #expect(error["code"] == "upstream_error")
                #expect(error["message"] == "the remote API answered with an error (HTTP 500)")   // not the upstream's own words
            }
        }
    }

    @Test func audioRoute() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/audio/\(StubEngine.wavID).wav", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "audio/wav")
                #expect(Data(r.body.readableBytesView) == StubEngine.wav)
            }
            try await client.execute(uri: "/audio/\(StubEngine.wavID).mp3", method: .get) { r in #expect(r.status == .notFound) }
        }
    }

    @Test func metricsArePrometheusText() async throws {
        try await app.test(.router) { client in
            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "ok"])) { _ in }
            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": ""])) { _ in }
            try await client.execute(uri: "/nope/\(UUID())", method: .get) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let t = r.text
                #expect(t.contains("# TYPE ragchat_http_requests_total counter"))
                #expect(t.contains("ragchat_http_requests_total{route=\"/chat\",method=\"POST\",status=\"200\"} 1"))
                #expect(t.contains("ragchat_http_requests_total{route=\"/chat\",method=\"POST\",status=\"400\"} 1"))
                #expect(t.contains("ragchat_http_requests_total{route=\"unknown\",method=\"GET\",status=\"404\"} 1"))
                #expect(t.contains("# TYPE ragchat_stage_duration_seconds histogram"))
                for stage in ["retrieve", "generate", "speak"] {
                    #expect(t.contains("ragchat_stage_duration_seconds_bucket{stage=\"\(stage)\",le=\"+Inf\"} 1"), "\(stage)")
                    #expect(t.contains("ragchat_stage_duration_seconds_count{stage=\"\(stage)\"} 1"))
                }
                #expect(t.contains("ragchat_http_request_duration_seconds_bucket{route=\"/chat\",le=\"0.005\"}"))
                // Every non-comment line is `name{labels} value`.
                for line in t.split(separator: "\n") where !line.hasPrefix("#") {
                    #expect(line.split(separator: " ").count == 2, "\(line)")
                    #expect(Double(line.split(separator: " ").last ?? "") != nil, "\(line)")
                }
            }
        }
    }
}

@Suite struct RobustnessTests {
    /// Random bodies, content types, query strings and paths never produce a 5xx.
    @Test func garbageNeverCrashes() async throws {
        let app = buildApplication(testConfiguration(), engine: StubEngine())
        let types = ["application/json", "text/plain", "", "application/json; charset=latin1", "multipart/form-data"]
        let fragments = ["{", "}", "\"question\"", ":", "\"", "null", "[", "]", "1e999", "\\u0000", "\u{FFFF}", "é", ",", "true", "-0"]
        try await app.test(.router) { client in
            var rng = SystemRandomNumberGenerator()
            for i in 0..<150 {
                var body: [UInt8]
                if i % 3 == 0 {
                    body = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                } else {
                    body = Array((0..<Int.random(in: 1...20, using: &rng)).map { _ in fragments.randomElement(using: &rng)! }.joined().utf8)
                }
                let type = types[i % types.count]
                let headers: HTTPFields = type.isEmpty ? [:] : [.contentType: type]
                let path = ["/chat", "/chat/stream", "/chat?audio=inline&x=%zz", "/%zz", "/audio/%00.wav", "/..", "/health?%"][i % 7]
                let method: HTTPRequest.Method = [.post, .get, .put][i % 3]
                try await client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(bytes: body)) { r in
                    #expect(r.status.code < 500, "\(method) \(path) \(type): \(r.status) \(r.text.prefix(200))")
                }
            }
        }
    }
}

/// The committed OpenAPI document (`web/openapi.json`, served at `/openapi.json`) and the router
/// agree: every documented operation is routed, and every route is documented.
@Suite struct OpenAPIDocumentTests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../web/openapi.json").standardized

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteAnswers() async throws {
        let data = try Data(contentsOf: Self.document)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["openapi"] as? String == "3.1.0")
        let paths = try #require(root["paths"] as? [String: [String: Any]])
        // Routes with a path parameter, and a path they match.
        let parametrised = ["/audio/{file}": "/audio/x.wav", "/documents/{id}": "/documents/1", "/documents/{id}/file": "/documents/1/file"]
        let documented = Set(paths.keys).subtracting(parametrised.keys)
        #expect(documented == Set(RouteTable.api.map(\.path)), "documented \(documented.sorted()), routed \(RouteTable.api.map(\.path))")
        for (template, example) in parametrised {
            let methods = Set((paths[template] ?? [:]).keys.map { $0.uppercased() })
            #expect(!methods.isEmpty, "\(template) is documented")
            #expect(methods.isSubset(of: Set((RouteTable.allowed(path: example) ?? []).map(\.rawValue))), "\(template): \(methods)")
        }
        for route in RouteTable.api {
            let methods = Set((paths[route.path] ?? [:]).keys.map { $0.uppercased() })
            #expect(methods.isSubset(of: Set(route.methods.map(\.rawValue))), "\(route.path): \(methods)")
        }
        // Served as a page file, whatever the key.
        let app = buildApplication(testConfiguration { $0.webRoot = Self.document.deletingLastPathComponent().path
                                                       $0.serverKey = try? ServerKey("document-test-key-0123") },
                                   engine: StubEngine())
        try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(Data(buffer: r.body) == data)
            }
        }
    }
}

import Foundation
import Hummingbird
import HummingbirdTesting
import RAG
import Server
import Testing

/// The access rules' parts: the server key, the rate limiter's buckets, the Host allow-list,
/// the Origin check; and the key through the router.
@Suite struct AccessTests {
    @Test func serverKeyMatchesOnlyItselfAndNeverPrintsIt() throws {
        let key = try ServerKey("0123456789abcdef-secret")
        #expect(key.matches("0123456789abcdef-secret"))
        #expect(!key.matches("0123456789abcdef-secreT"))
        #expect(!key.matches("0123456789abcdef-secret "))
        #expect(!key.matches(""))
        #expect("\(key)" == "(set)")
        var configuration = ServerConfiguration()
        configuration.serverKey = key
        #expect(!"\(configuration)".contains("secret"))
        #expect(throws: ServerKey.Problem.self) { try ServerKey("short") }
        #expect(throws: ServerKey.Problem.self) { try ServerKey("has a space in the middle") }
        #expect(throws: ServerKey.Problem.self) { try ServerKey("line\nbreak-0123456789") }
    }

    @Test func rateLimiterRefillsAtItsRate() {
        let limiter = RateLimiter(limit: RateLimit(perMinute: 60, burst: 3))   // one per second
        // The burst, then a refusal with the wait until the next token.
        for _ in 0..<3 { #expect(limiter.take(client: "a", now: 100) == nil) }
        let wait = limiter.take(client: "a", now: 100)
        #expect(wait != nil && abs(wait! - 1) < 1e-9)
        // Another client has its own bucket.
        #expect(limiter.take(client: "b", now: 100) == nil)
        // Half a second later: still no token; one second later: one.
        #expect(limiter.take(client: "a", now: 100.5) != nil)
        #expect(limiter.take(client: "a", now: 101.0) == nil)
        #expect(limiter.take(client: "a", now: 101.0) != nil)
        // Never more than the burst, however long the client was away.
        for _ in 0..<3 { #expect(limiter.take(client: "a", now: 10_000) == nil) }
        #expect(limiter.take(client: "a", now: 10_000) != nil)
        // Off: always granted.
        let off = RateLimiter(limit: RateLimit(perMinute: 0, burst: 1))
        for _ in 0..<100 { #expect(off.take(client: "a", now: 0) == nil) }
    }

    @Test func hostAllowList() {
        let loopback = HostAllowList(configured: [], boundHost: "127.0.0.1")
        for allowed in ["localhost", "localhost:8080", "LOCALHOST.:8080", "127.0.0.1:8080", "[::1]:8080", "app.localhost:80"] {
            #expect(loopback.allows(authority: allowed), "\(allowed)")
        }
        for refused in ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.5.nip.io",
                        "host.docker.internal"] {
            #expect(!loopback.allows(authority: refused), "\(refused)")
        }
        #expect(loopback.allows(authority: nil))   // HTTP/1.0 without Host
        // An IP address cannot be rebound through DNS: a client on the network may use it.
        for address in ["10.0.0.5:8080", "[::2]:8080", "192.168.1.20", "[2001:db8::1]"] { #expect(loopback.allows(authority: address)) }
        #expect(HostAllowList(configured: ["box.lan:8080"], boundHost: "0.0.0.0").allows(authority: "box.lan:8080"))
        let named = HostAllowList(configured: ["rag.example", "10.0.0.5"], boundHost: "10.0.0.5")
        #expect(named.allows(authority: "RAG.example:8080") && named.allows(authority: "10.0.0.5:8080"))
        #expect(!named.allows(authority: "evil.example"))
        #expect(HostAllowList(configured: ["*"], boundHost: "0.0.0.0").allows(authority: "anything.example"))
        #expect(HostAllowList.hostPart(of: "[2001:db8::1]:443") == "2001:db8::1")
    }

    @Test func sameOrigin() {
        #expect(Origin.isSameOrigin("http://127.0.0.1:8080", authority: "127.0.0.1:8080"))
        #expect(Origin.isSameOrigin(Origin.normalise("HTTP://LocalHost:8080/"), authority: "localhost:8080"))
        #expect(Origin.isSameOrigin("http://example.org", authority: "example.org:80"))
        #expect(!Origin.isSameOrigin("http://evil.example", authority: "127.0.0.1:8080"))
        #expect(!Origin.isSameOrigin("http://127.0.0.1:9999", authority: "127.0.0.1:8080"))
        #expect(!Origin.isSameOrigin("null", authority: "127.0.0.1:8080"))
    }

    /// Through the router: with a key, every API route but /health answers 401 without it, the
    /// page stays public, and the right key opens everything.
    @Test func serverKeyGuardsTheAPI() async throws {
        let key = "route-test-key-0123456789"
        let app = buildApplication(testConfiguration { $0.serverKey = try? ServerKey(key) }, engine: StubEngine())
        let wav = "/audio/\(StubEngine.wavID).wav"
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
                #expect(body?["auth_required"] as? Bool == true)
            }
            try await client.execute(uri: "/", method: .get) { r in #expect(r.status == .ok) }
            // Every spelling of a route the router accepts (a trailing slash) needs the key too.
            let guarded: [(String, HTTPRequest.Method, ByteBuffer?)] = [
                ("/chat", .post, json(["question": "Tatin ?"])), ("/chat/stream", .post, json(["question": "Tatin ?"])),
                ("/metrics", .get, nil), (wav, .get, nil), ("/chat/", .post, json(["question": "Tatin ?"])),
                ("/metrics/", .get, nil), ("/v1/models", .get, nil), ("/v1/models/", .get, nil),
                ("/v1/chat/completions/", .post, json(["messages": [["role": "user", "content": "Tatin ?"]]])),
            ]
            for (uri, method, body) in guarded {
                for authorization in [nil, "Bearer wrong-key-0123456789", "Basic \(Data("a:\(key)".utf8).base64EncodedString())", key] {
                    var headers = jsonHeaders
                    if let authorization { headers[.authorization] = authorization }
                    try await client.execute(uri: uri, method: method, headers: headers, body: body) { r in
                        #expect(r.status == .unauthorized, "\(uri) with \(authorization ?? "nothing")")
                        #expect(r.errorCode == "unauthorized")
                        #expect(r.headers[.wwwAuthenticate] == "Bearer realm=\"ragchat\"")
                    }
                }
                var headers = jsonHeaders
                headers[.authorization] = "Bearer \(key)"
                try await client.execute(uri: uri, method: method, headers: headers, body: body) { r in
                    #expect(r.status == .ok, "\(uri) with the key")
                }
            }
        }
        // Without a key configured, nothing asks for one.
        try await buildApplication(testConfiguration(), engine: StubEngine()).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/health", method: .get) { r in
                let body = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
                #expect(body?["auth_required"] as? Bool == false)
            }
        }
    }

    @Test func rateLimitIs429WithRetryAfterOnTheAnsweringRoutesOnly() async throws {
        // One token a minute: the refusals below hold however slowly a loaded host runs the test.
        let app = buildApplication(testConfiguration { $0.rateLimit = RateLimit(perMinute: 1, burst: 2) }, engine: StubEngine())
        try await app.test(.router) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "Tatin ?"])) { r in
                    #expect(r.status == .ok)
                }
            }
            for uri in ["/chat", "/chat/stream", "/chat/", "/chat/stream/"] {
                try await client.execute(uri: uri, method: .post, headers: jsonHeaders, body: json(["question": "Tatin ?"])) { r in
                    #expect(r.status == .tooManyRequests)
                    #expect(r.errorCode == "rate_limited")
                    let retry = Int(r.headers[.retryAfter] ?? "") ?? 0
                    #expect(retry >= 1 && retry <= 60)
                }
            }
            // Health, audio and the page are not counted.
            for _ in 0..<5 {
                try await client.execute(uri: "/health", method: .get) { r in #expect(r.status == .ok) }
                try await client.execute(uri: "/audio/\(StubEngine.wavID).wav", method: .get) { r in #expect(r.status == .ok) }
            }
        }
    }

    @Test func otherOriginsAreRefusedUnlessAllowed() async throws {
        let app = buildApplication(testConfiguration { $0.corsOrigins = ["https://app.example"] }, engine: StubEngine())
        try await app.test(.router) { client in
            var evil = jsonHeaders
            evil[.origin] = "http://evil.example"
            try await client.execute(uri: "/chat", method: .post, headers: evil, body: json(["question": "Tatin ?"])) { r in
                #expect(r.status == .forbidden)
                #expect(r.errorCode == "origin_not_allowed")
                #expect(r.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/chat", method: .options, headers: [.origin: "http://evil.example",
                                                                               .accessControlRequestMethod: "POST"]) { r in
                #expect(r.status == .forbidden)
                #expect(r.headers[.accessControlAllowOrigin] == nil)
            }
            var app = jsonHeaders
            app[.origin] = "https://app.example"
            try await client.execute(uri: "/chat", method: .options, headers: [.origin: "https://app.example",
                                                                               .accessControlRequestMethod: "POST"]) { r in
                #expect(r.status == .noContent)
                #expect(r.headers[.accessControlAllowOrigin] == "https://app.example")
                #expect(r.headers[.accessControlAllowHeaders]?.lowercased().contains("authorization") == true)
            }
            try await client.execute(uri: "/chat", method: .post, headers: app, body: json(["question": "Tatin ?"])) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.accessControlAllowOrigin] == "https://app.example")
            }
            // An error answer to an allowed origin is JSON the page can read.
            try await client.execute(uri: "/chat", method: .post, headers: app, body: json(["question": ""])) { r in
                #expect(r.status == .badRequest)
                #expect(r.errorCode == "empty_question")
                #expect(r.headers[.accessControlAllowOrigin] == "https://app.example")
            }
        }
    }

    /// `/health` is public: the paths in a load failure are cut to file names.
    @Test func healthShowsFileNamesNotPaths() async throws {
        let state = ServerState(configuration: testConfiguration())
        await state.holder.fail("/home/me/private/models/index.sqlite: cannot open (no such file)")
        try await buildApplication(state).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .serviceUnavailable)
                let text = String(buffer: r.body)
                #expect(text.contains("index.sqlite: cannot open") && !text.contains("/home/me"), "\(text)")
            }
        }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The real `ragchat serve` with access rules: the client key, secrets that must not show, the
/// `Host` allow-list, other origins, the rate limit, and the start-up checks of these settings.
@Suite("ragchat serve access rules", .serialized)
struct ServeAccessTests {
    typealias Server = ServeTests.Server
    static let dataAvailable = ServeTests.dataAvailable
    static let key = "cli-test-key-0123456789abcdef"
    static let apiPassword = "hunter2-api-password"
    static let apiQueryKey = "zz-query-secret"

    /// One request over a raw socket, so that `Host` and `Origin` are exactly what is sent.
    static func send(_ port: Int, _ method: String, _ path: String, host: String = "127.0.0.1", headers: [String: String] = [:],
                     body: String? = nil) async throws -> RawResponse? {
        try await onThread {
            let socket = try RawSocket(port: port)
            var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
            socket.send(head + "\r\n" + (body ?? ""))
            return RawResponse(socket.read(timeout: 60).bytes)
        }
    }

    static let question = #"{"question": "Quel est le secret d'une bonne tarte aux pommes ?"}"#

    @Test(.enabled(if: dataAvailable)) func keyGuardsTheAPIAndNoSecretShows() async throws {
        // A remote API whose address holds a password and a key, at a port nobody listens on:
        // every answer falls back to the extractive one with a warning.
        let apiBase = "http://user:\(Self.apiPassword)@127.0.0.1:9/v1?api_key=\(Self.apiQueryKey)"
        let server = try Server(arguments: ["--backends", "remote,extractive"], index: try ServeAbuseTests.sharedIndex(),
                                environment: ["RAGCHAT_SERVER_KEY": Self.key, "RAGCHAT_API_BASE": apiBase])
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port
        let bearer = ["Authorization": "Bearer \(Self.key)"]
        var seen: [String] = []

        let health = try #require(try await Self.send(port, "GET", "/health"))
        #expect(health.status == 200 && health.text.contains("\"auth_required\":true"))
        #expect(!health.text.contains("sqlite") && !health.text.contains("127.0.0.1:9"), "\(health.text)")
        seen.append(health.text)
        #expect(try await Self.send(port, "GET", "/")?.status == 200)

        for (method, path, body) in [("POST", "/chat", Self.question), ("POST", "/chat/stream", Self.question),
                                     ("GET", "/metrics", nil), ("GET", "/audio/\(String(repeating: "ab", count: 16)).wav", nil)] {
            for headers in [[:], ["Authorization": "Bearer not-the-key-0123456789"], ["Authorization": Self.key]] {
                let r = try #require(try await Self.send(port, method, path, headers: headers, body: body))
                #expect(r.status == 401 && r.errorCode == "unauthorized", "\(path) \(headers): \(r.status) \(r.text)")
                #expect(r.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            }
        }
        let chat = try #require(try await Self.send(port, "POST", "/chat", headers: bearer, body: Self.question))
        #expect(chat.status == 200, "\(chat.text)")
        let answer = ServeTests.object(Data(chat.body))
        #expect(answer["backend"] as? String == "extractive")
        let warnings = answer["warnings"] as? [String] ?? []
        #expect(warnings == ["remote: the remote API could not be reached"], "\(warnings)")
        seen.append(chat.text)
        let stream = try #require(try await Self.send(port, "POST", "/chat/stream", headers: bearer, body: Self.question))
        #expect(stream.status == 200 && stream.text.contains("event: done"))
        seen.append(stream.text)
        if let clip = (answer["audio"] as? [String: Any])?["answer"] as? String {
            #expect(try await Self.send(port, "GET", clip, headers: bearer)?.status == 200)
        }
        let metrics = try #require(try await Self.send(port, "GET", "/metrics", headers: bearer))
        #expect(metrics.status == 200)
        seen.append(metrics.text)

        try await Task.sleep(nanoseconds: 300_000_000)
        seen.append(server.log)
        for text in seen {
            for secret in [Self.key, Self.apiPassword, Self.apiQueryKey] {
                #expect(!text.contains(secret), "a secret shows in: \(text.prefix(400))")
            }
        }
        #expect(server.log.contains("***@127.0.0.1:9"), "the log names the API without its credentials: \(server.log.suffix(600))")
    }

    @Test(.enabled(if: dataAvailable)) func hostOriginAndRateRules() async throws {
        let server = try Server(arguments: ["--backends", "extractive", "--allowed-hosts", "rag.example",
                                            "--cors-origins", "https://app.example", "--rate-limit", "2", "--rate-burst", "2"],
                                index: try ServeAbuseTests.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port

        // DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends its own name.
        for host in ["evil.example", "evil.example:\(port)", "127.0.0.1.nip.io:\(port)"] {
            let r = try #require(try await Self.send(port, "GET", "/health", host: host))
            #expect(r.status == 403 && r.errorCode == "host_not_allowed", "\(host): \(r.status)")
            let page = try #require(try await Self.send(port, "GET", "/", host: host))
            #expect(page.status == 403, "\(host) /: \(page.status)")
        }
        for host in ["127.0.0.1:\(port)", "localhost:\(port)", "rag.example", "RAG.example:\(port)"] {
            #expect(try await Self.send(port, "GET", "/health", host: host)?.status == 200, "\(host)")
        }

        // Another site's page: refused; the same origin and the configured one: served.
        let evil = try #require(try await Self.send(port, "POST", "/chat", headers: ["Origin": "http://evil.example"], body: Self.question))
        #expect(evil.status == 403 && evil.errorCode == "origin_not_allowed" && evil.headers["access-control-allow-origin"] == nil)
        let preflight = try #require(try await Self.send(port, "OPTIONS", "/chat",
                                                         headers: ["Origin": "https://app.example", "Access-Control-Request-Method": "POST"]))
        #expect(preflight.status == 204 && preflight.headers["access-control-allow-origin"] == "https://app.example")

        // The rate limit: two questions, then 429 with Retry-After.
        let same = ["Origin": "http://127.0.0.1:\(port)"]
        for _ in 0..<2 {
            let r = try #require(try await Self.send(port, "POST", "/chat", host: "127.0.0.1:\(port)", headers: same, body: Self.question))
            #expect(r.status == 200, "\(r.status) \(r.text.prefix(200))")
        }
        let limited = try #require(try await Self.send(port, "POST", "/chat", body: Self.question))
        #expect(limited.status == 429 && limited.errorCode == "rate_limited")
        #expect((Int(limited.headers["retry-after"] ?? "") ?? 0) >= 1)
        #expect(try await Self.send(port, "GET", "/health")?.status == 200)
    }

    @Test func startUpChecksOfTheAccessSettings() throws {
        let dir = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A key too short, a key file that is missing: exit 64 naming where the key came from.
        let short = try CLITests.run(["serve", "--print-settings"], in: ServeTests.root, environment: ["RAGCHAT_SERVER_KEY": "abc"])
        #expect(short.status == 64 && short.stderr.contains("RAGCHAT_SERVER_KEY") && short.stderr.contains("at least 16"), "\(short.stderr)")
        let missing = try CLITests.run(["serve", "--print-settings"], in: ServeTests.root,
                                       environment: ["RAGCHAT_SERVER_KEY_FILE": dir.appendingPathComponent("none").path])
        #expect(missing.status == 64 && missing.stderr.contains("RAGCHAT_SERVER_KEY_FILE"), "\(missing.stderr)")
        // A key file works and is never printed.
        let file = dir.appendingPathComponent("key")
        try Data("\(Self.key)\n".utf8).write(to: file)
        let shown = try CLITests.run(["serve", "--print-settings", "--api-base", "https://u:\(Self.apiPassword)@api.example/v1"],
                                     in: ServeTests.root, environment: ["RAGCHAT_SERVER_KEY_FILE": file.path])
        #expect(shown.status == 0 && shown.stdout.contains("serverKey: Optional((set))"), "\(shown.stdout)")
        #expect(!shown.stdout.contains(Self.key) && !shown.stdout.contains(Self.apiPassword), "\(shown.stdout)")
        // Never an option: command lines are visible to every user of the machine.
        let flag = try CLITests.run(["serve", "--server-key", Self.key, "--print-settings"], in: ServeTests.root)
        #expect(flag.status == 64)
        // A bad origin is named.
        let origin = try CLITests.run(["serve", "--print-settings", "--cors-origins", "app.example"], in: ServeTests.root)
        #expect(origin.status == 64 && origin.stderr.contains("--cors-origins"), "\(origin.stderr)")
    }

    @Test(.enabled(if: dataAvailable)) func listeningBeyondLoopbackWithoutAKeyWarns() async throws {
        let server = try Server(arguments: ["--backends", "extractive", "--host", "0.0.0.0"], index: try ServeAbuseTests.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        #expect(server.log.contains("without a server key"), "\(server.log)")
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The real `ragchat serve` against clients that misbehave, over raw sockets: streams abandoned at
/// any point, paths that try to leave the page folder, malformed framing, idle and slow
/// connections, HTTP/1.0, oversized bodies, a model that does not load.
@Suite("ragchat serve under abuse", .serialized)
struct ServeAbuseTests {
    typealias Server = ServeTests.Server
    static let dataAvailable = ServeTests.dataAvailable

    /// One index of `data/` for the whole suite (ingesting takes a few seconds); nil if it failed.
    static let index: URL? = {
        guard let dir = try? CLITests.temporaryDirectory() else { return nil }
        let path = dir.appendingPathComponent("index.sqlite")
        var arguments = ["ingest", "--data", ServeTests.root.appendingPathComponent("data").path, "--index", path.path]
        #if DEBUG
        arguments.append("--no-vectors")
        #endif
        guard let r = try? CLITests.run(arguments, in: ServeTests.root), r.status == 0 else { return nil }
        return path
    }()

    static func sharedIndex() throws -> URL { try #require(index, "ingest of data/ failed") }

    static let question = #"{"question": "Comment faire une tarte aux pommes ?"}"#

    static func post(_ path: String, body: String = question, version: String = "HTTP/1.1", extra: String = "") -> String {
        "POST \(path) \(version)\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n" + body
    }

    /// `/health`'s queue figures and status.
    static func health(_ server: Server) async throws -> (status: String, active: Int, waiting: Int, body: [String: Any]) {
        let (_, data, _) = try await ServeTests.request(server.base + "/health")
        let object = ServeTests.object(data)
        let queue = object["queue"] as? [String: Int] ?? [:]
        return (object["status"] as? String ?? "", queue["active"] ?? -1, queue["waiting"] ?? -1, object)
    }

    /// Polls `/health` until no generation runs or waits, or `timeout` seconds pass.
    static func waitForIdleQueue(_ server: Server, timeout: Double) async throws -> (active: Int, waiting: Int) {
        let deadline = Date().addingTimeInterval(timeout)
        var last = (active: -1, waiting: -1)
        while Date() < deadline {
            let h = try await health(server)
            last = (h.active, h.waiting)
            if last == (0, 0) { return last }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        return last
    }

    // MARK: Aborted streams

    /// How one client of the storm vanishes.
    struct Vanish: CustomStringConvertible, Sendable {
        enum Point: Sendable { case midRequest, afterSending(ms: Int), afterReading(bytes: Int) }
        var startMs: Int
        var point: Point
        var reset: Bool
        var description: String { "start +\(startMs) ms, \(point), \(reset ? "RST" : "FIN")" }
    }

    @Test(.enabled(if: dataAvailable)) func abandonedStreamsGiveTheirSlotsBack() async throws {
        let server = try Server(arguments: ["--backends", "extractive", "--max-queue", "40", "--queue-timeout", "5"],
                                index: try Self.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port

        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = SeededGenerator(seed: seed)
        let plans: [Vanish] = (0..<60).map { i in
            let point: Vanish.Point
            switch i % 3 {
            case 0: point = .midRequest
            case 1: point = .afterSending(ms: Int.random(in: 0...400, using: &rng))
            default: point = .afterReading(bytes: Int.random(in: 1...6_000, using: &rng))
            }
            return Vanish(startMs: Int.random(in: 0...600, using: &rng), point: point, reset: Bool.random(using: &rng))
        }
        let request = Array(Self.post("/chat/stream").utf8)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for plan in plans {
                group.addTask {
                    try await onThread {
                        usleep(UInt32(plan.startMs * 1000))
                        let socket = try RawSocket(port: port)
                        switch plan.point {
                        case .midRequest:
                            socket.send(Array(request[..<(request.count - 20)]))
                            usleep(UInt32.random(in: 0...50_000))
                        case .afterSending(let ms):
                            socket.send(request)
                            usleep(UInt32(ms * 1000))
                        case .afterReading(let n):
                            socket.send(request)
                            _ = socket.read(timeout: 10) { $0.count >= n }
                        }
                        if plan.reset { socket.reset() } else { socket.close() }
                    }
                }
            }
            try await group.waitForAll()
        }

        // Every slot and queue place comes back.
        let queue = try await Self.waitForIdleQueue(server, timeout: 20)
        #expect(queue == (0, 0), "after the storm (seed \(seed)): \(queue.active) active, \(queue.waiting) waiting")

        // Twenty ordinary requests, four at a time, are all answered.
        let base = server.base
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var problems: [String] = []
                    for i in 0..<5 {
                        let path = (worker + i).isMultiple(of: 2) ? "/chat" : "/chat/stream"
                        let (status, body, _) = try await ServeTests.request(base + path, method: "POST",
                                                                            json: ["question": "Quel est le secret d'une bonne tarte aux pommes ?"])
                        if status != 200 {
                            problems.append("\(path): \(status) \(String(decoding: body, as: UTF8.self).prefix(200))")
                        } else if path == "/chat/stream", ServeTests.events(body).last?.name != "done" {
                            problems.append("\(path): stream did not end with done")
                        }
                    }
                    return problems
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.isEmpty, "seed \(seed): \(results)")
        let after = try await Self.health(server)
        #expect(after.status == "ok" && after.active == 0 && after.waiting == 0, "\(after.body)")
    }

    // MARK: Static files

    @Test(.enabled(if: dataAvailable)) func staticRouteServesOnlyFilesInsideThePageFolder() async throws {
        let site = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: site) }
        let web = site.appendingPathComponent("web")
        let fm = FileManager.default
        for dir in ["web/sub", "web/.git", "private"] {
            try fm.createDirectory(at: site.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        let files = ["web/index.html": "<html>RAGChat page</html>", "web/style.css": "body { color: black }",
                     "web/sub/page.html": "<p>sub page</p>", "web/.env": "SECRET_ENV=1", "web/.git/config": "SECRET_GIT",
                     "secret.txt": "TOP SECRET", "private/key.txt": "SECRET_KEY"]
        for (path, text) in files { try Data(text.utf8).write(to: site.appendingPathComponent(path)) }
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("passwd").path, withDestinationPath: "/etc/passwd")
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("outside.txt").path, withDestinationPath: "../secret.txt")
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("outdir").path, withDestinationPath: site.appendingPathComponent("private").path)
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("alias.css").path, withDestinationPath: "style.css")
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("env.txt").path, withDestinationPath: ".env")
        mkfifo(web.appendingPathComponent("fifo").path, 0o644)

        let server = try Server(arguments: ["--backends", "extractive", "--web", web.path], index: try Self.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port

        func get(_ target: String, method: String = "GET", headers: String = "") async throws -> RawResponse? {
            try await onThread {
                let socket = try RawSocket(port: port)
                socket.send("\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)Connection: close\r\n\r\n")
                return RawResponse(socket.read(timeout: 10).bytes)
            }
        }

        let served: [(String, String, String)] = [("/", "text/html", "RAGChat page"), ("/index.html", "text/html", "RAGChat page"),
                                                  ("/style.css", "text/css", "color"), ("/alias.css", "text/css", "color"),
                                                  ("/sub/page.html", "text/html", "sub page")]
        for (target, type, marker) in served {
            let r = try await get(target)
            #expect(r?.status == 200 && r?.headers["content-type"]?.hasPrefix(type) == true && r?.text.contains(marker) == true,
                    "\(target): \(String(describing: r?.status)) \(r?.text.prefix(100) ?? "")")
        }
        let head = try await get("/", method: "HEAD")
        #expect(head?.status == 200 && head?.body.isEmpty == true && Int(head?.headers["content-length"] ?? "") ?? 0 > 0)
        let css = try await get("/style.css")
        let etag = try #require(css?.headers["etag"])
        #expect(css?.headers["last-modified"] != nil)
        let cached = try await get("/style.css", headers: "If-None-Match: \(etag)\r\n")
        #expect(cached?.status == 304)

        let refused = ["/passwd", "/outside.txt", "/env.txt", "/outdir/key.txt", "/outdir/", "/fifo", "/.env", "/.git/config", "/%2eenv", "/%2Eenv",
                       "/index.html%00", "/index.html%00.txt", "/style.css%00.html", "/../secret.txt", "/sub/../../secret.txt",
                       "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/..%2fsecret.txt", "/..%2Fsecret.txt", "/..%5csecret.txt",
                       "/sub%2fpage.html", "/sub%5cpage.html", "/sub%2Fpage.html", "/%252e%252e/secret.txt", "/.%2e/secret.txt",
                       "/sub/..%2f..%2fsecret.txt", "/%c0%ae%c0%ae/secret.txt", "/sub\\page.html", "/..\\secret.txt", "/sub/.",
                       "/./index.html", "//etc/passwd"]
        for target in refused {
            let r = try await get(target)
            #expect(r?.status == 404, "\(target): \(String(describing: r?.status)) \(r?.text.prefix(120) ?? "")")
            for secret in ["SECRET", "root:"] { #expect(r?.text.contains(secret) != true, "\(target) leaked \(secret)") }
        }
    }

    // MARK: Framing

    @Test(.enabled(if: dataAvailable)) func malformedChunkedBodiesAre400AndClose() async throws {
        let server = try Server(arguments: ["--backends", "extractive"], index: try Self.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port
        let head = "POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        let cases = [
            ("Transfer-Encoding: xchunked", head + "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            ("bad chunk size", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
            ("chunk-size overflow", head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
            ("bad chunk end", head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
            ("length and chunked", head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        ]
        for (name, bytes) in cases {
            let (response, end) = try await onThread { () -> (RawResponse?, RawSocket.End) in
                let socket = try RawSocket(port: port)
                socket.send(bytes)
                let (data, end) = socket.read(timeout: 5)
                return (RawResponse(data), end)
            }
            #expect(response?.status == 400, "\(name): \(String(describing: response?.status)) \(response?.text.prefix(200) ?? "")")
            if let response, !response.body.isEmpty { #expect(response.errorCode != nil, "\(name): \(response.text.prefix(200))") }
            #expect(end == .closed || end == .reset, "\(name): the connection stayed open")
        }
        #expect(try await Self.health(server).status == "ok")
    }

    // MARK: Timeouts

    @Test(.enabled(if: dataAvailable)) func idleAndSlowConnectionsAreClosed() async throws {
        // One-second timeouts (variables, so that a build without these settings still starts).
        let server = try Server(arguments: ["--backends", "extractive"], index: try Self.sharedIndex(),
                                environment: ["RAGCHAT_IDLE_TIMEOUT": "1", "RAGCHAT_HEADER_TIMEOUT": "1", "RAGCHAT_BODY_TIMEOUT": "1"])
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port
        let cases: [(String, @Sendable (RawSocket) -> Void)] = [
            ("idle socket", { _ in }),
            ("partial request line", { $0.send("GET /health HT") }),
            ("partial head", { $0.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ") }),
            ("body of 100 bytes, 10 sent", { $0.send("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"question") }),
            ("idle after a response", { socket in
                socket.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                _ = socket.readResponse(timeout: 5)
            }),
        ]
        let outcomes = try await withThrowingTaskGroup(of: (String, RawSocket.End, Double).self) { group in
            for (name, act) in cases {
                group.addTask {
                    try await onThread {
                        let socket = try RawSocket(port: port)
                        act(socket)
                        let start = Date()
                        let end = socket.read(timeout: 8).end
                        return (name, end, Date().timeIntervalSince(start))
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (name, end, seconds) in outcomes {
            #expect(end == .closed || end == .reset, "\(name): still open after \(seconds) s")
            #expect(seconds < 5, "\(name): closed after \(seconds) s")
        }
        #expect(try await Self.health(server).status == "ok")
    }

    // MARK: Connection close

    @Test(.enabled(if: dataAvailable)) func http10ConnectionsCloseAfterTheResponse() async throws {
        let server = try Server(arguments: ["--backends", "extractive"], index: try Self.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port
        // HTTP/1.0 without keep-alive: the server closes once the response is written.
        for (name, request) in [("GET /health", "GET /health HTTP/1.0\r\n\r\n"),
                                ("POST /chat", Self.post("/chat", version: "HTTP/1.0")),
                                ("POST /chat/stream", Self.post("/chat/stream", version: "HTTP/1.0")),
                                ("HTTP/1.1 Connection: close", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")] {
            let (bytes, end) = try await onThread { () -> ([UInt8], RawSocket.End) in
                let socket = try RawSocket(port: port)
                socket.send(request)
                return socket.read(timeout: 20)
            }
            let response = RawResponse(bytes)
            #expect(response?.status == 200, "\(name): \(String(describing: response?.status))")
            #expect(end == .closed, "\(name): \(end)")
            if name == "POST /chat/stream" {
                #expect(response?.headers["transfer-encoding"] == nil, "HTTP/1.0 has no chunked encoding")
                #expect(response?.text.contains("event: done") == true, "\(response?.text.suffix(200) ?? "")")
            }
        }
        // HTTP/1.0 with keep-alive stays open for a second request.
        let twice = try await onThread { () -> [Int?] in
            let socket = try RawSocket(port: port)
            var statuses: [Int?] = []
            for _ in 0..<2 {
                socket.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let (bytes, _) = socket.read(timeout: 5) { RawResponse.complete($0) }
                statuses.append(RawResponse(bytes)?.status)
            }
            return statuses
        }
        #expect(twice == [200, 200])
    }

    @Test(.enabled(if: dataAvailable)) func rejectedBodiesCloseTheConnection() async throws {
        let server = try Server(arguments: ["--backends", "extractive"], index: try Self.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port
        let big = "{\"question\": \"" + String(repeating: "a", count: 70_000) + "\"}"
        let chunked = "POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (0..<20).map { _ in "1000\r\n" + String(repeating: "a", count: 4096) + "\r\n" }.joined()
        let cases = [
            ("announced 100,000 bytes, 1,000 sent", Self.post("/chat", body: big).replacingOccurrences(of: "Content-Length: \(big.utf8.count)", with: "Content-Length: 100000").prefix(1_200).description),
            ("70,000 bytes sent", Self.post("/chat", body: big)),
            ("80 KB chunked", chunked),
            ("415 with a body", "POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 50000\r\n\r\n" + String(repeating: "b", count: 1000)),
        ]
        for (name, request) in cases {
            let (bytes, end) = try await onThread { () -> ([UInt8], RawSocket.End) in
                let socket = try RawSocket(port: port)
                socket.send(request)
                return socket.read(timeout: 5)
            }
            let response = RawResponse(bytes)
            #expect(response?.status == 413 || (name.hasPrefix("415") && response?.status == 415), "\(name): \(String(describing: response?.status))")
            #expect(response?.errorCode != nil, "\(name): \(response?.text.prefix(200) ?? "")")
            #expect(end == .closed || end == .reset, "\(name): the connection stayed open")
        }
        #expect(try await Self.health(server).status == "ok")
    }

    // MARK: Health

    @Test(.enabled(if: dataAvailable)) func healthIsDegradedWhenAConfiguredBackendFailsToLoad() async throws {
        let dir = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let broken = dir.appendingPathComponent("broken.gguf")
        try Data("GGUF\u{3}\0\0\0 not a model".utf8).write(to: broken)
        let server = try Server(arguments: ["--backends", "local,extractive", "--model", broken.path], index: try Self.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let (status, data, _) = try await ServeTests.request(server.base + "/health")
        let object = ServeTests.object(data)
        #expect(status == 200, "still answering with the other backend")
        #expect(object["status"] as? String == "degraded", "\(object)")
        let reasons = object["reasons"] as? [String] ?? []
        #expect(reasons.contains { $0.contains("local") && $0.contains("broken.gguf") }, "\(reasons)")
        let (chatStatus, chat, _) = try await ServeTests.request(server.base + "/chat", method: "POST", json: ["question": "Comment faire une tarte aux pommes ?"])
        #expect(chatStatus == 200 && ServeTests.object(chat)["backend"] as? String == "extractive")
    }
}

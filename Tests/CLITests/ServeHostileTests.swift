import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// A hostile HTTP corpus against the real `ragchat serve`: malformed and mistyped JSON, huge
/// bodies and questions, non-UTF-8 and NUL bytes, deep nesting, Unicode edge cases, traversal
/// in every encoding (symbolic links included), method abuse, header floods, malformed
/// chunking and request lines. Each case is sent raw; none may crash the server, get a 5xx,
/// or return a byte of a file outside the page folder, and the server answers `/health` after.
@Suite("ragchat serve against a hostile corpus", .serialized)
struct ServeHostileTests {
    typealias Server = ServeTests.Server

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var description: String { name }
    }

    static func request(_ method: String = "POST", _ path: String = "/chat", body: [UInt8], headers: String = "",
                        contentType: String = "application/json") -> [UInt8] {
        Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\(headers)Connection: close\r\n\r\n".utf8) + body
    }
    static func post(_ body: String, path: String = "/chat") -> [UInt8] { request("POST", path, body: Array(body.utf8)) }
    static func raw(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The corpus (≥ 150 cases).
    static func corpus() -> [Case] {
        var cases: [Case] = []
        func add(_ name: String, _ bytes: [UInt8]) { cases.append(Case(name: name, bytes: bytes)) }

        // Malformed JSON.
        let malformed = ["", "{", "}", "[]", "null", "\"question\"", "123", "{\"question\":}", "{\"question\": \"a\",}",
                         "{\"question\": \"a\", \"question\": \"b\"}", "{'question': 'a'}", "{question: \"a\"}",
                         "{\"question\": \"a\" /* c */}", "{\"question\": NaN}", "{\"question\": \"a\", \"top_k\": Infinity}",
                         "{\"question\": \"a\", \"top_k\": 1e999}", "{\"question\": \"a", "{\"question\": \"\\x41\"}",
                         "{\"question\": \"\\u12\"}", "{\"question\": \"\\ud800\"}", "{\"question\": \"\\udc00\\ud800\"}",
                         "\u{FEFF}{\"question\": \"a\"}", "{\"question\": \"a\"} {\"question\": \"b\"}", "{\"question\": \"a\"}garbage",
                         "{\"question\"\u{0}: \"a\"}", "{\"question\": \"tab\there\"}", "{\"question\": \"line\nbreak\"}",
                         "{\"question\": tru}", "{\"question\": \"a\", \"history\": [}", "{,}", "{\"\": \"a\"}", "[{\"question\": \"a\"}]"]
        for (i, body) in malformed.enumerated() { add("malformed JSON \(i): \(body.prefix(30))", post(body)) }
        add("deep array nesting", post(String(repeating: "[", count: 100_000)))
        add("deep object nesting", post(String(repeating: "{\"a\":", count: 20_000) + "1" + String(repeating: "}", count: 20_000)))
        add("deep nesting in history", post("{\"question\": \"a\", \"history\": " + String(repeating: "[", count: 50_000) + "}"))
        add("UTF-16 body", request(body: Array("{\"question\": \"a\"}".utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })))

        // Wrong types and values.
        let typed = ["{\"question\": 1}", "{\"question\": true}", "{\"question\": null}", "{\"question\": []}", "{\"question\": {}}",
                     "{\"question\": \"a\", \"top_k\": \"5\"}", "{\"question\": \"a\", \"top_k\": 5.5}", "{\"question\": \"a\", \"top_k\": -1}",
                     "{\"question\": \"a\", \"top_k\": 0}", "{\"question\": \"a\", \"top_k\": 10000000000}", "{\"question\": \"a\", \"top_k\": 21}",
                     "{\"question\": \"a\", \"top_k\": 9223372036854775808}", "{\"question\": \"a\", \"history\": \"x\"}",
                     "{\"question\": \"a\", \"history\": [1]}", "{\"question\": \"a\", \"history\": [{\"role\": \"system\", \"content\": \"x\"}]}",
                     "{\"question\": \"a\", \"history\": [{\"role\": \"user\"}]}", "{\"question\": \"a\", \"history\": [{\"role\": \"user\", \"content\": 5}]}",
                     "{\"question\": \"a\", \"history\": null}", "{\"question\": \"   \"}", "{\"question\": \"\"}", "{}",
                     "{\"questions\": \"a\"}", "{\"question\": \"a\", \"extra\": {\"deep\": [1, 2, {\"x\": null}]}}"]
        for (i, body) in typed.enumerated() {
            add("wrong type \(i): \(body.prefix(40))", post(body))
            if i % 3 == 0 { add("wrong type \(i) on the stream", post(body, path: "/chat/stream")) }
        }

        // Huge.
        add("question of 100,000 characters", post("{\"question\": \"" + String(repeating: "é", count: 100_000) + "\"}"))
        add("question of 3,999 characters", post("{\"question\": \"" + String(repeating: "tarte ", count: 666) + "\"}"))
        add("body of 1 MB", post("{\"question\": \"a\", \"pad\": \"" + String(repeating: "x", count: 1 << 20) + "\"}"))
        add("Content-Length of 10 GB, little sent", raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{\"question\""))
        add("history of 1,000 messages", post("{\"question\": \"a\", \"history\": [" + Array(repeating: "{\"role\": \"user\", \"content\": \"x\"}", count: 1000).joined(separator: ",") + "]}"))
        add("10,000 keys", post("{" + (0..<10_000).map { "\"k\($0)\": 1" }.joined(separator: ",") + ", \"question\": \"a\"}"))
        add("a 60 KB number", post("{\"question\": \"a\", \"top_k\": " + String(repeating: "9", count: 60_000) + "}"))

        // Bytes that are not UTF-8, and NUL.
        let badBytes: [[UInt8]] = [[0xff, 0xfe], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80],
                                   [0x80], [0xc3], [0x00], [0xf4, 0x90, 0x80, 0x80]]
        for (i, bytes) in badBytes.enumerated() {
            add("non-UTF-8 question \(i)", request(body: Array("{\"question\": \"tarte ".utf8) + bytes + Array(" ?\"}".utf8)))
        }
        add("NUL in the path", raw("GET /index.html\u{0}.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        add("NUL in a header", raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\u{0}b\r\n\r\n"))
        add("NUL body", request(body: [UInt8](repeating: 0, count: 4096)))

        // Unicode edge cases (valid questions).
        let unicode = ["\u{202E}setrat sed terces el tse leuQ", "tar\u{200B}te aux pom\u{200D}mes ?", "e" + String(repeating: "\u{0301}", count: 2000),
                       "👩‍👩‍👧‍👦🥧🍎 ?", "\u{FFFD}\u{E000}\u{10FFFD}" + String(UnicodeScalar(0xFDD0)!) + String(UnicodeScalar(0xFFFF)!), "𝕋𝕒𝕣𝕥𝕖 𝕒𝕦𝕩 𝕡𝕠𝕞𝕞𝕖𝕤", "ｔａｒｔｅ　ａｕｘ　ｐｏｍｍｅｓ", "Ｑ\u{0000}uel",
                       "tarte\u{0007}\u{001B}[31m", "ﬁchier ﬂeur", "İstanbul ǅ ß ẞ", "\\\"escapes\\\" \\\\ \\/", "<script>alert(1)</script>",
                       "'; DROP TABLE chunks; --", "tarte\" OR 1=1 --", "NEAR(tarte pommes) AND * OR \"", "^$.*+?()[]{}|\\\\"]
        for (i, text) in unicode.enumerated() {
            let data = try? JSONSerialization.data(withJSONObject: ["question": text])
            add("unicode \(i): \(text.unicodeScalars.prefix(12).map { String(format: "%04X", $0.value) }.joined(separator: " "))",
                request(body: Array(data ?? Data())))
        }

        // Traversal, in every encoding, and symbolic links out of the page folder.
        let targets = ["/passwd", "/outside.txt", "/outdir/key.txt", "/.env", "/%2eenv", "/../secret.txt", "/%2e%2e/secret.txt",
                       "/%2e%2e%2fsecret.txt", "/..%2fsecret.txt", "/..%5csecret.txt", "/%252e%252e/secret.txt", "/.%2e/secret.txt",
                       "/%c0%ae%c0%ae/secret.txt", "/..\\secret.txt", "//etc/passwd", "/%2F%2Fetc%2Fpasswd", "/..;/secret.txt",
                       "/index.html/../../secret.txt", "/%u002e%u002e/secret.txt", "/..%c0%afsecret.txt", "/%e0%80%ae%e0%80%ae/secret.txt",
                       "/audio/../../secret.txt", "/audio/..%2f..%2fsecret.txt", "/audio/%2e%2e%2f%2e%2e%2fsecret.txt.wav",
                       "http://127.0.0.1/../secret.txt", "*", "/" + String(repeating: "../", count: 50) + "etc/passwd",
                       "/./././../secret.txt", "/sub/./../../secret.txt", "/.git/config"]
        for target in targets {
            add("traversal GET \(target.prefix(40))", raw("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
        }
        add("traversal HEAD /passwd", raw("HEAD /passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))

        // Methods.
        for method in ["PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "OPTIONS", "PROPFIND", "FOO", "get", "G E T"] {
            for path in ["/chat", "/health", "/", "/audio/x.wav"] {
                add("method \(method) \(path)", raw("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
            }
        }

        // Headers.
        add("1,000 headers", raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (0..<1000).map { "X-H\($0): v\r\n" }.joined() + "\r\n"))
        add("a 100 KB header", raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n"))
        add("a header without colon", raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\n\r\n"))
        add("an obs-fold header", raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n\r\n"))
        add("two different Content-Lengths", raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n{\"question\": \"a\"}"))
        add("Content-Length and chunked", raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
        add("Content-Length abc", raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"))
        add("Content-Length -1", raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n"))
        add("two Hosts", raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"))
        add("a 100 KB request target", raw("GET /" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        add("Authorization junk", raw("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \u{1}\u{2}" + String(repeating: "k", count: 5000) + "\r\nConnection: close\r\n\r\n"))
        add("Content-Type junk", request(body: Array("{\"question\": \"a\"}".utf8), contentType: "application/json; charset=\u{1}; boundary=" + String(repeating: "-", count: 3000)))
        add("Expect 100-continue, no body", raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n"))

        // Chunked framing.
        let chunkedHead = "POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for (i, body) in ["zz\r\nabc\r\n0\r\n\r\n", "5\r\nabc\r\n0\r\n\r\n", "ffffffffffffffff\r\na\r\n", "3;ext=\"x\r\nabc\r\n0\r\n\r\n",
                          "3\nabc\n0\n\n", "-1\r\n\r\n", "0\r\nX-Trailer: " + String(repeating: "t", count: 20_000) + "\r\n\r\n",
                          "11\r\n{\"question\": \"a\"}\r\n0\r\n\r\n", "1\r\n{\r\n"].enumerated() {
            add("chunked \(i)", raw(chunkedHead + body))
        }
        add("chunked, gzip-coded", raw("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n"))

        // Request lines that are not HTTP/1.x.
        for (i, line) in ["GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\r\n\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n",
                          "GET  /  HTTP/1.1\r\n\r\n", "/ HTTP/1.1\r\n\r\n", "GET /health HTTP/1.1\n\n"].enumerated() {
            add("request line \(i)", raw(line))
        }
        add("TLS ClientHello", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + [UInt8](repeating: 0x42, count: 300))
        var rng = SystemRandomNumberGenerator()
        for i in 0..<5 { add("random bytes \(i)", (0..<(512 << i)).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        return cases
    }

    @Test(.enabled(if: ServeTests.dataAvailable)) func noCrashNo5xxNoLeak() async throws {
        let cases = Self.corpus()
        #expect(cases.count >= 150)
        // A page folder with secrets beside it and links that point at them.
        let site = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: site) }
        let web = site.appendingPathComponent("web"), fm = FileManager.default
        try fm.createDirectory(at: web.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try fm.createDirectory(at: site.appendingPathComponent("private"), withIntermediateDirectories: true)
        try Data("<html>page</html>".utf8).write(to: web.appendingPathComponent("index.html"))
        try Data("SECRET-OUTSIDE".utf8).write(to: site.appendingPathComponent("secret.txt"))
        try Data("SECRET-PRIVATE".utf8).write(to: site.appendingPathComponent("private/key.txt"))
        try Data("SECRET-DOTFILE".utf8).write(to: web.appendingPathComponent(".env"))
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("passwd").path, withDestinationPath: "/etc/passwd")
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("outside.txt").path, withDestinationPath: "../secret.txt")
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("outdir").path, withDestinationPath: site.appendingPathComponent("private").path)
        try fm.createSymbolicLink(atPath: web.appendingPathComponent("sub/loop").path, withDestinationPath: web.appendingPathComponent("sub").path)

        let server = try Server(arguments: ["--backends", "extractive", "--web", web.path, "--max-queue", "64",
                                            // Half-sent requests are cut after 2 s instead of 10–30 s.
                                            "--header-timeout", "2", "--body-timeout", "2"],
                                index: try ServeAbuseTests.sharedIndex())
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port
        var statuses: [Int: Int] = [:]
        var closedWithoutAnswer = 0
        var slow: [String] = []
        for item in cases {
            let bytes = item.bytes
            let started = Date()
            let (received, _) = try await onThread { () -> ([UInt8], RawSocket.End) in
                let socket = try RawSocket(port: port)
                socket.send(bytes)
                // A complete response ends the wait: some cases leave the connection open.
                return socket.read(timeout: 30) { RawResponse.complete($0) }
            }
            let response = RawResponse(received)
            if Date().timeIntervalSince(started) > 3 { slow.append("\(item) \(Int(Date().timeIntervalSince(started))) s") }
            if let status = response?.status { statuses[status, default: 0] += 1 } else { closedWithoutAnswer += 1 }
            #expect((response?.status ?? 0) < 500, "\(item): \(response?.status ?? 0) \(response?.text.prefix(200) ?? "")")
            let text = String(decoding: received, as: UTF8.self)
            for secret in ["SECRET-", "root:x:0"] { #expect(!text.contains(secret), "\(item) leaked \(secret)") }
            guard server.process.isRunning else {
                Issue.record("the server died on \(item): \(server.log.suffix(2000))")
                return
            }
        }
        let (status, _, _) = try await ServeTests.request(server.base + "/health")
        #expect(status == 200)
        print("hostile corpus: \(cases.count) cases, statuses \(statuses.sorted { $0.key < $1.key }), closed without an answer \(closedWithoutAnswer); slower than 3 s: \(slow)")
    }
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The real `ragchat serve` binary on a free port with a temporary index of `data/`, over HTTP.
@Suite("ragchat serve", .serialized)
struct ServeTests {
    static let root = CLITests.repositoryRoot
    static let dataAvailable = FileManager.default.fileExists(atPath: root.appendingPathComponent("data/connaissances.txt").path)

    /// A running `ragchat serve`, stopped with SIGTERM.
    final class Server {
        let process: Process
        let base: String
        let output = OutputBuffer()
        let work: URL

        /// - Parameters:
        ///   - extra: more `serve` options (later options win over the defaults above them).
        ///   - index: an index to reuse (nil: `data/` is ingested into a temporary one).
        ///   - environment: more `RAGCHAT_*` variables for the server.
        init(arguments extra: [String] = [], index: URL? = nil, environment extraEnvironment: [String: String] = [:]) throws {
            work = try CLITests.temporaryDirectory()
            // A copy of data/: the server manages its data folder (uploads, deletions), and tests
            // (schemathesis among them) must never change the repository's.
            let data = work.appendingPathComponent("data")
            try FileManager.default.copyItem(at: ServeTests.root.appendingPathComponent("data"), to: data)
            let indexPath = index ?? work.appendingPathComponent("index.sqlite")
            if index == nil {
                var ingestArguments = ["ingest", "--data", data.path, "--index", indexPath.path]
                #if DEBUG
                ingestArguments.append("--no-vectors")   // the unoptimised encoder is too slow for a test
                #endif
                let ingest = try CLITests.run(ingestArguments, in: ServeTests.root)
                #expect(ingest.status == 0, "\(ingest.stderr)")
            }
            let port = try ServeTests.freePort()
            base = "http://127.0.0.1:\(port)"
            process = Process()
            process.executableURL = try CLITests.binary()
            var arguments = ["serve", "--host", "127.0.0.1", "--port", String(port), "--index", indexPath.path,
                             "--data", data.path, "--audio-cache", "", "--backends", "remote,local,extractive", "--rate-limit", "0"]
            #if DEBUG
            // The unoptimised encoder and language model make each answer take long: keyword search
            // and the extractive backend only in debug.
            arguments += ["--encoder", work.appendingPathComponent("no-encoder").path, "--backends", "extractive"]
            #endif
            process.arguments = arguments + extra
            process.currentDirectoryURL = ServeTests.root   // web/ and models/ are found from here
            var environment = ProcessInfo.processInfo.environment
            environment.removeValue(forKey: "RAGCHAT_API_BASE")
            environment.merge(extraEnvironment) { _, new in new }
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            process.standardInput = FileHandle.nullDevice
            let output = self.output
            pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
            try process.run()
        }

        var log: String { output.text }

        /// The port it listens on.
        var port: Int { Int(base.split(separator: ":").last ?? "") ?? 0 }

        /// Polls `/health` until 200 (or the process exits).
        func waitReady(timeout: Double = 120) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                guard process.isRunning else { Issue.record("serve exited: \(log)"); throw CancellationError() }
                if let (status, _, _) = try? await ServeTests.request(base + "/health"), status == 200 { return }
                try await Task.sleep(nanoseconds: 200_000_000)
            }
            Issue.record("serve not ready after \(timeout) s: \(log)")
            throw CancellationError()
        }

        /// SIGTERM, then the exit status.
        func stop() -> Int32 {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: work)
            return process.terminationStatus
        }
    }

    /// What the server printed (filled from the pipe's reader thread).
    final class OutputBuffer: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func append(_ chunk: Data) { lock.lock(); data.append(chunk); lock.unlock() }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        try #require(bound == 0)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// One HTTP request: (status, body, content type).
    static func request(_ url: String, method: String = "GET", json: Any? = nil, body: Data? = nil,
                        contentType: String? = nil) async throws -> (Int, Data, String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        request.timeoutInterval = 120
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let body { request.httpBody = body }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return (http.statusCode, data, http.value(forHTTPHeaderField: "Content-Type") ?? "")
    }

    static func object(_ data: Data) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    /// RIFF/WAVE, PCM 16-bit mono: (sample rate, seconds).
    static func wavInfo(_ data: Data) throws -> (rate: Int, seconds: Double) {
        let bytes = [UInt8](data)
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        try #require(bytes.count > 44)
        #expect(String(decoding: bytes[0..<4], as: UTF8.self) == "RIFF")
        #expect(String(decoding: bytes[8..<12], as: UTF8.self) == "WAVE")
        var offset = 12, rate = 0, channels = 0, bits = 0, dataBytes = 0
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self), size = u32(offset + 4)
            if id == "fmt " {
                #expect(u16(offset + 8) == 1, "PCM")
                channels = u16(offset + 10); rate = u32(offset + 12); bits = u16(offset + 22)
            } else if id == "data" {
                dataBytes = min(size, bytes.count - offset - 8)
                break
            }
            offset += 8 + size + (size & 1)
        }
        #expect(channels == 1 && bits == 16)
        try #require(rate > 0)
        return (rate, Double(dataBytes / 2) / Double(rate))
    }

    /// Server-Sent Events of a complete body: (event, JSON data).
    static func events(_ data: Data) -> [(name: String, data: [String: Any])] {
        String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            .components(separatedBy: "\n\n").compactMap { frame in
                var name = "message", payload = ""
                for line in frame.split(separator: "\n", omittingEmptySubsequences: true) {
                    if line.hasPrefix("event:") { name = line.dropFirst(6).trimmingCharacters(in: .whitespaces) }
                    if line.hasPrefix("data:") { payload += line.dropFirst(5).trimmingCharacters(in: .whitespaces) }
                }
                return payload.isEmpty ? nil : (name, object(Data(payload.utf8)))
            }
    }

    #if DEBUG
    static let expectedBackends = "extractive", expectedBackend = "extractive"
    #else
    static let expectedBackends = "local,extractive", expectedBackend = "local"
    #endif

    @Test(.enabled(if: dataAvailable)) func servesTheDataOverHTTP() async throws {
        let server = try Server()
        defer { _ = server.stop() }
        try await server.waitReady()
        let base = server.base

        // /health: ready, with the index facts.
        let (healthStatus, healthBody, healthType) = try await Self.request(base + "/health")
        #expect(healthStatus == 200 && healthType.hasPrefix("application/json"))
        let info = Self.object(healthBody)["info"] as? [String: String] ?? [:]
        #expect(info["chunks"].flatMap(Int.init) ?? 0 > 0)
        // With no API configured, the local language model answers (Gemma 3 270M from `make models`),
        // with the extractive backend behind it.
        #expect(info["backends"] == Self.expectedBackends)

        // The page itself.
        let (pageStatus, page, pageType) = try await Self.request(base + "/")
        #expect(pageStatus == 200 && pageType.hasPrefix("text/html") && String(decoding: page, as: UTF8.self).contains("RAGChat"))

        // /chat with the three acceptance questions.
        let questions = ["Quelles sont les différentes variantes de la tarte aux pommes ?",
                         "Comment faire une tarte aux pommes ?", "Quel est le secret d'une bonne tarte aux pommes ?"]
        for question in questions {
            let (status, body, _) = try await Self.request(base + "/chat", method: "POST", json: ["question": question])
            #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
            let r = Self.object(body)
            let answer = r["answer"] as? String ?? ""
            #expect(answer.count > 20, "\(question): \(answer)")
            #expect(r["backend"] as? String == Self.expectedBackend, "\(question): \(answer)")
            let sources = r["sources"] as? [[String: Any]] ?? []
            #expect(sources.contains { $0["file"] as? String == "connaissances.txt" }, "\(question): \(sources.map { $0["file"] ?? "" })")
            #expect(sources.allSatisfy { ($0["text"] as? String)?.isEmpty == false && $0["id"] is String })
            let audio = r["audio"] as? [String: String] ?? [:]
            for kind in ["question", "answer"] {
                let url = try #require(audio[kind], "\(kind) audio missing")
                let (s, wav, type) = try await Self.request(base + url)
                #expect(s == 200 && type == "audio/wav")
                let (rate, seconds) = try Self.wavInfo(wav)
                #expect(rate == 22_050 && seconds > 0.3, "\(kind): \(rate) Hz, \(seconds) s")
            }
            let timings = r["timings_ms"] as? [String: Double] ?? [:]
            #expect(timings["total"] ?? 0 > 0)
        }

        // /chat/stream: sources first, tokens, audio clips, then done.
        let (streamStatus, stream, streamType) = try await Self.request(base + "/chat/stream", method: "POST",
                                                                      json: ["question": questions[0]])
        #expect(streamStatus == 200 && streamType.hasPrefix("text/event-stream"))
        let events = Self.events(stream)
        let names = events.map(\.name)
        #expect(names.first == "sources", "\(names)")
        #expect(names.last == "done", "\(names)")
        #expect(names.contains("token") && !names.contains("error"))
        let clips = events.filter { $0.name == "audio" }.map(\.data)
        #expect(clips.contains { $0["kind"] as? String == "question" })
        #expect(clips.contains { $0["kind"] as? String == "answer" })
        let streamed = events.filter { $0.name == "token" }.compactMap { $0.data["text"] as? String }.joined()
        let done = events.last?.data ?? [:]
        #expect(!streamed.isEmpty && done["answer"] as? String == streamed)
        if let first = clips.first?["url"] as? String {
            let (s, wav, _) = try await Self.request(base + first)
            #expect(s == 200)
            #expect(try Self.wavInfo(wav).seconds > 0.3)
        }

        // Errors as JSON over HTTP.
        let (badStatus, bad, _) = try await Self.request(base + "/chat", method: "POST", json: ["question": ""])
        #expect(badStatus == 400)
        #expect((Self.object(bad)["error"] as? [String: Any])?["code"] as? String == "empty_question")
        let (missingStatus, missing, _) = try await Self.request(base + "/nope")
        #expect(missingStatus == 404)
        #expect((Self.object(missing)["error"] as? [String: Any])?["code"] as? String == "not_found")
        let (typeStatus, _, _) = try await Self.request(base + "/chat", method: "POST", body: Data("q".utf8), contentType: "text/plain")
        #expect(typeStatus == 415)

        // SIGTERM stops it cleanly.
        #expect(server.stop() == 0, "\(server.log)")
        #expect(server.log.contains("ragchat: ready at \(base)/"))
    }

    @Test func missingIndexTellsToIngest() throws {
        let dir = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLITests.run(["serve", "--port", "0", "--index", dir.appendingPathComponent("none.sqlite").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("ragchat ingest") && r.stderr.contains("make run"), "\(r.stderr)")
    }

    @Test func badOptionIsReported() throws {
        let r = try CLITests.run(["serve", "--port", "seventy"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("port"), "\(r.stderr)")
    }

    @Test(.enabled(if: dataAvailable)) func portInUseIsReported() async throws {
        let first = try Server()
        defer { _ = first.stop() }
        try await first.waitReady()
        let port = try #require(first.base.split(separator: ":").last.map(String.init))
        let index = first.work.appendingPathComponent("index.sqlite").path
        let r = try CLITests.run(["serve", "--host", "127.0.0.1", "--port", port, "--index", index, "--audio-cache", ""],
                                 in: Self.root)
        #expect(r.status == 1)
        #expect(r.stderr.contains("already in use"), "\(r.stderr)")
    }
}

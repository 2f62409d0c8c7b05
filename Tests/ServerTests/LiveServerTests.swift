import AsyncHTTPClient
import Foundation
import NIOCore
import RAG
import Server
import Speech
import TestSupport
import Testing

actor LoadGate {
    private var isOpen = false
    func open() { isOpen = true }
    func wait() async { while !isOpen { try? await Task.sleep(nanoseconds: 10_000_000) } }
}

/// The real pipeline (keyword retriever, extractive backend, espeak-ng) behind a real socket.
@Suite(.serialized) struct LiveServerTests {
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func get(_ url: String) async throws -> (Int, Data, String?) {
        let r = try await RemoteBackend.sharedClient.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        return (Int(r.status.code), Data(try await r.body.collect(upTo: 16 << 20).readableBytesView), r.headers.first(name: "content-type"))
    }

    static func post(_ url: String, _ object: Any) async throws -> (Int, Data) {
        var req = HTTPClientRequest(url: url)
        req.method = .POST
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
        let r = try await RemoteBackend.sharedClient.execute(req, timeout: .seconds(60))
        return (Int(r.status.code), Data(try await r.body.collect(upTo: 16 << 20).readableBytesView))
    }

    @Test func runServerLoadsThenServesOverHTTP() async throws {
        var config = testConfiguration()
        config.port = try Self.freePort()
        let configuration = config
        var engine = EngineConfiguration()
        engine.audioCacheDirectory = nil
        let engineConfiguration = engine
        let loaded = LoadGate()
        let server = Task {
            try await runServer(configuration: configuration) {
                await loaded.wait()   // a slow index load, finished when the test says so
                return EngineLoader.makePipeline(engineConfiguration, retriever: KeywordRetriever(passages: benchPassages),
                                                 info: ["index": "bench passages"])
            }
        }
        defer { server.cancel() }
        let base = "http://127.0.0.1:\(config.port)"
        // Listening at once, 503 while loading.
        var status = 0
        for _ in 0..<50 {
            if let (s, _, _) = try? await Self.get(base + "/health") { status = s; break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(status == 503)
        await loaded.open()
        for _ in 0..<300 where status != 200 {
            try await Task.sleep(nanoseconds: 100_000_000)
            status = try await Self.get(base + "/health").0
        }
        #expect(status == 200)

        let (code, body) = try await Self.post(base + "/chat", ["question": "Quel est le secret d'une bonne tarte aux pommes ?"])
        #expect(code == 200)
        let r = try JSONDecoder().decode(ChatResponse.self, from: body)
        #expect(r.backend == "extractive")
        #expect(r.answer.contains("choix des pommes"))
        #expect(r.sources.first?.file == "connaissances.txt")
        for url in [r.audio.question, r.audio.answer] {
            let (s, wav, type) = try await Self.get(base + (url ?? "/missing"))
            #expect(s == 200 && type == "audio/wav")
            let info = try WAV.parse(wav)
            #expect(info.sampleRate == 22_050 && info.channels == 1 && info.bitsPerSample == 16 && info.duration > 0.3)
        }
        let (page, html, type) = try await Self.get(base + "/")
        #expect(page == 200 && type?.hasPrefix("text/html") == true && !html.isEmpty)

        // Streaming over a real socket.
        var req = HTTPClientRequest(url: base + "/chat/stream")
        req.method = .POST
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(ByteBuffer(string: "{\"question\": \"Quelles sont les variantes de la tarte aux pommes ?\"}"))
        let response = try await RemoteBackend.sharedClient.execute(req, timeout: .seconds(60))
        #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
        var parser = SSEParser()
        var names: [String] = []
        for try await buffer in response.body { names += parser.feed(buffer.readableBytesView).compactMap(\.event) }
        #expect(names.first == "sources" && names.last == "done")
        #expect(names.filter { $0 == "audio" }.count >= 2)
        #expect(names.contains("token") && !names.contains("error"))

        server.cancel()
        _ = await server.result
    }
}

import Foundation
import Hummingbird
import HummingbirdTesting
import Index
import RAG
import Server
import Speech
import TestSupport

/// A canned engine for router tests.
struct StubEngine: ChatEngine {
    static let wavID = String(repeating: "ab", count: 16)
    static let wav = WAV.encode(samples: (0..<22_050).map { Int16(truncatingIfNeeded: $0 * 37) }, sampleRate: 22_050)
    static let sources = [SearchHit(chunkID: 3, file: "connaissances.txt", page: nil, score: 0.8, text: "La Tatin est renversée."),
                          SearchHit(chunkID: 9, file: "document.pdf", page: 2, score: 0.5, text: "Four à 180 degrés.")]

    var delay: Double = 0
    /// `chat` waits for this gate first.
    var gate: LoadGate?
    var error: RAGError?
    var streamError: RAGError?

    func chat(_ request: ChatRequest) async throws -> ChatResponse {
        await gate?.wait()
        if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
        if let error { throw error }
        return ChatResponse(question: request.question, answer: "La Tatin est renversée [1].", sources: Self.sources,
                            audio: AudioLinks(question: "/audio/\(Self.wavID).wav", answer: "/audio/\(Self.wavID).wav"),
                            backend: "extractive", timingsMs: ["retrieve": 1.5, "generate": 2, "speak": 3, "total": 7],
                            audioIDs: AudioIDs(question: Self.wavID, answer: Self.wavID))
    }

    func chatStream(_ request: ChatRequest) -> AsyncThrowingStream<ChatEvent, Error> {
        AsyncThrowingStream { c in
            Task {
                if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                c.yield(.sources(Self.sources))
                c.yield(.audio(AudioClip(kind: .question, index: 0, url: "/audio/\(Self.wavID).wav", text: request.question)))
                c.yield(.token("La Tatin "))
                if let streamError { c.finish(throwing: streamError); return }
                c.yield(.token("est renversée [1]."))
                c.yield(.audio(AudioClip(kind: .answer, index: 0, url: "/audio/\(Self.wavID).wav", text: "La Tatin est renversée [1].")))
                if let r = try? await chat(request) { c.yield(.done(r)) }
                c.finish()
            }
        }
    }

    func audio(id: String) async -> Data? { id == Self.wavID ? Self.wav : nil }
    func status() async -> EngineStatus { EngineStatus(ready: true, info: ["index": "test.sqlite", "chunks": "42"]) }
}

/// A web root with an index page, a stylesheet, a dotfile and a symbolic link to a secret file
/// beside it (not below it).
enum TestWeb {
    static let root: String = {
        let base = TestDirectory.make("ragchat-web")
        let web = base.appendingPathComponent("web")
        try? FileManager.default.createDirectory(at: web, withIntermediateDirectories: true)
        try? Data("<!doctype html><html><body>chat</body></html>".utf8).write(to: web.appendingPathComponent("index.html"))
        try? Data("body { color: black; }".utf8).write(to: web.appendingPathComponent("style.css"))
        try? Data("TOP SECRET".utf8).write(to: base.appendingPathComponent("secret.txt"))
        try? Data("TOP SECRET".utf8).write(to: web.appendingPathComponent(".hidden"))
        try? FileManager.default.createSymbolicLink(atPath: web.appendingPathComponent("outside.txt").path,
                                                    withDestinationPath: base.appendingPathComponent("secret.txt").path)
        return web.path
    }()
}

func testConfiguration(_ change: (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
    var c = ServerConfiguration()
    c.webRoot = TestWeb.root
    c.port = 0
    c.rateLimit = RateLimit(perMinute: 0, burst: 1)   // the tests send many requests from one address; AccessTests turns it on
    change(&c)
    return c
}

func json(_ object: Any) -> ByteBuffer {
    ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object)) ?? Data())
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

extension TestResponse {
    var text: String { String(buffer: body) }
    var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]) ?? [:] }
    var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (object["error"] as? [String: Any])?["message"] as? String }
}

/// Parses an SSE body into (event, data) pairs.
func sseEvents(_ text: String) -> [(event: String, data: [String: Any])] {
    var parser = SSEParser()
    return (parser.feed(Array(text.utf8)) + parser.finish()).map { m in
        (m.event ?? "message", ((try? JSONSerialization.jsonObject(with: Data(m.data.utf8))) as? [String: Any]) ?? [:])
    }
}

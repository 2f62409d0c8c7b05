import Foundation
import Testing

/// The official `openai` Python package (installed by `make test` into .build/venv-clients)
/// against the real `ragchat serve`: models, a completion, the same answer streamed, a
/// follow-up, a bad request, and a wrong key, through `scripts/openai-client-check.py`.
@Suite("OpenAI client against ragchat serve", .serialized)
struct OpenAIClientTests {
    static let python = ServeTests.root.appendingPathComponent(".build/venv-clients/bin/python")

    @Test(.enabled(if: ServeTests.dataAvailable)) func officialClientStreamingAndNot() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python.path),
                     "no openai client at \(Self.python.path): run `make clients` (make test does)")
        let key = "openai-client-key-0123456789"
        let server = try Server(arguments: ["--backends", "extractive"], index: try ServeAbuseTests.sharedIndex(),
                                environment: ["RAGCHAT_SERVER_KEY": key])
        defer { _ = server.stop() }
        try await server.waitReady()
        let process = Process()
        process.executableURL = Self.python
        process.arguments = [ServeTests.root.appendingPathComponent("scripts/openai-client-check.py").path, server.base, key]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && output.contains("openai-client-check: OK"), "\(output)\n\(errors)\n\(server.log.suffix(1500))")
    }

    typealias Server = ServeTests.Server
}

import Foundation
import Testing

/// schemathesis (installed by `make test` into .build/venv-clients) generates requests from the
/// committed OpenAPI document (`web/openapi.json`, served at `/openapi.json`) against the real
/// `ragchat serve` for 60 s: no 5xx, no response outside the document, no invalid request
/// accepted (`--checks all`; `schemathesis.toml` states what JSON Schema cannot). Its coverage
/// phase is left out: schemathesis 4.32.5 fails inside it on this document with a Python error
/// of its own (`AST constructor recursion depth mismatch`).
@Suite("schemathesis against ragchat serve", .serialized)
struct APIFuzzTests {
    static let schemathesis = ServeTests.root.appendingPathComponent(".build/venv-clients/bin/schemathesis")

    @Test(.enabled(if: ServeTests.dataAvailable)) func generatedRequestsMatchTheDocument() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.schemathesis.path),
                     "no schemathesis at \(Self.schemathesis.path): run `make clients` (make test does)")
        // An index of its own: generated requests upload and delete documents.
        let server = try ServeTests.Server(arguments: ["--backends", "extractive", "--max-queue", "64"])
        defer { _ = server.stop() }
        try await server.waitReady()
        let process = Process()
        process.executableURL = Self.schemathesis
        process.currentDirectoryURL = ServeTests.root   // schemathesis.toml
        process.arguments = ["run", server.base + "/openapi.json", "--checks", "all", "--max-time", "60", "--workers", "2",
                             "--phases", "examples,fuzzing,stateful", "--seed", "20261205"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let generated = output.firstMatch(of: /(\d+) generated/).flatMap { Int($0.1) } ?? 0
        print("schemathesis: \(generated) test cases, exit \(process.terminationStatus)")
        #expect(process.terminationStatus == 0, "\(output.suffix(6000))")
        #expect(generated >= 500, "only \(generated) generated test cases")
        #expect(server.process.isRunning)
    }
}

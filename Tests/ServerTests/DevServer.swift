import Foundation
import RAG
import Server
import Testing

/// Not a test: a development server for the page and `scripts/e2e.sh` before `ragchat serve`
/// exists. Runs only when `RAGCHAT_DEV_PORT` is set, serves `web/` with a keyword retriever over
/// the `.txt`/`.md` files of `RAGCHAT_DEV_DATA` (default `data/`), until SIGTERM/SIGINT:
///
///     RAGCHAT_DEV_PORT=8090 .build/debug/RAGChatPackageTests.xctest --testing-library swift-testing --filter DevServer
///
/// (Run the test binary directly rather than `swift test`: `swift test` starts it in another
/// process group, so stopping `swift test` would leave the server running.)
@Suite struct DevServer {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(.enabled(if: ProcessInfo.processInfo.environment["RAGCHAT_DEV_PORT"] != nil))
    func serve() async throws {
        let env = ProcessInfo.processInfo.environment
        var config = try ServerConfiguration(environment: env)
        config.port = Int(env["RAGCHAT_DEV_PORT"] ?? "") ?? 8090
        config.webRoot = Self.repoRoot.appendingPathComponent("web").path
        if env["RAGCHAT_AUDIO_CACHE"] == nil { config.audioCacheDirectory = nil }
        let folder = URL(fileURLWithPath: env["RAGCHAT_DEV_DATA"] ?? Self.repoRoot.appendingPathComponent("data").path)
        let configuration = config
        try await runServer(configuration: configuration) {
            let retriever = try KeywordRetriever(folder: folder)
            return makePipeline(configuration, retriever: retriever,
                                info: ["index": "keyword retriever over \(folder.path)", "chunks": String(retriever.passages.count)])
        }
    }
}

import Foundation
import Index
import RAG
import Server
import Testing

/// Not a test: a development server for the page and `scripts/e2e.sh` before `ragchat serve`
/// exists. Runs only when `RAGCHAT_DEV_PORT` is set, serves `web/` with the index's keyword search
/// over `RAGCHAT_DEV_DATA` (default `data/`, ingested into a temporary index), until SIGTERM/SIGINT:
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
        let indexPath = FileManager.default.temporaryDirectory.appendingPathComponent("ragchat-dev-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: indexPath) }
        try await runServer(configuration: configuration) {
            let store = try IndexStore.open(path: indexPath)
            let summary = try await store.ingest(dataDirectory: folder)
            return makePipeline(configuration, retriever: IndexRetriever(store: store),
                                info: ["index": "\(folder.path) (keyword search)", "chunks": String(summary.chunks)])
        }
    }
}

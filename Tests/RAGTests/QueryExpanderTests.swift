import Foundation
import Index
import RAG
import Testing

@Suite("Query expansion", .serialized)
struct QueryExpanderTests {
    @Test func guessesAreGreedyAndShort() throws {
        let path = TinyChatModel.path("expander")
        try TinyChatModel.write(to: path, chatTemplate: LocalBackendTests.chatML)
        defer { unlink(path) }
        let expander = try QueryExpander(modelPath: path, maxTokens: 12, threads: 1)
        #expect(expander.modelName == URL(fileURLWithPath: path).lastPathComponent)
        let first = try expander.expand("Comment éteindre la machine ?")
        #expect(try expander.expand("Comment éteindre la machine ?") == first)
        // Byte-level vocabulary: at most one character per token (a cut UTF-8 sequence is one U+FFFD).
        #expect(first.count <= 12)
        // A question longer than the model's context is cut, not an error.
        _ = try expander.expand(String(repeating: "très long ", count: 2_000))
    }

    @Test func aModelWithoutChatTemplateOrFileIsNamed() throws {
        let path = TinyChatModel.path("expander-base")
        try TinyChatModel.write(to: path, chatTemplate: nil)
        defer { unlink(path) }
        #expect { try QueryExpander(modelPath: path) } throws: { "\($0)".contains(path) && "\($0)".contains("chat template") }
        #expect { try QueryExpander(modelPath: path + ".missing") } throws: { "\($0)".contains(path + ".missing") }
    }

    @Test func theEngineSearchesWithTheGuessOrSaysWhyNot() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ragchat-expander-\(UUID().uuidString)")
        let data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "La pâte brisée ne contient pas de sucre ; la pâte sablée en contient.".write(to: data.appendingPathComponent("pates.txt"),
                                                                                           atomically: true, encoding: .utf8)
        try "Le four se préchauffe à 180 degrés avant la cuisson.".write(to: data.appendingPathComponent("four.txt"),
                                                                       atomically: true, encoding: .utf8)
        let index = dir.appendingPathComponent("index.sqlite").path
        _ = try await openIndexStore(at: index).ingest(dataDirectory: data)
        let model = TinyChatModel.path("expander-engine")
        try TinyChatModel.write(to: model, chatTemplate: LocalBackendTests.chatML)
        defer { unlink(model) }

        var configuration = EngineConfiguration()
        configuration.indexPath = index
        configuration.encoderPath = dir.appendingPathComponent("no-encoder.bin").path
        configuration.backends = [.extractive]
        configuration.audioCacheDirectory = nil
        configuration.expansionModelPath = model
        let loaded = try await EngineLoader.load(configuration)
        #expect(loaded.problems.isEmpty)
        #expect(await loaded.engine.status().info["query expansion"] == URL(fileURLWithPath: model).lastPathComponent)
        let answer = try await loaded.engine.chat(ChatRequest(question: "Quelle pâte contient du sucre ?"))
        #expect(answer.sources.first?.file == "pates.txt")
        // The guess goes on with the passages (to the answer backend): the model's own text.
        let found = try await #require(loaded.engine as? RAGPipeline).retriever.retrieval(query: "Quelle pâte contient du sucre ?", k: 2)
        let expander = try QueryExpander(modelPath: model)
        #expect(found.expansion == (try expander.expand("Quelle pâte contient du sucre ?")))

        configuration.expansionModelPath = model + ".missing"
        let without = try await EngineLoader.load(configuration)
        #expect(without.problems.contains { $0.contains(model + ".missing") })
        #expect(try await without.engine.chat(ChatRequest(question: "Quelle pâte contient du sucre ?")).sources.first?.file == "pates.txt")
        #expect(try await #require(without.engine as? RAGPipeline).retriever.retrieval(query: "Quelle pâte contient du sucre ?", k: 2).expansion == nil)
    }
}

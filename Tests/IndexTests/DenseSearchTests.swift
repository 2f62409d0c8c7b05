import Documents
import Foundation
import Index
import Testing

@Suite("Dense and hybrid search")
struct DenseSearchTests {
    static func store(_ workspace: Workspace, embedder: FakeEmbedder) async throws -> IndexStore {
        try workspace.write("tarte.txt", Samples.tarte)
        try workspace.write("secrets.txt", Samples.secrets)
        try workspace.write("pates.txt", "La pâte brisée ne contient pas de sucre ; la pâte sablée en contient.")
        let store = try workspace.open()
        _ = try await store.ingest(dataDirectory: workspace.data, options: IngestOptions(chunking: ChunkingOptions(targetSize: 150, overlap: 30)),
                                   embedder: embedder)
        return store
    }

    @Test func denseFindsTheNearestChunk() async throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        let embedder = FakeEmbedder()
        let store = try await Self.store(workspace, embedder: embedder)
        // Each chunk's own vector finds that chunk first, with similarity 1.
        for file in ["tarte.txt", "secrets.txt", "pates.txt"] {
            for chunk in try store.chunks(ofFile: file) {
                let vector = try embedder.embed([chunk.text])[0]
                let hits = try store.denseSearch(vector, modelID: embedder.modelID, k: 3)
                #expect(hits.first?.chunkID == chunk.chunkID)
                #expect(abs((hits.first?.score ?? 0) - 1) < 1e-5)
                #expect(hits.first?.denseScore == hits.first?.score)
                #expect(hits.map(\.score) == hits.map(\.score).sorted(by: >))
            }
        }
        #expect(try store.denseSearch([Float](repeating: 0, count: 16), modelID: "other-model", k: 3).isEmpty)
        #expect(throws: IndexError.self) { try store.denseSearch([1, 2], modelID: embedder.modelID, k: 3) }
    }

    @Test func cacheFollowsTheIndex() async throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        let embedder = FakeEmbedder()
        let store = try await Self.store(workspace, embedder: embedder)
        let query = try embedder.embed(["abricots rôtis au miel"])[0]
        #expect(try store.denseSearch(query, modelID: embedder.modelID, k: 1).first?.file != "abricots.txt")
        try workspace.write("abricots.txt", "abricots rôtis au miel")
        _ = try await store.ingest(dataDirectory: workspace.data, options: IngestOptions(chunking: ChunkingOptions(targetSize: 150, overlap: 30)),
                                   embedder: embedder)
        #expect(try store.denseSearch(query, modelID: embedder.modelID, k: 1).first?.file == "abricots.txt")
        try workspace.remove("abricots.txt")
        _ = try await store.ingest(dataDirectory: workspace.data, options: IngestOptions(chunking: ChunkingOptions(targetSize: 150, overlap: 30)),
                                   embedder: embedder)
        #expect(try store.denseSearch(query, modelID: embedder.modelID, k: 1).first?.file != "abricots.txt")
    }

    @Test func hybridFusesBothLists() async throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        let embedder = FakeEmbedder()
        let store = try await Self.store(workspace, embedder: embedder)
        let question = "pâte brisée sucre"
        let vector = try embedder.embed([question])[0]
        let hybrid = try store.hybridSearch(question, vector: vector, modelID: embedder.modelID, k: 5)
        #expect(!hybrid.isEmpty && hybrid.count <= 5)
        #expect(hybrid.first?.file == "pates.txt")
        #expect(hybrid.first?.bm25Score != nil && hybrid.first?.denseScore != nil)
        #expect(hybrid.map(\.score) == hybrid.map(\.score).sorted(by: >))
        // Weight 0 on one side gives the other list's order.
        let keywordOnly = try store.hybridSearch(question, vector: vector, modelID: embedder.modelID, k: 3,
                                                 weights: FusionWeights(bm25: 1, dense: 0))
        #expect(keywordOnly.map(\.chunkID) == (try store.search(question, k: 3)).map(\.chunkID))
        let denseOnly = try store.hybridSearch(question, vector: vector, modelID: embedder.modelID, k: 3,
                                               weights: FusionWeights(bm25: 0, dense: 1))
        #expect(denseOnly.map(\.chunkID) == (try store.denseSearch(vector, modelID: embedder.modelID, k: 3)).map(\.chunkID))
        // A query with no keyword still gets dense results.
        #expect(!(try store.hybridSearch("?!", vector: vector, modelID: embedder.modelID, k: 3)).isEmpty)
    }
}

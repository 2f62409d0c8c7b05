import Documents
import Foundation
import Index
import Testing
import TextAnalysis

extension IndexStoreContract {
    @Suite("Dense and hybrid search")
    struct DenseSearchTests {
        static func store(_ workspace: Workspace, embedder: FakeEmbedder) async throws -> any IndexStore {
            try workspace.write("tarte.txt", Samples.tarte)
            try workspace.write("secrets.txt", Samples.secrets)
            try workspace.write("pates.txt", "La pâte brisée ne contient pas de sucre ; la pâte sablée en contient.")
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data, options: IngestOptions(chunking: ChunkingOptions(targetSize: 150, overlap: 30)),
                                       embedder: embedder)
            return store
        }

        @Test(arguments: IndexImplementation.all)
        func denseFindsTheNearestChunk(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder()
            let store = try await Self.store(workspace, embedder: embedder)
            // Each chunk's own vector finds that chunk first, with similarity 1.
            for file in ["tarte.txt", "secrets.txt", "pates.txt"] {
                for chunk in try store.chunks(ofFile: file) {
                    let vector = try embedder.embed([Chunk.indexedText(chunk.text, context: chunk.context)])[0]
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

        @Test(arguments: IndexImplementation.all)
        func cacheFollowsTheIndex(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
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

        @Test(arguments: IndexImplementation.all)
        func hybridFusesBothLists(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
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
            // …unless no passage is similar enough: then nothing, rather than noise.
            #expect(try store.hybridSearch("?!", vector: vector, modelID: embedder.modelID, k: 3,
                                           weights: FusionWeights(minimumCosine: 1.01)).isEmpty)
        }
    }

    @Suite("Hybrid search with a guessed answer")
    struct ExpandedSearchTests {
        @Test(arguments: IndexImplementation.all)
        func theGuessBringsTheAnswersWords(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder()
            let store = try await DenseSearchTests.store(workspace, embedder: embedder)
            // No word of the question is in pates.txt; the guess names what it holds.
            let question = "Laquelle se mange sans douceur ?"
            let guess = "La pâte sablée en contient."
            let expanded = try store.expandedHybridSearch(question, expansion: guess, embedder: embedder, k: 10)
            let plain = try store.hybridSearch(question, vector: try embedder.embed(query: question), modelID: embedder.modelID, k: 10)
            let rank = { (hits: [SearchHit]) in hits.firstIndex { $0.file == "pates.txt" } ?? hits.count }
            #expect(rank(expanded) < rank(plain))
            #expect(expanded.map(\.score) == expanded.map(\.score).sorted(by: >))
            // The scores shown are the question's own: no chunk holds its words.
            #expect(expanded.allSatisfy { $0.bm25Score == nil })
            // Without vectors of the encoder's model: the two keyword rankings alone.
            let keywordOnly = try store.expandedHybridSearch(question, expansion: guess, embedder: FakeEmbedder(modelID: "other"), k: 3)
            #expect(keywordOnly.first?.file == "pates.txt")
            #expect(keywordOnly.allSatisfy { $0.denseScore == nil })
            #expect(try store.expandedHybridSearch(question, expansion: guess, embedder: nil, k: 3).map(\.chunkID)
                == keywordOnly.map(\.chunkID))
            #expect(try store.expandedHybridSearch(question, expansion: guess, embedder: embedder, k: 0).isEmpty)
            #expect(try store.expandedHybridSearch(question, expansion: " \n", embedder: embedder, k: 3)
                == (try store.search(question, mode: .hybrid, embedder: embedder, k: 3)))
        }

        /// A question asking for steps ("Comment réussir…") is answered from its first passage's
        /// section: that passage stays the one the question itself ranks first, whatever the
        /// guess; the guess still brings its passage among the others. Asked as a fact, the same
        /// guess may move its passage first.
        @Test(arguments: IndexImplementation.all)
        func aQuestionAskingForStepsKeepsItsOwnBestPassageFirst(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder()
            let store = try await DenseSearchTests.store(workspace, embedder: embedder)
            let guess = "La pâte sablée contient du sucre, la pâte brisée ne contient pas de sucre : pâte sablée, pâte brisée."
            #expect(QuestionForm("Comment réussir la tarte ?").needsSection && !QuestionForm("Une tarte ?").needsSection)
            for question in ["Comment réussir la tarte ?", "Une tarte ?"] {
                let own = try store.search(question, mode: .hybrid, embedder: embedder, k: 4)
                let expanded = try store.expandedHybridSearch(question, expansion: guess, embedder: embedder, k: 4)
                #expect(own.first?.file != "pates.txt" && expanded.contains { $0.file == "pates.txt" }, "\(question)")
                #expect(expanded.map(\.score) == expanded.map(\.score).sorted(by: >), "\(question)")
                if QuestionForm(question).needsSection {
                    #expect(expanded.first?.chunkID == own.first?.chunkID, "\(question)")
                } else {
                    #expect(expanded.first?.file == "pates.txt", "\(question)")
                }
            }
        }

        @Test(arguments: IndexImplementation.all)
        func withoutTheGuessesWeightItIsHybridSearch(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder()
            let store = try await DenseSearchTests.store(workspace, embedder: embedder)
            let plain = FusionWeights.tuned
            let weights = ExpansionWeights(question: plain, expandedKeyword: 0, expandedDense: 0)
            for question in ["pâte brisée sucre", "Quels sont les secrets d'une bonne tarte ?", "Laquelle se mange sans douceur ?"] {
                let vector = try embedder.embed(query: question)
                let hybrid = try store.hybridSearch(question, vector: vector, modelID: embedder.modelID, k: 4, weights: plain)
                let expanded = try store.expandedHybridSearch(question, expansion: "Une réponse sans rapport : le ciel est bleu.",
                                                              embedder: embedder, k: 4, weights: weights)
                #expect(expanded.map(\.chunkID) == hybrid.map(\.chunkID), "\(question)")
                #expect(expanded.map(\.bm25Score) == hybrid.map(\.bm25Score), "\(question)")
                #expect(expanded.map(\.denseScore) == hybrid.map(\.denseScore), "\(question)")
            }
        }
    }

    @Suite("Search modes")
    struct SearchModeTests {
        @Test(arguments: IndexImplementation.all)
        func eachModeIsItsRanking(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder()
            let store = try await DenseSearchTests.store(workspace, embedder: embedder)
            let question = "pâte brisée sucre"
            let vector = try embedder.embed(query: question)
            let bm25 = try store.search(question, mode: .bm25, embedder: embedder, k: 4)
            #expect(bm25 == (try store.search(question, k: 4)))
            #expect(bm25.allSatisfy { $0.denseScore == nil && $0.bm25Score != nil })
            let dense = try store.search(question, mode: .dense, embedder: embedder, k: 4)
            #expect(dense == (try store.denseSearch(vector, modelID: embedder.modelID, k: 4)))
            #expect(dense.allSatisfy { $0.denseScore != nil })
            let hybrid = try store.search(question, mode: .hybrid, embedder: embedder, k: 4)
            #expect(hybrid == (try store.hybridSearch(question, vector: vector, modelID: embedder.modelID, k: 4, weights: .tuned)))
            #expect(hybrid.contains { $0.bm25Score != nil && $0.denseScore != nil })
            // The tuned weights favour keywords: a passage first in both lists is first.
            if bm25.first?.chunkID == dense.first?.chunkID { #expect(hybrid.first?.chunkID == bm25.first?.chunkID) }
        }

        @Test(arguments: IndexImplementation.all)
        func hybridWithoutVectorsIsKeywordSearch(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("tarte.txt", Samples.tarte)
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data)
            let embedder = FakeEmbedder()
            #expect(try !store.hasVectors(modelID: embedder.modelID))
            let keyword = try store.search("pommes", k: 3)
            #expect(!keyword.isEmpty)
            #expect(try store.search("pommes", mode: .hybrid, embedder: embedder, k: 3) == keyword)
            #expect(try store.search("pommes", mode: .hybrid, embedder: nil, k: 3) == keyword)
            #expect(throws: IndexError.self) { try store.search("pommes", mode: .dense, embedder: embedder, k: 3) }
            #expect(throws: IndexError.self) { try store.search("pommes", mode: .dense, embedder: nil, k: 3) }
            // Vectors of another model do not count.
            _ = try await store.ingest(dataDirectory: workspace.data, embedder: FakeEmbedder(modelID: "other"))
            #expect(try store.search("pommes", mode: .hybrid, embedder: embedder, k: 3) == keyword)
        }
    }
}

import Documents
import Foundation
import Index
import Testing

/// What every `IndexStore` implementation does, whatever stores the index. Each case runs once per
/// entry of `IndexImplementation.all` (SQLite, and PostgreSQL when its test server runs) on an index of its own; the suites nested in
/// this one (here and in IngestTests, SearchTests and DenseSearchTests) make up the contract.
@Suite("IndexStore contract")
struct IndexStoreContract {}

extension IndexStoreContract {
    @Suite("Queries, documents and statistics")
    struct ContractTests {
        /// In every mode, the answering passage comes first for a question in its own words and for
        /// one worded otherwise (other word forms and order; the test encoder only sees shared words,
        /// hashed into 256 dimensions so that few collide).
        @Test(arguments: IndexImplementation.all)
        func everyModeFindsTheAnsweringPassage(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder(dimension: 256)
            let store = try await DenseSearchTests.store(workspace, embedder: embedder)
            let questions = [
                ("tarte Tatin renversée", "tarte.txt"),
                ("Faut-il que le beurre soit froid et le four préchauffé ?", "secrets.txt"),
            ]
            for (question, file) in questions {
                for mode in SearchMode.allCases {
                    let hits = try store.search(question, mode: mode, embedder: embedder, k: 3)
                    #expect(hits.first?.file == file, "\(mode): \(question)")
                    let gated = try store.search(question, mode: mode, embedder: embedder, k: 3, gate: .open)
                    #expect(gated.covered && gated.hits == hits, "\(mode): \(question)")
                }
            }
        }

        /// A question naming something no chunk holds is declined by the gate, however close its
        /// other words; a name the documents hold, or one only in an earlier turn, is not.
        @Test(arguments: IndexImplementation.all)
        func questionsNamingWhatNoChunkHoldsAreDeclined(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder(dimension: 256)
            let store = try await DenseSearchTests.store(workspace, embedder: embedder)
            var gate = RelevanceGate.open
            gate.declinesUnknownNames = true
            func verdict(_ query: String) throws -> (covered: Bool, names: [String]) {
                let result = try store.search(query, mode: .hybrid, embedder: embedder, k: 3, gate: gate)
                return (result.covered, result.signals.unknownNames)
            }
            let foreign = try verdict("Comment faire une tarte Tatin renversée avec un Thermomix ?")
            #expect(!foreign.covered && foreign.names == ["Thermomix"])
            let held = try verdict("Comment faire une tarte Tatin renversée ?")
            #expect(held.covered && held.names.isEmpty)
            let earlierTurn = try verdict("Et avec un Thermomix ?\nComment faire une tarte Tatin renversée ?")
            #expect(earlierTurn.covered && earlierTurn.names.isEmpty)
            let open = try store.search("Comment faire une tarte Tatin renversée avec un Thermomix ?", mode: .hybrid,
                                        embedder: embedder, k: 3, gate: .open)
            #expect(open.covered)
        }

        /// Any text is a query: empty, blank, one 100,000-character word, 100,000 characters of
        /// distinct words or of repeated ones, in every mode, behind the gate, and for the passages.
        @Test(arguments: IndexImplementation.all)
        func emptyAndHugeQueriesAreAnswered(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let embedder = FakeEmbedder()
            let store = try await DenseSearchTests.store(workspace, embedder: embedder)
            let distinct = (0..<20_000).map { "mot\($0)" }.joined(separator: " ")
            let queries = ["", "   ", String(repeating: "a", count: 100_000), String(distinct.prefix(100_000)),
                           String(String(repeating: "Comment faire une pâte brisée ? ", count: 4_000).prefix(100_000))]
            for query in queries {
                #expect(try store.search(query, k: 5).count <= 5)
                for mode in SearchMode.allCases {
                    #expect(try store.search(query, mode: mode, embedder: embedder, k: 5).count <= 5)
                    let gated = try store.search(query, mode: mode, embedder: embedder, k: 5, gate: .e5)
                    #expect(gated.hits.count <= 5)
                    _ = try store.answerPassages(for: query, hits: gated.hits)
                }
                _ = try store.relevance(query, vector: try embedder.embed(query: query), modelID: embedder.modelID)
            }
            try store.checkIntegrity()
        }

        @Test(arguments: IndexImplementation.all)
        func documentListAndStatistics(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let store = try workspace.open()
            let empty = try store.statistics()
            #expect(empty.documents == 0 && empty.failedDocuments == 0 && empty.chunks == 0 && empty.vectors == 0)
            #expect(empty.encoderModelID == nil)
            #expect(try store.documents().isEmpty)

            try workspace.write("tarte.txt", Samples.tarte)
            try workspace.write("recettes/secrets.md", Samples.secrets)
            try workspace.write("casse.pdf", "%PDF-1.7 garbage")
            let embedder = FakeEmbedder()
            let summary = try await store.ingest(dataDirectory: workspace.data, embedder: embedder)
            let documents = try store.documents()
            #expect(documents.map(\.path) == ["casse.pdf", "recettes/secrets.md", "tarte.txt"])
            #expect(documents.map(\.status) == ["failed", "indexed", "indexed"])
            #expect(documents[0].error != nil && documents[0].chunkCount == 0)
            #expect(documents[2].size == Int64(Samples.tarte.utf8.count) && documents[2].sha256.count == 64)
            for document in documents {
                #expect(try store.chunks(ofFile: document.path).count == document.chunkCount)
            }
            let statistics = try store.statistics()
            #expect(statistics.documents == 2 && statistics.failedDocuments == 1)
            #expect(statistics.chunks == summary.chunks && statistics.chunks == documents.map(\.chunkCount).reduce(0, +))
            #expect(statistics.vectors == statistics.chunks && statistics.encoderModelID == embedder.modelID)
            #expect(try store.hasVectors(modelID: embedder.modelID))
            #expect(try !store.hasVectors(modelID: "other-model"))
        }

        /// Neighbouring chunks join into the document's text, their overlaps removed.
        @Test(arguments: IndexImplementation.all)
        func neighbouringChunksJoinWithoutOverlap(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let text = (1...12).map { "Étape \($0) : on ajoute la pomme numéro \($0) et on mélange doucement." }.joined(separator: " ")
            try workspace.write("etapes.txt", text)
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data,
                                       options: IngestOptions(chunking: ChunkingOptions(targetSize: 150, overlap: 30)))
            let chunks = try store.chunks(ofFile: "etapes.txt")
            #expect(chunks.count > 3)
            let spans = try store.chunkSpans(ofDocumentOf: chunks[1].chunkID, ordinals: 0...Int.max)
            #expect(spans.map(\.ordinal) == chunks.map(\.ordinal) && spans.map(\.text) == chunks.map(\.text))
            #expect(zip(spans, spans.dropFirst()).allSatisfy { $0.start < $1.start && $0.end >= $1.start })
            let whole = try store.neighbourhood(of: chunks[0], after: chunks.count - 1)
            #expect(whole.text == text && whole.chunkID == chunks[0].chunkID)
            let middle = try store.neighbourhood(of: chunks[2], before: 1, after: 1)
            #expect(text.contains(middle.text) && middle.text.hasPrefix(chunks[1].text))
            #expect(try store.neighbourhood(of: chunks[0], before: 0, after: 0) == chunks[0])
            #expect(try store.chunkSpans(ofDocumentOf: -1, ordinals: 0...Int.max).isEmpty)
            #expect(spans.map(\.chunkID) == chunks.map(\.chunkID))
        }

        /// A question naming an option gets the chunk defining it, from the manual page the
        /// question names, when search found only pages mentioning the option.
        @Test(arguments: IndexImplementation.all)
        func anOptionQuestionGetsItsDefinition(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let filler = (1...8).map { "Le paragraphe \($0) décrit le comportement général de la commande sans option." }
                .joined(separator: "\n")
            try workspace.write("tar.1.txt", """
                TAR(1)
                L'option -x extrait une archive ; voir plus bas.

                \(filler)

                OPTIONS
                   -x, --extract
                          Extraire les fichiers d'une archive.
                """)
            try workspace.write("ls.1.txt", "OPTIONS\n   -x     lister les entrées par lignes\n")
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data,
                                       options: IngestOptions(chunking: ChunkingOptions(targetSize: 200, overlap: 20)))
            let tar = try store.chunks(ofFile: "tar.1.txt")
            let ls = try store.chunks(ofFile: "ls.1.txt")
            #expect(tar.count > 2)
            let definition = try #require(tar.last)
            // Search found ls's page and the part of tar's that only mentions -x.
            let hits = [ls[0], tar[0]]
            let passages = try store.answerPassages(for: "Que fait l'option -x de tar ?", hits: hits)
            #expect(passages.count == 2)
            #expect(passages[1].chunkID == definition.chunkID && passages[1].file == "tar.1.txt")
            #expect(passages[1].text.contains("--extract"))
            // Already among the hits of the named page, or no option asked: nothing added.
            #expect(try store.answerPassages(for: "Que fait l'option -x de tar ?", hits: [tar[0], definition]) == [tar[0], definition])
            #expect(try store.answerPassages(for: "Que fait tar ?", hits: hits) == hits)
        }
    }
}

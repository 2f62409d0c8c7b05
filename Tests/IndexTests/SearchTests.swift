import Documents
import Foundation
import Index
import Testing

extension IndexStoreContract {
    @Suite("Keyword search")
    struct SearchTests {
        static func store(_ workspace: Workspace) async throws -> any IndexStore {
            try workspace.write("tarte.txt", Samples.tarte)
            try workspace.write("secrets.txt", Samples.secrets)
            try workspace.write("pates.txt", "La pâte brisée ne contient pas de sucre ; la pâte sablée en contient. PÂTE FEUILLETÉE : beurre en couches.")
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data)
            return store
        }

        @Test(arguments: IndexImplementation.all)
        func accentAndCaseInsensitive(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let store = try await Self.store(workspace)
            let hits = try store.search("pate brisee", k: 5)
            #expect(hits.first?.file == "pates.txt")
            #expect(hits.first?.text.contains("pâte brisée") == true)
            #expect(try store.search("FEUILLETEE", k: 1).first?.file == "pates.txt")
            #expect(try store.search("Réfrigérateur", k: 1).first?.file == "secrets.txt")
            let best = try #require(hits.first)
            #expect(best.score > 0 && best.page == nil && best.ordinal == 0)
            #expect(best.snippet.contains("[pâte]") || best.snippet.contains("[brisée]"))
            #expect(hits.map(\.score) == hits.map(\.score).sorted(by: >))
        }

        @Test(arguments: IndexImplementation.all)
        func testQuestionsFindTheRightDocument(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let store = try await Self.store(workspace)
            #expect(try store.search("Quel est le secret d'une bonne tarte aux pommes ?", k: 1).first?.file == "secrets.txt")
            #expect(try store.search("tarte Tatin renversée", k: 1).first?.file == "tarte.txt")
            #expect(try store.search("beurre", k: 2).count == 2)
            #expect(try store.search("beurre", k: 10).count == 3)
            #expect(try store.search("beurre", k: 1).count == 1)
        }

        @Test(arguments: IndexImplementation.all, [
            "\"", "\"\"", "*", "pâte*", "NEAR(", "NEAR(pâte brisée, 2)", "'; DROP TABLE chunks; --", "pâte AND", "OR", "AND NOT",
            "text:pâte", "^pâte", "-pâte", "(", ")", "{text}: x", "a\"b\"c", "", "   ", "?!.", "\u{0}", "💥 pâte 🥧",
            "l'eau d'une", String(repeating: "pomme ", count: 500), "NOT", "\\", "%_", "pâte + brisée",
        ])
        func hostileStringsNeverFail(_ implementation: IndexImplementation, query: String) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let store = try await Self.store(workspace)
            let hits = try store.search(query, k: 5)
            #expect(hits.count <= 5)
            #expect(try store.statistics().chunks > 0) // nothing dropped
            try store.checkIntegrity()
        }

        @Test(arguments: IndexImplementation.all)
        func emptyIndexSearch(_ implementation: IndexImplementation) throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let store = try workspace.open()
            #expect(try store.search("pomme", k: 5).isEmpty)
            #expect(try store.search("pomme", k: 0).isEmpty)
        }

        @Test(arguments: IndexImplementation.all)
        func concurrentSearchesWhileIngesting(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let store = try await Self.store(workspace)
            for number in 0..<30 { try workspace.write("extra\(number).txt", "Extra \(number) : " + Samples.secrets) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await store.ingest(dataDirectory: workspace.data) }
                for _ in 0..<4 {
                    group.addTask {
                        for _ in 0..<20 {
                            let hits = try store.search("pâte brisée", k: 3)
                            #expect(!hits.isEmpty)
                        }
                    }
                }
                try await group.waitForAll()
            }
            try store.checkIntegrity()
        }
    }
}

/// What only the SQLite implementation has: an index file, FTS5 query syntax.
@Suite("SQLite index file")
struct SQLiteIndexFileTests {
    @Test func queryBuilder() {
        #expect(FTSQuery.make("pate brisee") == "\"pate\" OR \"brisee\" OR \"bris\" *")
        #expect(FTSQuery.make("Quel est le secret d'une bonne tarte ?")
                == "\"secret\" OR \"bonne\" OR \"bonn\" * OR \"tarte\" OR \"tart\" *")
        #expect(FTSQuery.make("pommes Pommes pomme") == "\"pommes\" OR \"pomm\" * OR \"pomme\"")
        #expect(FTSQuery.make("préparées") == "\"préparées\" OR \"prepar\" *")
        #expect(FTSQuery.make("le la les") == "\"le\" OR \"la\" OR \"les\"")  // only stop words: keep them
        #expect(FTSQuery.make("NEAR(a\"b") == "\"near\" OR \"b\"")
        #expect(FTSQuery.make("  ?! ") == nil)
        #expect(FTSQuery.terms("Pâte pâte PÂTE crème") == ["pâte", "crème"])
        #expect(FTSQuery.terms(String(repeating: "x y z ", count: 3) + (0..<100).map { "mot\($0)" }.joined(separator: " ")).count
                == FTSQuery.maximumTerms)
    }

    @Test func missingIndexIsAClearError() throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        #expect(throws: IndexError.indexNotFound(path: workspace.indexPath)) {
            try openIndexStore(at: workspace.indexPath, create: false)
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.indexPath))
        #expect(IndexError.indexNotFound(path: "x.sqlite").description.contains("x.sqlite"))
    }

    @Test func notADatabase() throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        try Data("not sqlite at all, definitely not".utf8).write(to: URL(fileURLWithPath: workspace.indexPath))
        #expect(throws: IndexError.self) { try openIndexStore(at: workspace.indexPath, create: false) }
    }
}

@Suite("Large-index query pruning")
struct UbiquitousTermTests {
    @Test func commonWordsAreDroppedOnLargeIndexes() async throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        // 2,100 short paragraphs, one chunk each; "pomme" everywhere, "calvados" in three.
        let paragraphs = (0..<2_100).map { number in
            "Paragraphe \(number) : une pomme" + (number % 700 == 5 ? " au calvados." : ".")
        }
        try workspace.write("gros.txt", paragraphs.joined(separator: "\n\n"))
        let store = try workspace.open()
        let summary = try await store.ingest(dataDirectory: workspace.data,
                                             options: IngestOptions(chunking: ChunkingOptions(targetSize: 40, overlap: 0)))
        #expect(summary.chunks >= SQLiteIndexStore.ubiquityThreshold)
        let hits = try store.search("pomme calvados", k: 10)
        #expect(hits.count == 3)
        #expect(hits.allSatisfy { $0.text.contains("calvados") })
        // Only common words: the rarest is kept, results still come.
        #expect(try store.search("pomme paragraphe", k: 5).count == 5)
    }
}

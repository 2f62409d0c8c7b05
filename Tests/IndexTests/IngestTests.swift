import Documents
import Foundation
import Index
import TestSupport
import Testing

extension IndexStoreContract {
    @Suite("Incremental ingest")
    struct IngestTests {
        @Test(arguments: IndexImplementation.all)
        func addModifyDeleteAndNoOp(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("tarte.txt", Samples.tarte)
            try workspace.write("recettes/secrets.md", Samples.secrets)
            let store = try workspace.open()

            let first = try await store.ingest(dataDirectory: workspace.data)
            #expect(first.added == 2 && first.updated == 0 && first.unchanged == 0 && first.removed == 0 && first.failed == 0)
            #expect(first.chunks > 0)
            #expect(try store.documents().map(\.path) == ["recettes/secrets.md", "tarte.txt"])
            let stats = try store.statistics()
            #expect(stats.documents == 2 && stats.chunks == first.chunks && stats.schemaVersion == implementation.schemaVersion)

            // Re-run: nothing to do.
            let again = try await store.ingest(dataDirectory: workspace.data)
            #expect(again.unchanged == 2 && again.added == 0 && again.updated == 0 && again.chunks == 0)
            #expect(try store.statistics().chunks == first.chunks)

            // Touched but identical content: still unchanged (hash), and the next run takes the quick path.
            try workspace.touch("tarte.txt", secondsAgo: 3600)
            #expect(try await store.ingest(dataDirectory: workspace.data).unchanged == 2)

            // Modified.
            try workspace.write("tarte.txt", Samples.tarte + "\n\nLa tarte bourdaloue associe poires et frangipane.")
            let modified = try await store.ingest(dataDirectory: workspace.data)
            #expect(modified.updated == 1 && modified.unchanged == 1)
            #expect(try store.search("bourdaloue frangipane", k: 3).first?.file == "tarte.txt")

            // Deleted.
            try workspace.remove("recettes/secrets.md")
            let deleted = try await store.ingest(dataDirectory: workspace.data)
            #expect(deleted.removed == 1 && deleted.unchanged == 1)
            #expect(try store.documents().map(\.path) == ["tarte.txt"])
            #expect(try store.search("réfrigérateur fourchette", k: 3).isEmpty)
            try store.checkIntegrity()
        }

        @Test(arguments: IndexImplementation.all)
        func ignoresHiddenAndOtherFilesAndRecurses(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", "Pommes.")
            try workspace.write("B.MD", "Poires.")
            try workspace.write(".cache.txt", "caché")
            try workspace.write(".hidden/c.txt", "caché aussi")
            try workspace.write("notes.docx", "pas lu")
            try workspace.write("image.png", Data([0x89, 0x50, 0x4E, 0x47]))
            try workspace.write("deep/er/d.txt", "Cerises.")
            let summary = try await workspace.open().ingest(dataDirectory: workspace.data)
            #expect(summary.added == 3 && summary.failed == 0)
            #expect(try workspace.open().documents().map(\.path) == ["B.MD", "a.txt", "deep/er/d.txt"])
        }

        @Test(arguments: IndexImplementation.all)
        func unreadableFilesAreReportedAndOthersIndexed(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("bon.txt", Samples.tarte)
            try workspace.write("binaire.txt", Data([0x00, 0x01, 0x02, 0xFF, 0x00]))
            try workspace.write("casse.pdf", "%PDF-1.7 garbage")
            try workspace.write("chiffre.pdf", PDFWriter.document(pages: [["secret"]], encrypted: true))
            try workspace.write("vrai.pdf", PDFWriter.document(pages: [["Une page de PDF sur la pâte sablée."], ["Et une seconde page."]]))
            let store = try workspace.open()
            let events = EventLog()
            let summary = try await store.ingest(dataDirectory: workspace.data, progress: events.record)
            #expect(summary.added == 2 && summary.failed == 3)
            #expect(Set(summary.failures.map(\.path)) == ["binaire.txt", "casse.pdf", "chiffre.pdf"])
            #expect(summary.failures.first { $0.path == "chiffre.pdf" }?.reason.contains("encrypted") == true)
            #expect(summary.pages == 1 + 2)
            let failedEvents = events.all.filter { if case .fileFailed = $0 { true } else { false } }
            #expect(failedEvents.count == 3)
            #expect(try store.search("pâte sablée", k: 1).first?.page == 1)
            #expect(try store.statistics().failedDocuments == 3)

            // Failed files are retried; once fixed they are added.
            try workspace.write("binaire.txt", "Maintenant du texte.")
            let next = try await store.ingest(dataDirectory: workspace.data)
            #expect(next.updated == 1 && next.failed == 2 && next.unchanged == 2)
            try store.checkIntegrity()
        }

        @Test(arguments: IndexImplementation.all)
        func fileThatBecomesUnreadableLosesItsChunks(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("doc.txt", Samples.tarte)
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data)
            try workspace.write("doc.txt", Data([0, 0, 0, 1]))
            let summary = try await store.ingest(dataDirectory: workspace.data)
            #expect(summary.failed == 1)
            #expect(try store.search("Tatin", k: 5).isEmpty)
            #expect(try store.documents().first?.status == "failed")
        }

        @Test(arguments: IndexImplementation.all)
        func interruptedIngestLeavesThePreviousState(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", "Première version de A : pommes golden.")
            try workspace.write("b.txt", "Première version de B : pommes boskoop.")
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data)

            try workspace.write("a.txt", "Deuxième version de A : poires williams.")
            try workspace.write("b.txt", "Deuxième version de B : coings.")
            try workspace.write("c.txt", "Nouveau fichier C : abricots.")
            // Fail inside b.txt's transaction, after its rows were written.
            let options = IngestOptions(beforeCommit: { path in if path == "b.txt" { throw InjectedFailure() } })
            await #expect(throws: InjectedFailure.self) {
                try await store.ingest(dataDirectory: workspace.data, options: options)
            }
            // a.txt was committed, b.txt is exactly as before, c.txt not there yet.
            try store.checkIntegrity()
            #expect(try store.search("williams", k: 5).map(\.file) == ["a.txt"])
            #expect(try store.search("boskoop", k: 5).map(\.file) == ["b.txt"])
            #expect(try store.search("coings", k: 5).isEmpty)
            #expect(try store.documents().map(\.path) == ["a.txt", "b.txt"])

            // The next run finishes the work.
            let resumed = try await store.ingest(dataDirectory: workspace.data)
            #expect(resumed.unchanged == 1 && resumed.updated == 1 && resumed.added == 1)
            #expect(try store.search("boskoop", k: 5).isEmpty)
            #expect(try store.search("coings abricots", k: 5).map(\.file).sorted() == ["b.txt", "c.txt"])
            try store.checkIntegrity()
        }

        @Test(arguments: IndexImplementation.all)
        func cancelledIngestIsConsistent(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            for number in 0..<40 { try workspace.write("f\(number).txt", "Fichier \(number). " + Samples.tarte) }
            let store = try workspace.open()
            let handle = TaskHandle()
            let task = Task {
                try await store.ingest(dataDirectory: workspace.data, options: IngestOptions(beforeCommit: { path in
                    if path == "f20.txt" { handle.cancel() }
                }))
            }
            handle.set(task)
            await #expect(throws: CancellationError.self) { try await task.value }
            try store.checkIntegrity()
            let partial = try store.documents().count
            #expect(partial > 0 && partial < 40)
            let resumed = try await store.ingest(dataDirectory: workspace.data)
            #expect(resumed.unchanged == partial && resumed.added == 40 - partial)
        }

        @Test(arguments: IndexImplementation.all)
        func changedChunkSettingsReindexEverything(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", Samples.tarte)
            let store = try workspace.open()
            let first = try await store.ingest(dataDirectory: workspace.data)
            let small = IngestOptions(chunking: ChunkingOptions(targetSize: 100, overlap: 20))
            let second = try await store.ingest(dataDirectory: workspace.data, options: small)
            #expect(second.updated == 1)
            #expect(second.chunks > first.chunks)
            #expect(try await store.ingest(dataDirectory: workspace.data, options: small).unchanged == 1)
            await #expect(throws: IndexError.self) {
                try await store.ingest(dataDirectory: workspace.data, options: IngestOptions(chunking: ChunkingOptions(targetSize: 100, overlap: 90)))
            }
        }

        @Test(arguments: IndexImplementation.all)
        func missingDataDirectory(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            await #expect(throws: IndexError.dataDirectoryNotFound(path: workspace.root.appendingPathComponent("nope").path)) {
                try await workspace.open().ingest(dataDirectory: workspace.root.appendingPathComponent("nope"))
            }
        }

        @Test(arguments: IndexImplementation.all)
        func progressEvents(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", Samples.tarte)
            try workspace.write("b.txt", Samples.secrets)
            try workspace.write("c.txt", Data([0x43, 0x72, 0xE8, 0x6D, 0x65]))  // "Crème" in Windows-1252
            let events = EventLog()
            _ = try await workspace.open().ingest(dataDirectory: workspace.data, progress: events.record)
            let all = events.all
            #expect(all.first == .scanned(files: 3))
            #expect(all.contains(.fileStarted(path: "a.txt", index: 1, total: 3)))
            #expect(all.contains { if case .fileWarning("c.txt", let message) = $0 { message.contains("Windows-1252") } else { false } })
            #expect(all.contains { if case .fileFinished("b.txt", .added, 1, _) = $0 { true } else { false } })
        }
    }

    @Suite("Embedding hook")
    struct EmbeddingTests {
        @Test(arguments: IndexImplementation.all)
        func everyChunkGetsAVector(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", Samples.tarte)
            try workspace.write("b.txt", Samples.secrets)
            let store = try workspace.open()
            let embedder = FakeEmbedder()
            let options = IngestOptions(chunking: ChunkingOptions(targetSize: 120, overlap: 30), embeddingBatchSize: 3)
            let events = EventLog()
            let summary = try await store.ingest(dataDirectory: workspace.data, options: options, embedder: embedder,
                                                 progress: events.record)
            let stats = try store.statistics()
            #expect(stats.vectors == stats.chunks && summary.embedded == stats.chunks)
            #expect(stats.encoderModelID == "fake-bow-v1")
            #expect(embedder.embeddedTexts == stats.chunks)
            #expect(events.all.contains { if case .embedding = $0 { true } else { false } })

            // Stored vectors are the embedder's, in chunk order.
            let stored = try store.vectors(modelID: embedder.modelID)
            #expect(stored.dimension == 16 && stored.ids.count == stats.chunks)
            let firstChunks = try store.chunks(ofFile: "a.txt")
            let expected = try embedder.embed([Chunk.indexedText(firstChunks[0].text, context: firstChunks[0].context)])[0]
            let index = try #require(stored.ids.firstIndex(of: firstChunks[0].chunkID))
            #expect(Array(stored.data[index * 16..<(index + 1) * 16]) == expected)

            // Nothing changed: nothing embedded.
            let again = FakeEmbedder()
            #expect(try await store.ingest(dataDirectory: workspace.data, options: options, embedder: again).embedded == 0)
            #expect(again.embeddedTexts == 0)
        }

        @Test(arguments: IndexImplementation.all)
        func newModelRecomputesAllVectors(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", Samples.tarte)
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data, embedder: FakeEmbedder())
            let chunks = try store.statistics().chunks

            let other = FakeEmbedder(modelID: "fake-bow-v2", dimension: 24)
            let summary = try await store.ingest(dataDirectory: workspace.data, embedder: other)
            #expect(summary.unchanged == 1 && summary.embedded == chunks)
            #expect(try store.vectors(modelID: "fake-bow-v1").ids.isEmpty)
            #expect(try store.vectors(modelID: "fake-bow-v2").ids.count == chunks)
            #expect(try store.statistics().encoderModelID == "fake-bow-v2")
        }

        @Test(arguments: IndexImplementation.all)
        func ingestWithoutEmbedderThenWithOneFillsIn(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", Samples.tarte)
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data)
            #expect(try store.statistics().vectors == 0)
            let summary = try await store.ingest(dataDirectory: workspace.data, embedder: FakeEmbedder())
            #expect(summary.embedded == (try store.statistics().chunks))
        }

        @Test(arguments: IndexImplementation.all)
        func wrongDimensionIsAnError(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            try workspace.write("a.txt", Samples.tarte)
            await #expect(throws: IndexError.self) {
                try await workspace.open().ingest(dataDirectory: workspace.data, embedder: BrokenEmbedder())
            }
            try workspace.open().checkIntegrity()
        }
    }

    @Suite("Change detection")
    struct ChangeDetectionTests {
        @Test(arguments: IndexImplementation.all)
        func recentlyWrittenFilesAreHashedEvenWithSameSizeAndMtime(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let file = try workspace.write("a.txt", "pommes golden")
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data)
            let mtime = try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as! Date
            // Same size, same mtime, other content, right after indexing: must be seen.
            try workspace.write("a.txt", "poires comice")
            try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: file.path)
            let summary = try await store.ingest(dataDirectory: workspace.data)
            #expect(summary.updated == 1)
            #expect(try store.search("comice", k: 1).first?.file == "a.txt")
        }

        @Test(arguments: IndexImplementation.all)
        func oldFilesTakeTheQuickPath(_ implementation: IndexImplementation) async throws {
            let workspace = try Workspace(implementation)
            defer { workspace.cleanup() }
            let file = try workspace.write("a.txt", "pommes golden")
            try workspace.touch("a.txt", secondsAgo: 3600)
            let store = try workspace.open()
            _ = try await store.ingest(dataDirectory: workspace.data)
            let mtime = try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as! Date
            // Same size and an old, unchanged mtime: trusted without reading the file.
            try workspace.write("a.txt", "poires comice")
            try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: file.path)
            #expect(try await store.ingest(dataDirectory: workspace.data).unchanged == 1)
            #expect(try store.search("golden", k: 1).first?.file == "a.txt")
            // A new mtime: hashed, re-indexed.
            try workspace.touch("a.txt", secondsAgo: 1800)
            #expect(try await store.ingest(dataDirectory: workspace.data).updated == 1)
        }
    }
}

@Suite("Vector coding")
struct VectorCodingTests {
    @Test func vectorCodingRoundTrips() {
        let vector: [Float] = [0, 1, -2.5, .pi, 1e-30]
        #expect(VectorCoding.decode(VectorCoding.encode(vector), dimension: 5) == vector)
        #expect(VectorCoding.decode(VectorCoding.encode(vector), dimension: 4) == nil)
    }
}

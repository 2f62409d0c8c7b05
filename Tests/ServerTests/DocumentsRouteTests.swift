import Foundation
import Hummingbird
import HummingbirdTesting
import Index
import RAG
import Server
import Testing
import TestSupport

/// `/documents`: listing, uploads (and every bad upload refused with nothing written), deletion,
/// the original files, indexing progress, and who may use them. Through a live server on
/// loopback, since the routes are for loopback clients when the server has no key.
@Suite(.serialized) struct DocumentsRouteTests {
    /// A data folder with one text file, its index, and a library over both (1 MB uploads).
    struct Fixture {
        let base: URL
        let data: URL
        let store: any IndexStore
        let library: DocumentLibrary

        init(files: [String: Data] = ["tarte.txt": Data("La tarte Tatin est une tarte renversée.\n\nElle vient de Lamotte-Beuvron.\n".utf8)],
             maxUploadBytes: Int = 1 << 20, dataFolder: String = "data") async throws {
            base = TestDirectory.make("ragchat-docs")
            let indexed = base.appendingPathComponent("data")
            try FileManager.default.createDirectory(at: indexed, withIntermediateDirectories: true)
            for (name, contents) in files { try contents.write(to: indexed.appendingPathComponent(name)) }
            store = try openIndexStore(at: base.appendingPathComponent("index.sqlite").path)
            _ = try await store.ingest(dataDirectory: indexed)
            data = base.appendingPathComponent(dataFolder)
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            library = DocumentLibrary(dataDirectory: data, store: store, embedder: nil, maxUploadBytes: maxUploadBytes)
        }

        func app(_ change: (inout ServerConfiguration) -> Void = { _ in }) -> some ApplicationProtocol {
            buildApplication(ServerState(configuration: testConfiguration(change),
                                         holder: EngineHolder(engine: StubEngine(), library: library)))
        }

        /// Files of the base folder, recursively (what an upload may have written).
        func allFiles() -> [String] {
            let e = FileManager.default.enumerator(atPath: base.path)
            var files: [String] = []
            while let f = e?.nextObject() as? String { files.append(f) }
            return files.filter { !$0.hasPrefix("index.sqlite") }.sorted()
        }
    }

    static let boundary = "ragchat-test-boundary"
    static var multipartHeaders: HTTPFields { [.contentType: "multipart/form-data; boundary=\(boundary)"] }

    /// A multipart body of `(file name, contents)` parts, plus optional raw parts.
    static func multipart(_ files: [(String, Data)], fields: [(String, String)] = []) -> ByteBuffer {
        var body = Data()
        for (name, value) in fields {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        for (name, contents) in files {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".utf8)
            body += Data(name.utf8)
            body += Data("\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += contents
            body += Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        return ByteBuffer(data: body)
    }

    static func object(_ buffer: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
    }

    static func errorCode(_ buffer: ByteBuffer) -> String? {
        (object(buffer)["error"] as? [String: Any])?["code"] as? String
    }

    static func files(_ buffer: ByteBuffer) -> [String: [String: Any]] {
        let documents = object(buffer)["documents"] as? [[String: Any]] ?? []
        return Dictionary(documents.map { ($0["file"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func listsTheIndexedDocuments() async throws {
        let f = try await Fixture()
        try await f.app().test(.live) { client in
            try await client.execute(uri: "/documents", method: .get) { r in
                #expect(r.status == .ok)
                let doc = try #require(Self.files(r.body)["tarte.txt"])
                #expect(doc["status"] as? String == "indexed")
                #expect(doc["chunks"] as? Int == 1)
                #expect((doc["id"] as? Int ?? 0) > 0)
                #expect((doc["indexed_at"] as? String)?.hasSuffix("Z") == true)
                #expect(Self.object(r.body)["max_upload_bytes"] as? Int == 1 << 20)
                #expect((Self.object(r.body)["indexing"] as? [String: Any])?["state"] as? String == "idle")
            }
        }
    }

    @Test func anUploadIsStoredThenIndexedInTheBackground() async throws {
        let f = try await Fixture()
        let pdf = PDFWriter.document(pages: [["Le refuge du lac Vert."], ["Le gardien s'appelle Aurélien Marchetti."]])
        try await f.app().test(.live) { client in
            let body = Self.multipart([("Guide du refuge.pdf", pdf), ("notes.md", Data("# Notes\n\nLe col est fermé en hiver.\n".utf8))],
                                      fields: [("comment", "ignored")])
            try await client.execute(uri: "/documents", method: .post, headers: Self.multipartHeaders, body: body) { r in
                #expect(r.status == .accepted)
                let stored = Self.files(r.body)
                #expect(stored["Guide du refuge.pdf"]?["status"] as? String == "queued")
                #expect(stored["notes.md"]?["replaced"] as? Bool == false)
            }
            await f.library.waitUntilIdle()
            try await client.execute(uri: "/documents", method: .get) { r in
                let docs = Self.files(r.body)
                #expect(docs["Guide du refuge.pdf"]?["status"] as? String == "indexed")
                #expect(docs["Guide du refuge.pdf"]?["pages"] as? Int == 2)
                #expect(docs["notes.md"]?["status"] as? String == "indexed")
                #expect((Self.object(r.body)["indexing"] as? [String: Any])?["generation"] as? Int == 1)
            }
            let hits = try f.store.search("gardien Marchetti", k: 3)
            #expect(hits.first?.file == "Guide du refuge.pdf" && hits.first?.page == 2)
            // The same name again replaces the file.
            let again = Self.multipart([("notes.md", Data("# Notes\n\nLe col rouvre en juin.\n".utf8))])
            try await client.execute(uri: "/documents", method: .post, headers: Self.multipartHeaders, body: again) { r in
                #expect(r.status == .accepted)
                #expect(Self.files(r.body)["notes.md"]?["replaced"] as? Bool == true)
            }
            await f.library.waitUntilIdle()
            #expect(try f.store.search("rouvre juin", k: 1).first?.file == "notes.md")
            #expect(try f.store.search("fermé hiver", k: 1).isEmpty)
        }
        #expect(f.allFiles() == ["data", "data/.ragchat-uploads", "data/Guide du refuge.pdf", "data/notes.md", "data/tarte.txt"])
    }

    @Test func badUploadsAreRefusedAndWriteNothing() async throws {
        let f = try await Fixture(files: [:], maxUploadBytes: 64 * 1024)
        try Data("Le col du Galibier culmine à 2 642 mètres.\n".utf8).write(to: f.data.appendingPathComponent("galibier.txt"))
        _ = try await f.store.ingest(dataDirectory: f.data)
        let before = try f.store.statistics()
        let text = Data("Du texte.\n".utf8)
        let cases: [(what: String, body: ByteBuffer, headers: HTTPFields, status: HTTPResponse.Status, code: String)] = [
            ("an empty file", Self.multipart([("vide.txt", Data())]), Self.multipartHeaders, .badRequest, "empty_file"),
            ("a corrupt PDF", Self.multipart([("cassé.pdf", Data("%PDF-1.4 pas vraiment".utf8))]), Self.multipartHeaders,
             .unprocessableContent, "unreadable_document"),
            ("a program", Self.multipart([("setup.exe", Data([0x4D, 0x5A, 0x90, 0x00]))]), Self.multipartHeaders,
             .unsupportedMediaType, "unsupported_file_type"),
            ("binary data named .txt", Self.multipart([("faux.txt", Data([0x00, 0x01, 0x02, 0xFF, 0x00, 0x00] + Array(repeating: 0, count: 100)))]),
             Self.multipartHeaders, .unprocessableContent, "unreadable_document"),
            ("a file over the limit", Self.multipart([("gros.txt", Data(repeating: 0x61, count: 65 * 1024))]), Self.multipartHeaders,
             .contentTooLarge, "file_too_large"),
            ("a name with ../", Self.multipart([("../evil.txt", text)]), Self.multipartHeaders, .badRequest, "invalid_file_name"),
            ("a name with a folder", Self.multipart([("sub/evil.txt", text)]), Self.multipartHeaders, .badRequest, "invalid_file_name"),
            ("a name with NUL", Self.multipart([("evil\u{0}.txt", text)]), Self.multipartHeaders, .badRequest, "invalid_file_name"),
            ("a hidden name", Self.multipart([(".bashrc.txt", text)]), Self.multipartHeaders, .badRequest, "invalid_file_name"),
            ("a good file then a bad one", Self.multipart([("bon.txt", text), ("vide.txt", Data())]), Self.multipartHeaders,
             .badRequest, "empty_file"),
            ("no file part", Self.multipart([], fields: [("file", "not a file")]), Self.multipartHeaders, .badRequest, "no_file"),
            ("JSON", ByteBuffer(string: "{}"), [.contentType: "application/json"], .unsupportedMediaType, "unsupported_media_type"),
            ("no boundary", Self.multipart([("a.txt", text)]), [.contentType: "multipart/form-data"], .badRequest, "invalid_multipart"),
            ("a truncated body", ByteBuffer(string: "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\n\r\nDu"),
             Self.multipartHeaders, .badRequest, "invalid_multipart"),
            // MultipartKit traps on these (found by schemathesis): refused before its parser sees them
            ("a non-ASCII header name", ByteBuffer(bytes: Array("--\(Self.boundary)\r\n".utf8) + [0xC3, 0x9B, 0x77] + Array(": x\r\n\r\nDu\r\n--\(Self.boundary)--\r\n".utf8)),
             Self.multipartHeaders, .badRequest, "invalid_multipart"),
            ("a non-ASCII header name in a second part", ByteBuffer(bytes: Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"é.txt\"\r\n\r\nDu texte é\r\n--\(Self.boundary)\r\nX".utf8) + [0xE9] + Array(": 1\r\n\r\nx\r\n--\(Self.boundary)--\r\n".utf8)),
             Self.multipartHeaders, .badRequest, "invalid_multipart"),
        ]
        // A server per case: a refused upload may close its connection (the rest of the body unread).
        for c in cases {
            try await f.app().test(.live) { client in
                try await client.execute(uri: "/documents", method: .post, headers: c.headers, body: c.body) { r in
                    #expect(r.status == c.status, "\(c.what)")
                    #expect(Self.errorCode(r.body) == c.code, "\(c.what): \(String(buffer: r.body))")
                }
            }
        }
        await f.library.waitUntilIdle()
        // Nothing stored, nothing left in the staging folder, nothing outside the data folder.
        #expect(f.allFiles() == ["data", "data/.ragchat-uploads", "data/galibier.txt"])
        #expect(try f.store.statistics() == before)
        try f.store.checkIntegrity()
        #expect(f.library.progress.generation == 0)
    }

    @Test func deletionRemovesTheFileThenItsPassages() async throws {
        let f = try await Fixture()
        try await f.app().test(.live) { client in
            let id = try #require(try f.store.documents().first?.id)
            try await client.execute(uri: "/documents/\(id)", method: .delete) { r in
                #expect(r.status == .accepted)
                #expect(Self.object(r.body)["file"] as? String == "tarte.txt")
            }
            await f.library.waitUntilIdle()
            #expect(try f.store.documents().isEmpty)
            #expect(try f.store.search("Tatin", k: 3).isEmpty)
            try await client.execute(uri: "/documents/\(id)", method: .delete) { r in
                #expect(r.status == .notFound)
            }
            try await client.execute(uri: "/documents/abc", method: .delete) { r in
                #expect(r.status == .badRequest && Self.errorCode(r.body) == "invalid_document_id")
            }
            try await client.execute(uri: "/documents/\(id)", method: .post) { r in
                #expect(r.status == .methodNotAllowed)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: f.data.appendingPathComponent("tarte.txt").path))
    }

    @Test func originalsAndMarkedPassages() async throws {
        let pdf = PDFWriter.document(pages: [["Première page."], ["Deuxième page, le four à 180 degrés."]])
        let long = (1...40).map { "Paragraphe \($0) : la pâte repose une heure au frais avant d'être étalée." }.joined(separator: "\n\n")
        let f = try await Fixture(files: ["guide.pdf": pdf, "long.txt": Data(long.utf8)])
        // A link inside the data folder to a file outside it: indexed, never served.
        let outside = f.base.appendingPathComponent("secret.txt")
        try Data("TOP SECRET mot de passe".utf8).write(to: outside)
        try FileManager.default.createSymbolicLink(at: f.data.appendingPathComponent("lien.txt"), withDestinationURL: outside)
        _ = try await f.store.ingest(dataDirectory: f.data)
        let docs = Dictionary(try f.store.documents().map { ($0.path, $0.id) }, uniquingKeysWith: { a, _ in a })
        let chunks = try f.store.chunks(ofFile: "long.txt")
        #expect(chunks.count > 2)
        let cited = chunks[1]
        try await f.app().test(.live) { client in
            try await client.execute(uri: "/documents/\(try #require(docs["guide.pdf"]))/file", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "application/pdf")
                #expect(Data(buffer: r.body) == pdf)
            }
            try await client.execute(uri: "/documents/\(try #require(docs["long.txt"]))/file", method: .get) { r in
                #expect(r.headers[.contentType] == "text/plain; charset=utf-8")
                #expect(String(buffer: r.body) == long)
            }
            try await client.execute(uri: "/documents/\(try #require(docs["long.txt"]))/file?passage=\(cited.chunkID)", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "text/html; charset=utf-8")
                let html = String(buffer: r.body)
                let marked = try #require(html.firstMatch(of: /<mark id="passage">([^<]*)<\/mark>/)).output.1
                #expect(String(marked) == cited.text)
                #expect(html.contains("Paragraphe 1 :") && html.contains("Paragraphe 40 :"))
            }
            // A passage of another document, or none.
            let other = try #require(try f.store.chunks(ofFile: "guide.pdf").first)
            try await client.execute(uri: "/documents/\(try #require(docs["long.txt"]))/file?passage=\(other.chunkID)", method: .get) { r in
                #expect(r.status == .notFound)
            }
            try await client.execute(uri: "/documents/\(try #require(docs["long.txt"]))/file?passage=x", method: .get) { r in
                #expect(r.status == .badRequest)
            }
            let link = try #require(docs["lien.txt"])   // ingest follows links
            try await client.execute(uri: "/documents/\(link)/file", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(!String(buffer: r.body).contains("SECRET"))
            }
            try await client.execute(uri: "/documents/999/file", method: .get) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/documents/..%2F..%2Fetc%2Fpasswd/file", method: .get) { r in
                #expect(r.status == .badRequest || r.status == .notFound)
            }
        }
    }

    @Test func progressIsStreamedAsServerSentEvents() async throws {
        let f = try await Fixture()
        let updates = f.library.progressUpdates()
        var iterator = updates.makeAsyncIterator()
        #expect(await iterator.next()?.state == .idle)
        try await f.app().test(.live) { client in
            try await client.execute(uri: "/documents", method: .post, headers: Self.multipartHeaders,
                                     body: Self.multipart([("b.txt", Data("Le beurre doit être froid.\n".utf8))])) { r in
                #expect(r.status == .accepted)
            }
        }
        // Indexing, then idle with one more finished pass — and by then the list shows the file
        // indexed: the page reloads the list once on seeing the generation move, so a "queued"
        // read at that moment would stay on screen.
        var seen: [IndexingProgress] = []
        while let p = await iterator.next() {
            seen.append(p)
            if p.state == .idle && p.generation == 1 {
                #expect(try f.library.documents().first { $0.file == "b.txt" }?.status == .indexed)
                break
            }
        }
        #expect(seen.contains { $0.state == .indexing })
        #expect(seen.last?.last?.summary.hasPrefix("added 1") == true)
    }

    @Test func onlyLoopbackClientsWithoutAKey() async throws {
        let f = try await Fixture()
        // The router test client has no address: not loopback.
        try await f.app().test(.router) { client in
            for (uri, method) in [("/documents", HTTPRequest.Method.get), ("/documents", .post), ("/documents/1", .delete),
                                  ("/documents/1/file", .get), ("/documents/events", .get)] {
                try await client.execute(uri: uri, method: method) { r in
                    #expect(r.status == .forbidden, "\(method) \(uri)")
                    #expect(Self.errorCode(r.body) == "loopback_only")
                }
            }
        }
        // With a server key, the key decides.
        let key = "0123456789abcdef-documents"
        try await f.app { $0.serverKey = try? ServerKey(key) }.test(.router) { client in
            try await client.execute(uri: "/documents", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/documents", method: .get, headers: [.authorization: "Bearer \(key)"]) { r in
                #expect(r.status == .ok)
            }
        }
    }

    @Test func aLibraryOverAnotherFolderOnlyReads() async throws {
        let f = try await Fixture(dataFolder: "elsewhere")
        #expect(f.library.readOnlyReason != nil)
        try await f.app().test(.live) { client in
            try await client.execute(uri: "/documents", method: .get) { r in
                #expect(r.status == .ok)
                #expect(Self.object(r.body)["read_only"] is String)
            }
            try await client.execute(uri: "/documents", method: .post, headers: Self.multipartHeaders,
                                     body: Self.multipart([("a.txt", Data("Du texte.\n".utf8))])) { r in
                #expect(r.status == .conflict && Self.errorCode(r.body) == "read_only")
            }
            try await client.execute(uri: "/documents/1", method: .delete) { r in #expect(r.status == .conflict) }
        }
        #expect(try f.store.documents().map(\.path) == ["tarte.txt"])
    }

    @Test func withoutADataFolderTheRoutesSaySo() async throws {
        let app = buildApplication(testConfiguration(), engine: StubEngine())
        try await app.test(.live) { client in
            try await client.execute(uri: "/documents", method: .get) { r in
                #expect(r.status == .serviceUnavailable && Self.errorCode(r.body) == "documents_unavailable")
            }
        }
    }

    @Test func uploadNamesAreChecked() throws {
        #expect(try DocumentLibrary.checkedName(" Café crème.PDF ") == "Café crème.PDF")
        #expect(try DocumentLibrary.checkedName("Cafe\u{301}.txt") == "Café.txt")   // NFC
        for bad in ["", "  ", "../a.txt", "a/b.txt", "a\\b.txt", ".env.txt", "a\u{0}.txt", "a\nb.txt", String(repeating: "é", count: 130) + ".txt"] {
            #expect(throws: LibraryError.self, "\(bad.debugDescription)") { try DocumentLibrary.checkedName(bad) }
        }
        #expect(throws: LibraryError.unsupportedType("a.exe")) { try DocumentLibrary.checkedName("a.exe") }
        #expect(throws: LibraryError.unsupportedType("a")) { try DocumentLibrary.checkedName("a") }
    }
}

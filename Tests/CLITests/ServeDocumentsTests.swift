import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// Documents managed through the real `ragchat serve` (encoder and vectors in release builds):
/// an upload becomes searchable without a restart, questions are answered while it is indexed,
/// progress arrives as Server-Sent Events, a deletion takes its passages away.
@Suite("ragchat serve: documents", .serialized)
struct ServeDocumentsTests {
    static let boundary = "serve-documents-test"

    static func upload(_ server: ServeTests.Server, _ files: [(String, Data)]) async throws -> (Int, [String: Any]) {
        var body = Data()
        for (name, contents) in files {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n\r\n".utf8)
            body += contents + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        let (status, data, _) = try await ServeTests.request(server.base + "/documents", method: "POST", body: body,
                                                             contentType: "multipart/form-data; boundary=\(boundary)")
        return (status, ServeTests.object(data))
    }

    static func ask(_ server: ServeTests.Server, _ question: String) async throws -> (status: Int, files: [String], answer: String) {
        let (status, data, _) = try await ServeTests.request(server.base + "/chat", method: "POST",
                                                             json: ["question": question, "speak": false])
        let object = ServeTests.object(data)
        let files = (object["sources"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
        return (status, files, object["answer"] as? String ?? "")
    }

    /// What `/documents/events` sends until `until` says stop (given the events so far) or 120 s pass.
    static func progressStream(port: Int, until: @escaping @Sendable ([[String: Any]]) -> Bool) async throws -> [UInt8] {
        try await onThread {
            let socket = try RawSocket(port: port)
            socket.send("GET /documents/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let read = socket.read(timeout: 120) { bytes in until(Self.events(in: bytes)) }
            socket.close()
            return read.bytes
        }
    }

    static func events(in bytes: [UInt8]) -> [[String: Any]] {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: "\n").compactMap { line -> [String: Any]? in
            guard line.hasPrefix("data: ") else { return nil }
            return ServeTests.object(Data(line.dropFirst(6).utf8))
        }
    }

    @Test(.enabled(if: ServeTests.dataAvailable))
    func anUploadedPDFAnswersWithoutARestartAndADeletionForgetsIt() async throws {
        let server = try ServeTests.Server()
        defer { _ = server.stop() }
        try await server.waitReady()
        let question = "Comment s'appelle le gardien du refuge du lac Vert ?"
        #expect(try await Self.ask(server, question).files.allSatisfy { $0 != "refuge.pdf" })

        // A long text to index first, so that questions are asked while indexing runs.
        let long = (1...120).map { "Section \($0). Le sentier numéro \($0) part du hameau et traverse la forêt de mélèzes "
            + "avant d'atteindre le col ; il faut compter \($0 % 5 + 2) heures de marche à la montée." }.joined(separator: "\n\n")
        let pdf = PDFWriter.document(pages: [["Le refuge du lac Vert se trouve à 2 180 mètres d'altitude."],
                                             ["La réservation se fait par téléphone."],
                                             ["Le gardien du refuge du lac Vert s'appelle Aurélien Marchetti."]])
        let port = server.port
        let watcher = Task { try await Self.progressStream(port: port) { events in
            events.contains { $0["state"] as? String == "idle" && $0["generation"] as? Int == 1 }
        } }
        try await Task.sleep(for: .milliseconds(300))
        let (status, stored) = try await Self.upload(server, [("sentiers.txt", Data(long.utf8)), ("refuge.pdf", pdf)])
        #expect(status == 202, "\(stored)")

        // Searches keep working while the upload is indexed.
        let during = ContinuousClock.now
        let meanwhile = try await Self.ask(server, "Comment faire une tarte aux pommes ?")
        #expect(meanwhile.status == 200 && meanwhile.files.contains("connaissances.txt"), "\(meanwhile)")
        print("serve documents: a question during indexing answered in \(ContinuousClock.now - during)")

        let events = Self.events(in: try await watcher.value)
        #expect(events.first?["state"] as? String == "idle")                  // the state at once
        #expect(events.contains { $0["state"] as? String == "indexing" && ($0["file_count"] as? Int ?? 0) >= 4 })
        let last = try #require(events.last?["last"] as? [String: Any])
        #expect((last["summary"] as? String)?.hasPrefix("added 2") == true, "\(last)")

        let answered = try await Self.ask(server, question)
        #expect(answered.files.first == "refuge.pdf", "\(answered)")
        #expect(answered.answer.contains("Marchetti"), "\(answered.answer)")

        // The citation opens the PDF: its page, and the file itself.
        let (_, listing, _) = try await ServeTests.request(server.base + "/documents")
        let documents = ServeTests.object(listing)["documents"] as? [[String: Any]] ?? []
        let id = try #require(documents.first { $0["file"] as? String == "refuge.pdf" }?["id"] as? Int)
        let (fileStatus, file, type) = try await ServeTests.request(server.base + "/documents/\(id)/file")
        #expect(fileStatus == 200 && type == "application/pdf" && file == pdf)

        let (deleted, _, _) = try await ServeTests.request(server.base + "/documents/\(id)", method: "DELETE")
        #expect(deleted == 202)
        for _ in 0..<100 {
            let (_, data, _) = try await ServeTests.request(server.base + "/documents")
            let files = (ServeTests.object(data)["documents"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
            if !files.contains("refuge.pdf") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await Self.ask(server, question).files.allSatisfy { $0 != "refuge.pdf" })
        #expect(!FileManager.default.fileExists(atPath: server.work.appendingPathComponent("data/refuge.pdf").path))
    }

    /// An open event stream does not keep a stopping server waiting.
    @Test(.enabled(if: ServeTests.dataAvailable))
    func sigtermEndsTheEventStreams() async throws {
        let server = try ServeTests.Server()
        defer { _ = server.stop() }
        try await server.waitReady()
        let port = server.port
        let reader = Task {
            try await onThread {
                let socket = try RawSocket(port: port)
                socket.send("GET /documents/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                return socket.read(timeout: 30).end
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        let start = ContinuousClock.now
        server.process.terminate()
        #expect(try await reader.value == .closed)
        server.process.waitUntilExit()
        let waited = ContinuousClock.now - start
        #expect(server.process.terminationStatus == 0)
        #expect(waited < .seconds(15), "stopped after \(waited)")
    }
}

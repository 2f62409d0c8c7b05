import Foundation
import Index
import Synchronization
import Testing
import TestSupport

/// End-to-end tests of the built `ragchat` binary.
@Suite("ragchat CLI", .serialized)
struct CLITests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `ragchat` executable next to the test bundle (same build configuration).
    static func binary() throws -> URL {
        var candidates: [URL] = []
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("ragchat"))
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(repositoryRoot.appendingPathComponent(".build/debug/ragchat"))
        candidates.append(repositoryRoot.appendingPathComponent(".build/release/ragchat"))
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                            "ragchat binary not found near \(runner.path)")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    /// - Parameter environment: `RAGCHAT_*` variables for the child instead of this process's.
    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RAGCHAT_") }
                .merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes fully before waiting (large outputs would block the child).
        let errData = Mutex(Data())
        let errHandle = err.fileHandleForReading
        let reader = Thread { errData.withLock { $0 = errHandle.readDataToEndOfFile() } }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.005) }
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: errData.withLock { String(decoding: $0, as: UTF8.self) })
    }

    static func temporaryDirectory() throws -> URL {
        let url = TestDirectory.make("ragchat-cli")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("data"), withIntermediateDirectories: true)
        return url
    }

    /// A minimal two-page PDF with a text layer (Helvetica, WinAnsi), written by hand.
    static func twoPagePDF() -> Data {
        let pages = ["La pate sableee se travaille du bout des doigts.", "Cuisson de la tarte a 180 degres, quarante minutes."]
        var objects = ["<< /Type /Catalog /Pages 2 0 R >>",
                       "<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>",
                       "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
        for (index, text) in pages.enumerated() {
            let stream = "BT /F1 12 Tf 72 720 Td (\(text)) Tj ET"
            objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents \(5 + index * 2) 0 R >>")
            objects.append("<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream")
        }
        var file = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(file.utf8.count)
            file += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = file.utf8.count
        file += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { file += String(format: "%010d 00000 n \n", offset) }
        file += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(file.utf8)
    }

    static var summaryPattern: Regex<(Substring, Substring, Substring, Substring, Substring, Substring, Substring)> { #/added (\d+), updated (\d+), unchanged (\d+), removed (\d+), failed (\d+) — (\d+) chunks in [0-9.]+ s/# }

    static func counts(_ output: String) throws -> [Int] {
        let match = try #require(output.firstMatch(of: summaryPattern), "no summary line in: \(output)")
        return [match.1, match.2, match.3, match.4, match.5, match.6].map { Int($0)! }
    }

    @Test func ingestThenSearch() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        try Data("La pâte brisée se fait avec du beurre froid.\n\nLa tarte Tatin est renversée.".utf8)
            .write(to: data.appendingPathComponent("notes.txt"))
        try Self.twoPagePDF().write(to: data.appendingPathComponent("guide.pdf"))
        try Data([0x00, 0x01, 0x02]).write(to: data.appendingPathComponent("binaire.txt"))
        let index = root.appendingPathComponent("out/index.sqlite").path

        let first = try Self.run(["ingest", "--data", data.path, "--index", index, "--chunk-size", "200", "--overlap", "40"])
        #expect(first.status != 0)                                  // one file failed
        #expect(try Self.counts(first.stdout) == [2, 0, 0, 0, 1, try Self.counts(first.stdout)[5]])
        #expect(first.stderr.contains("error: binaire.txt: binary data"))
        #expect(first.stderr.contains("added guide.pdf (2 pages"))

        try FileManager.default.removeItem(at: data.appendingPathComponent("binaire.txt"))
        let second = try Self.run(["ingest", "--data", data.path, "--index", index, "--chunk-size", "200", "--overlap", "40"])
        #expect(second.status == 0)
        #expect(try Self.counts(second.stdout) == [0, 0, 2, 0, 0, 0])

        let plain = try Self.run(["search", "pate brisee", "--index", index])
        #expect(plain.status == 0)
        #expect(plain.stdout.hasPrefix("1. "))
        #expect(plain.stdout.contains("notes.txt"))

        let json = try Self.run(["search", "cuisson tarte", "--index", index, "-k", "1", "--json"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 1)
        let first1 = try #require(results.first)
        #expect(first1["rank"] as? Int == 1)
        #expect(first1["file"] as? String == "guide.pdf")
        #expect(first1["page"] as? Int == 2)
        #expect((first1["score"] as? Double ?? 0) > 0)
        #expect((first1["text"] as? String)?.contains("quarante minutes") == true)

        let textHit = try Self.run(["search", "Tatin", "--index", index, "--json"])
        let textResults = try #require((try JSONSerialization.jsonObject(with: Data(textHit.stdout.utf8)) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(textResults.first?["page"] is NSNull)

        for hostile in ["\"", "*", "NEAR(", "'; DROP TABLE chunks; --", ""] {
            let result = try Self.run(["search", hostile, "--index", index])
            #expect(result.status == 0, "query \(hostile): \(result.stderr)")
        }
        // (keywords: e5 gives any text a cosine near 0.8, above the fusion's 0.3 floor set for
        // MiniLM, so hybrid search returns dense neighbours until that floor is calibrated for e5)
        let none = try Self.run(["search", "zzzzzz", "--index", index, "--json", "--mode", "bm25"])
        #expect(none.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"results":[]}"#)
    }

    @Test func searchOnMissingIndex() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let missing = root.appendingPathComponent("absent.sqlite").path
        let result = try Self.run(["search", "pomme", "--index", missing])
        #expect(result.status != 0)
        #expect(result.stderr.contains(missing))
        #expect(result.stderr.contains("ragchat ingest"))
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    /// `serve`'s settings: an option, else its `RAGCHAT_*` variable, else the default; a bad value
    /// stops the start with the option's name (exit 64).
    @Test func serveSettings() throws {
        let env = ["RAGCHAT_PORT": "9000", "RAGCHAT_HOST": "0.0.0.0", "RAGCHAT_SPEECH_RATE": "150",
                   "RAGCHAT_BACKENDS": "extractive", "RAGCHAT_BODY_TIMEOUT": "7", "RAGCHAT_API_BASE": "http://127.0.0.1:1/v1",
                   "RAGCHAT_API_KEY": "sk-secret"]
        let r = try Self.run(["serve", "--print-settings", "--port", "9100", "--index=/tmp/i.sqlite", "--answer-voice", "fr+f2",
                              "--idle-timeout", "0"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        for expected in ["port: 9100", "host: \"0.0.0.0\"", "indexPath: \"/tmp/i.sqlite\"", "speechRate: 150",
                         "answerVoice: \"fr+f2\"", "questionVoice: \"fr+m3\"", "backends: [RAG.BackendKind.extractive]",
                         "bodyTimeout: 7.0", "idleTimeout: 0.0", "headerTimeout: 10.0", "maxBodyBytes: 65536",
                         "maxQuestionLength: 4000", "baseURL: \"http://127.0.0.1:1/v1\"", "apiKey: Optional(\"(set)\")"] {
            #expect(r.stdout.contains(expected), "\(expected) in \(r.stdout)")
        }
        #expect(!r.stdout.contains("sk-secret"))
        // Naming a model adds the local backend, unless the backends are given.
        let model = try Self.run(["serve", "--print-settings", "--model", "m.gguf"], environment: [:])
        #expect(model.stdout.contains("backends: [RAG.BackendKind.remote, RAG.BackendKind.local, RAG.BackendKind.extractive]"))
        // Query expansion: the default model unless named; empty turns it off.
        #expect(model.stdout.contains("expansionModelPath: Optional(\"models/decoder/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf\")"), "\(model.stdout)")
        let noExpansion = try Self.run(["serve", "--print-settings", "--expansion-model", ""], environment: [:])
        #expect(noExpansion.stdout.contains("expansionModelPath: nil"), "\(noExpansion.stdout)")
        let fromVariable = try Self.run(["serve", "--print-settings"], environment: ["RAGCHAT_EXPANSION_MODEL": "g.gguf"])
        #expect(fromVariable.stdout.contains("expansionModelPath: Optional(\"g.gguf\")"), "\(fromVariable.stdout)")
        let bad: [([String], [String: String], String)] = [
            (["--port", "http"], [:], "--port"),
            (["--port", "70000"], [:], "--port: must be between 0 and 65535, got 70000"),
            ([], ["RAGCHAT_PORT": "http"], "--port: RAGCHAT_PORT='http' is not a valid value"),
            ([], ["RAGCHAT_MAX_QUEUE": "-1"], "--max-queue: must be between 0 and 10000, got -1 (from RAGCHAT_MAX_QUEUE)"),
            (["--body-timeout", "-1"], [:], "--body-timeout"),
            (["--backends", "remote,gpt"], [:], "--backends: invalid request: unknown backend 'gpt'"),
            (["--top-k", "21"], [:], "--top-k: must be between 1 and 20"),
            (["--colour", "red"], [:], "--colour"),
        ]
        for (arguments, environment, message) in bad {
            let r = try Self.run(["serve", "--print-settings"] + arguments, environment: environment)
            #expect(r.status == 64, "\(arguments) \(environment)")
            #expect(r.stderr.contains(message), "\(arguments) \(environment): \(r.stderr)")
        }
    }

    @Test func badArguments() throws {
        // refused before the index is opened: no empty index is left behind
        let missingIndex = "/tmp/ragchat-x-\(UUID().uuidString).sqlite"
        let missing = try Self.run(["ingest", "--data", "/nonexistent-ragchat-dir", "--index", missingIndex])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent-ragchat-dir"))
        #expect(!FileManager.default.fileExists(atPath: missingIndex))
        let overlapIndex = "/tmp/ragchat-y-\(UUID().uuidString).sqlite"
        let overlap = try Self.run(["ingest", "--chunk-size", "100", "--overlap", "80", "--index", overlapIndex])
        #expect(overlap.status != 0)
        #expect(overlap.stderr.contains("overlap"))
        #expect(!FileManager.default.fileExists(atPath: overlapIndex))
        #expect(try Self.run(["search", "x", "-k", "0"]).status != 0)
    }

    /// Ingest with the real encoder (from `make models`), then the three search modes.
    @Test func searchModes() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        try Data("""
            La pâte brisée se fait avec du beurre froid et de la farine.

            La tarte Tatin est une tarte renversée : les pommes caramélisent dans le beurre.

            Le four doit être préchauffé à 180 degrés avant la cuisson.
            """.utf8).write(to: data.appendingPathComponent("notes.txt"))
        let index = root.appendingPathComponent("index.sqlite").path
        let ingest = try Self.run(["ingest", "--data", data.path, "--index", index, "--chunk-size", "100", "--overlap", "0"],
                                  in: Self.repositoryRoot)
        #expect(ingest.status == 0, "\(ingest.stderr)")

        func results(_ arguments: [String]) throws -> [[String: Any]] {
            let run = try Self.run(["search", "--index", index, "--json"] + arguments, in: Self.repositoryRoot)
            #expect(run.status == 0, "\(run.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            return try #require(object?["results"] as? [[String: Any]])
        }
        let hybrid = try results(["tarte renversée"])
        #expect(hybrid.first?["file"] as? String == "notes.txt")
        #expect((hybrid.first?["text"] as? String)?.contains("Tatin") == true)
        #expect(hybrid.first?["bm25"] is Double && hybrid.first?["cosine"] is Double)
        let bm25 = try results(["tarte renversée", "--mode", "bm25"])
        #expect(bm25.allSatisfy { $0["cosine"] is NSNull && $0["bm25"] is Double })
        // Dense search finds a passage that shares no keyword with the question.
        let dense = try results(["oven temperature", "--mode", "dense", "-k", "1"])
        #expect((dense.first?["text"] as? String)?.contains("four") == true)
        #expect(dense.allSatisfy { $0["bm25"] is NSNull && $0["cosine"] is Double })
        // Human-readable output shows both scores.
        let plain = try Self.run(["search", "--index", index, "tarte renversée"], in: Self.repositoryRoot)
        #expect(plain.stdout.contains("bm25 ") && plain.stdout.contains("cosine "))
        #expect(try Self.run(["search", "--index", index, "x", "--mode", "fuzzy"]).status != 0)

        // A keyword-only index: hybrid warns and falls back, dense is a clear error.
        let keywordIndex = root.appendingPathComponent("keywords.sqlite").path
        #expect(try Self.run(["ingest", "--data", data.path, "--index", keywordIndex, "--no-vectors"]).status == 0)
        let fallback = try Self.run(["search", "--index", keywordIndex, "tarte"], in: Self.repositoryRoot)
        #expect(fallback.status == 0 && fallback.stderr.contains("no vectors"))
        let denseOnly = try Self.run(["search", "--index", keywordIndex, "tarte", "--mode", "dense"], in: Self.repositoryRoot)
        #expect(denseOnly.status != 0 && denseOnly.stderr.contains("ragchat ingest"))
        let missing = try Self.run(["ingest", "--data", data.path, "--index", keywordIndex, "--encoder", "/nonexistent"])
        #expect(missing.status != 0 && missing.stderr.contains("make models"))

        // Another encoder (MiniLM, by folder): the next ingest recomputes every vector with it, and
        // the e5 query then finds no vectors of its model (keyword search with a warning).
        let miniLM = "models/encoder/all-MiniLM-L6-v2"
        let switched = try Self.run(["ingest", "--data", data.path, "--index", index, "--encoder", miniLM], in: Self.repositoryRoot)
        #expect(switched.status == 0, "\(switched.stderr)")
        let withMiniLM = try results(["tarte renversée", "--encoder", miniLM])
        #expect(withMiniLM.first?["cosine"] is Double)
        let e5Now = try Self.run(["search", "--index", index, "tarte"], in: Self.repositoryRoot)
        #expect(e5Now.status == 0 && e5Now.stderr.contains("no vectors"))
    }

    /// Broken model files — the real ones cut at 1 MB and at 90 %, random bytes, a text file
    /// under a model's name — are named with their problem by `generate` and `ingest`, without
    /// a crash.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: repositoryRoot.appendingPathComponent("models/decoder/gemma-3-270m-q4_k_m.gguf").path)))
    func brokenModelFilesAreNamed() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let models = Self.repositoryRoot.appendingPathComponent("models")
        let gguf = try Data(contentsOf: models.appendingPathComponent("decoder/gemma-3-270m-q4_k_m.gguf"), options: .alwaysMapped)
        let e5 = try Data(contentsOf: models.appendingPathComponent("encoder/multilingual-e5-small/e5-small-q4.bin"), options: .alwaysMapped)
        var rng = SystemRandomNumberGenerator()
        let random = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let text = Data(String(repeating: "Ceci est un fichier texte, pas un modèle.\n", count: 100).utf8)
        let data = root.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try Data("Une tarte aux pommes.".utf8).write(to: data.appendingPathComponent("a.txt"))
        let cases: [(String, Data)] = [("cut-1mb", gguf.prefix(1 << 20)), ("cut-90", gguf.prefix(gguf.count * 9 / 10)),
                                       ("random", random), ("text", text)]
        for (name, bytes) in cases {
            let model = root.appendingPathComponent("\(name).gguf")
            try bytes.write(to: model)
            let r = try Self.run(["generate", "--model", model.path, "--max-tokens", "2", "Bonjour"])
            #expect(r.status != 0 && r.status < 128 && r.stderr.contains(model.path), "\(name): \(r.status) \(r.stderr)")
            try FileManager.default.removeItem(at: model)
        }
        let encoderCases: [(String, Data)] = [("cut-1mb", e5.prefix(1 << 20)), ("cut-90", e5.prefix(e5.count * 9 / 10)),
                                              ("random", random), ("text", text)]
        for (name, bytes) in encoderCases {
            let encoder = root.appendingPathComponent("\(name).bin")
            try bytes.write(to: encoder)
            let r = try Self.run(["ingest", "--data", data.path, "--index", root.appendingPathComponent("i.sqlite").path,
                                  "--encoder", encoder.path])
            #expect(r.status != 0 && r.status < 128 && r.stderr.contains(encoder.path), "\(name): \(r.status) \(r.stderr)")
            try FileManager.default.removeItem(at: encoder)
        }
    }

    /// A truncated or foreign `.bin` given as `--encoder` is named with its problem.
    @Test func badEncoderFile() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Data("Une phrase.".utf8).write(to: root.appendingPathComponent("data/a.txt"))
        let index = root.appendingPathComponent("index.sqlite").path
        let foreign = root.appendingPathComponent("foreign.bin")
        try Data("GGUF\u{3}\0\0\0 not an encoder at all".utf8).write(to: foreign)
        let a = try Self.run(["ingest", "--data", root.appendingPathComponent("data").path, "--index", index, "--encoder", foreign.path])
        #expect(a.status != 0 && a.stderr.contains(foreign.path) && a.stderr.contains("not an E5S1 model file"), "\(a.stderr)")
        let truncated = root.appendingPathComponent("cut.bin")
        try Data("E5S1\u{1}\0\0\0\u{80}\u{1}\0\0".utf8).write(to: truncated)
        let b = try Self.run(["ingest", "--data", root.appendingPathComponent("data").path, "--index", index, "--encoder", truncated.path])
        #expect(b.status != 0 && b.stderr.contains(truncated.path + ": truncated"), "\(b.stderr)")
    }

    /// The index kinds the kill test runs on: a SQLite file, and PostgreSQL when the test server
    /// is there (`make test` starts it).
    static let indexKinds = TestPostgres.url == nil ? ["sqlite"] : ["sqlite", "postgres"]

    /// An ingest killed (SIGKILL) in the middle of its files leaves an index that opens and
    /// answers; the next run indexes what is left, each file whole (one transaction per file).
    @Test(arguments: indexKinds)
    func killedIngestResumes(_ kind: String) async throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        let paragraph = "La tarte aux pommes normande se prépare avec une pâte brisée et de la crème. "
        for number in 0..<150 {
            let text = (0..<120).map { "Fichier \(number), paragraphe \($0). " + paragraph }.joined(separator: "\n\n")
            try Data(text.utf8).write(to: data.appendingPathComponent(String(format: "f%03d.txt", number)))
        }
        let index: String
        if kind == "postgres" {
            index = try #require(TestPostgres.url) + "?schema=" + TestPostgres.freshSchema("ragchat_cli")
        } else {
            index = root.appendingPathComponent("index.sqlite").path
        }
        defer { if kind == "postgres" { try? (try? PostgresIndexStore.open(url: index))?.drop() } }

        // Start an ingest and kill it (SIGKILL) once a few files are committed.
        let process = Process()
        process.executableURL = try Self.binary()
        process.arguments = ["ingest", "--data", data.path, "--index", index, "--no-vectors"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let seen = Mutex(0)
        // A plain reader thread (FileHandle.readabilityHandler races with dispatch teardown on Linux).
        let reader = err.fileHandleForReading
        try process.run()
        Thread.detachNewThread {
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                let text = String(decoding: chunk, as: UTF8.self)
                seen.withLock { $0 += text.components(separatedBy: "added ").count - 1 }
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while seen.withLock({ $0 }) < 5, process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if killed { #expect(process.terminationReason == .uncaughtSignal) }

        // The index opens and answers; the next run completes the work.
        #expect(try Self.run(["search", "normande", "--index", index]).status == 0)
        let resumed = try Self.run(["ingest", "--data", data.path, "--index", index, "--no-vectors"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let counts = try Self.counts(resumed.stdout)
        #expect(counts[0] + counts[1] + counts[2] == 150 && counts[4] == 0)
        if killed { #expect(counts[2] > 0 && counts[2] < 150) }
        #expect(try Self.counts(try Self.run(["ingest", "--data", data.path, "--index", index, "--no-vectors"]).stdout) == [0, 0, 150, 0, 0, 0])
        let json = try Self.run(["search", "Fichier 149 paragraphe 119", "--index", index, "--json", "-k", "1", "--mode", "bm25"])
        #expect(json.stdout.contains("f149.txt"))
        // Every file whole: the files are alike, so each has as many chunks as the first.
        let store = try openIndexStore(at: index, create: false)
        try store.checkIntegrity()
        let documents = try store.documents()
        #expect(documents.count == 150 && documents.allSatisfy { $0.status == "indexed" })
        #expect(Set(documents.map(\.chunkCount)).count == 1 && documents[0].chunkCount > 1)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: repositoryRoot.appendingPathComponent("data/connaissances.txt").path)))
    func repositoryData() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let index = root.appendingPathComponent("index.sqlite").path
        let data = Self.repositoryRoot.appendingPathComponent("data").path
        let ingest = try Self.run(["ingest", "--data", data, "--index", index])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let counts = try Self.counts(ingest.stdout)
        #expect(counts[0] >= 2 && counts[4] == 0 && counts[5] > 5)
        for question in ["Quelles sont les différentes variantes de la tarte aux pommes ?",
                         "Comment faire une tarte aux pommes ?",
                         "Quel est le secret d'une bonne tarte aux pommes ?"] {
            let result = try Self.run(["search", question, "--index", index, "--json"])
            #expect(result.status == 0)
            let results = (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["results"] as? [[String: Any]]
            #expect((results?.count ?? 0) == 5, "\(question)")
        }
        #expect(try Self.counts(try Self.run(["ingest", "--data", data, "--index", index]).stdout)[2] == counts[0])
    }
}

import Documents
import Evaluation
import Foundation
import GRDB
import Index
import Tensors
import TestSupport
import TextAnalysis

/// One measured figure, printable as a line of BENCHMARKS.md.
public struct BenchmarkFigure: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: Double
    public var unit: String
    public var detail: String

    public init(name: String, value: Double, unit: String, detail: String = "") {
        self.name = name
        self.value = value
        self.unit = unit
        self.detail = detail
    }

    public var description: String {
        let number = value >= 100 ? String(format: "%.0f", value) : value >= 10 ? String(format: "%.1f", value)
            : String(format: "%.3g", value)
        return "\(name): \(number) \(unit)" + (detail.isEmpty ? "" : "  (\(detail))")
    }
}

/// Benchmarks of ingestion and keyword search, run by `ragchat bench ingest|search`.
/// Inputs are generated (deterministic French-like text); files go under `workDirectory`.
public enum IndexBenchmarks {
    /// Ingest throughput on a generated 300-page PDF and a generated 5 MB text file (fresh index
    /// each), and the time of a re-ingest with nothing changed on `dataDirectory` (median of 5).
    public static func ingestion(workDirectory: URL, dataDirectory: URL?, pdfPages: Int = 300,
                                 textBytes: Int = 5_000_000,
                                 log: @Sendable (String) -> Void = { _ in }) async throws -> [BenchmarkFigure] {
        let manager = FileManager.default
        try? manager.removeItem(at: workDirectory)
        try manager.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        var figures: [BenchmarkFigure] = []
        var generator = SyntheticFrench(seed: 42)

        // 300-page PDF.
        let pdfDirectory = workDirectory.appendingPathComponent("pdf")
        try manager.createDirectory(at: pdfDirectory, withIntermediateDirectories: true)
        var pages: [[String]] = []
        for number in 1...pdfPages {
            var lines = ["Guide de la pâtisserie — édition d'essai"]
            lines += generator.wrappedLines(characters: 3_200, width: 95)
            lines.append("Page \(number) / \(pdfPages)")
            pages.append(lines)
        }
        let pdf = PDFWriter.document(pages: pages)
        try pdf.write(to: pdfDirectory.appendingPathComponent("livre.pdf"))
        log("generated \(pdfPages)-page PDF (\(pdf.count / 1024) KiB)")
        let pdfStore = try openIndexStore(at: workDirectory.appendingPathComponent("pdf.sqlite").path)
        var cpu = processCPUSeconds()
        let pdfSummary = try await pdfStore.ingest(dataDirectory: pdfDirectory)
        cpu = processCPUSeconds() - cpu
        figures.append(BenchmarkFigure(name: "ingest \(pdfPages)-page PDF", value: Double(pdfSummary.pages) / pdfSummary.seconds,
                                       unit: "pages/s", detail: String(format: "%.2f s wall, %.2f s CPU, %d chunks, %.0f chunks/s",
                                                                       pdfSummary.seconds, cpu, pdfSummary.chunks,
                                                                       Double(pdfSummary.chunks) / pdfSummary.seconds)))

        // 5 MB text.
        let textDirectory = workDirectory.appendingPathComponent("text")
        try manager.createDirectory(at: textDirectory, withIntermediateDirectories: true)
        var text = ""
        text.reserveCapacity(textBytes + 2_000)
        while text.utf8.count < textBytes {
            text += generator.paragraph() + "\n\n"
        }
        try Data(text.utf8).write(to: textDirectory.appendingPathComponent("gros.txt"))
        log("generated \(text.utf8.count / 1_000_000) MB text file")
        let textStore = try openIndexStore(at: workDirectory.appendingPathComponent("text.sqlite").path)
        cpu = processCPUSeconds()
        let textSummary = try await textStore.ingest(dataDirectory: textDirectory)
        cpu = processCPUSeconds() - cpu
        figures.append(BenchmarkFigure(name: "ingest \(text.utf8.count / 1_000_000) MB text", value: Double(text.utf8.count) / 1e6 / textSummary.seconds,
                                       unit: "MB/s", detail: String(format: "%.2f s wall, %.2f s CPU, %d chunks, %.0f chunks/s",
                                                                    textSummary.seconds, cpu, textSummary.chunks,
                                                                    Double(textSummary.chunks) / textSummary.seconds)))

        // Re-ingest of the data directory with nothing changed.
        if let dataDirectory {
            let store = try openIndexStore(at: workDirectory.appendingPathComponent("data.sqlite").path)
            let first = try await store.ingest(dataDirectory: dataDirectory)
            var times: [Double] = []
            for _ in 0..<5 {
                let start = MonotonicClock.now()
                _ = try await store.ingest(dataDirectory: dataDirectory)
                times.append(MonotonicClock.seconds(since: start))
            }
            times.sort()
            figures.append(BenchmarkFigure(name: "re-ingest \(dataDirectory.lastPathComponent)/ unchanged", value: times[2] * 1000,
                                           unit: "ms", detail: String(format: "median of 5; first ingest %.2f s, %d files, %d chunks",
                                                                      first.seconds, first.added, first.chunks)))
        }
        return figures
    }

    /// BM25 latency (p50, p95 over `queries` queries of 1–6 words) on indexes of `sizes` chunks of
    /// about 800 characters of generated text.
    ///
    /// With `vectorDimension` > 0 every chunk also gets a unit vector, and dense search (p50, p95)
    /// and hybrid search (p50, p95) are measured too. `vectors` says how they are drawn:
    /// `.clustered` (the default) as sentence embeddings are, around topics; `.random` uniformly
    /// on the sphere, with no neighbourhood structure at all (an approximate index's worst case).
    ///
    /// With `postgresURL`, the same chunks and vectors are also loaded into a PostgreSQL index
    /// (schema `bench_<size>`, dropped first) and measured the same way, side by side: load rate,
    /// HNSW build time, latencies, and the HNSW's recall@5 against SQLite's exact dense search.
    public static func search(workDirectory: URL, sizes: [Int] = [10_000, 100_000], queries: Int = 300,
                              vectorDimension: Int = 384, vectors vectorKind: SyntheticVectors.Kind = .clustered,
                              postgresURL: String? = nil, log: @Sendable (String) -> Void = { _ in }) throws -> [BenchmarkFigure] {
        let manager = FileManager.default
        try manager.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        var figures: [BenchmarkFigure] = []
        for size in sizes {
            let path = workDirectory.appendingPathComponent("search-\(size).sqlite").path
            for suffix in ["", "-wal", "-shm"] { try? manager.removeItem(atPath: path + suffix) }
            let store = try SQLiteIndexStore.open(path: path)
            var generator = SyntheticFrench(seed: UInt64(size))
            let start = MonotonicClock.now()
            var chunkVectors = SyntheticVectors(vectorKind, dimension: vectorDimension, seed: 5)
            let stored = vectorDimension > 0 ? (0..<size).map { _ in chunkVectors.next() } : nil
            try store.insertSyntheticChunks(count: size, vectors: stored) { generator.chunk(characters: 800) }
            let built = MonotonicClock.seconds(since: start)
            log(String(format: "built %d-chunk index in %.1f s", size, built))
            if postgresURL != nil {
                figures.append(BenchmarkFigure(name: "SQLite load \(size / 1000)k chunks", value: Double(size) / built, unit: "chunks/s",
                                               detail: String(format: "%.1f s, with %d-d vectors, keyword terms computed", built, vectorDimension)))
            }

            var questions = [
                "Quelles sont les différentes variantes de la tarte aux pommes ?",
                "Comment faire une tarte aux pommes ?",
                "Quel est le secret d'une bonne tarte aux pommes ?",
            ]
            var queryGenerator = SyntheticFrench(seed: 7)
            while questions.count < queries { questions.append(queryGenerator.query()) }
            // Queries about the same topics as the chunks (the same centres, other draws).
            var vectors = chunkVectors
            let queryVectors = vectorDimension > 0 ? (0..<min(queries, 100)).map { _ in vectors.next() } : []
            figures += try measureSearch(store, label: "", size: size, dimension: vectorDimension, questions: questions,
                                         queryVectors: queryVectors)

            guard let postgresURL else { continue }
            // The same chunks and vectors (same generators and seeds) in PostgreSQL.
            let postgres = try PostgresIndexStore.open(url: postgresURL + (postgresURL.contains("?") ? "&" : "?") + "schema=bench_\(size)")
            try postgres.drop()
            let target = try PostgresIndexStore.open(url: postgresURL + (postgresURL.contains("?") ? "&" : "?") + "schema=bench_\(size)")
            var texts = SyntheticFrench(seed: UInt64(size))
            var offset = 0
            let chunks = (0..<size).map { ordinal -> Chunk in
                let text = texts.chunk(characters: 800)
                let length = text.unicodeScalars.count
                defer { offset += length }
                return Chunk(file: "synthetic-1.txt", page: nil, start: offset, end: offset + length, ordinal: ordinal, text: text)
            }
            let loadStart = MonotonicClock.now()
            try target.load(documentPath: "synthetic-1.txt", chunks: chunks, vectors: stored, modelID: syntheticModelID)
            let loaded = MonotonicClock.seconds(since: loadStart)
            figures.append(BenchmarkFigure(name: "PostgreSQL load \(size / 1000)k chunks", value: Double(size) / loaded, unit: "chunks/s",
                                           detail: String(format: "%.1f s, with %d-d vectors, keyword terms computed, one transaction", loaded, vectorDimension)))
            if vectorDimension > 0 {
                let indexStart = MonotonicClock.now()
                try target.createVectorIndex(dimension: vectorDimension)
                figures.append(BenchmarkFigure(name: "PostgreSQL HNSW build \(size / 1000)k × \(vectorDimension)-d", value: MonotonicClock.seconds(since: indexStart),
                                               unit: "s", detail: "m=16, ef_construction=64 (pgvector defaults)"))
            }
            log(String(format: "loaded %d chunks into PostgreSQL in %.1f s", size, loaded))
            figures += try measureSearch(target, label: "PostgreSQL ", size: size, dimension: vectorDimension, questions: questions,
                                         queryVectors: queryVectors)
            if vectorDimension > 0 {
                // Recall@5 of the HNSW against the exact scan, chunks matched by ordinal.
                var recall = 0.0
                for vector in queryVectors {
                    let exact = Set(try store.denseSearch(vector, modelID: syntheticModelID, k: 5).map(\.ordinal))
                    let found = Set(try target.denseSearch(vector, modelID: syntheticModelID, k: 5).map(\.ordinal))
                    recall += Double(exact.intersection(found).count) / Double(max(1, exact.count))
                }
                figures.append(BenchmarkFigure(name: "PostgreSQL HNSW recall@5 \(size / 1000)k (\(vectorKind.rawValue) vectors)", value: recall / Double(queryVectors.count),
                                               unit: "", detail: "\(queryVectors.count) queries against SQLite's exact scan, ef_search \(target.efSearch)"))
            }
            try target.drop()
        }
        return figures
    }

    /// BM25 (p50, p95), and with query vectors dense (p50, p95) and hybrid (p50, p95), of one index.
    static func measureSearch(_ store: any IndexStore, label: String, size: Int, dimension: Int, questions: [String],
                              queryVectors: [[Float]]) throws -> [BenchmarkFigure] {
        func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        var figures: [BenchmarkFigure] = []
        _ = try store.search(questions[0], k: 5) // warm the caches
        var latencies: [Double] = []
        var found = 0
        for question in questions {
            let t0 = MonotonicClock.now()
            found += try store.search(question, k: 5).count
            latencies.append(MonotonicClock.milliseconds(since: t0))
        }
        latencies.sort()
        figures.append(BenchmarkFigure(name: "\(label)BM25 search \(size / 1000)k chunks p50", value: percentile(latencies, 0.5), unit: "ms",
                                       detail: "\(questions.count) queries, k=5, \(found) hits"))
        figures.append(BenchmarkFigure(name: "\(label)BM25 search \(size / 1000)k chunks p95", value: percentile(latencies, 0.95), unit: "ms",
                                       detail: String(format: "max %.1f ms", latencies.last ?? 0)))

        guard dimension > 0, !queryVectors.isEmpty else { return figures }
        let loadStart = MonotonicClock.now()
        _ = try store.denseSearch(queryVectors[0], modelID: syntheticModelID, k: 5)
        let load = MonotonicClock.seconds(since: loadStart)
        var dense: [Double] = []
        for vector in queryVectors {
            let t0 = MonotonicClock.now()
            _ = try store.denseSearch(vector, modelID: syntheticModelID, k: 5)
            dense.append(MonotonicClock.milliseconds(since: t0))
        }
        dense.sort()
        let method = store is PostgresIndexStore ? "HNSW, ef_search \((store as? PostgresIndexStore)?.efSearch ?? 0)" : "exact scan"
        figures.append(BenchmarkFigure(name: "\(label)dense search \(size / 1000)k × \(dimension)-d p50", value: percentile(dense, 0.5),
                                       unit: "ms", detail: "\(dense.count) queries, k=5, \(method); first call: " + String(format: "%.2f s", load)))
        figures.append(BenchmarkFigure(name: "\(label)dense search \(size / 1000)k × \(dimension)-d p95", value: percentile(dense, 0.95), unit: "ms"))
        var hybrid: [Double] = []
        for (question, vector) in zip(questions, queryVectors) {
            let t0 = MonotonicClock.now()
            _ = try store.hybridSearch(question, vector: vector, modelID: syntheticModelID, k: 5)
            hybrid.append(MonotonicClock.milliseconds(since: t0))
        }
        hybrid.sort()
        figures.append(BenchmarkFigure(name: "\(label)hybrid search \(size / 1000)k p50", value: percentile(hybrid, 0.5), unit: "ms",
                                       detail: "\(hybrid.count) queries, 50 candidates per list, without query embedding"))
        figures.append(BenchmarkFigure(name: "\(label)hybrid search \(size / 1000)k p95", value: percentile(hybrid, 0.95), unit: "ms"))
        return figures
    }
}

extension SQLiteIndexStore {
    /// Adds one document `synthetic-N.txt` made of `count` chunks from `make`, in one transaction
    /// (for benchmarks: bypasses extraction).
    func insertSyntheticChunks(count: Int, vectors stored: [[Float]]? = nil, make: () -> String) throws {
        let texts = (0..<count).map { _ in make() }
        let dimension = stored?.first?.count ?? 0
        let vectors = (stored ?? []).map(VectorCoding.encode)
        try guarded(path) {
            try pool.write { db in
                let number = (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM documents") ?? 0) + 1
                try db.execute(sql: """
                    INSERT INTO documents(path, sha256, size, mtime, pages, status, chunking, indexed_at)
                    VALUES (?, '', 0, 0, 1, 'indexed', 'synthetic', 0)
                    """, arguments: ["synthetic-\(number).txt"])
                let document = db.lastInsertedRowID
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO chunks(document_id, ordinal, page, start_offset, end_offset, text, terms)
                    VALUES (?, ?, NULL, ?, ?, ?, ?)
                    """)
                let insertVector = try db.cachedStatement(sql: "INSERT INTO vectors(chunk_id, model_id, dim, data) VALUES (?, ?, ?, ?)")
                var offset = 0
                for (ordinal, text) in texts.enumerated() {
                    let length = text.unicodeScalars.count
                    try insert.execute(arguments: [document, ordinal, offset, offset + length, text,
                                                   KeywordAnalyzer.terms(text).joined(separator: " ")])
                    if !vectors.isEmpty {
                        try insertVector.execute(arguments: [db.lastInsertedRowID, syntheticModelID, dimension, vectors[ordinal]])
                    }
                    offset += length
                }
                try Self.bumpGeneration(db)
            }
        }
    }
}

let syntheticModelID = "synthetic-random"

/// Unit vectors for the search benchmarks, reproducible from a seed.
public struct SyntheticVectors {
    public enum Kind: String, Sendable, CaseIterable {
        /// Around 1,000 random topic centres, each vector at about 0.8 cosine from its centre:
        /// neighbours exist, as between the embeddings of passages on one subject.
        case clustered
        /// Uniform on the sphere: every vector nearly orthogonal to every other.
        case random
    }

    let kind: Kind
    let dimension: Int
    private var generator: SyntheticFrench
    private var centres: [[Float]] = []
    static let topics = 1_000

    init(_ kind: Kind, dimension: Int, seed: UInt64) {
        self.kind = kind
        self.dimension = dimension
        generator = SyntheticFrench(seed: seed)
        if kind == .clustered, dimension > 0 {
            centres = (0..<Self.topics).map { _ in generator.unitVector(dimension) }
        }
    }

    mutating func next() -> [Float] {
        guard kind == .clustered else { return generator.unitVector(dimension) }
        let centre = centres[generator.int(0...(centres.count - 1))]
        // Noise of norm ≈ 0.75 against the unit centre: cosine ≈ 1 / √(1 + 0.75²) = 0.8.
        let noise = generator.unitVector(dimension)
        var vector = zip(centre, noise).map { $0 + 0.75 * $1 }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in vector.indices { vector[i] /= norm }
        return vector
    }
}

/// Deterministic French-like text: words from a cooking-flavoured vocabulary with a Zipf-like
/// distribution, sentences of 6–22 words, paragraphs of 2–6 sentences.
struct SyntheticFrench {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// Zipf-like: low indexes much more frequent.
    mutating func word() -> String {
        let u = Double(next() >> 11) / Double(1 << 53)
        let index = Int(pow(Double(Self.words.count), u)) - 1
        return Self.words[max(0, min(Self.words.count - 1, index))]
    }

    mutating func sentence() -> String {
        var words = (0..<int(6...22)).map { _ in word() }
        words[0] = words[0].prefix(1).uppercased() + words[0].dropFirst()
        if int(0...4) == 0 { words[int(1...(words.count - 1))] += "," }
        return words.joined(separator: " ") + (int(0...9) == 0 ? " ?" : ".")
    }

    mutating func paragraph() -> String {
        (0..<int(2...6)).map { _ in sentence() }.joined(separator: " ")
    }

    mutating func chunk(characters: Int) -> String {
        var text = ""
        while text.count < characters { text += (text.isEmpty ? "" : " ") + sentence() }
        return text
    }

    /// A random direction (Gaussian coordinates, normalised).
    mutating func unitVector(_ dimension: Int) -> [Float] {
        var vector = (0..<dimension).map { _ -> Float in
            let u1 = Double(next() >> 11 | 1) / Double(1 << 53), u2 = Double(next() >> 11) / Double(1 << 53)
            return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in vector.indices { vector[i] /= norm }
        return vector
    }

    mutating func query() -> String {
        (0..<int(1...6)).map { _ in word() }.joined(separator: " ")
    }

    /// Paragraphs wrapped at `width` characters, blank lines between paragraphs.
    mutating func wrappedLines(characters: Int, width: Int) -> [String] {
        var lines: [String] = []
        var total = 0
        while total < characters {
            var line = ""
            for word in paragraph().split(separator: " ") {
                if line.count + word.count + 1 > width {
                    lines.append(line)
                    total += line.count
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            lines.append(line)
            lines.append("")
            total += line.count
        }
        return lines
    }

    /// The cooking vocabulary first (most frequent), then 5,000 made-up words from French-looking
    /// syllables, so that the vocabulary has a long tail as real text does.
    static let words: [String] = baseWords + {
        let onsets = ["b", "br", "c", "ch", "cl", "d", "f", "fr", "g", "gr", "j", "l", "m", "n", "p", "pl", "r", "s", "t", "tr", "v"]
        let vowels = ["a", "e", "i", "o", "u", "ou", "ai", "é", "eau", "an", "on", "in"]
        let endings = ["", "s", "ne", "re", "te", "ment", "tion", "ille", "ette", "age"]
        var generated: [String] = []
        var seen = Set(baseWords)
        var index = 0
        while generated.count < 5_000 {
            let a = index % onsets.count, b = (index / onsets.count) % vowels.count
            let c = (index / 7) % onsets.count, d = (index / 11) % vowels.count, e = (index / 13) % endings.count
            let word = onsets[a] + vowels[b] + onsets[c] + vowels[d] + endings[e]
            if seen.insert(word).inserted { generated.append(word) }
            index += 1
        }
        return generated
    }()

    static let baseWords: [String] = """
        de la le et les des pommes à en un une du pâte tarte sucre beurre four au pour est avec dans \
        que qui sur farine minutes crème œufs cuisson plus pas par on se il elle fruit température \
        degrés moule fond recette variante normande alsacienne tatin caramel cannelle amandes \
        bourdaloue poires feuilletée brisée sablée compote tranches quartiers lamelles acidité \
        fondante croustillante dorée chaude froide tiède servir préparer étaler cuire ajouter \
        mélanger verser beurrer fariner laisser reposer refroidir réfrigérateur heure secret \
        astuce erreur fréquente conseil grand-mère tradition histoire siècle Normandie Alsace \
        Sologne sœurs Tatin Angleterre Amérique strudel apple pie crumble calvados cidre vanille \
        citron zeste jus sel pincée gramme litre centimètre épaisseur bord rebord couvercle \
        grille croisillons lattes dorure jaune lait entier demi-sel doux sucre-glace cassonade \
        miel confiture abricot nappage brillant gelée gratin flan appareil crème-pâtissière \
        frangipane poudre noisettes noix raisins secs rhum épices muscade gingembre clou girofle \
        variété golden reinette boskoop canada grise pink lady granny smith elstar jonagold \
        chair ferme juteuse sucrée acidulée tenue fondre compoter éplucher évider couper \
        régulière fine épaisse rapide lente douce vive chaleur sole haute basse ventilé \
        traditionnel électrique gaz préchauffer thermostat aveugle billes haricots cuisson-à-blanc \
        humide détrempée soggy piquer fourchette dessécher brûler coloration surveiller \
        démouler retourner poêle fonte caraméliser
        """.split(whereSeparator: \.isWhitespace).map(String.init)
}

/// A question with the passage that answers it (`Tests/IndexTests/Resources/questions_fr.json`).
public struct RetrievalQuestion: Sendable, Hashable, Codable {
    public var question: String
    /// Path relative to the data directory.
    public var file: String
    /// PDF page, `nil` for text files.
    public var page: Int?
    /// A verbatim extract of the answering passage.
    public var expected: String
    /// The question avoids the passage's words (tests meaning, not keywords).
    public var paraphrased: Bool

    public init(question: String, file: String, page: Int?, expected: String, paraphrased: Bool = false) {
        self.question = question
        self.file = file
        self.page = page
        self.expected = expected
        self.paraphrased = paraphrased
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        question = try container.decode(String.self, forKey: .question)
        file = try container.decode(String.self, forKey: .file)
        page = try container.decodeIfPresent(Int.self, forKey: .page)
        expected = try container.decode(String.self, forKey: .expected)
        paraphrased = try container.decodeIfPresent(Bool.self, forKey: .paraphrased) ?? false
    }

    /// Reads `{"questions": [{question, file, page, expected, …}]}`.
    public static func load(_ url: URL) throws -> [RetrievalQuestion] {
        struct Set: Decodable { var questions: [RetrievalQuestion] }
        do {
            return try JSONDecoder().decode(Set.self, from: Data(contentsOf: url)).questions
        } catch {
            throw IndexError.invalidOptions("\(url.path): not a question set: \(error.localizedDescription)")
        }
    }

    /// The hit answers the question: same file (and page), and its text contains `expected`
    /// (whitespace collapsed).
    public func isAnswered(by hit: SearchHit) -> Bool {
        hit.file == file && (page == nil || hit.page == page)
            && Self.collapse(hit.text).contains(Self.collapse(expected))
    }

    static func collapse(_ text: String) -> String {
        text.precomposedStringWithCanonicalMapping.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

extension IndexBenchmarks {
    /// Runs `search` (top 5) for every question and scores where the answering passage ranks.
    public static func evaluate(_ questions: [RetrievalQuestion],
                                search: (String) throws -> [SearchHit]) rethrows -> RankScore {
        var score = RankScore()
        for question in questions {
            let hits = try search(question.question).prefix(5)
            score.add(rank: hits.firstIndex(where: question.isAnswered).map { $0 - hits.startIndex + 1 })
        }
        return score
    }
}

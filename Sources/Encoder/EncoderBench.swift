// EncoderBench — encoder throughput (256-token chunks at several batch sizes) and single-query
// latency, for `ragchat bench encoder` and BENCHMARKS.md. Figures are measured, never asserted.

import Foundation
import Tensors

public enum EncoderBench {
    public struct Result: Sendable {
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
            var out = [String(format: "encoder: all-MiniLM-L6-v2, %d threads, OpenBLAS kernels %@, model load %.0f ms, machine load average %.2f",
                              threads, blasCore, loadMilliseconds, loadAverage)]
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
            var out = ["| encoder (all-MiniLM-L6-v2, \(threads) threads, OpenBLAS \(blasCore)) | figure | per CPU-second |",
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

    /// A French paragraph long enough to fill 256 tokens; `variant` changes some words.
    static func chunk(_ variant: Int) -> String {
        let words = ["pommes", "beurre", "sucre", "farine", "cannelle", "crème", "four", "pâte"]
        var text = ""
        var i = variant
        while text.count < 1600 {
            text += "La tarte aux \(words[i % words.count]) repose \(i % 50 + 10) minutes au frais avant d'être étalée, "
            text += "puis on la garnit de \(words[(i + 3) % words.count]) et on l'enfourne à 180 °C. "
            i += 1
        }
        return text
    }

    /// Measures the encoder in `modelDirectory` with `threads` threads.
    public static func measure(modelDirectory: URL, threads: Int = 2, batches: [Int] = [1, 8, 32],
                               minimumSeconds: Double = 3, queryRuns: Int = 200) throws -> Result {
        let clock = ContinuousClock()
        let loadStart = clock.now
        let encoder = try SentenceEncoder(directory: modelDirectory, threads: threads)
        let load = clock.now - loadStart
        let chunks = (0..<64).map(chunk)
        let tokens = encoder.tokenize(chunks[0]).count
        var throughput: [(Int, Double)] = []
        var cpuThroughput: [(Int, Double)] = []
        let loadAverage = Self.loadAverage()
        for batch in batches {
            _ = try encoder.embed(Array(chunks.prefix(batch)))  // warm-up: buffers, caches
            var done = 0
            var i = 0
            let start = clock.now
            var elapsed = 0.0
            let cpuStart = processCPUSeconds()
            repeat {
                let texts = (0..<batch).map { chunks[(i + $0) % chunks.count] }
                _ = try encoder.embed(texts)
                i += batch
                done += batch
                elapsed = seconds(clock.now - start)
            } while elapsed < minimumSeconds || done < 2 * batch
            throughput.append((batch, Double(done) / elapsed))
            cpuThroughput.append((batch, Double(done) / max(processCPUSeconds() - cpuStart, 1e-9)))
        }
        let query = "Comment faire une tarte aux pommes ?"
        for _ in 0..<20 { _ = try encoder.embed(query: query) }
        var times: [Double] = [], cpuTimes: [Double] = []
        for _ in 0..<queryRuns {
            let t = clock.now
            let c = processCPUSeconds()
            _ = try encoder.embed(query: query)
            cpuTimes.append((processCPUSeconds() - c) * 1000)
            times.append(seconds(clock.now - t) * 1000)
        }
        times.sort()
        cpuTimes.sort()
        return Result(threads: threads, blasCore: BLAS.coreName, tokensPerChunk: tokens, chunksPerSecond: throughput,
                      chunksPerCPUSecond: cpuThroughput, queryCPUMilliseconds: cpuTimes[cpuTimes.count / 2],
                      loadAverage: loadAverage,
                      queryTokens: encoder.tokenize(query).count, queryP50Milliseconds: times[times.count / 2],
                      queryP95Milliseconds: times[min(times.count - 1, times.count * 95 / 100)],
                      loadMilliseconds: seconds(load) * 1000)
    }

    /// `measure` as printable lines (for `ragchat bench encoder`).
    public static func run(modelDirectory: URL, threads: Int = 2) throws -> [String] {
        try measure(modelDirectory: modelDirectory, threads: threads).lines
    }

    private static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    private static func loadAverage() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let first = text.split(separator: " ").first else { return -1 }
        return Double(first) ?? -1
    }

    private static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

import Benchmarks
import Foundation
import Testing
import Encoder

@Suite("Encoder Bench")
struct EncoderBenchTests {
    /// The benchmark code runs (figures are measured, never asserted).
    @Test("benchmark code runs on a tiny budget")
    func smoke() throws {
        try MiniLMParityTests.requireModel()
        let r = try EncoderBench.measure(modelDirectory: Repo.miniLM, threads: 2, batches: [1, 2],
                                         minimumSeconds: 0, queryRuns: 3)
        #expect(r.chunksPerSecond.count == 2 && r.tokensPerChunk == 256 && r.queryTokens == 13)
        #expect(r.lines.count == 4 && r.markdown.count == 6)
    }

    /// Prints the real figures; runs only when asked:
    /// `RAGCHAT_ENCODER_BENCH=1 swift test -c release --filter EncoderBench`
    @Test("throughput and query latency (prints)",
          .enabled(if: ProcessInfo.processInfo.environment["RAGCHAT_ENCODER_BENCH"] != nil))
    func bench() throws {
        try MiniLMParityTests.requireModel()
        let threads = ProcessInfo.processInfo.environment["RAGCHAT_THREADS"].flatMap { Int($0) } ?? 2
        for line in try EncoderBench.run(modelDirectory: Repo.miniLM, threads: threads) { print(line) }
    }
}

import Foundation
import Testing
import Encoder

/// Prints encoder figures; runs only when asked:
/// `RAGCHAT_BENCH=1 swift test -c release --filter Bench`
@Suite("Encoder Bench", .enabled(if: ProcessInfo.processInfo.environment["RAGCHAT_BENCH"] != nil))
struct EncoderBenchTests {
    @Test("throughput and query latency (prints, asserts nothing about speed)")
    func bench() throws {
        try MiniLMParityTests.requireModel()
        let threads = ProcessInfo.processInfo.environment["RAGCHAT_THREADS"].flatMap { Int($0) } ?? 2
        for line in try EncoderBench.run(modelDirectory: Repo.miniLM, threads: threads) { print(line) }
    }
}

import Benchmarks
import Foundation
import Index
import RAG
import Server
import Speech
import Testing
import TestSupport

let benchPassages = [
    SearchHit(chunkID: 1, file: "connaissances.txt", score: 0, text: "Le premier secret d'une bonne tarte aux pommes, c'est le choix des pommes : des fruits acidulés et fermes."),
    SearchHit(chunkID: 2, file: "connaissances.txt", score: 0, text: "Il existe de nombreuses variantes de la tarte aux pommes : la tarte Tatin, la tarte normande, l'apple pie."),
    SearchHit(chunkID: 3, file: "document.pdf", page: 2, score: 0, text: "Pour faire une tarte aux pommes, étalez la pâte, disposez les pommes en rosace et faites cuire quarante minutes."),
]

@Suite(.serialized) struct BenchTests {
    /// The benchmark code runs (figures are measured, never asserted).
    @Test func benchFunctionsRun() async throws {
        let retriever = KeywordRetriever(passages: benchPassages)
        let chat = try await ServerBench.chatLatency(retriever: retriever, backend: .extractive, requests: 2)
        #expect(chat.samples.count == 2 && chat.errors == 0)
        let remote = try await ServerBench.chatLatency(retriever: retriever, backend: .remoteFake, requests: 2, speak: false)
        #expect(remote.samples.count == 2 && remote.errors == 0)
        let stream = try await ServerBench.streamTimings(retriever: retriever, backend: .remoteFake, requests: 1, tokenDelay: 0.01)
        #expect(stream.firstAnswerAudio.samples.count == 1 && stream.done.samples.count == 1)
        #expect(stream.firstAnswerAudio.samples[0] <= stream.done.samples[0])
    }

    /// Prints every figure: `RAGCHAT_BENCH=1 swift test -c release --filter BenchTests/report`
    /// (`RAGCHAT_BENCH_DATA=folder` for a keyword retriever over real documents).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["RAGCHAT_BENCH"] != nil))
    func report() async throws {
        let env = ProcessInfo.processInfo.environment
        let retriever = try env["RAGCHAT_BENCH_DATA"].map { try KeywordRetriever(folder: URL(fileURLWithPath: $0)) }
            ?? KeywordRetriever(passages: benchPassages)
        for line in try await ServerBench.run(retriever: retriever, requests: Int(env["RAGCHAT_BENCH_REQUESTS"] ?? "") ?? 30) {
            print("BENCH", line)
        }
    }
}

import Foundation
import Index
import RAG
import Server
import Testing
import TestSupport

@Suite(.serialized) struct RemoteBackendTests {
    let passages = [SearchHit(chunkID: 1, file: "connaissances.txt", score: 0.9, text: "La tarte Tatin est renversée.")]

    func input(_ question: String = "Qu'est-ce que la Tatin ?") -> AnswerInput {
        AnswerInput(question: question, passages: passages)
    }

    func withFake<T>(_ body: (FakeOpenAIServer) async throws -> T) async throws -> T {
        let fake = try await FakeOpenAIServer.start()
        do {
            let v = try await body(fake)
            await fake.stop()
            return v
        } catch {
            await fake.stop()
            throw error
        }
    }

    @Test func streamingSuccess() async throws {
        try await withFake { fake in
            let backend = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, apiKey: "sk-test", model: "test-model"))
            var pieces: [String] = []
            for try await p in backend.answer(input(), options: GenerationOptions()) { pieces.append(p) }
            #expect(pieces.count > 5)
            #expect(pieces.joined() == FakeOpenAIServer.answerText(for: "Qu'est-ce que la Tatin ?"))
            #expect(await fake.recorder.lastAuthorization == "Bearer sk-test")
            #expect(await fake.recorder.lastBody == ["model": "test-model", "stream": "true"])
            let messages = await fake.recorder.lastMessagesJSON
            #expect(messages.contains("\"role\":\"system\"") && messages.contains("[1] (connaissances.txt)"))
        }
    }

    @Test func nonStreamingSuccess() async throws {
        try await withFake { fake in
            let backend = RemoteBackend(configuration: RemoteConfiguration(baseURL: "http://127.0.0.1:\(fake.port)", model: "m", stream: false))
            let text = try await backend.complete(input())
            #expect(text == FakeOpenAIServer.answerText(for: "Qu'est-ce que la Tatin ?"))
            #expect(await fake.recorder.lastAuthorization == nil)
            #expect(await fake.recorder.lastBody["stream"] == "false")
        }
    }

    @Test func jsonAnswerToAStreamingRequest() async throws {
        try await withFake { fake in
            let backend = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "json-only"))
            let text = try await backend.complete(input())
            #expect(text == FakeOpenAIServer.answerText(for: "Qu'est-ce que la Tatin ?"))
        }
    }

    @Test func clientErrorsSurfaceWithoutRetry() async throws {
        try await withFake { fake in
            let bad = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "error-400"))
            await #expect(throws: RAGError.upstream(status: 400, message: "unknown model")) { _ = try await bad.complete(input()) }
            let unauthorized = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "error-401"))
            await #expect(throws: RAGError.upstream(status: 401, message: "Unauthorized")) { _ = try await unauthorized.complete(input()) }
            #expect(await fake.recorder.requests == 2)
        }
    }

    @Test func serverErrorsAreRetriedOnce() async throws {
        try await withFake { fake in
            let failing = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "error-500"))
            await #expect(throws: RAGError.upstream(status: 500, message: "internal failure")) { _ = try await failing.complete(input()) }
            #expect(await fake.recorder.requests == 2)
            let flaky = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "flaky"))
            let text = try await flaky.complete(input())
            #expect(text.hasPrefix("Selon les extraits"))
            #expect(await fake.recorder.requests == 4)
        }
    }

    @Test func timeouts() async throws {
        try await withFake { fake in
            let slow = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "slow", timeout: 0.5))
            let start = Date()
            await #expect(throws: RAGError.self) { _ = try await slow.complete(input()) }
            do { _ = try await slow.complete(input()) } catch let e as RAGError {
                guard case .timeout(_, let seconds) = e else { Issue.record("expected a timeout, got \(e)"); return }
                #expect(seconds == 0.5)
            }
            #expect(Date().timeIntervalSince(start) < 9)   // well before the fake's 10 s
            // A stream that stalls after its first token times out too.
            let stall = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "stall", timeout: 0.5))
            var pieces: [String] = []
            await #expect(throws: RAGError.self) { for try await p in stall.answer(input(), options: GenerationOptions()) { pieces.append(p) } }
            #expect(pieces.count == 1)
        }
    }

    @Test func errorInsideTheStream() async throws {
        try await withFake { fake in
            let backend = RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "stream-error"))
            await #expect(throws: RAGError.upstream(status: 200, message: "model overloaded")) { _ = try await backend.complete(input()) }
        }
    }

    @Test func connectionRefused() async throws {
        let fake = try await FakeOpenAIServer.start()
        let port = fake.port
        await fake.stop()
        let backend = RemoteBackend(configuration: RemoteConfiguration(baseURL: "http://127.0.0.1:\(port)/v1", timeout: 5))
        do {
            _ = try await backend.complete(input())
            Issue.record("expected an error")
        } catch let e as RAGError {
            guard case .connection(let url, _) = e else { Issue.record("expected a connection error, got \(e)"); return }
            #expect(url == "http://127.0.0.1:\(port)/v1/chat/completions")
        }
    }

    /// Credentials in the API address never reach logs, settings or clients: the URL shown is
    /// redacted, and the errors clients see do not name the address at all.
    @Test func secretsInTheAPIAddressAreRedacted() async throws {
        #expect(RemoteConfiguration(baseURL: "https://user:hunter2@api.example/v1").displayURL == "https://***@api.example/v1/chat/completions")
        #expect(RemoteConfiguration(baseURL: "https://api.mistral.ai/v1").displayURL == "https://api.mistral.ai/v1/chat/completions")
        #expect(RemoteConfiguration.redacted("http://host/v1/chat/completions?api_key=s3cr3t&region=eu&token=abc")
                == "http://host/v1/chat/completions?api_key=***&region=eu&token=***")
        #expect(!RemoteConfiguration.redacted("not a url://user:pw@x y").contains("pw"))

        let backend = RemoteBackend(configuration: RemoteConfiguration(baseURL: "http://user:hunter2@127.0.0.1:9/v1?key=s3cr3t", timeout: 5))
        #expect(!backend.info.contains("hunter2") && !backend.info.contains("127.0.0.1"))
        do {
            _ = try await backend.complete(input())
            Issue.record("expected an error")
        } catch let e as RAGError {
            for text in ["\(e)", e.clientMessage] {
                #expect(!text.contains("hunter2") && !text.contains("s3cr3t"), "\(text)")
            }
            #expect(!e.clientMessage.contains("127.0.0.1") && !e.clientMessage.contains("errno"), "\(e.clientMessage)")
            #expect(e.clientMessage == "the remote API could not be reached")
        }
    }

    @Test func pipelineWithRemoteThenExtractive() async throws {
        try await withFake { fake in
            struct OneRetriever: Retriever {
                func retrieve(query: String, k: Int) async throws -> [SearchHit] {
                    [SearchHit(chunkID: 1, file: "connaissances.txt", score: 0.9, text: "La tarte Tatin est une tarte renversée aux pommes.")]
                }
            }
            let ok = RAGPipeline(retriever: OneRetriever(), backends: [RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL)),
                                                                      ExtractiveBackend()],
                                 speaker: nil, configuration: PipelineConfiguration(speak: false))
            let r = try await ok.chat(ChatRequest(question: "Qu'est-ce que la Tatin ?"))
            #expect(r.backend == "remote" && r.answer.hasPrefix("Selon les extraits"))
            let down = RAGPipeline(retriever: OneRetriever(),
                                   backends: [RemoteBackend(configuration: RemoteConfiguration(baseURL: fake.baseURL, model: "error-401")),
                                              ExtractiveBackend()],
                                   speaker: nil, configuration: PipelineConfiguration(speak: false))
            let r2 = try await down.chat(ChatRequest(question: "Qu'est-ce que la tarte Tatin ?"))
            #expect(r2.backend == "extractive")
            #expect(r2.warnings?.first?.contains("401") == true)
        }
    }
}

import Foundation
import Index
import RAG
import Speech
import Testing

actor Calls {
    var queries: [String] = []
    var count = 0
    func add(_ q: String) { queries.append(q); count += 1 }
}

struct StubRetriever: Retriever {
    var passages: [SearchHit]
    let calls = Calls()
    func retrieve(query: String, k: Int) async throws -> [SearchHit] {
        await calls.add(query)
        return Array(passages.prefix(k))
    }
}

/// A retriever that also guessed at the answer (query expansion).
struct GuessingRetriever: Retriever {
    var passages: [SearchHit]
    var guess: String
    func retrieve(query: String, k: Int) async throws -> [SearchHit] { Array(passages.prefix(k)) }
    func retrieval(query: String, k: Int) async throws -> Retrieval {
        Retrieval(hits: try await retrieve(query: query, k: k), expansion: guess)
    }
}

/// Records the guess it was given; answers with the first passage's text.
struct GuessRecordingBackend: AnswerBackend {
    let name = "extractive"
    let guesses = Calls()
    func answer(_ input: AnswerInput, options: GenerationOptions) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { c in
            Task {
                await guesses.add(input.expansion ?? "none")
                c.yield((input.passages.first?.text ?? "") + " [1]")
                c.finish()
            }
        }
    }
}

struct FailingRetriever: Retriever {
    struct Boom: Error {}
    func retrieve(query: String, k: Int) async throws -> [SearchHit] { throw Boom() }
}

/// Opened by the test when it sees an event; a backend waits on it (up to a timeout).
actor Gate {
    private var isOpen = false
    func open() { isOpen = true }
    func wait(timeout: Double) async {
        let deadline = Date().addingTimeInterval(timeout)
        while !isOpen && Date() < deadline { try? await Task.sleep(nanoseconds: 10_000_000) }
    }
}

struct StubBackend: AnswerBackend {
    var name: String
    var pieces: [String]
    var error: RAGError?
    /// Throw after this many pieces (nil: at the start when `error` is set).
    var failAfter: Int?
    /// Seconds between pieces.
    var delay: Double = 0
    /// Before the last piece, wait for this gate.
    var gate: Gate?
    let calls = Calls()
    func answer(_ input: AnswerInput, options: GenerationOptions) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { c in
            Task {
                await calls.add(PromptBuilder().build(question: input.question, passages: input.passages, history: input.history).text)
                if let error, failAfter == nil { c.finish(throwing: error); return }
                for (i, p) in pieces.enumerated() {
                    if let error, let n = failAfter, i == n { c.finish(throwing: error); return }
                    if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                    if let gate, i == pieces.count - 1 { await gate.wait(timeout: 20) }
                    c.yield(p)
                }
                c.finish()
            }
        }
    }
}

let samplePassages = [
    SearchHit(chunkID: 11, file: "connaissances.txt", score: 0.9, text: "La tarte Tatin est une tarte renversée aux pommes caramélisées."),
    SearchHit(chunkID: 12, file: "document.pdf", page: 4, score: 0.4, text: "Le four doit être préchauffé à 180 degrés pour la tarte."),
]

func speaker() throws -> Speaker {
    try Speaker(configuration: SpeechConfiguration(cacheDirectory: nil, memoryCacheBytes: 16 << 20))
}

@Suite struct PipelineTests {
    /// The guess a retriever searched with reaches the backend (the extractive answer reads the
    /// commands and options it names); a retriever without one gives none.
    @Test func retrievalGuessReachesTheBackend() async throws {
        let question = ChatRequest(question: "Qu'est-ce que la tarte Tatin ?")
        let backend = GuessRecordingBackend()
        let guessing = RAGPipeline(retriever: GuessingRetriever(passages: samplePassages, guess: "`tatin`"), backends: [backend], speaker: nil,
                                   configuration: PipelineConfiguration(speak: false))
        _ = try await guessing.chat(question)
        let plain = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [backend], speaker: nil,
                                configuration: PipelineConfiguration(speak: false))
        _ = try await plain.chat(question)
        #expect(await backend.guesses.queries == ["`tatin`", "none"])
    }

    @Test func answersWithSourcesAudioAndTimings() async throws {
        let backend = StubBackend(name: "remote", pieces: ["La Tatin est renversée [1]. ", "Elle cuit à 180 degrés [2]."])
        let pipeline = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [backend], speaker: try speaker())
        let r = try await pipeline.chat(ChatRequest(question: "  Qu'est-ce que la tarte Tatin ?  ", topK: 2))
        #expect(r.question == "Qu'est-ce que la tarte Tatin ?")
        #expect(r.answer == "La Tatin est renversée [1]. Elle cuit à 180 degrés [2].")
        #expect(r.backend == "remote")
        #expect(r.sources.map(\.id) == ["11", "12"])
        #expect(r.sources[1].page == 4 && r.sources[0].page == nil)
        for key in ["retrieve", "generate", "speak", "speak_question", "speak_answer", "total"] { #expect(r.timingsMs[key] != nil, "\(key)") }
        let q = try #require(r.audio.question), a = try #require(r.audio.answer)
        #expect(q.hasPrefix("/audio/") && q.hasSuffix(".wav") && q != a)
        let wav = try #require(await pipeline.audio(id: String(q.dropFirst(7).dropLast(4))))
        #expect(try WAV.parse(wav).duration > 0.3)
        #expect(await pipeline.audio(id: "../../etc/passwd") == nil)
        // The prompt went to the backend.
        let prompt = try #require(await backend.calls.queries.first)
        #expect(prompt.contains("[2] (document.pdf, page 4)"))
    }

    @Test func responseJSONShape() throws {
        let r = ChatResponse(question: "q", answer: "a", sources: [samplePassages[0]], audio: AudioLinks(question: "/audio/x.wav"),
                             backend: "extractive", timingsMs: ["total": 1])
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any])
        #expect(Set(json.keys) == ["question", "answer", "sources", "audio", "backend", "timings_ms"])
        let source = try #require((json["sources"] as? [[String: Any]])?.first)
        #expect(Set(source.keys) == ["id", "file", "page", "score", "text"])
        #expect(source["page"] is NSNull)
    }

    @Test func nothingRelevantMeansNoModelCall() async throws {
        let backend = StubBackend(name: "remote", pieces: ["should not be called"])
        let config = PipelineConfiguration(minScore: 0.95, speak: false)
        let pipeline = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [backend], speaker: nil, configuration: config)
        let r = try await pipeline.chat(ChatRequest(question: "Quelle est la capitale du Japon ?"))
        #expect(r.answer == RAGPipeline.notCoveredAnswer(for: r.question))
        #expect(r.answer.contains("ne contiennent pas"))
        #expect(r.sources.isEmpty && r.backend == "none")
        #expect(await backend.calls.count == 0)
        #expect(r.audio == AudioLinks())
        let empty = RAGPipeline(retriever: StubRetriever(passages: []), backends: [backend], speaker: nil, configuration: PipelineConfiguration(speak: false))
        let english = try await empty.chat(ChatRequest(question: "What is the capital of Japan?"))
        #expect(english.answer.hasPrefix("The documents do not"))
        #expect(await backend.calls.count == 0)
    }

    /// A gate that knows which of the question's names the documents never mention says so.
    @Test func aDeclineNamesWhatTheDocumentsNeverMention() async throws {
        struct GateRetriever: Retriever {
            func retrieve(query: String, k: Int) async throws -> [SearchHit] {
                throw NotCoveredByDocuments(missingNames: ["BitLocker", "Windows"])
            }
        }
        let backend = StubBackend(name: "remote", pieces: ["should not be called"])
        let pipeline = RAGPipeline(retriever: GateRetriever(), backends: [backend], speaker: nil,
                                   configuration: PipelineConfiguration(speak: false))
        let french = try await pipeline.chat(ChatRequest(question: "Comment activer BitLocker sous Windows 11 ?"))
        #expect(french.answer == "Les documents ne contiennent pas d'information permettant de répondre à cette question. "
                + "Ils ne mentionnent jamais « BitLocker », « Windows ».")
        #expect(french.sources.isEmpty && french.backend == "none")
        let english = try await pipeline.chat(ChatRequest(question: "How do I turn on BitLocker in Windows 11?"))
        #expect(english.answer.hasSuffix("They never mention “BitLocker”, “Windows”."))
        #expect(await backend.calls.count == 0)
    }

    @Test func followUpQuestionsRetrieveWithHistory() async throws {
        let retriever = StubRetriever(passages: samplePassages)
        let pipeline = RAGPipeline(retriever: retriever, backends: [ExtractiveBackend()], speaker: nil,
                                   configuration: PipelineConfiguration(speak: false))
        _ = try await pipeline.chat(ChatRequest(question: "Et à quelle température ?", history: [
            .user("Comment faire une tarte Tatin ?"), .assistant("On la cuit renversée [1]."),
        ]))
        #expect(await retriever.calls.queries == ["Comment faire une tarte Tatin ?\nEt à quelle température ?"])
    }

    @Test func fallsBackToTheNextBackend() async throws {
        let failing = StubBackend(name: "remote", pieces: [], error: .upstream(status: 401, message: "Unauthorized"))
        let pipeline = RAGPipeline(retriever: StubRetriever(passages: samplePassages),
                                   backends: [failing, ExtractiveBackend()], speaker: nil, configuration: PipelineConfiguration(speak: false))
        let r = try await pipeline.chat(ChatRequest(question: "Qu'est-ce que la tarte Tatin ?"))
        #expect(r.backend == "extractive")
        #expect(r.answer.contains("[1]"))
        // What failed, not the upstream's own words (they go to the log).
        #expect(r.warnings == ["remote: the remote API answered with an error (HTTP 401)"])
        // The only backend failing surfaces its error.
        let alone = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [failing], speaker: nil,
                                configuration: PipelineConfiguration(speak: false))
        await #expect(throws: RAGError.upstream(status: 401, message: "Unauthorized")) {
            _ = try await alone.chat(ChatRequest(question: "Qu'est-ce que la tarte Tatin ?"))
        }
    }

    @Test func validatesRequests() async throws {
        let pipeline = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [ExtractiveBackend()],
                                   speaker: nil, configuration: PipelineConfiguration(maxQuestionLength: 10, speak: false))
        await #expect(throws: RAGError.emptyQuestion) { _ = try await pipeline.chat(ChatRequest(question: "  \n")) }
        await #expect(throws: RAGError.questionTooLong(length: 11, limit: 10)) { _ = try await pipeline.chat(ChatRequest(question: "12345678901")) }
        await #expect(throws: RAGError.self) { _ = try await pipeline.chat(ChatRequest(question: "ok", topK: 0)) }
        let broken = RAGPipeline(retriever: FailingRetriever(), backends: [ExtractiveBackend()], speaker: nil)
        await #expect(throws: RAGError.retrieval("Boom()")) { _ = try await broken.chat(ChatRequest(question: "ok")) }
    }

    @Test func streamsEventsInOrder() async throws {
        // The last piece waits until the first answer clip is out: speech must not wait for the end.
        let gate = Gate()
        let backend = StubBackend(name: "remote", pieces: ["La Tatin ", "est renversée [1]. ", "Elle cuit ", "à 180 degrés [2]."], gate: gate)
        let pipeline = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [backend], speaker: try speaker())
        var events: [ChatEvent] = []
        for try await e in pipeline.chatStream(ChatRequest(question: "Qu'est-ce que la tarte Tatin ?")) {
            events.append(e)
            if case .audio(let clip) = e, clip.kind == .answer { await gate.open() }
        }
        guard case .sources(let sources) = events.first else { Issue.record("sources first"); return }
        #expect(sources.count == 2)
        guard case .done(let done) = events.last else { Issue.record("done last"); return }
        let tokens = events.compactMap { if case .token(let t) = $0 { return t } else { return nil } }
        #expect(tokens.joined() == done.answer)
        let clips = events.compactMap { if case .audio(let c) = $0 { return c } else { return nil } }
        #expect(clips.map(\.kind) == [.question, .answer, .answer])
        #expect(clips.map(\.text) == ["Qu'est-ce que la tarte Tatin ?", "La Tatin est renversée [1].", "Elle cuit à 180 degrés [2]."])
        // The first answer clip came before the last token: speech starts before the answer is complete.
        let firstAnswerAudio = try #require(events.firstIndex { if case .audio(let c) = $0 { return c.kind == .answer } else { return false } })
        let lastToken = try #require(events.lastIndex { if case .token = $0 { return true } else { return false } })
        #expect(firstAnswerAudio < lastToken)
        // The done event's answer WAV is the sentences joined.
        let answerURL = try #require(done.audio.answer)
        let whole = try #require(await pipeline.audio(id: String(answerURL.dropFirst(7).dropLast(4))))
        var parts = 0.0
        for c in clips where c.kind == .answer {
            parts += try WAV.parse(try #require(await pipeline.audio(id: String(c.url.dropFirst(7).dropLast(4))))).duration
        }
        #expect(abs(try WAV.parse(whole).duration - parts) < 0.01)
        #expect(done.timingsMs["first_audio"] != nil && done.timingsMs["first_token"] != nil)
    }

    @Test func streamFallsBackOnlyBeforeText() async throws {
        let early = StubBackend(name: "remote", pieces: [], error: .connection(url: "http://x", message: "refused"))
        let pipeline = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [early, ExtractiveBackend()],
                                   speaker: nil, configuration: PipelineConfiguration(speak: false))
        var last: ChatEvent?
        for try await e in pipeline.chatStream(ChatRequest(question: "Qu'est-ce que la tarte Tatin ?")) { last = e }
        guard case .done(let r) = last else { Issue.record("done"); return }
        #expect(r.backend == "extractive")

        // A generated answer is given a checked sentence at a time: a failure before the first one
        // ends falls back; after it, the error ends the answer (no silent switch).
        let late = StubBackend(name: "remote", pieces: ["La Tatin est renversée [1]. ", "Elle cuit ", "à 180"],
                               error: .timeout(what: "remote", seconds: 1), failAfter: 2)
        let p2 = RAGPipeline(retriever: StubRetriever(passages: samplePassages), backends: [late, ExtractiveBackend()],
                             speaker: nil, configuration: PipelineConfiguration(speak: false))
        var tokens: [String] = []
        await #expect(throws: RAGError.timeout(what: "remote", seconds: 1)) {
            for try await e in p2.chatStream(ChatRequest(question: "Qu'est-ce que la tarte Tatin ?")) {
                if case .token(let t) = e { tokens.append(t) }
            }
        }
        #expect(tokens == ["La Tatin est renversée [1]."])
    }

    @Test func backendOrder() throws {
        #expect(try BackendKind.parseList("remote, extractive") == [.remote, .extractive])
        #expect(throws: RAGError.self) { try BackendKind.parseList("remote,gpt") }
        let remote = RemoteConfiguration(baseURL: "http://127.0.0.1:1/v1")
        #expect(EngineLoader.backends(order: [.remote, .local, .extractive], remote: remote).map(\.name) == ["remote", "extractive"])
        #expect(EngineLoader.backends(order: [.remote, .extractive], remote: nil).map(\.name) == ["extractive"])
    }

    @Test func remoteConfiguration() {
        #expect(RemoteConfiguration(baseURL: "https://api.mistral.ai/v1").chatCompletionsURL == "https://api.mistral.ai/v1/chat/completions")
        #expect(RemoteConfiguration(baseURL: "https://api.mistral.ai/v1").model == "mistral-small-latest")
        #expect(RemoteConfiguration(baseURL: "http://127.0.0.1:11434/").chatCompletionsURL == "http://127.0.0.1:11434/v1/chat/completions")
        #expect(RemoteConfiguration(baseURL: "http://h:8080/v1/chat/completions").chatCompletionsURL == "http://h:8080/v1/chat/completions")
        #expect(RemoteConfiguration.fromEnvironment([:]) == nil)
        let env = RemoteConfiguration.fromEnvironment(["RAGCHAT_API_BASE": "http://127.0.0.1:11434/v1", "RAGCHAT_API_MODEL": "qwen2.5:0.5b",
                                                       "RAGCHAT_API_KEY": "k", "RAGCHAT_API_TIMEOUT": "5"])
        #expect(env == RemoteConfiguration(baseURL: "http://127.0.0.1:11434/v1", apiKey: "k", model: "qwen2.5:0.5b", timeout: 5))
    }

    @Test func audioStoreIsBounded() async {
        let store = AudioStore(maxEntries: 3, maxBytes: 1_000)
        var ids: [String] = []
        for i in 0..<5 { ids.append(await store.put(Data(repeating: UInt8(i), count: 100))) }
        #expect(await store.count == 3)
        #expect(await store.get(ids[0]) == nil)
        #expect(await store.get(ids[4]) == Data(repeating: 4, count: 100))
        _ = await store.put(Data(count: 900))
        #expect(await store.totalBytes <= 1_000)
        #expect(AudioStore.isValidID(ids[4]) && !AudioStore.isValidID("x.wav"))
    }
}

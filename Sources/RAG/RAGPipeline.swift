import Foundation
import Logging
import Speech
import Tensors

/// Settings of the pipeline.
public struct PipelineConfiguration: Sendable {
    /// Passages retrieved when the request has no `top_k`.
    public var topK: Int
    /// Largest accepted `top_k`.
    public var maxTopK: Int
    /// Passages scoring below this are dropped; when none is left, the answer says the documents
    /// do not cover the question without calling a model. nil keeps every hit.
    public var minScore: Double?
    /// Longest accepted question, in characters (longer → `RAGError.questionTooLong`, HTTP 413).
    public var maxQuestionLength: Int
    /// How many previous user turns are prepended to the retrieval query (follow-up questions).
    public var historyTurnsForRetrieval: Int
    public var generation: GenerationOptions
    /// Synthesise the question and answer audio.
    public var speak: Bool
    /// Audio URLs are `<audioURLPrefix><id>.wav`.
    public var audioURLPrefix: String

    public init(topK: Int = 4, maxTopK: Int = 20, minScore: Double? = nil, maxQuestionLength: Int = 4_000,
                historyTurnsForRetrieval: Int = 1, generation: GenerationOptions = GenerationOptions(),
                speak: Bool = true, audioURLPrefix: String = "/audio/") {
        self.topK = topK; self.maxTopK = maxTopK; self.minScore = minScore
        self.maxQuestionLength = maxQuestionLength; self.historyTurnsForRetrieval = historyTurnsForRetrieval
        self.generation = generation; self.speak = speak; self.audioURLPrefix = audioURLPrefix
    }
}

/// Which backends, in which order: `RAGCHAT_BACKENDS=remote,local,extractive` style lists.
public enum BackendKind: String, Sendable, CaseIterable { case remote, local, extractive }

extension BackendKind {
    /// Parses "remote,extractive" (unknown names are reported in the error).
    public static func parseList(_ s: String) throws -> [BackendKind] {
        try s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }.map {
            guard let k = BackendKind(rawValue: $0) else {
                throw RAGError.invalidRequest("unknown backend '\($0)' (expected remote, local or extractive)")
            }
            return k
        }
    }
}

/// The RAG engine: retrieve → prompt → answer (backends in order) → speak, behind `ChatEngine`.
public final class RAGPipeline: ChatEngine {
    public let retriever: any Retriever
    public let backends: [any AnswerBackend]
    public let speaker: Speaker?
    public let audioStore: AudioStore
    public let configuration: PipelineConfiguration
    public let promptBuilder: PromptBuilder
    /// Extra facts for `/health` (index path, chunk count, encoder…), set by whoever wires it.
    public let info: [String: String]
    private let logger: Logger

    /// - Parameters:
    ///   - backends: tried in order; a backend that fails before producing text hands over to the next.
    ///   - speaker: nil disables audio.
    public init(retriever: any Retriever, backends: [any AnswerBackend], speaker: Speaker?,
                configuration: PipelineConfiguration = PipelineConfiguration(),
                audioStore: AudioStore = AudioStore(), promptBuilder: PromptBuilder = PromptBuilder(),
                info: [String: String] = [:], logger: Logger = Logger(label: "ragchat.rag")) {
        self.retriever = retriever
        self.backends = backends
        self.speaker = speaker
        self.audioStore = audioStore
        self.configuration = configuration
        self.promptBuilder = promptBuilder
        self.info = info
        self.logger = logger
    }

    /// Backends in `order`, skipping what is not available: `remote` needs a configuration,
    /// `local` needs a backend (the GGUF model, later).
    public static func backends(order: [BackendKind] = [.remote, .local, .extractive],
                                remote: RemoteConfiguration? = RemoteConfiguration.fromEnvironment(),
                                local: (any AnswerBackend)? = nil,
                                extractive: ExtractiveBackend = ExtractiveBackend()) -> [any AnswerBackend] {
        order.compactMap { kind -> (any AnswerBackend)? in
            switch kind {
            case .remote: return remote.map { RemoteBackend(configuration: $0) }
            case .local: return local
            case .extractive: return extractive
            }
        }
    }

    // MARK: - Pieces

    /// Validates and normalises a request: trimmed question, `top_k` in range.
    public func validate(_ request: ChatRequest) throws -> (question: String, k: Int) {
        let question = request.question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw RAGError.invalidRequest("the question is empty") }
        guard question.count <= configuration.maxQuestionLength else {
            throw RAGError.questionTooLong(length: question.count, limit: configuration.maxQuestionLength)
        }
        let k = request.topK ?? configuration.topK
        guard (1...configuration.maxTopK).contains(k) else {
            throw RAGError.invalidRequest("top_k must be between 1 and \(configuration.maxTopK), got \(k)")
        }
        return (question, k)
    }

    /// The retrieval query: the last user turn(s) of the history, then the question.
    public func retrievalQuery(question: String, history: [ChatMessage]) -> String {
        let n = configuration.historyTurnsForRetrieval
        guard n > 0 else { return question }
        let previous = history.filter { $0.role == .user }.suffix(n).map(\.content)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty && $0 != question }
        return (previous + [question]).joined(separator: "\n")
    }

    /// The fixed answer when the documents do not cover the question (in the question's language).
    public static func notCoveredAnswer(for question: String) -> String {
        TextTools.isLikelyEnglish(question)
            ? "The documents do not contain information that answers this question."
            : "Les documents ne contiennent pas d'information permettant de répondre à cette question."
    }

    func retrieve(question: String, k: Int, history: [ChatMessage]) async throws -> [RetrievedPassage] {
        let query = retrievalQuery(question: question, history: history)
        let hits: [RetrievedPassage]
        do {
            hits = try await retriever.retrieve(query: query, k: k)
        } catch let e as RAGError {
            throw e
        } catch {
            throw RAGError.retrieval(String(describing: error))
        }
        guard let threshold = configuration.minScore else { return hits }
        return hits.filter { $0.score >= threshold }
    }

    private func url(_ id: String) -> String { configuration.audioURLPrefix + id + ".wav" }

    /// Speaks and stores; nil when speech is off or nothing speakable. Adds elapsed ms to `speakMs`.
    private func speakAndStore(_ text: String, question: Bool) async -> (id: String, wav: Data, ms: Double)? {
        guard configuration.speak, let speaker else { return nil }
        let start = MonotonicClock.now()
        do {
            let wav = question ? try await speaker.speakQuestion(text) : try await speaker.speakAnswer(text)
            let id = await audioStore.put(wav)
            return (id, wav, MonotonicClock.milliseconds(since: start))
        } catch SpeechError.emptyText {
            return nil
        } catch {
            logger.warning("speech failed: \(error)")
            return nil
        }
    }

    // MARK: - ChatEngine

    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        let start = MonotonicClock.now()
        let (question, k) = try validate(request)
        let history = request.history ?? []
        let questionAudio = Task { await self.speakAndStore(question, question: true) }
        defer { questionAudio.cancel() }

        var timings: [String: Double] = [:]
        let t0 = MonotonicClock.now()
        let passages = try await retrieve(question: question, k: k, history: history)
        timings["retrieve"] = MonotonicClock.milliseconds(since: t0)

        var answer: String
        var backendName = "none"
        var warnings: [String] = []
        let t1 = MonotonicClock.now()
        if passages.isEmpty {
            answer = Self.notCoveredAnswer(for: question)
        } else {
            let input = AnswerInput(question: question, passages: passages, history: history,
                                    prompt: promptBuilder.build(question: question, passages: passages, history: history))
            answer = ""
            var lastError: (any Error)?
            for backend in backends {
                do {
                    var text = ""
                    let outcome = try await groundedAnswer(with: backend, input) { piece, _ in text += piece }
                    answer = text
                    backendName = outcome.backend
                    if let note = outcome.note { warnings.append(note) }
                    lastError = nil
                    break
                } catch {
                    try Task.checkCancellation()
                    lastError = error
                    warnings.append("\(backend.name): \(error)")
                    logger.warning("backend \(backend.name) failed: \(error)")
                }
            }
            if let lastError { throw lastError }
            if backendName == "none" { throw RAGError.noBackend }
        }
        timings["generate"] = MonotonicClock.milliseconds(since: t1)

        let answerAudio = await speakAndStore(answer, question: false)
        let q = await questionAudio.value
        timings["speak_question"] = q?.ms ?? 0
        timings["speak_answer"] = answerAudio?.ms ?? 0
        timings["speak"] = (q?.ms ?? 0) + (answerAudio?.ms ?? 0)
        timings["total"] = MonotonicClock.milliseconds(since: start)
        return ChatResponse(question: question, answer: answer, sources: passages.map(Source.init),
                            audio: AudioLinks(question: q.map { url($0.id) }, answer: answerAudio.map { url($0.id) }),
                            backend: backendName, timingsMs: timings, warnings: warnings.isEmpty ? nil : warnings)
    }

    public func chatStream(_ request: ChatRequest) -> AsyncThrowingStream<ChatEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await self.stream(request, continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func stream(_ request: ChatRequest, _ out: AsyncThrowingStream<ChatEvent, Error>.Continuation) async throws {
        let start = MonotonicClock.now()
        let (question, k) = try validate(request)
        let history = request.history ?? []
        let timings = TimingBox()

        let questionAudio = Task { await self.speakAndStore(question, question: true) }
        let t0 = MonotonicClock.now()
        let passages: [RetrievedPassage]
        do { passages = try await retrieve(question: question, k: k, history: history) } catch {
            questionAudio.cancel(); throw error
        }
        await timings.set("retrieve", MonotonicClock.milliseconds(since: t0))
        out.yield(.sources(passages.map(Source.init)))

        // The question's clip, once sources are out.
        let questionAnnounced = Task { () -> (id: String, wav: Data, ms: Double)? in
            let q = await questionAudio.value
            if let q { out.yield(.audio(AudioClip(kind: .question, index: 0, url: self.url(q.id), text: question))) }
            return q
        }

        // Sentences are spoken in order by one consumer, after the question's clip.
        let (sentences, sentenceSink) = AsyncStream<String>.makeStream()
        let speaking = Task { () -> [Data] in
            _ = await questionAnnounced.value
            var wavs: [Data] = []
            var index = 0
            for await sentence in sentences {
                guard let clip = await self.speakAndStore(sentence, question: false) else { continue }
                await timings.add("speak_answer", clip.ms)
                if index == 0 { await timings.set("first_audio", MonotonicClock.milliseconds(since: start)) }
                out.yield(.audio(AudioClip(kind: .answer, index: index, url: self.url(clip.id), text: sentence)))
                wavs.append(clip.wav)
                index += 1
            }
            return wavs
        }
        defer { questionAudio.cancel(); questionAnnounced.cancel(); speaking.cancel(); sentenceSink.finish() }

        var splitter = SentenceSplitter()
        var answer = ""
        var backendName = "none"
        var warnings: [String] = []
        let t1 = MonotonicClock.now()
        /// `whole`: the piece is one complete, checked sentence (spoken at once, not re-split).
        func emit(_ piece: String, whole: Bool = false) async {
            if answer.isEmpty { await timings.set("first_token", MonotonicClock.milliseconds(since: start)) }
            answer += piece
            out.yield(.token(piece))
            if whole {
                let sentence = piece.trimmingCharacters(in: .whitespacesAndNewlines)
                if !sentence.isEmpty { sentenceSink.yield(sentence) }
            } else {
                for s in splitter.feed(piece) { sentenceSink.yield(s) }
            }
        }
        if passages.isEmpty {
            await emit(Self.notCoveredAnswer(for: question))
        } else {
            let input = AnswerInput(question: question, passages: passages, history: history,
                                    prompt: promptBuilder.build(question: question, passages: passages, history: history))
            var lastError: (any Error)?
            for backend in backends {
                do {
                    let outcome = try await groundedAnswer(with: backend, input) { await emit($0, whole: $1) }
                    backendName = outcome.backend
                    if let note = outcome.note { warnings.append(note) }
                    lastError = nil
                    break
                } catch {
                    try Task.checkCancellation()
                    lastError = error
                    logger.warning("backend \(backend.name) failed: \(error)")
                    if !answer.isEmpty { throw error }   // text already sent: no silent switch
                    warnings.append("\(backend.name): \(error)")
                }
            }
            if let lastError { throw lastError }
            if backendName == "none" { throw RAGError.noBackend }
        }
        await timings.set("generate", MonotonicClock.milliseconds(since: t1))
        if let rest = splitter.finish() { sentenceSink.yield(rest) }
        sentenceSink.finish()

        let wavs = await speaking.value
        let q = await questionAnnounced.value
        var answerURL: String?
        if !wavs.isEmpty, let joined = try? Self.concatenate(wavs) {
            answerURL = url(await audioStore.put(joined))
        }
        var t = await timings.values
        t["speak_question"] = q?.ms ?? 0
        t["speak_answer"] = t["speak_answer"] ?? 0
        t["speak"] = (q?.ms ?? 0) + (t["speak_answer"] ?? 0)
        t["total"] = MonotonicClock.milliseconds(since: start)
        out.yield(.done(ChatResponse(question: question, answer: answer, sources: passages.map(Source.init),
                                     audio: AudioLinks(question: q.map { url($0.id) }, answer: answerURL),
                                     backend: backendName, timingsMs: t, warnings: warnings.isEmpty ? nil : warnings)))
    }

    /// One backend's answer, given out piece by piece through `emit` (with `true` for a piece that
    /// is one whole checked sentence). A generative backend's text
    /// goes through `GroundedAnswer` (only sentences the passages support, at sentence pace); when
    /// the model declines (the gate judged the documents relevant) or says nothing supported, the
    /// extractive answer is given instead, and `note` says so. Returns the name of the backend
    /// whose text was given.
    func groundedAnswer(with backend: any AnswerBackend, _ input: AnswerInput,
                emit: (String, Bool) async -> Void) async throws -> (backend: String, note: String?) {
        if backend is ExtractiveBackend {
            for try await piece in backend.answer(input, options: configuration.generation) where !piece.isEmpty {
                await emit(piece, false)
            }
            return (backend.name, nil)
        }
        var grounded = GroundedAnswer(input: input)
        for try await piece in backend.answer(input, options: configuration.generation) where !piece.isEmpty {
            for sentence in grounded.feed(piece) { await emit(sentence, true) }
        }
        for sentence in grounded.finish() { await emit(sentence, true) }
        if grounded.dropped > 0 {
            logger.info("\(backend.name): \(grounded.dropped) unsupported sentence(s) left out")
        }
        guard grounded.verdict != .answered else { return (backend.name, nil) }
        let fallback = backends.first { $0 is ExtractiveBackend } ?? ExtractiveBackend()
        for try await piece in fallback.answer(input, options: configuration.generation) where !piece.isEmpty {
            await emit(piece, false)
        }
        let why = grounded.verdict == .declined ? "declined a question the documents cover" : "said nothing the passages support"
        return (fallback.name, "\(backend.name) \(why): quotations given instead")
    }

    /// Joins 16-bit mono WAVs of the same rate into one.
    public static func concatenate(_ wavs: [Data]) throws -> Data {
        var samples: [Int16] = []
        var rate = 22_050
        for w in wavs {
            let info = try WAV.parse(w)
            rate = info.sampleRate
            samples += try WAV.samples(w)
        }
        return WAV.encode(samples: samples, sampleRate: rate)
    }

    public func audio(id: String) async -> Data? {
        guard AudioStore.isValidID(id) else { return nil }
        return await audioStore.get(id)
    }

    public func status() async -> EngineStatus {
        var info = self.info
        info["backends"] = backends.map(\.name).joined(separator: ",")
        for b in backends { info["backend." + b.name] = b.info }
        if let speaker {
            info["question_voice"] = speaker.configuration.questionVoice.description
            info["answer_voice"] = speaker.configuration.answerVoice.description
            info["sample_rate"] = String(speaker.synthesizer.sampleRate)
        } else {
            info["speech"] = "off"
        }
        return EngineStatus(ready: true, info: info)
    }
}

actor TimingBox {
    var values: [String: Double] = [:]
    func set(_ k: String, _ v: Double) { values[k] = v }
    func add(_ k: String, _ v: Double) { values[k, default: 0] += v }
}

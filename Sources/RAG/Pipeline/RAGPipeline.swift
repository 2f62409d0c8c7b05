import Foundation
import Index
import Logging
import Speech
import Tensors
import TextAnalysis

/// Settings of the pipeline.
public struct PipelineConfiguration: Sendable {
    /// Passages retrieved when the request has no `top_k`.
    public var topK: Int
    /// What a request may ask for (question length, `top_k`, history).
    public var limits: RequestLimits
    /// Passages scoring below this are dropped; when none is left, the answer says the documents
    /// do not cover the question without calling a model. nil keeps every hit.
    public var minScore: Double?
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
        self.topK = topK; self.minScore = minScore
        self.limits = RequestLimits(maxQuestionLength: maxQuestionLength, maxTopK: maxTopK)
        self.historyTurnsForRetrieval = historyTurnsForRetrieval
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

    /// The retrieval query: the last user turn(s) of the history, then the question.
    public func retrievalQuery(question: String, history: [ChatMessage]) -> String {
        let n = configuration.historyTurnsForRetrieval
        guard n > 0 else { return question }
        let previous = history.filter { $0.role == .user }.suffix(n).map(\.content)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty && $0 != question }
        return (previous + [question]).joined(separator: "\n")
    }

    /// The fixed answer when the documents do not cover the question (in the question's language),
    /// naming what they never mention when the gate knows it.
    public static func notCoveredAnswer(for question: String, missingNames: [String] = []) -> String {
        let english = TextTools.isLikelyEnglish(question)
        let answer = english
            ? "The documents do not contain information that answers this question."
            : "Les documents ne contiennent pas d'information permettant de répondre à cette question."
        guard !missingNames.isEmpty else { return answer }
        let names = missingNames.map { english ? "“\($0)”" : "« \($0) »" }.joined(separator: ", ")
        return answer + (english ? " They never mention \(names)." : " Ils ne mentionnent jamais \(names).")
    }

    /// The passages for the question, none when the documents do not cover it (and then the
    /// names they never mention, when the retriever says).
    func retrieve(question: String, k: Int, history: [ChatMessage]) async throws
        -> (passages: [SearchHit], missingNames: [String], expansion: String?) {
        let query = retrievalQuery(question: question, history: history)
        let found: Retrieval
        do {
            found = try await retriever.retrieval(query: query, k: k)
        } catch let notCovered as NotCoveredByDocuments {
            return ([], notCovered.missingNames, nil)
        } catch let e as RAGError {
            throw e
        } catch let e as IndexError {
            if case .unavailable = e { throw RAGError.indexUnavailable(e.description) }
            throw RAGError.retrieval(e.description)
        } catch {
            throw RAGError.retrieval(String(describing: error))
        }
        guard let threshold = configuration.minScore else { return (found.hits, [], found.expansion) }
        return (found.hits.filter { $0.score >= threshold }, [], found.expansion)
    }

    func url(_ id: String) -> String { configuration.audioURLPrefix + id + ".wav" }

    /// Speaks `text` in the question's or the answer's voice and stores the WAV; nil when speech
    /// is off or there is nothing to say.
    func speakAndStore(_ text: String, question: Bool) async -> SpokenClip? {
        guard configuration.speak, let speaker else { return nil }
        let start = MonotonicClock.now()
        do {
            let wav = question ? try await speaker.speakQuestion(text) : try await speaker.speakAnswer(text)
            let id = await audioStore.put(wav)
            return SpokenClip(id: id, wav: wav, ms: MonotonicClock.milliseconds(since: start))
        } catch SpeechError.emptyText {
            return nil
        } catch {
            logger.warning("speech failed: \(error)")
            return nil
        }
    }

    // MARK: - ChatEngine

    /// The whole answer at once: the collected form of `answer(_:events:)`.
    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        try await answer(request, events: nil)
    }

    /// `sources`, then `token`s and `audio`s as they come, then `done`: the streamed form of
    /// `answer(_:events:)`. Cancelling the consumer stops the answer.
    public func chatStream(_ request: ChatRequest) -> AsyncThrowingStream<ChatEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await self.answer(request, events: continuation)
                    continuation.yield(.done(response))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public typealias Events = AsyncThrowingStream<ChatEvent, Error>.Continuation

    /// The one answer path: validate, retrieve, answer (backends in order), speak, time.
    ///
    /// Without `events` the answer is collected: a backend that fails midway hands over to the
    /// next one (its text is dropped, nobody saw it) and the answer is spoken once whole. With
    /// `events`, sources, text and audio clips go out as they come, each sentence spoken as soon
    /// as it is complete; once text is out, a failing backend ends the answer with its error (no
    /// silent switch in the middle of what the user reads).
    func answer(_ request: ChatRequest, events out: Events?) async throws -> ChatResponse {
        let start = MonotonicClock.now()
        let request = try request.validated(configuration.limits)
        let question = request.question
        let history = request.history ?? []
        let timings = TimingBox()

        let speak = request.speak
        let questionAudio = Task { speak ? await self.speakAndStore(question, question: true) : nil }
        defer { questionAudio.cancel() }
        let t0 = MonotonicClock.now()
        let (passages, missingNames, expansion) = try await retrieve(question: question, k: request.topK ?? configuration.topK, history: history)
        await timings.set("retrieve", MonotonicClock.milliseconds(since: t0))
        out?.yield(.sources(passages))

        let voice = out.flatMap { speak ? SentenceVoice(pipeline: self, events: $0, question: question, questionAudio: questionAudio,
                                            start: start, timings: timings) : nil }
        defer { voice?.cancel() }

        var answer = ""
        var backendName = "none"
        var warnings: [String] = []
        let t1 = MonotonicClock.now()
        /// `whole`: the piece is one complete, checked sentence (spoken at once, not re-split).
        func emit(_ piece: String, whole: Bool) async {
            if answer.isEmpty, out != nil { await timings.set("first_token", MonotonicClock.milliseconds(since: start)) }
            answer += piece
            out?.yield(.token(piece))
            voice?.feed(piece, whole: whole)
        }
        if passages.isEmpty {
            await emit(Self.notCoveredAnswer(for: question, missingNames: missingNames), whole: false)
        } else {
            let input = AnswerInput(question: question, passages: passages, history: history, expansion: expansion)
            var lastError: (any Error)?
            for backend in backends {
                do {
                    let outcome = try await groundedAnswer(with: backend, input, emit: emit)
                    backendName = outcome.backend
                    if let note = outcome.note { warnings.append(note) }
                    lastError = nil
                    break
                } catch {
                    try Task.checkCancellation()
                    lastError = error
                    logger.warning("backend \(backend.name) failed: \(error)")
                    if !answer.isEmpty {
                        if out != nil { throw error }
                        answer = ""
                    }
                    warnings.append("\(backend.name): \((error as? RAGError)?.clientMessage ?? "failed")")
                }
            }
            if let lastError { throw lastError }
            if backendName == "none" { throw RAGError.noBackend }
        }
        await timings.set("generate", MonotonicClock.milliseconds(since: t1))

        let questionClip: SpokenClip?
        let answerID: String?
        if let voice {
            answerID = await voice.finish()
            questionClip = await voice.questionClip()
        } else {
            let clip = speak ? await speakAndStore(answer, question: false) : nil
            await timings.add("speak_answer", clip?.ms ?? 0)
            answerID = clip?.id
            questionClip = await questionAudio.value
        }
        var t = await timings.values
        t["speak_question"] = questionClip?.ms ?? 0
        t["speak_answer"] = t["speak_answer"] ?? 0
        t["speak"] = (questionClip?.ms ?? 0) + (t["speak_answer"] ?? 0)
        t["total"] = MonotonicClock.milliseconds(since: start)
        return ChatResponse(question: question, answer: answer, sources: passages,
                            audio: AudioLinks(question: questionClip.map { url($0.id) }, answer: answerID.map(url)),
                            backend: backendName, timingsMs: t, warnings: warnings.isEmpty ? nil : warnings,
                            audioIDs: AudioIDs(question: questionClip?.id, answer: answerID))
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

    public func audio(id: String) async -> Data? {
        guard AudioStore.isValidID(id) else { return nil }
        return await audioStore.get(id)
    }

    public var requestLimits: RequestLimits { configuration.limits }

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

/// A stored WAV: its id, bytes and the milliseconds synthesis took.
struct SpokenClip: Sendable {
    var id: String
    var wav: Data
    var ms: Double
}

/// Milliseconds per stage, written by the answer and its speech tasks.
actor TimingBox {
    var values: [String: Double] = [:]
    func set(_ k: String, _ v: Double) { values[k] = v }
    func add(_ k: String, _ v: Double) { values[k, default: 0] += v }
}

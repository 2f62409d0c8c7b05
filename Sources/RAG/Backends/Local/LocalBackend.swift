import Decoder
import Foundation
import Index
import Tensors
import TextAnalysis
import Tokenizers

/// How the local model is prompted.
public enum LocalPromptMode: Sendable, Equatable {
    /// Chat turns rendered by the model's chat format (instruct models).
    case chat(ChatTemplate)
    /// A completion-style prompt the model continues (base models without a chat template).
    case completion(PromptBuilder.CompletionStyle)

    public var description: String {
        switch self {
        case .chat(let t): return "chat (\(t.family.rawValue))"
        case .completion(let s): return "completion (\(s.rawValue))"
        }
    }
}

/// Answers with a GGUF language model run in process (the `Decoder` engine): the model is loaded
/// once; one generation at a time (a lock; waiting requests queue); text streams as produced; ends
/// on EOS / end-of-turn / stop strings / the repetition guard / `maxTokens`; the prompt is fitted to
/// the context (`ContextBudget`); cancelling the consumer's stream stops generation at the next token.
///
/// Sendable by hand: every stored property is a constant, and the model's mutable state (its KV
/// cache, behind `generator`) is only touched inside `generate`, under `lock`.
public final class LocalBackend: AnswerBackend, @unchecked Sendable {
    public let name = "local"
    public let model: LanguageModel
    public let tokenizer: any TextTokenizer
    public let generator: Generator
    public let promptMode: LocalPromptMode
    public let promptBuilder: PromptBuilder
    /// Tokens the context holds (prompt + answer).
    public let contextLength: Int
    /// Default answer length cap (a request's `GenerationOptions.maxTokens` can only lower it).
    public let maxTokens: Int
    /// How answers are prompted, sampled and shaped; fixed for the backend's life.
    public let tuning: LocalAnswerTuning
    /// Seconds spent loading the model.
    public let loadSeconds: Double
    private let modelFile: String
    private let lock = NSLock()

    /// Loads `modelPath`. `contextLength`: nil = the model's (capped at 4,096 by the engine);
    /// `maxTokens`: the longest answer; `threads`: nil = all cores; `promptMode`: nil = the
    /// file's chat template when it has a recognised one, else the completion prompt.
    /// Throws `RAGError.backend` naming the file when it is missing or unreadable.
    public init(modelPath: String, contextLength: Int? = nil, maxTokens: Int = 256, threads: Int? = nil,
                promptMode: LocalPromptMode? = nil, promptBuilder: PromptBuilder = PromptBuilder(),
                tuning: LocalAnswerTuning = LocalAnswerTuning()) throws {
        let t0 = MonotonicClock.now()
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw RAGError.backend(name: "local", message: "model file not found: \(modelPath)")
        }
        do {
            model = try LanguageModel(path: modelPath, contextLength: contextLength, maxBatch: 512, pool: .sized(threads))
            tokenizer = try GGUFTokenizerLoader.load(model.file)
        } catch {
            throw RAGError.backend(name: "local", message: "cannot load \(modelPath): \(error)")
        }
        generator = Generator(model: model)
        self.promptMode = promptMode ?? ChatTemplate.from(model.file).map { .chat($0) }
            ?? .completion(PromptBuilder.defaultCompletionStyle)
        self.promptBuilder = promptBuilder
        self.tuning = tuning
        self.contextLength = model.maxContext
        self.maxTokens = max(1, min(maxTokens, model.maxContext - 1))
        modelFile = URL(fileURLWithPath: modelPath).lastPathComponent
        loadSeconds = MonotonicClock.seconds(since: t0)
    }

    public var info: String {
        "\(modelFile) (\(model.config.architecture), \(promptMode.description), context \(contextLength))"
    }

    /// Stop strings for this prompt mode (the chat families' end-of-turn markers are tokens).
    public var stopStrings: [String] {
        switch promptMode {
        case .chat(let t): return t.endOfTurnStrings
        case .completion: return PromptBuilder.completionStopStrings
        }
    }

    /// Token ids ending an answer.
    public var stopTokens: Set<Int> {
        var s = Set(tokenizer.endOfGenerationIDs.map(Int.init))
        if let e = model.config.eosTokenID { s.insert(e) }
        if case .chat(let t) = promptMode { s.formUnion(t.stopTokenIDs(tokenizer)) }
        return s
    }

    /// The prompt's tokens for `passages` as given (no budget).
    public func promptTokens(question: String, passages: [SearchHit], history: [ChatMessage]) -> [Int32] {
        switch promptMode {
        case .chat(let template):
            let prompt = promptBuilder.build(question: question, passages: passages, history: history)
            let turns = prompt.messages.map { m -> ChatTurn in
                switch m.role {
                case .system: return .system(m.content)
                case .user: return .user(m.content)
                case .assistant: return .assistant(m.content)
                }
            }
            return template.encode(turns, tokenizer: tokenizer)
        case .completion(let style):
            let text = promptBuilder.completion(question: question, passages: passages, style: style, bestLast: tuning.bestLast)
            return tokenizer.tokenize(text, addBOS: true, parseSpecial: false)
        }
    }

    /// The prompt fitted to the context minus `answerTokens`: lowest-ranked passages dropped first,
    /// then the last one kept shortened at a sentence boundary. Throws when even no passage fits.
    public func fittedPrompt(_ input: AnswerInput, answerTokens: Int) throws -> (tokens: [Int32], passages: [SearchHit]) {
        let budget = ContextBudget(contextLength: contextLength, maxAnswerTokens: answerTokens)
        // Passages are cut to the builder's per-passage limit first, so the budget sees the real text.
        let cap = promptBuilder.maxPassageCharacters
        var given = input.passages
        var texts = given.map { p -> String in
            let t = p.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return t.count > cap ? String(t.prefix(cap)) + "…" : t
        }
        if case .completion = promptMode {
            given = Array(given.prefix(max(1, tuning.maxPassages)))
            texts = Array(texts.prefix(given.count))
            if let focus = tuning.focusCharacters {
                texts = TextTools.focusedPassages(texts, question: input.question, maxCharacters: focus)
            }
        }
        func passages(_ ts: [String]) -> [SearchHit] {
            zip(given, ts).map { p, t in var q = p; q.text = t; return q }
        }
        let fit = try budget.fit(passages: texts) { ts in
            promptTokens(question: input.question, passages: passages(ts), history: input.history)
        }
        return (fit.tokens, passages(fit.passages))
    }

    public func answer(_ input: AnswerInput, options: GenerationOptions) -> AsyncThrowingStream<String, Error> {
        let flag = CancelFlag()
        let (stream, continuation) = AsyncThrowingStream<String, Error>.makeStream()
        continuation.onTermination = { _ in flag.set() }
        let deadline = Date().addingTimeInterval(options.timeout > 0 ? options.timeout : .infinity)
        let thread = Thread { [self] in
            do {
                try self.generate(input, options: options, deadline: deadline, cancelled: flag) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
        return stream
    }

    /// Synchronous generation (on the caller's thread), calling `emit` with each text piece.
    /// Returns the engine's statistics. One call at a time per backend (others wait).
    @discardableResult
    public func generate(_ input: AnswerInput, options: GenerationOptions, deadline: Date = .distantFuture,
                         cancelled: CancelFlag = CancelFlag(), emit: (String) -> Void) throws -> GenerationStats? {
        lock.lock()
        defer { lock.unlock() }
        if cancelled.isSet { return nil }
        if Date() >= deadline { throw RAGError.timeout(what: "local generation (waiting for the model)", seconds: options.timeout) }
        // A base model sometimes "answers" by writing one more passage; then it gets a second
        // chance with the answer's first words written for it (the cached prompt prefix makes it
        // cheap). Nothing was sent to the client by the failed attempt.
        let answerTokens = max(1, min(options.maxTokens > 0 ? options.maxTokens : maxTokens, maxTokens))
        let fitted: (tokens: [Int32], passages: [SearchHit])
        do {
            fitted = try fittedPrompt(input, answerTokens: answerTokens)
        } catch {
            throw RAGError.backend(name: name, message: "\(error)")
        }
        // The passages' tokens the copy bias follows (once per request, for every attempt).
        var copySource: [Int] = []
        if case .completion = promptMode, tuning.copyBias != 0 {
            for p in fitted.passages {
                copySource += tokenizer.tokenize(" " + p.text, addBOS: false, parseSpecial: false).map(Int.init)
                copySource.append(-1)
            }
        }
        for primer in answerPrimers(question: input.question) {
            let (stats, answered) = try attempt(fitted, copySource: copySource, question: input.question, answerTokens: answerTokens,
                                                options: options, deadline: deadline, cancelled: cancelled, primer: primer, emit: emit)
            if answered || cancelled.isSet { return stats }
        }
        throw RAGError.backend(name: name, message: "the model produced no answer")
    }

    /// The answer openings tried in turn: the model's own, then (completion prompts only) one
    /// that starts the answer for it.
    func answerPrimers(question: String) -> [String?] {
        guard case .completion = promptMode else { return [nil] }
        if tuning.openFromQuestion, let opening = PromptBuilder.answerOpening(for: question) { return [opening, Self.primer] }
        return [nil, Self.primer]
    }

    /// Written at the start of the second attempt's answer.
    public static let primer = "D'après les extraits,"

    /// One generation; `answered` tells whether any text was sent.
    /// `fitted` is the prompt fitted once per request; the primer's tokens follow it. A non-empty
    /// `copySource` turns the copy bias on.
    private func attempt(_ fitted: (tokens: [Int32], passages: [SearchHit]), copySource: [Int], question: String, answerTokens: Int,
                         options: GenerationOptions, deadline: Date, cancelled: CancelFlag,
                         primer: String?, emit: (String) -> Void) throws -> (GenerationStats?, Bool) {
        var prompt = fitted.tokens
        if let primer {
            prompt += tokenizer.tokenize(" " + primer, addBOS: false, parseSpecial: false)
        }
        var sampling = SamplingParameters.greedy
        if !copySource.isEmpty { sampling.copyBias = tuning.copyBias }
        if tuning.useRequestTemperature, options.temperature > 0 {
            sampling = SamplingParameters(temperature: Float(options.temperature), topK: 40, topP: 0.95,
                                          seed: UInt64(truncatingIfNeeded: prompt.count &* 2_654_435_761),
                                          copyBias: sampling.copyBias)
        }
        var detok = tokenizer.makeStreamingDetokenizer()
        var filter = LocalAnswerFilter(stopStrings: stopStrings, passages: fitted.passages.map(\.text), question: question,
                                       primer: primer, tuning: tuning)
        var timedOut = false
        var answered = false
        func send(_ s: String) {
            guard !s.isEmpty else { return }
            emit(s)
            answered = true
        }
        let flag = CancelFlag()
        let stats: GenerationStats
        do {
            stats = try generator.run(prompt: prompt.map(Int.init), maxTokens: answerTokens, sampling: sampling,
                                      stops: stopTokens, repeatGuard: tuning.repeatGuard, cancelled: flag,
                                      copySource: copySource, lookup: tuning.promptLookup) { id in
                if cancelled.isSet { flag.set(); return }
                if Date() >= deadline { timedOut = true; flag.set(); return }
                send(filter.feed(detok.append(Int32(id))))
                if filter.shouldStop { flag.set() }
            }
        } catch {
            throw RAGError.backend(name: name, message: "\(error)")
        }
        if cancelled.isSet { return (stats, answered) }
        send(filter.finish(detok.flush()))
        if timedOut { throw RAGError.timeout(what: "local generation", seconds: options.timeout) }
        return (stats, answered)
    }
}

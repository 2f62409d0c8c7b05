import Decoder
import Foundation
import Tensors
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
            let pool = threads.map { $0 == ThreadPool.shared.threadCount ? ThreadPool.shared : ThreadPool(threads: max(1, $0)) }
                ?? ThreadPool.shared
            model = try LanguageModel(path: modelPath, contextLength: contextLength, maxBatch: 512, pool: pool)
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
    public func promptTokens(question: String, passages: [RetrievedPassage], history: [ChatMessage]) -> [Int32] {
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
    public func fittedPrompt(_ input: AnswerInput, answerTokens: Int) throws -> (tokens: [Int32], passages: [RetrievedPassage]) {
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
        func passages(_ ts: [String]) -> [RetrievedPassage] {
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
        let fitted: (tokens: [Int32], passages: [RetrievedPassage])
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
    private func attempt(_ fitted: (tokens: [Int32], passages: [RetrievedPassage]), copySource: [Int], question: String, answerTokens: Int,
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
                                       primer: primer, isSecondChancePrimer: primer == Self.primer, tuning: tuning)
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
                                      copySource: copySource) { id in
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

/// The local backend's answer settings, fixed when the backend is made. The defaults are what
/// BENCHMARKS.md measured best on the 270M model; the tests and benches vary them.
public struct LocalAnswerTuning: Sendable, Equatable {
    /// Stop generation when the output repeats an n-gram three times (0 = off).
    public var repeatGuard: Int = 8
    /// Add ` [n]` to answer sentences drawn from passage n that cite nothing (see `AnswerShaper`).
    public var addCitations = true
    /// Use the request's `GenerationOptions.temperature`. Off by default: small local models answer
    /// best greedily (the prompt was tuned with greedy decoding), whatever remote APIs are sent.
    public var useRequestTemperature = false
    /// Completion prompts: each passage is cut to its sentences most relevant to the question,
    /// within this many characters (`TextTools.focusedPassages`; nil = whole passages).
    /// (Measured on Gemma 3 270M: 400 characters keep the answering sentences and halve the
    /// prompt, so the first text comes sooner and the model copies less noise.)
    public var focusCharacters: Int? = 400
    /// Completion prompts: at most this many passages (the best ranked).
    public var maxPassages: Int = 3
    /// Completion prompts: `SamplingParameters.copyBias` towards the passages' wording (0 = off).
    /// (4: the 270M model keeps to the passages once it quotes them; 8 makes it jump between them.)
    public var copyBias: Float = 4
    /// Completion prompts: the answer's first words come from the question's form
    /// (`PromptBuilder.answerOpening`) when it has a recognised one.
    public var openFromQuestion = true
    /// Completion prompts: the best-ranked passage is written last, closest to the answer. Off:
    /// measured, the 270M model quotes the first passage it reads when the question's form gives
    /// no opening, so the best one goes first.
    public var bestLast = false
    /// The answer ends after this many sentences (nil = no limit): small models that quote the
    /// passages otherwise go on quoting, into what no longer answers the question.
    public var maxSentences: Int? = 5

    public init(repeatGuard: Int = 8, addCitations: Bool = true, useRequestTemperature: Bool = false,
                focusCharacters: Int? = 400, maxPassages: Int = 3, copyBias: Float = 4, openFromQuestion: Bool = true,
                bestLast: Bool = false, maxSentences: Int? = 5) {
        self.repeatGuard = repeatGuard; self.addCitations = addCitations; self.useRequestTemperature = useRequestTemperature
        self.focusCharacters = focusCharacters; self.maxPassages = maxPassages; self.copyBias = copyBias
        self.openFromQuestion = openFromQuestion; self.bestLast = bestLast; self.maxSentences = maxSentences
    }
}

/// What stands between the model's raw text and the answer the client sees, piece by piece:
/// leading whitespace dropped; the first characters held until they show whether the model is
/// answering or writing one more passage (`[5] (file…)`, as base models do: then it stops); stop
/// strings cut; the primer (the answer's first words, written for the model) sent with the
/// model's first text; the answer shaped (`AnswerShaper`: citations, sentence cap); trailing
/// whitespace held until more text follows.
package struct LocalAnswerFilter {
    private var matcher: StopStringMatcher
    private var shaper: AnswerShaper
    private var leading = true
    /// The held opening (nil once decided); a primed answer needs no probe.
    private var probe: String?
    /// The model started writing a passage instead of an answer.
    package private(set) var isPassage = false
    private var pending: String
    private let isSecondChancePrimer: Bool
    private var heldSpace = ""

    package init(stopStrings: [String], passages: [String], question: String, primer: String?, isSecondChancePrimer: Bool,
         tuning: LocalAnswerTuning) {
        matcher = StopStringMatcher(stopStrings)
        shaper = AnswerShaper(passages: passages, addCitations: tuning.addCitations, question: question)
        shaper.maxSentences = tuning.maxSentences
        probe = primer == nil ? "" : nil
        pending = primer ?? ""
        self.isSecondChancePrimer = isSecondChancePrimer
    }

    /// Generation should stop: a stop string, the sentence cap, or a passage instead of an answer.
    package var shouldStop: Bool { matcher.stopped || shaper.stopped || isPassage }

    /// The text to send for the model's next piece (often empty while something is held).
    package mutating func feed(_ piece: String) -> String {
        held(shaper.feed(primed(matcher.feed(opening(lead(piece))))))
    }

    /// The rest, once the model is done (`tail`: the detokenizer's last bytes).
    package mutating func finish(_ tail: String) -> String {
        var rest = ""
        if !matcher.stopped && !isPassage { rest = matcher.feed(opening(lead(tail), final: true)) + matcher.flush() }
        return held(shaper.feed(primed(rest)) + shaper.finish())
    }

    /// The model's leading whitespace is dropped before the stop strings see the text.
    private mutating func lead(_ s: String) -> String {
        guard leading else { return s }
        let t = String(s.drop(while: { $0.isWhitespace }))
        if !t.isEmpty { leading = false }
        return t
    }

    private mutating func opening(_ s: String, final: Bool = false) -> String {
        guard var p = probe else { return s }
        p += s
        if p.count < 8 && !final { probe = p; return "" }
        probe = nil
        // "[5] (file…)" (instructions prompt) or "[5] Text" (compact prompt).
        if p.wholeMatch(of: #/\[\d+\]\s*(\(|\p{Lu}).*/#.dotMatchesNewlines()) != nil { isPassage = true; return "" }
        return p
    }

    /// The primer goes out with the model's first text (never alone).
    private mutating func primed(_ s: String) -> String {
        guard !pending.isEmpty, !s.isEmpty else { return s }
        let primer = pending
        pending = ""
        // An opening the model ends at once ("Les variantes de X" + ".") only restates the
        // question: it is left out, the answer starts with the model's next sentence.
        if s.first == ".", !isSecondChancePrimer {
            leading = true
            return lead(String(s.dropFirst()))
        }
        // The model's leading space was dropped (`lead`): put one back unless it goes on
        // with punctuation ("Le secret de X" + ", c'est …").
        if let c = s.first, ",.;:)!?…".contains(c) { return primer + s }
        return primer + " " + s
    }

    /// Trailing whitespace is held until more text follows (never sent at the end).
    private mutating func held(_ s: String) -> String {
        guard !s.isEmpty else { return "" }
        let body = String(s.reversed().drop(while: { $0.isWhitespace }).reversed())
        let tail = String(s.suffix(s.count - body.count))
        if body.isEmpty { heldSpace += tail; return "" }
        defer { heldSpace = tail }
        return heldSpace + body
    }
}

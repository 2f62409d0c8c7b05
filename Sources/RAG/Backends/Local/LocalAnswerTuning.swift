import Decoder

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
    /// Speculative decoding from the prompt's own text (`PromptLookup`): the same tokens, fewer passes.
    public var promptLookup: PromptLookup = .standard

    public init(repeatGuard: Int = 8, addCitations: Bool = true, useRequestTemperature: Bool = false,
                focusCharacters: Int? = 400, maxPassages: Int = 3, copyBias: Float = 4, openFromQuestion: Bool = true,
                bestLast: Bool = false, maxSentences: Int? = 5, promptLookup: PromptLookup = .standard) {
        self.repeatGuard = repeatGuard; self.addCitations = addCitations; self.useRequestTemperature = useRequestTemperature
        self.focusCharacters = focusCharacters; self.maxPassages = maxPassages; self.copyBias = copyBias
        self.openFromQuestion = openFromQuestion; self.bestLast = bestLast; self.maxSentences = maxSentences
        self.promptLookup = promptLookup
    }
}

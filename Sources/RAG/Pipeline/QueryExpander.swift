import Decoder
import Foundation
import Tensors
import Tokenizers

/// Writes, from a question alone, a short guess at its answer for retrieval to search with
/// (`IndexStore.expandedHybridSearch`): an instruction-tuned local model asked to answer in one
/// or two sentences naming the exact commands, options, files or terms. People ask in other words
/// than their documents ("éteindre la machine"); the guess often brings the documents' words
/// ("shutdown"). The guess is never shown or spoken, and retrieval keeps the question's own
/// rankings, so a wrong guess costs ranking weight, not the answer.
///
/// Greedy, so the same question gets the same guess. One guess at a time (the generator's lock).
public final class QueryExpander: Sendable {
    /// The instruction, general on purpose: it must not know the documents' subject.
    public static let instruction = "Réponds en une ou deux phrases courtes, en français, en nommant les commandes, "
        + "options, fichiers ou termes techniques exacts."

    /// Tokens of context: the instruction, the question and the guess.
    static let contextLength = 512

    /// The model file's name, for logs and `/health`.
    public let modelName: String
    /// The longest guess in tokens: the useful words come first, and every token is decode time.
    public let maxTokens: Int
    private let tokenizer: any TextTokenizer
    private let template: ChatTemplate
    private let generator: Generator
    private let stops: Set<Int>

    /// Loads `modelPath`, which must have a chat template the engine knows (an instruct model).
    /// Throws `RAGError.backend` naming the file otherwise.
    public init(modelPath: String, maxTokens: Int = 48, threads: Int? = nil) throws {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw RAGError.backend(name: "query expansion", message: "model file not found: \(modelPath)")
        }
        let model: LanguageModel
        do {
            model = try LanguageModel(path: modelPath, contextLength: Self.contextLength, maxBatch: 512, pool: .sized(threads))
            tokenizer = try GGUFTokenizerLoader.load(model.file)
        } catch {
            throw RAGError.backend(name: "query expansion", message: "cannot load \(modelPath): \(error)")
        }
        guard let template = ChatTemplate.from(model.file) else {
            throw RAGError.backend(name: "query expansion",
                                   message: "\(modelPath) has no chat template the engine knows: query expansion needs an instruct model")
        }
        self.template = template
        generator = Generator(model: model)
        stops = generator.stopTokens(Array(template.stopTokenIDs(tokenizer)))
        self.maxTokens = max(1, maxTokens)
        modelName = URL(fileURLWithPath: modelPath).lastPathComponent
    }

    /// `expand` on a thread of its own: a guess takes most of a second of CPU, and the server's
    /// tasks share a pool of as many threads as cores, which a guess (or a question waiting for
    /// the model's lock) would hold meanwhile.
    public func guess(_ question: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in continuation.resume(with: Result { try self.expand(question) }) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// The guessed answer to `question` (plain text, possibly empty). Blocking: see `guess`.
    public func expand(_ question: String) throws -> String {
        // A question too long for the context is cut (its start says what it asks).
        var text = question
        var prompt = template.encode([.system(Self.instruction), .user(text)], tokenizer: tokenizer)
        let overflow = prompt.count + maxTokens - generator.model.maxContext
        if overflow > 0 {
            let tokens = tokenizer.tokenize(text, addBOS: false, parseSpecial: false)
            // A few tokens to spare: the cut text may tokenize a little differently.
            text = tokenizer.decode(Array(tokens.prefix(max(0, tokens.count - overflow - 8))))
            prompt = template.encode([.system(Self.instruction), .user(text)], tokenizer: tokenizer)
        }
        var tokens: [Int32] = []
        // Prompt-lookup drafts (the guess repeats the question's words) give the same tokens
        // sooner: dev-fr's 138 guesses 0.69–0.70 → 0.63–0.64 s each (BENCHMARKS.md).
        _ = try generator.run(prompt: prompt.map(Int.init), maxTokens: maxTokens, sampling: .greedy, stops: stops,
                              lookup: .standard) { tokens.append(Int32($0)) }
        return tokenizer.decode(tokens).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

import ArgumentParser
import Decoder
import Encoder
import Foundation
import Index
import RAG
import Tensors
import Tokenizers

/// `ragchat generate --model FILE [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--chat] "prompt"`
/// streams the continuation to stdout, then prints load, prefill and decode figures to stderr.
/// With `--rag`, the argument is a question answered from the index by the local backend.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with a local GGUF language model (streams to stdout, speed to stderr)."
    )

    @Argument(help: "The prompt (with --rag: the question).")
    var prompt: String

    @Option(help: "GGUF model file.")
    var model: String

    @Option(help: "Most tokens to generate.")
    var maxTokens = 128

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0

    @Option(help: "Top-k sampling (0 = 256).")
    var topK = 40

    @Option(help: "Top-p (nucleus) sampling (1 = off).")
    var topP: Float = 0.95

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1

    @Flag(help: "Wrap the prompt as a user turn in the model's chat format (tokenizer.chat_template).")
    var chat = false

    @Option(help: "Chat format when the file has none or to override it: chatml, gemma, llama3, mistral.")
    var chatFormat: String?

    @Option(help: "Context length (default: the model's, capped at 4096).")
    var context: Int?

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Stop when the output repeats an n-gram three times.")
    var loopGuard = false

    @Flag(help: "Answer the prompt as a question from the index's passages, through the local backend.")
    var rag = false

    @Option(name: .customLong("index"), help: "With --rag: the SQLite index.")
    var indexPath = Defaults.indexPath

    @Option(name: [.customShort("k"), .customLong("top")], help: "With --rag: passages retrieved.")
    var k = 4

    @Option(help: "With --rag: retrieval mode (hybrid, dense, bm25), as `ragchat search`.")
    var mode: SearchMode = .hybrid

    @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: "With --rag: " + Defaults.encoderHelp))
    var encoderDirectory = Defaults.encoderDirectory

    @Option(help: "With --rag: prompt style: chat (the model's template), or for base models instructions, one-shot, document.")
    var promptStyle: String?

    @Option(name: .customLong("then"), help: "With --rag: more questions asked after the first one, model loaded (warm figures).")
    var moreQuestions: [String] = []

    @Flag(help: "With --rag: print the prompt to stderr first.")
    var showPrompt = false

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        if let c = chatFormat, ChatFamily(rawValue: c) == nil {
            throw ValidationError("unknown --chat-format '\(c)' (chatml, gemma, llama3, mistral)")
        }
        if let s = promptStyle, s != "chat", PromptBuilder.CompletionStyle(rawValue: s) == nil {
            throw ValidationError("unknown --prompt-style '\(s)' (chat, instructions, one-shot, document)")
        }
    }

    static func fail(_ message: String) -> ExitCode {
        Terminal.err("ragchat generate: \(message)\n")
        return ExitCode.failure
    }

    func run() async throws {
        guard FileManager.default.fileExists(atPath: model) else { throw Self.fail("model file not found: \(model)") }
        if rag { return try await runRAG() }
        let t0 = MonotonicClock.now()
        let lm: LanguageModel
        let tokenizer: any TextTokenizer
        do {
            let pool = threads.map { ThreadPool(threads: max(1, $0)) } ?? .shared
            lm = try LanguageModel(path: model, contextLength: context, maxBatch: 512, pool: pool)
            tokenizer = try GGUFTokenizerLoader.load(lm.file)
        } catch {
            throw Self.fail("\(error)")
        }
        let loadSeconds = MonotonicClock.seconds(since: t0)
        let generator = Generator(model: lm)
        var stops = Set(tokenizer.endOfGenerationIDs.map(Int.init))
        if let e = lm.config.eosTokenID { stops.insert(e) }
        let ids: [Int32]
        if chat || chatFormat != nil {
            guard let template = chatFormat.flatMap(ChatFamily.init(rawValue:)).map({ ChatTemplate(family: $0) })
                    ?? ChatTemplate.from(lm.file) else {
                throw Self.fail("\(model) has no recognised chat template (tokenizer.chat_template); pass --chat-format")
            }
            ids = template.encode([.user(prompt)], tokenizer: tokenizer)
            stops.formUnion(template.stopTokenIDs(tokenizer))
        } else {
            ids = tokenizer.tokenize(prompt, addBOS: true, parseSpecial: true)
        }
        let budget = lm.maxContext - ids.count
        guard budget > 0 else { throw Self.fail("the prompt has \(ids.count) tokens, the context holds \(lm.maxContext)") }
        let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP,
                                          repetitionPenalty: repeatPenalty, seed: seed)
        var detok = tokenizer.makeStreamingDetokenizer()
        var stats: GenerationStats?
        do {
            for try await event in generator.generate(prompt: ids.map(Int.init), maxTokens: min(maxTokens, budget),
                                                      sampling: sampling, stopTokens: stops, repeatGuard: loopGuard ? 8 : 0) {
                switch event {
                case .token(let id): Terminal.out(detok.append(Int32(id)))
                case .finished(let s): stats = s
                }
            }
        } catch {
            throw Self.fail("\(error)")
        }
        Terminal.out(detok.flush() + "\n")
        Terminal.err(String(format: "load: %.3f s\n", loadSeconds))
        if let s = stats { Self.printStats(s) }
    }

    static func printStats(_ s: GenerationStats) {
        Terminal.err(String(format: "prefill: %d tokens, %.1f tok/s\n", s.evaluatedPromptTokens, s.prefillTokensPerSecond))
        Terminal.err(String(format: "decode: %d tokens, %.1f tok/s", s.generatedTokens, s.decodeTokensPerSecond)
                     + " (stop: \(s.stopReason))\n")
    }

    /// `--rag`: retrieve `k` passages (BM25) and answer through `LocalBackend`, reporting time to first text.
    func runRAG() async throws {
        let t0 = MonotonicClock.now()
        var promptMode: LocalPromptMode? = nil
        if let f = chatFormat.flatMap(ChatFamily.init(rawValue:)) { promptMode = .chat(ChatTemplate(family: f)) }
        if let s = promptStyle.flatMap(PromptBuilder.CompletionStyle.init(rawValue:)) { promptMode = .completion(s) }
        let backend: LocalBackend
        do {
            backend = try LocalBackend(modelPath: model, contextLength: context, maxTokens: maxTokens, threads: threads,
                                       promptMode: promptMode)
        } catch {
            throw Self.fail("\(error)")
        }
        let loadSeconds = MonotonicClock.seconds(since: t0)
        let options = GenerationOptions(maxTokens: maxTokens, temperature: Double(temperature), timeout: 600)
        Terminal.err(String(format: "load: %.3f s\n", loadSeconds))
        let store: any IndexStore
        var encoder: SentenceEncoder?
        do {
            store = try openIndexStore(at: indexPath, create: false)
            if mode != .bm25 { encoder = try loadEncoder(encoderDirectory) }
        } catch {
            throw Self.fail("\(error)")
        }
        for question in [prompt] + moreQuestions {
            let passages: [SearchHit]
            let t = MonotonicClock.now()
            do {
                passages = try store.search(question, mode: mode, embedder: encoder, k: k)
            } catch {
                throw Self.fail("\(error)")
            }
            Terminal.err("retrieval (\(mode.rawValue)): " + String(format: "%.3f s\n", MonotonicClock.seconds(since: t)))
            let input = AnswerInput(question: question, passages: passages)
            if showPrompt {
                let fitted = try backend.fittedPrompt(input, answerTokens: maxTokens)
                Terminal.err(backend.tokenizer.decode(fitted.tokens, renderSpecial: true) + "\n----\n")
            }
            Terminal.err("model: \(backend.info); question: \(question); passages: \(passages.map { "\($0.file)\($0.page.map { " p.\($0)" } ?? "")" })\n")
            let start = MonotonicClock.now()
            var first: Double?
            let stats: GenerationStats?
            do {
                stats = try backend.generate(input, options: options) { piece in
                    if first == nil { first = MonotonicClock.seconds(since: start) }
                    Terminal.out(piece)
                }
            } catch {
                Terminal.err("ragchat generate: \(error)\n")
                continue
            }
            Terminal.out("\n")
            if let first { Terminal.err(String(format: "first text: %.3f s after the request\n", first)) }
            if let s = stats { Self.printStats(s) }
        }
    }
}

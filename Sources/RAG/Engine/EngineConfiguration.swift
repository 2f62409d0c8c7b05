import Foundation
import Speech

/// What the answering engine is made of: the index, the encoder, the backends and their models,
/// the voices, and what a question may ask for. HTTP settings live beside the server
/// (`ServerConfiguration`); `ragchat serve` reads both from its options and `RAGCHAT_*`.
public struct EngineConfiguration: Sendable {
    /// SQLite index built by `ragchat ingest`.
    public var indexPath = "models/index.sqlite"
    /// The folder the index is built from, whose documents the server manages (`DocumentLibrary`:
    /// upload, delete, background indexing); nil: documents cannot be managed over HTTP.
    public var dataDirectory: String?
    /// Largest document upload, in bytes.
    public var maxUploadBytes = 50 * 1024 * 1024
    /// The sentence encoder: an E5S1 file (multilingual-e5-small, the default) or a model folder
    /// (all-MiniLM-L6-v2); query embeddings for hybrid search. A missing one means keyword (BM25)
    /// search only.
    public var encoderPath = "models/encoder/multilingual-e5-small/e5-small-q4.bin"
    /// Backend order. By default the remote API when one is configured, else the extractive
    /// answer: on the French development set the quotations are right more often than any local
    /// model that answers within the latency budget on 2 cores (see BENCHMARKS.md).
    public var backends: [BackendKind] = [.remote, .extractive]
    /// GGUF language model of the `local` backend (any supported file: gemma3, llama, qwen2).
    public var modelPath = "models/decoder/gemma-3-270m-q4_k_m.gguf"
    /// Context length for the local model (nil: the file's own, capped at 4,096).
    public var contextLength: Int?
    /// An instruct GGUF model that writes a guess at each covered question's answer for retrieval
    /// to search with as well (`QueryExpander`); nil: the question alone is searched.
    /// By default Qwen2.5-Coder 0.5B Instruct: with the extractive answer, on the three French sets
    /// (`ragchat bench answers --set dev-fr|man-fr|apple-fr --backends extractive`, correctly
    /// cited) 68 / 19 / 30 without a guess, 73 / 21 / 31 with it, no question class worse, for
    /// about 0.7 s more before the first audio (p50 0.2 → 0.9–1.0 s on 2 cores); the 1.5B's
    /// guesses take twice as long (BENCHMARKS.md). The default file missing is no fault (the
    /// question alone is searched); a file named otherwise that does not load is reported.
    public var expansionModelPath: String? = EngineConfiguration.defaultExpansionModelPath
    public static let defaultExpansionModelPath = "models/decoder/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    /// Longest local answer, in tokens.
    public var maxAnswerTokens = 256
    /// The OpenAI-compatible API of the `remote` backend (nil: no remote backend).
    public var remote: RemoteConfiguration?
    public var questionVoice = Voice.frenchMale.name
    public var answerVoice = Voice.frenchFemale.name
    /// Words per minute for both voices.
    public var speechRate = 175
    /// nil disables the on-disk audio cache.
    public var audioCacheDirectory: String? = "models/audio-cache"
    /// Passages per question when the request has no `top_k`.
    public var topK = 4
    /// Retrieval scores below this count as "not relevant" (nil: keep all hits).
    public var minScore: Double?
    /// What a request may ask for (question length, `top_k`, history).
    public var limits = RequestLimits()
    /// Seconds one answer may take (generation deadline).
    public var answerTimeout: Double = 120

    public init() {}

    /// The speech settings these voices and the cache folder make.
    public var speech: SpeechConfiguration {
        SpeechConfiguration(questionVoice: Voice(name: questionVoice, rate: speechRate),
                            answerVoice: Voice(name: answerVoice, rate: speechRate),
                            cacheDirectory: audioCacheDirectory.map { URL(fileURLWithPath: $0) })
    }

    /// The pipeline settings (top_k, min score, limits, generation deadline).
    public var pipeline: PipelineConfiguration {
        var p = PipelineConfiguration(topK: topK, minScore: minScore, generation: GenerationOptions(timeout: answerTimeout))
        p.limits = limits
        return p
    }
}

/// What loading gives the server: the engine, and the configured parts that failed to load (a
/// backend, the encoder), each with its reason. The engine answers without them; `/health`
/// reports "degraded" with these reasons.
public struct LoadedEngine: Sendable {
    public var engine: any ChatEngine
    public var problems: [String]
    /// The documents of the data directory, when one is configured.
    public var library: DocumentLibrary?
    public init(_ engine: any ChatEngine, problems: [String] = [], library: DocumentLibrary? = nil) {
        self.engine = engine
        self.problems = problems
        self.library = library
    }
}

import Foundation
import RAG
import Speech

/// Everything `ragchat serve` needs; from flags and `RAGCHAT_*` environment variables
/// (flags win). Defaults: 127.0.0.1:8080, index `models/index.sqlite`, web root `web`.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    public var indexPath: String = "models/index.sqlite"
    /// Folder of the chat page and its assets (only files below it are served).
    public var webRoot: String = "web"
    public var questionVoice: String = Voice.frenchMale.name
    public var answerVoice: String = Voice.frenchFemale.name
    /// Words per minute for both voices.
    public var speechRate: Int = 175
    /// nil disables the on-disk audio cache.
    public var audioCacheDirectory: String? = "models/audio-cache"
    /// Backend order, e.g. `[.remote, .local, .extractive]`. By default the remote API when one is
    /// configured, else the extractive answer: on the French development set the quotations are
    /// right more often than any local model that answers within the latency budget on 2 cores
    /// (see BENCHMARKS.md); `--model FILE` (without `--backends`) adds the local model before them.
    public var backends: [BackendKind] = [.remote, .extractive]
    /// Passages per question when the request has no `top_k`.
    public var topK: Int = 4
    /// Retrieval scores below this count as "not relevant" (nil: keep all hits).
    public var minScore: Double?
    /// Generations running at once, and waiting; beyond that → 503 with Retry-After.
    public var maxConcurrent: Int = 2
    public var maxWaiting: Int = 8
    /// Seconds a request may wait for a generation slot.
    public var queueTimeout: Double = 30
    /// Seconds one `/chat` may take end to end (→ 504).
    public var requestTimeout: Double = 120
    /// Seconds a connection may stay idle (no request in progress, nothing received), or a
    /// client may leave a response unread, before the connection is closed (0: no limit).
    public var idleTimeout: Double = 60
    /// Seconds from the first byte of a request to the end of its head (request line and
    /// headers) before the connection is closed (0: no limit).
    public var headerTimeout: Double = 10
    /// Seconds from the end of a request's head to the end of its body before the connection is
    /// closed (0: no limit).
    public var bodyTimeout: Double = 30
    /// Request bodies above this → 413.
    public var maxBodyBytes: Int = 64 * 1024
    /// Questions above this many characters → 413.
    public var maxQuestionLength: Int = 4_000
    /// Seconds advertised in `Retry-After` when busy or loading.
    public var retryAfterSeconds: Int = 2
    /// The sentence encoder: an E5S1 file (multilingual-e5-small, the default) or a model folder
    /// (all-MiniLM-L6-v2); query embeddings for hybrid search. A missing one means keyword (BM25)
    /// search only.
    public var encoderDirectory: String = "models/encoder/multilingual-e5-small/e5-small-q4.bin"
    /// GGUF language model of the `local` backend (any supported file: gemma3, llama, qwen2).
    public var modelPath: String = "models/decoder/gemma-3-270m-q4_k_m.gguf"
    /// Context length for the local model (nil: the file's own, capped at 4,096).
    public var contextLength: Int?
    /// Longest local answer, in tokens.
    public var maxAnswerTokens: Int = 256
    /// OpenAI-compatible API for the `remote` backend (nil: no remote backend).
    public var apiBase: String?
    /// API key (environment only: `RAGCHAT_API_KEY`, never a flag, so it stays out of `ps`).
    public var apiKey: String?
    public var apiModel: String?
    /// Seconds per remote request.
    public var apiTimeout: Double = 60

    public init() {}

    /// Reads `RAGCHAT_HOST`, `RAGCHAT_PORT`, `RAGCHAT_INDEX`, `RAGCHAT_WEB`, `RAGCHAT_QUESTION_VOICE`,
    /// `RAGCHAT_ANSWER_VOICE`, `RAGCHAT_SPEECH_RATE`, `RAGCHAT_AUDIO_CACHE` (empty: off), `RAGCHAT_BACKENDS`,
    /// `RAGCHAT_TOP_K`, `RAGCHAT_MIN_SCORE`, `RAGCHAT_MAX_CONCURRENT`, `RAGCHAT_MAX_QUEUE`,
    /// `RAGCHAT_QUEUE_TIMEOUT`, `RAGCHAT_REQUEST_TIMEOUT`, `RAGCHAT_IDLE_TIMEOUT`, `RAGCHAT_HEADER_TIMEOUT`,
    /// `RAGCHAT_BODY_TIMEOUT`, `RAGCHAT_ENCODER`, `RAGCHAT_API_BASE`,
    /// `RAGCHAT_API_MODEL`, `RAGCHAT_API_TIMEOUT` (and `RAGCHAT_API_KEY`), `RAGCHAT_MODEL`, `RAGCHAT_CONTEXT`,
    /// `RAGCHAT_MAX_TOKENS`, then the same as flags
    /// (`--host`, `--port`, `--index`, `--web`, `--question-voice`, `--answer-voice`, `--speech-rate`,
    /// `--audio-cache`, `--backends`, `--top-k`, `--min-score`, `--max-concurrent`, `--max-queue`,
    /// `--queue-timeout`, `--request-timeout`, `--idle-timeout`, `--header-timeout`, `--body-timeout`,
    /// `--encoder`, `--api-base`, `--api-model`,
    /// `--api-timeout`, `--model`, `--context`, `--max-tokens`), as `--flag value` or `--flag=value`.
    /// Throws `APIError` (code `bad_configuration`) naming the bad setting.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, arguments: [String] = []) throws {
        var settings: [String: String] = [:]
        let keys = ["host", "port", "index", "web", "question-voice", "answer-voice", "speech-rate", "audio-cache",
                    "backends", "top-k", "min-score", "max-concurrent", "max-queue", "queue-timeout", "request-timeout",
                    "idle-timeout", "header-timeout", "body-timeout", "encoder", "api-base", "api-model", "api-timeout", "model", "context", "max-tokens"]
        for key in keys {
            let env = "RAGCHAT_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
            if let v = environment[env] { settings[key] = v }
        }
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            guard arg.hasPrefix("--") else { throw Self.bad("unexpected argument '\(arg)'") }
            var name = String(arg.dropFirst(2))
            var value: String
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...]); name = String(name[..<eq])
            } else {
                guard i + 1 < arguments.count else { throw Self.bad("--\(name) needs a value") }
                value = arguments[i + 1]; i += 1
            }
            guard keys.contains(name) else { throw Self.bad("unknown option --\(name)") }
            settings[name] = value
            i += 1
        }
        func int(_ k: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let s = settings[k] else { return nil }
            guard let v = Int(s), range.contains(v) else { throw Self.bad("\(k) must be an integer in \(range), got '\(s)'") }
            return v
        }
        func double(_ k: String) throws -> Double? {
            guard let s = settings[k] else { return nil }
            guard let v = Double(s), v >= 0 else { throw Self.bad("\(k) must be a non-negative number, got '\(s)'") }
            return v
        }
        if let v = settings["host"], !v.isEmpty { host = v }
        if let v = try int("port", 0...65_535) { port = v }
        if let v = settings["index"], !v.isEmpty { indexPath = v }
        if let v = settings["web"], !v.isEmpty { webRoot = v }
        if let v = settings["question-voice"], !v.isEmpty { questionVoice = v }
        if let v = settings["answer-voice"], !v.isEmpty { answerVoice = v }
        if let v = try int("speech-rate", 80...450) { speechRate = v }
        if let v = settings["audio-cache"] { audioCacheDirectory = v.isEmpty ? nil : v }
        if let v = settings["backends"] {
            do { backends = try BackendKind.parseList(v) } catch { throw Self.bad("\(error)") }
        }
        if let v = try int("top-k", 1...50) { topK = v }
        if let v = try double("min-score") { minScore = v }
        if let v = try int("max-concurrent", 1...64) { maxConcurrent = v }
        if let v = try int("max-queue", 0...10_000) { maxWaiting = v }
        if let v = try double("queue-timeout") { queueTimeout = v }
        if let v = try double("request-timeout") { requestTimeout = v }
        if let v = try double("idle-timeout") { idleTimeout = v }
        if let v = try double("header-timeout") { headerTimeout = v }
        if let v = try double("body-timeout") { bodyTimeout = v }
        if let v = settings["encoder"], !v.isEmpty { encoderDirectory = v }
        if let v = settings["model"], !v.isEmpty {
            modelPath = v
            // Naming a model asks for it, unless the backends say otherwise.
            if settings["backends"] == nil { backends = [.remote, .local, .extractive] }
        }
        if let v = try int("context", 64...131_072) { contextLength = v }
        if let v = try int("max-tokens", 1...4_096) { maxAnswerTokens = v }
        if let v = settings["api-base"], !v.isEmpty { apiBase = v }
        if let v = settings["api-model"], !v.isEmpty { apiModel = v }
        if let v = try double("api-timeout") { apiTimeout = v }
        if let v = environment["RAGCHAT_API_KEY"], !v.isEmpty { apiKey = v }
    }

    /// The remote backend's settings, nil when no API base is configured.
    public var remote: RemoteConfiguration? {
        guard let apiBase else { return nil }
        return RemoteConfiguration(baseURL: apiBase, apiKey: apiKey, model: apiModel, timeout: apiTimeout)
    }

    static func bad(_ m: String) -> APIError { APIError(.internalServerError, code: "bad_configuration", message: m) }

    /// The speech settings these voices and the cache folder make.
    public var speech: SpeechConfiguration {
        SpeechConfiguration(questionVoice: Voice(name: questionVoice, rate: speechRate),
                            answerVoice: Voice(name: answerVoice, rate: speechRate),
                            cacheDirectory: audioCacheDirectory.map { URL(fileURLWithPath: $0) })
    }

    /// The connection timeouts (0 means none).
    public var connectionTimeouts: ConnectionTimeouts {
        ConnectionTimeouts(idle: idleTimeout > 0 ? idleTimeout : nil, header: headerTimeout > 0 ? headerTimeout : nil,
                           body: bodyTimeout > 0 ? bodyTimeout : nil)
    }

    /// The pipeline settings (top_k, min score, question length, generation timeout).
    public var pipeline: PipelineConfiguration {
        PipelineConfiguration(topK: topK, minScore: minScore, maxQuestionLength: maxQuestionLength,
                              generation: GenerationOptions(timeout: requestTimeout))
    }

    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/" }
}

import ArgumentParser
import Encoder
import Foundation
import Index
import Logging
import RAG
import Server
import Tensors

/// `ragchat serve [--host H] [--port P] [--index FILE] …` — the chat server and its page.
///
/// Every option is also a `RAGCHAT_*` environment variable (options win), read once by
/// `settings(environment:)` into the HTTP settings (`ServerConfiguration`) and the engine's
/// (`EngineConfiguration`, built by `EngineLoader`). The server listens at once (`/health` answers 503 while loading), then
/// loads the index, the sentence encoder (query embeddings for hybrid search when the index holds
/// vectors of that model; keyword search otherwise) and the voices, once.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the chat page and the HTTP API (POST /chat, /chat/stream, /health, /metrics).",
        discussion: """
            Every option can also be set as an environment variable: --host is RAGCHAT_HOST, --max-queue \
            is RAGCHAT_MAX_QUEUE, and so on. The remote OpenAI-compatible backend is configured by \
            --api-base (RAGCHAT_API_BASE), --api-model and RAGCHAT_API_KEY (environment only). \
            Clients must send `Authorization: Bearer <key>` when a server key is set in RAGCHAT_SERVER_KEY, \
            or in a file named by RAGCHAT_SERVER_KEY_FILE (never as an option: command lines are visible to \
            every user of the machine). \
            Backends are tried in the order of --backends (default remote,extractive; remote,local,extractive when --model is given); an \
            unavailable one is skipped. SIGINT or SIGTERM stop the server gracefully.
            """
    )

    @Option(help: "Address to listen on (RAGCHAT_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port (RAGCHAT_PORT, default 8080; 0 picks a free port).") var port: Int?
    @Option(help: "Index built by `ragchat ingest`: a SQLite file or postgres://user[:password]@host[:port]/database (RAGCHAT_INDEX, default models/index.sqlite).") var index: String?
    @Option(help: "Folder of the chat page (RAGCHAT_WEB, default web).") var web: String?
    @Option(help: "Folder of the documents the index is built from, managed by the /documents routes (RAGCHAT_DATA, default data; empty: no document management).") var data: String?
    @Option(help: "Largest document upload in MB (RAGCHAT_MAX_UPLOAD_MB, default 50).") var maxUploadMb: Int?
    @Option(help: "Sentence encoder: E5S1 .bin file or model folder (RAGCHAT_ENCODER, default models/encoder/multilingual-e5-small/e5-small-q4.bin).") var encoder: String?
    @Option(help: "Answering backends in order (RAGCHAT_BACKENDS, default remote,extractive; with --model: remote,local,extractive).") var backends: String?
    @Option(help: "GGUF language model of the local backend (RAGCHAT_MODEL; naming one adds the local backend; default file models/decoder/gemma-3-270m-q4_k_m.gguf with --backends …local…).") var model: String?
    @Option(help: "Context length of the local model in tokens (RAGCHAT_CONTEXT, default the file's, at most 4096).") var context: Int?
    @Option(help: "Instruct GGUF model that guesses each question's answer for retrieval to search with as well (RAGCHAT_EXPANSION_MODEL, default models/decoder/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf when present; empty: none).") var expansionModel: String?
    @Option(help: "Longest local answer in tokens (RAGCHAT_MAX_TOKENS, default 256).") var maxTokens: Int?
    @Option(help: "OpenAI-compatible API base URL for the remote backend (RAGCHAT_API_BASE).") var apiBase: String?
    @Option(help: "Model name sent to the API (RAGCHAT_API_MODEL).") var apiModel: String?
    @Option(help: "Seconds per API request (RAGCHAT_API_TIMEOUT, default 60).") var apiTimeout: Double?
    @Option(help: "espeak-ng voice of the question (RAGCHAT_QUESTION_VOICE, default fr+m3).") var questionVoice: String?
    @Option(help: "espeak-ng voice of the answer (RAGCHAT_ANSWER_VOICE, default fr+f3).") var answerVoice: String?
    @Option(help: "Speech rate in words per minute (RAGCHAT_SPEECH_RATE, default 175).") var speechRate: Int?
    @Option(help: "On-disk audio cache folder, empty to disable (RAGCHAT_AUDIO_CACHE, default models/audio-cache).") var audioCache: String?
    @Option(help: "Passages per question (RAGCHAT_TOP_K, default 4).") var topK: Int?
    @Option(help: "Minimum retrieval score of a passage (RAGCHAT_MIN_SCORE).") var minScore: Double?
    @Option(help: "Answers generated at once (RAGCHAT_MAX_CONCURRENT, default 2).") var maxConcurrent: Int?
    @Option(help: "Requests waiting for a slot before 503 (RAGCHAT_MAX_QUEUE, default 8).") var maxQueue: Int?
    @Option(help: "Seconds a request may wait for a slot (RAGCHAT_QUEUE_TIMEOUT, default 30).") var queueTimeout: Double?
    @Option(help: "Seconds one answer may take (RAGCHAT_REQUEST_TIMEOUT, default 120).") var requestTimeout: Double?
    @Option(help: "Seconds a connection may stay idle, or leave a response unread, before it is closed (RAGCHAT_IDLE_TIMEOUT, default 60; 0: no limit).") var idleTimeout: Double?
    @Option(help: "Seconds from a request's first byte to the end of its headers (RAGCHAT_HEADER_TIMEOUT, default 10; 0: no limit).") var headerTimeout: Double?
    @Option(help: "Seconds from the end of a request's headers to the end of its body (RAGCHAT_BODY_TIMEOUT, default 30; 0: no limit).") var bodyTimeout: Double?
    @Option(help: "Host names accepted in the Host header besides loopback names and the bound address, comma-separated; * for any (RAGCHAT_ALLOWED_HOSTS).") var allowedHosts: String?
    @Option(help: "Origins whose web pages may call the API, comma-separated, e.g. https://app.example (RAGCHAT_CORS_ORIGINS, default none).") var corsOrigins: String?
    @Option(help: "Questions per minute per client address on /chat and /chat/stream, 0 for no limit (RAGCHAT_RATE_LIMIT, default 60).") var rateLimit: Int?
    @Option(help: "Questions a client may send at once before the rate applies (RAGCHAT_RATE_BURST, default 20).") var rateBurst: Int?
    @Flag(help: "Print the settings in effect (options over environment over defaults) and exit.") var printSettings = false
    @Flag(help: "Log debug messages.") var verbose = false

    /// The HTTP and engine settings: each option, else its `RAGCHAT_*` variable, else the default.
    /// Throws `SettingError` naming the option (and the variable when the value came from it).
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> (server: ServerConfiguration, engine: EngineConfiguration) {
        let s = SettingSource(environment: environment)
        let seconds = 0.0...Double.greatestFiniteMagnitude
        var server = ServerConfiguration()
        server.host = try s.text("host", host) ?? server.host
        server.port = try s.value("port", port, in: 0...65_535) ?? server.port
        server.webRoot = try s.text("web", web) ?? server.webRoot
        server.maxConcurrent = try s.value("max-concurrent", maxConcurrent, in: 1...64) ?? server.maxConcurrent
        server.maxWaiting = try s.value("max-queue", maxQueue, in: 0...10_000) ?? server.maxWaiting
        server.queueTimeout = try s.value("queue-timeout", queueTimeout, in: seconds) ?? server.queueTimeout
        server.requestTimeout = try s.value("request-timeout", requestTimeout, in: seconds) ?? server.requestTimeout
        server.idleTimeout = try s.value("idle-timeout", idleTimeout, in: seconds) ?? server.idleTimeout
        server.headerTimeout = try s.value("header-timeout", headerTimeout, in: seconds) ?? server.headerTimeout
        server.bodyTimeout = try s.value("body-timeout", bodyTimeout, in: seconds) ?? server.bodyTimeout
        server.allowedHosts = try s.list("allowed-hosts", allowedHosts) ?? server.allowedHosts
        server.corsOrigins = try s.list("cors-origins", corsOrigins) ?? server.corsOrigins
        for origin in server.corsOrigins where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
            throw SettingError(option: "cors-origins", message: "'\(origin)' is not an origin (scheme://host[:port])")
        }
        server.rateLimit.perMinute = try s.value("rate-limit", rateLimit, in: 0...1_000_000) ?? server.rateLimit.perMinute
        server.rateLimit.burst = try s.value("rate-burst", rateBurst, in: 1...1_000_000) ?? server.rateLimit.burst
        server.serverKey = try Self.serverKey(environment: environment)

        var engine = EngineConfiguration()
        engine.indexPath = try s.text("index", index) ?? engine.indexPath
        let folder = try s.value("data", data) ?? "data"
        engine.dataDirectory = folder.isEmpty ? nil : folder
        engine.maxUploadBytes = (try s.value("max-upload-mb", maxUploadMb, in: 1...4_096) ?? 50) * 1024 * 1024
        engine.encoderPath = try s.text("encoder", encoder) ?? engine.encoderPath
        let order = try s.text("backends", backends)
        if let order {
            do { engine.backends = try BackendKind.parseList(order) } catch {
                throw SettingError(option: "backends", message: "\(error)")
            }
        }
        if let path = try s.text("model", model) {
            engine.modelPath = path
            // Naming a model asks for it, unless the backends say otherwise.
            if order == nil { engine.backends = [.remote, .local, .extractive] }
        }
        engine.contextLength = try s.value("context", context, in: 64...131_072) ?? engine.contextLength
        // Empty: no expansion; absent: the default model.
        if let path = try s.value("expansion-model", expansionModel) { engine.expansionModelPath = path.isEmpty ? nil : path }
        engine.maxAnswerTokens = try s.value("max-tokens", maxTokens, in: 1...4_096) ?? engine.maxAnswerTokens
        if let base = try s.text("api-base", apiBase) {
            engine.remote = RemoteConfiguration(baseURL: base, apiKey: environment["RAGCHAT_API_KEY"],
                                                model: try s.text("api-model", apiModel),
                                                timeout: try s.value("api-timeout", apiTimeout, in: seconds) ?? 60)
        }
        engine.questionVoice = try s.text("question-voice", questionVoice) ?? engine.questionVoice
        engine.answerVoice = try s.text("answer-voice", answerVoice) ?? engine.answerVoice
        engine.speechRate = try s.value("speech-rate", speechRate, in: 80...450) ?? engine.speechRate
        if let cache = try s.value("audio-cache", audioCache) { engine.audioCacheDirectory = cache.isEmpty ? nil : cache }
        engine.topK = try s.value("top-k", topK, in: 1...engine.limits.maxTopK) ?? engine.topK
        engine.minScore = try s.value("min-score", minScore, in: 0...Double.greatestFiniteMagnitude) ?? engine.minScore
        engine.answerTimeout = server.requestTimeout
        return (server, engine)
    }

    /// `RAGCHAT_SERVER_KEY`, else the first line of the file `RAGCHAT_SERVER_KEY_FILE` names.
    static func serverKey(environment: [String: String]) throws -> ServerKey? {
        var text: String?
        var origin = "RAGCHAT_SERVER_KEY"
        if let key = environment["RAGCHAT_SERVER_KEY"], !key.isEmpty {
            text = key
        } else if let path = environment["RAGCHAT_SERVER_KEY_FILE"], !path.isEmpty {
            origin = "RAGCHAT_SERVER_KEY_FILE (\(path))"
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw SettingError(option: "server-key", message: "cannot read the key file \(path) named by RAGCHAT_SERVER_KEY_FILE")
            }
            text = String(decoding: contents, as: UTF8.self).split(whereSeparator: \.isNewline).first
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard let text else { return nil }
        do { return try ServerKey(text) } catch {
            throw SettingError(option: "server-key", message: "\(error) (from \(origin))")
        }
    }

    func run() async throws {
        let server: ServerConfiguration, engine: EngineConfiguration
        do {
            (server, engine) = try settings()
        } catch let e as SettingError {
            Terminal.err("ragchat serve: \(e)\n")
            throw ExitCode(64)
        }
        if printSettings {
            var shown = engine
            if shown.remote?.apiKey != nil { shown.remote?.apiKey = "(set)" }
            if let remote = shown.remote { shown.remote?.baseURL = RemoteConfiguration.redacted(remote.baseURL) }
            Terminal.out("\(server)\n\(shown)\n")
            return
        }
        var log = Logger(label: "ragchat")
        log.logLevel = verbose ? .debug : .info
        let logger = log

        if !server.isLoopbackOnly && server.serverKey == nil {
            Terminal.err("""
                ragchat serve: warning: listening on \(server.host) without a server key: anyone who can reach this \
                port can use the model. Set RAGCHAT_SERVER_KEY (or RAGCHAT_SERVER_KEY_FILE) to require one.

                """)
        }

        // Checked before listening: a missing index or page is a setup mistake, not a load failure.
        // (A PostgreSQL index is checked when the engine connects: a wrong address or password is named then.)
        guard PostgresAddress.isPostgres(engine.indexPath) || FileManager.default.fileExists(atPath: engine.indexPath) else {
            Terminal.err("""
                ragchat serve: no index at \(engine.indexPath).
                Build it first:  ragchat ingest --data data --index \(engine.indexPath)
                (or simply `make run`, which ingests data/ and starts the server).

                """)
            throw ExitCode.failure
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: server.webRoot, isDirectory: &isDirectory) || !isDirectory.boolValue {
            logger.warning("no web folder at \(server.webRoot): the chat page will not be served (set --web or RAGCHAT_WEB)")
        }

        do {
            try await runServer(configuration: server, logger: logger, exitOnLoadFailure: true) {
                try await EngineLoader.load(engine, logger: logger)
            }
        } catch let e as APIError where e.code == "port_in_use" {
            Terminal.err("ragchat serve: \(e.message)\n")
            throw ExitCode.failure
        } catch {
            Terminal.err("ragchat serve: \(error)\n")
            throw ExitCode.failure
        }
        Terminal.err("ragchat serve: stopped\n")
    }
}

/// Where a serve setting comes from when its option is not given: `RAGCHAT_<OPTION>` (upper
/// case, `-` as `_`: `--max-queue` is `RAGCHAT_MAX_QUEUE`), parsed like the option.
struct SettingSource {
    var environment: [String: String]

    static func variable(_ option: String) -> String {
        "RAGCHAT_" + option.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The option's value, else the variable's; nil when neither is set.
    func value<T: ExpressibleByArgument>(_ option: String, _ given: T?) throws -> T? {
        if let given { return given }
        let name = Self.variable(option)
        guard let raw = environment[name] else { return nil }
        guard let v = T(argument: raw) else {
            throw SettingError(option: option, message: "\(name)='\(raw)' is not a valid value")
        }
        return v
    }

    /// As `value`, and within `range`.
    func value<T: ExpressibleByArgument & Comparable>(_ option: String, _ given: T?, in range: ClosedRange<T>) throws -> T? {
        guard let v = try value(option, given) else { return nil }
        guard range.contains(v) else {
            let origin = given == nil ? " (from \(Self.variable(option)))" : ""
            throw SettingError(option: option, message: "must be between \(range.lowerBound) and \(range.upperBound), got \(v)\(origin)")
        }
        return v
    }

    /// A comma-separated list; empty items are dropped.
    func list(_ option: String, _ given: String?) throws -> [String]? {
        guard let v = try text(option, given) else { return nil }
        return v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A text setting; empty counts as not set.
    func text(_ option: String, _ given: String?) throws -> String? {
        guard let v = try value(option, given), !v.isEmpty else { return nil }
        return v
    }
}

/// A bad `ragchat serve` setting, reported at start-up with the option's name.
struct SettingError: Error, CustomStringConvertible {
    var option: String
    var message: String
    var description: String { "--\(option): \(message)" }
}

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
/// Every option is also a `RAGCHAT_*` environment variable (options win); both are read by
/// `ServerConfiguration`. The server listens at once (`/health` answers 503 while loading), then
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
            Backends are tried in the order of --backends (default remote,extractive; remote,local,extractive when --model is given); an \
            unavailable one is skipped. SIGINT or SIGTERM stop the server gracefully.
            """
    )

    @Option(help: "Address to listen on (RAGCHAT_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port (RAGCHAT_PORT, default 8080; 0 picks a free port).") var port: String?
    @Option(help: "SQLite index built by `ragchat ingest` (RAGCHAT_INDEX, default models/index.sqlite).") var index: String?
    @Option(help: "Folder of the chat page (RAGCHAT_WEB, default web).") var web: String?
    @Option(help: "Sentence encoder: E5S1 .bin file or model folder (RAGCHAT_ENCODER, default models/encoder/multilingual-e5-small/e5-small-q4.bin).") var encoder: String?
    @Option(help: "Answering backends in order (RAGCHAT_BACKENDS, default remote,extractive; with --model: remote,local,extractive).") var backends: String?
    @Option(help: "GGUF language model of the local backend (RAGCHAT_MODEL; naming one adds the local backend; default file models/decoder/gemma-3-270m-q4_k_m.gguf with --backends …local…).") var model: String?
    @Option(help: "Context length of the local model in tokens (RAGCHAT_CONTEXT, default the file's, at most 4096).") var context: String?
    @Option(help: "Longest local answer in tokens (RAGCHAT_MAX_TOKENS, default 256).") var maxTokens: String?
    @Option(help: "OpenAI-compatible API base URL for the remote backend (RAGCHAT_API_BASE).") var apiBase: String?
    @Option(help: "Model name sent to the API (RAGCHAT_API_MODEL).") var apiModel: String?
    @Option(help: "Seconds per API request (RAGCHAT_API_TIMEOUT, default 60).") var apiTimeout: String?
    @Option(help: "espeak-ng voice of the question (RAGCHAT_QUESTION_VOICE, default fr+m3).") var questionVoice: String?
    @Option(help: "espeak-ng voice of the answer (RAGCHAT_ANSWER_VOICE, default fr+f3).") var answerVoice: String?
    @Option(help: "Speech rate in words per minute (RAGCHAT_SPEECH_RATE, default 175).") var speechRate: String?
    @Option(help: "On-disk audio cache folder, empty to disable (RAGCHAT_AUDIO_CACHE, default models/audio-cache).") var audioCache: String?
    @Option(help: "Passages per question (RAGCHAT_TOP_K, default 4).") var topK: String?
    @Option(help: "Minimum retrieval score of a passage (RAGCHAT_MIN_SCORE).") var minScore: String?
    @Option(help: "Answers generated at once (RAGCHAT_MAX_CONCURRENT, default 2).") var maxConcurrent: String?
    @Option(help: "Requests waiting for a slot before 503 (RAGCHAT_MAX_QUEUE, default 8).") var maxQueue: String?
    @Option(help: "Seconds a request may wait for a slot (RAGCHAT_QUEUE_TIMEOUT, default 30).") var queueTimeout: String?
    @Option(help: "Seconds one answer may take (RAGCHAT_REQUEST_TIMEOUT, default 120).") var requestTimeout: String?
    @Option(help: "Seconds a connection may stay idle, or leave a response unread, before it is closed (RAGCHAT_IDLE_TIMEOUT, default 60; 0: no limit).") var idleTimeout: String?
    @Option(help: "Seconds from a request's first byte to the end of its headers (RAGCHAT_HEADER_TIMEOUT, default 10; 0: no limit).") var headerTimeout: String?
    @Option(help: "Seconds from the end of a request's headers to the end of its body (RAGCHAT_BODY_TIMEOUT, default 30; 0: no limit).") var bodyTimeout: String?
    @Flag(help: "Log debug messages.") var verbose = false

    /// The options as `--name value` pairs for `ServerConfiguration`.
    var arguments: [String] {
        let pairs: [(String, String?)] = [
            ("host", host), ("port", port), ("index", index), ("web", web), ("encoder", encoder),
            ("backends", backends), ("api-base", apiBase), ("api-model", apiModel), ("api-timeout", apiTimeout),
            ("question-voice", questionVoice), ("answer-voice", answerVoice), ("speech-rate", speechRate),
            ("audio-cache", audioCache), ("top-k", topK), ("min-score", minScore), ("max-concurrent", maxConcurrent),
            ("max-queue", maxQueue), ("queue-timeout", queueTimeout), ("request-timeout", requestTimeout),
            ("idle-timeout", idleTimeout), ("header-timeout", headerTimeout), ("body-timeout", bodyTimeout),
            ("model", model), ("context", context), ("max-tokens", maxTokens),
        ]
        return pairs.flatMap { name, value in value.map { ["--\(name)", $0] } ?? [] }
    }

    func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration(arguments: arguments)
        } catch let e as APIError {
            Terminal.err("ragchat serve: \(e.message)\n")
            throw ExitCode(64)
        }
        var log = Logger(label: "ragchat")
        log.logLevel = verbose ? .debug : .info
        let logger = log

        // Checked before listening: a missing index or page is a setup mistake, not a load failure.
        guard FileManager.default.fileExists(atPath: configuration.indexPath) else {
            Terminal.err("""
                ragchat serve: no index at \(configuration.indexPath).
                Build it first:  ragchat ingest --data data --index \(configuration.indexPath)
                (or simply `make run`, which ingests data/ and starts the server).

                """)
            throw ExitCode.failure
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: configuration.webRoot, isDirectory: &isDirectory) || !isDirectory.boolValue {
            logger.warning("no web folder at \(configuration.webRoot): the chat page will not be served (set --web or RAGCHAT_WEB)")
        }

        do {
            try await runServer(configuration: configuration, logger: logger, exitOnLoadFailure: true) {
                try await ServeEngine.load(configuration, logger: logger)
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

/// Loads what `serve` answers with: the index, the encoder, the retrieval function, the pipeline;
/// and what was configured but did not load (reported by `/health` as "degraded").
enum ServeEngine {
    static func load(_ configuration: ServerConfiguration, logger: Logger) async throws -> LoadedEngine {
        var problems: [String] = []
        let start = MonotonicClock.now()
        let store = try IndexStore.open(path: configuration.indexPath, create: false)
        let stats = try store.statistics()
        if stats.chunks == 0 {
            logger.warning("the index \(configuration.indexPath) holds no passage: every answer will say the documents do not cover it")
        }
        var info: [String: String] = [
            "index": configuration.indexPath,
            "documents": String(stats.documents),
            "chunks": String(stats.chunks),
        ]

        // The encoder: query embeddings for hybrid search, sentence similarity for extractive answers.
        var encoder: SentenceEncoder?
        let encoderURL = URL(fileURLWithPath: configuration.encoderDirectory)
        do {
            encoder = try SentenceEncoder(path: encoderURL)
        } catch {
            logger.warning("sentence encoder not loaded (\(error)); using keyword (BM25) search only")
            // A missing folder is a setup without vectors; a folder that does not load is a fault.
            if FileManager.default.fileExists(atPath: configuration.encoderDirectory) {
                problems.append("encoder \(configuration.encoderDirectory) failed to load (\(error)): keyword search only")
            }
        }

        // Hybrid search whenever the index holds vectors of this encoder (checked per question, so
        // an ingest run while the server is up is picked up); keyword search otherwise.
        // (The query embedding is CPU work: off the server's tasks.)
        // The relevance gate: when no passage is relevant, no passage is returned, and the pipeline
        // answers that the documents do not cover the question without calling a model.
        let gate = RelevanceGate.standard(forEncoder: encoder?.modelID)
        let search: @Sendable (String, Int) async throws -> [SearchHit] = { [encoder] query, k in
            let result = try await Task.detached { try store.search(query, mode: .hybrid, embedder: encoder, k: k, gate: gate) }.value
            guard result.covered else {
                logger.info("not covered by the documents (\(result.signals)): \(query.prefix(200))")
                return []
            }
            // Steps and lists run past one chunk: the best passage brings the rest of its section.
            return try store.answerPassages(for: query, hits: result.hits)
        }
        if let encoder, try store.hasVectors(modelID: encoder.modelID) {
            info["retrieval"] = "hybrid (BM25 + \(encoder.modelID))"
        } else {
            if let encoder, stats.vectors > 0 {
                logger.warning("the index vectors are from \(stats.encoderModelID ?? "another model"), not \(encoder.modelID): keyword search until `ragchat ingest` recomputes them")
            }
            info["retrieval"] = "keyword (BM25)"
        }
        info["encoder"] = encoder?.modelID ?? "none"
        var embed: (@Sendable ([String]) async throws -> [[Float]])?
        if let encoder {
            // The question (first) as a query, the candidate sentences as passages, as e5 was
            // trained to compare them.
            embed = { texts in
                try await Task.detached {
                    guard let question = texts.first else { return [] }
                    return [try encoder.embed(query: question)] + (try encoder.embed(Array(texts.dropFirst()), as: .passage))
                }.value
            }
        }

        // The local language model (Swift GGUF engine), loaded once; one generation at a time.
        var local: LocalBackend?
        if configuration.backends.contains(.local) {
            do {
                local = try LocalBackend(modelPath: configuration.modelPath, contextLength: configuration.contextLength,
                                         maxTokens: configuration.maxAnswerTokens)
                if let local {
                    info["model"] = local.info
                    if case .completion = local.promptMode {
                        logger.info("\(configuration.modelPath): no chat template the engine knows, so a completion-style prompt")
                    }
                }
            } catch {
                logger.warning("local backend not loaded: \(error)")
                problems.append("backend local failed to load \(configuration.modelPath): \(error)")
            }
        }

        let pipeline = makePipeline(configuration, retriever: IndexRetriever(search: search),
                                    local: local,
                                    embed: embed, remote: configuration.remote, info: info, logger: logger)
        guard !pipeline.backends.isEmpty else {
            throw ServeError("no answering backend is available for --backends \(configuration.backends.map(\.rawValue).joined(separator: ",")) "
                + "(remote needs RAGCHAT_API_BASE; add extractive to answer without a model)")
        }
        let ms = MonotonicClock.milliseconds(since: start)
        logger.info("loaded \(stats.chunks) passages from \(stats.documents) documents in \(Int(ms)) ms; retrieval: \(info["retrieval"] ?? "?"); backends: \(pipeline.backends.map(\.name).joined(separator: " → "))")
        return LoadedEngine(pipeline, problems: problems)
    }
}

struct ServeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

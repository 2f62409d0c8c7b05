import Encoder
import Foundation
import Index
import Logging
import Speech
import Tensors
import TextAnalysis

/// The composition root: builds the answering engine from one `EngineConfiguration` — the index,
/// the encoder, the retrieval function with its relevance gate, the backends in order, the voices,
/// the pipeline — and says what was configured but did not load.
public enum EngineLoader {
    /// Loads everything once. Throws when the index cannot be opened or no backend is left;
    /// a part that fails (the encoder, the local model, speech) is reported in `problems` or
    /// logged, and the engine answers without it.
    public static func load(_ configuration: EngineConfiguration,
                            logger: Logger = Logger(label: "ragchat.rag")) async throws -> LoadedEngine {
        var problems: [String] = []
        let start = MonotonicClock.now()
        let store = try openIndexStore(at: configuration.indexPath, create: false)
        let stats = try store.statistics()
        if stats.chunks == 0 {
            logger.warning("the index \(store.location) holds no passage: every answer will say the documents do not cover it")
        }
        // What `/health` shows anyone: counts and model names, never paths or addresses.
        var info: [String: String] = [
            "documents": String(stats.documents),
            "chunks": String(stats.chunks),
        ]

        // The encoder: query embeddings for hybrid search, sentence similarity for extractive answers.
        var encoder: SentenceEncoder?
        do {
            encoder = try SentenceEncoder(path: URL(fileURLWithPath: configuration.encoderPath))
        } catch {
            logger.warning("sentence encoder not loaded (\(error)); using keyword (BM25) search only")
            // A missing file is a setup without vectors; one that does not load is a fault.
            if FileManager.default.fileExists(atPath: configuration.encoderPath) {
                problems.append("encoder \(configuration.encoderPath) failed to load (\(error)): keyword search only")
            }
        }

        var expander: QueryExpander?
        // The default path is relative to the working directory, as every default model path is.
        if let path = configuration.expansionModelPath, path == EngineConfiguration.defaultExpansionModelPath,
           !FileManager.default.fileExists(atPath: path) {
            logger.info("no query expansion model at \(path) (`make models` fetches it): the question alone is searched")
        } else if let path = configuration.expansionModelPath {
            do {
                expander = try QueryExpander(modelPath: path)
                info["query expansion"] = expander?.modelName
            } catch {
                logger.warning("query expansion not loaded: \(error)")
                problems.append("query expansion model \(path) failed to load (\(error)): the question alone is searched")
            }
        }
        let retriever = gatedRetriever(store: store, encoder: encoder, expander: expander, logger: logger)
        if let encoder, try store.hasVectors(modelID: encoder.modelID) {
            info["retrieval"] = "hybrid (BM25 + \(encoder.modelID))"
        } else {
            if let encoder, stats.vectors > 0 {
                logger.warning("the index vectors are from \(stats.encoderModelID ?? "another model"), not \(encoder.modelID): keyword search until `ragchat ingest` recomputes them")
            }
            info["retrieval"] = "keyword (BM25)"
        }
        info["encoder"] = encoder?.modelID ?? "none"

        // The local language model (Swift GGUF engine), loaded once; one generation at a time.
        var local: LocalBackend?
        if configuration.backends.contains(.local) {
            do {
                let backend = try LocalBackend(modelPath: configuration.modelPath, contextLength: configuration.contextLength,
                                               maxTokens: configuration.maxAnswerTokens)
                info["model"] = backend.info
                if case .completion = backend.promptMode {
                    logger.info("\(configuration.modelPath): no chat template the engine knows, so a completion-style prompt")
                }
                local = backend
            } catch {
                logger.warning("local backend not loaded: \(error)")
                problems.append("backend local failed to load \(configuration.modelPath): \(error)")
            }
        }

        let pipeline = makePipeline(configuration, retriever: retriever, local: local,
                                    embed: encoder.map(sentenceEmbedder), info: info, logger: logger)
        guard !pipeline.backends.isEmpty else {
            throw EngineLoadError("no answering backend is available for --backends \(configuration.backends.map(\.rawValue).joined(separator: ",")) "
                + "(remote needs RAGCHAT_API_BASE; add extractive to answer without a model)")
        }
        let ms = MonotonicClock.milliseconds(since: start)
        logger.info("loaded \(stats.chunks) passages from \(stats.documents) documents of \(store.location) in \(Int(ms)) ms; retrieval: \(info["retrieval"] ?? "?"); backends: \(pipeline.backends.map(\.name).joined(separator: " → "))")
        let library = configuration.dataDirectory.map { folder in
            // Small embedding batches: the encoder runs one pass at a time, and a question's
            // embedding waits for the batch in progress.
            DocumentLibrary(dataDirectory: URL(fileURLWithPath: folder, isDirectory: true), store: store, embedder: encoder,
                            maxUploadBytes: configuration.maxUploadBytes,
                            ingestOptions: IngestOptions(embeddingBatchSize: DocumentLibrary.backgroundBatchSize), logger: logger)
        }
        if let reason = library?.readOnlyReason { logger.warning("documents cannot be uploaded or deleted: \(reason)") }
        return LoadedEngine(pipeline, problems: problems, library: library)
    }

    /// Hybrid search whenever the index holds vectors of this encoder (checked per question, so
    /// an ingest run while the server is up is picked up), keyword search otherwise; behind the
    /// relevance gate: when no passage is relevant, none is returned, and the pipeline answers
    /// that the documents do not cover the question without calling a model.
    /// With an `expander`, a covered question is searched again with the expander's guess at its
    /// answer (`expandedHybridSearch`); the gate decides on the question alone, before any guess.
    static func gatedRetriever(store: any IndexStore, encoder: SentenceEncoder?, expander: QueryExpander? = nil,
                               logger: Logger) -> IndexRetriever {
        let gate = RelevanceGate.standard(forEncoder: encoder?.modelID)
        // The gate reads the machine's word lists (about 0.7 s) for its first question: now,
        // while the rest loads, rather than then.
        if gate.declinesUnknownNames { Task.detached(priority: .utility) { _ = WordList.installed } }
        return IndexRetriever(retrieval: { query, k in
            // The query embedding is CPU work: off the server's tasks.
            let result = try await Task.detached { try store.search(query, mode: .hybrid, embedder: encoder, k: k, gate: gate) }.value
            guard result.covered else {
                logger.info("not covered by the documents (\(result.signals)): \(query.prefix(200))")
                throw NotCoveredByDocuments(missingNames: result.signals.unknownNames)
            }
            var hits = result.hits
            var guess: String?
            if let expander {
                do {
                    let expansion = try await expander.guess(query)
                    hits = try await Task.detached {
                        try store.expandedHybridSearch(query, expansion: expansion, embedder: encoder, k: k)
                    }.value
                    guess = expansion
                } catch {
                    logger.warning("query expansion failed (\(error)): the question alone is searched")
                }
            }
            // Steps and lists run past one chunk: the best passage brings the rest of its section.
            return Retrieval(hits: try store.answerPassages(for: query, hits: hits), expansion: guess)
        })
    }

    /// The question (first) embedded as a query, the candidate sentences as passages, as e5 was
    /// trained to compare them (the extractive answer's sentence similarity).
    static func sentenceEmbedder(_ encoder: SentenceEncoder) -> @Sendable ([String]) async throws -> [[Float]] {
        { texts in
            try await Task.detached {
                guard let question = texts.first else { return [] }
                return [try encoder.embed(query: question)] + (try encoder.embed(Array(texts.dropFirst()), as: .passage))
            }.value
        }
    }

    /// The pipeline for `retriever`: backends in the configured order (each unavailable one
    /// skipped with a log line), the two voices (speech that cannot start is logged and turned
    /// off, not fatal).
    public static func makePipeline(_ configuration: EngineConfiguration, retriever: any Retriever,
                                    local: (any AnswerBackend)? = nil,
                                    embed: (@Sendable ([String]) async throws -> [[Float]])? = nil,
                                    info: [String: String] = [:],
                                    logger: Logger = Logger(label: "ragchat.rag")) -> RAGPipeline {
        for kind in configuration.backends {
            switch kind {
            case .remote where configuration.remote == nil:
                logger.notice("backend remote skipped: no API configured (set RAGCHAT_API_BASE or --api-base)")
            case .local where local == nil:
                logger.notice("backend local skipped: no local model loaded")
            default: break
            }
        }
        if let remote = configuration.remote, configuration.backends.contains(.remote) {
            logger.info("remote backend: \(remote.model) at \(remote.displayURL)")
        }
        let backends = self.backends(order: configuration.backends, remote: configuration.remote, local: local,
                                     extractive: ExtractiveBackend(embed: embed))
        var speaker: Speaker?
        do { speaker = try Speaker(configuration: configuration.speech) } catch {
            logger.error("speech disabled: \(error)")
        }
        return RAGPipeline(retriever: retriever, backends: backends, speaker: speaker,
                           configuration: configuration.pipeline, info: info, logger: logger)
    }

    /// Backends in `order`, skipping what is not available: `remote` needs a configuration,
    /// `local` a loaded model.
    public static func backends(order: [BackendKind], remote: RemoteConfiguration?, local: (any AnswerBackend)? = nil,
                                extractive: ExtractiveBackend = ExtractiveBackend()) -> [any AnswerBackend] {
        order.compactMap { kind -> (any AnswerBackend)? in
            switch kind {
            case .remote: return remote.map { RemoteBackend(configuration: $0) }
            case .local: return local
            case .extractive: return extractive
            }
        }
    }
}

/// The engine cannot answer at all with this configuration.
public struct EngineLoadError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

import Foundation
import Hummingbird
import Logging
import RAG
import Speech

/// Shared pieces of one server instance.
public struct ServerState: Sendable {
    public let configuration: ServerConfiguration
    public let holder: EngineHolder
    public let limiter: GenerationLimiter
    public let metrics: ServerMetrics

    public init(configuration: ServerConfiguration, holder: EngineHolder = EngineHolder(),
                metrics: ServerMetrics = ServerMetrics()) {
        self.configuration = configuration
        self.holder = holder
        self.limiter = GenerationLimiter(maxConcurrent: configuration.maxConcurrent, maxWaiting: configuration.maxWaiting,
                                         timeout: configuration.queueTimeout, retryAfter: configuration.retryAfterSeconds)
        self.metrics = metrics
    }
}

/// The router: API middleware (405, JSON errors, metrics), the static `web/` folder, the routes.
public func buildRouter(_ state: ServerState, logger: Logger = Logger(label: "ragchat.server")) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: APIMiddleware(metrics: state.metrics, webRoot: state.configuration.webRoot))
    router.add(middleware: FileMiddleware(state.configuration.webRoot, searchForIndexHtml: true, logger: logger))
    ChatController<AppRequestContext>(holder: state.holder, limiter: state.limiter, metrics: state.metrics,
                                      configuration: state.configuration).addRoutes(to: router)
    HealthController<AppRequestContext>(holder: state.holder, limiter: state.limiter,
                                        configuration: state.configuration).addRoutes(to: router)
    AudioController<AppRequestContext>(holder: state.holder).addRoutes(to: router)
    MetricsController<AppRequestContext>(metrics: state.metrics, limiter: state.limiter).addRoutes(to: router)
    return router
}

/// The Hummingbird application for `state` (the engine may still be loading).
/// - Parameter onServerRunning: called with the bound port once listening (useful with port 0).
public func buildApplication(_ state: ServerState, logger: Logger = Logger(label: "ragchat.server"),
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    Application(router: buildRouter(state, logger: logger),
                configuration: .init(address: .hostname(state.configuration.host, port: state.configuration.port),
                                     serverName: "ragchat"),
                onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? state.configuration.port) },
                logger: logger)
}

/// Convenience: an application with an engine already loaded (tests).
public func buildApplication(_ configuration: ServerConfiguration, engine: any ChatEngine) -> some ApplicationProtocol {
    buildApplication(ServerState(configuration: configuration, holder: EngineHolder(engine: engine)))
}

/// Starts the server at once (so `/health` answers 503 while loading), loads the engine with
/// `loadEngine`, and serves until SIGINT/SIGTERM. Prints the URL when listening.
public func runServer(configuration: ServerConfiguration,
                      logger: Logger = Logger(label: "ragchat.server"),
                      loadEngine: @escaping @Sendable () async throws -> any ChatEngine) async throws {
    let state = ServerState(configuration: configuration)
    let app = buildApplication(state, logger: logger) { port in
        var c = configuration
        c.port = port
        FileHandle.standardOutput.write(Data("ragchat: listening on \(c.url)\n".utf8))
    }
    let loader = Task {
        do {
            let engine = try await loadEngine()
            await state.holder.set(engine)
            logger.info("engine ready")
        } catch {
            await state.holder.fail(String(describing: error))
            logger.error("engine failed to load: \(error)")
        }
    }
    defer { loader.cancel() }
    try await app.runService()
}

/// The standard engine for `ragchat serve`: `retriever` (the index's search), backends in the
/// configured order (remote from `RAGCHAT_API_*` when set, `local` when given, extractive), the two
/// voices. Speech that cannot start (no espeak-ng data) is logged and turned off, not fatal.
public func makePipeline(_ configuration: ServerConfiguration, retriever: any Retriever,
                         local: (any AnswerBackend)? = nil,
                         embed: (@Sendable ([String]) async throws -> [[Float]])? = nil,
                         remote: RemoteConfiguration? = RemoteConfiguration.fromEnvironment(),
                         info: [String: String] = [:],
                         logger: Logger = Logger(label: "ragchat.rag")) -> RAGPipeline {
    let backends = RAGPipeline.backends(order: configuration.backends, remote: remote, local: local,
                                        extractive: ExtractiveBackend(embed: embed))
    var speaker: Speaker?
    do { speaker = try Speaker(configuration: configuration.speech) } catch {
        logger.error("speech disabled: \(error)")
    }
    var facts = info
    facts["index"] = facts["index"] ?? configuration.indexPath
    return RAGPipeline(retriever: retriever, backends: backends, speaker: speaker,
                       configuration: configuration.pipeline, info: facts, logger: logger)
}

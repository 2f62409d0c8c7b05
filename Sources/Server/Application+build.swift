import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import RAG
import Synchronization

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

/// The router: API middleware (405, JSON errors, metrics), the client key and access rules
/// (`AccessMiddleware`), 404 for paths no file nor route can have, the files of the page folder
/// (`web/`, nothing outside it), the routes.
public func buildRouter(_ state: ServerState, logger: Logger = Logger(label: "ragchat.server")) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: APIMiddleware(metrics: state.metrics, webRoot: state.configuration.webRoot))
    if let key = state.configuration.serverKey { router.add(middleware: ServerKeyAuthenticator(key: key)) }
    router.add(middleware: AccessMiddleware(configuration: state.configuration))
    router.add(middleware: PlainPathMiddleware())
    router.add(middleware: PageFilesMiddleware(files: FileMiddleware(fileProvider: PageFolder(root: state.configuration.webRoot),
                                                                     searchForIndexHtml: true)))
    // Every route but /health sits in a group whose middleware (run only once a route of the
    // group has matched, whatever the spelling of the path: `/chat/`, `//chat`) requires the
    // client key and applies the rate limit.
    HealthController<AppRequestContext>(holder: state.holder, limiter: state.limiter,
                                        configuration: state.configuration).addRoutes(to: router)
    let guarded = router.group().add(middleware: ClientGuardMiddleware(configuration: state.configuration))
    let chat = ChatController<AppRequestContext>(holder: state.holder, limiter: state.limiter, metrics: state.metrics,
                                                 configuration: state.configuration)
    chat.addRoutes(to: guarded)
    OpenAIController(chat: chat).addRoutes(to: guarded)
    AudioController<AppRequestContext>(holder: state.holder).addRoutes(to: guarded)
    MetricsController<AppRequestContext>(metrics: state.metrics, limiter: state.limiter).addRoutes(to: guarded)
    DocumentsController(holder: state.holder, configuration: state.configuration).addRoutes(to: guarded)
    return router
}

/// The Hummingbird application for `state` (the engine may still be loading), its HTTP/1.1
/// connections guarded (timeouts, closing rules: `GuardedHTTP1Channel`).
/// - Parameter onServerRunning: called with the bound port once listening (useful with port 0).
public func buildApplication(_ state: ServerState, logger: Logger = Logger(label: "ragchat.server"),
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let timeouts = state.configuration.connectionTimeouts
    return Application(router: buildRouter(state, logger: logger),
                server: HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, timeouts: timeouts) },
                configuration: .init(address: .hostname(state.configuration.host, port: state.configuration.port),
                                     serverName: "ragchat"),
                onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? state.configuration.port) },
                logger: logger)
}

/// Convenience: an application with an engine already loaded (tests).
public func buildApplication(_ configuration: ServerConfiguration, engine: any ChatEngine) -> some ApplicationProtocol {
    buildApplication(ServerState(configuration: configuration, holder: EngineHolder(engine: engine)))
}

/// `runServer` for a loader that reports no load problems.
public func runServer(configuration: ServerConfiguration,
                      logger: Logger = Logger(label: "ragchat.server"),
                      exitOnLoadFailure: Bool = false,
                      loadEngine: @escaping @Sendable () async throws -> any ChatEngine) async throws {
    try await runServer(configuration: configuration, logger: logger, exitOnLoadFailure: exitOnLoadFailure) {
        LoadedEngine(try await loadEngine())
    }
}

/// Starts the server at once (so `/health` answers 503 while loading), loads the engine with
/// `loadEngine`, and serves until SIGINT/SIGTERM (graceful: requests in flight finish). Prints
/// `ragchat: listening on URL (loading…)` when bound and `ragchat: ready at URL` once loaded.
/// - Parameters:
///   - exitOnLoadFailure: when loading fails, shut down and rethrow the load error (the CLI);
///     otherwise keep serving 503 with the error in `/health` (tests, supervised deployments).
///     Shutting down sends SIGTERM to this process: use it only in a program of its own.
/// - Throws: `APIError` code `port_in_use` when the address is taken, the load error (see above),
///   or the server's own errors.
public func runServer(configuration: ServerConfiguration,
                      logger: Logger = Logger(label: "ragchat.server"),
                      exitOnLoadFailure: Bool = false,
                      loadEngine: @escaping @Sendable () async throws -> LoadedEngine) async throws {
    let state = ServerState(configuration: configuration)
    let bound = Mutex<String?>(nil)
    let loadError = Mutex<(any Error)?>(nil)
    let engineLoaded = Mutex(false)
    let app = buildApplication(state, logger: logger) { port in
        var c = configuration
        c.port = port
        let ready = engineLoaded.withLock { loaded in
            bound.withLock { $0 = c.url }
            return loaded
        }
        let note = ready ? "" : " (loading…)"
        FileHandle.standardOutput.write(Data("ragchat: listening on \(c.url)\(note)\n".utf8))
        if ready { FileHandle.standardOutput.write(Data("ragchat: ready at \(c.url)\n".utf8)) }
    }
    let loader = Task {
        do {
            let loaded = try await loadEngine()
            await state.holder.set(loaded.engine, problems: loaded.problems, library: loaded.library)
            logger.info("engine ready")
            for problem in loaded.problems { logger.warning("degraded: \(problem)") }
            let url = engineLoaded.withLock { loaded in
                loaded = true
                return bound.withLock { $0 }
            }
            if let url { FileHandle.standardOutput.write(Data("ragchat: ready at \(url)\n".utf8)) }
        } catch is CancellationError {
            return
        } catch {
            await state.holder.fail(String(describing: error))
            logger.error("engine failed to load: \(error)")
            if exitOnLoadFailure {
                loadError.withLock { $0 = error }
                kill(getpid(), SIGTERM)   // graceful shutdown of the service group below
            }
        }
    }
    defer { loader.cancel() }
    do {
        try await app.runService()
    } catch {
        let text = String(describing: error)
        if text.contains("Address already in use") || text.contains("errno: 98") {
            throw APIError(.internalServerError, code: "port_in_use",
                           message: "\(configuration.host):\(configuration.port) is already in use (another ragchat serve?); "
                               + "stop it or choose another port with --port or RAGCHAT_PORT")
        }
        throw error
    }
    if let error = loadError.withLock({ $0 }) { throw error }
}

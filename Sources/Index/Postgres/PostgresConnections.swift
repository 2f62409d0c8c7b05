import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The connections of one `PostgresIndexStore`: a small pool of postgres-nio connections on an
/// event-loop group of its own.
///
/// Why not postgres-nio's `PostgresClient`: the `IndexStore` query methods are synchronous (as
/// SQLite's are), so they wait for their results; `PostgresClient` needs its `run()` task to make
/// progress on the cooperative thread pool, which waiting callers could exhaust (two threads on
/// this machine). Connections made and queried through event-loop futures only need this group's
/// threads, which nothing else blocks: a caller waits on its own thread, never on an event loop.
final class PostgresConnections: Sendable {
    let address: PostgresAddress
    /// `hnsw.ef_search` set on every connection: candidates kept while walking the HNSW graph.
    let efSearch: Int
    /// More `SET …` statements for every connection (the benchmarks' `enable_seqscan = off`).
    let settings: [String]
    private let group: MultiThreadedEventLoopGroup
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    private let logger: Logger
    /// Idle connections kept for reuse; more may be open while busy.
    private static let keptIdle = 16

    /// The connection settings (TLS context included), made once.
    private let configuration: PostgresConnection.Configuration

    init(address: PostgresAddress, efSearch: Int, settings: [String] = []) throws {
        configuration = try address.configuration()
        self.address = address
        self.efSearch = efSearch
        self.settings = settings
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "ragchat.index.postgres")
        logger.logLevel = .critical  // failures reach the caller as IndexError; no double logging
        self.logger = logger
    }

    deinit {
        for connection in idle.withLock({ $0 }) { Self.drop(connection) }
        group.shutdownGracefully { _ in }
    }

    /// Closes every idle connection (the store is being dropped, or a test is done with it).
    func close() {
        let connections = idle.withLock { all -> [PostgresConnection] in defer { all = [] }; return all }
        for connection in connections { try? Self.closing(connection).wait() }
    }

    // MARK: - Leasing

    private func connect() throws -> PostgresConnection {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let eventLoop = group.next()
        let connecting = PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
        let connection: PostgresConnection
        if let replyTimeout = address.replyTimeout {
            // `connectTimeout` bounds the TCP connection; this bounds the start-up and
            // authentication exchange too. A connection that completes after the caller gave up
            // is closed.
            let answered = Atomic<Bool>(false)
            let promise = eventLoop.makePromise(of: PostgresConnection.self)
            connecting.whenComplete { result in
                if answered.exchange(true, ordering: .acquiringAndReleasing) {
                    if case .success(let late) = result { Self.drop(late) }
                } else {
                    promise.completeWith(result)
                }
            }
            eventLoop.scheduleTask(in: TimeAmount(replyTimeout)) {
                if !answered.exchange(true, ordering: .acquiringAndReleasing) {
                    promise.fail(PostgresReplyTimeout(timeout: replyTimeout))
                }
            }
            connection = try promise.futureResult.wait()
        } else {
            connection = try connecting.wait()
        }
        do {
            let session = PostgresSession(connection: connection, logger: logger, replyTimeout: address.replyTimeout)
            // Quoted identifiers are not needed: `PostgresAddress` only accepts plain schema names.
            try session.execute("SET search_path TO \(address.schema), public")
            try session.execute("SET hnsw.ef_search = \(efSearch)")
            for setting in settings { try session.execute("SET \(setting)") }
        } catch {
            Self.drop(connection)
            throw error
        }
        return connection
    }

    private func lease() throws -> (connection: PostgresConnection, reused: Bool) {
        while let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return (connection, true) }
        }
        return (try connect(), false)
    }

    private func giveBack(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        let kept = idle.withLock { all -> Bool in
            guard all.count < Self.keptIdle else { return false }
            all.append(connection)
            return true
        }
        if !kept { Self.drop(connection) }
    }

    // MARK: - Running work

    /// Runs `body` on one connection. A reused connection that turns out dead (the server was
    /// restarted since it was last used) is replaced once when `retry` is set: reads are safe to
    /// repeat; a transaction's caller decides. Errors come out as `IndexError`.
    func withConnection<T>(retry: Bool = true, _ body: (PostgresSession) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let leased: (connection: PostgresConnection, reused: Bool)
            do { leased = try lease() } catch { throw classify(error) }
            do {
                let result = try body(PostgresSession(connection: leased.connection, logger: logger,
                                                      replyTimeout: address.replyTimeout))
                giveBack(leased.connection)
                return result
            } catch {
                let failure = classify(error)
                if leased.connection.isClosed || Self.isConnectionFailure(error) {
                    Self.drop(leased.connection)
                    // A reused connection may have died while idle; a stalled one was just closed.
                    if retry, attempt == 1, leased.reused || error is PostgresReplyTimeout { continue }
                } else {
                    giveBack(leased.connection)
                }
                throw failure
            }
        }
    }

    /// Runs `body` in one transaction (`BEGIN` … `COMMIT`, rolled back when it throws). Not
    /// retried: the caller sees the failure and may run the whole unit again.
    func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try withConnection(retry: false) { session in try session.transaction { try body(session) } }
    }

    /// Closes a connection without waiting (postgres-nio has an async `close()` too: the future
    /// one is named by its type).
    static func closing(_ connection: PostgresConnection) -> EventLoopFuture<Void> {
        let future: EventLoopFuture<Void> = connection.close()
        return future
    }

    static func drop(_ connection: PostgresConnection) {
        closing(connection).whenComplete { _ in }
    }

    // MARK: - Errors

    /// postgres-nio's error (or NIO's) as an `IndexError`: `unavailable` when the server cannot be
    /// reached or went away, `database` with the server's own message otherwise; other errors
    /// unchanged.
    func classify(_ error: any Error) -> any Error {
        if error is IndexError || error is CancellationError { return error }
        let location = address.description
        if let error = error as? PostgresReplyTimeout {
            return IndexError.unavailable(location: location, reason: "no reply from the server within \(error.timeout) (reply_timeout)")
        }
        if let error = error as? PSQLError {
            if error.code == .sslUnsupported {
                return IndexError.unavailable(location: location, reason: "the server does not offer TLS, which sslmode=\(address.tls.rawValue) requires")
            }
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState] ?? ""
                // 28xxx: authentication; 3D000: no such database; 57P0x: the server is shutting
                // down or restarting; 53300: too many connections.
                if state.hasPrefix("28") || state == "3D000" || state.hasPrefix("57P") || state == "53300" {
                    return IndexError.unavailable(location: location, reason: message)
                }
                var reason = message
                if let detail = error.serverInfo?[.detail] { reason += " (\(detail))" }
                return IndexError.database(path: location, reason: reason)
            }
            if Self.isConnectionFailure(error) {
                let underlying = error.underlying.map { String(describing: $0) } ?? "\(error.code)"
                return IndexError.unavailable(location: location, reason: underlying)
            }
            return IndexError.database(path: location, reason: "\(error.code)" + (error.underlying.map { ": \($0)" } ?? ""))
        }
        if error is ChannelError || error is NIOConnectionError || error is IOError {
            return IndexError.unavailable(location: location, reason: String(describing: error))
        }
        // The caller's own errors (a file that cannot be read, a cancelled task, a test's
        // injected failure) go through as they are.
        return error
    }

    static func isConnectionFailure(_ error: any Error) -> Bool {
        if error is PostgresReplyTimeout { return true }
        if let error = error as? PSQLError {
            return [.connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection].contains(error.code)
        }
        return error is ChannelError || error is NIOConnectionError || error is IOError
    }
}

/// One leased connection: queries that wait for their rows on the caller's thread, each for at
/// most `replyTimeout` (see `PostgresAddress`).
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger
    let replyTimeout: Duration?

    /// Runs one statement and returns every row.
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        try reply(connection.query(query, logger: logger)).rows
    }

    /// Runs one statement written in full (no parameters). `unbounded`: a statement that may
    /// rightly take long (waiting for another ingest's lock, building an HNSW index).
    func execute(_ sql: String, unbounded: Bool = false) throws {
        let future = connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        _ = try unbounded ? future.wait() : reply(future)
    }

    /// Waits for `future`; past `replyTimeout` the connection is closed, which fails the
    /// statement, and the caller gets `PostgresReplyTimeout`. A closed connection fails whatever
    /// it was waiting for, whether the server stalled or the connection lost track of a reply.
    private func reply<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        guard let replyTimeout else { return try future.wait() }
        let expired = Atomic<Bool>(false)
        let connection = self.connection
        let watchdog = connection.eventLoop.scheduleTask(in: TimeAmount(replyTimeout)) {
            expired.store(true, ordering: .relaxed)
            PostgresConnections.drop(connection)
        }
        defer { watchdog.cancel() }
        do {
            return try future.wait()
        } catch {
            if expired.load(ordering: .relaxed) { throw PostgresReplyTimeout(timeout: replyTimeout) }
            throw error
        }
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` when `body` throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if !connection.isClosed { try? execute("ROLLBACK") }
            throw error
        }
    }
}

/// A statement got no reply within the address's `reply_timeout`; its connection was closed.
struct PostgresReplyTimeout: Error {
    let timeout: Duration
}

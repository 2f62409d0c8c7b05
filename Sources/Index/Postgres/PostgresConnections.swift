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
        if let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return (connection, true) }
            // One idle connection closed by the server: the others most likely went with it (a
            // restart, an administrator ending the sessions); finding each out by a failed
            // statement would cost a retry apiece.
            dropIdle()
        }
        return (try connect(), false)
    }

    /// Closes every idle connection without waiting.
    private func dropIdle() {
        for connection in idle.withLock({ all -> [PostgresConnection] in defer { all = [] }; return all }) {
            Self.drop(connection)
        }
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

    /// What of a unit of work may run again, on a fresh connection, when the reused connection it
    /// was given turns out dead (closed by a server restart while idle).
    enum Retry {
        /// The whole body: it only reads.
        case whole
        /// The body while its first statement has not been answered: the caller makes that
        /// statement one that does nothing lasting (`BEGIN`, taking a lock), so nothing was done.
        case untilFirstReply
        /// Nothing: the caller sees the failure and may run the whole unit again.
        case never
    }

    /// Runs `body` on one connection; errors come out as `IndexError`. A reused connection that
    /// fails as a dead one does is replaced by a fresh one, once, as `retry` allows, and the
    /// other idle connections are dropped with it (they most likely died the same way).
    func withConnection<T>(retry: Retry = .whole, _ body: (PostgresSession) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let leased: (connection: PostgresConnection, reused: Bool)
            do { leased = try lease() } catch { throw classify(error) }
            let session = PostgresSession(connection: leased.connection, logger: logger, replyTimeout: address.replyTimeout)
            do {
                let result = try body(session)
                giveBack(leased.connection)
                return result
            } catch {
                let failure = classify(error)
                if leased.connection.isClosed || Self.isConnectionFailure(error) {
                    Self.drop(leased.connection)
                    if leased.reused { dropIdle() }
                    let repeatable = switch retry {
                    case .whole: true
                    case .untilFirstReply: session.replies == 0
                    case .never: false
                    }
                    // A reused connection may have died while idle; a stalled one was just closed.
                    if repeatable, attempt == 1, leased.reused || error is PostgresReplyTimeout { continue }
                } else {
                    giveBack(leased.connection)
                }
                throw failure
            }
        }
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
            // 57P01–57P03: the server ended the session (administrator command, crash, shutdown),
            // whether or not the connection has been seen closed yet.
            if let state = error.serverInfo?[.sqlState], state.hasPrefix("57P") { return true }
            return [.connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection].contains(error.code)
        }
        return error is ChannelError || error is NIOConnectionError || error is IOError
    }
}

/// One leased connection: queries that wait for their rows on the caller's thread, each for at
/// most `replyTimeout` (see `PostgresAddress`). Used by one thread at a time.
final class PostgresSession {
    let connection: PostgresConnection
    let logger: Logger
    let replyTimeout: Duration?
    /// Statements answered so far (see `PostgresConnections.Retry.untilFirstReply`).
    private(set) var replies = 0

    init(connection: PostgresConnection, logger: Logger, replyTimeout: Duration?) {
        self.connection = connection
        self.logger = logger
        self.replyTimeout = replyTimeout
    }

    /// Runs one statement and returns every row.
    @discardableResult
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        try reply(connection.query(query, logger: logger)).rows
    }

    /// Runs one statement written in full (no parameters). `unbounded`: a statement that may
    /// rightly take long (building an HNSW index), sent only once another statement on the same
    /// connection was answered: postgres-nio may never fail a statement sent on a connection the
    /// server is closing, and only `replyTimeout` ends that wait.
    func execute(_ sql: String, unbounded: Bool = false) throws {
        let future = connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        if unbounded {
            _ = try future.wait()
            replies += 1
        } else {
            _ = try reply(future)
        }
    }

    /// Takes this index's ingest lock (an advisory lock on the schema's name), waiting while
    /// another ingest holds it; held until `pg_advisory_unlock_all()` or the connection ends, or
    /// with `forTransaction` until the transaction ends. Polled rather than waited for in one
    /// statement, so that every statement stays bounded by `replyTimeout`.
    func takeIngestLock(forTransaction: Bool = false) throws {
        let function = forTransaction ? "pg_try_advisory_xact_lock" : "pg_try_advisory_lock"
        let statement = "SELECT \(function)(hashtext(current_schema() || ':ragchat-ingest'))"
        var pause = 0.02
        while try rows(PostgresQuery(unsafeSQL: statement)).first?.decode(Bool.self) != true {
            try Task.checkCancellation()
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 1)
        }
    }

    /// Waits for `future`; past `replyTimeout` the wait ends with `PostgresReplyTimeout` and the
    /// connection is closed. The wait is on a promise of our own that the watchdog fails: closing
    /// the connection does not always fail the statement (a query sent on a connection the server
    /// had just terminated was seen waiting forever after the close).
    private func reply<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        guard let replyTimeout else {
            let result = try future.wait()
            replies += 1
            return result
        }
        let expired = Atomic<Bool>(false)
        let connection = self.connection
        // (the statement's future and the watchdog run on the connection's event loop; a promise
        // completed twice keeps its first result)
        let answer = future.eventLoop.makePromise(of: T.self)
        future.cascade(to: answer)
        let watchdog = future.eventLoop.scheduleTask(in: TimeAmount(replyTimeout)) {
            expired.store(true, ordering: .relaxed)
            answer.fail(PostgresReplyTimeout(timeout: replyTimeout))
            PostgresConnections.drop(connection)
        }
        defer { watchdog.cancel() }
        do {
            let result = try answer.futureResult.wait()
            replies += 1
            return result
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

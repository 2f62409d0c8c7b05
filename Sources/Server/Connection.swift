import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization

/// How long a connection may stay silent or slow, in seconds (nil: no limit).
public struct ConnectionTimeouts: Sendable, Equatable {
    /// No request in progress and nothing received (a fresh or kept-alive connection).
    public var idle: Double?
    /// From the first byte of a request to the end of its head (request line and headers).
    public var header: Double?
    /// From the end of a request's head to the end of its body.
    public var body: Double?

    public init(idle: Double? = 60, header: Double? = 10, body: Double? = 30) {
        self.idle = idle; self.header = header; self.body = body
    }
}

/// HTTP/1.1 connections as Hummingbird's `HTTP1Channel` makes them, plus a `ConnectionGuard`
/// between NIO's HTTP/1 codec and the HTTP-types codec (timeouts, when to close), and the
/// connection made known to the requests it carries (`ClientConnection.current`).
struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let timeouts: ConnectionTimeouts

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let connectionGuard = ConnectionGuard(timeouts: timeouts, logger: logger)
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(ByteArrivals(connectionGuard))   // before the decoder: sees raw bytes
            try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false,
                                                     withOutboundHeaderValidation: false)
            try pipeline.addHandler(connectionGuard)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            // Hummingbird's own handler, for graceful shutdown (closes connections once idle).
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel,
                                       configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await ClientConnection.$current.withValue(ClientConnection(value.channel)) {
            await handleHTTP(asyncChannel: value, logger: logger)
        }
    }
}

/// The connection a request arrived on, so that work for a client that has left stops (its
/// place in the queue, its generation). Set for the requests of each connection by the server.
public final class ClientConnection: Sendable {
    @TaskLocal public static var current: ClientConnection?

    private struct State {
        var closed = false
        var nextID: UInt64 = 0
        var actions: [UInt64: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())

    init(_ channel: any Channel) {
        channel.closeFuture.whenComplete { _ in self.close() }
    }

    private func close() {
        let actions = state.withLock { s in
            s.closed = true
            defer { s.actions = [:] }
            return Array(s.actions.values)
        }
        for action in actions { action() }
    }

    /// Calls `action` once when the connection closes (at once if it already has). The token
    /// given back unregisters it (`forget`).
    public func onClose(_ action: @escaping @Sendable () -> Void) -> UInt64? {
        let id = state.withLock { s -> UInt64? in
            guard !s.closed else { return nil }
            s.nextID += 1
            s.actions[s.nextID] = action
            return s.nextID
        }
        if id == nil { action() }
        return id
    }

    public func forget(_ token: UInt64?) {
        guard let token else { return }
        _ = state.withLock { $0.actions.removeValue(forKey: token) }
    }

    /// Runs `operation`, cancelled if `connection` closes before it ends.
    public static func untilClosed<T: Sendable>(_ connection: ClientConnection?,
                                                _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let connection else { return try await operation() }
        let task = Task { try await operation() }
        let token = connection.onClose { task.cancel() }
        defer { connection.forget(token) }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }
}

/// Tells the `ConnectionGuard` that bytes arrived, before they are decoded (the first bytes of a
/// request start its header timeout; no HTTP part exists yet).
final class ByteArrivals: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connectionGuard: ConnectionGuard
    init(_ connectionGuard: ConnectionGuard) { self.connectionGuard = connectionGuard }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connectionGuard.bytesArrived()
        context.fireChannelRead(data)
    }
}

/// Per-connection rules between NIO's HTTP/1 decoder/encoder and the HTTP-types codec:
/// - timeouts: idle (nothing received, no request in progress), header (first byte of a request
///   to the end of its head), body (end of the head to the end of the body), and a response the
///   client stops reading for longer than the idle timeout: the connection is closed;
/// - closing after a response when the request asked for it (HTTP/1.0 without keep-alive,
///   `Connection: close`), when the response says so (`Connection: close`: rejected bodies,
///   malformed requests), when the request was not fully received (the rest is never read), or
///   after a parse error. An HTTP/1.0 response carries the request's version (so it is not
///   chunked) and says whether the connection stays open.
/// Closing is "lingering": output first (the client reads the whole response, then EOF), input
/// discarded, then the socket once the client closes or after a short grace period.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Seconds a closing connection keeps reading (and discarding) before it is closed for good.
    static let lingerSeconds = 2.0

    /// A request whose response has not ended yet.
    private struct Exchange {
        var version: HTTPVersion
        var keepAlive: Bool
        /// Its `.end` was received.
        var received = false
        /// The response head asked to close after it.
        var closeAfter = false
    }

    private enum Inbound {
        /// Between requests; `bytes`: some bytes of the next one arrived.
        case awaitingHead(bytes: Bool)
        case readingBody
    }

    private let timeouts: ConnectionTimeouts
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var exchanges = CircularBuffer<Exchange>()
    private var inbound = Inbound.awaitingHead(bytes: false)
    private var parseFailed = false
    private var closing = false
    /// The current time limit, if any: when, which one, its length.
    private var deadline: (at: NIODeadline, what: String, seconds: Double)?
    /// The scheduled check of `deadline`, and when it runs.
    private var check: (task: Scheduled<Void>, at: NIODeadline)?
    private var writeStallTimer: Scheduled<Void>?

    init(timeouts: ConnectionTimeouts, logger: Logger) {
        self.timeouts = timeouts
        self.logger = logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm(timeouts.idle, "idle") }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(timeouts.idle, "idle")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    // MARK: Inbound

    /// Raw bytes arrived (from `ByteArrivals`).
    func bytesArrived() {
        guard !closing, case .awaitingHead(bytes: false) = inbound else { return }
        inbound = .awaitingHead(bytes: true)
        arm(timeouts.header, "header")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }   // the rest of a request that will not be answered
        switch unwrapInboundIn(data) {
        case .head(let head):
            exchanges.append(Exchange(version: head.version, keepAlive: head.isKeepAlive))
            inbound = .readingBody
            arm(timeouts.body, "body")
        case .body:
            break
        case .end:
            if !exchanges.isEmpty { exchanges[exchanges.index(before: exchanges.endIndex)].received = true }
            inbound = .awaitingHead(bytes: false)
            cancelTimer()   // the response is the application's business (request timeout) until it ends
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError { parseFailed = true }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if closing, case ChannelEvent.inputClosed = event {
            context.close(promise: nil)   // the client has read the response and closed its side
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            guard head.status.code >= 200 || head.status == .switchingProtocols, let exchange = exchanges.first else {
                context.write(data, promise: promise)
                return
            }
            let http10 = exchange.version.major == 1 && exchange.version.minor == 0
            let close = parseFailed || !exchange.keepAlive || !head.isKeepAlive
                || (http10 && !head.headers.contains(name: "content-length"))   // a body ended by the close
            exchanges[exchanges.startIndex].closeAfter = close
            guard close || http10 else {
                context.write(data, promise: promise)   // the usual case: passed on untouched
                return
            }
            if http10 { head.version = exchange.version }
            head.headers.replaceOrAdd(name: "Connection", value: close ? "close" : "keep-alive")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard let exchange = exchanges.popFirst() else {
                context.write(data, promise: promise)
                return
            }
            if exchange.closeAfter || !exchange.received || parseFailed {
                closing = true
                cancelTimer()
                let written = promise ?? context.eventLoop.makePromise()
                context.writeAndFlush(data, promise: written)
                written.futureResult.assumeIsolated().whenComplete { _ in self.closeOutput() }
            } else {
                context.write(data, promise: promise)
                if exchanges.isEmpty, case .awaitingHead(bytes: false) = inbound { arm(timeouts.idle, "idle") }
            }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // A client that stops reading a response stops it for good after the idle timeout.
        writeStallTimer?.cancel()
        writeStallTimer = nil
        if !context.channel.isWritable, let seconds = timeouts.idle {
            writeStallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in
                logger.debug("closing a connection whose client stopped reading")
                self.context?.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Closing and timers

    /// Output closed after the response (the client sees EOF); input read and dropped until the
    /// client closes, at most `lingerSeconds`.
    private func closeOutput() {
        guard let context else { return }
        context.close(mode: .output).assumeIsolated().whenFailure { _ in self.context?.close(promise: nil) }
        arm(Self.lingerSeconds, "linger")
    }

    /// Sets the connection's one deadline (`seconds` from now; nil: none), replacing the last.
    /// A single scheduled check serves them all: it is rescheduled only when a deadline comes
    /// earlier than it, so the usual request (header, body, then idle limits) costs one timer.
    private func arm(_ seconds: Double?, _ what: String) {
        guard let seconds, seconds > 0 else {
            deadline = nil
            return
        }
        let at = NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9))
        deadline = (at, what, seconds)
        if let check, check.at <= at { return }
        check?.task.cancel()
        scheduleCheck(at)
    }

    private func scheduleCheck(_ at: NIODeadline) {
        guard let context else { return }
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { [self] in
            check = nil
            guard let deadline else { return }
            if deadline.at <= .now() {
                logger.debug("closing a connection: \(deadline.what) timeout (\(deadline.seconds) s)")
                self.context?.close(promise: nil)
            } else {
                scheduleCheck(deadline.at)
            }
        }
        check = (task, at)
    }

    private func cancelTimer() {
        deadline = nil   // a pending check finds nothing to do
    }

    private func cancelTimers() {
        deadline = nil
        check?.task.cancel()
        check = nil
        writeStallTimer?.cancel()
        writeStallTimer = nil
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}

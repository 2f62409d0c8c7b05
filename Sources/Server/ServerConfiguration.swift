import Foundation

/// The HTTP side of `ragchat serve`: address, page folder, admission (concurrency, queue) and
/// timeouts. The engine's settings are `EngineConfiguration` (RAG); the CLI reads both from its
/// options and `RAGCHAT_*` variables.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Folder of the chat page and its assets (only files below it are served).
    public var webRoot: String = "web"
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
    /// Seconds advertised in `Retry-After` when busy or loading.
    public var retryAfterSeconds: Int = 2
    /// When set, every API route but `/health` requires `Authorization: Bearer <key>`.
    public var serverKey: ServerKey?
    /// Host names accepted in the `Host` header besides loopback names and the bound address
    /// (`*`: any). See `HostAllowList`.
    public var allowedHosts: [String] = []
    /// Origins (`https://app.example`) whose pages may call the API (CORS); none by default.
    public var corsOrigins: [String] = []
    /// Questions per client address on `/chat` and `/chat/stream`.
    public var rateLimit = RateLimit(perMinute: 60, burst: 20)

    public init() {}

    /// The connection timeouts (0 means none).
    public var connectionTimeouts: ConnectionTimeouts {
        ConnectionTimeouts(idle: idleTimeout > 0 ? idleTimeout : nil, header: headerTimeout > 0 ? headerTimeout : nil,
                           body: bodyTimeout > 0 ? bodyTimeout : nil)
    }

    /// True when the server listens on a loopback address only.
    public var isLoopbackOnly: Bool {
        let h = HostAllowList.normalise(host)
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/" }
}

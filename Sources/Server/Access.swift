import Crypto
import Foundation
import Hummingbird
import HummingbirdAuth
import HTTPTypes
import NIOCore
import Synchronization
import Tensors

// Who may use the server: the `Host` allow-list (against DNS rebinding), the `Origin` check and
// CORS (against other web pages), the client key (bearer), the per-client rate limit. One
// middleware applies them in that order; see `AccessMiddleware`.

/// The key clients must present (`Authorization: Bearer …`) when the server is given one
/// (`RAGCHAT_SERVER_KEY` or `RAGCHAT_SERVER_KEY_FILE`). Only its SHA-256 is kept, and its
/// description never shows it.
public struct ServerKey: Sendable, CustomStringConvertible {
    public static let minimumLength = 16
    private let digest: SHA256.Digest

    /// Throws `ServerKey.Problem` when the key is shorter than `minimumLength` or holds
    /// characters an HTTP header cannot carry (spaces, controls).
    public init(_ key: String) throws {
        guard key.count >= Self.minimumLength else { throw Problem.tooShort(key.count) }
        guard key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else { throw Problem.badCharacters }
        digest = SHA256.hash(data: Data(key.utf8))
    }

    /// True when `token` is the key. Both sides are hashed, and swift-crypto compares digests in
    /// constant time, so the time taken says nothing about how much of the token was right.
    public func matches(_ token: String) -> Bool {
        SHA256.hash(data: Data(token.utf8)) == digest
    }

    public var description: String { "(set)" }

    public enum Problem: Error, CustomStringConvertible {
        case tooShort(Int)
        case badCharacters
        public var description: String {
            switch self {
            case .tooShort(let n): return "the server key has \(n) characters; use at least \(ServerKey.minimumLength) (e.g. `openssl rand -hex 24`)"
            case .badCharacters: return "the server key may only hold printable ASCII characters without spaces"
            }
        }
    }
}

/// Requests per minute allowed to one client (its address) on the routes that generate answers,
/// with bursts of `burst`. `perMinute` 0 turns the limit off.
public struct RateLimit: Sendable, Equatable, CustomStringConvertible {
    public var perMinute: Int
    public var burst: Int
    public init(perMinute: Int, burst: Int) {
        self.perMinute = perMinute
        self.burst = burst
    }
    public var isOff: Bool { perMinute <= 0 }
    public var description: String { isOff ? "off" : "\(perMinute)/min, burst \(burst)" }
}

/// The identity hummingbird-auth attaches to a request that carried the server key.
public struct KeyHolder: Sendable {}

/// Sets the request's identity when its bearer token is the server key (hummingbird-auth's
/// authenticator protocol); `AccessMiddleware` decides what needs one.
struct ServerKeyAuthenticator<Context: AuthRequestContext>: AuthenticatorMiddleware where Context.Identity == KeyHolder {
    let key: ServerKey

    func authenticate(request: Request, context: Context) async throws -> KeyHolder? {
        guard let bearer = request.headers.bearer, key.matches(bearer.token) else { return nil }
        return KeyHolder()
    }
}

/// Token buckets per client, refilled continuously at `perMinute / 60` tokens per second up to
/// `burst`. Clients idle long enough to be full again are forgotten when the table grows.
package final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    package let limit: RateLimit
    private let buckets = Mutex<(table: [String: Bucket], pruned: Double)>(([:], 0))
    /// Past this many clients, those whose bucket is full again are forgotten (at most once a
    /// minute), and if that is not enough, the least recently seen half.
    package static let maxClients = 10_000

    package init(limit: RateLimit) {
        self.limit = limit
    }

    /// Takes a token for `client`: nil when granted, else the seconds until one is available.
    /// Clients tracked now.
    package var clientCount: Int { buckets.withLock { $0.table.count } }

    package func take(client: String, now: Double = MonotonicClock.now()) -> Double? {
        guard !limit.isOff else { return nil }
        let rate = Double(limit.perMinute) / 60
        let capacity = Double(max(1, limit.burst))
        return buckets.withLock { state in
            var bucket = state.table[client] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            defer {
                state.table[client] = bucket
                if state.table.count > Self.maxClients && now - state.pruned >= 60 {
                    state.pruned = now
                    state.table = state.table.filter { capacity - ($0.value.tokens + (now - $0.value.updated) * rate) > 1e-9 }
                }
                if state.table.count > 2 * Self.maxClients {
                    let recent = state.table.sorted { $0.value.updated > $1.value.updated }.prefix(Self.maxClients)
                    state.table = Dictionary(uniqueKeysWithValues: recent.map { ($0.key, $0.value) })
                }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return (1 - bucket.tokens) / rate
        }
    }
}

/// The host names a request's `Host` header may carry. A page on another site that makes its
/// own name resolve to 127.0.0.1 (DNS rebinding) still sends its own name, so checking the name
/// keeps such pages from driving a server bound to loopback.
package struct HostAllowList: Sendable {
    let names: Set<String>
    let anyHost: Bool

    /// Loopback names, the bound address (unless it is a wildcard) and, when bound to every
    /// interface, this machine's name; plus `configured` (`*` allows any host).
    package init(configured: [String], boundHost: String) {
        var names: Set<String> = ["localhost", "127.0.0.1", "::1"]
        let bound = Self.normalise(boundHost)
        let wildcard = bound == "0.0.0.0" || bound == "::" || bound.isEmpty
        if !wildcard { names.insert(bound) } else { names.insert(Self.normalise(ProcessInfo.processInfo.hostName)) }
        anyHost = configured.contains("*")
        for name in configured where name != "*" { names.insert(Self.hostPart(of: name)) }
        self.names = names
    }

    /// A request without a `Host` (HTTP/1.0) is allowed: browsers always send one. So is an IP
    /// address: DNS rebinding needs a name, and a client on the network (or a container) that
    /// reaches the server by its address sends the address.
    package func allows(authority: String?) -> Bool {
        guard !anyHost, let authority, !authority.isEmpty else { return true }
        let host = Self.hostPart(of: authority)
        return names.contains(host) || host.hasSuffix(".localhost") || Self.isIPAddress(host)
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// `Example.COM.:8080` → `example.com`; `[::1]:80` → `::1`.
    package static func hostPart(of authority: String) -> String {
        var text = Substring(authority)
        if text.hasPrefix("[") {
            let end = text.firstIndex(of: "]") ?? text.endIndex
            text = text[text.index(after: text.startIndex)..<end]
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            text = text[..<colon]
        }
        return normalise(String(text))
    }

    static func normalise(_ name: String) -> String {
        var n = name.lowercased().trimmingCharacters(in: .whitespaces)
        if n.hasPrefix("[") && n.hasSuffix("]") { n = String(n.dropFirst().dropLast()) }
        while n.hasSuffix(".") { n.removeLast() }
        return n
    }
}

/// The access rules of one server, applied to every request before its route:
/// 1. `Host` not allowed → 403 `host_not_allowed`;
/// 2. an `Origin` that is neither this server nor a configured CORS origin → 403
///    `origin_not_allowed` (configured origins get CORS headers and preflight answers);
/// 3. with a server key, every API route but `/health` (and `/audio/…`) without the key → 401
///    `unauthorized` with `WWW-Authenticate: Bearer`; the page's files stay public;
/// 4. the answering routes beyond the client's rate → 429 `rate_limited` with `Retry-After`.
struct AccessMiddleware<Context: AuthRequestContext & RemoteAddressRequestContext>: RouterMiddleware
where Context.Identity == KeyHolder {
    let hosts: HostAllowList
    let corsOrigins: Set<String>
    private let cors = CORSMiddleware<Context>(allowOrigin: .originBased,
                                               allowHeaders: [.accept, .authorization, .contentType] + Self.clientHeaders,
                                               allowMethods: [.get, .head, .post, .delete],
                                               exposedHeaders: ["Retry-After"], maxAge: .seconds(600))

    /// Headers the official OpenAI SDKs send from a browser, so that their preflight passes.
    static var clientHeaders: [HTTPField.Name] {
        ["OpenAI-Organization", "OpenAI-Project", "X-Stainless-Arch", "X-Stainless-Lang", "X-Stainless-OS",
         "X-Stainless-Package-Version", "X-Stainless-Retry-Count", "X-Stainless-Runtime", "X-Stainless-Runtime-Version",
         "X-Stainless-Timeout", "X-Stainless-Async"].compactMap { HTTPField.Name($0) }
    }

    init(configuration: ServerConfiguration) {
        hosts = HostAllowList(configured: configuration.allowedHosts, boundHost: configuration.host)
        corsOrigins = Set(configuration.corsOrigins.map(Origin.normalise))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let authority = request.head.authority
        guard hosts.allows(authority: authority) else {
            throw APIError(.forbidden, code: "host_not_allowed",
                           message: "this server does not answer for the host '\(HostAllowList.hostPart(of: authority ?? ""))'; "
                               + "add it with --allowed-hosts (RAGCHAT_ALLOWED_HOSTS)")
        }
        var crossOrigin = false
        if let origin = request.headers[.origin] {
            let normalised = Origin.normalise(origin)
            if corsOrigins.contains(normalised) {
                crossOrigin = true
            } else if !Origin.isSameOrigin(normalised, authority: authority) {
                throw APIError(.forbidden, code: "origin_not_allowed",
                               message: "requests from web pages of another origin are refused; allow an origin with --cors-origins (RAGCHAT_CORS_ORIGINS)")
            }
        }
        if crossOrigin {
            // Hummingbird's CORS middleware answers preflights and adds the headers; errors are
            // turned into JSON here so that the page of that origin can read them.
            return try await cors.handle(request, context: context) { request, context in
                do { return try await next(request, context) } catch {
                    return try APIError.from(error).response(from: request, context: context)
                }
            }
        }
        return try await next(request, context)
    }
}

/// The client key and the rate limit, on the group of every route but `/health`: it runs once a
/// route has matched, so no spelling of a path (`/chat/`, `//metrics`) reaches a route without it.
/// - with a server key, a request without it → 401 `unauthorized` with `WWW-Authenticate: Bearer`;
/// - the answering routes beyond the client's rate → 429 `rate_limited` with `Retry-After`.
struct ClientGuardMiddleware<Context: AuthRequestContext & RemoteAddressRequestContext>: RouterMiddleware
where Context.Identity == KeyHolder {
    let keyRequired: Bool
    let limiter: RateLimiter

    init(configuration: ServerConfiguration) {
        keyRequired = configuration.serverKey != nil
        limiter = RateLimiter(limit: configuration.rateLimit)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if keyRequired && context.identity == nil {
            let presented = request.headers[.authorization] != nil
            throw APIError(.unauthorized, code: "unauthorized",
                           message: presented ? "the server key is wrong" : "this server requires a key: send Authorization: Bearer <key>",
                           headers: [.wwwAuthenticate: "Bearer realm=\"ragchat\""])
        }
        if RouteTable.isRateLimited(path: context.endpointPath ?? request.uri.path), request.method == .post {
            let client = Self.clientName(context.remoteAddress)
            if let wait = limiter.take(client: client) {
                let seconds = max(1, Int(wait.rounded(.up)))
                throw APIError(.tooManyRequests, code: "rate_limited",
                               message: "too many questions from this client (limit \(limiter.limit)); retry in \(seconds) s",
                               headers: [.retryAfter: String(seconds)])
            }
        }
        return try await next(request, context)
    }

    /// The client a bucket belongs to: its IPv4 address, or its IPv6 /64 (one host holds a
    /// whole /64, and could otherwise take a new bucket per address).
    static func clientName(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        if case .v6(let v6) = address {
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return bytes[12...].map(String.init).joined(separator: ".")   // IPv4-mapped
            }
            return bytes.prefix(8).map { String(format: "%02x", $0) }.joined() + "::/64"
        }
        return address.ipAddress ?? "unknown"
    }
}

/// The `Origin` header: a page's `scheme://host[:port]`.
package enum Origin {
    /// `HTTP://Example.com:80/` → `http://example.com:80`.
    package static func normalise(_ origin: String) -> String {
        var o = origin.trimmingCharacters(in: .whitespaces).lowercased()
        while o.hasSuffix("/") { o.removeLast() }
        return o
    }

    /// True when `origin` (`scheme://host[:port]`) names the server the request was sent to.
    package static func isSameOrigin(_ origin: String, authority: String?) -> Bool {
        guard let authority, let range = origin.range(of: "://") else { return false }
        let originAuthority = String(origin[range.upperBound...])
        let scheme = origin[..<range.lowerBound]
        let requested = authority.lowercased()
        if originAuthority == requested { return true }
        // A default port may be written on one side only.
        let defaultPort = scheme == "https" ? ":443" : ":80"
        return originAuthority + defaultPort == requested || originAuthority == requested + defaultPort
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback TCP client for what HTTP libraries do not send: exact request targets,
/// malformed framing, half-sent bodies, clients that vanish (FIN or RST). Its calls block: run
/// it on a thread of its own (`onThread`), not on the concurrency pool.
final class RawSocket: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// How a read ended.
    enum End: Equatable { case closed, reset, timeout, enough }

    let fd: Int32
    private var isOpen = true

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure(description: "connect to port \(port): errno \(e)")
        }
    }

    deinit { if isOpen { Glibc.close(fd) } }

    /// Sends all of `bytes`; false when the peer is gone.
    @discardableResult func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads until the peer closes or resets, `enough` says so (given everything read), or
    /// `timeout` seconds pass.
    func read(timeout: Double, enough: ([UInt8]) -> Bool = { _ in false }) -> (bytes: [UInt8], end: End) {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if enough(bytes) { return (bytes, .enough) }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return (bytes, .timeout) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(left * 1000, 1000).rounded(.up)))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (bytes, .closed) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return (bytes, errno == ECONNRESET ? .reset : .closed)
            }
            bytes += chunk[0..<n]
        }
    }

    /// Reads one response whose head and `Content-Length` body (or the whole stream, when it has
    /// none) arrive within `timeout`; then how the connection behaves is up to the caller.
    func readResponse(timeout: Double) -> (response: RawResponse?, end: End) {
        let (bytes, end) = read(timeout: timeout) { RawResponse.complete($0) }
        return (RawResponse(bytes), end)
    }

    /// Close with FIN.
    func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(fd)
    }

    /// Close with RST (SO_LINGER 0): the peer's next read or write fails with ECONNRESET.
    func reset() {
        guard isOpen else { return }
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close()
    }
}

/// A parsed HTTP/1.x response (head and whatever body bytes arrived).
struct RawResponse {
    var version: String
    var status: Int
    var headers: [String: String]   // lowercased names
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var errorCode: String? {
        ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]).flatMap { ($0["error"] as? [String: Any])?["code"] as? String }
    }

    init?(_ bytes: [UInt8]) {
        guard let split = Self.headEnd(bytes) else { return nil }
        let head = String(decoding: bytes[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let line = head[0].split(separator: " ", maxSplits: 2)
        guard line.count >= 2, let code = Int(line[1]) else { return nil }
        version = String(line[0])
        status = code
        headers = [:]
        for field in head.dropFirst() {
            guard let colon = field.firstIndex(of: ":") else { continue }
            headers[field[..<colon].lowercased()] = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        body = Array(bytes[(split + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = Self.dechunk(body) }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// True once a response with a `Content-Length` has all of it, or a chunked one its last chunk.
    static func complete(_ bytes: [UInt8]) -> Bool {
        guard let split = headEnd(bytes) else { return false }
        let head = String(decoding: bytes[..<split], as: UTF8.self).lowercased()
        let bodyCount = bytes.count - split - 4
        if head.hasPrefix("http/1.1 304") || head.hasPrefix("http/1.0 304") { return true }
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            return bodyCount >= Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        if head.contains("transfer-encoding: chunked") {
            return bytes.count >= 5 && Array(bytes.suffix(5)) == Array("0\r\n\r\n".utf8)
        }
        return false   // delimited by the end of the connection
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while i < bytes.count {
            guard let lineEnd = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
                  let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16),
                  size > 0 else { break }
            let start = lineEnd + 2
            out += bytes[start..<min(bytes.count, start + size)]
            i = start + size + 2
        }
        return out
    }
}

/// Runs blocking socket work on a thread of its own.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// SplitMix64: reproducible random plans (the seed is printed with failures).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

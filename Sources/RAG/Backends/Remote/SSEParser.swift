import Foundation

/// One Server-Sent Events message.
public struct SSEMessage: Sendable, Equatable {
    public var event: String?
    public var data: String
    public var id: String?
    public init(event: String? = nil, data: String, id: String? = nil) { self.event = event; self.data = data; self.id = id }
}

/// Incremental SSE parser (WHATWG event-stream): bytes in, messages out. Handles `\n`, `\r\n`
/// and `\r` line ends, comments, multi-line `data:`, and chunks split anywhere (even inside a
/// UTF-8 character).
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var data: [String] = []
    private var event: String?
    private var id: String?
    private var sawCR = false
    public init() {}

    public mutating func feed<S: Sequence>(_ bytes: S) -> [SSEMessage] where S.Element == UInt8 {
        var out: [SSEMessage] = []
        for b in bytes {
            if sawCR { sawCR = false; if b == 0x0A { continue } }
            if b == 0x0A || b == 0x0D {
                sawCR = b == 0x0D
                if let m = endLine() { out.append(m) }
            } else {
                line.append(b)
            }
        }
        return out
    }

    /// Flushes a final message not followed by a blank line.
    public mutating func finish() -> [SSEMessage] {
        var out: [SSEMessage] = []
        if !line.isEmpty, let m = endLine() { out.append(m) }
        if let m = endLine() { out.append(m) }
        return out
    }

    private mutating func endLine() -> SSEMessage? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard !data.isEmpty || event != nil else { return nil }
            let m = SSEMessage(event: event, data: data.joined(separator: "\n"), id: id)
            data = []; event = nil
            return m
        }
        if line.first == UInt8(ascii: ":") { return nil }   // comment
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring, value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            var v = text[text.index(after: colon)...]
            if v.first == " " { v = v.dropFirst() }
            value = v
        } else {
            field = Substring(text); value = ""
        }
        switch field {
        case "data": data.append(String(value))
        case "event": event = String(value)
        case "id": id = String(value)
        default: break
        }
        return nil
    }
}

// Stop strings over streamed text: pieces are passed through as they come, except a tail that may
// be the start of a stop string, held back until it is known not to be one. When a stop string
// appears, the text before it is released and the stream ends.

public struct StopStringMatcher: Sendable {
    public let stops: [String]
    private var held = ""
    public private(set) var stopped = false

    public init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Feeds a piece; returns the text safe to emit now. After a stop string, `stopped` is true and
    /// everything from the stop string on is discarded.
    public mutating func feed(_ piece: String) -> String {
        guard !stopped else { return "" }
        held += piece
        // Earliest complete stop string.
        var cut: String.Index? = nil
        for s in stops {
            if let r = held.range(of: s), r.lowerBound < (cut ?? held.endIndex) { cut = r.lowerBound }
        }
        if let cut {
            stopped = true
            let out = String(held[..<cut])
            held = ""
            return out
        }
        // Hold back the longest tail that is a proper prefix of some stop string.
        var keep = 0
        for s in stops {
            var n = min(s.count - 1, held.count)
            while n > keep {
                if held.hasSuffix(s.prefix(n)) { keep = n; break }
                n -= 1
            }
        }
        let split = held.index(held.endIndex, offsetBy: -keep)
        let out = String(held[..<split])
        held = String(held[split...])
        return out
    }

    /// The text still held back (call at the end of generation).
    public mutating func flush() -> String {
        defer { held = "" }
        return stopped ? "" : held
    }
}

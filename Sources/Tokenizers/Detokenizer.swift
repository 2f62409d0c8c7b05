// Streaming detokenisation: generated token ids in, complete UTF-8 text out.
// A multi-byte character may be cut across tokens (SentencePiece byte tokens `<0xE2><0x82><0xAC>`,
// byte-level BPE tokens holding part of a character): the trailing incomplete sequence is held
// back until the bytes that complete it arrive. Bytes that can never form a character are
// emitted as U+FFFD so the stream never stalls.

/// Feeds token ids one at a time and returns only complete UTF-8 text.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: any TextTokenizer
    private let renderSpecial: Bool
    private var pending: [UInt8] = []

    /// `renderSpecial`: control tokens render their text (by default they render as nothing).
    public init(tokenizer: any TextTokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Bytes received but not yet returned (an incomplete character).
    public var pendingByteCount: Int { pending.count }

    /// Adds one token; returns the text that became complete (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending.append(contentsOf: tokenizer.pieceBytes(id, renderSpecial: renderSpecial))
        return takeComplete()
    }

    /// Adds several tokens; returns the text that became complete.
    public mutating func append<S: Sequence>(contentsOf ids: S) -> String where S.Element == Int32 {
        for id in ids { pending.append(contentsOf: tokenizer.pieceBytes(id, renderSpecial: renderSpecial)) }
        return takeComplete()
    }

    /// Returns whatever is left (an incomplete character becomes U+FFFD) and resets.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Drops pending bytes without returning them.
    public mutating func reset() { pending.removeAll() }

    private mutating func takeComplete() -> String {
        let keep = Self.incompleteSuffixLength(pending)
        if keep == pending.count { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Length of the trailing bytes that form the valid start of a not-yet-complete UTF-8
    /// character (0 when the buffer ends on a character boundary or with invalid bytes).
    static func incompleteSuffixLength(_ b: [UInt8]) -> Int {
        let n = b.count
        // look back at most 3 bytes for the lead byte of the last sequence
        var i = n - 1
        var continuation = 0
        while i >= 0 && n - i <= 4 {
            let c = b[i]
            if c & 0xC0 == 0x80 {
                continuation += 1
                i -= 1
                continue
            }
            let need: Int
            switch c {
            case 0xC2...0xDF: need = 2
            case 0xE0...0xEF: need = 3
            case 0xF0...0xF4: need = 4
            default: return 0  // ASCII or an invalid lead byte: nothing to wait for
            }
            let have = continuation + 1
            if have >= need { return 0 }
            // the bytes after the lead must be allowed second bytes (e.g. E0 needs A0...BF)
            if have >= 2 {
                let second = b[i + 1]
                switch c {
                case 0xE0: if second < 0xA0 { return 0 }
                case 0xED: if second > 0x9F { return 0 }
                case 0xF0: if second < 0x90 { return 0 }
                case 0xF4: if second > 0x8F { return 0 }
                default: break
                }
            }
            return have
        }
        return 0
    }
}

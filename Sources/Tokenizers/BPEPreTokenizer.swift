// Pre-tokenizers of byte-level BPE models, chosen by `tokenizer.ggml.pre`, hand-written to split
// exactly as llama.cpp does (its `unicode_regex_split`: a list of regexes applied in turn, each
// one splitting the pieces left by the previous one; unmatched stretches stay pieces too).
//
// | name (tokenizer.ggml.pre)                   | stages                                              |
// |---------------------------------------------|-----------------------------------------------------|
// | default (and unknown-but-absent)            | [\p{P}$+<=>^~|]+ · gpt2 · \p{N}+ · [0-9][0-9][0-9]   |
// | gpt-2, phi-2, roberta-bpe, mpt, olmo, jais… | gpt2                                                |
// | smollm, starcoder, refact, command-r, …     | \p{N} · gpt2                                        |
// | llama-bpe, llama3, llama-v3, falcon3, dbrx… | llama3 (contractions, [^\r\n\p{L}\p{N}]?\p{L}+, \p{N}{1,3} …) |
// | qwen2, stablelm2, megrez, deepseek-r1-qwen  | llama3 with \p{N} (one digit per piece)             |
// | falcon                                      | [\p{P}$+<=>^~|`]+ · gpt2 · [0-9][0-9][0-9]           |
//
// gpt2 = 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Character classes: \p{L} letters (Lu Ll Lt Lm Lo), \p{N} numbers (Nd Nl No), \p{P}
// punctuation (Pc Pd Ps Pe Pi Pf Po), \s the Unicode White_Space set.

/// Splits text into the words that byte-level BPE merges within.
public struct BPEPreTokenizer: Sendable {
    enum Kind: Sendable {
        case gpt2, defaultBPE, smollm, llama3, qwen2, falcon

        init?(name: String) {
            switch name {
            case "default": self = .defaultBPE
            case "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
                 "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "trillion",
                 "granite-docling":
                self = .gpt2
            case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
                self = .smollm
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
                 "lfm2", "dbrx", "smaug-bpe", "chatglm-bpe":
                self = .llama3
            case "qwen2", "stablelm2", "megrez", "deepseek-r1-qwen", "hunyuan", "hunyuan-dense":
                self = .qwen2
            case "falcon":
                self = .falcon
            default:
                return nil
            }
        }

        /// llama.cpp turns BOS on for these pre-tokenizers (before `add_bos_token` is read).
        var addsBOSByDefault: Bool { self == .llama3 }
        /// llama.cpp's `ignore_merges`: a word that is a whole vocabulary token is emitted as is.
        var ignoresMerges: Bool { self == .llama3 }
    }

    /// `tokenizer.ggml.pre` values this module understands.
    public static let supportedNames: [String] = [
        "default", "gpt-2", "phi-2", "roberta-bpe", "mpt", "olmo", "jais", "smollm", "starcoder",
        "refact", "command-r", "codeshell", "exaone", "minerva-7b", "llama3", "llama-v3", "llama-bpe",
        "falcon3", "dbrx", "smaug-bpe", "qwen2", "stablelm2", "megrez", "deepseek-r1-qwen", "falcon",
    ]

    let kind: Kind

    /// nil for an unknown name.
    public init?(name: String) {
        guard let k = Kind(name: name) else { return nil }
        kind = k
    }

    /// The words of `text`, as strings (for inspection and tests).
    public func words(_ text: String) -> [String] {
        var bytes = Array(text.utf8)
        var scratch = Scratch()
        return bytes.withUnsafeMutableBufferPointer { mb -> [String] in
            let buf = UnsafeBufferPointer(mb)
            return split(buf, scratch: &scratch).map { String(decoding: buf[$0], as: UTF8.self) }
        }
    }

    // MARK: character classes

    static let letter: UInt8 = 1, number: UInt8 = 2, space: UInt8 = 4, punct: UInt8 = 8
    /// Set for every code point inside the current piece (llama.cpp's `flags.as_uint() != 0`).
    static let inside: UInt8 = 128

    private static let asciiFlags: [UInt8] = (0..<128).map { computeFlags(UInt32($0)) }

    static func computeFlags(_ c: UInt32) -> UInt8 {
        guard let s = Unicode.Scalar(c) else { return inside }
        var f = inside
        if s.properties.isWhitespace { f |= space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            f |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            f |= number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            f |= punct
        default:
            break
        }
        return f
    }

    @inline(__always)
    static func flags(_ c: UInt32) -> UInt8 { c < 128 ? asciiFlags[Int(c)] : computeFlags(c) }

    // MARK: splitting

    /// Scratch space for one call (code points, their byte offsets and flags, piece bounds).
    struct Scratch {
        var cps: [UInt32] = []
        var byteOffsets: [Int32] = []
        var flags: [UInt8] = []
        var pieces: [Range<Int>] = []
        var next: [Range<Int>] = []
    }

    /// The words of `bytes` (valid UTF-8) as byte ranges, in order, covering all of it.
    func split(_ bytes: UnsafeBufferPointer<UInt8>, scratch s: inout Scratch) -> [Range<Int>] {
        decode(bytes, into: &s)
        let n = s.cps.count
        if n == 0 { return [] }
        s.pieces.removeAll(keepingCapacity: true)
        s.pieces.append(0..<n)
        func stage(_ f: (inout Scratch, Range<Int>) -> Void) {
            s.next.removeAll(keepingCapacity: true)
            let pieces = s.pieces
            for p in pieces { f(&s, p) }
            swap(&s.pieces, &s.next)
        }
        switch kind {
        case .gpt2:
            stage(Self.gpt2)
        case .defaultBPE:
            stage { Self.classRuns(&$0, $1, chunk: 0) { c, f in f & Self.punct != 0 || Self.isDefaultSymbol(c) } }
            stage(Self.gpt2)
            stage { Self.classRuns(&$0, $1, chunk: 0) { _, f in f & Self.number != 0 } }
            stage { Self.classRuns(&$0, $1, chunk: 3) { c, _ in c >= 0x30 && c <= 0x39 } }
        case .smollm:
            stage { Self.classRuns(&$0, $1, chunk: 1) { _, f in f & Self.number != 0 } }
            stage(Self.gpt2)
        case .llama3:
            stage { Self.llama3(&$0, $1, maxDigits: 3) }
        case .qwen2:
            stage { Self.llama3(&$0, $1, maxDigits: 1) }
        case .falcon:
            stage { Self.classRuns(&$0, $1, chunk: 0) { c, f in f & Self.punct != 0 || Self.isDefaultSymbol(c) || c == 0x60 } }
            stage(Self.gpt2)
            stage { Self.classRuns(&$0, $1, chunk: 3) { c, _ in c >= 0x30 && c <= 0x39 } }
        }
        // code point ranges -> byte ranges
        return s.pieces.map { Int(s.byteOffsets[$0.lowerBound])..<Int(s.byteOffsets[$0.upperBound]) }
    }

    /// `$ + < = > ^ ~ |` (added to \p{P} by the default and falcon first stages).
    @inline(__always)
    static func isDefaultSymbol(_ c: UInt32) -> Bool {
        c == 0x24 || c == 0x2B || c == 0x3C || c == 0x3D || c == 0x3E || c == 0x5E || c == 0x7E || c == 0x7C
    }

    private func decode(_ bytes: UnsafeBufferPointer<UInt8>, into s: inout Scratch) {
        s.cps.removeAll(keepingCapacity: true)
        s.byteOffsets.removeAll(keepingCapacity: true)
        s.flags.removeAll(keepingCapacity: true)
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = UInt32(bytes[i])
            var c: UInt32
            var len: Int
            if b0 < 0x80 {
                c = b0; len = 1
            } else if b0 >> 5 == 0x6, i + 1 < n {
                c = (b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F); len = 2
            } else if b0 >> 4 == 0xE, i + 2 < n {
                c = (b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F); len = 3
            } else if b0 >> 3 == 0x1E, i + 3 < n {
                c = (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
                    | UInt32(bytes[i + 3] & 0x3F); len = 4
            } else {
                c = 0xFFFD; len = 1  // not reachable for Swift strings (always valid UTF-8)
            }
            s.cps.append(c)
            s.byteOffsets.append(Int32(i))
            s.flags.append(Self.flags(c))
            i += len
        }
        s.byteOffsets.append(Int32(n))
    }

    /// A regex made of one character class: `[class]+` (chunk 0), `[class]` (chunk 1) or
    /// `[class]{3}` (chunk 3, e.g. `[0-9][0-9][0-9]`). Matches and the stretches between them
    /// become pieces.
    static func classRuns(_ s: inout Scratch, _ r: Range<Int>, chunk: Int,
                          _ member: (UInt32, UInt8) -> Bool) {
        var gapStart = r.lowerBound
        var pos = r.lowerBound
        while pos < r.upperBound {
            if !member(s.cps[pos], s.flags[pos]) { pos += 1; continue }
            var end = pos
            while end < r.upperBound && member(s.cps[end], s.flags[end]) { end += 1 }
            let len = end - pos
            let step = chunk == 0 ? len : chunk
            let matches = len / step
            if matches > 0 {
                if pos > gapStart { s.next.append(gapStart..<pos) }
                for m in 0..<matches { s.next.append((pos + m * step)..<(pos + (m + 1) * step)) }
                gapStart = pos + matches * step
            }
            pos = end
        }
        if gapStart < r.upperBound { s.next.append(gapStart..<r.upperBound) }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2(_ s: inout Scratch, _ r: Range<Int>) {
        let lo = r.lowerBound, hi = r.upperBound
        @inline(__always) func fl(_ p: Int) -> UInt8 { p >= lo && p < hi ? s.flags[p] : 0 }
        @inline(__always) func cp(_ p: Int) -> UInt32 { p >= lo && p < hi ? s.cps[p] : 0xFFFF_FFFF }
        var pos = lo
        while pos < hi {
            let start = pos
            let c = s.cps[pos]
            let f = s.flags[pos]
            if c == 0x27 && pos + 1 < hi {  // '
                let n1 = cp(pos + 1)
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {  // s t m d
                    s.next.append(start..<(pos + 2)); pos += 2; continue
                }
                if pos + 2 < hi {
                    let n2 = cp(pos + 2)
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {  // re ve ll
                        s.next.append(start..<(pos + 3)); pos += 3; continue
                    }
                }
            }
            let sp = c == 0x20
            let f2 = sp ? fl(pos + 1) : f
            if f2 & letter != 0 {
                pos += sp ? 1 : 0
                while fl(pos) & letter != 0 { pos += 1 }
                s.next.append(start..<pos); continue
            }
            if f2 & number != 0 {
                pos += sp ? 1 : 0
                while fl(pos) & number != 0 { pos += 1 }
                s.next.append(start..<pos); continue
            }
            if f2 & (space | letter | number) == 0 && f2 != 0 {
                pos += sp ? 1 : 0
                while true {
                    let g = fl(pos)
                    if g & (space | letter | number) != 0 || g == 0 { break }
                    pos += 1
                }
                s.next.append(start..<pos); continue
            }
            var nws = 0
            while fl(pos + nws) & space != 0 { nws += 1 }
            if nws > 1 && cp(pos + nws) != 0xFFFF_FFFF {
                pos += nws - 1
                s.next.append(start..<pos); continue
            }
            if nws > 0 {
                pos += nws
                s.next.append(start..<pos); continue
            }
            pos += 1
            s.next.append(start..<pos)
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
    ///  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    static func llama3(_ s: inout Scratch, _ r: Range<Int>, maxDigits: Int) {
        let lo = r.lowerBound, hi = r.upperBound
        @inline(__always) func fl(_ p: Int) -> UInt8 { p >= lo && p < hi ? s.flags[p] : 0 }
        @inline(__always) func cp(_ p: Int) -> UInt32 { p >= lo && p < hi ? s.cps[p] : 0xFFFF_FFFF }
        @inline(__always) func lower(_ c: UInt32) -> UInt32 { c >= 0x41 && c <= 0x5A ? c + 32 : c }
        var pos = lo
        var prevEnd = lo
        @inline(__always) func add(_ end: Int) {
            if end > prevEnd { s.next.append(prevEnd..<end) }
            prevEnd = end
        }
        while pos < hi {
            let c = s.cps[pos]
            let f = s.flags[pos]
            if c == 0x27 && pos + 1 < hi {
                let n1 = lower(cp(pos + 1))
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {
                    pos += 2; add(pos); continue
                }
                if pos + 2 < hi {
                    let n2 = lower(cp(pos + 2))
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                        pos += 3; add(pos); continue
                    }
                }
            }
            if !(c == 0x0D || c == 0x0A || f & number != 0) {
                if f & letter != 0 || fl(pos + 1) & letter != 0 {
                    pos += 1
                    while fl(pos) & letter != 0 { pos += 1 }
                    add(pos); continue
                }
            }
            if f & number != 0 {
                var ini = pos
                while fl(pos) & number != 0 {
                    pos += 1
                    if pos - ini >= maxDigits { add(pos); ini = pos }
                }
                add(pos); continue
            }
            let sp = c == 0x20
            var f2 = sp ? fl(pos + 1) : f
            if f2 & (space | letter | number) == 0 && f != 0 {
                pos += sp ? 1 : 0
                while f2 & (space | letter | number) == 0 && f2 != 0 {
                    pos += 1
                    f2 = fl(pos)
                }
                var c2 = cp(pos)
                while c2 == 0x0D || c2 == 0x0A { pos += 1; c2 = cp(pos) }
                add(pos); continue
            }
            var nws = 0
            var lastRN = 0
            while fl(pos + nws) & space != 0 {
                let c2 = cp(pos + nws)
                if c2 == 0x0D || c2 == 0x0A { lastRN = pos + nws + 1 }
                nws += 1
            }
            if lastRN > 0 { pos = lastRN; add(pos); continue }
            if nws > 1 && cp(pos + nws) != 0xFFFF_FFFF { pos += nws - 1; add(pos); continue }
            if nws > 0 { pos += nws; add(pos); continue }
            pos += 1
            add(pos)
        }
    }
}

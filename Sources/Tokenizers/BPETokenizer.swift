// Byte-level BPE tokenizer for GGUF `tokenizer.ggml.model = gpt2` (SmolLM2, Llama 3, Qwen2 …),
// the algorithm of llama.cpp's `llm_tokenizer_bpe`:
// 1. special tokens are split out first (user-defined always, control when parsing specials),
// 2. each raw fragment is split into words by the pre-tokenizer (`tokenizer.ggml.pre`),
// 3. each word's bytes are mapped to printable characters (GPT-2's byte-to-unicode table) and
//    start as one symbol per byte; adjacent symbols are merged by `tokenizer.ggml.merges` rank,
//    lowest rank first (ties: leftmost), with a priority queue per word,
// 4. every final symbol is a vocabulary token (or, failing that, its bytes one by one).
//
// Pieces are handled as integer ids: vocabulary tokens keep their ids; strings that appear in
// merges without being tokens get extra ids past the vocabulary, so merging never hashes strings.

/// GPT-2's reversible byte <-> printable character mapping.
enum ByteLevel {
    /// byte -> code point.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n
                n += 1
            }
        }
        return table
    }()

    /// byte -> UTF-8 of its printable character.
    static let byteToUTF8: [[UInt8]] = byteToScalar.map { utf8(of: $0) }

    /// code point (< 512) -> byte + 1 (0: not in the mapping).
    private static let scalarToByte: [UInt16] = {
        var t = [UInt16](repeating: 0, count: 512)
        for (b, s) in byteToScalar.enumerated() { t[Int(s)] = UInt16(b) + 1 }
        return t
    }()

    /// code point -> byte (nil when the code point is not in the mapping).
    static func byte(for scalar: UInt32) -> UInt8? {
        guard scalar < 512 else { return nil }
        let v = scalarToByte[Int(scalar)]
        return v == 0 ? nil : UInt8(v - 1)
    }

    static func utf8(of scalar: UInt32) -> [UInt8] {
        guard let s = Unicode.Scalar(scalar) else { return [] }
        return Array(String(Character(s)).utf8)
    }

    /// Decodes a vocabulary string (mapped characters) back to raw bytes as one new piece;
    /// characters outside the mapping are kept as their UTF-8.
    static func decode(_ text: ArraySlice<UInt8>, into pieces: inout PieceTable) {
        var i = text.startIndex
        let end = text.endIndex
        while i < end {
            let b0 = text[i]
            var len = 1
            var c = UInt32(b0)
            if b0 >= 0xC0 && b0 < 0xE0 && i + 1 < end {
                len = 2
                c = UInt32(b0 & 0x1F) << 6 | UInt32(text[i + 1] & 0x3F)
            } else if b0 >= 0xE0 {
                len = b0 >= 0xF0 ? 4 : 3  // outside the mapping either way
            }
            if let b = byte(for: c), len <= 2 {
                pieces.push(b)
            } else {
                for k in i..<min(i + len, end) { pieces.push(text[k]) }
            }
            i += len
        }
        pieces.endPiece()
    }
}

/// Byte-level BPE (llama.cpp `gpt2` vocabulary) tokenizer built from GGUF metadata.
public final class BPETokenizer: TextTokenizer {
    let vocab: GGUFVocab
    let pieces: PieceTable
    let preTokenizer: BPEPreTokenizer
    /// Vocabulary tokens (ids < vocabSize) then extra merge strings.
    let pieceTexts: ByteStringTable
    let ranks: PairRankTable
    /// byte -> piece id of its mapped character (-1: not a piece).
    let bytePieces: [Int32]

    public init(vocabulary: TokenizerVocabulary) throws {
        guard let pre = BPEPreTokenizer(name: vocabulary.preTokenizer) else {
            throw TokenizersError.unsupportedPreTokenizer(file: vocabulary.source, pre: vocabulary.preTokenizer)
        }
        preTokenizer = pre
        let v = try GGUFVocab(vocabulary)
        vocab = v
        var pieces = PieceTable()
        pieces.reserve(pieces: v.count, bytes: v.texts.storage.count)
        for i in 0..<v.count {
            let text = v.texts.bytes(of: i)
            switch v.types[i] {
            case .normal: ByteLevel.decode(text, into: &pieces)
            case .userDefined, .control, .unknown: pieces.append(text)
            default: pieces.append([])
            }
        }
        self.pieces = pieces
        var table = v.texts
        var ranks = PairRankTable(capacity: vocabulary.merges.count)
        func intern(_ bytes: ArraySlice<UInt8>) -> Int32 {
            let id = table.lookup(bytes)
            return id >= 0 ? id : table.append(bytes)
        }
        var bytes: [UInt8] = [], joined: [UInt8] = []
        for (rank, merge) in vocabulary.merges.enumerated() {
            // "left right": split at the first space (the mapped alphabet has no plain space)
            bytes.removeAll(keepingCapacity: true)
            bytes.append(contentsOf: merge.utf8)
            guard let sp = bytes.firstIndex(of: 0x20), sp > 0, sp + 1 < bytes.count else {
                throw TokenizersError.malformed(file: vocabulary.source, detail: "merge \(rank) '\(merge)' is not 'left right'")
            }
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: bytes[0..<sp])
            joined.append(contentsOf: bytes[(sp + 1)...])
            let l = intern(bytes[0..<sp]), r = intern(bytes[(sp + 1)...])
            let m = intern(joined[...])
            ranks.insertIfAbsent(l, r, rank: Int32(rank), merged: m)
        }
        pieceTexts = table
        self.ranks = ranks
        bytePieces = (0..<256).map { table.lookup(ByteLevel.byteToUTF8[$0]) }
    }

    // MARK: TextTokenizer

    public var vocabSize: Int { vocab.count }
    public var bosID: Int32? { vocab.bos }
    public var eosID: Int32? { vocab.eos }
    public var eotIDs: [Int32] { vocab.eotIDs }
    public var endOfGenerationIDs: Set<Int32> { vocab.endOfGeneration }
    public var addsBOS: Bool { vocab.addBOS }
    public var addsEOS: Bool { vocab.addEOS }

    public func tokenize(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        var state = BPEState()
        return vocab.tokenize(text, addBOS: addBOS, parseSpecial: parseSpecial) { frag, _, out in
            encode(frag, state: &state, into: &out)
        }
    }

    public func decode(_ ids: [Int32], renderSpecial: Bool) -> String {
        var out: [UInt8] = []
        vocab.appendPieces(ids, renderSpecial: renderSpecial, pieces: pieces, stripLeadingSpace: false, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func pieceBytes(_ id: Int32, renderSpecial: Bool) -> [UInt8] {
        vocab.pieceBytes(id, renderSpecial: renderSpecial, pieces: pieces)
    }

    public func tokenString(_ id: Int32) -> String? { vocab.text(id) }
    public func tokenID(_ string: String) -> Int32? { vocab.id(string) }
    public func tokenType(_ id: Int32) -> GGUFTokenType? { vocab.type(id) }

    // MARK: algorithm

    struct Symbol {
        var piece: Int32
        var start: Int32
        var n: Int32
        var prev: Int32
        var next: Int32
    }

    struct Bigram: Comparable {
        var rank: Int32
        var left: Int32
        var right: Int32
        var leftPiece: Int32
        var rightPiece: Int32
        var merged: Int32
        /// Popped first: lowest rank, then the leftmost.
        static func < (a: Bigram, b: Bigram) -> Bool {
            a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
        }
    }

    struct BPEState {
        var pre = BPEPreTokenizer.Scratch()
        var symbols: [Symbol] = []
        var heap = MergeHeap<Bigram>()
        var mapped: [UInt8] = []
    }

    func encode(_ frag: UnsafeBufferPointer<UInt8>, state: inout BPEState, into out: inout [Int32]) {
        guard let base = frag.baseAddress else { return }
        let words = preTokenizer.split(frag, scratch: &state.pre)
        var symbols: [Symbol] = []
        var heap = MergeHeap<Bigram>()
        swap(&symbols, &state.symbols)
        swap(&heap, &state.heap)
        defer {
            swap(&symbols, &state.symbols)
            swap(&heap, &state.heap)
        }
        let nTokens = Int32(vocab.count)
        for w in words {
            if preTokenizer.kind.ignoresMerges {
                state.mapped.removeAll(keepingCapacity: true)
                for i in w { state.mapped.append(contentsOf: ByteLevel.byteToUTF8[Int(base[i])]) }
                let id = pieceTexts.lookup(state.mapped)
                if id >= 0 && id < nTokens { out.append(id); continue }
            }
            symbols.removeAll(keepingCapacity: true)
            heap.removeAll()
            let count = w.count
            for (k, i) in w.enumerated() {
                symbols.append(Symbol(piece: bytePieces[Int(base[i])], start: Int32(i), n: 1,
                                      prev: Int32(k - 1), next: k + 1 == count ? -1 : Int32(k + 1)))
            }
            symbols.withUnsafeMutableBufferPointer { syms in
                @inline(__always) func tryAdd(_ left: Int32, _ right: Int32) {
                    if left < 0 || right < 0 { return }
                    let lp = syms[Int(left)].piece, rp = syms[Int(right)].piece
                    if lp < 0 || rp < 0 { return }
                    guard let m = ranks.lookup(lp, rp) else { return }
                    heap.push(Bigram(rank: m.rank, left: left, right: right, leftPiece: lp, rightPiece: rp, merged: m.merged))
                }
                for k in 1..<max(count, 1) { tryAdd(Int32(k - 1), Int32(k)) }
                while let bg = heap.pop() {
                    let l = syms[Int(bg.left)], r = syms[Int(bg.right)]
                    // stale: either side changed since the pair was queued
                    if l.n == 0 || r.n == 0 || l.piece != bg.leftPiece || r.piece != bg.rightPiece || l.next != bg.right {
                        continue
                    }
                    syms[Int(bg.left)].n += r.n
                    syms[Int(bg.left)].piece = bg.merged
                    syms[Int(bg.right)].n = 0
                    syms[Int(bg.left)].next = r.next
                    if r.next >= 0 { syms[Int(r.next)].prev = bg.left }
                    tryAdd(syms[Int(bg.left)].prev, bg.left)
                    tryAdd(bg.left, syms[Int(bg.left)].next)
                }
            }
            var k: Int32 = count > 0 ? 0 : -1
            while k >= 0 {
                let s = symbols[Int(k)]
                if s.piece >= 0 && s.piece < nTokens {
                    out.append(s.piece)
                } else {
                    // not a vocabulary token: its mapped bytes, one by one, where they are tokens
                    for i in Int(s.start)..<Int(s.start + s.n) {
                        for b in ByteLevel.byteToUTF8[Int(base[i])] {
                            let t = vocab.texts.lookup([b])
                            if t >= 0 { out.append(t) }
                        }
                    }
                }
                k = s.next
            }
        }
    }
}

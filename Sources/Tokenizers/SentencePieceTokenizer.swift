// SentencePiece tokenizer for GGUF `tokenizer.ggml.model = llama` (Llama 2, Mistral, Gemma …),
// the algorithm of llama.cpp's `llm_tokenizer_spm`:
// 1. special tokens are split out first (user-defined always, control when parsing specials),
// 2. each raw fragment gets a leading space when `add_space_prefix` and it starts the input or
//    follows a special token, then every ' ' becomes '▁' (U+2581),
// 3. the fragment is cut into UTF-8 characters; adjacent symbols whose concatenation is a
//    vocabulary token are merged, best score first (ties: leftmost), with a priority queue,
// 4. a final symbol that is not a token is emitted byte by byte as `<0xNN>` tokens.
// (llama.cpp's `rev_merge` re-segmentation never fires: a merged symbol is always a token.)

/// SentencePiece (llama.cpp SPM) tokenizer built from GGUF metadata.
public final class SentencePieceTokenizer: TextTokenizer {
    let vocab: GGUFVocab
    let pieces: PieceTable
    /// Byte -> token for the byte fallback (`<0xNN>`, else the one-byte token, else unknown; -1: none).
    let byteTokens: [Int32]

    public init(vocabulary: TokenizerVocabulary) throws {
        let v = try GGUFVocab(vocabulary)
        vocab = v
        var pieces = PieceTable()
        pieces.reserve(pieces: v.count, bytes: v.texts.storage.count)
        for i in 0..<v.count {
            let text = v.texts.bytes(of: i)
            switch v.types[i] {
            case .normal:
                Self.unescapeSpaces(text, into: &pieces)
            case .byte:
                if let b = Self.byteValue(text) { pieces.append([b]) } else { pieces.append(text) }
            case .userDefined, .control, .unknown:
                pieces.append(text)
            case .unused, .undefined:
                pieces.append([])
            }
        }
        self.pieces = pieces
        let hex = Array("0123456789ABCDEF".utf8)
        var bt = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // <0xNN>
            var id = v.texts.lookup(name)
            if id < 0 { id = v.texts.lookup([UInt8(b)]) }
            if id < 0 { id = v.unk ?? -1 }
            bt[b] = id
        }
        byteTokens = bt
    }

    /// `<0xNN>` -> NN.
    static func byteValue(_ text: ArraySlice<UInt8>) -> UInt8? {
        let t = Array(text)
        guard t.count == 6, t[0] == 0x3C, t[1] == 0x30, t[2] == 0x78, t[5] == 0x3E else { return nil }
        func h(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        guard let hi = h(t[3]), let lo = h(t[4]) else { return nil }
        return hi << 4 | lo
    }

    /// '▁' (E2 96 81) -> ' ', as one new piece.
    static func unescapeSpaces(_ text: ArraySlice<UInt8>, into pieces: inout PieceTable) {
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == 0xE2, i + 2 < text.endIndex, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                pieces.push(0x20)
                i += 3
            } else {
                pieces.push(text[i])
                i += 1
            }
        }
        pieces.endPiece()
    }

    // MARK: TextTokenizer

    public var vocabSize: Int { vocab.count }
    public var bosID: Int32? { vocab.bos }
    public var eosID: Int32? { vocab.eos }
    public var eotIDs: [Int32] { vocab.eotIDs }
    public var endOfGenerationIDs: Set<Int32> { vocab.endOfGeneration }
    public var addsBOS: Bool { vocab.addBOS }
    public var addsEOS: Bool { vocab.addEOS }
    /// Whether a space is prepended to text at the start or after a special token.
    public var addsSpacePrefix: Bool { vocab.addSpacePrefix }

    public func tokenize(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        var state = SPMState()
        return vocab.tokenize(text, addBOS: addBOS, parseSpecial: parseSpecial) { frag, prevSpecial, out in
            encode(frag, prefixSpace: vocab.addSpacePrefix && prevSpecial, state: &state, into: &out)
        }
    }

    public func decode(_ ids: [Int32], renderSpecial: Bool) -> String {
        var out: [UInt8] = []
        // llama.cpp's detokenize drops the space that add_space_prefix put before the first token.
        vocab.appendPieces(ids, renderSpecial: renderSpecial, pieces: pieces,
                           stripLeadingSpace: vocab.addSpacePrefix, into: &out)
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
        var start: Int32
        var n: Int32
        var prev: Int32
        var next: Int32
    }

    struct Bigram: Comparable {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32
        /// Popped first: higher score, then the leftmost.
        static func < (a: Bigram, b: Bigram) -> Bool {
            a.score > b.score || (a.score == b.score && a.left < b.left)
        }
    }

    /// Scratch buffers reused across the fragments of one call.
    struct SPMState {
        var text: [UInt8] = []
        var symbols: [Symbol] = []
        var heap = MergeHeap<Bigram>()
    }

    private static let utf8Length: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4]

    func encode(_ frag: UnsafeBufferPointer<UInt8>, prefixSpace: Bool, state: inout SPMState, into out: inout [Int32]) {
        // escaped text: optional leading '▁', ' ' -> '▁'
        state.text.removeAll(keepingCapacity: true)
        if prefixSpace { state.text.append(contentsOf: [0xE2, 0x96, 0x81]) }
        for b in frag {
            if b == 0x20 { state.text.append(contentsOf: [0xE2, 0x96, 0x81]) } else { state.text.append(b) }
        }
        if state.text.isEmpty { return }
        // take the scratch buffers out of `state` (no overlapping access inside the closures)
        var symbols: [Symbol] = []
        var heap = MergeHeap<Bigram>()
        swap(&symbols, &state.symbols)
        swap(&heap, &state.heap)
        defer {
            swap(&symbols, &state.symbols)
            swap(&heap, &state.heap)
        }
        symbols.removeAll(keepingCapacity: true)
        heap.removeAll()
        let vocab = self.vocab
        let byteTokens = self.byteTokens
        let nTokens = Int32(vocab.count)
        state.text.withUnsafeBufferPointer { tb in
            guard let base = tb.baseAddress else { return }
            let total = tb.count
            var offs = 0
            var index: Int32 = 0
            while offs < total {
                let len = min(Int(Self.utf8Length[Int(base[offs] >> 4)]), total - offs)
                let sym = Symbol(start: Int32(offs), n: Int32(len), prev: index - 1,
                                 next: offs + len == total ? -1 : index + 1)
                symbols.append(sym)
                offs += len
                index += 1
            }
            symbols.withUnsafeMutableBufferPointer { syms in
                func tryAdd(_ left: Int32, _ right: Int32) {
                    if left < 0 || right < 0 { return }
                    let l = syms[Int(left)], r = syms[Int(right)]
                    let size = Int(l.n + r.n)
                    let tok = vocab.texts.lookup(base + Int(l.start), size)
                    if tok < 0 || tok >= nTokens { return }
                    heap.push(Bigram(score: vocab.scores[Int(tok)], left: left, right: right, size: Int32(size)))
                }
                for i in 1..<max(syms.count, 1) { tryAdd(Int32(i - 1), Int32(i)) }
                while let bg = heap.pop() {
                    let l = syms[Int(bg.left)], r = syms[Int(bg.right)]
                    // stale: one side already merged elsewhere
                    if l.n == 0 || r.n == 0 || l.n + r.n != bg.size { continue }
                    syms[Int(bg.left)].n += r.n
                    syms[Int(bg.right)].n = 0
                    syms[Int(bg.left)].next = r.next
                    if r.next >= 0 { syms[Int(r.next)].prev = bg.left }
                    tryAdd(syms[Int(bg.left)].prev, bg.left)
                    tryAdd(bg.left, syms[Int(bg.left)].next)
                }
                var i: Int32 = 0
                while i != -1 {
                    let s = syms[Int(i)]
                    let tok = vocab.texts.lookup(base + Int(s.start), Int(s.n))
                    if tok >= 0 {
                        out.append(tok)
                    } else {
                        for j in 0..<Int(s.n) {
                            let t = byteTokens[Int(base[Int(s.start) + j])]
                            if t >= 0 { out.append(t) }
                        }
                    }
                    i = s.next
                }
            }
        }
    }
}

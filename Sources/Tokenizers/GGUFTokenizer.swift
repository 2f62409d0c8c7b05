// Tokenizers built from GGUF metadata (`tokenizer.ggml.*`), token-identical to llama.cpp:
// - `tokenizer.ggml.model = llama`: SentencePiece (`SentencePieceTokenizer`),
// - `tokenizer.ggml.model = gpt2`: byte-level BPE (`BPETokenizer`).
// Entry point: `GGUFTokenizerLoader.load(file)`. Streaming detokenisation: `StreamingDetokenizer`.

import Tensors

/// A tokenizer for a language model: text -> token ids -> text.
public protocol TextTokenizer: Sendable {
    /// Number of tokens in the vocabulary.
    var vocabSize: Int { get }
    /// Beginning-of-sequence token, if the vocabulary has one.
    var bosID: Int32? { get }
    /// End-of-sequence token, if the vocabulary has one.
    var eosID: Int32? { get }
    /// End-of-turn tokens (`tokenizer.ggml.eot_token_id` and tokens named like `<end_of_turn>`,
    /// `<|im_end|>`, `<|eot_id|>`, `<|endoftext|>` …), ascending.
    var eotIDs: [Int32] { get }
    /// Every token that ends a generation: EOS, end-of-turn and end-of-message tokens.
    var endOfGenerationIDs: Set<Int32> { get }
    /// Whether the model's own rule prepends BOS (`tokenizer.ggml.add_bos_token`).
    var addsBOS: Bool { get }
    /// Whether the model's own rule appends EOS (`tokenizer.ggml.add_eos_token`).
    var addsEOS: Bool { get }

    /// Tokenizes `text`. `addBOS`: apply the model's own rule for special framing (BOS when
    /// `addsBOS`, EOS when `addsEOS`), like llama.cpp's `add_special`. `parseSpecial`: control
    /// token strings in the text (`<start_of_turn>`, `<|im_start|>` …) become their ids;
    /// user-defined tokens are always matched as whole strings.
    func tokenize(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32]
    /// The text of `ids`. Control tokens render as empty unless `renderSpecial`. Invalid UTF-8
    /// (e.g. a cut multi-byte character) becomes U+FFFD.
    func decode(_ ids: [Int32], renderSpecial: Bool) -> String
    /// The bytes a token contributes to the output text (may be part of a UTF-8 character).
    func pieceBytes(_ id: Int32, renderSpecial: Bool) -> [UInt8]
    /// The token's string in the vocabulary (e.g. `▁world`, `Ġworld`, `<0x0A>`), nil if out of range.
    func tokenString(_ id: Int32) -> String?
    /// The id of a vocabulary string (exact match), nil if absent.
    func tokenID(_ string: String) -> Int32?
    /// The token's type (after llama.cpp's overrides: end-of-turn names become control tokens).
    func tokenType(_ id: Int32) -> GGUFTokenType?
}

extension TextTokenizer {
    public func decode(_ ids: [Int32]) -> String { decode(ids, renderSpecial: false) }

    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationIDs.contains(id) }

    /// A detokenizer that turns generated ids into text pieces, one token at a time.
    public func makeStreamingDetokenizer(renderSpecial: Bool = false) -> StreamingDetokenizer {
        StreamingDetokenizer(tokenizer: self, renderSpecial: renderSpecial)
    }
}

/// Token types of `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`).
public enum GGUFTokenType: Int32, Sendable, Equatable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// Errors of the Tokenizers module's GGUF tokenizers. Each message names the file and the problem.
public enum TokenizersError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A metadata key the tokenizer needs is absent.
    case missingKey(file: String, key: String)
    /// A metadata key has an unexpected value type.
    case wrongKeyType(file: String, key: String, expected: String)
    /// `tokenizer.ggml.model` names a tokenizer this module does not implement.
    case unsupportedModel(file: String, model: String)
    /// `tokenizer.ggml.pre` names a pre-tokenizer this module does not implement.
    case unsupportedPreTokenizer(file: String, pre: String)
    /// Inconsistent tokenizer metadata (array lengths, bad merges, bad special ids …).
    case malformed(file: String, detail: String)

    public var description: String {
        switch self {
        case let .missingKey(f, k): return "\(f): missing tokenizer metadata key '\(k)'"
        case let .wrongKeyType(f, k, e): return "\(f): tokenizer metadata key '\(k)' is not \(e)"
        case let .unsupportedModel(f, m):
            return "\(f): unsupported tokenizer model '\(m)' (tokenizer.ggml.model; supported: llama, gpt2)"
        case let .unsupportedPreTokenizer(f, p):
            return "\(f): unsupported BPE pre-tokenizer '\(p)' (tokenizer.ggml.pre; supported: \(BPEPreTokenizer.supportedNames.joined(separator: ", ")))"
        case let .malformed(f, d): return "\(f): malformed tokenizer metadata: \(d)"
        }
    }
}

/// Everything a GGUF tokenizer is built from (the `tokenizer.ggml.*` metadata). Built by
/// `GGUFTokenizerLoader` from a file, or by hand (tests, tiny vocabularies).
public struct TokenizerVocabulary: Sendable {
    /// `tokenizer.ggml.tokens`.
    public var tokens: [String]
    /// `tokenizer.ggml.scores` (empty: all 0).
    public var scores: [Float]
    /// `tokenizer.ggml.token_type` (empty: all normal).
    public var types: [GGUFTokenType]
    /// `tokenizer.ggml.merges` ("left right", rank = index), BPE only.
    public var merges: [String]
    public var bosID: Int32?
    public var eosID: Int32?
    public var unknownID: Int32?
    public var eotID: Int32?
    public var eomID: Int32?
    public var addBOS: Bool
    public var addEOS: Bool
    /// SentencePiece: prepend a space to text that starts the input or follows a special token.
    public var addSpacePrefix: Bool
    /// BPE pre-tokenizer name (`tokenizer.ggml.pre`).
    public var preTokenizer: String
    /// Where the vocabulary came from (named in errors).
    public var source: String

    public init(tokens: [String], scores: [Float] = [], types: [GGUFTokenType] = [], merges: [String] = [],
                bosID: Int32? = nil, eosID: Int32? = nil, unknownID: Int32? = nil,
                eotID: Int32? = nil, eomID: Int32? = nil,
                addBOS: Bool = false, addEOS: Bool = false, addSpacePrefix: Bool = false,
                preTokenizer: String = "default", source: String = "<memory>") {
        self.tokens = tokens
        self.scores = scores
        self.types = types
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.eotID = eotID
        self.eomID = eomID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.preTokenizer = preTokenizer
        self.source = source
    }
}

/// Builds the tokenizer a GGUF file describes.
public enum GGUFTokenizerLoader {
    /// The tokenizer of `file` (`tokenizer.ggml.model`: `llama` -> SentencePiece, `gpt2` -> BPE).
    /// Throws `TokenizersError` naming the file and the missing or bad key.
    public static func load(_ file: GGUFFile) throws -> any TextTokenizer {
        let model = try string(file, "tokenizer.ggml.model")
        switch model {
        case "llama":
            return try SentencePieceTokenizer(vocabulary: vocabulary(file, model: model))
        case "gpt2":
            return try BPETokenizer(vocabulary: vocabulary(file, model: model))
        default:
            throw TokenizersError.unsupportedModel(file: file.path, model: model)
        }
    }

    /// Opens `path` and loads its tokenizer.
    public static func load(path: String) throws -> any TextTokenizer {
        try load(GGUFFile(path: path))
    }

    /// The `tokenizer.ggml.*` metadata of `file`, with llama.cpp's defaults for absent keys.
    public static func vocabulary(_ file: GGUFFile) throws -> TokenizerVocabulary {
        try vocabulary(file, model: string(file, "tokenizer.ggml.model"))
    }

    static func vocabulary(_ file: GGUFFile, model: String) throws -> TokenizerVocabulary {
        let f = file.path
        guard let tokArr = file.metadata["tokenizer.ggml.tokens"] else {
            throw TokenizersError.missingKey(file: f, key: "tokenizer.ggml.tokens")
        }
        guard let tokens = tokArr.array?.strings else {
            throw TokenizersError.wrongKeyType(file: f, key: "tokenizer.ggml.tokens", expected: "an array of strings")
        }
        var scores: [Float] = []
        if let v = file.metadata["tokenizer.ggml.scores"] {
            guard let s = v.array?.floats else {
                throw TokenizersError.wrongKeyType(file: f, key: "tokenizer.ggml.scores", expected: "an array of numbers")
            }
            guard s.count == tokens.count else {
                throw TokenizersError.malformed(file: f, detail: "tokenizer.ggml.scores has \(s.count) entries for \(tokens.count) tokens")
            }
            scores = s
        }
        var types: [GGUFTokenType] = []
        if let v = file.metadata["tokenizer.ggml.token_type"] {
            guard let t = v.array?.ints else {
                throw TokenizersError.wrongKeyType(file: f, key: "tokenizer.ggml.token_type", expected: "an array of integers")
            }
            guard t.count == tokens.count else {
                throw TokenizersError.malformed(file: f, detail: "tokenizer.ggml.token_type has \(t.count) entries for \(tokens.count) tokens")
            }
            types = t.map { GGUFTokenType(rawValue: Int32(truncatingIfNeeded: $0)) ?? .undefined }
        }
        var merges: [String] = []
        let isBPE = model == "gpt2"
        if isBPE {
            guard let v = file.metadata["tokenizer.ggml.merges"] else {
                throw TokenizersError.missingKey(file: f, key: "tokenizer.ggml.merges")
            }
            guard let m = v.array?.strings else {
                throw TokenizersError.wrongKeyType(file: f, key: "tokenizer.ggml.merges", expected: "an array of strings")
            }
            merges = m
        }
        // llama.cpp defaults per model type, then the file's keys.
        var bos: Int32? = isBPE ? nil : 1
        var eos: Int32? = isBPE ? nil : 2
        var unk: Int32? = isBPE ? nil : 0
        var addBOS = !isBPE
        let pre = try optionalString(file, "tokenizer.ggml.pre") ?? "default"
        if isBPE, BPEPreTokenizer.Kind(name: pre)?.addsBOSByDefault == true { addBOS = true }
        func id(_ key: String, _ current: Int32?) throws -> Int32? {
            guard let v = file.metadata[key] else { return current }
            guard let i = v.int else { throw TokenizersError.wrongKeyType(file: f, key: key, expected: "an integer") }
            // llama.cpp ignores out-of-range special ids (keeps the default).
            return i >= 0 && i < tokens.count ? Int32(i) : current
        }
        bos = try id("tokenizer.ggml.bos_token_id", bos)
        eos = try id("tokenizer.ggml.eos_token_id", eos)
        unk = try id("tokenizer.ggml.unknown_token_id", unk)
        let eot = try id("tokenizer.ggml.eot_token_id", nil)
        let eom = try id("tokenizer.ggml.eom_token_id", nil)
        addBOS = try optionalBool(file, "tokenizer.ggml.add_bos_token") ?? addBOS
        let addEOS = try optionalBool(file, "tokenizer.ggml.add_eos_token") ?? false
        let addSpacePrefix = try optionalBool(file, "tokenizer.ggml.add_space_prefix") ?? !isBPE
        return TokenizerVocabulary(
            tokens: tokens, scores: scores, types: types, merges: merges,
            bosID: bos, eosID: eos, unknownID: unk, eotID: eot, eomID: eom,
            addBOS: addBOS, addEOS: addEOS, addSpacePrefix: addSpacePrefix,
            preTokenizer: pre, source: f)
    }

    private static func string(_ file: GGUFFile, _ key: String) throws -> String {
        guard let v = file.metadata[key] else { throw TokenizersError.missingKey(file: file.path, key: key) }
        guard let s = v.string else { throw TokenizersError.wrongKeyType(file: file.path, key: key, expected: "a string") }
        return s
    }

    private static func optionalString(_ file: GGUFFile, _ key: String) throws -> String? {
        file.metadata[key] == nil ? nil : try string(file, key)
    }

    private static func optionalBool(_ file: GGUFFile, _ key: String) throws -> Bool? {
        guard let v = file.metadata[key] else { return nil }
        guard let b = v.bool else { throw TokenizersError.wrongKeyType(file: file.path, key: key, expected: "a bool") }
        return b
    }
}

/// The vocabulary as llama.cpp's `llama_vocab` sees it once loaded: token texts and types (with
/// the end-of-turn overrides), special ids, the end-of-generation set and the special-token matcher.
struct GGUFVocab: Sendable {
    let source: String
    let texts: ByteStringTable
    let types: [GGUFTokenType]
    let scores: [Float]
    let bos: Int32?
    let eos: Int32?
    let unk: Int32?
    let eotIDs: [Int32]
    let endOfGeneration: Set<Int32>
    let addBOS: Bool
    let addEOS: Bool
    let addSpacePrefix: Bool
    let special: SpecialTokenMatcher

    var count: Int { types.count }

    /// Token names that end a turn (llama.cpp marks them end-of-generation and control).
    static let endOfTurnNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
        "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<|return|>", "<|call|>",
    ]
    /// Fill-in-the-middle token names (llama.cpp forces them to control tokens).
    static let fimNames: Set<String> = [
        "<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>",
        "<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>",
        "<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>",
        "<|fim_pad|>", "<fim-pad>", "<PAD>", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
        "<|file_sep|>",
    ]

    /// Fill-in-the-middle tokens that also end a generation.
    static let fimEndNames: Set<String> = [
        "<|fim_pad|>", "<fim-pad>", "<PAD>", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<|file_sep|>",
    ]

    init(_ v: TokenizerVocabulary) throws {
        let n = v.tokens.count
        guard n > 0 else { throw TokenizersError.malformed(file: v.source, detail: "empty vocabulary (tokenizer.ggml.tokens)") }
        guard n < Int(Int32.max) else { throw TokenizersError.malformed(file: v.source, detail: "vocabulary too large") }
        guard v.scores.isEmpty || v.scores.count == n else {
            throw TokenizersError.malformed(file: v.source, detail: "\(v.scores.count) scores for \(n) tokens")
        }
        guard v.types.isEmpty || v.types.count == n else {
            throw TokenizersError.malformed(file: v.source, detail: "\(v.types.count) token types for \(n) tokens")
        }
        source = v.source
        // llama.cpp renames empty tokens so that every id keeps a distinct text.
        let table = ByteStringTable(vocabulary: v.tokens)
        texts = table
        var types = v.types.isEmpty ? [GGUFTokenType](repeating: .normal, count: n) : v.types
        scores = v.scores.isEmpty ? [Float](repeating: 0, count: n) : v.scores
        func valid(_ id: Int32?) -> Int32? { id.flatMap { $0 >= 0 && Int($0) < n ? $0 : nil } }
        bos = valid(v.bosID)
        eos = valid(v.eosID)
        unk = valid(v.unknownID)
        let eom = valid(v.eomID)
        // End-of-turn tokens by name (only ids that the name lookup resolves to, as llama.cpp's
        // token_to_id map does), forced to control.
        var eot: Set<Int32> = []
        if let e = valid(v.eotID) { eot.insert(e) }
        for name in Self.endOfTurnNames.union(Self.fimNames) {
            let id = table.lookup(name.utf8)
            guard id >= 0 else { continue }
            if Self.endOfTurnNames.contains(name) { eot.insert(id) }
            if types[Int(id)] != .control { types[Int(id)] = .control }
        }
        if let e = eom { eot.remove(e) }
        eotIDs = eot.sorted()
        var eog = eot
        for name in Self.fimEndNames {
            let id = table.lookup(name.utf8)
            if id >= 0 { eog.insert(id) }
        }
        if let e = eos { eog.insert(e) }
        if let e = eom { eog.insert(e) }
        endOfGeneration = eog
        self.types = types
        addBOS = v.addBOS && bos != nil
        addEOS = v.addEOS && eos != nil
        addSpacePrefix = v.addSpacePrefix
        var specials: [(id: Int32, text: [UInt8], always: Bool)] = []
        for i in 0..<n {
            switch types[i] {
            case .control, .unknown: specials.append((Int32(i), Array(table.bytes(of: i)), false))
            case .userDefined: specials.append((Int32(i), Array(table.bytes(of: i)), true))
            default: break
            }
        }
        special = SpecialTokenMatcher(specials: specials)
    }

    func text(_ id: Int32) -> String? {
        guard id >= 0 && Int(id) < count else { return nil }
        return String(decoding: texts.bytes(of: Int(id)), as: UTF8.self)
    }

    func type(_ id: Int32) -> GGUFTokenType? {
        guard id >= 0 && Int(id) < count else { return nil }
        return types[Int(id)]
    }

    func id(_ s: String) -> Int32? {
        let i = texts.lookup(s.utf8)
        return i >= 0 ? i : nil
    }

    /// Shared driver: special-token partition, BOS/EOS framing; `encode` tokenizes one raw
    /// fragment (`prevSpecial`: the fragment starts the input or follows a special token).
    func tokenize(_ text: String, addBOS: Bool, parseSpecial: Bool,
                  encode: (UnsafeBufferPointer<UInt8>, _ prevSpecial: Bool, inout [Int32]) -> Void) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        if addBOS && self.addBOS, let b = bos { out.append(b) }
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBufferPointer { mb in
            let buf = UnsafeBufferPointer(mb)
            var prevSpecial = true
            for frag in special.partition(buf, parseSpecial: parseSpecial) {
                switch frag {
                case let .token(id):
                    out.append(id)
                    prevSpecial = true
                case let .text(r):
                    encode(UnsafeBufferPointer(rebasing: buf[r]), prevSpecial, &out)
                    prevSpecial = false
                }
            }
        }
        if addBOS && self.addEOS, let e = eos { out.append(e) }
        return out
    }
}

/// Rendered token pieces (the bytes each token adds to the text), built once per vocabulary.
struct PieceTable: Sendable {
    private var storage: [UInt8] = []
    private var offsets: [Int] = [0]

    init() {}

    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        storage.append(contentsOf: bytes)
        offsets.append(storage.count)
    }

    /// Builds a piece byte by byte: `push` bytes, then `endPiece`.
    mutating func push(_ b: UInt8) { storage.append(b) }
    mutating func endPiece() { offsets.append(storage.count) }
    mutating func reserve(pieces: Int, bytes: Int) {
        storage.reserveCapacity(bytes)
        offsets.reserveCapacity(pieces + 1)
    }

    func bytes(_ id: Int) -> ArraySlice<UInt8> { storage[offsets[id]..<offsets[id + 1]] }
}

extension GGUFVocab {
    /// Appends the bytes of `ids` (llama.cpp's `token_to_piece` rules) to `out`. `normal`
    /// renders normal and byte tokens; control/unknown tokens render their text only when
    /// `renderSpecial`; user-defined tokens render their text; unused/undefined render nothing.
    func appendPieces(_ ids: [Int32], renderSpecial: Bool, pieces: PieceTable,
                      stripLeadingSpace: Bool, into out: inout [UInt8]) {
        var strip = stripLeadingSpace
        for id in ids {
            guard id >= 0 && Int(id) < count else { strip = false; continue }
            let t = types[Int(id)]
            var slice: ArraySlice<UInt8>
            switch t {
            case .control, .unknown:
                slice = renderSpecial ? texts.bytes(of: Int(id)) : []
            default:
                slice = pieces.bytes(Int(id))
            }
            // the prefix space goes with the first rendered piece (leading BOS/control tokens
            // that render as nothing do not consume it)
            if slice.isEmpty && (t == .control || t == .unknown) { continue }
            if strip, slice.first == 0x20 { slice = slice.dropFirst() }
            strip = false
            out.append(contentsOf: slice)
        }
    }

    func pieceBytes(_ id: Int32, renderSpecial: Bool, pieces: PieceTable) -> [UInt8] {
        var out: [UInt8] = []
        appendPieces([id], renderSpecial: renderSpecial, pieces: pieces, stripLeadingSpace: false, into: &out)
        return out
    }
}

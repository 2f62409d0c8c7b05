// E5FileWriter — writes E5S1 files (layout in E5File.swift): tiny generated models for tests, and
// damaged ones for the error paths.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

public struct E5FileWriter: Sendable {
    public var version: UInt32 = E5File.supportedVersion
    public var header: E5File.Header
    /// Piece texts (UTF-8, `▁` for spaces as SentencePiece stores them) and their scores.
    public var pieces: [String]
    public var scores: [Float]
    public var bos = 0, eos = 2, pad = 1, unk = 3
    public var normalization: [(codePoint: UInt32, replacement: [UInt32])] = []
    private var entries: [(name: String, type: E5TensorType, count: Int, data: [UInt8])] = []

    public init(header: E5File.Header, pieces: [String], scores: [Float]) {
        self.header = header
        self.pieces = pieces
        self.scores = scores
    }

    public mutating func addTensor(_ name: String, floats: [Float]) {
        entries.append((name, .f32, floats.count, floats.flatMap { le($0.bitPattern) }))
    }

    /// Adds `values` quantised to Q4_0 (ggml's quantize_row_q4_0); `values.count` a multiple of 32.
    public mutating func addTensor(_ name: String, q4_0 values: [Float]) {
        entries.append((name, .q4_0, values.count, Self.quantizeQ4_0(values)))
    }

    /// Adds a tensor with the given bytes as is (for damaged files).
    public mutating func addTensor(_ name: String, type: E5TensorType, count: Int, data: [UInt8]) {
        entries.append((name, type, count, data))
    }

    /// Q4_0 blocks of `x`, as ggml quantises: d = max / -8 (max: the value of largest magnitude),
    /// q = min(15, trunc(x / d + 8.5)).
    public static func quantizeQ4_0(_ x: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(x.count / 32 * 18)
        for b in 0..<(x.count / 32) {
            let block = x[(32 * b)..<(32 * b + 32)]
            var amax: Float = 0, mx: Float = 0
            for v in block where abs(v) > amax { amax = abs(v); mx = v }
            let d = mx / -8
            let id: Float = d != 0 ? 1 / d : 0
            out += le(Float16(d).bitPattern)
            var q = [UInt8](repeating: 0, count: 32)
            for (j, v) in block.enumerated() { q[j] = UInt8(min(15, Int8(v * id + 8.5))) }
            for j in 0..<16 { out.append(q[j] | q[j + 16] << 4) }
        }
        return out
    }

    /// The file's bytes; tensor data starts at 64-byte boundaries.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = Array("E5S1".utf8) + le(version)
        let h = header
        for v in [h.hiddenSize, h.layerCount, h.headCount, h.ffnSize, h.vocabSize, h.maxPositions, h.typeVocabSize] {
            out += le(Int32(v))
        }
        out += le(h.layerNormEps.bitPattern) + le(Int32(h.blockSize))
        let texts = pieces.map { Array($0.utf8) }
        let blob = texts.flatMap { $0 }
        out += le(Int32(pieces.count)) + le(Int32(bos)) + le(Int32(eos)) + le(Int32(pad)) + le(Int32(unk))
        out += le(UInt64(blob.count))
        var o: UInt32 = 0
        out += le(o)
        for t in texts { o += UInt32(t.count); out += le(o) }
        for s in scores { out += le(s.bitPattern) }
        out += blob
        var map: [UInt8] = []
        for e in normalization {
            map += le(e.codePoint)
            map.append(UInt8(e.replacement.count))
            for r in e.replacement { map += le(r) }
        }
        out += le(Int32(normalization.count)) + le(UInt32(map.count)) + map
        // Directory, with offsets computed from its own size.
        var directorySize = 4
        for e in entries { directorySize += 2 + e.name.utf8.count + 1 + 4 + 8 + 8 }
        var dataOffset = (out.count + directorySize + 63) / 64 * 64
        var offsets: [Int] = []
        for e in entries {
            offsets.append(dataOffset)
            dataOffset = (dataOffset + e.data.count + 63) / 64 * 64
        }
        out += le(Int32(entries.count))
        for (e, off) in zip(entries, offsets) {
            out += le(UInt16(e.name.utf8.count)) + Array(e.name.utf8) + [e.type.rawValue]
            out += le(UInt32(e.count)) + le(UInt64(off)) + le(UInt64(e.data.count))
        }
        for (e, off) in zip(entries, offsets) {
            out += [UInt8](repeating: 0, count: off - out.count)
            out += e.data
        }
        return out
    }

    public func write(to path: String) throws {
        let data = bytes()
        guard let f = fopen(path, "wb") else {
            throw TensorsError.io(file: path, detail: String(cString: strerror(errno)))
        }
        defer { fclose(f) }
        let written = data.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
        if written != data.count { throw TensorsError.io(file: path, detail: "short write") }
    }

    /// A complete model of the given sizes with random weights (deterministic per seed): every
    /// tensor an E5 encoder reads, with plausible magnitudes (norm weights near 1).
    public static func randomModel(header h: E5File.Header, pieces: [String], scores: [Float], seed: UInt64) -> E5FileWriter {
        var w = E5FileWriter(header: h, pieces: pieces, scores: scores)
        var state = seed
        func next() -> Float {
            // splitmix64 -> [-1, 1)
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 23) - 1
        }
        func random(_ n: Int, _ scale: Float, around centre: Float = 0) -> [Float] { (0..<n).map { _ in centre + scale * next() } }
        let H = h.hiddenSize, F = h.ffnSize
        w.addTensor("emb.word", q4_0: random(h.vocabSize * H, 1))
        w.addTensor("emb.pos", floats: random(h.maxPositions * H, 0.5))
        w.addTensor("emb.type", floats: random(h.typeVocabSize * H, 0.1))
        w.addTensor("emb.ln.w", floats: random(H, 0.1, around: 1))
        w.addTensor("emb.ln.b", floats: random(H, 0.1))
        let scale = 1 / Float(H).squareRoot()
        for l in 0..<h.layerCount {
            for m in ["q", "k", "v", "ao"] {
                w.addTensor("l\(l).\(m).w", q4_0: random(H * H, 2 * scale))
                w.addTensor("l\(l).\(m).b", floats: random(H, 0.1))
            }
            w.addTensor("l\(l).aln.w", floats: random(H, 0.1, around: 1))
            w.addTensor("l\(l).aln.b", floats: random(H, 0.1))
            w.addTensor("l\(l).fi.w", q4_0: random(F * H, 2 * scale))
            w.addTensor("l\(l).fi.b", floats: random(F, 0.1))
            w.addTensor("l\(l).fo.w", q4_0: random(H * F, 2 / Float(F).squareRoot()))
            w.addTensor("l\(l).fo.b", floats: random(H, 0.1))
            w.addTensor("l\(l).oln.w", floats: random(H, 0.1, around: 1))
            w.addTensor("l\(l).oln.b", floats: random(H, 0.1))
        }
        return w
    }
}

@inline(__always) private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}

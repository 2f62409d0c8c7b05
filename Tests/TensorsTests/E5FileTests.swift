import Foundation
import TestSupport
import Testing
import Tensors

/// A tiny E5S1 model: hidden 64, 2 heads, 2 layers, ffn 128, 16 positions, 8 pieces.
func tinyE5Writer(seed: UInt64 = 1) -> E5FileWriter {
    let header = E5File.Header(hiddenSize: 64, layerCount: 2, headCount: 2, ffnSize: 128, vocabSize: 10,
                               maxPositions: 16, typeVocabSize: 2, layerNormEps: 1e-12)
    var w = E5FileWriter.randomModel(header: header, pieces: ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "▁a", "b"],
                                     scores: [0, 0, 0, 0, -2, -3, -1, -4], seed: seed)
    w.normalization = [(0x09, [0x20]), (0xA0, [0x20]), (0xAD, [])]
    return w
}

@Suite("E5S1 reader")
struct E5FileTests {
    @Test("reads the header, the vocabulary, the normalisation map and the tensors of a generated file")
    func readsGeneratedFile() throws {
        let url = temporaryFile("tiny.bin")
        let writer = tinyE5Writer()
        try writer.write(to: url.path)
        let f = try E5File(path: url.path)
        #expect(f.version == 1)
        #expect(f.header == writer.header)
        #expect(f.vocabulary.pieceCount == 8)
        #expect(f.vocabulary.scores == writer.scores)
        let v = f.vocabulary
        #expect(String(decoding: v.pieceBytes[v.pieceOffsets[6]..<v.pieceOffsets[7]], as: UTF8.self) == "▁a")
        #expect((v.bos, v.pad, v.eos, v.unk) == (0, 1, 2, 3))
        #expect(v.normalization.map(\.codePoint) == [0x09, 0xA0, 0xAD])
        #expect(v.normalization[2].replacement.isEmpty)
        #expect(f.tensors.count == 5 + 2 * 16)
        let ln = try f.floats("emb.ln.w", count: 64)
        #expect(ln.allSatisfy { abs($0 - 1) <= 0.1 })
        let word = try f.q4Matrix("emb.word", rows: 10, cols: 64)
        #expect(word.rowBytes == 2 * 18)
        var row = [Float](repeating: 0, count: 64)
        row.withUnsafeMutableBufferPointer { word.dequantizeRow(3, into: $0.baseAddress!) }
        #expect(row.contains { $0 != 0 })
    }

    @Test("a wrong shape, type or name is an error naming the tensor")
    func tensorErrors() throws {
        let url = temporaryFile("tiny.bin")
        try tinyE5Writer().write(to: url.path)
        let f = try E5File(path: url.path)
        #expect(throws: TensorsError.shapeMismatch(file: url.path, name: "emb.ln.w", expected: [65], actual: [64])) {
            try f.floats("emb.ln.w", count: 65)
        }
        #expect(throws: TensorsError.shapeMismatch(file: url.path, name: "l0.q.w", expected: [64, 32], actual: [4096])) {
            try f.q4Matrix("l0.q.w", rows: 64, cols: 32)
        }
        #expect(throws: TensorsError.missingTensor(file: url.path, name: "l9.q.w")) { try f.q4Matrix("l9.q.w", rows: 64, cols: 64) }
        #expect(throws: TensorsError.self) { try f.floats("l0.q.w", count: 4096) }
    }

    @Test("every truncation of a valid file is reported as truncated or malformed, naming the file")
    func truncated() throws {
        let full = tinyE5Writer().bytes()
        let url = temporaryFile("cut.bin")
        // Cut at many points: inside the header, the tokenizer, the directory, the tensor data.
        let cuts = [0, 3, 7, 20, 60, 70, 120, 200] + stride(from: 300, to: full.count, by: full.count / 37) + [full.count - 1]
        for cut in cuts {
            try Data(full[0..<cut]).write(to: url)
            do {
                _ = try E5File(path: url.path)
                Issue.record("a file cut at \(cut) of \(full.count) bytes loaded")
            } catch let e as TensorsError {
                let text = e.description
                #expect(text.hasPrefix(url.path + ":"), "\(text)")
                switch e {
                case .truncated, .malformed: break
                default: Issue.record("cut at \(cut): \(e)")
                }
            }
        }
    }

    @Test("a foreign file, a wrong version and inconsistent sizes are named")
    func foreignAndInconsistent() throws {
        let url = temporaryFile("x.bin")
        try Data("GGUF\u{3}\0\0\0 and then some bytes".utf8).write(to: url)
        #expect(throws: TensorsError.malformed(file: url.path, detail: "not an E5S1 model file (starts with \"GGUF\", expected \"E5S1\")")) {
            try E5File(path: url.path)
        }
        var w = tinyE5Writer()
        w.version = 2
        try w.write(to: url.path)
        #expect(throws: TensorsError.unsupported(file: url.path, detail: "E5S1 version 2 (this reader knows version 1)")) {
            try E5File(path: url.path)
        }
        w = tinyE5Writer()
        w.header.headCount = 5  // 64 is not a multiple of 5
        try w.write(to: url.path)
        #expect(throws: TensorsError.self) { try E5File(path: url.path) }
        w = tinyE5Writer()
        w.unk = 99
        try w.write(to: url.path)
        #expect(throws: TensorsError.malformed(file: url.path, detail: "unk token id 99 outside the 8 pieces")) {
            try E5File(path: url.path)
        }
        w = tinyE5Writer()
        w.addTensor("bad", type: .q4_0, count: 64, data: [UInt8](repeating: 0, count: 10))
        try w.write(to: url.path)
        #expect(throws: TensorsError.malformed(file: url.path, detail: "tensor 'bad': 10 bytes for 64 q4_0 values")) {
            try E5File(path: url.path)
        }
        let missing = url.deletingLastPathComponent().appendingPathComponent("none.bin").path
        #expect(throws: TensorsError.io(file: missing, detail: "No such file or directory")) { try E5File(path: missing) }
    }

    /// Found by Fuzz/E5File: a directory entry whose offset lies past the end of the file (here
    /// 2^64 − 2) was refused, but the message computed `offset + bytes` and trapped on the overflow.
    @Test("a tensor offset near 2^64 is refused as truncated, without overflowing")
    func tensorOffsetPastTheFile() throws {
        let url = temporaryFile("offset.bin")
        var bytes = tinyE5Writer().bytes()
        // Directory entry of `emb.ln.b`: u16 length, the name, u8 type, u32 count, u64 offset, u64 bytes.
        let name = Array("emb.ln.b".utf8)
        let entry = try #require((0..<bytes.count - name.count).first { Array(bytes[$0..<$0 + name.count]) == name })
        let at = entry + name.count + 1 + 4
        for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: (UInt64.max - 1) >> (8 * UInt64(i))) }
        try Data(bytes).write(to: url)
        #expect(throws: TensorsError.truncated(file: url.path, detail: "tensor 'emb.ln.b' needs 256 bytes at offset \(UInt64.max - 1), the file has \(bytes.count)")) {
            try E5File(path: url.path)
        }
    }

    @Test("activation quantisation with an f32 scale: the fast kernel equals its scalar twin")
    func f32ScaleQuantisation() {
        let n = 1024
        var x = randomActivations(n, seed: 8)
        for i in 512..<544 { x[i] = 0 }           // an all-zero block
        x[100] = 127; x[101] = -127                // exact extremes
        for i in 600..<632 { x[i] = Float(i - 616) * 0.5 }  // halves: round to even
        var fast = [UInt8](repeating: 0, count: n / 32 * 40), slow = fast, plain = fast
        x.withUnsafeBufferPointer { xp in
            fast.withUnsafeMutableBytes { Kernels.quantizeQ8_0F32Scale(xp.baseAddress!, n, into: $0.baseAddress!) }
            Kernels.forceGeneric(true)
            plain.withUnsafeMutableBytes { Kernels.quantizeQ8_0F32Scale(xp.baseAddress!, n, into: $0.baseAddress!) }
            Kernels.forceGeneric(false)
            slow.withUnsafeMutableBytes { QuantScalar.quantizeQ8_0F32Scale(xp.baseAddress!, n, into: $0.baseAddress!) }
        }
        #expect(fast == slow)
        #expect(plain == slow)
        // the scale is amax / 127 in f32, not rounded through fp16
        let d = slow.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: Float.self) }
        let amax = x[0..<32].map { abs($0) }.max()!
        #expect(d == amax / 127)
    }

    @Test("Q4_0 matrix product on f32-scale activations: the fast GEMM equals the scalar dot per output")
    func matmulOnF32ScaleActivations() {
        let rows = 12, cols = 256, count = 11
        let w = GGUFWriter.randomTensorData(.q4_0, rows: rows, cols: cols, seed: 4)
        var acts = [UInt8](repeating: 0, count: count * cols / 32 * 40)
        for t in 0..<count {
            let x = randomActivations(cols, seed: 40 + UInt64(t))
            x.withUnsafeBufferPointer { xp in
                acts.withUnsafeMutableBytes { Kernels.quantizeQ8_0F32Scale(xp.baseAddress!, cols, into: $0.baseAddress! + t * cols / 32 * 40) }
            }
        }
        var out = [Float](repeating: 0, count: count * rows)
        w.withUnsafeBytes { wr in
            acts.withUnsafeBytes { ar in
                let m = QMatrix(type: .q4_0, data: wr.baseAddress!, rows: rows, cols: cols)
                out.withUnsafeMutableBufferPointer { o in
                    Kernels.matmul(o.baseAddress!, outStride: rows, m, rows: 0..<rows, acts: ar.baseAddress!,
                                   actStride: cols / 32 * 40, count: count)
                }
                for t in 0..<count {
                    for r in 0..<rows {
                        let s = QuantScalar.dot(.q4_0, cols, wr.baseAddress! + r * m.rowBytes, ar.baseAddress! + t * cols / 32 * 40)
                        #expect(relClose(out[t * rows + r], s, 1e-5), "t \(t) r \(r): \(out[t * rows + r]) vs \(s)")
                    }
                }
            }
        }
    }

    @Test("e5 product on repacked Q4_0: the AVX2 kernel, the plain C one and the Swift twin give the same bits")
    func packedProductMatchesTwin() throws {
        let rows = 48, cols = 384, count = 37
        let w = GGUFWriter.randomTensorData(.q4_0, rows: rows, cols: cols, seed: 9)
        let stride = cols / 32 * 40
        var acts = [UInt8](repeating: 0, count: count * stride)
        for t in 0..<count {
            var x = randomActivations(cols, seed: 90 + UInt64(t))
            if t == 5 { for i in 0..<cols { x[i] = i % 2 == 0 ? 127 : -128 } }  // extreme bytes: int16 sums near their limit
            x.withUnsafeBufferPointer { xp in
                acts.withUnsafeMutableBytes { Kernels.quantizeQ8_0F32Scale(xp.baseAddress!, cols, into: $0.baseAddress! + t * stride) }
            }
        }
        try w.withUnsafeBytes { wr in
            let m = QMatrix(type: .q4_0, data: wr.baseAddress!, rows: rows, cols: cols)
            let packed = try #require(PackedQ4Matrix(m))
            acts.withUnsafeBytes { ar in
                var fast = [Float](repeating: 0, count: count * rows), plain = fast, split = fast
                fast.withUnsafeMutableBufferPointer {
                    Kernels.matmul($0.baseAddress!, outStride: rows, packed, rows: 0..<rows, acts: ar.baseAddress!, actStride: stride, count: count)
                }
                Kernels.forceGeneric(true)
                plain.withUnsafeMutableBufferPointer {
                    Kernels.matmul($0.baseAddress!, outStride: rows, packed, rows: 0..<rows, acts: ar.baseAddress!, actStride: stride, count: count)
                }
                Kernels.forceGeneric(false)
                // the AVX2 kernel where the VNNI one runs: the same bits too
                var narrow = fast
                Kernels.forceNoAVX512(true)
                narrow.withUnsafeMutableBufferPointer {
                    Kernels.matmul($0.baseAddress!, outStride: rows, packed, rows: 0..<rows, acts: ar.baseAddress!, actStride: stride, count: count)
                }
                Kernels.forceNoAVX512(false)
                #expect(narrow == plain)
                // rows and tokens in pieces: the same outputs
                split.withUnsafeMutableBufferPointer { o in
                    for (r0, r1) in [(0, 8), (8, 40), (40, 48)] {
                        for (t0, t1) in [(0, 1), (1, 30), (30, 37)] {
                            Kernels.matmul(o.baseAddress! + t0 * rows + r0, outStride: rows, packed, rows: r0..<r1,
                                           acts: ar.baseAddress! + t0 * stride, actStride: stride, count: t1 - t0)
                        }
                    }
                }
                #expect(fast == plain)
                #expect(fast == split)
                for t in 0..<count {
                    for r in 0..<rows {
                        let twin = QuantScalar.dotE5(cols, wr.baseAddress! + r * m.rowBytes, ar.baseAddress! + t * stride)
                        #expect(fast[t * rows + r] == twin, "t \(t) r \(r)")
                    }
                }
            }
        }
        #expect(PackedQ4Matrix(QMatrix(type: .q4_0, data: UnsafeRawPointer(bitPattern: 64)!, rows: 12, cols: 64)) == nil)
    }
}

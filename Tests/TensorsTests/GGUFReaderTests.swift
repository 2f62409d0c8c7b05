import Foundation
import TestSupport
import Testing
import Tensors

@Suite("GGUF reader")
struct GGUFReaderTests {
    static func tmp(_ name: String) -> String {
        NSTemporaryDirectory() + "gguf-test-\(getpid())-\(name).gguf"
    }

    static func sampleWriter(version: UInt32 = 3) -> GGUFWriter {
        var w = GGUFWriter(version: version)
        w.set("general.architecture", .string("llama"))
        w.set("u8", .uint8(200)); w.set("i8", .int8(-5)); w.set("u16", .uint16(60000)); w.set("i16", .int16(-300))
        w.set("u32", .uint32(4_000_000_000)); w.set("i32", .int32(-7)); w.set("u64", .uint64(1 << 40))
        w.set("i64", .int64(-(1 << 40))); w.set("f32", .float32(1.5)); w.set("f64", .float64(-2.25))
        w.set("b", .bool(true)); w.set("s", .string("héllo ✓"))
        w.set("strings", .array(.string(["a", "", "<0x0A>", "élan"])))
        w.set("floats", .array(.float32([-1000, 0.5, 3])))
        w.set("ints", .array(.int32([3, -1, 7])))
        w.set("nested", .array(.array([.uint8([1, 2]), .string(["x"])])))
        w.addTensor("a", dims: [4, 2], floats: [1, 2, 3, 4, 5, 6, 7, 8])
        w.addTensor("q", dims: [64, 3], type: .q8_0, data: GGUFWriter.randomTensorData(.q8_0, rows: 3, cols: 64, seed: 1))
        w.addTensor("k", dims: [256, 1], type: .q4_K, data: GGUFWriter.randomTensorData(.q4_K, rows: 1, cols: 256, seed: 2))
        return w
    }

    @Test(arguments: [UInt32(2), 3])
    func readsEveryValueType(version: UInt32) throws {
        let path = Self.tmp("all-\(version)")
        try Self.sampleWriter(version: version).write(to: path)
        defer { unlink(path) }
        let f = try GGUFFile(path: path)
        #expect(f.version == version)
        #expect(f.architecture == "llama")
        #expect(try f.int("u8") == 200)
        #expect(try f.int("i8") == -5)
        #expect(try f.int("u16") == 60000)
        #expect(try f.int("i16") == -300)
        #expect(try f.int("u32") == 4_000_000_000)
        #expect(try f.int("i32") == -7)
        #expect(try f.int("u64") == 1 << 40)
        #expect(try f.int("i64") == -(1 << 40))
        #expect(try f.float("f32") == 1.5)
        #expect(try f.float("f64") == -2.25)
        #expect(try f.bool("b"))
        #expect(try f.string("s") == "héllo ✓")
        #expect(try f.strings("strings") == ["a", "", "<0x0A>", "élan"])
        #expect(try f.floats("floats") == [-1000, 0.5, 3])
        #expect(try f.ints("ints") == [3, -1, 7])
        #expect(f.metadata["nested"] == .array(.array([.uint8([1, 2]), .string(["x"])])))
        #expect(f.keys.first == "general.architecture")
        #expect(f.alignment == 32)
        #expect(f.dataOffset % 32 == 0)
        #expect(f.tensors.map(\.name) == ["a", "q", "k"])
        let a = try f.tensorInfo("a")
        #expect(a.dims == [4, 2] && a.type == .f32 && a.byteCount == 32)
        #expect(try f.floatVector("a") == [1, 2, 3, 4, 5, 6, 7, 8])
        let q = try f.matrix("q")
        #expect(q.rows == 3 && q.cols == 64 && q.rowBytes == 68)
        let raw = GGUFWriter.randomTensorData(.q8_0, rows: 3, cols: 64, seed: 1)
        #expect(Array(UnsafeRawBufferPointer(start: q.data, count: raw.count)) == raw)
        #expect(try f.tensorInfo("k").type == .q4_K)
    }

    @Test func customAlignment() throws {
        var w = Self.sampleWriter()
        w.set("general.alignment", .uint32(64))
        let path = Self.tmp("align")
        try w.write(to: path)
        defer { unlink(path) }
        let f = try GGUFFile(path: path)
        #expect(f.alignment == 64)
        #expect(f.dataOffset % 64 == 0)
        #expect(f.tensors.allSatisfy { $0.offset % 64 == 0 })
        #expect(try f.floatVector("a") == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    func expectError(_ bytes: [UInt8], name: String, _ check: (GGUFError) -> Bool) throws {
        let path = Self.tmp(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        do {
            _ = try GGUFFile(path: path)
            Issue.record("expected an error for \(name)")
        } catch let e as GGUFError {
            #expect(check(e), "unexpected error \(e)")
            #expect(e.description.contains(path), "message must name the file: \(e)")
        }
    }

    @Test func badMagic() throws {
        var b = Self.sampleWriter().bytes()
        b[0] = UInt8(ascii: "X")
        try expectError(b, name: "magic") { if case .badMagic = $0 { return true }; return false }
    }

    @Test(arguments: [UInt32(1), 4])
    func unsupportedVersion(v: UInt32) throws {
        var b = Self.sampleWriter().bytes()
        b[4] = UInt8(v)
        try expectError(b, name: "version\(v)") { if case .unsupportedVersion(_, let got) = $0 { return got == v }; return false }
    }

    @Test func truncatedEverywhere() throws {
        let b = Self.sampleWriter().bytes()
        let f = try { () throws -> GGUFFile in
            let p = Self.tmp("full"); try Data(b).write(to: URL(fileURLWithPath: p)); defer { unlink(p) }
            return try GGUFFile(path: p)
        }()
        // Cutting inside the header region: truncated; cutting inside the data: out of bounds.
        let last = f.tensors[f.tensors.count - 1]
        let end = f.dataOffset + last.offset + last.byteCount // bytes after this are padding
        for cut in Array(stride(from: 5, to: f.dataOffset + 40, by: 13)) + [end - 1, end - 100] {
            let path = Self.tmp("cut")
            try Data(b[0..<cut]).write(to: URL(fileURLWithPath: path))
            defer { unlink(path) }
            do {
                _ = try GGUFFile(path: path)
                Issue.record("no error when cut at \(cut)")
            } catch let e as GGUFError {
                switch e {
                case .truncated: #expect(cut < f.dataOffset + 1)
                case .tensorOutOfBounds: #expect(cut >= f.dataOffset - 32)
                default: Issue.record("cut at \(cut): unexpected \(e)")
                }
            }
        }
    }

    @Test func unknownTensorType() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.addTensor("t", dims: [32], floats: Array(repeating: 0, count: 32))
        var b = w.bytes()
        // The tensor type is the uint32 after the name and the single dimension.
        let nameEnd = b.count - 32 * 4 // data
        _ = nameEnd
        let header = 4 + 4 + 8 + 8
        let kvLen = 8 + "general.architecture".utf8.count + 4 + 8 + "llama".utf8.count
        let typeOffset = header + kvLen + 8 + 1 + 4 + 8
        #expect(b[typeOffset] == 0)
        b[typeOffset] = 5 // removed Q4_2
        try expectError(b, name: "type") { if case .unknownTensorType(_, "t", 5) = $0 { return true }; return false }
    }

    @Test func tensorOutOfBounds() throws {
        var w = GGUFWriter()
        w.addTensor("t", dims: [32], floats: Array(repeating: 1, count: 32))
        var b = w.bytes()
        b.removeLast(16)
        try expectError(b, name: "oob") { if case .tensorOutOfBounds(_, "t", _) = $0 { return true }; return false }
    }

    @Test func missingTensorAndKey() throws {
        let path = Self.tmp("missing")
        try Self.sampleWriter().write(to: path)
        defer { unlink(path) }
        let f = try GGUFFile(path: path)
        #expect(throws: GGUFError.missingTensor(file: path, name: "nope")) { try f.tensorInfo("nope") }
        #expect(throws: GGUFError.missingKey(file: path, key: "llama.block_count")) { try f.int("llama.block_count") }
        #expect(throws: GGUFError.wrongKeyType(file: path, key: "s", expected: "an integer")) { try f.int("s") }
        #expect(try f.optionalInt("absent") == nil)
    }

    /// Opens `bytes` as a GGUF file: it must be refused with a `GGUFError` naming the file.
    static func expectRefused(_ bytes: [UInt8], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = tmp(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        do {
            let f = try GGUFFile(path: path)
            Issue.record("opened, with tensors \(f.tensors.map(\.dims))", sourceLocation: sourceLocation)
        } catch let error as GGUFError {
            #expect(error.description.contains(path), sourceLocation: sourceLocation)
        }
    }

    /// Found by Fuzz/GGUF: dimensions (each up to 2^37) whose product, or its byte count, passes
    /// Int.max trapped with an arithmetic overflow in `byteCount(elements:)` while the file was opened.
    /// [0, 2^36, 2^36] (found later by the same fuzzer): no elements, but `matrix` overflowed on its rows.
    @Test(arguments: [[1 << 36, 1 << 30], [1 << 36, 1 << 26], [1 << 36, 1 << 36, 1 << 36, 1 << 36], [0, 1 << 36, 1 << 36]])
    func dimensionsPastIntMaxAreRefused(dims: [Int]) throws {
        var w = GGUFWriter()
        w.addTensor("huge", dims: dims, type: .f32, data: [0, 0, 0, 0])
        try Self.expectRefused(w.bytes(), "huge-\(dims.count)-\(dims[0])-\(dims[1])")
    }

    /// Found by Fuzz/GGUF (a 10 s timeout): `floatVector` of a tensor of dims [0, 2^30] looped
    /// over 2^30 empty rows. It now returns no values at once.
    @Test(.timeLimit(.minutes(1))) func emptyTensorWithManyRows() throws {
        let path = Self.tmp("empty-rows")
        var w = GGUFWriter()
        w.addTensor("empty", dims: [0, 1 << 30], type: .f32, data: [])
        try w.write(to: path)
        defer { unlink(path) }
        let start = ContinuousClock.now
        #expect(try GGUFFile(path: path).floatVector("empty") == [])
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    /// The input Fuzz/GGUF found (minimised, 305 bytes): 13 metadata values, then one F32 tensor of
    /// dims [2^32, 2214592512], 2^63 elements.
    @Test func fuzzCrashDimensionOverflow() throws {
        let bytes = [UInt8](Data(base64Encoded: "R0dVRgMAAAABAAAAAAAAAA0AAAAAAAAAAgAAAAAAAAB1OAAAAAABAgAAAAAAAABpOAEAAAD/AwAAAAAAAADYATYCAAAAAgADAAAAAAAAAGkxNgMAAAD+/wMAAAAAAAAAdTMyBAAAAAMAAAADAAAAAAAAAGkzMgUAAAD9////AwAAAAAAAAAGAAAAAAAAPwEAAAAAAAAAYgcAAAABAQAAAAAAAABzCAAAAAUAAAAAAAAAw6l0w6kDAAAAAAAAAHUzMgAAAAAAAwAAAAAAAABpNjQLAAAA/P//ATIzAP8DAAAAAAAAAGY2NAwAAAAAAAAAAADQPwEAAAAAAAAAYQsAAAAJAAAAAgAAAAAAAAAAAAAAAgAAAAAAAAABAAAAAAAAhAAAAAAAAAAAAAAAAAAAAAA=")!)
        try Self.expectRefused(bytes, "fuzz-dims-overflow")
    }

    @Test func missingFile() {
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/x.gguf") }
    }
}

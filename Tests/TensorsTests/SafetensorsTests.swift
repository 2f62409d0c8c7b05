import Foundation
import Testing
import Tensors
import TestSupport

/// Writes a safetensors file: `tensors` are (name, dtype, shape, raw bytes).
func writeSafetensors(_ url: URL, tensors: [(String, String, [Int], [UInt8])], metadata: [String: String]? = nil,
                      headerPadding: Int = 0) throws {
    var header: [String: Any] = [:]
    var data: [UInt8] = []
    for (name, dtype, shape, bytes) in tensors {
        header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [data.count, data.count + bytes.count]]
        data += bytes
    }
    if let metadata { header["__metadata__"] = metadata }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    json.append(contentsOf: [UInt8](repeating: 0x20, count: headerPadding))
    var file = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(json)
    file.append(contentsOf: data)
    try file.write(to: url)
}

func bytes(_ floats: [Float]) -> [UInt8] { floats.withUnsafeBytes { Array($0) } }
func bytes(_ halves: [UInt16]) -> [UInt8] { halves.withUnsafeBytes { Array($0) } }

func temporaryFile(_ name: String) -> URL {
    let dir = TestDirectory.make("tensors-tests")
    return dir.appendingPathComponent(name)
}

@Suite("Safetensors reader")
struct SafetensorsTests {
    @Test("reads F32, F16 and BF16 tensors as Float, with shapes and metadata")
    func readsDTypes() throws {
        let url = temporaryFile("a.safetensors")
        let f32: [Float] = [1, -2.5, 3.25, 0, 1e-3, 65504]
        // F16: 1, -2, 0.5, 65504, smallest subnormal, -0
        let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x8000]
        // BF16: the upper halves of Float bit patterns.
        let bfValues: [Float] = [1, -3, 0.15625, 1e10]
        let bf16 = bfValues.map { UInt16($0.bitPattern >> 16) }
        try writeSafetensors(url, tensors: [
            ("a.f32", "F32", [2, 3], bytes(f32)),
            ("b.f16", "F16", [6], bytes(f16)),
            ("c.bf16", "BF16", [2, 2], bytes(bf16)),
            ("d.i64", "I64", [1, 2], [UInt8](repeating: 0, count: 16)),
        ], metadata: ["format": "pt"])
        let file = try SafetensorsFile(url: url)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.names == ["a.f32", "b.f16", "c.bf16", "d.i64"])
        #expect(try file.info("a.f32").shape == [2, 3])
        #expect(try file.floats("a.f32") == f32)
        #expect(try file.floats("a.f32", shape: [2, 3]) == f32)
        #expect(try file.floats("b.f16") == [1, -2, 0.5, 65504, Float(bitPattern: 0x3380_0000), -0.0])
        #expect(try file.floats("b.f16")[5].sign == .minus)
        #expect(try file.floats("c.bf16") == bfValues.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
        #expect(try file.bytes("d.i64").count == 16)
    }

    @Test("half-precision conversion matches Float16 for every bit pattern")
    func halfConversion() {
        #if arch(x86_64) || arch(arm64)
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let got = SafetensorsFile.floatFromHalfBits(bits)
            #expect(got.bitPattern == expected.bitPattern || (got.isNaN && expected.isNaN), "bits \(bits)")
            if got.bitPattern != expected.bitPattern && !(got.isNaN && expected.isNaN) { break }
        }
        #endif
    }

    @Test("missing tensor, wrong shape and unsupported dtype are errors naming the file")
    func lookupErrors() throws {
        let url = temporaryFile("b.safetensors")
        try writeSafetensors(url, tensors: [("w", "F32", [2], bytes([1, 2] as [Float])), ("i", "I32", [1], [0, 0, 0, 0])])
        let file = try SafetensorsFile(url: url)
        #expect(throws: TensorsError.missingTensor(file: url.path, name: "nope")) { try file.floats("nope") }
        #expect(throws: TensorsError.shapeMismatch(file: url.path, name: "w", expected: [3], actual: [2])) {
            try file.floats("w", shape: [3])
        }
        do {
            _ = try file.floats("i")
            Issue.record("expected an error")
        } catch let e as TensorsError {
            guard case .unsupported(let f, _) = e else { Issue.record("wrong error \(e)"); return }
            #expect(f == url.path)
            #expect(e.description.contains("I32"))
        }
    }

    @Test("a truncated file is an error naming the file and the problem")
    func truncated() throws {
        let url = temporaryFile("t.safetensors")
        try writeSafetensors(url, tensors: [("w", "F32", [4, 4], bytes([Float](repeating: 1, count: 16)))])
        let full = try Data(contentsOf: url)
        // Cut in the data section.
        try full.prefix(full.count - 5).write(to: url)
        expectError(url, kind: "truncated", mentioning: "'w'")
        // Cut in the JSON header.
        try full.prefix(20).write(to: url)
        expectError(url, kind: "truncated", mentioning: "header")
        // Shorter than the length prefix.
        try full.prefix(5).write(to: url)
        expectError(url, kind: "truncated", mentioning: "8-byte")
        try Data().write(to: url)
        expectError(url, kind: "truncated", mentioning: "0 bytes")
    }

    @Test("bad JSON and inconsistent headers are malformed errors naming the file")
    func malformed() throws {
        let url = temporaryFile("m.safetensors")
        func raw(_ json: String, data: Int = 0) throws {
            var file = Data()
            let j = Data(json.utf8)
            withUnsafeBytes(of: UInt64(j.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(j)
            file.append(contentsOf: [UInt8](repeating: 0, count: data))
            try file.write(to: url)
        }
        try raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], ")
        expectError(url, kind: "malformed", mentioning: "JSON")
        try raw("[1, 2, 3]")
        expectError(url, kind: "malformed", mentioning: "object")
        try raw(#"{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, data: 8)
        expectError(url, kind: "malformed", mentioning: "needs 12")
        try raw(#"{"w": {"dtype": "F32", "shape": [2]}}"#, data: 8)
        expectError(url, kind: "malformed", mentioning: "data_offsets")
        try raw(#"{"w": {"shape": [2], "data_offsets": [0, 8]}}"#, data: 8)
        expectError(url, kind: "malformed", mentioning: "dtype")
        try raw(#"{"w": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}"#, data: 8)
        expectError(url, kind: "unsupported", mentioning: "Q9")
        try raw(#"{"__metadata__": {"a": 1}}"#)
        expectError(url, kind: "malformed", mentioning: "__metadata__")
    }

    @Test("a missing file is an I/O error naming it")
    func missingFile() {
        let url = temporaryFile("absent.safetensors")
        expectError(url, kind: "cannot read", mentioning: "absent.safetensors")
    }

    func expectError(_ url: URL, kind: String, mentioning detail: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SafetensorsFile(url: url)
            Issue.record("expected \(kind) error", sourceLocation: sourceLocation)
        } catch let e as TensorsError {
            let text = e.description
            #expect(text.hasPrefix(url.path), "\(text)", sourceLocation: sourceLocation)
            #expect(text.contains(kind), "\(text)", sourceLocation: sourceLocation)
            #expect(text.contains(detail), "\(text)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }
}

// A small GGUF writer (versions 2 and 3): used by tests to make tiny model files.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

public struct GGUFWriter {
    public var version: UInt32
    public var alignment: Int
    private var kv: [(String, GGUFValue)] = []
    private var tensors: [(name: String, dims: [Int], type: GGMLType, data: [UInt8])] = []

    public init(version: UInt32 = 3, alignment: Int = 32) {
        self.version = version
        self.alignment = alignment
    }

    /// Adds a metadata entry (kept in insertion order). Adding `general.alignment` changes the alignment.
    /// Sets `key` (a key set twice keeps its first place and its last value).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = kv.firstIndex(where: { $0.0 == key }) { kv[i].1 = value } else { kv.append((key, value)) }
        if key == "general.alignment", let a = value.int { alignment = a }
    }

    /// Adds a tensor; `dims[0]` is the row length; `data` must hold exactly its bytes.
    public mutating func addTensor(_ name: String, dims: [Int], type: GGMLType, data: [UInt8]) {
        tensors.append((name, dims, type, data))
    }

    /// Adds an F32 tensor.
    public mutating func addTensor(_ name: String, dims: [Int], floats: [Float]) {
        var b = [UInt8]()
        b.reserveCapacity(floats.count * 4)
        for f in floats { b.append(contentsOf: ggufLE(f.bitPattern)) }
        addTensor(name, dims: dims, type: .f32, data: b)
    }

    /// The file's bytes.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        out += ggufLE(version)
        out += ggufLE(UInt64(tensors.count))
        out += ggufLE(UInt64(kv.count))
        for (k, v) in kv {
            out += ggufStr(k)
            out += ggufLE(Self.typeOf(v).rawValue)
            out += Self.encode(v)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            out += ggufStr(t.name)
            out += ggufLE(UInt32(t.dims.count))
            for d in t.dims { out += ggufLE(UInt64(d)) }
            out += ggufLE(t.type.rawValue)
            out += ggufLE(UInt64(offset))
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file.
    public func write(to path: String) throws {
        let b = bytes()
        guard let f = fopen(path, "wb") else {
            throw GGUFError.io(file: path, detail: String(cString: strerror(errno)))
        }
        defer { fclose(f) }
        let n = b.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        if n != b.count { throw GGUFError.io(file: path, detail: "short write") }
    }

    // MARK: encoding

    static func typeOf(_ v: GGUFValue) -> GGUFValueType {
        switch v {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    static func encode(_ v: GGUFValue) -> [UInt8] {
        switch v {
        case let .uint8(x): return [x]
        case let .int8(x): return [UInt8(bitPattern: x)]
        case let .uint16(x): return ggufLE(x)
        case let .int16(x): return ggufLE(x)
        case let .uint32(x): return ggufLE(x)
        case let .int32(x): return ggufLE(x)
        case let .uint64(x): return ggufLE(x)
        case let .int64(x): return ggufLE(x)
        case let .float32(x): return ggufLE(x.bitPattern)
        case let .float64(x): return ggufLE(x.bitPattern)
        case let .bool(x): return [x ? 1 : 0]
        case let .string(s): return ggufStr(s)
        case let .array(a): return encodeArray(a)
        }
    }

    static func encodeArray(_ a: GGUFArray) -> [UInt8] {
        func head(_ t: GGUFValueType, _ n: Int) -> [UInt8] { ggufLE(t.rawValue) + ggufLE(UInt64(n)) }
        switch a {
        case let .uint8(x): return head(.uint8, x.count) + x
        case let .int8(x): return head(.int8, x.count) + x.map { UInt8(bitPattern: $0) }
        case let .uint16(x): return head(.uint16, x.count) + x.flatMap { ggufLE($0) }
        case let .int16(x): return head(.int16, x.count) + x.flatMap { ggufLE($0) }
        case let .uint32(x): return head(.uint32, x.count) + x.flatMap { ggufLE($0) }
        case let .int32(x): return head(.int32, x.count) + x.flatMap { ggufLE($0) }
        case let .uint64(x): return head(.uint64, x.count) + x.flatMap { ggufLE($0) }
        case let .int64(x): return head(.int64, x.count) + x.flatMap { ggufLE($0) }
        case let .float32(x): return head(.float32, x.count) + x.flatMap { ggufLE($0.bitPattern) }
        case let .float64(x): return head(.float64, x.count) + x.flatMap { ggufLE($0.bitPattern) }
        case let .bool(x): return head(.bool, x.count) + x.map { $0 ? 1 : 0 }
        case let .string(x): return head(.string, x.count) + x.flatMap { ggufStr($0) }
        case let .array(x): return head(.array, x.count) + x.flatMap { encodeArray($0) }
        }
    }

    /// Random but valid tensor bytes of `type` for `rows` × `cols` weights (deterministic per seed):
    /// random quants with small positive fp16 scales, as a trained model would have.
    public static func randomTensorData(_ type: GGMLType, rows: Int, cols: Int, seed: UInt64, scale: Float = 1) -> [UInt8] {
        var rng = GGUFSplitMix(seed: seed)
        let n = rows * cols
        func half(_ f: Float) -> [UInt8] { ggufLE(Float16(f).bitPattern) }
        func unit() -> Float { Float(rng.next() >> 40) / Float(1 << 24) } // [0, 1)
        switch type {
        case .f32: return (0..<n).flatMap { _ in ggufLE(((unit() * 2 - 1) * scale).bitPattern) }
        case .f16: return (0..<n).flatMap { _ in half((unit() * 2 - 1) * scale) }
        case .bf16: return (0..<n).flatMap { _ in ggufLE(UInt16(((unit() * 2 - 1) * scale).bitPattern >> 16)) }
        default: break
        }
        let blocks = n / type.blockSize
        var out = [UInt8]()
        out.reserveCapacity(blocks * type.typeSize)
        for _ in 0..<blocks {
            var b = (0..<type.typeSize).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 24) }
            let nb = type.blockSize
            let d = (0.5 + unit()) * scale * (nb == 32 ? 2.0 / 16 : 2.0 / 16 / 32)
            func put(_ bytes: [UInt8], at o: Int) { for (i, x) in bytes.enumerated() { b[o + i] = x } }
            switch type {
            case .q4_0, .q5_0: put(half(d), at: 0)
            case .q8_0: put(half(d / 8), at: 0)
            case .q4_1, .q5_1: put(half(d), at: 0); put(half(-d * 8), at: 2)
            case .q4_K, .q5_K: put(half(d), at: 0); put(half(d), at: 2)
            case .q6_K: put(half(d / 4), at: 208)
            default: break
            }
            out += b
        }
        return out
    }
}

@inline(__always) private func ggufLE<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}

@inline(__always) private func ggufStr(_ s: String) -> [UInt8] {
    let u = Array(s.utf8)
    return ggufLE(UInt64(u.count)) + u
}

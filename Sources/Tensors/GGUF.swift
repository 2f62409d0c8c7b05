// GGUF reader: memory-mapped, versions 2 and 3 (little-endian).
// Reference: the GGUF specification (ggml/docs/gguf.md): header `GGUF`, uint32 version,
// uint64 tensor count, uint64 metadata count, metadata key/values, tensor infos, then the
// tensor data aligned to `general.alignment` (default 32). Offsets of tensor infos are relative
// to the start of the data section. `dims[0]` is the row length (fastest-moving dimension).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Metadata value types (`gguf_type`).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12
}

/// A typed metadata array. Arrays of strings, floats and ints keep their element type.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16])
    case uint32([UInt32]), int32([Int32]), uint64([UInt64]), int64([Int64])
    case float32([Float]), float64([Double]), bool([Bool]), string([String])
    /// Arrays of arrays (allowed by the spec, unused by known models).
    case array([GGUFArray])

    public var count: Int {
        switch self {
        case let .uint8(a): return a.count
        case let .int8(a): return a.count
        case let .uint16(a): return a.count
        case let .int16(a): return a.count
        case let .uint32(a): return a.count
        case let .int32(a): return a.count
        case let .uint64(a): return a.count
        case let .int64(a): return a.count
        case let .float32(a): return a.count
        case let .float64(a): return a.count
        case let .bool(a): return a.count
        case let .string(a): return a.count
        case let .array(a): return a.count
        }
    }

    /// Integer elements as `Int` (any integer element type), nil otherwise.
    public var ints: [Int]? {
        switch self {
        case let .uint8(a): return a.map { Int($0) }
        case let .int8(a): return a.map { Int($0) }
        case let .uint16(a): return a.map { Int($0) }
        case let .int16(a): return a.map { Int($0) }
        case let .uint32(a): return a.map { Int($0) }
        case let .int32(a): return a.map { Int($0) }
        case let .uint64(a): return a.map { Int(truncatingIfNeeded: $0) }
        case let .int64(a): return a.map { Int($0) }
        case let .bool(a): return a.map { $0 ? 1 : 0 }
        default: return nil
        }
    }

    /// Float elements as `Float` (float32, float64 or integer elements), nil otherwise.
    public var floats: [Float]? {
        switch self {
        case let .float32(a): return a
        case let .float64(a): return a.map { Float($0) }
        default: return ints?.map { Float($0) }
        }
    }

    /// String elements, nil for other element types.
    public var strings: [String]? {
        if case let .string(a) = self { return a }
        return nil
    }
}

/// A metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFArray)

    /// Any integer (or bool) value as `Int`.
    public var int: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        case let .bool(v): return v ? 1 : 0
        default: return nil
        }
    }

    /// Any numeric value as `Float`.
    public var float: Float? {
        switch self {
        case let .float32(v): return v
        case let .float64(v): return Float(v)
        default: return int.map { Float($0) }
        }
    }

    public var bool: Bool? {
        switch self {
        case let .bool(v): return v
        default: return int.map { $0 != 0 }
        }
    }

    public var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var array: GGUFArray? {
        if case let .array(a) = self { return a }
        return nil
    }
}

/// One tensor as described in the file, with a pointer to its mapped data.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// Dimensions, `dims[0]` first (the row length).
    public let dims: [Int]
    public let type: GGMLType
    /// Offset of the data from the start of the data section.
    public let offset: Int
    /// Total number of elements.
    public var elementCount: Int { dims.reduce(1, *) }
    /// Bytes of data.
    public var byteCount: Int { type.byteCount(elements: elementCount) }
}

/// A memory-mapped GGUF file: metadata and tensors. The mapping lives as long as this object.
public final class GGUFFile: @unchecked Sendable {
    /// Path of the file (used in error messages).
    public let path: String
    public let version: UInt32
    /// Metadata in file order.
    public let keys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    public let tensorsByName: [String: Int]
    /// `general.alignment` (default 32).
    public let alignment: Int
    /// Byte offset of the data section in the file.
    public let dataOffset: Int
    /// Size of the file in bytes.
    public let fileSize: Int

    private let base: UnsafeRawPointer
    private let mappedLength: Int

    /// Maps and parses `path`. Throws `GGUFError` naming the file and the problem.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw GGUFError.io(file: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw GGUFError.io(file: path, detail: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        if size < 4 { throw GGUFError.truncated(file: path, detail: "file is \(size) bytes, shorter than the header") }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw GGUFError.io(file: path, detail: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(m)
        do {
            let parsed = try GGUFParser.parse(base: base, size: size, path: path)
            self.version = parsed.version
            self.keys = parsed.keys
            self.metadata = parsed.metadata
            self.tensors = parsed.tensors
            self.alignment = parsed.alignment
            self.dataOffset = parsed.dataOffset
        } catch {
            munmap(m, size)
            throw error
        }
        var byName: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { byName[t.name] = i }
        self.tensorsByName = byName
        self.fileSize = size
        self.base = base
        self.mappedLength = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    /// The architecture (`general.architecture`).
    public var architecture: String? { metadata["general.architecture"]?.string }

    // MARK: typed metadata access

    public func value(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else { throw GGUFError.missingKey(file: path, key: key) }
        return v
    }

    /// The value of `key` seen through `view`; `expected` names the type in the error.
    private func typed<T>(_ key: String, _ view: (GGUFValue) -> T?, _ expected: String) throws -> T {
        guard let v = view(try value(key)) else { throw GGUFError.wrongKeyType(file: path, key: key, expected: expected) }
        return v
    }

    public func int(_ key: String) throws -> Int { try typed(key, \.int, "an integer") }

    public func float(_ key: String) throws -> Float { try typed(key, \.float, "a number") }

    public func string(_ key: String) throws -> String { try typed(key, \.string, "a string") }

    public func bool(_ key: String) throws -> Bool { try typed(key, \.bool, "a bool") }

    public func array(_ key: String) throws -> GGUFArray { try typed(key, \.array, "an array") }

    public func strings(_ key: String) throws -> [String] {
        guard let v = try array(key).strings else { throw GGUFError.wrongKeyType(file: path, key: key, expected: "an array of strings") }
        return v
    }

    public func floats(_ key: String) throws -> [Float] {
        guard let v = try array(key).floats else { throw GGUFError.wrongKeyType(file: path, key: key, expected: "an array of numbers") }
        return v
    }

    public func ints(_ key: String) throws -> [Int] {
        guard let v = try array(key).ints else { throw GGUFError.wrongKeyType(file: path, key: key, expected: "an array of integers") }
        return v
    }

    /// Optional variants: nil when the key is absent (still throw on a wrong type).
    public func optionalInt(_ key: String) throws -> Int? { metadata[key] == nil ? nil : try int(key) }
    public func optionalFloat(_ key: String) throws -> Float? { metadata[key] == nil ? nil : try float(key) }
    public func optionalString(_ key: String) throws -> String? { metadata[key] == nil ? nil : try string(key) }
    public func optionalBool(_ key: String) throws -> Bool? { metadata[key] == nil ? nil : try bool(key) }

    // MARK: tensors

    public func tensorInfo(_ name: String) throws -> GGUFTensorInfo {
        guard let i = tensorsByName[name] else { throw GGUFError.missingTensor(file: path, name: name) }
        return tensors[i]
    }

    public func hasTensor(_ name: String) -> Bool { tensorsByName[name] != nil }

    /// Pointer to the mapped data of a tensor (bounds were checked at load).
    public func data(of info: GGUFTensorInfo) -> UnsafeRawPointer {
        base + dataOffset + info.offset
    }

    /// The tensor `name` as a matrix view (rows = product of dims[1...], cols = dims[0]).
    public func matrix(_ name: String) throws -> QMatrix {
        let info = try tensorInfo(name)
        guard info.type.isSupported else {
            throw GGUFError.unsupported(file: path, detail: "tensor '\(name)' has type \(info.type), which has no kernels")
        }
        let cols = info.dims.first ?? 1
        let rows = info.dims.count > 1 ? info.dims.dropFirst().reduce(1, *) : 1
        return QMatrix(type: info.type, data: data(of: info), rows: rows, cols: cols)
    }

    /// A small tensor converted to `[Float]` (norm weights, biases).
    public func floatVector(_ name: String) throws -> [Float] {
        let m = try matrix(name)
        // No elements: dims like [0, 2^30] would otherwise loop over 2^30 empty rows.
        guard m.rows > 0, m.cols > 0 else { return [] }
        var out = [Float](repeating: 0, count: m.rows * m.cols)
        out.withUnsafeMutableBufferPointer { buf in
            for r in 0..<m.rows { m.dequantizeRow(r, into: buf.baseAddress! + r * m.cols) }
        }
        return out
    }
}

/// Parses the header region of a mapped GGUF file.
enum GGUFParser {
    struct Parsed {
        var version: UInt32
        var keys: [String]
        var metadata: [String: GGUFValue]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    struct Cursor {
        let base: UnsafeRawPointer
        let size: Int
        let path: String
        var pos = 0

        mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
            if n < 0 || pos + n > size || pos + n < pos {
                throw GGUFError.truncated(file: path, detail: "\(what()) at offset \(pos) needs \(n) bytes, file has \(size)")
            }
        }

        mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
            try need(MemoryLayout<T>.size, what())
            let v = T(littleEndian: base.loadUnaligned(fromByteOffset: pos, as: T.self))
            pos += MemoryLayout<T>.size
            return v
        }

        mutating func readString(_ what: @autoclosure () -> String) throws -> String {
            let n = try read(UInt64.self, what())
            guard n <= UInt64(size) else {
                throw GGUFError.truncated(file: path, detail: "\(what()) at offset \(pos - 8) claims \(n) bytes, file has \(size)")
            }
            try need(Int(n), what())
            let s = String(decoding: UnsafeRawBufferPointer(start: base + pos, count: Int(n)), as: UTF8.self)
            pos += Int(n)
            return s
        }

        mutating func readArray<T: FixedWidthInteger>(_: T.Type, count n: Int, _ what: String) throws -> [T] {
            let stride = MemoryLayout<T>.size
            guard n <= size / stride else {
                throw GGUFError.truncated(file: path, detail: "\(what): array of \(n) elements at offset \(pos) exceeds the file")
            }
            try need(n * stride, what)
            let start = base + pos
            let a = [T](unsafeUninitializedCapacity: n) { buf, c in
                for i in 0..<n { buf[i] = T(littleEndian: start.loadUnaligned(fromByteOffset: i * stride, as: T.self)) }
                c = n
            }
            pos += n * stride
            return a
        }
    }

    static func parse(base: UnsafeRawPointer, size: Int, path: String) throws -> Parsed {
        var c = Cursor(base: base, size: size, path: path)
        let magic = (0..<4).map { base.load(fromByteOffset: $0, as: UInt8.self) }
        if magic != Array("GGUF".utf8) {
            let shown = magic.allSatisfy({ $0 >= 32 && $0 < 127 })
                ? String(decoding: magic, as: UTF8.self)
                : magic.map { String($0, radix: 16) }.joined(separator: " ")
            throw GGUFError.badMagic(file: path, found: shown)
        }
        c.pos = 4
        let version = try c.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw GGUFError.unsupportedVersion(file: path, version: version)
        }
        let nTensors = try c.read(UInt64.self, "tensor count")
        let nKV = try c.read(UInt64.self, "metadata count")
        // Each KV takes at least 8+4+1 bytes; each tensor info at least 8+4+4+8 bytes.
        guard nKV <= UInt64(size / 13), nTensors <= UInt64(size / 24) else {
            throw GGUFError.truncated(file: path, detail: "header claims \(nKV) metadata entries and \(nTensors) tensors, more than the file can hold")
        }
        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        keys.reserveCapacity(Int(nKV))
        for i in 0..<Int(nKV) {
            let key = try c.readString("key of metadata entry \(i)")
            let rawType = try c.read(UInt32.self, "type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw GGUFError.malformed(file: path, detail: "metadata '\(key)' has unknown value type \(rawType)")
            }
            let v = try readValue(&c, type: type, key: key)
            keys.append(key)
            metadata[key] = v
        }
        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard let ai = a.int, ai > 0, ai & (ai - 1) == 0 else {
                throw GGUFError.malformed(file: path, detail: "general.alignment must be a power of two, got \(a)")
            }
            alignment = ai
        }
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(Int(nTensors))
        for i in 0..<Int(nTensors) {
            let name = try c.readString("name of tensor \(i)")
            let nDims = try c.read(UInt32.self, "dimension count of '\(name)'")
            guard nDims >= 1, nDims <= 4 else {
                throw GGUFError.malformed(file: path, detail: "tensor '\(name)' has \(nDims) dimensions (1 to 4 allowed)")
            }
            var dims: [Int] = []
            for d in 0..<Int(nDims) {
                let v = try c.read(UInt64.self, "dimension \(d) of '\(name)'")
                guard v <= UInt64(Int32.max) * 64 else {
                    throw GGUFError.malformed(file: path, detail: "tensor '\(name)' dimension \(d) is \(v)")
                }
                dims.append(Int(v))
            }
            let rawType = try c.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw GGUFError.unknownTensorType(file: path, tensor: name, type: rawType)
            }
            let offset = try c.read(UInt64.self, "offset of '\(name)'")
            guard (dims.first ?? 0) % type.blockSize == 0 else {
                throw GGUFError.malformed(file: path, detail: "tensor '\(name)' row length \(dims[0]) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            guard offset <= UInt64(size) else {
                throw GGUFError.tensorOutOfBounds(file: path, tensor: name, detail: "offset \(offset) beyond file size \(size)")
            }
            tensors.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: Int(offset)))
        }
        let dataOffset = (c.pos + alignment - 1) / alignment * alignment
        for t in tensors {
            // Element and byte counts in checked arithmetic: dimensions of up to 2^37 each can
            // multiply past Int.max, which `elementCount`, `byteCount` and `matrix` would trap on.
            // Zero dimensions count as 1 here: [0, 2^37, 2^37] has no elements, but its rows
            // (the product of dims[1...]) still overflow in `matrix`.
            var elements = 1, span = 1, overflow = false
            for d in t.dims {
                let (product, o) = span.multipliedReportingOverflow(by: max(d, 1))
                span = product
                overflow = overflow || o
                elements *= overflow ? 0 : d
            }
            let (bytes, o) = (elements / t.type.blockSize).multipliedReportingOverflow(by: t.type.typeSize)
            if overflow || o {
                throw GGUFError.malformed(file: path, detail: "tensor '\(t.name)' has dimensions \(t.dims), more elements than can be addressed")
            }
            if t.offset % alignment != 0 {
                throw GGUFError.malformed(file: path, detail: "tensor '\(t.name)' offset \(t.offset) is not aligned to \(alignment)")
            }
            // dataOffset may exceed the file (a large general.alignment); t.offset <= size.
            if dataOffset > size || t.offset > size - dataOffset || bytes > size - dataOffset - t.offset {
                throw GGUFError.tensorOutOfBounds(file: path, tensor: t.name,
                    detail: "\(bytes) bytes at \(dataOffset) + \(t.offset) but the file has \(size)")
            }
        }
        return Parsed(version: version, keys: keys, metadata: metadata, tensors: tensors,
                      alignment: alignment, dataOffset: dataOffset)
    }

    static func readValue(_ c: inout Cursor, type: GGUFValueType, key: String) throws -> GGUFValue {
        let what = "value of '\(key)'"
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self, what))
        case .int8: return .int8(try c.read(Int8.self, what))
        case .uint16: return .uint16(try c.read(UInt16.self, what))
        case .int16: return .int16(try c.read(Int16.self, what))
        case .uint32: return .uint32(try c.read(UInt32.self, what))
        case .int32: return .int32(try c.read(Int32.self, what))
        case .uint64: return .uint64(try c.read(UInt64.self, what))
        case .int64: return .int64(try c.read(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try c.read(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try c.read(UInt64.self, what)))
        case .bool: return .bool(try c.read(UInt8.self, what) != 0)
        case .string: return .string(try c.readString(what))
        case .array: return .array(try readArray(&c, key: key, depth: 0))
        }
    }

    static func readArray(_ c: inout Cursor, key: String, depth: Int) throws -> GGUFArray {
        let what = "array '\(key)'"
        let rawType = try c.read(UInt32.self, "element type of \(what)")
        guard let et = GGUFValueType(rawValue: rawType) else {
            throw GGUFError.malformed(file: c.path, detail: "\(what) has unknown element type \(rawType)")
        }
        let n64 = try c.read(UInt64.self, "length of \(what)")
        guard n64 <= UInt64(c.size) else {
            throw GGUFError.truncated(file: c.path, detail: "\(what) claims \(n64) elements, file has \(c.size) bytes")
        }
        let n = Int(n64)
        switch et {
        case .uint8: return .uint8(try c.readArray(UInt8.self, count: n, what))
        case .int8: return .int8(try c.readArray(Int8.self, count: n, what))
        case .uint16: return .uint16(try c.readArray(UInt16.self, count: n, what))
        case .int16: return .int16(try c.readArray(Int16.self, count: n, what))
        case .uint32: return .uint32(try c.readArray(UInt32.self, count: n, what))
        case .int32: return .int32(try c.readArray(Int32.self, count: n, what))
        case .uint64: return .uint64(try c.readArray(UInt64.self, count: n, what))
        case .int64: return .int64(try c.readArray(Int64.self, count: n, what))
        case .float32: return .float32(try c.readArray(UInt32.self, count: n, what).map { Float(bitPattern: $0) })
        case .float64: return .float64(try c.readArray(UInt64.self, count: n, what).map { Double(bitPattern: $0) })
        case .bool: return .bool(try c.readArray(UInt8.self, count: n, what).map { $0 != 0 })
        case .string:
            guard n <= c.size / 8 else {
                throw GGUFError.truncated(file: c.path, detail: "\(what) claims \(n) strings, more than the file can hold")
            }
            var a: [String] = []
            a.reserveCapacity(n)
            for i in 0..<n { a.append(try c.readString("element \(i) of \(what)")) }
            return .string(a)
        case .array:
            guard depth < 8 else { throw GGUFError.malformed(file: c.path, detail: "\(what) nests too deeply") }
            guard n <= c.size / 12 else {
                throw GGUFError.truncated(file: c.path, detail: "\(what) claims \(n) arrays, more than the file can hold")
            }
            var a: [GGUFArray] = []
            for _ in 0..<n { a.append(try readArray(&c, key: key, depth: depth + 1)) }
            return .array(a)
        }
    }
}

// Safetensors — a memory-mapped reader for the Hugging Face safetensors format.
//
// Reference: https://github.com/huggingface/safetensors (format description in its README).
// Layout: an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON, then the
// data section. The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the start of the data section) and may hold a "__metadata__" object of
// string → string. The file is mapped read-only; tensors are views into the mapping until
// converted with `floats(_:)`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Element types of safetensors files. Only `f32`, `f16` and `bf16` convert to `Float`.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case u16 = "U16", u32 = "U32", u64 = "U64"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }
}

/// One entry of a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range inside the data section.
    public let dataOffsets: Range<Int>
    /// Number of elements (product of `shape`, 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file. Immutable after `init`, safe to share between threads.
public final class SafetensorsFile: @unchecked Sendable {
    /// Path of the file, used in error messages.
    public let path: String
    /// Tensors by name.
    public let tensors: [String: SafetensorsTensorInfo]
    /// The optional `__metadata__` object.
    public let metadata: [String: String]

    private let base: UnsafeMutableRawPointer
    private let mappedSize: Int
    private let dataStart: Int

    /// Maps `url` and parses its header. Throws `TensorsError` naming the file when it is
    /// missing, truncated or malformed.
    public init(url: URL) throws {
        let path = url.path
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TensorsError.io(file: path, detail: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw TensorsError.io(file: path, detail: String(cString: strerror(errno)))
        }
        let size = Int(st.st_size)
        guard size >= 8 else {
            throw TensorsError.truncated(file: path, detail: "\(size) bytes, shorter than the 8-byte header length")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw TensorsError.io(file: path, detail: "mmap failed: \(String(cString: strerror(errno)))")
        }
        do {
            let parsed = try Self.parseHeader(UnsafeRawBufferPointer(start: p, count: size), path: path)
            self.tensors = parsed.tensors
            self.metadata = parsed.metadata
            self.dataStart = parsed.dataStart
        } catch {
            munmap(p, size)
            throw error
        }
        self.base = p
        self.mappedSize = size
    }

    deinit { munmap(base, mappedSize) }

    /// Tensor names, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// The header entry of `name`.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let info = tensors[name] else { throw TensorsError.missingTensor(file: path, name: name) }
        return info
    }

    /// The raw bytes of `name`, a view into the mapping (valid while `self` is alive).
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try info(name)
        return UnsafeRawBufferPointer(start: base + dataStart + info.dataOffsets.lowerBound,
                                      count: info.dataOffsets.count)
    }

    /// The tensor `name` converted to `Float` (F32, F16 or BF16), row-major. When `shape` is
    /// given, the tensor must have exactly that shape.
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        let info = try info(name)
        if let shape, shape != info.shape {
            throw TensorsError.shapeMismatch(file: path, name: name, expected: shape, actual: info.shape)
        }
        let raw = try bytes(name)
        let n = info.count
        switch info.dtype {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { out, done in
                // The data section need not be 4-byte aligned: copy bytes.
                if n > 0, let dst = out.baseAddress, let src = raw.baseAddress {
                    memcpy(dst, src, n * 4)
                }
                done = n
            }
        case .f16:
            return [Float](unsafeUninitializedCapacity: n) { out, done in
                for i in 0..<n { out[i] = Self.floatFromHalfBits(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                done = n
            }
        case .bf16:
            return [Float](unsafeUninitializedCapacity: n) { out, done in
                for i in 0..<n {
                    let b = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    out[i] = Float(bitPattern: UInt32(b) << 16)
                }
                done = n
            }
        default:
            throw TensorsError.unsupported(file: path, detail: "tensor '\(name)' has dtype \(info.dtype.rawValue); only F32, F16 and BF16 convert to float")
        }
    }

    /// IEEE 754 half (binary16) bits → Float, exact (subnormals, infinities, NaN).
    @inline(__always)
    public static func floatFromHalfBits(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        let mant = UInt32(h & 0x03FF)
        if exp == 0 {
            // Zero or subnormal: mant × 2^-24.
            let v = Float(mant) * (1.0 / 16_777_216.0)
            return sign != 0 ? -v : v
        }
        if exp == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }

    // MARK: - Header

    private struct Parsed {
        var tensors: [String: SafetensorsTensorInfo]
        var metadata: [String: String]
        var dataStart: Int
    }

    private static func parseHeader(_ file: UnsafeRawBufferPointer, path: String) throws -> Parsed {
        let size = file.count
        let headerLength = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard headerLength <= UInt64(size - 8) else {
            throw TensorsError.truncated(file: path, detail: "header says \(headerLength) bytes of JSON, the file has \(size - 8) after the length")
        }
        guard headerLength >= 2 else {
            throw TensorsError.malformed(file: path, detail: "header length \(headerLength) is too small for a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = size - dataStart
        let json = Data(bytes: file.baseAddress! + 8, count: Int(headerLength))
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json, options: [])
        } catch {
            throw TensorsError.malformed(file: path, detail: "header is not valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else {
            throw TensorsError.malformed(file: path, detail: "header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: SafetensorsTensorInfo] = [:]
        for (name, value) in root {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any] else {
                    throw TensorsError.malformed(file: path, detail: "__metadata__ is not an object")
                }
                for (k, v) in dict {
                    guard let s = v as? String else {
                        throw TensorsError.malformed(file: path, detail: "__metadata__['\(k)'] is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw TensorsError.malformed(file: path, detail: "entry '\(name)' is not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw TensorsError.malformed(file: path, detail: "tensor '\(name)' has no dtype")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw TensorsError.unsupported(file: path, detail: "tensor '\(name)' has unknown dtype '\(dtypeName)'")
            }
            guard let shapeValues = entry["shape"] as? [Any], let shape = intArray(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw TensorsError.malformed(file: path, detail: "tensor '\(name)' has no valid shape")
            }
            guard let offsetValues = entry["data_offsets"] as? [Any], let offsets = intArray(offsetValues),
                  offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw TensorsError.malformed(file: path, detail: "tensor '\(name)' has no valid data_offsets")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (m, o) = acc.0.multipliedReportingOverflow(by: d)
                return (m, acc.1 || o)
            }
            let (expectedBytes, overflow2) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, !overflow2, offsets[1] - offsets[0] == expectedBytes else {
                throw TensorsError.malformed(file: path, detail: "tensor '\(name)' spans \(offsets[1] - offsets[0]) bytes, its shape \(shape) of \(dtype.rawValue) needs \(expectedBytes)")
            }
            guard offsets[1] <= dataSize else {
                throw TensorsError.truncated(file: path, detail: "tensor '\(name)' ends at data byte \(offsets[1]), the data section has \(dataSize) bytes")
            }
            tensors[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape,
                                                  dataOffsets: offsets[0]..<offsets[1])
        }
        return Parsed(tensors: tensors, metadata: metadata, dataStart: dataStart)
    }

    private static func intArray(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let n = v as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 9.0e15 else { return nil }
            out.append(Int(d))
        }
        return out
    }
}

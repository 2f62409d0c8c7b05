// Quantised matrices (views into a mapped GGUF file) and int8-quantised activation buffers.
// Block layouts mirror ggml byte for byte (see Sources/CKernels/include/ckernels.h).
import CKernels

/// A row-major matrix of `rows` rows × `cols` weights of a ggml type; each row is a run of blocks.
public struct QMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let data: UnsafeRawPointer
    public let rows: Int
    public let cols: Int

    public init(type: GGMLType, data: UnsafeRawPointer, rows: Int, cols: Int) {
        self.type = type
        self.data = data
        self.rows = rows
        self.cols = cols
    }

    /// Bytes of one row.
    public var rowBytes: Int { type.byteCount(elements: cols) }

    /// Start of row `r`.
    @inline(__always) public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// The activation format this matrix multiplies with.
    public var activationKind: ActivationKind { ActivationKind(weightType: type) }

    // row r (cols,) -> out (cols,)
    public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        ck_dequantize_row(Int32(type.rawValue), out, row(r), Int32(cols))
    }

    // rows r0..<r1 -> out (r1-r0, cols) row-major
    public func dequantizeRows(_ r0: Int, _ r1: Int, into out: UnsafeMutablePointer<Float>) {
        ck_dequantize_rows(Int32(type.rawValue), out, data, rowBytes, Int32(r0), Int32(r1), Int32(cols))
    }
}

/// How a vector is presented to a weight type's dot product (as ggml's `vec_dot_type`).
public enum ActivationKind: Int, Sendable, CaseIterable {
    /// Plain f32 (for F32, F16, BF16 weights).
    case f32 = 0
    /// Blocks of 32 int8 with an f32 scale and scaled sum (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights).
    case q8_0 = 1
    /// Super-blocks of 256 int8 with an f32 scale and 16 partial sums (K-quants).
    case q8_K = 2

    public init(weightType: GGMLType) {
        switch weightType {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: self = .q8_0
        case .q4_K, .q5_K, .q6_K: self = .q8_K
        default: self = .f32
        }
    }

    /// Bytes taken by `n` activations in this format.
    public func byteCount(_ n: Int) -> Int {
        switch self {
        case .f32: return 4 * n
        case .q8_0: return n / 32 * 40
        case .q8_K: return n / 256 * 292
        }
    }

    /// Block length (n must be a multiple of it).
    public var blockSize: Int {
        switch self {
        case .f32: return 1
        case .q8_0: return 32
        case .q8_K: return 256
        }
    }
}

/// Byte sizes of the C block structs (for the layout tests).
public enum QuantLayout {
    /// Size in bytes of the C struct mirroring the ggml block of `type` (nil when none).
    public static func cBlockSize(_ type: GGMLType) -> Int? {
        switch type {
        case .q4_0: return MemoryLayout<ck_block_q4_0>.size
        case .q4_1: return MemoryLayout<ck_block_q4_1>.size
        case .q5_0: return MemoryLayout<ck_block_q5_0>.size
        case .q5_1: return MemoryLayout<ck_block_q5_1>.size
        case .q8_0: return MemoryLayout<ck_block_q8_0>.size
        case .q4_K: return MemoryLayout<ck_block_q4_K>.size
        case .q5_K: return MemoryLayout<ck_block_q5_K>.size
        case .q6_K: return MemoryLayout<ck_block_q6_K>.size
        case .f32: return 4
        case .f16, .bf16: return 2
        default: return nil
        }
    }

    /// Sizes of the activation blocks (q8_0: 40, q8_K: 292).
    public static var activationBlockSizes: (q8_0: Int, q8_K: Int) {
        (MemoryLayout<ck_q8_0>.size, MemoryLayout<ck_q8_K>.size)
    }
}

/// Activations of `count` vectors of length `n`, with their int8 forms, allocated once.
/// `set` marks the f32 data fresh; `prepared(kind)` quantises lazily, once per kind.
public final class ActivationBuffer: @unchecked Sendable {
    public let n: Int
    public let capacity: Int
    /// f32 data, `capacity` rows of `n`.
    public let f32: UnsafeMutablePointer<Float>
    private let q8_0: UnsafeMutableRawPointer
    private let q8_K: UnsafeMutableRawPointer
    private var fresh0 = false, freshK = false
    /// Number of valid rows.
    public private(set) var count = 0

    public init(n: Int, capacity: Int = 1) {
        self.n = n
        self.capacity = capacity
        f32 = .allocate(capacity: n * capacity)
        f32.initialize(repeating: 0, count: n * capacity)
        q8_0 = .allocate(byteCount: max(64, ActivationKind.q8_0.byteCount(n) * capacity), alignment: 64)
        q8_K = .allocate(byteCount: max(64, ActivationKind.q8_K.byteCount(n) * capacity), alignment: 64)
    }

    deinit {
        f32.deallocate()
        q8_0.deallocate()
        q8_K.deallocate()
    }

    /// Declares that rows 0..<count of `f32` now hold new data.
    public func invalidate(count: Int = 1) {
        self.count = count
        fresh0 = false
        freshK = false
    }

    /// Row stride in bytes of the `kind` form.
    public func stride(_ kind: ActivationKind) -> Int { kind.byteCount(n) }

    /// The data in `kind` form (quantising now if needed), `count` rows `stride(kind)` apart; rows
    /// are quantised across `pool` when given (each row alone: the same bytes either way).
    public func prepared(_ kind: ActivationKind, pool: ThreadPool? = nil) -> UnsafeRawPointer {
        switch kind {
        case .f32:
            return UnsafeRawPointer(f32)
        case .q8_0:
            if !fresh0 {
                quantizeRows(q8_0, stride(.q8_0), pool) { ck_quantize_q8_0($0.assumingMemoryBound(to: ck_q8_0.self), $1, $2) }
                fresh0 = true
            }
            return UnsafeRawPointer(q8_0)
        case .q8_K:
            if !freshK {
                quantizeRows(q8_K, stride(.q8_K), pool) { ck_quantize_q8_K($0.assumingMemoryBound(to: ck_q8_K.self), $1, $2) }
                freshK = true
            }
            return UnsafeRawPointer(q8_K)
        }
    }

    private func quantizeRows(_ out: UnsafeMutableRawPointer, _ s: Int, _ pool: ThreadPool?,
                              _ quantize: (UnsafeMutableRawPointer, UnsafePointer<Float>, Int32) -> Void) {
        let f32 = self.f32, n = self.n
        if let pool, count > 1 {
            pool.parallelFor(count, minChunk: 8) { t0, t1 in
                for t in t0..<t1 { quantize(out + t * s, f32 + t * n, Int32(n)) }
            }
        } else {
            for t in 0..<count { quantize(out + t * s, f32 + t * n, Int32(n)) }
        }
    }
}

/// A Q4_0 matrix repacked for multilingual-e5's products (`ck_e5_pack_q4_0`: groups of 8 rows,
/// int8 weights with their scales and sums beside them). Owns its memory (about 1.8× the Q4_0 bytes).
public final class PackedQ4Matrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let data: UnsafeMutableRawPointer

    /// Repacks `w` (Q4_0, rows a multiple of 8, cols a multiple of 32).
    public init?(_ w: QMatrix) {
        guard w.type == .q4_0, w.rows % 8 == 0, w.cols % 32 == 0, w.rows > 0 else { return nil }
        rows = w.rows
        cols = w.cols
        let size = ck_e5_packed_size(Int32(rows), Int32(cols))
        data = .allocate(byteCount: max(64, size), alignment: 64)
        ck_e5_pack_q4_0(data, w.data, w.rowBytes, Int32(rows), Int32(cols))
    }

    deinit { data.deallocate() }
}

// GGUFError — every failure of the GGUF reader and of the quantised-tensor layer.
// Each message names the file and the problem. (The lead may fold this into TensorsError later.)

/// Errors thrown while reading a GGUF file or using its tensors.
public enum GGUFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be opened, stat'ed or mapped.
    case io(file: String, detail: String)
    /// The first four bytes are not `GGUF`.
    case badMagic(file: String, found: String)
    /// Only versions 2 and 3 (little-endian) are read.
    case unsupportedVersion(file: String, version: UInt32)
    /// The file ends before a header field, key, value or tensor info.
    case truncated(file: String, detail: String)
    /// A header field or value is impossible (bad value type, absurd count, bad alignment…).
    case malformed(file: String, detail: String)
    /// A tensor uses a ggml type id this reader does not know.
    case unknownTensorType(file: String, tensor: String, type: UInt32)
    /// A tensor's data lies (partly) outside the file.
    case tensorOutOfBounds(file: String, tensor: String, detail: String)
    /// The architecture needs a tensor that the file does not have.
    case missingTensor(file: String, name: String)
    /// The architecture needs a metadata key that the file does not have.
    case missingKey(file: String, key: String)
    /// A metadata key has an unexpected value type.
    case wrongKeyType(file: String, key: String, expected: String)
    /// A known but unsupported feature (tensor type without kernels, architecture…).
    case unsupported(file: String, detail: String)
    /// A tensor has an unexpected shape for its role.
    case badShape(file: String, tensor: String, detail: String)

    public var description: String {
        switch self {
        case let .io(f, d): return "\(f): cannot read file: \(d)"
        case let .badMagic(f, found): return "\(f): not a GGUF file (magic \(found), expected GGUF)"
        case let .unsupportedVersion(f, v): return "\(f): unsupported GGUF version \(v) (supported: 2, 3)"
        case let .truncated(f, d): return "\(f): truncated GGUF file: \(d)"
        case let .malformed(f, d): return "\(f): malformed GGUF file: \(d)"
        case let .unknownTensorType(f, t, ty): return "\(f): tensor '\(t)' has unknown ggml type \(ty)"
        case let .tensorOutOfBounds(f, t, d): return "\(f): data of tensor '\(t)' is out of bounds: \(d)"
        case let .missingTensor(f, n): return "\(f): missing tensor '\(n)'"
        case let .missingKey(f, k): return "\(f): missing metadata key '\(k)'"
        case let .wrongKeyType(f, k, e): return "\(f): metadata key '\(k)' is not \(e)"
        case let .unsupported(f, d): return "\(f): unsupported: \(d)"
        case let .badShape(f, t, d): return "\(f): tensor '\(t)' has a bad shape: \(d)"
        }
    }
}

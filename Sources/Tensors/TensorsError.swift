// TensorsError — the one error type of the `Tensors` module.
//
// Every case names the file it is about and says what is wrong with it, so a message
// like `model.safetensors: truncated: header says 1200 bytes, file has 800` can be shown
// to a user as is. Kept generic on purpose: readers of other formats (GGUF, …) reuse these
// cases and may add their own.

/// Errors raised while reading weight files and other model files.
public enum TensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened, read or mapped (missing, permissions, I/O error).
    case io(file: String, detail: String)
    /// The file ends before the data it announces.
    case truncated(file: String, detail: String)
    /// The file is not in the expected format (bad header, bad JSON, inconsistent offsets…).
    case malformed(file: String, detail: String)
    /// The file is well-formed but uses something this code does not support (e.g. a dtype).
    case unsupported(file: String, detail: String)
    /// A tensor the caller asked for is not in the file.
    case missingTensor(file: String, name: String)
    /// A tensor is present but does not have the shape the caller expects.
    case shapeMismatch(file: String, name: String, expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case let .io(file, detail): return "\(file): cannot read: \(detail)"
        case let .truncated(file, detail): return "\(file): truncated: \(detail)"
        case let .malformed(file, detail): return "\(file): malformed: \(detail)"
        case let .unsupported(file, detail): return "\(file): unsupported: \(detail)"
        case let .missingTensor(file, name): return "\(file): missing tensor '\(name)'"
        case let .shapeMismatch(file, name, expected, actual):
            return "\(file): tensor '\(name)' has shape \(actual), expected \(expected)"
        }
    }
}

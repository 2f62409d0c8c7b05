// DecoderError — the Decoder module's one public error enum.
import Tensors

public enum DecoderError: Error, CustomStringConvertible, Sendable {
    /// Reading the GGUF file failed (bad file, missing tensor or key…).
    case file(GGUFError)
    /// The file's architecture is not one this engine runs.
    case unsupportedArchitecture(file: String, architecture: String)
    /// A hyper-parameter is inconsistent (head sizes, shapes…).
    case badConfig(file: String, detail: String)
    /// The tokens do not fit in the context window.
    case contextFull(position: Int, adding: Int, limit: Int)
    /// A token id outside the vocabulary.
    case badToken(id: Int, vocabSize: Int)

    public var description: String {
        switch self {
        case let .file(e): return e.description
        case let .unsupportedArchitecture(f, a): return "\(f): unsupported architecture '\(a)' (supported: llama, gemma3, qwen2)"
        case let .badConfig(f, d): return "\(f): bad model configuration: \(d)"
        case let .contextFull(p, n, l): return "context full: \(p) tokens + \(n) new exceed the limit of \(l)"
        case let .badToken(id, v): return "token id \(id) outside the vocabulary (0..<\(v))"
        }
    }
}

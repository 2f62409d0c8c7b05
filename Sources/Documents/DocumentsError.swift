// Documents — text extraction (plain text, PDF via Poppler per page), normalisation and chunking.
// See ARCHITECTURE.md (targets and what each owns).

/// The one error type of the `Documents` module. Every case names the file (when there is one)
/// and says what is wrong with it, so a caller can print it as is.
public enum DocumentsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read at all (missing, no permission, I/O error).
    case unreadable(path: String, reason: String)
    /// A file with a text extension holds binary data (NUL bytes, mostly control characters).
    case binaryContent(path: String)
    /// The extension is not one of `.txt`, `.md`, `.pdf`.
    case unsupportedFileType(path: String)
    /// The PDF is encrypted and cannot be opened without a password.
    case encryptedPDF(path: String)
    /// The PDF is damaged or is not a PDF.
    case invalidPDF(path: String, reason: String)
    /// Chunking options out of range (e.g. overlap larger than half the chunk size).
    case invalidChunkingOptions(String)

    /// The file the error is about, if any.
    public var path: String? {
        switch self {
        case .unreadable(let path, _), .binaryContent(let path), .unsupportedFileType(let path),
             .encryptedPDF(let path), .invalidPDF(let path, _):
            return path
        case .invalidChunkingOptions:
            return nil
        }
    }

    /// The reason alone, without the path.
    public var reason: String {
        switch self {
        case .unreadable(_, let reason): return reason
        case .binaryContent: return "binary data, not text"
        case .unsupportedFileType: return "unsupported file type (expected .txt, .md or .pdf)"
        case .encryptedPDF: return "encrypted PDF (a password is needed)"
        case .invalidPDF(_, let reason): return "corrupt or invalid PDF: \(reason)"
        case .invalidChunkingOptions(let message): return message
        }
    }

    public var description: String {
        if let path { return "\(path): \(reason)" }
        return reason
    }
}

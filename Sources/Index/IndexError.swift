// Index — the index: the `IndexStore` protocol and its SQLite implementation (schema, migrations, incremental ingest, keyword/dense/hybrid search), the relevance gate, answer passages.
// See ARCHITECTURE.md (targets and what each owns).

/// The one error type of the `Index` module; messages name the file and the problem.
public enum IndexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `search` (or any read) on an index file that does not exist.
    case indexNotFound(path: String)
    /// The data directory given to `ingest` does not exist or is not a directory.
    case dataDirectoryNotFound(path: String)
    /// SQLite or PostgreSQL failed (file not a database, disk full, locked, a query refused, …).
    case database(path: String, reason: String)
    /// The index's database server cannot be reached or refused the connection (down, restarting,
    /// wrong address, password or database name): the server answers 503 while it lasts.
    case unavailable(location: String, reason: String)
    /// The index was written by a newer version of RAGChat.
    case unsupportedSchema(path: String, found: Int, supported: Int)
    /// The embedder returned the wrong number of vectors or a wrong dimension.
    case embedder(model: String, reason: String)
    /// Bad ingest options (chunk size, overlap, batch size).
    case invalidOptions(String)

    public var description: String {
        switch self {
        case .indexNotFound(let path):
            return "\(path): no index here (run `ragchat ingest` first, or pass --index)"
        case .dataDirectoryNotFound(let path):
            return "\(path): data directory not found"
        case .database(let path, let reason):
            return "\(path): database error: \(reason)"
        case .unavailable(let location, let reason):
            return "\(location): the index database cannot be reached: \(reason)"
        case .unsupportedSchema(let path, let found, let supported):
            return "\(path): index schema version \(found) is newer than this program's (\(supported)); re-create the index"
        case .embedder(let model, let reason):
            return "encoder \(model): \(reason)"
        case .invalidOptions(let message):
            return message
        }
    }
}

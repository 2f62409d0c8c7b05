import Index

/// The index's search as a `Retriever`: keyword (BM25) search of an `IndexStore`, or any search
/// function over the index (the engine's gated hybrid search).
public struct IndexRetriever: Retriever {
    private let search: @Sendable (String, Int) async throws -> Retrieval

    /// BM25 keyword search of `store`.
    public init(store: any IndexStore) {
        self.search = { query, k in Retrieval(hits: try store.search(query, k: k)) }
    }

    /// Any search returning index hits, e.g. `{ q, k in try store.search(q, mode: .hybrid, …) }`.
    public init(search: @escaping @Sendable (String, Int) async throws -> [SearchHit]) {
        self.search = { query, k in Retrieval(hits: try await search(query, k)) }
    }

    /// A search that may also guess at the answer (query expansion) and say so.
    public init(retrieval: @escaping @Sendable (String, Int) async throws -> Retrieval) {
        self.search = retrieval
    }

    public func retrieve(query: String, k: Int) async throws -> [SearchHit] {
        try await search(query, k).hits
    }

    public func retrieval(query: String, k: Int) async throws -> Retrieval {
        try await search(query, k)
    }
}

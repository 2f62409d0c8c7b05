import Index

/// The index's search as a `Retriever`: keyword (BM25) search of an `IndexStore` by default, or
/// any search function with the same result type (hybrid search, once wired by the lead).
public struct IndexRetriever: Retriever {
    private let search: @Sendable (String, Int) async throws -> [SearchHit]

    /// BM25 keyword search of `store`.
    public init(store: any IndexStore) {
        self.search = { query, k in try store.search(query, k: k) }
    }

    /// Any search returning index hits, e.g. `{ q, k in try await hybrid.search(q, k: k) }`.
    public init(search: @escaping @Sendable (String, Int) async throws -> [SearchHit]) {
        self.search = search
    }

    public func retrieve(query: String, k: Int) async throws -> [RetrievedPassage] {
        try await search(query, k).map(Self.passage)
    }

    /// `SearchHit` → `RetrievedPassage` (the chunk id becomes the source id).
    public static func passage(_ hit: SearchHit) -> RetrievedPassage {
        RetrievedPassage(id: String(hit.chunkID), file: hit.file, page: hit.page, score: hit.score, text: hit.text,
                         outline: hit.outline.isEmpty ? nil : hit.outline)
    }
}

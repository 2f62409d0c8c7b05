import Foundation

/// What the index needs from a sentence encoder. `SentenceEncoder` (its conformance is declared in
/// `RAG`, so that the index does not depend on the encoder) or a test fake conforms to it, and
/// `IndexStore.ingest(…, embedder:)` stores one vector per chunk with it.
public protocol ChunkEmbedder: Sendable {
    /// Identifies the model and its weights; when it changes, every vector is recomputed.
    var modelID: String { get }
    /// Length of every vector returned.
    var dimension: Int { get }
    /// One vector per text, in order.
    func embed(_ texts: [String]) throws -> [[Float]]
}

/// Float32 vectors as stored in `vectors.data`: little-endian, packed.
public enum VectorCoding {
    public static func encode(_ vector: [Float]) -> Data {
        var data = Data(count: vector.count * MemoryLayout<Float>.size)
        data.withUnsafeMutableBytes { raw in
            for (index, value) in vector.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        }
        return data
    }

    /// `nil` when the byte count is not `4 × dimension`.
    public static func decode(_ data: Data, dimension: Int) -> [Float]? {
        guard data.count == dimension * 4 else { return nil }
        return data.withUnsafeBytes { raw in
            (0..<dimension).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

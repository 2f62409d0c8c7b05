import Foundation

/// Spoken WAVs by id for `GET /audio/<id>.wav`; bounded by count and bytes, oldest evicted first.
public actor AudioStore {
    public nonisolated let maxEntries: Int
    public nonisolated let maxBytes: Int
    private var items: [String: Data] = [:]
    private var order: [String] = []
    private var head = 0
    private var bytes = 0

    public init(maxEntries: Int = 512, maxBytes: Int = 256 << 20) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
    }

    /// Stores `wav` and returns its new id (32 hex characters).
    public func put(_ wav: Data) -> String {
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        items[id] = wav
        order.append(id)
        bytes += wav.count
        while (items.count > maxEntries || bytes > maxBytes) && head < order.count {
            let victim = order[head]
            head += 1
            if let d = items.removeValue(forKey: victim) { bytes -= d.count }
        }
        if head > 1024 && head * 2 > order.count { order.removeFirst(head); head = 0 }
        return id
    }

    public func get(_ id: String) -> Data? { items[id] }
    public var count: Int { items.count }
    public var totalBytes: Int { bytes }

    /// True for ids this store could have made (guards the route against odd input).
    public nonisolated static func isValidID(_ id: String) -> Bool {
        id.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

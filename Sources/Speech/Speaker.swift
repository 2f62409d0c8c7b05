import Crypto
import Foundation

/// A voice: an espeak-ng voice name (with variant) and a speaking rate in words per minute.
public struct Voice: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var rate: Int
    public init(name: String, rate: Int = 175) { self.name = name; self.rate = rate }
    /// French, male variant 3: the default question voice.
    public static let frenchMale = Voice(name: "fr+m3")
    /// French, female variant 3: the default answer voice.
    public static let frenchFemale = Voice(name: "fr+f3")
    public var description: String { "\(name)@\(rate)" }
}

/// Voices and cache settings.
public struct SpeechConfiguration: Sendable {
    public var questionVoice: Voice
    public var answerVoice: Voice
    /// On-disk cache directory (created on demand); nil disables the disk cache.
    public var cacheDirectory: URL?
    /// Bound of the in-memory LRU cache, in bytes of WAV.
    public var memoryCacheBytes: Int
    /// espeak-ng data directory; nil for the system default.
    public var dataPath: String?
    /// Bound of the on-disk cache, in bytes: the oldest files go first when it is exceeded.
    public var diskCacheBytes: Int

    public init(questionVoice: Voice = .frenchMale, answerVoice: Voice = .frenchFemale,
                cacheDirectory: URL? = URL(fileURLWithPath: "models/audio-cache"),
                memoryCacheBytes: Int = 64 << 20, dataPath: String? = nil, diskCacheBytes: Int = 512 << 20) {
        self.questionVoice = questionVoice
        self.answerVoice = answerVoice
        self.cacheDirectory = cacheDirectory
        self.memoryCacheBytes = memoryCacheBytes
        self.dataPath = dataPath
        self.diskCacheBytes = diskCacheBytes
    }
}

/// A bounded least-recently-used map from key to `Data`, bounded by total bytes.
struct LRUDataCache {
    private var entries: [String: (data: Data, tick: UInt64)] = [:]
    private var tick: UInt64 = 0
    private(set) var bytes = 0
    let limit: Int
    init(limit: Int) { self.limit = max(0, limit) }
    var count: Int { entries.count }

    mutating func get(_ key: String) -> Data? {
        guard let e = entries[key] else { return nil }
        tick += 1
        entries[key] = (e.data, tick)
        return e.data
    }

    mutating func put(_ key: String, _ data: Data) {
        guard data.count <= limit else { return }
        if let old = entries[key] { bytes -= old.data.count }
        tick += 1
        entries[key] = (data, tick)
        bytes += data.count
        while bytes > limit, let victim = entries.min(by: { $0.value.tick < $1.value.tick }) {
            entries[victim.key] = nil
            bytes -= victim.value.data.count
        }
    }
}

/// Cleans text, synthesises it with a voice, and caches the WAV by hash of (text, voice, rate)
/// in memory (bounded LRU) and on disk.
public actor Speaker {
    public nonisolated let configuration: SpeechConfiguration
    public nonisolated let synthesizer: SpeechSynthesizer
    private var memory: LRUDataCache

    /// Cache statistics since start.
    public struct Stats: Sendable, Equatable {
        public var memoryHits = 0
        public var diskHits = 0
        public var syntheses = 0
        public var memoryEntries = 0
        public var memoryBytes = 0
    }
    private var stats = Stats()

    public init(configuration: SpeechConfiguration = SpeechConfiguration()) throws {
        self.configuration = configuration
        self.synthesizer = try SpeechSynthesizer.shared(dataPath: configuration.dataPath)
        self.memory = LRUDataCache(limit: configuration.memoryCacheBytes)
    }

    /// The cache key: SHA-256 of the cleaned text, the voice name and the rate.
    public nonisolated static func cacheKey(text: String, voice: Voice) -> String {
        SHA256.hash(data: Data("\(voice.name)\u{1F}\(voice.rate)\u{1F}\(text)".utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Speaks `text` (cleaned first) with `voice`; returns a 16-bit mono WAV.
    /// Throws `SpeechError.emptyText` when nothing speakable is left.
    public func speak(_ text: String, voice: Voice) async throws -> Data {
        let cleaned = SpeechText.clean(text)
        guard !cleaned.isEmpty else { throw SpeechError.emptyText }
        let key = Self.cacheKey(text: cleaned, voice: voice)
        if let hit = memory.get(key) { stats.memoryHits += 1; return hit }
        let file = configuration.cacheDirectory?.appendingPathComponent(key + ".wav")
        if let file, let data = try? Data(contentsOf: file), (try? WAV.parse(data)) != nil {
            stats.diskHits += 1
            memory.put(key, data)
            return data
        }
        let wav = try await synthesizer.wav(for: cleaned, voice: voice.name, rate: voice.rate)
        stats.syntheses += 1
        memory.put(key, wav)
        if let dir = configuration.cacheDirectory, let file {
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try wav.write(to: file, options: .atomic)
                diskWrites += 1
                if diskWrites % 64 == 1 { pruneDisk(dir) }
            } catch {
                // The disk cache is an optimisation: a read-only disk must not fail speech.
                diskErrors += 1
            }
        }
        return wav
    }

    private var diskErrors = 0
    private var diskWrites = 0

    /// Deletes the oldest cached WAVs until the folder is under 80 % of `diskCacheBytes`.
    private func pruneDisk(_ dir: URL) {
        let fm = FileManager.default
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey]
        guard let files = try? fm.contentsOfDirectory(at: dir, includingPropertiesForKeys: keys) else { return }
        var entries: [(url: URL, size: Int, date: Date)] = files.filter { $0.pathExtension == "wav" }.compactMap { url in
            guard let v = try? url.resourceValues(forKeys: Set(keys)) else { return nil }
            return (url, v.fileSize ?? 0, v.contentModificationDate ?? .distantPast)
        }
        var total = entries.reduce(0) { $0 + $1.size }
        guard total > configuration.diskCacheBytes else { return }
        entries.sort { $0.date < $1.date }
        for e in entries where total > configuration.diskCacheBytes * 4 / 5 {
            if (try? fm.removeItem(at: e.url)) != nil { total -= e.size }
        }
    }

    /// Speaks with the configured question voice.
    public func speakQuestion(_ text: String) async throws -> Data { try await speak(text, voice: configuration.questionVoice) }
    /// Speaks with the configured answer voice.
    public func speakAnswer(_ text: String) async throws -> Data { try await speak(text, voice: configuration.answerVoice) }

    public func statistics() -> Stats {
        var s = stats
        s.memoryEntries = memory.count
        s.memoryBytes = memory.bytes
        return s
    }
}

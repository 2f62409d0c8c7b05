import Foundation
import Index
import Synchronization
import Testing
import TestSupport

/// A temporary data directory and the index of one implementation, removed by `cleanup()`.
struct Workspace {
    let root: URL
    /// The implementation whose index `open()` opens.
    let implementation: IndexImplementation
    var data: URL { root.appendingPathComponent("data") }
    var indexPath: String { root.appendingPathComponent("index.sqlite").path }

    init(_ implementation: IndexImplementation = .sqlite) throws {
        self.implementation = implementation
        root = TestDirectory.make("ragchat-index")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("data"), withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL {
        try write(name, Data(text.utf8))
    }

    @discardableResult
    func write(_ name: String, _ data: Data) throws -> URL {
        let file = self.data.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        return file
    }

    func remove(_ name: String) throws {
        try FileManager.default.removeItem(at: data.appendingPathComponent(name))
    }

    /// Sets a file's modification time (to force or avoid the quick size+mtime check).
    func touch(_ name: String, secondsAgo: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -secondsAgo)],
                                              ofItemAtPath: data.appendingPathComponent(name).path)
    }

    /// The workspace's index: empty the first time, the same index on every later call.
    func open() throws -> any IndexStore { try implementation.open(self) }

    func cleanup() {
        implementation.discard(self)
        try? FileManager.default.removeItem(at: root)
    }
}

/// An `IndexStore` implementation under the contract suite (`IndexStoreContract`).
struct IndexImplementation: Sendable, CustomTestStringConvertible {
    var name: String
    /// The schema version a new index of this implementation has (each is versioned on its own).
    var schemaVersion: Int
    /// Opens a workspace's index: empty the first time, the same index on every later call.
    var open: @Sendable (Workspace) throws -> any IndexStore
    /// Removes what `open` made outside the workspace's directory (e.g. a database schema).
    var discard: @Sendable (Workspace) -> Void = { _ in }

    var testDescription: String { name }

    static let sqlite = IndexImplementation(name: "SQLite", schemaVersion: 4, open: { try SQLiteIndexStore.open(path: $0.indexPath) })

    /// PostgreSQL + pgvector on the server of `scripts/postgres.sh` (`make test` starts it), each
    /// workspace in a schema of its own, dropped by `cleanup()`.
    static let postgres = IndexImplementation(
        name: "PostgreSQL",
        schemaVersion: 2,
        open: { workspace in
            guard let url = PostgresTestServer.url else { throw PostgresTestServer.Missing() }
            return try PostgresIndexStore.open(url: PostgresTestServer.address(url, of: workspace))
        },
        discard: { workspace in
            guard let url = PostgresTestServer.url,
                  let store = try? PostgresIndexStore.open(url: PostgresTestServer.address(url, of: workspace)) else { return }
            try? store.drop()
        })

    /// Every implementation the contract cases run on, each case once per entry: SQLite, and
    /// PostgreSQL when a test server is configured (in CI it must be: `PostgresServerTests`).
    static let all: [IndexImplementation] = PostgresTestServer.url == nil ? [.sqlite] : [.sqlite, .postgres]
}

/// The PostgreSQL server the tests use (`TestPostgres.url`) and each workspace's place on it.
enum PostgresTestServer {
    struct Missing: Error, CustomStringConvertible {
        var description: String { "no PostgreSQL test server: run scripts/postgres.sh start (or set RAGCHAT_TEST_POSTGRES_URL)" }
    }

    static var url: String? { TestPostgres.url }

    /// The workspace's index on the test server: its own schema, and a reply timeout shorter than
    /// the default, so that a stalled statement fails its test within a minute (it is retried
    /// once when it only reads) instead of holding up the whole run.
    static func address(_ url: String, of workspace: Workspace) -> String {
        url + "?schema=" + schema(of: workspace) + "&reply_timeout=60"
    }

    /// A schema name of the workspace's own (its directory's UUID).
    static func schema(of workspace: Workspace) -> String {
        "ragchat_" + workspace.root.lastPathComponent.lowercased().filter { $0.isLetter || $0.isNumber }
    }
}

/// Deterministic embedder: hashed bag of words, L2-normalised. Counts the texts it embedded.
final class FakeEmbedder: ChunkEmbedder, QueryEmbedder {
    let modelID: String
    let dimension: Int
    private let count = Mutex(0)

    init(modelID: String = "fake-bow-v1", dimension: Int = 16) {
        self.modelID = modelID
        self.dimension = dimension
    }

    var embeddedTexts: Int { count.withLock { $0 } }

    func embed(query: String) throws -> [Float] { try embed([query])[0] }

    func embed(_ texts: [String]) throws -> [[Float]] {
        count.withLock { $0 += texts.count }
        return texts.map { text in
            var vector = [Float](repeating: 0, count: dimension)
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) {
                var hash: UInt64 = 1469598103934665603
                for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
                vector[Int(hash % UInt64(dimension))] += 1
            }
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? vector.map { $0 / norm } : vector
        }
    }
}

/// An embedder that returns vectors of the wrong size.
struct BrokenEmbedder: ChunkEmbedder {
    let modelID = "broken"
    let dimension = 8
    func embed(_ texts: [String]) throws -> [[Float]] { texts.map { _ in [1, 2, 3] } }
}

/// Collects progress events.
final class EventLog: Sendable {
    private let events = Mutex<[IngestEvent]>([])
    func record(_ event: IngestEvent) { events.withLock { $0.append(event) } }
    var all: [IngestEvent] { events.withLock { $0 } }
}

struct InjectedFailure: Error {}

enum Samples {
    static let tarte = """
        La tarte aux pommes normande se prépare avec une pâte brisée, des pommes reinettes et une crème \
        fraîche épaisse battue avec des œufs et du sucre. On la cuit à 180 °C pendant quarante minutes.

        La tarte Tatin est une tarte renversée : les pommes caramélisent dans le beurre et le sucre, \
        puis la pâte les recouvre avant la cuisson. On la démoule chaude.
        """

    static let secrets = """
        Le secret d'une bonne tarte : un beurre très froid, une pâte qui repose une heure au \
        réfrigérateur, et un four bien préchauffé. Piquer le fond à la fourchette évite qu'il gonfle.
        """
}

/// Lets a callback cancel the task that runs it.
final class TaskHandle: Sendable {
    private let task = Mutex<Task<IngestSummary, any Error>?>(nil)
    func set(_ task: Task<IngestSummary, any Error>) { self.task.withLock { $0 = task } }
    func cancel() { task.withLock { $0?.cancel() } }
}

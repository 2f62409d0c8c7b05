import Foundation

/// Folders for test fixtures, all inside one folder of the test process that is removed when the
/// process exits: fixtures a test does not delete itself (a model file several tests read, an
/// index a failing test left behind) do not pile up in the system's temporary folder.
public enum TestDirectory {
    private static let root: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ragchat-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { TestDirectory.removeAll() }
        return url
    }()

    /// A new empty folder named `prefix-<uuid>`.
    public static func make(_ prefix: String) -> URL {
        let url = root.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private static func removeAll() {
        try? FileManager.default.removeItem(at: root)
    }
}

import Foundation

/// The PostgreSQL server the tests use: `RAGCHAT_TEST_POSTGRES_URL`, else the URL that
/// `scripts/postgres.sh start` (run by `make test`) wrote to `.build/postgres.url`; `nil` when
/// neither is there.
public enum TestPostgres {
    public static let url: String? = {
        if let url = ProcessInfo.processInfo.environment["RAGCHAT_TEST_POSTGRES_URL"], !url.isEmpty { return url }
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/postgres.url")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        let url = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return url.isEmpty ? nil : url
    }()

    /// A schema name no other test uses.
    public static func freshSchema(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.lowercased().filter { $0.isLetter || $0.isNumber }
    }
}

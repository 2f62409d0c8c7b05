import Foundation
import PostgresNIO

/// Where a PostgreSQL index lives, parsed from `--index postgres://user[:password]@host[:port]/database`
/// (`postgresql://` too). Query parameters: `schema=NAME` keeps the index's tables in that schema
/// (created when missing; default `public`), which lets several indexes share one database (the
/// tests give each case a schema of its own); `reply_timeout=SECONDS` (default 300, 0 = none) is
/// how long a statement may go without a reply before its connection is given up and the call
/// fails with `IndexError.unavailable` (a read is then tried once more on a new connection), so
/// that a stalled server or connection never blocks a caller forever; waiting for another
/// ingest's lock and building an HNSW index are not bounded by it. The connection is not
/// encrypted: TLS is not supported yet, so `sslmode=require` (or `verify-*`) is refused rather
/// than silently ignored.
public struct PostgresAddress: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var schema: String
    /// How long one statement may wait for its reply; `nil`: forever.
    public var replyTimeout: Duration?

    /// Does `location` name a PostgreSQL database rather than a SQLite file?
    public static func isPostgres(_ location: String) -> Bool {
        let lower = location.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Parses a `postgres://` URL; `IndexError.invalidOptions` names what is wrong with it.
    public init(url location: String) throws {
        guard Self.isPostgres(location), let components = URLComponents(string: location) else {
            throw IndexError.invalidOptions("\(Self.redacted(location)): not a PostgreSQL URL (postgres://user[:password]@host[:port]/database)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw IndexError.invalidOptions("\(Self.redacted(location)): the URL names no host (postgres://user@host:port/database)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw IndexError.invalidOptions("\(Self.redacted(location)): the URL names no user (postgres://user@host:port/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw IndexError.invalidOptions("\(Self.redacted(location)): the URL names no database (postgres://user@host:port/database)")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = components.user?.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        var schema = "public"
        var replyTimeout: Duration? = .seconds(300)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "schema":
                guard let value = item.value, Self.isPlainIdentifier(value) else {
                    throw IndexError.invalidOptions("\(Self.redacted(location)): schema must be letters, digits and _ (got \(item.value ?? "nothing"))")
                }
                schema = value
            case "reply_timeout":
                guard let value = item.value.flatMap(Int.init), value >= 0 else {
                    throw IndexError.invalidOptions("\(Self.redacted(location)): reply_timeout must be a whole number of seconds, 0 for none (got \(item.value ?? "nothing"))")
                }
                replyTimeout = value == 0 ? nil : .seconds(value)
            case "sslmode":
                guard ["disable", "allow", "prefer"].contains(item.value ?? "") else {
                    throw IndexError.invalidOptions("\(Self.redacted(location)): sslmode=\(item.value ?? "") is not supported (no TLS yet; use sslmode=disable on a trusted network)")
                }
            default:
                throw IndexError.invalidOptions("\(Self.redacted(location)): unknown URL parameter '\(item.name)' (known: schema, reply_timeout, sslmode)")
            }
        }
        self.schema = schema
        self.replyTimeout = replyTimeout
    }

    /// The URL without its password: what messages and logs show.
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)" + (schema == "public" ? "" : "?schema=\(schema)")
    }

    var configuration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        // Names this index's sessions in pg_stat_activity (what an operator, or a test, looks for).
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    /// `ragchat` and the schema: the `application_name` of this index's connections.
    package var applicationName: String { "ragchat:" + schema }

    /// `location` with any password replaced by `***`.
    static func redacted(_ location: String) -> String {
        guard var components = URLComponents(string: location), components.password != nil else { return location }
        components.password = "***"
        return components.string ?? location
    }

    /// A schema name used unquoted in SQL: ASCII letters, digits and `_`, not starting with a digit.
    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !(48...57).contains(first.value), name.utf8.count <= 63 else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || (48...57).contains($0.value) || $0 == "_") }
    }
}

import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL index lives, parsed from `--index postgres://user[:password]@host[:port]/database`
/// (`postgresql://` too). Query parameters:
/// - `schema=NAME` keeps the index's tables in that schema (created when missing; default
///   `public`), which lets several indexes share one database (the tests give each case a schema
///   of its own);
/// - `reply_timeout=SECONDS` (default 300, 0 = none) is how long a statement may go without a
///   reply before its connection is given up and the call fails with `IndexError.unavailable` (a
///   read is then tried once more on a new connection), so that a stalled server or connection
///   never blocks a caller forever; waiting for another ingest's lock and building an HNSW index
///   are not bounded by it;
/// - `sslmode` as libpq reads it: `disable`; `allow` and `prefer` (the default: TLS when the
///   server offers it, unverified); `require` (TLS or no connection, unverified); `verify-ca`
///   (the server's certificate must chain to a trusted root) and `verify-full` (and name the
///   host); `sslrootcert=PATH` a PEM file of the roots to trust instead of the system's.
public struct PostgresAddress: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var schema: String
    /// How long one statement may wait for its reply; `nil`: forever.
    public var replyTimeout: Duration?
    public var tls: TLSMode
    /// A PEM file of the certificate authorities to trust (`sslrootcert`), instead of the system's.
    public var rootCertificates: String?

    /// libpq's `sslmode` values.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

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
        var tls = TLSMode.prefer
        var rootCertificates: String?
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
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw IndexError.invalidOptions("\(Self.redacted(location)): sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", ")) (got \(item.value ?? "nothing"))")
                }
                tls = mode
            case "sslrootcert":
                guard let path = item.value, !path.isEmpty else {
                    throw IndexError.invalidOptions("\(Self.redacted(location)): sslrootcert needs the path of a PEM file")
                }
                rootCertificates = path
            default:
                throw IndexError.invalidOptions("\(Self.redacted(location)): unknown URL parameter '\(item.name)' (known: schema, reply_timeout, sslmode, sslrootcert)")
            }
        }
        self.schema = schema
        self.replyTimeout = replyTimeout
        self.tls = tls
        self.rootCertificates = rootCertificates
    }

    /// The URL without its password: what messages and logs show.
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)" + (schema == "public" ? "" : "?schema=\(schema)")
    }

    /// The connection settings, with a TLS context made from `tls` (made once per store: loading
    /// the trusted roots is not free). A root file that cannot be read is named.
    func configuration() throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: try tlsSetting())
        configuration.options.connectTimeout = .seconds(5)
        // Names this index's sessions in pg_stat_activity (what an operator, or a test, looks for).
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    private func tlsSetting() throws -> PostgresConnection.Configuration.TLS {
        var settings = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable: return .disable
        case .allow, .prefer, .require: settings.certificateVerification = .none
        case .verifyCA: settings.certificateVerification = .noHostnameVerification
        case .verifyFull: settings.certificateVerification = .fullVerification
        }
        if let rootCertificates {
            guard FileManager.default.isReadableFile(atPath: rootCertificates) else {
                throw IndexError.invalidOptions("\(description): sslrootcert \(rootCertificates): no such readable file")
            }
            settings.trustRoots = .file(rootCertificates)
        }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: settings) } catch {
            throw IndexError.invalidOptions("\(description): TLS settings: \(error)")
        }
        return tls == .require || tls == .verifyCA || tls == .verifyFull ? .require(context) : .prefer(context)
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

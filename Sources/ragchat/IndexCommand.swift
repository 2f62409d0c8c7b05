import ArgumentParser
import Foundation
import Index

/// `ragchat index migrate --from FILE --to postgres://…` — operations on a whole index.
struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Operations on a whole index.",
        subcommands: [MigrateCommand.self]
    )

    /// Copies a SQLite index into an empty PostgreSQL one, vectors included (no re-embedding).
    struct MigrateCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Copy a SQLite index into an empty PostgreSQL + pgvector index, without re-embedding.",
            discussion: """
                Documents keep their hashes, sizes and times, so `ragchat ingest --index postgres://…` \
                on the same folder afterwards skips every unchanged file. One transaction per document: \
                an interrupted copy leaves whole documents; start again on an empty index.
                """
        )

        @Option(help: "The SQLite index file to copy.")
        var from = Defaults.indexPath

        @Option(help: "The PostgreSQL index: postgres://user[:password]@host[:port]/database[?schema=NAME].")
        var to: String

        func run() async throws {
            do {
                guard PostgresAddress.isPostgres(to) else {
                    throw CLIError("--to must be a postgres:// URL (got \(to))")
                }
                let source = try SQLiteIndexStore.open(path: from, create: false)
                let target = try PostgresIndexStore.open(url: to, create: true)
                let interactive = Terminal.isTTY(STDERR_FILENO)
                let summary = try target.copy(from: source) { done, total in
                    if interactive { Terminal.err("\rcopying documents: \(done)/\(total)") }
                }
                if interactive { Terminal.err("\n") }
                Terminal.out("copied \(summary.documents) documents, \(summary.chunks) chunks, \(summary.vectors) vectors "
                             + "from \(from) to \(target.location) in \(String(format: "%.2f", summary.seconds)) s\n")
            } catch {
                Terminal.err("ragchat index migrate: \(error)\n")
                throw ExitCode.failure
            }
        }
    }
}

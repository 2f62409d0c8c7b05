import ArgumentParser
import Foundation

/// `ragchat` — the command-line entry point. Each subcommand lives in its own file
/// (`IngestCommand.swift`, `SearchCommand.swift`, `BenchCommand.swift`, …); add new ones to
/// `subcommands` below.
@main
struct RagChat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ragchat",
        abstract: "A local, offline, French-first RAG chatbot over the documents in data/.",
        subcommands: [IngestCommand.self, SearchCommand.self, ServeCommand.self, BenchCommand.self, GenerateCommand.self, IndexCommand.self]
    )
}

/// Defaults shared by the subcommands (paths are relative to the current directory).
enum Defaults {
    static let dataDirectory = "data"
    /// The index: `RAGCHAT_INDEX` when set (a SQLite file or a `postgres://` URL), else the SQLite file.
    static var indexPath: String {
        let configured = ProcessInfo.processInfo.environment["RAGCHAT_INDEX"] ?? ""
        return configured.isEmpty ? "models/index.sqlite" : configured
    }
    /// Help text of every `--index` option.
    static let indexHelp = "The index: a SQLite file or postgres://user[:password]@host[:port]/database (RAGCHAT_INDEX; default models/index.sqlite)."
    /// The sentence encoder: multilingual-e5-small's E5S1 file, from `make models` (a folder holding
    /// one, or a sentence-transformers folder such as models/encoder/all-MiniLM-L6-v2, also loads).
    static let encoderDirectory = "models/encoder/multilingual-e5-small/e5-small-q4.bin"
    /// Help text of every `--encoder` option.
    static let encoderHelp = "Sentence encoder: an E5S1 .bin file (or a folder holding one) or a sentence-transformers folder (default \(encoderDirectory); English: models/encoder/all-MiniLM-L6-v2)."
}

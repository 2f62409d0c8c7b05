import ArgumentParser

/// `ragchat` — the command-line entry point. Each subcommand lives in its own file
/// (`IngestCommand.swift`, `SearchCommand.swift`, `BenchCommand.swift`, …); add new ones to
/// `subcommands` below.
@main
struct RagChat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ragchat",
        abstract: "A local, offline, French-first RAG chatbot over the documents in data/.",
        subcommands: [IngestCommand.self, SearchCommand.self, ServeCommand.self, BenchCommand.self]
    )
}

/// Defaults shared by the subcommands (paths are relative to the current directory).
enum Defaults {
    static let dataDirectory = "data"
    static let indexPath = "models/index.sqlite"
    /// The sentence encoder's directory (`make models` puts all-MiniLM-L6-v2 there).
    static let encoderDirectory = "models/encoder/all-MiniLM-L6-v2"
}

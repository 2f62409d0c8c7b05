import ArgumentParser
import Foundation
import Index

/// `ragchat search "question" [--index FILE] [-k 5] [--json]`
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Keyword (BM25) search of the index, accent- and case-insensitive."
    )

    @Argument(help: "The question or keywords (any text).")
    var query: String

    @Option(name: .customLong("index"), help: "SQLite index file.")
    var indexPath = Defaults.indexPath

    @Option(name: [.customShort("k"), .customLong("top")], help: "Number of results.")
    var k = 5

    @Flag(help: "Print {\"results\": [{rank, score, file, page, text}]} with each chunk's full text.")
    var json = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be at least 1") }
    }

    func run() async throws {
        let hits: [SearchHit]
        do {
            hits = try IndexStore.open(path: indexPath, create: false).search(query, k: k)
        } catch {
            Terminal.err("ragchat search: \(error)\n")
            throw ExitCode.failure
        }
        if json {
            Terminal.out(try Self.json(hits) + "\n")
            return
        }
        if hits.isEmpty {
            Terminal.out("no result\n")
            return
        }
        for (index, hit) in hits.enumerated() {
            let page = hit.page.map { " p. \($0)" } ?? ""
            let snippet = hit.snippet.split(whereSeparator: \.isNewline).joined(separator: " ")
            Terminal.out("\(index + 1). \(String(format: "%.3f", hit.score))  \(hit.file)\(page)\n   \(snippet)\n")
        }
    }

    struct Output: Encodable {
        var results: [Result]
    }

    struct Result: Encodable {
        var rank: Int
        var score: Double
        var file: String
        var page: Int?
        var text: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(rank, forKey: .rank)
            try container.encode(score, forKey: .score)
            try container.encode(file, forKey: .file)
            try container.encode(page, forKey: .page) // null for text files
            try container.encode(text, forKey: .text)
        }

        enum CodingKeys: String, CodingKey { case rank, score, file, page, text }
    }

    static func json(_ hits: [SearchHit]) throws -> String {
        let output = Output(results: hits.enumerated().map {
            Result(rank: $0.offset + 1, score: $0.element.score, file: $0.element.file, page: $0.element.page,
                   text: $0.element.text)
        })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }
}

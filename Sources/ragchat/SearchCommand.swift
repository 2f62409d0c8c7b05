import ArgumentParser
import Encoder
import Foundation
import Index

extension SearchMode: ExpressibleByArgument {}

/// `ragchat search "question" [--mode hybrid|dense|bm25] [--index FILE] [-k 5] [--json]`
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search the index: hybrid (keywords + meaning, the default), dense or bm25.",
        discussion: """
            bm25 is accent- and case-insensitive keyword search; dense compares the question's vector \
            from the sentence encoder with every passage's; hybrid fuses both rankings. Each result \
            shows the fused score and both scores (bm25, cosine) when the passage was in that list.
            """
    )

    @Argument(help: "The question or keywords (any text).")
    var query: String

    @Option(name: .customLong("index"), help: ArgumentHelp(stringLiteral: Defaults.indexHelp))
    var indexPath = Defaults.indexPath

    @Option(name: [.customShort("k"), .customLong("top")], help: "Number of results.")
    var k = 5

    @Option(help: "Ranking: hybrid, dense or bm25.")
    var mode = SearchMode.hybrid

    @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: Defaults.encoderHelp))
    var encoderDirectory = Defaults.encoderDirectory

    @Flag(help: "Print {\"results\": [{rank, score, bm25, cosine, file, page, text}]} with each chunk's full text.")
    var json = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be at least 1") }
    }

    func run() async throws {
        let hits: [SearchHit]
        do {
            let store = try openIndexStore(at: indexPath, create: false)
            var encoder: SentenceEncoder?
            if mode != .bm25 {
                do {
                    encoder = try loadEncoder(encoderDirectory)
                } catch where mode == .hybrid {
                    Terminal.err("warning: \(error); keyword search only\n")
                }
            }
            if mode == .hybrid, let encoder, try store.hasVectors(modelID: encoder.modelID) == false {
                Terminal.err("warning: the index has no vectors of \(encoder.modelID) (run `ragchat ingest`); keyword search only\n")
            }
            hits = try store.search(query, mode: mode, embedder: encoder, k: k)
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
            Terminal.out("\(index + 1). \(Self.format(hit.score))  \(hit.file)\(page)\(Self.detail(hit))\n   \(snippet)\n")
        }
    }

    /// Four significant digits, so that small BM25 and fused scores do not print as 0.000.
    static func format(_ score: Double) -> String {
        String(format: abs(score) >= 1 ? "%.3f" : "%.4g", score)
    }

    /// `(bm25 2.31, cosine 0.512)`, each part only when the passage was in that list.
    static func detail(_ hit: SearchHit) -> String {
        var parts: [String] = []
        if let bm25 = hit.bm25Score { parts.append("bm25 \(format(bm25))") }
        if let cosine = hit.denseScore { parts.append("cosine \(String(format: "%.3f", cosine))") }
        return parts.isEmpty ? "" : "  (\(parts.joined(separator: ", ")))"
    }

    struct Output: Encodable {
        var results: [Result]
    }

    struct Result: Encodable {
        var rank: Int
        var score: Double
        var bm25: Double?
        var cosine: Double?
        var file: String
        var page: Int?
        var text: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(rank, forKey: .rank)
            try container.encode(score, forKey: .score)
            try container.encode(bm25, forKey: .bm25) // null when not in the keyword list
            try container.encode(cosine, forKey: .cosine) // null when not in the dense list
            try container.encode(file, forKey: .file)
            try container.encode(page, forKey: .page) // null for text files
            try container.encode(text, forKey: .text)
        }

        enum CodingKeys: String, CodingKey { case rank, score, bm25, cosine, file, page, text }
    }

    static func json(_ hits: [SearchHit]) throws -> String {
        let output = Output(results: hits.enumerated().map {
            Result(rank: $0.offset + 1, score: $0.element.score, bm25: $0.element.bm25Score,
                   cosine: $0.element.denseScore, file: $0.element.file, page: $0.element.page,
                   text: $0.element.text)
        })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }
}

import ArgumentParser
import Documents
import Encoder
import Foundation
import Index
import Synchronization

/// `ragchat ingest [--data DIR] [--index FILE] [--encoder DIR | --no-vectors] [--chunk-size N] [--overlap N]`
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Index the documents of a directory (.txt, .md, .pdf), incrementally.",
        discussion: """
            Unchanged files are skipped, changed files re-indexed, deleted files removed. Each file is \
            committed on its own, so an interrupted ingest can simply be run again. Every chunk also gets \
            a vector from the sentence encoder (for dense and hybrid search); when the encoder changes, \
            the vectors are recomputed. The exit status is non-zero when a file could not be read.
            """
    )

    @Option(name: .customLong("data"), help: "Directory of documents (searched recursively).")
    var dataDirectory = Defaults.dataDirectory

    @Option(name: .customLong("index"), help: ArgumentHelp(stringLiteral: Defaults.indexHelp + " Created if needed."))
    var indexPath = Defaults.indexPath

    @Option(name: .customLong("encoder"), help: ArgumentHelp(stringLiteral: Defaults.encoderHelp))
    var encoderDirectory = Defaults.encoderDirectory

    @Flag(name: .customLong("no-vectors"), help: "Keyword index only: do not load the encoder or compute vectors.")
    var noVectors = false

    @Option(name: .customLong("batch"), help: "Chunks per encoder batch.")
    var batchSize = IngestOptions().embeddingBatchSize

    @Option(name: .customLong("chunk-size"), help: "Target chunk length in characters.")
    var chunkSize = ChunkingOptions.default.targetSize

    @Option(help: "Overlap between neighbouring chunks in characters (at most half the chunk size).")
    var overlap = ChunkingOptions.default.overlap

    /// Bad options and a missing data folder are reported before the index is opened, so that a
    /// typo does not leave a new empty index behind.
    func validate() throws {
        do { try options.validate() } catch { throw ValidationError(error.description) }
    }

    var options: IngestOptions {
        IngestOptions(chunking: ChunkingOptions(targetSize: chunkSize, overlap: overlap), embeddingBatchSize: batchSize)
    }

    func run() async throws {
        do { try DataDirectory.requireExists(URL(fileURLWithPath: dataDirectory)) } catch {
            Terminal.err("ragchat ingest: \(error)\n")
            throw ExitCode.failure
        }
        let reporter = IngestReporter(interactive: Terminal.isTTY(STDERR_FILENO))
        let summary: IngestSummary
        do {
            let encoder = noVectors ? nil : try loadEncoder(encoderDirectory)
            let store = try openIndexStore(at: indexPath, create: true)
            summary = try await store.ingest(dataDirectory: URL(fileURLWithPath: dataDirectory), options: options,
                                             embedder: encoder, progress: { reporter.handle($0) })
        } catch {
            reporter.finish()
            Terminal.err("ragchat ingest: \(error)\n")
            throw ExitCode.failure
        }
        reporter.finish()
        Terminal.out(summary.line + "\n")
        if summary.failed > 0 { throw ExitCode.failure }
    }
}

/// Loads the sentence encoder (an E5S1 file or a model folder), with a message that says what to
/// do when its files are missing; a bad file is named with its problem.
func loadEncoder(_ path: String) throws -> SentenceEncoder {
    do {
        return try SentenceEncoder(path: URL(fileURLWithPath: path))
    } catch EncoderError.modelFilesMissing(let path, let files) {
        throw CLIError("\(path): encoder files missing (\(files.joined(separator: ", "))): run `make models`, pass --encoder FILE|DIR, or --no-vectors")
    }
}

/// A message for the user, printed as is.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Renders ingest events: a progress bar on a terminal, one line per change otherwise.
/// Failures always go to stderr as `error: PATH: REASON`.
final class IngestReporter: Sendable {
    private struct Counts {
        var files = 0, total = 0, pages = 0, chunks = 0
        var current = ""
    }

    private let interactive: Bool
    private let bar = ProgressBar()
    private let counts = Mutex(Counts())

    init(interactive: Bool) {
        self.interactive = interactive
    }

    func handle(_ event: IngestEvent) {
        switch event {
        case .scanned(let files):
            counts.withLock { $0.total = files }
        case .fileStarted(let path, let index, _):
            let label = counts.withLock { counts in
                counts.current = path
                return Self.label(counts, done: index - 1)
            }
            draw(label)
        case .fileFinished(let path, let outcome, let pages, let chunks):
            let label = counts.withLock { counts in
                counts.files += 1
                counts.pages += pages
                counts.chunks += chunks
                return Self.label(counts, done: counts.files)
            }
            if interactive {
                draw(label)
            } else if outcome != .unchanged {
                Terminal.err("\(outcome.rawValue) \(path) (\(pages) \(pages == 1 ? "page" : "pages"), \(chunks) chunks)\n")
            }
        case .fileFailed(let path, let reason):
            counts.withLock { $0.files += 1 }
            bar.clear()
            Terminal.err("error: \(path): \(reason)\n")
        case .fileWarning(_, let message):
            bar.clear()
            Terminal.err("warning: \(message)\n")
        case .fileRemoved(let path):
            bar.clear()
            Terminal.err("removed \(path)\n")
        case .embedding(let done, let total):
            if interactive {
                let current = counts.withLock { $0.current }
                bar.update(fraction: Double(done) / Double(max(total, 1)), label: "embedding \(done)/\(total) \(current)")
            }
        }
    }

    func finish() {
        bar.clear()
    }

    private func draw(_ label: (text: String, fraction: Double)) {
        guard interactive else { return }
        bar.update(fraction: label.fraction, label: label.text)
    }

    private static func label(_ counts: Counts, done: Int) -> (text: String, fraction: Double) {
        let fraction = counts.total == 0 ? 1 : Double(done) / Double(counts.total)
        return ("\(done)/\(counts.total) files · \(counts.pages) pages · \(counts.chunks) chunks · \(counts.current)", fraction)
    }
}

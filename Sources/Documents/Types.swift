import Foundation

/// The kinds of files the extractor reads, chosen by file extension (case-insensitive).
public enum DocumentKind: String, Sendable, Hashable, CaseIterable {
    case text = "txt"
    case markdown = "md"
    case pdf = "pdf"

    /// `nil` for any other extension.
    public init?(fileExtension: String) {
        self.init(rawValue: fileExtension.lowercased())
    }

    /// `nil` for a file whose extension is not supported.
    public init?(path: String) {
        self.init(fileExtension: (path as NSString).pathExtension)
    }
}

/// One page of extracted, normalised text. Plain-text documents have a single page whose
/// `number` is `nil`; PDF pages are numbered from 1 as in the file.
public struct PageText: Sendable, Hashable {
    public var number: Int?
    public var text: String

    public init(number: Int?, text: String) {
        self.number = number
        self.text = text
    }
}

/// A document after extraction and normalisation.
public struct ExtractedDocument: Sendable, Hashable {
    /// The path the caller gave (the index uses the path relative to the data directory).
    public var path: String
    public var kind: DocumentKind
    /// Pages in order. PDF: one entry per page of the file (empty pages kept, with empty text).
    public var pages: [PageText]
    /// Non-fatal problems, e.g. "not valid UTF-8, read as Windows-1252".
    public var warnings: [String]

    public init(path: String, kind: DocumentKind, pages: [PageText], warnings: [String] = []) {
        self.path = path
        self.kind = kind
        self.pages = pages
        self.warnings = warnings
    }

    /// Number of pages (1 for a text file).
    public var pageCount: Int { pages.count }
}

/// A piece of a document, the unit that is indexed and retrieved.
///
/// `start` and `end` are offsets in Unicode scalars into the normalised text of its page (PDF)
/// or of the whole document (text files): `text` is exactly that slice. Chunks never span pages.
public struct Chunk: Sendable, Hashable {
    public var file: String
    public var page: Int?
    public var start: Int
    public var end: Int
    /// Position of the chunk in its document, from 0, across pages.
    public var ordinal: Int
    public var text: String
    /// Where the chunk stands in its document: the file's name, the document's title and the
    /// heading of the section the chunk starts in, joined by " — " (see `Chunker`). Embedded and
    /// keyword-indexed with the text, because a passage often answers a question only together
    /// with its heading ("6.1. Reconstruction complète" above "$ dpkg-buildpackage -us -uc").
    public var context: String

    public init(file: String, page: Int?, start: Int, end: Int, ordinal: Int, text: String, context: String = "") {
        self.file = file
        self.page = page
        self.start = start
        self.end = end
        self.ordinal = ordinal
        self.text = text
        self.context = context
    }

    /// What the encoder and the keyword index see: the context line, then the text.
    public var indexedText: String { Chunk.indexedText(text, context: context) }

    public static func indexedText(_ text: String, context: String) -> String {
        context.isEmpty ? text : context + "\n\n" + text
    }
}

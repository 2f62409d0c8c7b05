import Foundation

/// Extraction entry point: chooses the reader by extension and normalises the result.
public enum Extractor {
    /// Reads and extracts a file. `path` is the name used in errors and chunks (defaults to the
    /// file's path).
    public static func extract(fileAt url: URL, path: String? = nil) throws(DocumentsError) -> ExtractedDocument {
        let name = path ?? url.path
        guard let kind = DocumentKind(path: url.path) else { throw .unsupportedFileType(path: name) }
        switch kind {
        case .pdf:
            // Check readability first so a permission problem is not reported as a corrupt PDF.
            try checkReadable(url, path: name)
            let texts = try PDFExtractor.pageTexts(fileAt: url, path: name)
            return paginated(texts, path: name)
        case .text, .markdown:
            return try extract(data: try read(url, path: name), kind: kind, path: name)
        }
    }

    /// Extracts a document from bytes already read (`path` names it in errors and chunks).
    public static func extract(data: Data, kind: DocumentKind, path: String) throws(DocumentsError) -> ExtractedDocument {
        switch kind {
        case .pdf:
            return paginated(try PDFExtractor.pageTexts(data: data, path: path), path: path)
        case .text, .markdown:
            let decoded = try TextDecoding.decode(data, path: path)
            let text = TextNormalizer.normalize(decoded.text)
            return ExtractedDocument(path: path, kind: kind, pages: [PageText(number: nil, text: text)],
                                     warnings: decoded.warning.map { [$0] } ?? [])
        }
    }

    /// Reads a whole file, mapping Foundation's errors to `DocumentsError.unreadable`.
    public static func read(_ url: URL, path: String) throws(DocumentsError) -> Data {
        try checkReadable(url, path: path)
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw .unreadable(path: path, reason: describe(error))
        }
    }

    private static func paginated(_ texts: [String], path: String) -> ExtractedDocument {
        let normalized = TextNormalizer.normalizePages(texts)
        let pages = normalized.enumerated().map { PageText(number: $0.offset + 1, text: $0.element) }
        return ExtractedDocument(path: path, kind: .pdf, pages: pages)
    }

    private static func checkReadable(_ url: URL, path: String) throws(DocumentsError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .unreadable(path: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw .unreadable(path: path, reason: "is a directory") }
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw .unreadable(path: path, reason: "permission denied")
        }
    }

    private static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return nsError.localizedDescription
    }
}

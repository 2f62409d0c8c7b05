import CPoppler
import Foundation

/// Reads the text layer of a PDF page by page with poppler-glib.
public enum PDFExtractor {
    /// Raw (not normalised) text of every page, in order. Throws `encryptedPDF` or `invalidPDF`.
    public static func pageTexts(fileAt url: URL, path: String) throws(DocumentsError) -> [String] {
        var error: UnsafeMutablePointer<GError>?
        guard let uri = g_filename_to_uri(url.path, nil, &error) else {
            let reason = consume(error) ?? "cannot build a URI from the file name"
            throw .unreadable(path: path, reason: reason)
        }
        defer { g_free(uri) }
        let document = poppler_document_new_from_file(uri, nil, &error)
        return try pages(of: document, error: error, path: path)
    }

    /// Same, from the bytes of a PDF already in memory (the ingest hashes and extracts one read).
    public static func pageTexts(data: Data, path: String) throws(DocumentsError) -> [String] {
        guard !data.isEmpty else { throw .invalidPDF(path: path, reason: "empty file") }
        var error: UnsafeMutablePointer<GError>?
        let bytes = data.withUnsafeBytes { raw in g_bytes_new(raw.baseAddress, gsize(raw.count)) }
        defer { g_bytes_unref(bytes) }
        let document = poppler_document_new_from_bytes(bytes, nil, &error)
        return try pages(of: document, error: error, path: path)
    }

    private static func pages(of document: OpaquePointer?, error: UnsafeMutablePointer<GError>?,
                              path: String) throws(DocumentsError) -> [String] {
        guard let document else {
            let encrypted = error.map { $0.pointee.domain == poppler_error_quark()
                && $0.pointee.code == Int32(POPPLER_ERROR_ENCRYPTED.rawValue) } ?? false
            let reason = consume(error) ?? "unknown error"
            if encrypted { throw .encryptedPDF(path: path) }
            throw .invalidPDF(path: path, reason: reason)
        }
        if let error { g_error_free(error) }
        defer { g_object_unref(UnsafeMutableRawPointer(document)) }

        let count = Int(poppler_document_get_n_pages(document))
        var texts: [String] = []
        texts.reserveCapacity(count)
        for index in 0..<count {
            guard let page = poppler_document_get_page(document, Int32(index)) else {
                throw .invalidPDF(path: path, reason: "page \(index + 1) cannot be read")
            }
            defer { g_object_unref(UnsafeMutableRawPointer(page)) }
            if let text = poppler_page_get_text(page) {
                texts.append(String(cString: text))
                g_free(text)
            } else {
                texts.append("")
            }
        }
        return texts
    }

    /// The message of a GError, which is freed.
    private static func consume(_ error: UnsafeMutablePointer<GError>?) -> String? {
        guard let error else { return nil }
        defer { g_error_free(error) }
        guard let message = error.pointee.message else { return nil }
        return String(cString: message)
    }
}

// libFuzzer target: what ingest does with the bytes of a .txt / .md file: text decoding (BOMs,
// UTF-16, UTF-8, Windows-1252), normalisation, extraction and chunking. The first byte picks the
// kind and the chunk size, the rest is the file. Any trap is a crash. Built by `make fuzz`.
import Documents
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let control = data[0]
    let body = Data(bytes: data + 1, count: size - 1)
    let path = "fuzz/document.\(control & 1 == 0 ? "txt" : "md")"
    let kind: DocumentKind = control & 1 == 0 ? .text : .markdown
    // Small chunks reach the boundary cases more often than the default 1200.
    let target = 20 + Int(control >> 1) * 4
    let options = ChunkingOptions(targetSize: target, overlap: Int(control >> 3) % (target / 2 + 1))
    do {
        let decoded = try TextDecoding.decode(body, path: path)
        _ = TextNormalizer.normalize(decoded.text)
        _ = TextNormalizer.normalizePages(decoded.text.split(separator: "\u{0C}", omittingEmptySubsequences: false).map(String.init))
    } catch {
        precondition("\(error)".contains(path), "error without the file name: \(error)")
    }
    do {
        let document = try Extractor.extract(data: body, kind: kind, path: path)
        let chunker = try Chunker(options: options)
        _ = chunker.chunks(of: document)
        for page in document.pages { _ = chunker.ranges(page.text) }
        _ = try Chunker().chunks(of: document)
    } catch {
        precondition("\(error)".contains(path) || "\(error)".contains("chunk"), "error without the file name: \(error)")
    }
    return 0
}

import Foundation
import Testing
import Documents

/// A text file read in segments gives what the whole-file extraction gives when it fits in one
/// segment, and the same text (cut at paragraph or line breaks) when it does not, whatever the
/// encoding; binary files are refused as before.
@Suite struct TextFileReaderTests {
    func file(_ bytes: [UInt8]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("segments-\(UUID().uuidString).txt")
        try Data(bytes).write(to: url)
        return url
    }

    func segments(_ url: URL, size: Int) throws -> ([TextFileReader.Segment], [String]) {
        var out: [TextFileReader.Segment] = []
        let warnings = try TextFileReader(segmentBytes: size).read(url, path: "t.txt") { out.append($0) }
        return (out, warnings)
    }

    @Test func smallFileIsOneSegmentEqualToTheWholeExtraction() throws {
        let text = "Titre\n\nPremier paragraphe, avec des accents : é, à, ç.\n\nSecond paragraphe.\n"
        let url = try file(Array(text.utf8))
        defer { try? FileManager.default.removeItem(at: url) }
        let (parts, warnings) = try segments(url, size: 1 << 20)
        let whole = try Extractor.extract(fileAt: url, path: "t.txt")
        #expect(parts.count == 1 && warnings.isEmpty)
        #expect(parts.first?.text == whole.pages.first?.text)
    }

    @Test(arguments: [4096, 5000, 7919])
    func largeFileIsCutAtBreaksAndLosesNothing(size: Int) throws {
        // Multi-byte characters everywhere, so that a cut inside a character would show.
        let paragraphs = (0..<400).map { "Paragraphe \($0) : déjà vu, œuvre, naïve — 🥧 tarte \(String(repeating: "é", count: $0 % 37))." }
        let text = paragraphs.joined(separator: "\n\n") + "\n"
        let url = try file(Array(text.utf8))
        defer { try? FileManager.default.removeItem(at: url) }
        let (parts, warnings) = try segments(url, size: size)
        #expect(parts.count > 3 && warnings.isEmpty)
        // Every paragraph is found whole, once, in order; offsets follow one another.
        let joined = parts.map(\.text).joined(separator: "\n\n")
        #expect(joined == TextNormalizer.normalize(text))
        var expected = 0
        for part in parts {
            #expect(part.scalarOffset == expected)
            expected += part.text.unicodeScalars.count + 1
        }
        #expect(parts.last?.bytesRead == text.utf8.count)
    }

    @Test func encodingIsChosenForTheWholeFile() throws {
        // Valid UTF-8 for its first segments, one Latin-1 byte near the end: the whole file is
        // read as Windows-1252, as the whole-file decoding does.
        var bytes = Array(String(repeating: "ligne simple\n", count: 2000).utf8)
        bytes += [0x63, 0x61, 0x66, 0xE9, 0x0A]   // "café" in Latin-1
        let url = try file(bytes)
        defer { try? FileManager.default.removeItem(at: url) }
        let (parts, warnings) = try segments(url, size: 4096)
        #expect(warnings.count == 1 && warnings[0].contains("Windows-1252"))
        #expect(parts.last?.text.hasSuffix("café") == true)
        let whole = try Extractor.extract(fileAt: url, path: "t.txt")
        #expect(parts.map(\.text).joined(separator: "\n") == whole.pages[0].text)
    }

    @Test func binaryAndBOMFiles() throws {
        var binary = Array(String(repeating: "texte ", count: 3000).utf8)
        binary[9000] = 0
        let bin = try file(binary)
        defer { try? FileManager.default.removeItem(at: bin) }
        #expect(throws: DocumentsError.binaryContent(path: "t.txt")) { _ = try segments(bin, size: 4096) }

        let bom = try file([0xEF, 0xBB, 0xBF] + Array("Bonjour\n".utf8))
        defer { try? FileManager.default.removeItem(at: bom) }
        #expect(try segments(bom, size: 4096).0.map(\.text) == ["Bonjour"])

        let utf16 = try file([0xFF, 0xFE] + "Salut\n".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        defer { try? FileManager.default.removeItem(at: utf16) }
        #expect(try segments(utf16, size: 4096).0.map(\.text) == ["Salut"])

        let empty = try file([])
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(try segments(empty, size: 4096).0.isEmpty)
    }

    @Test func crlfFilesAreCutAtBlankLines() throws {
        let paragraphs = (0..<300).map { "Paragraphe \($0) : une ligne,\r\npuis une autre ligne du même paragraphe." }
        let text = paragraphs.joined(separator: "\r\n\r\n")
        let url = try file(Array(text.utf8))
        defer { try? FileManager.default.removeItem(at: url) }
        let (parts, _) = try segments(url, size: 4096)
        #expect(parts.count > 3)
        // Every segment starts with a whole paragraph.
        for part in parts { #expect(part.text.hasPrefix("Paragraphe "), "\(part.text.prefix(40))") }
    }

    @Test func lineWithoutBreaksIsCutAtACharacterBoundary() throws {
        let text = String(repeating: "é🥧a", count: 5000)   // no line break at all
        let url = try file(Array(text.utf8))
        defer { try? FileManager.default.removeItem(at: url) }
        let (parts, _) = try segments(url, size: 4096)
        #expect(parts.count > 1)
        #expect(parts.map(\.text).joined() == text)
    }
}

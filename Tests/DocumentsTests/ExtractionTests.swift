import Documents
import Foundation
import TestSupport
import Testing

@Suite("Extraction")
struct ExtractionTests {
    @Test func utf8Text() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let file = try directory.write("a.txt", Data("Pâte brisée\n\nCrème brûlée, œufs.".utf8))
        let document = try Extractor.extract(fileAt: file, path: "a.txt")
        #expect(document.kind == .text)
        #expect(document.pages == [PageText(number: nil, text: "Pâte brisée\n\nCrème brûlée, œufs.")])
        #expect(document.warnings.isEmpty)
    }

    @Test func utf8WithByteOrderMark() throws {
        let data = Data([0xEF, 0xBB, 0xBF]) + Data("Éléphant".utf8)
        let document = try Extractor.extract(data: data, kind: .markdown, path: "b.md")
        #expect(document.pages[0].text == "Éléphant")
        #expect(document.warnings.isEmpty)
    }

    @Test func utf16WithByteOrderMark() throws {
        var data = Data([0xFF, 0xFE])
        for unit in "Crème".utf16 { data.append(contentsOf: [UInt8(unit & 0xFF), UInt8(unit >> 8)]) }
        #expect(try Extractor.extract(data: data, kind: .text, path: "c.txt").pages[0].text == "Crème")
    }

    @Test func windows1252FallbackWarns() throws {
        // "Crème brûlée — 3 €" in Windows-1252.
        let data = Data([0x43, 0x72, 0xE8, 0x6D, 0x65, 0x20, 0x62, 0x72, 0xFB, 0x6C, 0xE9, 0x65, 0x20, 0x97, 0x20, 0x33, 0x20, 0x80])
        let document = try Extractor.extract(data: data, kind: .text, path: "old.txt")
        #expect(document.pages[0].text == "Crème brûlée — 3 €")
        #expect(document.warnings.count == 1)
        #expect(document.warnings[0].contains("old.txt"))
        #expect(document.warnings[0].contains("Windows-1252"))
    }

    @Test func binaryDataNamedTxtIsAnError() throws {
        let withNul = Data([0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0x41, 0x42])
        #expect(throws: DocumentsError.binaryContent(path: "archive.txt")) {
            try Extractor.extract(data: withNul, kind: .text, path: "archive.txt")
        }
        var rng = SeededRandom(seed: 1)
        let controls = Data((0..<4096).map { _ in UInt8(rng.next() % 32) }.map { $0 == 0 ? 1 : $0 })
        #expect(throws: DocumentsError.binaryContent(path: "noise.txt")) {
            try Extractor.extract(data: controls, kind: .text, path: "noise.txt")
        }
    }

    @Test func emptyFileHasOneEmptyPage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let file = try directory.write("empty.txt", Data())
        let document = try Extractor.extract(fileAt: file)
        #expect(document.pages == [PageText(number: nil, text: "")])
        #expect(try Chunker().chunks(of: document).isEmpty)
    }

    @Test func missingFileAndUnsupportedType() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        #expect(throws: DocumentsError.unreadable(path: "nope.txt", reason: "no such file")) {
            try Extractor.extract(fileAt: directory.url.appendingPathComponent("nope.txt"), path: "nope.txt")
        }
        let doc = try directory.write("x.docx", Data("hello".utf8))
        #expect(throws: DocumentsError.unsupportedFileType(path: "x.docx")) {
            try Extractor.extract(fileAt: doc, path: "x.docx")
        }
    }

    static let pdfPages: [[String]] = [
        ["La tarte aux pommes — guide", "Chapitre premier : la pâte brisée.", "Le beurre doit être très froid ; on tra-", "vaille la pâte rapidement.", "1"],
        ["La tarte aux pommes — guide", "Deuxième page : la cuisson à 180 °C pendant", "quarante minutes, jusqu'à ce que les bords soient dorés.", "2"],
        ["La tarte aux pommes — guide", "Troisième page : les variétés de pommes, la reinette", "et la boskoop se tiennent bien à la cuisson. Œufs et finition.", "3"],
    ]

    @Test func generatedMultiPagePDF() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        // A name with a space and accents exercises the URI conversion.
        let file = try directory.write("guide pâtisserie é.pdf", PDFWriter.document(pages: Self.pdfPages))
        let document = try Extractor.extract(fileAt: file, path: "guide.pdf")
        #expect(document.kind == .pdf)
        #expect(document.pages.map(\.number) == [1, 2, 3])
        let page1 = document.pages[0].text
        #expect(page1.contains("Chapitre premier : la pâte brisée."))
        #expect(page1.contains("on travaille\nla pâte rapidement."))   // hyphenation joined
        #expect(!page1.contains("guide"))                             // running header dropped
        #expect(!page1.hasSuffix("1"))                                // page number dropped
        #expect(document.pages[1].text.contains("180 °C"))
        #expect(document.pages[2].text.contains("Œufs"))
        #expect(document.pages[2].text.hasSuffix("Œufs et finition."))
        // From bytes gives the same result.
        let fromData = try Extractor.extract(data: try Data(contentsOf: file), kind: .pdf, path: "guide.pdf")
        #expect(fromData == document)
        // Chunks keep their page.
        let chunks = try Chunker(options: ChunkingOptions(targetSize: 60, overlap: 10)).chunks(of: document)
        #expect(Set(chunks.compactMap(\.page)) == [1, 2, 3])
        #expect(chunks.map(\.ordinal) == Array(0..<chunks.count))
    }

    @Test func corruptPDFNamesTheFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let garbage = try directory.write("broken.pdf", Data("%PDF-1.4\nthis is not really a PDF\n".utf8))
        let error = #expect(throws: DocumentsError.self) {
            try Extractor.extract(fileAt: garbage, path: "broken.pdf")
        }
        if case .invalidPDF(let path, _)? = error {
            #expect(path == "broken.pdf")
        } else {
            Issue.record("expected invalidPDF, got \(String(describing: error))")
        }
        #expect(error?.description.hasPrefix("broken.pdf: ") == true)
        // A truncated real PDF, and an empty one, from bytes.
        let pdf = PDFWriter.document(pages: Self.pdfPages)
        #expect(throws: DocumentsError.self) {
            try Extractor.extract(data: pdf.prefix(pdf.count / 3), kind: .pdf, path: "cut.pdf")
        }
        #expect(throws: DocumentsError.invalidPDF(path: "empty.pdf", reason: "empty file")) {
            try Extractor.extract(data: Data(), kind: .pdf, path: "empty.pdf")
        }
    }

    @Test func encryptedPDF() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let file = try directory.write("secret.pdf", PDFWriter.document(pages: Self.pdfPages, encrypted: true))
        #expect(throws: DocumentsError.encryptedPDF(path: "secret.pdf")) {
            try Extractor.extract(fileAt: file, path: "secret.pdf")
        }
    }
}

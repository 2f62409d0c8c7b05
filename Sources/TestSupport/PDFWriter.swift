import Documents
import Foundation

/// Writes small, valid PDF files with a text layer: one Helvetica (WinAnsi) text line per entry,
/// A4 pages. For tests and benchmarks that need a PDF made on the spot; not a layout engine.
public enum PDFWriter {
    /// - Parameters:
    ///   - pages: the lines of each page, top to bottom (about 60 fit at the default size).
    ///   - encrypted: adds a standard security handler whose user password is not empty, so
    ///     readers ask for a password (the text is not actually encrypted).
    public static func document(pages: [[String]], fontSize: Double = 10, encrypted: Bool = false) -> Data {
        var objects: [Data] = []           // object n is objects[n - 1]
        func add(_ body: Data) -> Int { objects.append(body); return objects.count }
        func add(_ body: String) -> Int { add(Data(body.utf8)) }

        let catalog = add("")                // filled in below
        let pagesObject = add("")
        let font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        var kids: [Int] = []
        let leading = fontSize * 1.3
        for lines in pages {
            var stream = Data("BT\n/F1 \(format(fontSize)) Tf\n\(format(leading)) TL\n56 \(format(842 - 56 - fontSize)) Td\n".utf8)
            for (index, line) in lines.enumerated() {
                if index > 0 { stream.append(Data("T*\n".utf8)) }
                stream.append(literal(line))
                stream.append(Data(" Tj\n".utf8))
            }
            stream.append(Data("ET\n".utf8))
            var contents = Data("<< /Length \(stream.count) >>\nstream\n".utf8)
            contents.append(stream)
            contents.append(Data("endstream".utf8))
            let contentsObject = add(contents)
            kids.append(add("<< /Type /Page /Parent \(pagesObject) 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 \(font) 0 R >> >> /Contents \(contentsObject) 0 R >>"))
        }
        objects[catalog - 1] = Data("<< /Type /Catalog /Pages \(pagesObject) 0 R >>".utf8)
        objects[pagesObject - 1] = Data("<< /Type /Pages /Kids [\(kids.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(kids.count) >>".utf8)
        var encrypt: Int?
        if encrypted {
            let o = String(repeating: "5A", count: 32), u = String(repeating: "A5", count: 32)
            encrypt = add("<< /Filter /Standard /V 1 /R 2 /O <\(o)> /U <\(u)> /P -44 >>")
        }

        var file = Data("%PDF-1.4\n%\u{E2}\u{E3}\u{CF}\u{D3}\n".utf8)
        var offsets: [Int] = []
        for (index, body) in objects.enumerated() {
            offsets.append(file.count)
            file.append(Data("\(index + 1) 0 obj\n".utf8))
            file.append(body)
            file.append(Data("\nendobj\n".utf8))
        }
        let xref = file.count
        var table = "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { table += String(format: "%010d 00000 n \n", offset) }
        var trailer = "trailer\n<< /Size \(objects.count + 1) /Root \(catalog) 0 R"
        if let encrypt {
            let id = String(repeating: "0F", count: 16)
            trailer += " /Encrypt \(encrypt) 0 R /ID [<\(id)> <\(id)>]"
        }
        trailer += " >>\nstartxref\n\(xref)\n%%EOF\n"
        file.append(Data((table + trailer).utf8))
        return file
    }

    /// A PDF string literal in WinAnsi bytes; characters it cannot encode become `?`.
    static func literal(_ text: String) -> Data {
        var bytes: [UInt8] = [UInt8(ascii: "(")]
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            let byte = TextDecoding.windows1252Byte(scalar) ?? UInt8(ascii: "?")
            switch byte {
            case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case 0x20...0x7E:
                bytes.append(byte)
            default:
                bytes.append(contentsOf: Array(String(format: "\\%03o", byte).utf8))
            }
        }
        bytes.append(UInt8(ascii: ")"))
        return Data(bytes)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }
}

import Foundation

/// Turns the bytes of a `.txt` / `.md` file into a `String`.
///
/// Order: byte-order mark (UTF-8, UTF-16 LE/BE) → binary check → strict UTF-8 →
/// Windows-1252 fallback (with a warning).
public enum TextDecoding {
    /// Decoded text and an optional warning (set when the Windows-1252 fallback was used).
    public struct Result: Sendable, Hashable {
        public var text: String
        public var warning: String?
    }

    public static func decode(_ data: Data, path: String) throws(DocumentsError) -> Result {
        let bytes = [UInt8](data)
        if bytes.isEmpty { return Result(text: "", warning: nil) }

        // Byte-order marks.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            let body = bytes.dropFirst(3)
            if isBinary(body) { throw .binaryContent(path: path) }
            if let text = String(validating: body, as: UTF8.self) { return Result(text: text, warning: nil) }
            return Result(text: windows1252(body),
                          warning: "\(path): UTF-8 byte-order mark but invalid UTF-8, read as Windows-1252")
        }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            let littleEndian = bytes[0] == 0xFF
            let body = bytes.dropFirst(2)
            guard body.count % 2 == 0 else { throw .binaryContent(path: path) }
            var units: [UInt16] = []
            units.reserveCapacity(body.count / 2)
            var index = body.startIndex
            while index < body.endIndex {
                let a = UInt16(body[index]), b = UInt16(body[index + 1])
                units.append(littleEndian ? (a | b << 8) : (a << 8 | b))
                index += 2
            }
            guard let text = String(validating: units, as: UTF16.self) else { throw .binaryContent(path: path) }
            if isBinary(text.unicodeScalars.lazy.map { $0.value < 0x80 ? UInt8($0.value) : 0x41 }) {
                throw .binaryContent(path: path)
            }
            return Result(text: text, warning: nil)
        }

        if isBinary(bytes) { throw .binaryContent(path: path) }
        if let text = String(validating: bytes, as: UTF8.self) { return Result(text: text, warning: nil) }
        return Result(text: windows1252(bytes[...]), warning: "\(path): not valid UTF-8, read as Windows-1252")
    }

    /// Binary data: any NUL byte, or more than 5 % control characters other than tab, line feed,
    /// carriage return, form feed and vertical tab (ESC counts as control).
    static func isBinary<S: Sequence>(_ bytes: S) -> Bool where S.Element == UInt8 {
        var count = 0
        var controls = 0
        for byte in bytes {
            count += 1
            if byte == 0 { return true }
            if (byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D && byte != 0x0C && byte != 0x0B)
                || byte == 0x7F {
                controls += 1
            }
        }
        return count > 0 && controls * 20 > count
    }

    /// Windows-1252: Latin-1 except 0x80–0x9F; the five undefined bytes become U+FFFD.
    static func windows1252(_ bytes: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes {
            let value: UInt32
            if byte >= 0x80 && byte <= 0x9F {
                value = cp1252High[Int(byte - 0x80)]
            } else {
                value = UInt32(byte)
            }
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        return String(scalars)
    }

    /// Unicode code points of Windows-1252 bytes 0x80…0x9F (0xFFFD where undefined).
    static let cp1252High: [UInt32] = [
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
        0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
    ]

    /// The Windows-1252 byte of a scalar, or `nil` when it has none (TestSupport encodes the text
    /// of its generated PDFs with it).
    package static func windows1252Byte(_ scalar: Unicode.Scalar) -> UInt8? {
        let value = scalar.value
        if value < 0x80 || (value >= 0xA0 && value <= 0xFF) { return UInt8(value) }
        if let index = cp1252High.firstIndex(of: value), value != 0xFFFD { return UInt8(0x80 + index) }
        return nil
    }
}

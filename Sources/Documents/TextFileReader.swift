import Foundation

/// Reads a `.txt` / `.md` file in segments of bounded size, so that a file of any size is
/// decoded, normalised and chunked in bounded memory (a 200 MB log is not held five times over).
///
/// A first pass reads the file block by block to choose its encoding as `TextDecoding` does for
/// a whole file (byte-order mark, binary check, strict UTF-8, else Windows-1252); the second pass
/// decodes and normalises one segment at a time. Segments end after a blank line when there is
/// one in the second half of a block, else after a line break, else at a character boundary; a
/// file smaller than one segment is one segment, exactly as `Extractor.extract` gives it.
public struct TextFileReader: Sendable {
    /// About this many bytes per segment.
    public var segmentBytes: Int

    public init(segmentBytes: Int = 4 << 20) {
        self.segmentBytes = max(4096, segmentBytes)
    }

    /// One normalised segment: its text, where it starts in the concatenation of the segments
    /// (in Unicode scalars), and how many bytes of the file have been read so far.
    public struct Segment: Sendable {
        public var text: String
        public var scalarOffset: Int
        public var bytesRead: Int
    }

    enum Encoding { case utf8, windows1252 }

    /// Calls `body` with each non-empty segment in order. Returns the warnings (an encoding
    /// fallback). Throws `DocumentsError` naming `path` (unreadable, binary), or what `body` throws.
    @discardableResult
    public func read(_ url: URL, path: String, _ body: (Segment) throws -> Void) throws -> [String] {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw DocumentsError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        defer { try? handle.close() }
        func block() throws -> Data {
            do { return try handle.read(upToCount: segmentBytes) ?? Data() } catch {
                throw DocumentsError.unreadable(path: path, reason: (error as NSError).localizedDescription)
            }
        }

        // Pass 1: byte-order mark, binary content, UTF-8 validity.
        let head = try block()
        if head.starts(with: [0xFF, 0xFE]) || head.starts(with: [0xFE, 0xFF]) {
            // UTF-16 (rare for large files): decoded whole by `TextDecoding`, then segmented.
            return try readWhole(url, path: path, body)
        }
        let bomLength = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var scan = BinaryScan()
        var validUTF8 = true
        var pending = Data()
        var data = head.dropFirst(bomLength)
        while true {
            scan.feed(data)
            if scan.isBinary { throw DocumentsError.binaryContent(path: path) }
            if validUTF8 {
                pending.append(data)
                let cut = Self.characterBoundary(in: pending, final: data.isEmpty)
                if String(validating: pending.prefix(cut), as: UTF8.self) == nil { validUTF8 = false }
                pending = Data(pending.suffix(from: pending.startIndex + cut))
            }
            if data.isEmpty { break }
            data = try block()[...]
        }
        if scan.isBinaryAtEnd { throw DocumentsError.binaryContent(path: path) }
        if validUTF8 && !pending.isEmpty { validUTF8 = false }   // a sequence cut by the end of the file
        let encoding: Encoding = validUTF8 ? .utf8 : .windows1252
        var warnings: [String] = []
        if !validUTF8 {
            warnings.append(bomLength > 0 ? "\(path): UTF-8 byte-order mark but invalid UTF-8, read as Windows-1252"
                                          : "\(path): not valid UTF-8, read as Windows-1252")
        }

        // Pass 2: segments.
        do { try handle.seek(toOffset: UInt64(bomLength)) } catch {
            throw DocumentsError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        var carry = Data()
        var offset = 0
        var bytesRead = bomLength
        while true {
            let next = try block()
            bytesRead += next.count
            carry.append(next)
            // A short read is the end of a regular file.
            let last = next.count < segmentBytes
            guard !carry.isEmpty else { break }
            let cut = last ? carry.count : Self.segmentEnd(in: carry, encoding: encoding)
            let bytes = carry.prefix(cut)
            carry = Data(carry.suffix(from: carry.startIndex + cut))
            let decoded: String
            switch encoding {
            case .utf8: decoded = String(decoding: bytes, as: UTF8.self)
            case .windows1252: decoded = TextDecoding.windows1252(ArraySlice(bytes))
            }
            let text = TextNormalizer.normalize(decoded)
            if !text.isEmpty {
                try body(Segment(text: text, scalarOffset: offset, bytesRead: bytesRead))
                offset += text.unicodeScalars.count + 1
            }
            if last { break }
        }
        return warnings
    }

    /// A whole file through `TextDecoding` (UTF-16), then one segment.
    private func readWhole(_ url: URL, path: String, _ body: (Segment) throws -> Void) throws -> [String] {
        let data = try Extractor.read(url, path: path)
        let decoded = try TextDecoding.decode(data, path: path)
        let text = TextNormalizer.normalize(decoded.text)
        if !text.isEmpty { try body(Segment(text: text, scalarOffset: 0, bytesRead: data.count)) }
        return decoded.warning.map { [$0] } ?? []
    }

    /// Where to end a segment in `data` (which holds at least one block): after the last blank
    /// line in its second half, else after its last line break, else at a character boundary.
    static func segmentEnd(in data: Data, encoding: Encoding) -> Int {
        let bytes = [UInt8](data)
        let half = bytes.count / 2
        var lastNewline: Int?
        var i = bytes.count - 1
        while i >= half {
            if bytes[i] == 0x0A {
                if lastNewline == nil { lastNewline = i + 1 }
                // A blank line: "\n\n", or "\n\r\n" in a CRLF file.
                if i > 0 && (bytes[i - 1] == 0x0A || (bytes[i - 1] == 0x0D && i > 1 && bytes[i - 2] == 0x0A)) { return i + 1 }
            }
            i -= 1
        }
        if let lastNewline { return lastNewline }
        if let any = bytes.lastIndex(of: 0x0A) { return any + 1 }
        return encoding == .utf8 ? characterBoundary(in: data, final: false) : bytes.count
    }

    /// The length of the longest prefix of `data` that does not end inside a UTF-8 sequence
    /// (all of it when `final`).
    static func characterBoundary(in data: Data, final: Bool) -> Int {
        guard !final, !data.isEmpty else { return data.count }
        var end = data.count
        var back = 0
        // Step back over continuation bytes (10xxxxxx) to the lead byte of the last sequence.
        while back < 4, end - back - 1 >= 0, data[data.startIndex + end - back - 1] & 0xC0 == 0x80 { back += 1 }
        let leadIndex = end - back - 1
        guard leadIndex >= 0 else { return end }
        let lead = data[data.startIndex + leadIndex]
        let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        if back + 1 < length { end = leadIndex }
        return end
    }

    /// `TextDecoding.isBinary` over a file read in blocks.
    struct BinaryScan {
        var count = 0
        var controls = 0
        var sawNUL = false
        mutating func feed(_ bytes: Data) {
            for byte in bytes {
                count += 1
                if byte == 0 { sawNUL = true; return }
                if (byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D && byte != 0x0C && byte != 0x0B) || byte == 0x7F {
                    controls += 1
                }
            }
        }
        /// A NUL byte is binary at once; the share of control characters is judged on the whole file.
        var isBinary: Bool { sawNUL }
        var isBinaryAtEnd: Bool { sawNUL || (count > 0 && controls * 20 > count) }
    }
}

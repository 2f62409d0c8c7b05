/// Chunk size and overlap, in Unicode scalars.
public struct ChunkingOptions: Sendable, Hashable, Codable {
    /// Target (and usual maximum) length of a chunk. Default 800.
    public var targetSize: Int
    /// Wanted overlap between neighbours, 0 for none; at most half of `targetSize`. Default 150.
    public var overlap: Int

    public init(targetSize: Int = 800, overlap: Int = 150) {
        self.targetSize = targetSize
        self.overlap = overlap
    }

    public static let `default` = ChunkingOptions()

    public func validate() throws(DocumentsError) {
        guard targetSize >= 20 else {
            throw .invalidChunkingOptions("chunk size \(targetSize) is too small (at least 20 characters)")
        }
        guard overlap >= 0, overlap * 2 <= targetSize else {
            throw .invalidChunkingOptions("overlap \(overlap) must be between 0 and half the chunk size (\(targetSize / 2))")
        }
    }
}

/// Paragraph- and sentence-aware chunking.
///
/// A chunk starts at the beginning of a word and ends at the beginning of the next word (so the
/// whitespace after its last word belongs to it): chunks never cut a word, and together they cover
/// every character. From a start, the end is the strongest break (paragraph > sentence > line >
/// word; the break after a heading counts as a line break) between half and all of `targetSize` after it, the latest among equals; a word longer
/// than that window extends the chunk, up to 4 × `targetSize` where it is cut. The next chunk starts
/// `overlap` characters before the end, at the sentence or paragraph start nearest to that point
/// within 1.5 × `overlap`, else at the nearest word start. Each PDF page is chunked on its own.
public struct Chunker: Sendable {
    public let options: ChunkingOptions

    public init(options: ChunkingOptions = .default) throws(DocumentsError) {
        try options.validate()
        self.options = options
    }

    /// The chunks of a document, ordinals counted across pages; empty pages give no chunk.
    public func chunks(of document: ExtractedDocument) -> [Chunk] {
        var result: [Chunk] = []
        for page in document.pages {
            // Scalars, and the UTF-8 offset of each scalar index, so a chunk's text is one slice.
            let bytes = Array(page.text.utf8)
            var scalars: [Unicode.Scalar] = []
            var offsets: [Int] = [0]
            scalars.reserveCapacity(bytes.count)
            offsets.reserveCapacity(bytes.count + 1)
            var offset = 0
            for scalar in page.text.unicodeScalars {
                scalars.append(scalar)
                offset += UTF8.width(scalar)
                offsets.append(offset)
            }
            for range in ranges(scalars) {
                let text = String(decoding: bytes[offsets[range.lowerBound]..<offsets[range.upperBound]], as: UTF8.self)
                result.append(Chunk(file: document.path, page: page.number, start: range.lowerBound,
                                    end: range.upperBound, ordinal: result.count, text: text))
            }
        }
        return result
    }

    /// Chunk ranges (Unicode-scalar offsets) of one text.
    public func ranges(_ text: String) -> [Range<Int>] {
        ranges(Array(text.unicodeScalars))
    }

    enum Strength: Int, Comparable {
        case word = 0, line, sentence, paragraph
        static func < (a: Strength, b: Strength) -> Bool { a.rawValue < b.rawValue }
    }

    struct Boundary {
        var position: Int
        var strength: Strength
    }

    func ranges(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        let n = s.count
        guard s.contains(where: { !isSpace($0) }) else { return n == 0 ? [] : [0..<n] }
        let boundaries = Self.boundaries(s)
        let target = options.targetSize
        let overlap = options.overlap
        var result: [Range<Int>] = []
        var start = 0
        var previousEnd = 0

        while true {
            if n - start <= target {
                result.append(start..<n)
                break
            }
            // End: strongest break in [lo, hi], latest among equals.
            let lo = max(start + target / 2, previousEnd + 1)
            let hi = start + target
            var end = -1
            var best = Strength.word
            var index = firstIndex(boundaries, atLeast: lo)
            while index < boundaries.count, boundaries[index].position <= hi {
                if end < 0 || boundaries[index].strength >= best {
                    end = boundaries[index].position
                    best = boundaries[index].strength
                }
                index += 1
            }
            if end < 0 {
                // A long word: extend to its end, cut at 4 × target at most.
                if index < boundaries.count, boundaries[index].position - start <= 4 * target {
                    end = boundaries[index].position
                } else {
                    end = min(n, start + 4 * target)
                }
            }
            result.append(start..<end)
            if end >= n { break }
            previousEnd = end

            // Next start: `overlap` before the end, preferring a sentence start.
            var next = end
            if overlap > 0 {
                let window = max(start + 1, end - overlap * 3 / 2)
                var bestDistance = Int.max
                var bestStrong = false
                var i = firstIndex(boundaries, atLeast: window)
                while i < boundaries.count, boundaries[i].position < end {
                    let b = boundaries[i]
                    let strong = b.strength >= .sentence
                    let distance = abs((end - b.position) - overlap)
                    if (strong && !bestStrong) || (strong == bestStrong && distance < bestDistance) {
                        next = b.position
                        bestDistance = distance
                        bestStrong = strong
                    }
                    i += 1
                }
            }
            start = next
        }
        return result
    }

    /// Index of the first boundary at `position` or after.
    private func firstIndex(_ boundaries: [Boundary], atLeast position: Int) -> Int {
        var low = 0, high = boundaries.count
        while low < high {
            let mid = (low + high) / 2
            if boundaries[mid].position < position { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Every word start after whitespace, with the strength of the break before it.
    static func boundaries(_ s: [Unicode.Scalar]) -> [Boundary] {
        var result: [Boundary] = []
        var i = 0
        let n = s.count
        while i < n {
            guard isSpace(s[i]) else { i += 1; continue }
            let runStart = i
            var newlines = 0
            while i < n, isSpace(s[i]) {
                if s[i] == "\n" { newlines += 1 }
                i += 1
            }
            guard i < n, runStart > 0 else { continue }
            let strength: Strength
            if newlines >= 2 {
                // After a heading (a short line that ends no sentence) the break is weak: the
                // heading belongs with what follows it.
                strength = isHeading(s, endingAt: runStart) ? .line : .paragraph
            } else if endsSentence(s, before: runStart, next: s[i], newline: newlines > 0) {
                strength = .sentence
            } else if newlines == 1 {
                strength = .line
            } else {
                strength = .word
            }
            result.append(Boundary(position: i, strength: strength))
        }
        return result
    }

    /// The line ending at `end` is short (≤ 100 characters) and does not end with `.`, `!`, `?`,
    /// `…` or `;`: a title, or a line introducing a list (`Ingrédients :`).
    static func isHeading(_ s: [Unicode.Scalar], endingAt end: Int) -> Bool {
        var start = end
        while start > 0, s[start - 1] != "\n" {
            start -= 1
            if end - start > 100 { return false }
        }
        return !(isFinalMark(s[end - 1]) || s[end - 1] == ";")
    }

    /// `.`, `!`, `?`, `…` (possibly followed by closing quotes or brackets) before the space, and a
    /// capital, a digit or an opening quote or dash after it; `:` or `;` count before a line break.
    static func endsSentence(_ s: [Unicode.Scalar], before end: Int, next: Unicode.Scalar, newline: Bool) -> Bool {
        var j = end - 1
        while j >= 0, isClosing(s[j]) { j -= 1 }
        guard j >= 0 else { return false }
        let mark = s[j]
        if newline && (mark == ":" || mark == ";") { return true }
        guard isFinalMark(mark) else { return false }
        // "2. " or "1.4. " at the start of a line numbers a list item or a section: no sentence
        // ends there.
        var wordStart = j
        while wordStart > 0, ("0"..."9").contains(s[wordStart - 1]) || s[wordStart - 1] == "." { wordStart -= 1 }
        if mark == ".", wordStart < j, wordStart == 0 || s[wordStart - 1] == "\n" { return false }
        if newline { return true }
        switch next.value {
        case 0x30...0x39, 0x41...0x5A, 0xAB, 0x22, 0x201C, 0x2018, 0x27, 0x2014, 0x2013, 0x2D, 0x28, 0x5B:
            return true // digit, A–Z, « " “ ‘ ' — – - ( [
        case 0...0x7F:
            return false
        default:
            return next.properties.isUppercase
        }
    }

    /// `"` `'` `»` `”` `’` `)` `]`
    static func isClosing(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x22, 0x27, 0xBB, 0x201D, 0x2019, 0x29, 0x5D: return true
        default: return false
        }
    }

    /// `.` `!` `?` `…`
    static func isFinalMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x2E, 0x21, 0x3F, 0x2026: return true
        default: return false
        }
    }
}

@inline(__always)
func isSpace(_ scalar: Unicode.Scalar) -> Bool {
    scalar == " " || scalar == "\n" || scalar == "\t" || scalar == "\r"
        || (scalar.value >= 0x80 && scalar.properties.isWhitespace)
}

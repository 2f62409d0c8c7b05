import Foundation

/// Chunk size and overlap, in Unicode scalars.
public struct ChunkingOptions: Sendable, Hashable, Codable {
    /// Target (and usual maximum) length of a chunk. Default 1,200: on the French development set
    /// (`ragchat bench retrieval --chunk-size`), 1,200-character chunks put the answer first for 52
    /// of 114 questions against 38 at 800 and 30 at 500, in the top 5 for 81 against 81 and 71:
    /// a section's words stay together, and lists and procedures are less often cut.
    public var targetSize: Int
    /// Wanted overlap between neighbours, 0 for none; at most half of `targetSize`. Default 200.
    public var overlap: Int

    public init(targetSize: Int = 1200, overlap: Int = 200) {
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

    /// The chunks of a document, ordinals counted across pages; empty pages give no chunk. Each
    /// chunk's `context` names the file, the document's title (its first line, when short) and
    /// the last section heading at or before the chunk's start (headings carry over from page to page).
    public func chunks(of document: ExtractedDocument) -> [Chunk] {
        var sequence = ChunkSequence(chunker: self, path: document.path)
        return document.pages.flatMap { sequence.chunks(of: $0) }
    }

    /// The chunks of one document given a page (or a segment of a long text) at a time: the
    /// title, the current section heading and the ordinals carry over from one call to the next.
    public struct ChunkSequence: Sendable {
        let chunker: Chunker
        let path: String
        let name: String
        var title: String?
        var section: String?
        public private(set) var count = 0

        public init(chunker: Chunker, path: String) {
            self.chunker = chunker
            self.path = path
            name = Chunker.displayName(of: path)
        }

        /// The chunks of the next page; `offset` is added to their start and end (a segment's
        /// place in a text read in segments).
        public mutating func chunks(of page: PageText, offset: Int = 0) -> [Chunk] {
            var result: [Chunk] = []
            // Scalars, and the UTF-8 offset of each scalar index, so a chunk's text is one slice.
            let bytes = Array(page.text.utf8)
            var scalars: [Unicode.Scalar] = []
            var offsets: [Int] = [0]
            scalars.reserveCapacity(bytes.count)
            offsets.reserveCapacity(bytes.count + 1)
            var position = 0
            for scalar in page.text.unicodeScalars {
                scalars.append(scalar)
                position += UTF8.width(scalar)
                offsets.append(position)
            }
            if title == nil { title = Chunker.firstLine(scalars) }
            let headings = Chunker.headings(scalars)
            var nextHeading = 0
            for range in chunker.ranges(scalars) {
                while nextHeading < headings.count, headings[nextHeading].position <= range.lowerBound {
                    section = headings[nextHeading].text
                    nextHeading += 1
                }
                let text = String(decoding: bytes[offsets[range.lowerBound]..<offsets[range.upperBound]], as: UTF8.self)
                var parts: [String] = []
                for part in [name, title, section] {
                    guard let part, !part.isEmpty,
                          !parts.contains(where: { $0.localizedCaseInsensitiveContains(part) }) else { continue }
                    parts.append(part)
                }
                result.append(Chunk(file: path, page: page.number, start: offset + range.lowerBound,
                                    end: offset + range.upperBound, ordinal: count, text: text,
                                    context: parts.joined(separator: " — ")))
                count += 1
            }
            return result
        }
    }

    /// The file's name without folders and extension, separators as spaces (`man/rm.1.txt` → `rm 1`,
    /// `guide-utilisateur.pdf` → `guide utilisateur`).
    static func displayName(of path: String) -> String {
        var name = (path as NSString).lastPathComponent
        let ext = (name as NSString).pathExtension
        if !ext.isEmpty { name = String(name.dropLast(ext.count + 1)) }
        return name.map { "-_.".contains($0) ? " " : $0 }.reduce(into: "") { $0.append($1) }
            .split(separator: " ").joined(separator: " ")
    }

    /// The first non-blank line of a page, when it is short enough to be a title (≤ 100 characters).
    static func firstLine(_ s: [Unicode.Scalar]) -> String? {
        var i = 0
        while i < s.count, isSpace(s[i]) { i += 1 }
        guard i < s.count else { return nil }
        var end = i
        while end < s.count, s[end] != "\n" { end += 1 }
        guard end - i <= 100 else { return nil }
        return heading(s[i..<end]) ?? clean(s[i..<end])
    }

    /// Section headings: paragraphs of one short line (≤ 100 characters) that end no sentence or
    /// list introduction (no final `.`, `!`, `?`, `…`, `:`, `;` or `,`), hold a letter, and are not
    /// a list item, a shell line or a Markdown code fence. Markdown `#` marks are dropped; a
    /// `#` line whose text starts in lower case is a root shell prompt, not a heading.
    static func headings(_ s: [Unicode.Scalar]) -> [(position: Int, text: String)] {
        var result: [(position: Int, text: String)] = []
        var lineStart = 0
        var previousBlank = true
        while lineStart < s.count {
            var lineEnd = lineStart
            while lineEnd < s.count, s[lineEnd] != "\n" { lineEnd += 1 }
            let line = s[lineStart..<lineEnd]
            let blank = line.allSatisfy(isSpace)
            let nextBlank: Bool = {
                var j = lineEnd + 1
                while j < s.count, s[j] != "\n" {
                    if !isSpace(s[j]) { return false }
                    j += 1
                }
                return true
            }()
            if !blank, previousBlank, nextBlank, let text = heading(line) {
                result.append((lineStart, text))
            }
            previousBlank = blank
            lineStart = lineEnd + 1
        }
        return result
    }

    static func heading(_ line: ArraySlice<Unicode.Scalar>) -> String? {
        guard line.count <= 100, var text = clean(line) else { return nil }
        if text.hasPrefix("#") {
            text = String(text.drop(while: { $0 == "#" })).trimmingCharacters(in: .whitespaces)
            guard let first = text.unicodeScalars.first, first.properties.isUppercase || ("0"..."9").contains(first) else { return nil }
        }
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
              !"-*•–—$>|`<{[(/".unicodeScalars.contains(first),
              !".!?…:;,".unicodeScalars.contains(last),
              text.unicodeScalars.contains(where: { $0.properties.isAlphabetic }) else { return nil }
        return text
    }

    static func clean(_ scalars: ArraySlice<Unicode.Scalar>) -> String? {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let text = String(view).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return text.isEmpty ? nil : text
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

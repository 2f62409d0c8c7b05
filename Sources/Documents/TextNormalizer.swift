import Foundation

/// Cleans extracted text before chunking.
///
/// - Unicode NFC; ligatures ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ expanded (œ and æ are letters in French and stay);
/// - an accented i that TeX-made PDFs give as a dotless ı with a separate accent ("chaı̂ne",
///   "ambiguı̈té", "chaˆıne") made one letter again (î, ï), so that it matches the word typed;
/// - soft hyphens removed (a soft hyphen at a line end joins the two halves of the word);
/// - a word hyphenated across a line break (`pom-⏎mes`) joined when the next line starts lower-case;
/// - spaces, tabs and no-break spaces collapsed to one space, lines trimmed, control characters
///   dropped, line endings unified to `\n`;
/// - paragraph breaks (one or more blank lines) kept as exactly `\n\n`, single line breaks as `\n`;
/// - for paginated documents, lines repeated at the top or bottom of every page (running headers
///   and footers, digits ignored) and page-number lines (`3`, `- 3 -`, `Page 3 / 6`) dropped.
public enum TextNormalizer {
    /// Normalises one block of text (a text file, or one page with no header/footer removal).
    public static func normalize(_ text: String) -> String {
        render(clean(text))
    }

    /// Normalises the pages of one document, dropping running headers, footers and page numbers.
    public static func normalizePages(_ pages: [String]) -> [String] {
        var lines = pages.map(clean)
        if pages.count >= 2 { removeHeadersAndFooters(&lines) }
        return lines.map(render)
    }

    // MARK: - Steps

    /// Character-level cleaning, then split into trimmed lines with internal spaces collapsed.
    static func clean(_ text: String) -> [String] {
        let source = text.unicodeScalars.contains("\u{131}") ? dottedAccentedI(text) : text
        let composed = isNFC(source) ? source : source.precomposedStringWithCanonicalMapping
        var lines: [String] = []
        var line = String.UnicodeScalarView()
        var pendingSpace = false

        func endLine() {
            lines.append(String(line))
            line = String.UnicodeScalarView()
            pendingSpace = false
        }
        func emit(_ scalar: Unicode.Scalar) {
            if pendingSpace, !line.isEmpty { line.append(" ") }
            pendingSpace = false
            line.append(scalar)
        }
        func emit(_ letters: String) {
            for scalar in letters.unicodeScalars { emit(scalar) }
        }

        var iterator = composed.unicodeScalars.makeIterator()
        var lookahead: Unicode.Scalar? = iterator.next()
        while let scalar = lookahead {
            lookahead = iterator.next()
            switch scalar.value {
            case 0x0D: // CR or CRLF
                if lookahead == "\n" { continue }
                endLine()
            case 0x0A, 0x0B, 0x2028, 0x85:
                endLine()
            case 0x0C, 0x2029: // form feed, paragraph separator
                endLine(); endLine()
            case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000:
                pendingSpace = true
            case 0xAD: // soft hyphen: at a line end it joins the word halves
                if lookahead == "\n" || lookahead == "\r" {
                    // skip the line break (and LF after CR) and leading spaces of the next line
                    if lookahead == "\r" { lookahead = iterator.next() }
                    if lookahead == "\n" { lookahead = iterator.next() }
                    while let next = lookahead, next == " " || next == "\t" { lookahead = iterator.next() }
                }
            case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF: // zero-width characters, BOM
                continue
            case 0x00...0x1F, 0x7F, 0x80...0x9F:
                continue // other control characters
            case 0xFB00: emit("ff")
            case 0xFB01: emit("fi")
            case 0xFB02: emit("fl")
            case 0xFB03: emit("ffi")
            case 0xFB04: emit("ffl")
            case 0xFB05, 0xFB06: emit("st")
            default:
                emit(scalar)
            }
        }
        endLine()
        return lines
    }

    /// TeX fonts draw î and ï as a dotless ı (U+0131) under an accent, and PDF text extraction
    /// gives the two pieces: "ı" then a combining accent, or a spacing accent then "ı". Either
    /// becomes "i" and the combining accent, which NFC then composes. A dotless ı alone (Turkish)
    /// is left as it is.
    static func dottedAccentedI(_ text: String) -> String {
        let spacingToCombining: [Unicode.Scalar: Unicode.Scalar] = [
            "\u{2C6}": "\u{302}", "^": "\u{302}", "\u{A8}": "\u{308}", "\u{B4}": "\u{301}", "`": "\u{300}", "\u{2DC}": "\u{303}",
        ]
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let scalar = scalars[i]
            if scalar == "\u{131}", i + 1 < scalars.count, (0x300...0x36F).contains(scalars[i + 1].value) {
                out.append("i")
            } else if let combining = spacingToCombining[scalar],
                      let dotless = scalars[(i + 1)...].prefix(3).firstIndex(where: { !$0.properties.isWhitespace }),
                      scalars[dotless] == "\u{131}" {
                // (the layout may put the accent on the line above: "cha^⏎ıne")
                out.append("i")
                out.append(combining)
                i = dotless + 1
                continue
            } else {
                out.append(scalar)
            }
            i += 1
        }
        return String(out)
    }

    /// True when `text` is certainly in NFC already (the common case, checked without
    /// allocating): every scalar is below U+0300 (no combining mark can follow), or general
    /// punctuation and currency signs (U+2002–U+20CF), or a Latin ligature (U+FB00–U+FB06).
    static func isNFC(_ text: String) -> Bool {
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0..<0x300, 0x2002...0x20CF, 0xFB00...0xFB06: continue
            default: return false
            }
        }
        return true
    }

    /// Joins hyphenated words, then lines into paragraphs: `\n` inside, `\n\n` between.
    static func render(_ input: [String]) -> String {
        var lines = input
        // Hyphenation across a line break: "pom-" + "mes ..." -> "pommes ...".
        var index = 0
        while index + 1 < lines.count {
            let line = lines[index], next = lines[index + 1]
            // (U+2010, the typographic hyphen, is what groff and some PDF producers break words with)
            if line.count >= 2, line.hasSuffix("-") || line.hasSuffix("\u{2010}"),
               let beforeHyphen = line.unicodeScalars.dropLast().last,
               CharacterSet.letters.contains(beforeHyphen),
               let firstNext = next.unicodeScalars.first,
               CharacterSet.lowercaseLetters.contains(firstNext) {
                let words = next.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                let rest = words.count > 1 ? String(words[1]) : ""
                // "arc-en-" + "ciel": the word is a compound already, keep its hyphen.
                // (its letters-and-hyphens tail, so that an option's leading "--" does not count:
                // "--interactive=al‐" + "ways")
                let lastWord = line.split(separator: " ").last.map { $0.dropLast() } ?? ""
                let tail = lastWord.reversed().prefix { $0.isLetter || $0 == "-" || $0 == "\u{2010}" }
                let isCompound = tail.reversed().drop { $0 == "-" || $0 == "\u{2010}" }.contains { $0 == "-" || $0 == "\u{2010}" }
                let joiner = isCompound ? "-" : ""
                lines[index] = String(line.dropLast()) + joiner + String(words[0])
                lines[index + 1] = rest
                if rest.isEmpty {
                    lines.remove(at: index + 1)
                    continue // the joined line may end with another hyphen
                }
            }
            index += 1
        }

        var result = ""
        var blankRun = false
        for line in lines {
            if line.isEmpty {
                blankRun = true
                continue
            }
            if !result.isEmpty { result += blankRun ? "\n\n" : "\n" }
            blankRun = false
            result += line
        }
        return result
    }

    // MARK: - Running headers and footers

    /// How many non-empty lines at each edge of a page are examined.
    static let edgeLines = 2

    static func removeHeadersAndFooters(_ pages: inout [[String]]) {
        let nonEmptyPages = pages.indices.filter { pages[$0].contains { !$0.isEmpty } }
        guard nonEmptyPages.count >= 2 else { return }

        // Candidate keys per page edge.
        func edgeIndices(_ lines: [String], top: Bool) -> [Int] {
            let filled = lines.indices.filter { !lines[$0].isEmpty }
            return top ? Array(filled.prefix(edgeLines)) : Array(filled.suffix(edgeLines))
        }
        // A line counts as running when it is at the same edge of (almost) every page:
        // every page below 5 pages, 80 % from 5 pages on (a title page may have none).
        let needed = nonEmptyPages.count < 5
            ? nonEmptyPages.count
            : Int((Double(nonEmptyPages.count) * 0.8).rounded(.up))

        for top in [true, false] {
            var counts: [String: Int] = [:]
            for page in nonEmptyPages {
                let keys = Set(edgeIndices(pages[page], top: top).map { key(pages[page][$0]) })
                for key in keys { counts[key, default: 0] += 1 }
            }
            let running = Set(counts.filter { $0.value >= needed }.map(\.key))
            for page in nonEmptyPages {
                let edge = edgeIndices(pages[page], top: top)
                let outermost = top ? edge.first : edge.last
                for line in edge where running.contains(key(pages[page][line]))
                    || (line == outermost && isPageNumber(pages[page][line])) {
                    pages[page][line] = ""
                }
            }
        }
    }

    /// Lower-cased line with every run of digits replaced by `#`, so "Page 3" and "Page 4" match.
    static func key(_ line: String) -> String {
        var out = ""
        var inDigits = false
        for character in line.lowercased() {
            if character.isNumber {
                if !inDigits { out.append("#") }
                inDigits = true
            } else {
                out.append(character)
                inDigits = false
            }
        }
        return out
    }

    /// `3`, `- 3 -`, `— 3 —`, `p. 3`, `Page 3`, `page 3 / 6`, `3 sur 6`, `3/6`, `iv`.
    static func isPageNumber(_ line: String) -> Bool {
        var text = line.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: " -–—·|[]()"))
        for prefix in ["page", "p."] where text.hasPrefix(prefix) {
            text = String(text.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        }
        let parts = text.split(whereSeparator: { $0 == "/" || $0 == " " }).filter { !["sur", "of", "de"].contains($0) }
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            part.allSatisfy(\.isASCII) && (part.allSatisfy(\.isNumber) || (parts.count == 1 && part.count <= 6 && part.allSatisfy { "ivxlc".contains($0) }))
        }
    }
}

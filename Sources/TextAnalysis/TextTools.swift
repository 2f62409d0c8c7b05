import Foundation

/// Sentences: splitting (whole texts and streamed pieces), passages cut to their sentences most
/// relevant to a question, and a guess at the question's language. Words, folding and stop words
/// are `FrenchText`'s.
public enum TextTools {
    /// Splits a text into sentences: ends at `.`, `!`, `?`, `…` followed by a space and an
    /// upper-case letter, digit, quote or dash, or at a blank line / line break before a list item.
    /// Keeps decimal numbers ("3.5") and common abbreviations ("env.", "p. ex.", "M.") together.
    public static func sentences(_ text: String) -> [String] {
        var splitter = SentenceSplitter()
        var out = splitter.feed(text)
        if let rest = splitter.finish() { out.append(rest) }
        return out
    }
}

/// Incremental sentence splitter for streamed text: `feed` returns the sentences completed so
/// far; `finish` returns what is left.
public struct SentenceSplitter: Sendable {
    private var buffer = ""
    /// Sentences shorter than this (characters) are merged with the next one.
    public var minimumLength: Int
    public init(minimumLength: Int = 12) { self.minimumLength = minimumLength }

    private static let abbreviations: Set<String> = [
        "env", "ex", "p", "m", "mm", "mme", "mlle", "dr", "st", "ste", "cf", "etc", "vol", "no", "n°", "av", "bd",
        "c", "g", "kg", "cl", "ml", "min", "h", "cm", "mr", "mrs", "vs", "eg", "ie", "fig", "chap", "éd", "ed",
    ]

    public mutating func feed(_ piece: String) -> [String] {
        buffer += piece
        var out: [String] = []
        while let cut = nextBoundary(final: false) {
            let sentence = String(buffer[..<cut]).trimmingCharacters(in: .whitespacesAndNewlines)
            buffer = String(buffer[cut...])
            if !sentence.isEmpty { out.append(sentence) }
        }
        return out
    }

    public mutating func finish() -> String? {
        var out: [String] = []
        while let cut = nextBoundary(final: true) {
            let s = String(buffer[..<cut]).trimmingCharacters(in: .whitespacesAndNewlines)
            buffer = String(buffer[cut...])
            if !s.isEmpty { out.append(s) }
        }
        let rest = buffer.trimmingCharacters(in: .whitespacesAndNewlines)
        buffer = ""
        if !rest.isEmpty { out.append(rest) }
        return out.isEmpty ? nil : out.joined(separator: " ")
    }

    /// Index just after the first complete sentence of at least `minimumLength` characters.
    private func nextBoundary(final: Bool) -> String.Index? {
        let chars = buffer
        var i = chars.startIndex
        while i < chars.endIndex {
            let c = chars[i]
            let next = chars.index(after: i)
            // Blank line (paragraph) or a line break: a boundary if the line has content.
            if c == "\n" {
                let head = chars[..<i].trimmingCharacters(in: .whitespacesAndNewlines)
                if head.count >= 1 {
                    // A single line break inside a sentence (wrapped text) continues it unless
                    // the next line starts a list item or the line ends with punctuation. Wrapped
                    // lines often start with a quotation (« -toto »), an option (-r) or a number
                    // (10 premières lignes): only a marker followed by a space opens an item.
                    let lineEnd = head.last.map { ".!?…:;»])\"".contains($0) } ?? false
                    if next < chars.endIndex {
                        let after = chars[next...].drop(while: { $0 == " " || $0 == "\t" })
                        if after.first == "\n" || lineEnd || Self.opensListItem(after) {
                            if head.count >= minimumLength || after.first == "\n" { return next }
                        }
                    } else if !final {
                        return nil   // wait for the next piece to decide
                    }
                }
            }
            if c == "." || c == "!" || c == "?" || c == "…" {
                // Consume closing quotes/brackets and repeated punctuation.
                var j = next
                while j < chars.endIndex, ".!?…»\")]".contains(chars[j]) { j = chars.index(after: j) }
                if j == chars.endIndex {
                    if final { return j }
                    return nil   // cannot tell yet: the next piece may continue ("3." + "5")
                }
                let following = chars[j]
                if following == " " || following == "\n" || following == "\t" {
                    var k = j
                    while k < chars.endIndex, chars[k] == " " || chars[k] == "\t" { k = chars.index(after: k) }
                    if k == chars.endIndex && !final { return nil }
                    let startsNew = k == chars.endIndex || chars[k].isUppercase || chars[k].isNumber
                        || "«\"'(-–—*#\n".contains(chars[k])
                    if startsNew && !(c == "." && isAbbreviation(before: i)) {
                        let sentence = chars[..<j].trimmingCharacters(in: .whitespacesAndNewlines)
                        if sentence.count >= minimumLength { return j }
                    }
                }
                i = j
                continue
            }
            i = next
        }
        return nil
    }

    /// A list item's marker: `- `, `* `, `• `, `– `, a Markdown heading (`# `), or a number
    /// closed by `.` or `)` (`2. `, `10) `), each followed by a space.
    static func opensListItem(_ line: Substring) -> Bool {
        guard let first = line.first else { return false }
        if "-*•–#".contains(first) {
            let rest = line.dropFirst().drop(while: { $0 == "#" })
            return rest.first == " " || rest.first == "\t"
        }
        guard first.isNumber else { return false }
        let rest = line.drop(while: \.isNumber)
        guard let mark = rest.first, mark == "." || mark == ")" else { return false }
        let after = rest.dropFirst()
        return after.first == " " || after.first == "\t"
    }

    private func isAbbreviation(before dot: String.Index) -> Bool {
        var start = dot
        while start > buffer.startIndex {
            let p = buffer.index(before: start)
            if buffer[p].isLetter || buffer[p] == "°" { start = p } else { break }
        }
        let word = buffer[start..<dot].lowercased()
        if word.isEmpty { return false }
        if word.count == 1 && word.first?.isLetter == true { return true }   // initials: "J. Dupont", "p. 3"
        return Self.abbreviations.contains(word)
    }
}

extension TextTools {
    /// A rough guess: more English than French function words.
    public static func isLikelyEnglish(_ s: String) -> Bool {
        let w = FrenchText.words(s)
        let en = w.filter { englishMarkers.contains($0) }.count
        let fr = w.filter { FrenchText.stopWords.contains($0) && !englishMarkers.contains($0) }.count
        return en > fr
    }

    /// English function words, the marks of an English question.
    static let englishMarkers: Set<String> = [
        "the", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "was", "were", "be", "how",
        "what", "which", "who", "why", "when", "where", "do", "does", "did", "can", "could", "you", "your", "it",
        "its", "this", "that", "these", "those", "there", "make", "about", "from", "by", "at", "as",
    ]
}

extension TextTools {
    /// Each passage cut down to its sentences most relevant to `question`, for small models that
    /// copy noise: a leading fragment (a chunk that starts mid-sentence, from the chunker's
    /// overlap) is dropped; sentences are scored by the question's content words they contain,
    /// each weighted by its rarity among all the passages' sentences (IDF, so words every sentence
    /// shares count little); the best sentence of each passage is kept with the sentences that
    /// follow it, then other sentences sharing a question word, by score; all in their original
    /// order, within `maxCharacters` per passage. A passage whose sentences share no content word
    /// with the question keeps its opening. Paragraph breaks become spaces.
    public static func focusedPassages(_ passages: [String], question: String, maxCharacters: Int) -> [String] {
        let q = Set(FrenchText.contentWords(question))
        let split = passages.map { passageSentences($0) }
        let all = split.flatMap { $0 }
        var df: [String: Int] = [:]
        for s in all { for w in Set(FrenchText.contentWords(s)) where q.contains(w) { df[w, default: 0] += 1 } }
        let n = Double(max(all.count, 1))
        func score(_ s: String) -> Double {
            Set(FrenchText.contentWords(s)).filter { q.contains($0) }.reduce(0) { $0 + log(1 + n / Double(df[$1] ?? 1)) }
        }
        return split.enumerated().map { i, sentences in
            guard !sentences.isEmpty else { return passages[i].trimmingCharacters(in: .whitespacesAndNewlines) }
            let scores = sentences.map(score)
            var keep = Set<Int>()
            var used = 0
            func take(_ j: Int) -> Bool {
                let c = sentences[j].count + 1
                guard keep.contains(j) || used + c <= maxCharacters || keep.isEmpty else { return false }
                if keep.insert(j).inserted { used += c }
                return true
            }
            let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) } ?? 0
            // The best sentence, then what follows it (the passage's answer usually goes on).
            var j = scores[best] > 0 ? best : 0
            while j < sentences.count, take(j) { j += 1 }
            for k in scores.indices.sorted(by: { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) })
                where scores[k] > 0 { _ = take(k) }
            return keep.sorted().map { sentences[$0] }.joined(separator: " ")
        }
    }

    /// A passage's sentences (lines of wrapped text joined; headings and list items on their own
    /// line are sentences), without a leading fragment that starts in lower case.
    public static func passageSentences(_ text: String) -> [String] {
        var out: [String] = []
        for paragraph in text.components(separatedBy: "\n\n") {
            let lines = paragraph.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            // A line break before a list item or after a line ending in punctuation separates sentences.
            var joined = ""
            for l in lines {
                if joined.isEmpty { joined = l; continue }
                let ends = joined.last.map { ".!?…:;".contains($0) } ?? false
                let item = l.first.map { "-*•".contains($0) || $0.isNumber } ?? false
                joined += (ends || item) ? "\n" + l : " " + l
            }
            for s in sentences(joined) {
                var t = s.replacingOccurrences(of: "\n", with: " ")
                // A heading ("2.1 La tarte normande") becomes a sentence: number dropped, period added.
                if let last = t.last, !".!?…:;»)\"".contains(last) {
                    if let m = t.prefixMatch(of: /\d+(\.\d+)*\.?\s+/), t[m.range].contains(".") { t = String(t[m.range.upperBound...]) }
                    if t.isEmpty { continue }
                    t += "."
                }
                out.append(t)
            }
        }
        if let first = out.first?.first, first.isLowercase { out.removeFirst() }
        return out
    }
}
